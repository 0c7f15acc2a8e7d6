/*
 * glassbox kms-policy: the AWS KMS key policy that lets only an enclave
 * running a published, unrevoked release use the key: kms:Decrypt and
 * kms:GenerateDataKey (what a sealed key needs), each only with a Recipient
 * attestation whose kms:RecipientAttestation:PCR0/1/2 (and PCR8 when the
 * release declares it) are the release's, the statement shape AWS
 * documents for Nitro Enclaves; a second statement lets the account
 * administer the key without decrypting. With --tfvars it prints the
 * releases' PCRs as a Terraform variables file (infra/terraform, variable
 * enclave_releases) instead.
 *
 * Several releases (the rollover window of an upgrade: the old and the new
 * side by side) get one statement each. IAM ANDs the condition keys of one
 * statement and ORs the values listed for one key, and Allow statements
 * are ORed: one statement listing both releases' values under each PCR
 * key would admit a mix (release A's PCR0 with release B's PCR8, an image
 * re-signed with the other certificate), while one statement per release
 * admits exactly either release's whole PCR set. The PCR keys are
 * single-valued, so the set operators (ForAnyValue, ForAllValues) do not
 * apply to them. Statements come in release id order, as Terraform orders
 * a map.
 *
 * The administration statement lists its actions one by one: a pattern
 * such as kms:Create* would include kms:CreateGrant, and a grant can carry
 * Decrypt to anyone without a PCR condition. infra/terraform/kms.tf holds
 * the same list, and tests/infra checks both against the actions that
 * decrypt or lead to decryption (tests/infra/kms_policy.mjs).
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gb/docjson.h"
#include "cli.h"
#include "gb/registry.h"

static const char usage_text[] =
"usage: glassbox kms-policy --release ID [--release ID]... --role-arn ARN\n"
"                           [--admin-arn ARN] [--db PATH]\n"
"       glassbox kms-policy --release ID [--release ID]... --tfvars\n"
"                           [--db PATH]\n"
"\n"
"Prints the KMS key policy (JSON) that allows kms:Decrypt and\n"
"kms:GenerateDataKey to ROLE only with a Recipient attestation whose\n"
"PCR0, PCR1, PCR2 (and PCR8 when the release declares it) are those of\n"
"one of the releases: one statement per release, so that either release's\n"
"whole PCR set is admitted and no mix of two (an upgrade's rollover\n"
"window: give the old and the new release). An instance release\n"
"(NitroTPM) is named by its registers instead, under KMS's\n"
"kms:RecipientAttestation:NitroTPMPCR<n> keys (PCR4, PCR12, and PCR7 or\n"
"others it declares). Key administration goes to\n"
"--admin-arn (default: the role's account root): a list of actions\n"
"without Decrypt, ReEncrypt*, GenerateDataKey* or CreateGrant. The\n"
"administrator can still rewrite the policy (kms:PutKeyPolicy): see\n"
"docs/deploy.md for how to watch and restrict that.\n"
"--tfvars prints {\"enclave_releases\": {ID: {...}}} for infra/terraform\n"
"instead (enclave releases only: an instance release is unsupported_kind).\n"
"\n"
"  --release ID     a release id (16 hex digits) of the registry; up to 8\n"
"  --role-arn ARN   arn:aws:iam::ACCOUNT:role/NAME, the instance's role\n"
"  --admin-arn ARN  who administers the key (arn:...:iam::ACCOUNT:root,\n"
"                   :role/NAME or :user/NAME)\n"
"  --db PATH        the registry (default: $GLASSBOX_DB, else\n"
"                   ./glassbox-registry.db)\n"
"\n"
"Exit status: 0 printed, 1 refused (not_found: no such release; revoked:\n"
"it was revoked, and no key policy may trust it; unsupported_kind), 2\n"
"usage or I/O error.\n";

/* Releases one policy admits: an upgrade's rollover needs two; a few more
 * cover a staged rollout. Each statement is about 800 bytes of the 32 KiB
 * a key policy may have. */
#define KMS_POLICY_RELEASES_MAX 8

/* The PCRs a Nitro Enclaves KMS condition can name for a release: the
 * image (0), kernel and boot (1), application (2), signing certificate
 * (8). PCR3 and PCR4 name the instance's role and ID, not the build. */
static const char *const policy_pcrs[] = { "0", "1", "2", "8" };

/* arn:PARTITION:iam::ACCOUNT:KIND, KIND "root" or "role/NAME" (or
 * "user/NAME" when users is set). Writes the partition and account. */
static bool
iam_arn(const char *arn, bool users, char part[16], char account[13])
{
	const char *p = arn, *kind;
	size_t n;

	if (strncmp(p, "arn:", 4) != 0)
		return false;
	p += 4;
	n = strcspn(p, ":");
	if (n == 0 || n >= 16)
		return false;
	memcpy(part, p, n);
	part[n] = '\0';
	if (strcmp(part, "aws") != 0 && strcmp(part, "aws-cn") != 0 &&
	    strcmp(part, "aws-us-gov") != 0)
		return false;
	p += n;
	if (strncmp(p, ":iam::", 6) != 0)
		return false;
	p += 6;
	for (n = 0; n < 12; n++)
		if (!isdigit((unsigned char)p[n]))
			return false;
	if (p[12] != ':')
		return false;
	memcpy(account, p, 12);
	account[12] = '\0';
	kind = p + 13;
	if (strcmp(kind, "root") == 0)
		return users;
	if (strncmp(kind, "role/", 5) == 0)
		kind += 5;
	else if (users && strncmp(kind, "user/", 5) == 0)
		kind += 5;
	else
		return false;
	/* IAM names and paths: [\w+=,.@/-], at most 512 characters. */
	n = strlen(kind);
	if (n == 0 || n > 512 || kind[n - 1] == '/')
		return false;
	for (const char *c = kind; *c != '\0'; c++)
		if (!isalnum((unsigned char)*c) && strchr("+=,.@_/-", *c) ==
		    NULL)
			return false;
	return true;
}

static int
refuse(const char *code, const char *id, const char *why)
{
	fprintf(stderr, "glassbox kms-policy: %s: release %s %s\n", code, id,
	    why);
	return 1;
}

/*
 * The release's PCRs as condition key suffixes: an enclave release's of
 * policy_pcrs as {"PCR0": hex, ...}; an instance release's (NitroTPM,
 * docs/registry.md "Kind": PCR4, PCR12, and PCR7 or others when declared)
 * as {"NitroTPMPCR4": hex, ...}, KMS's condition keys for NitroTPM
 * attestation documents. With tfvars, instance releases are refused
 * (infra/terraform writes enclave conditions only). 1 if refused.
 */
static int
release_pcrs(const char *db, const char *id, bool tfvars, json_t **out)
{
	struct gb_registry *r = NULL;
	struct gb_reg_error e = { "", "" };
	char *leaf = NULL, rid[17];
	uint64_t index, idx;
	int64_t revoked;
	json_t *j = NULL, *pcrs, *rel, *v;
	const char *p0, *k, *kind;
	bool instance;
	char key[32];
	int rc = 2;

	*out = NULL;
	if (gb_registry_open(db, false, &r, &e) != 0) {
		fprintf(stderr, "glassbox kms-policy: %s: %s\n", e.code,
		    e.message);
		return 2;
	}
	if (gb_registry_find_release(r, id, &index, &e) != 0) {
		rc = strcmp(e.code, "not_found") == 0 ? refuse("not_found", id,
		    "is not in the registry") : 2;
		goto out;
	}
	if (gb_registry_leaf(r, index, &leaf, &e) != 0 ||
	    (j = gb_json_loadb(leaf, strlen(leaf), 0, NULL)) == NULL)
		goto out;
	rel = json_object_get(j, "release");
	pcrs = json_object_get(rel, "pcrs");
	kind = json_string_value(json_object_get(rel, "kind"));
	instance = kind != NULL && strcmp(kind, "nitrotpm") == 0;
	if (kind != NULL && !instance) {
		rc = refuse("unknown_kind", id, "is of a kind this version "
		    "cannot write a policy for");
		goto out;
	}
	if (instance && tfvars) {
		rc = refuse("unsupported_kind", id, "describes an instance "
		    "image (NitroTPM): infra/terraform's enclave_releases "
		    "takes enclave releases only; write the key policy with "
		    "--role-arn instead");
		goto out;
	}
	/* The key register, which the registry indexes a release by: PCR4
	 * for an instance release, PCR0 for an enclave release. */
	p0 = json_string_value(json_object_get(pcrs, instance ? "4" : "0"));
	if (p0 == NULL || gb_registry_by_pcr0(r, p0, &idx, rid, &revoked,
	    &e) != 0)
		goto out;
	if (revoked >= 0) {
		rc = refuse("revoked", id, "is revoked: no key policy may "
		    "trust it");
		goto out;
	}
	*out = json_object();
	if (instance) {
		json_object_foreach(pcrs, k, v) {
			snprintf(key, sizeof key, "NitroTPMPCR%s", k);
			json_object_set(*out, key, v);
		}
	} else if (tfvars) {
		for (size_t i = 0; i < sizeof policy_pcrs /
		    sizeof policy_pcrs[0]; i++)
			if (json_object_get(pcrs, policy_pcrs[i]) != NULL)
				json_object_set(*out, policy_pcrs[i],
				    json_object_get(pcrs, policy_pcrs[i]));
	} else {
		for (size_t i = 0; i < sizeof policy_pcrs /
		    sizeof policy_pcrs[0]; i++) {
			snprintf(key, sizeof key, "PCR%s", policy_pcrs[i]);
			if (json_object_get(pcrs, policy_pcrs[i]) != NULL)
				json_object_set(*out, key, json_object_get(pcrs,
				    policy_pcrs[i]));
		}
	}
	rc = 0;
out:
	if (rc == 2)
		fprintf(stderr, "glassbox kms-policy: %s: %s\n", *e.code ?
		    e.code : "bad_database", *e.code ? e.message : "release "
		    "entry cannot be read");
	json_decref(j);
	free(leaf);
	gb_registry_close(r);
	return rc;
}

static int
by_string(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * What the administrator may do with the key, named one by one (no
 * wildcard: kms:Create* would be kms:CreateGrant too, and kms:Re* or
 * kms:Generate* would decrypt or hand out data keys). Every action here is
 * one that a key policy governs for a symmetric key; none decrypts,
 * re-encrypts, generates data keys, or creates grants. kms:PutKeyPolicy
 * stays: without it nobody could ever change the policy for a new
 * release (and AWS refuses a policy that locks its writer out unless told
 * to bypass that check). Keep infra/terraform/kms.tf in step.
 */
static const char *const admin_actions[] = {
	"kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias",
	"kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListKeyPolicies",
	"kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
	"kms:EnableKeyRotation", "kms:DisableKeyRotation",
	"kms:RotateKeyOnDemand", "kms:ListKeyRotations", "kms:EnableKey",
	"kms:DisableKey", "kms:UpdateKeyDescription", "kms:ListGrants",
	"kms:RevokeGrant", "kms:ListResourceTags", "kms:TagResource",
	"kms:UntagResource", "kms:ScheduleKeyDeletion",
	"kms:CancelKeyDeletion",
};

/* One release's statement: Decrypt and GenerateDataKey, with its PCRs
 * all required (one condition operator, its keys ANDed). Without a
 * Recipient the PCR keys are absent from the request and the condition
 * fails, so neither action ever returns plaintext outside the enclave. */
static json_t *
release_statement(const char *id, const char *role, json_t *pcrs)
{
	json_t *cond = json_object(), *v;
	const char *k;
	char key[48], sid[48];

	if (cond == NULL)
		return NULL;
	json_object_foreach(pcrs, k, v) {
		snprintf(key, sizeof key, "kms:RecipientAttestation:%s", k);
		json_object_set(cond, key, v);
	}
	/* A Sid of letters and digits only, as IAM accepts everywhere. */
	snprintf(sid, sizeof sid, "EnclaveRelease%s", id);
	return json_pack("{s:s, s:s, s:{s:s}, s:[s, s], s:s, s:{s:o}}",
	    "Sid", sid, "Effect", "Allow", "Principal", "AWS", role,
	    "Action", "kms:Decrypt", "kms:GenerateDataKey", "Resource", "*",
	    "Condition", "StringEqualsIgnoreCase", cond);
}

/* The policy for the releases (an object: id -> PCRs, iterated in id
 * order). */
static json_t *
policy(json_t *releases, const char *role, const char *admin)
{
	json_t *acts = json_array(), *sts, *st, *out;
	const char **ids;
	const char *id;
	json_t *v;
	char pid[16 + 17 * KMS_POLICY_RELEASES_MAX + 1] = "glassbox-release";
	size_t n = 0;

	if (acts == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof admin_actions / sizeof admin_actions[0];
	    i++)
		json_array_append_new(acts, json_string(admin_actions[i]));
	out = json_pack("{s:s, s:s, s:[{s:s, s:s, s:{s:s}, s:o, s:s}]}",
	    "Version", "2012-10-17", "Id", "", "Statement",
	    "Sid", "KeyAdministrationWithoutDecrypt", "Effect", "Allow",
	    "Principal", "AWS", admin, "Action", acts, "Resource", "*");
	if (out == NULL)
		return NULL;
	sts = json_object_get(out, "Statement");
	ids = calloc(json_object_size(releases) + 1, sizeof *ids);
	if (ids == NULL) {
		json_decref(out);
		return NULL;
	}
	json_object_foreach(releases, id, v)
		ids[n++] = id;
	qsort(ids, n, sizeof *ids, by_string);
	for (size_t i = 0; i < n; i++) {
		if ((st = release_statement(ids[i], role,
		    json_object_get(releases, ids[i]))) == NULL ||
		    json_array_append_new(sts, st) != 0) {
			json_decref(out);
			out = NULL;
			break;
		}
		strcat(pid, "-");
		strcat(pid, ids[i]);
	}
	free(ids);
	if (out != NULL)
		json_object_set_new(out, "Id", json_string(pid));
	return out;
}

int
cmd_kms_policy(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "release", required_argument, NULL, 'r' },
		{ "role-arn", required_argument, NULL, 'a' },
		{ "admin-arn", required_argument, NULL, 'A' },
		{ "db", required_argument, NULL, 'd' },
		{ "tfvars", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ids[KMS_POLICY_RELEASES_MAX], *role = NULL, *admin = NULL;
	const char *db = getenv("GLASSBOX_DB");
	char part[16], account[13], part2[16], account2[13], root[64];
	bool tfvars = false;
	json_t *releases = NULL, *pcrs, *out = NULL;
	size_t nids = 0;
	int c, rc;

	if (db == NULL || db[0] == '\0')
		db = "glassbox-registry.db";
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (nids == KMS_POLICY_RELEASES_MAX) {
				fprintf(stderr, "glassbox kms-policy: at most "
				    "%d releases in one policy\n",
				    KMS_POLICY_RELEASES_MAX);
				return 2;
			}
			ids[nids++] = optarg;
			break;
		case 'a': role = optarg; break;
		case 'A': admin = optarg; break;
		case 'd': db = optarg; break;
		case 't': tfvars = true; break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind != argc || nids == 0 || (!tfvars && role == NULL)) {
		fprintf(stderr, "glassbox kms-policy: --release and --role-arn "
		    "(or --tfvars) are required\n%s", usage_text);
		return 2;
	}
	for (size_t i = 0; i < nids; i++) {
		if (strlen(ids[i]) != 16 || strspn(ids[i],
		    "0123456789abcdef") != 16) {
			fprintf(stderr, "glassbox kms-policy: --release takes "
			    "a release id, 16 lower-case hex digits: %s\n",
			    ids[i]);
			return 2;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(ids[k], ids[i]) == 0) {
				fprintf(stderr, "glassbox kms-policy: release "
				    "%s is given twice\n", ids[i]);
				return 2;
			}
	}
	if (!tfvars && !iam_arn(role, false, part, account)) {
		fprintf(stderr, "glassbox kms-policy: --role-arn is not an IAM "
		    "role ARN (arn:aws:iam::123456789012:role/NAME): %s\n",
		    role);
		return 2;
	}
	if (!tfvars && admin != NULL && !iam_arn(admin, true, part2,
	    account2)) {
		fprintf(stderr, "glassbox kms-policy: --admin-arn is not an IAM "
		    "root, role or user ARN: %s\n", admin);
		return 2;
	}
	if ((releases = json_object()) == NULL)
		return 2;
	/* Every release must be admissible, or nothing is printed. */
	for (size_t i = 0; i < nids; i++) {
		if ((rc = release_pcrs(db, ids[i], tfvars, &pcrs)) != 0)
			goto out;
		json_object_set_new(releases, ids[i], pcrs);
	}
	rc = 2;
	if (tfvars) {
		out = json_pack("{s:O}", "enclave_releases", releases);
	} else {
		if (admin == NULL) {
			snprintf(root, sizeof root, "arn:%s:iam::%s:root", part,
			    account);
			admin = root;
		}
		out = policy(releases, role, admin);
	}
	if (out == NULL || json_dumpf(out, stdout, JSON_INDENT(2)) != 0)
		goto out;
	putchar('\n');
	rc = fflush(stdout) == 0 ? 0 : 2;
out:
	json_decref(out);
	json_decref(releases);
	return rc;
}
