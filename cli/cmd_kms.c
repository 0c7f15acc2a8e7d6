/*
 * glassbox kms-policy: the AWS KMS key policy that lets only an enclave
 * running a published, unrevoked release decrypt. The Decrypt statement is
 * conditioned on kms:RecipientAttestation:PCR0/1/2 (and PCR8 when the
 * release declares it), the statement shape AWS documents for Nitro
 * Enclaves; a second statement lets the account administer the key without
 * decrypting. With --tfvars it prints the release's PCRs as a Terraform
 * variables file (infra/terraform, variable enclave_pcrs) instead.
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
"usage: glassbox kms-policy --release ID --role-arn ARN [--admin-arn ARN]\n"
"                           [--db PATH]\n"
"       glassbox kms-policy --release ID --tfvars [--db PATH]\n"
"\n"
"Prints the KMS key policy (JSON) that allows kms:Decrypt to ROLE only\n"
"from an enclave whose attestation has the release's PCR0, PCR1, PCR2\n"
"(and PCR8 when the release declares it), and key administration to\n"
"--admin-arn (default: the role's account root): a list of actions\n"
"without Decrypt, ReEncrypt*, GenerateDataKey* or CreateGrant. The\n"
"administrator can still rewrite the policy (kms:PutKeyPolicy): see\n"
"docs/deploy.md for how to watch and restrict that.\n"
"--tfvars prints {\"enclave_pcrs\": {...}} for infra/terraform instead.\n"
"\n"
"  --release ID     a release id (16 hex digits) of the registry\n"
"  --role-arn ARN   arn:aws:iam::ACCOUNT:role/NAME, the instance's role\n"
"  --admin-arn ARN  who administers the key (arn:...:iam::ACCOUNT:root,\n"
"                   :role/NAME or :user/NAME)\n"
"  --db PATH        the registry (default: $GLASSBOX_DB, else\n"
"                   ./glassbox-registry.db)\n"
"\n"
"Exit status: 0 printed, 1 refused (no such release, or it is revoked),\n"
"2 usage or I/O error.\n";

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

/* The release's PCRs of policy_pcrs, as {"0": hex, ...}; 1 if refused. */
static int
release_pcrs(const char *db, const char *id, json_t **out)
{
	struct gb_registry *r = NULL;
	struct gb_reg_error e = { "", "" };
	char *leaf = NULL, rid[17];
	uint64_t index, idx;
	int64_t revoked;
	json_t *j = NULL, *pcrs;
	const char *p0;
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
	pcrs = json_object_get(json_object_get(j, "release"), "pcrs");
	p0 = json_string_value(json_object_get(pcrs, "0"));
	if (p0 == NULL || gb_registry_by_pcr0(r, p0, &idx, rid, &revoked,
	    &e) != 0)
		goto out;
	if (revoked >= 0) {
		rc = refuse("revoked", id, "is revoked: no key policy may "
		    "trust it");
		goto out;
	}
	*out = json_object();
	for (size_t i = 0; i < sizeof policy_pcrs / sizeof policy_pcrs[0]; i++)
		if (json_object_get(pcrs, policy_pcrs[i]) != NULL)
			json_object_set(*out, policy_pcrs[i],
			    json_object_get(pcrs, policy_pcrs[i]));
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

static json_t *
policy(const char *id, const char *role, const char *admin, json_t *pcrs)
{
	json_t *cond = json_object(), *acts = json_array(), *v;
	const char *k;
	char key[48];

	if (cond == NULL || acts == NULL) {
		json_decref(cond);
		json_decref(acts);
		return NULL;
	}
	json_object_foreach(pcrs, k, v) {
		snprintf(key, sizeof key, "kms:RecipientAttestation:PCR%s", k);
		json_object_set(cond, key, v);
	}
	for (size_t i = 0; i < sizeof admin_actions / sizeof admin_actions[0];
	    i++)
		json_array_append_new(acts, json_string(admin_actions[i]));
	return json_pack("{s:s, s:s+, s:[{s:s, s:s, s:{s:s}, s:o, s:s},"
	    " {s:s, s:s, s:{s:s}, s:s, s:s, s:{s:o}}]}",
	    "Version", "2012-10-17", "Id", "glassbox-release-", id,
	    "Statement",
	    "Sid", "KeyAdministrationWithoutDecrypt", "Effect", "Allow",
	    "Principal", "AWS", admin, "Action", acts, "Resource", "*",
	    "Sid", "DecryptOnlyInTheReleasedEnclave", "Effect", "Allow",
	    "Principal", "AWS", role, "Action", "kms:Decrypt", "Resource", "*",
	    "Condition", "StringEqualsIgnoreCase", cond);
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
	const char *id = NULL, *role = NULL, *admin = NULL;
	const char *db = getenv("GLASSBOX_DB");
	char part[16], account[13], part2[16], account2[13], root[64];
	bool tfvars = false;
	json_t *pcrs, *out;
	int c, rc;

	if (db == NULL || db[0] == '\0')
		db = "glassbox-registry.db";
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': id = optarg; break;
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
	if (optind != argc || id == NULL || (!tfvars && role == NULL)) {
		fprintf(stderr, "glassbox kms-policy: --release and --role-arn "
		    "(or --tfvars) are required\n%s", usage_text);
		return 2;
	}
	if (strlen(id) != 16 || strspn(id, "0123456789abcdef") != 16) {
		fprintf(stderr, "glassbox kms-policy: --release takes a release "
		    "id, 16 lower-case hex digits: %s\n", id);
		return 2;
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
	if ((rc = release_pcrs(db, id, &pcrs)) != 0)
		return rc;
	if (tfvars) {
		out = json_pack("{s:o}", "enclave_pcrs", pcrs);
	} else {
		if (admin == NULL) {
			snprintf(root, sizeof root, "arn:%s:iam::%s:root", part,
			    account);
			admin = root;
		}
		out = policy(id, role, admin, pcrs);
		json_decref(pcrs);
	}
	if (out == NULL || json_dumpf(out, stdout, JSON_INDENT(2)) != 0) {
		json_decref(out);
		return 2;
	}
	putchar('\n');
	json_decref(out);
	return fflush(stdout) == 0 ? 0 : 2;
}
