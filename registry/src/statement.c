/*
 * Publication statements: the seed format (pcr-values.json) and nitro-cli's
 * describe-eif JSON, as release managers sign them today. Either may say
 * "kind": "nitrotpm" (default "enclave"): the release then describes an EC2
 * instance image (an attestable AMI) whose NitroTPM registers it declares,
 * as nitro-tpm-pcr-compute prints them.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gb/docjson.h"
#include "gb/codec.h"
#include "reg_int.h"

int
gb__reg_fail(struct gb_reg_error *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (e != NULL) {
		e->code = code;
		va_start(ap, fmt);
		vsnprintf(e->message, sizeof e->message, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A name or version: 1..GB_REG_NAME_MAX printable ASCII bytes. */
static bool
label_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > GB_REG_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

/* Adds PCR index from hex; refuses duplicates and bad values. */
static int
add_pcr(struct gb_release *r, unsigned index, const char *hex,
    struct gb_reg_error *e)
{
	unsigned i;

	if (hex == NULL)
		return gb__reg_fail(e, "bad_pcr", "PCR%u is not a string",
		    index);
	if (strlen(hex) != 96 || gb_hex_decode(hex, 96, r->pcrs[r->npcrs].value,
	    48) != 0)
		return gb__reg_fail(e, "bad_pcr", "PCR%u is not 96 hex digits "
		    "(a SHA-384 value)", index);
	for (i = 0; i < r->npcrs; i++)
		if (r->pcrs[i].index == index)
			return gb__reg_fail(e, "bad_pcr", "PCR%u is given twice",
			    index);
	r->pcrs[r->npcrs++].index = index;
	return 0;
}

static int
by_index(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return (x > y) - (x < y);
}

static const char *
str_at(json_t *o, const char *k1, const char *k2)
{
	json_t *v = json_object_get(o, k1);

	if (k2 != NULL)
		v = json_object_get(v, k2);
	return json_string_value(v);
}

/* The NitroTPM registers that name an instance image (AWS, "NitroTPM
 * Attestation Document contents"): PCR4, the boot manager code (the UKI
 * and what it loads), and PCR12, the command line given to it, which
 * AWS says must be checked with PCR4 under standard boot. PCR7 (the Secure
 * Boot policy) and the other registers up to PCR23 may be declared too;
 * PCR0..3 measure AWS's firmware and say nothing of the image (PCR1
 * differs between instances of one image in the real documents). */
#define INSTANCE_FIRST_PCR 4
#define INSTANCE_CMDLINE_PCR 12
#define INSTANCE_LAST_PCR 23

/* An instance release's registers: see above. PCR4 is then the lowest
 * index declared, pcrs[0]: the release's key register, by which the
 * registry (registry.c, audit.c) keys and the verifier finds releases,
 * as PCR0 is an enclave release's. */
static int
instance_pcrs_ok(const struct gb_release *r, struct gb_reg_error *e)
{
	static const uint8_t zero[48];
	bool cmdline = false;

	if (r->npcrs == 0 || r->pcrs[0].index < INSTANCE_FIRST_PCR)
		return gb__reg_fail(e, "bad_pcr", "%s", r->npcrs == 0 ?
		    "an instance release declares PCR4 and PCR12" :
		    "PCR0..PCR3 measure AWS's firmware, not the instance "
		    "image: an instance release declares PCR4 and up");
	if (r->pcrs[0].index != INSTANCE_FIRST_PCR)
		return gb__reg_fail(e, "bad_pcr", "PCR4 (the boot manager "
		    "code: the image) is required of an instance release");
	for (unsigned i = 0; i < r->npcrs; i++) {
		if (r->pcrs[i].index > INSTANCE_LAST_PCR)
			return gb__reg_fail(e, "bad_pcr", "PCR%u: a NitroTPM "
			    "has PCR0..PCR%d", r->pcrs[i].index,
			    INSTANCE_LAST_PCR);
		cmdline |= r->pcrs[i].index == INSTANCE_CMDLINE_PCR;
	}
	if (!cmdline)
		return gb__reg_fail(e, "bad_pcr", "PCR12 (the kernel command "
		    "line) is required of an instance release beside PCR4, "
		    "or any command line would pass");
	if (memcmp(r->pcrs[0].value, zero, 48) == 0)
		return gb__reg_fail(e, "bad_pcr", "PCR4 is all zeros: no boot "
		    "manager code was measured");
	return 0;
}

int
gb_release_parse(const char *stmt, size_t len, struct gb_release *out,
    struct gb_reg_error *e)
{
	json_error_t je;
	json_t *j, *pcrs, *v;
	const char *name, *version, *key;
	char missing[64] = "";
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (len > GB_REG_STATEMENT_MAX)
		return gb__reg_fail(e, "too_large", "the statement is larger "
		    "than %d bytes", GB_REG_STATEMENT_MAX);
	j = gb_json_loadb(stmt, len, 0, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		return gb__reg_fail(e, "bad_statement", "the statement is not "
		    "a JSON object (%s at line %d)", je.text, je.line);
	}
	if ((v = json_object_get(j, "kind")) != NULL) {
		if (json_is_string(v) && strcmp(json_string_value(v),
		    "nitrotpm") == 0) {
			out->instance = true;
		} else if (!json_is_string(v) || strcmp(json_string_value(v),
		    "enclave") != 0) {
			gb__reg_fail(e, "bad_statement", "kind is \"enclave\" "
			    "(an enclave image, the default) or \"nitrotpm\" "
			    "(an EC2 instance image)");
			goto out;
		}
	}
	if ((pcrs = json_object_get(j, "Measurements")) != NULL) {
		out->format = "describe-eif";
		name = str_at(j, "ImageName", NULL);
		version = str_at(j, "ImageVersion", NULL);
		if (!json_is_object(pcrs)) {
			gb__reg_fail(e, "bad_statement", "Measurements is not "
			    "an object");
			goto out;
		}
		json_object_foreach(pcrs, key, v) {
			char *end;
			unsigned long idx;

			if (strcmp(key, "HashAlgorithm") == 0)
				continue;
			if (strncmp(key, "PCR", 3) != 0 || !isdigit(
			    (unsigned char)key[3]) || (idx = strtoul(key + 3,
			    &end, 10)) > 31 || *end != '\0' ||
			    (key[3] == '0' && key[4] != '\0')) {
				gb__reg_fail(e, "bad_pcr", "Measurements has an "
				    "unknown key \"%.40s\"", key);
				goto out;
			}
			if (add_pcr(out, (unsigned)idx, json_string_value(v),
			    e) != 0)
				goto out;
		}
	} else if ((pcrs = json_object_get(j, "pcrs")) != NULL) {
		out->format = "pcr-values";
		name = str_at(j, "name", NULL);
		if (name == NULL)
			name = str_at(j, "docker_image", "name");
		version = str_at(j, "version", NULL);
		if (!json_is_object(pcrs)) {
			gb__reg_fail(e, "bad_statement", "pcrs is not an object");
			goto out;
		}
		json_object_foreach(pcrs, key, v) {
			char *end;
			unsigned long idx = strtoul(key, &end, 10);

			if (!isdigit((unsigned char)key[0]) || *end != '\0' ||
			    idx > 31 || (key[0] == '0' && key[1] != '\0')) {
				gb__reg_fail(e, "bad_pcr", "pcrs has a key that is "
				    "not a PCR index 0..31: \"%.40s\"", key);
				goto out;
			}
			if (add_pcr(out, (unsigned)idx, json_string_value(v),
			    e) != 0)
				goto out;
		}
	} else {
		gb__reg_fail(e, "bad_statement", "the statement has neither "
		    "\"pcrs\" (pcr-values.json) nor \"Measurements\" "
		    "(nitro-cli describe-eif)");
		goto out;
	}

	if (name == NULL)
		strcat(missing, "the name");
	if (version == NULL)
		strcat(missing, missing[0] ? " and the version" : "the version");
	if (missing[0] != '\0') {
		gb__reg_fail(e, "unnamed_release", "the signed statement must "
		    "name the release; it lacks %s (%s)", missing,
		    strcmp(out->format, "describe-eif") == 0 ?
		    "ImageName, ImageVersion" :
		    "docker_image.name or name, version");
		goto out;
	}
	if (!label_ok(name) || !label_ok(version)) {
		gb__reg_fail(e, "bad_statement", "the release name and version "
		    "must be 1..%d printable ASCII characters without spaces",
		    GB_REG_NAME_MAX);
		goto out;
	}
	strcpy(out->name, name);
	strcpy(out->version, version);
	/* Optional in either format: the raw Ed25519 key the enclave signs
	 * results with (a sealed key that survives restarts); the verifier
	 * then refuses a result signed by any other (wrong_signer). */
	if ((v = json_object_get(j, "signer_key")) != NULL) {
		const char *hex = json_string_value(v);

		if (hex == NULL || strlen(hex) != 64 ||
		    strspn(hex, "0123456789abcdef") != 64 ||
		    gb_hex_decode(hex, 64, out->signer_key, 32) != 0) {
			gb__reg_fail(e, "bad_statement", "signer_key is not 64 "
			    "lower-case hex digits (a raw Ed25519 public "
			    "key)");
			goto out;
		}
		out->has_signer_key = true;
	}
	qsort(out->pcrs, out->npcrs, sizeof out->pcrs[0], by_index);
	if (out->instance) {
		rc = instance_pcrs_ok(out, e);
		goto out;
	}
	if (out->npcrs == 0 || out->pcrs[0].index != 0) {
		gb__reg_fail(e, "bad_pcr", "PCR0 is required");
		goto out;
	}
	for (unsigned i = 0; i < out->npcrs && out->pcrs[i].index <= 2; i++) {
		static const uint8_t zero[48];

		if (memcmp(out->pcrs[i].value, zero, 48) == 0) {
			gb__reg_fail(e, "debug_build", "PCR%u is all zeros, as "
			    "in a debug-mode enclave: debug builds cannot be "
			    "published", out->pcrs[i].index);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

int
gb__revocation_parse(const char *stmt, size_t len, const char *origin,
    uint8_t pcr0[48], char reason[GB_REG_REASON_MAX + 1],
    struct gb_reg_error *e)
{
	const char *action, *hex, *why, *log;
	json_error_t je;
	json_t *j;
	int rc = -1;

	if (len > GB_REG_STATEMENT_MAX)
		return gb__reg_fail(e, "too_large", "the statement is larger "
		    "than %d bytes", GB_REG_STATEMENT_MAX);
	j = gb_json_loadb(stmt, len, 0, &je);
	action = json_string_value(json_object_get(j, "action"));
	log = json_string_value(json_object_get(j, "origin"));
	hex = json_string_value(json_object_get(j, "pcr0"));
	why = json_string_value(json_object_get(j, "reason"));
	if (!json_is_object(j) || action == NULL ||
	    strcmp(action, "revoke") != 0)
		gb__reg_fail(e, "bad_statement", "a revocation is a JSON object "
		    "{\"action\": \"revoke\", \"origin\": LOG, \"pcr0\": HEX, "
		    "\"reason\": TEXT}");
	/* Bound to one log: a revocation signed for another log that trusts
	 * the same key must not be replayable here. */
	else if (log == NULL)
		gb__reg_fail(e, "wrong_log", "the revocation does not name the "
		    "log it is for: add \"origin\": \"%s\"", origin);
	else if (strcmp(log, origin) != 0)
		gb__reg_fail(e, "wrong_log", "the revocation is for the log "
		    "\"%.200s\", not this one (\"%s\")", log, origin);
	else if (hex == NULL || strlen(hex) != 96 ||
	    gb_hex_decode(hex, 96, pcr0, 48) != 0)
		gb__reg_fail(e, "bad_pcr", "the revocation's pcr0 is not 96 hex "
		    "digits");
	else if (why == NULL || why[0] == '\0' ||
	    strlen(why) > GB_REG_REASON_MAX)
		gb__reg_fail(e, "bad_statement", "the revocation needs a reason "
		    "of 1..%d bytes", GB_REG_REASON_MAX);
	else {
		strcpy(reason, why);
		rc = 0;
	}
	json_decref(j);
	return rc;
}
