/*
 * POST /api/v1/challenge and POST /api/v1/verify: the question clients ask
 * before they trust a result. The checks run in DESIGN.md's order; the
 * first that fails names the reason: the document (lib), then policy: debug
 * mode, freshness (against the time asked; not at "document"), nonce, the
 * registry, the result.
 */
#include <stdlib.h>
#include <string.h>

#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/result.h"
#include "gb/timefmt.h"
#include "gb/verdict.h"
#include "server.h"

/* What a verify request asks. */
struct ask {
	uint8_t *doc, *nonce, *result, *sig;
	size_t doc_len, nonce_len, result_len, sig_len;
	int64_t at_ms;              /* GB_AT_DOCUMENT, or ms */
	bool at_now;
	json_t *at_json;            /* how the verdict names the time */
};

static void
ask_free(struct ask *a)
{
	free(a->doc);
	free(a->nonce);
	free(a->result);
	free(a->sig);
	json_decref(a->at_json);
}

/* at: "now" (default), "document", ms since 1970 (0 or more), or RFC 3339
 * at or after 1970. Anything else, INT64_MIN and negatives included, is
 * refused: -1. */
static int
parse_at(struct ask *a, json_t *v, const char *text)
{
	a->at_now = false;
	if (v == NULL && text == NULL) {
		a->at_now = true;
		a->at_ms = gb_time_now_ms();
		a->at_json = json_string("now");
		return 0;
	}
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return -1;
		a->at_ms = json_integer_value(v);
		a->at_json = json_integer(a->at_ms);
		return 0;
	}
	if (v != NULL)
		text = json_string_value(v);
	if (text == NULL)
		return -1;
	if (strcmp(text, "now") == 0) {
		a->at_now = true;
		a->at_ms = gb_time_now_ms();
	} else if (*text >= '0' && *text <= '9' &&
	    strspn(text, "0123456789") == strlen(text)) {
		/* Milliseconds as digits: any value an int64_t holds, as in
		 * the JSON form (gb_time_parse_at() stops at 15 digits). */
		a->at_ms = 0;
		for (const char *p = text; *p != '\0'; p++) {
			if (a->at_ms > (INT64_MAX - (*p - '0')) / 10)
				return -1;
			a->at_ms = a->at_ms * 10 + (*p - '0');
		}
	} else if (gb_time_parse_at(text, &a->at_ms) != 0 ||
	    (a->at_ms < 0 && strcmp(text, "document") != 0)) {
		return -1;
	}
	a->at_json = json_string(text);
	return 0;
}

/* A hex nonce, present: it must be 1..GB_OPT_FIELD_MAX_BYTES bytes of
 * hex, or the request fails (a nonce that cannot be read never turns the
 * nonce check off). */
static int
parse_nonce(struct vs_req *q, struct ask *a, const char *s, size_t len)
{
	int err;

	if (len == 0)
		return vs_problem(q, 400, "bad_request", "nonce is empty");
	err = gb_hex_decode_alloc(s, len, GB_OPT_FIELD_MAX_BYTES, &a->nonce,
	    &a->nonce_len);
	if (err == GB_ETOOBIG)
		return vs_problem(q, 400, "bad_request", "nonce is longer than "
		    "%d bytes (%zu hex digits)", GB_OPT_FIELD_MAX_BYTES, len);
	if (err != 0)
		return vs_problem(q, 400, "bad_request", "nonce is not hex");
	return 0;
}

/* Percent-decodes s[0..n) ('+' is a space) into out (n + 1 bytes), NUL
 * terminated; -1 on a bad escape or an embedded NUL. */
static int
url_decode(const char *s, size_t n, char *out, size_t *out_len)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '+') {
			out[k++] = ' ';
		} else if (s[i] != '%') {
			out[k++] = s[i];
		} else {
			if (i + 2 >= n)
				return -1;
			if ((hi = gb_hex_value(s[i + 1])) < 0 ||
			    (lo = gb_hex_value(s[i + 2])) < 0 ||
			    (hi == 0 && lo == 0))
				return -1;
			out[k++] = (char)(hi << 4 | lo);
			i += 2;
		}
	}
	out[k] = '\0';
	*out_len = k;
	return 0;
}

/* How much of an unknown parameter's name a refusal shows. */
#define PARAM_NAME_SHOWN 64

/* A parameter's name s[0..n) as a refusal shows it: its first
 * PARAM_NAME_SHOWN bytes, any that is not printable ASCII (or is a quote
 * or backslash) as '?', so that the detail is always valid UTF-8. */
static void
param_name(const char *s, size_t n, char out[PARAM_NAME_SHOWN + 1])
{
	size_t i;

	for (i = 0; i < n && i < PARAM_NAME_SHOWN; i++)
		out[i] = s[i] > ' ' && s[i] < 0x7f && s[i] != '"' &&
		    s[i] != '\\' ? s[i] : '?';
	out[i] = '\0';
}

/* The CBOR form's query: nonce and at, each at most once; any other name is
 * refused. Values are decoded into buffers as long as the query itself, so
 * no value is cut short. */
static int
read_query(struct vs_req *q, struct ask *a)
{
	const char *qs = vs_query_string(q), *p, *end, *amp, *eq;
	char *key = NULL, *val = NULL;
	bool seen_nonce = false, seen_at = false;
	size_t n, kl, vl;
	int rc = 0;

	if (qs == NULL || *qs == '\0')
		return parse_at(a, NULL, NULL) == 0 ? 0 : vs_problem(q, 500,
		    "no_memory", "out of memory");
	n = strlen(qs);
	if ((key = malloc(n + 1)) == NULL || (val = malloc(n + 1)) == NULL) {
		rc = vs_problem(q, 500, "no_memory", "out of memory");
		goto out;
	}
	for (p = qs, end = qs + n; p < end && rc == 0; p = amp + 1) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if (amp == p)
			continue;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (url_decode(p, (size_t)((eq ? eq : amp) - p), key, &kl) != 0 ||
		    url_decode(eq ? eq + 1 : amp, eq ? (size_t)(amp - eq - 1) :
		    0, val, &vl) != 0) {
			rc = vs_problem(q, 400, "bad_request", "the query string "
			    "has a bad percent escape");
		} else if (strcmp(key, "nonce") == 0) {
			rc = seen_nonce ? vs_problem(q, 400, "bad_request",
			    "nonce is given twice") : parse_nonce(q, a, val, vl);
			seen_nonce = true;
		} else if (strcmp(key, "at") == 0) {
			if (seen_at)
				rc = vs_problem(q, 400, "bad_request", "at is "
				    "given twice");
			else if (parse_at(a, NULL, val) != 0)
				rc = vs_problem(q, 400, "bad_request", "at is not "
				    "now, document, milliseconds since 1970 or "
				    "RFC 3339");
			seen_at = true;
		} else {
			char name[PARAM_NAME_SHOWN + 1];

			param_name(key, kl, name);
			rc = vs_problem(q, 400, "unknown_field", "unknown query "
			    "parameter \"%s\" (nonce and at are known)", name);
		}
	}
	if (rc == 0 && !seen_at && parse_at(a, NULL, NULL) != 0)
		rc = vs_problem(q, 500, "no_memory", "out of memory");
out:
	free(key);
	free(val);
	return rc;
}

/* A base64 field of the JSON form: absent (0, *out untouched), a string
 * that decodes (0), else -1; GB_ETOOBIG past max. */
static int
b64_field(json_t *o, const char *name, size_t max, uint8_t **out,
    size_t *len)
{
	json_t *v = json_object_get(o, name);
	const char *s = json_string_value(v);

	if (v == NULL)
		return 0;
	if (s == NULL)
		return -1;
	if (json_string_length(v) == 0) {
		/* Empty: zero bytes (an empty document is malformed, not a
		 * bad request). */
		if ((*out = malloc(1)) == NULL)
			return -1;
		*len = 0;
		return 0;
	}
	return gb_base64_decode_alloc(s, json_string_length(v), max, out, len);
}

/* The JSON form's fields; any other is refused, by name. */
static const char *const ask_fields[] = { "document", "result", "signature",
    "nonce", "at" };

static int
read_json(struct vs_req *q, struct ask *a, const char *body, size_t len)
{
	json_error_t je;
	json_t *j, *v;
	const char *k;
	int rc = 0, err = 0;

	j = gb_json_loadb(body, len, 0, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		return vs_problem(q, 400, "bad_request", "the body is not a "
		    "JSON object (%s)", j == NULL ? je.text : "another value");
	}
	json_object_foreach(j, k, v) {
		size_t i;

		for (i = 0; i < sizeof ask_fields / sizeof ask_fields[0]; i++)
			if (strcmp(k, ask_fields[i]) == 0)
				break;
		if (i == sizeof ask_fields / sizeof ask_fields[0]) {
			rc = vs_problem(q, 400, "unknown_field", "unknown field "
			    "\"%.64s\" (document, result, signature, nonce and "
			    "at are known)", k);
			goto out;
		}
	}
	/* The decoded length is what the limit is about; the body limit
	 * bounds the work. */
	if (!json_is_string(json_object_get(j, "document")))
		rc = vs_problem(q, 400, "bad_request", "document must be the "
		    "attestation document in base64");
	else if ((err = b64_field(j, "document", q->vs->cfg.max_body,
	    &a->doc, &a->doc_len)) != 0 && err != GB_ETOOBIG)
		rc = vs_problem(q, 400, "bad_request", "document must be the "
		    "attestation document in base64");
	else if (err == GB_ETOOBIG || a->doc_len > GB_DOC_MAX_BYTES)
		rc = vs_problem(q, 413, "too_large", "the document is %s%zu "
		    "bytes; no attestation document is larger than %d",
		    err == GB_ETOOBIG ? "more than " : "", err == GB_ETOOBIG ?
		    (size_t)q->vs->cfg.max_body : a->doc_len, GB_DOC_MAX_BYTES);
	else if (b64_field(j, "result", q->vs->cfg.max_body, &a->result,
	    &a->result_len) != 0 || b64_field(j, "signature", 1024, &a->sig,
	    &a->sig_len) != 0)
		rc = vs_problem(q, 400, "bad_request", "result and signature "
		    "must be base64");
	else if ((a->result == NULL) != (a->sig == NULL))
		rc = vs_problem(q, 400, "bad_request", "result and signature "
		    "go together");
	else if ((v = json_object_get(j, "nonce")) != NULL && !json_is_string(v))
		rc = vs_problem(q, 400, "bad_request", "nonce must be hex");
	else if (v != NULL && (rc = parse_nonce(q, a, json_string_value(v),
	    json_string_length(v))) != 0)
		;
	else if (parse_at(a, json_object_get(j, "at"), NULL) != 0)
		rc = vs_problem(q, 400, "bad_request", "at must be \"now\", "
		    "\"document\", milliseconds since 1970 or RFC 3339");
out:
	json_decref(j);
	return rc;
}

/* The JSON form with a query string: 400 unknown_field naming its first
 * parameter, else 0. */
static int
json_query_refused(struct vs_req *q)
{
	const char *qs = vs_query_string(q);
	char name[PARAM_NAME_SHOWN + 1];

	if (qs == NULL)
		return 0;
	while (*qs == '&')
		qs++;
	param_name(qs, strcspn(qs, "=&"), name);
	return vs_problem(q, 400, "unknown_field", "unknown query parameter "
	    "\"%s\": the JSON form takes none (nonce and at go in the body)",
	    name);
}

/* Reads the request from its body (taken over): JSON, or raw CBOR with
 * nonce and at in the query. */
static int
read_ask(struct vs_req *q, struct ask *a, char *body, size_t len)
{
	bool cbor = vs_content_type_is(q, "application/cbor", false);
	int rc;

	if (!cbor && !vs_content_type_is(q, "application/json", true)) {
		free(body);
		return vs_problem(q, 415, "unsupported_media_type", "send "
		    "application/json (optionally ; charset=utf-8) or "
		    "application/cbor");
	}
	if (!cbor) {
		/* The JSON form's question is all in its body: a query
		 * parameter beside it (?nonce=, ?at=) would be ignored, so it
		 * is refused, as an unknown field is. */
		rc = json_query_refused(q);
		if (rc == 0)
			rc = read_json(q, a, body, len);
		free(body);
		return rc;
	}
	a->doc = (uint8_t *)body;
	a->doc_len = len;
	if (len > GB_DOC_MAX_BYTES)
		return vs_problem(q, 413, "too_large", "the document is %zu "
		    "bytes; no attestation document is larger than %d", len,
		    GB_DOC_MAX_BYTES);
	return read_query(q, a);
}

static json_t *
doc_json(const struct gb_doc *d)
{
	json_t *pcrs = gb_json_pcrs(d);

	/* The registers under the document's own name (pcrs, or an
	 * instance's nitrotpm_pcrs), beside its kind. */
	return json_pack("{s:s%, s:I, s:s, s:o, s:o, s:o, s:o, s:b}",
	    "module_id", (const char *)d->module_id.ptr, d->module_id.len,
	    "timestamp", (json_int_t)d->timestamp_ms, "kind",
	    gb_doc_kind_name(d->kind), gb_doc_pcrs_key(d->kind), pcrs,
	    "public_key", gb_json_hex(d->public_key), "user_data",
	    gb_json_hex(d->user_data), "nonce", gb_json_hex(d->nonce), "debug",
	    gb_doc_is_debug(d));
}

/* The register a release of the document's kind is found by: an
 * enclave's PCR0 (its image), an instance's PCR4 (its boot manager code:
 * the UKI; PCR0..3 measure AWS's firmware, not the image). */
#define INSTANCE_KEY_PCR 4

/* The registry's part: the release the document's key register names
 * (PCR0 of an enclave, PCR4 of an instance) must be published, unrevoked,
 * describe an image of the document's kind, and declare only PCRs equal to
 * the document's. What the registry says comes through the registry cache
 * (cache.c) or, with it off, from the database: the same view either way.
 * Only "no such release" is an answer; when the registry cannot be read,
 * *fault says why (a 503, never a signed unknown_measurement) and the
 * reason is meaningless. */
static enum gb_reason
check_release(struct vs_req *q, struct vs_regstate *st,
    const struct gb_doc *d, char pcr0[97], uint64_t *index, bool *matched,
    const char **fault, struct gb_result *res)
{
	bool tpm = d->kind == GB_DOC_NITROTPM;
	unsigned key = tpm ? INSTANCE_KEY_PCR : 0;
	struct vs_relview v;

	*matched = false;
	*fault = NULL;
	if (d->pcrs[key].ptr == NULL || d->pcrs[key].len != 48)
		return gb_result_set(res, GB_R_UNKNOWN_MEASUREMENT, "the "
		    "document has no 48-byte PCR%u", key);
	if (st->rd == NULL) {
		*fault = "the registry cannot be opened";
		return GB_R_OK;
	}
	gb_hex_encode(pcr0, d->pcrs[key].ptr, 48);
	if (vs_regcache_view(q->vs, st, pcr0, &v) != 0) {
		*fault = "the registry cannot be read";
		return GB_R_OK;
	}
	if (!v.found)
		return gb_result_set(res, GB_R_UNKNOWN_MEASUREMENT, "no "
		    "published release has this %s", tpm ? "NitroTPM PCR4 (an "
		    "instance image)" : "PCR0");
	*index = v.index;
	if (!v.readable) {
		*fault = "the release's log entry cannot be read";
		return GB_R_OK;
	}
	/* An enclave's PCR0 and an instance's PCR4 share the registry's
	 * key: a release of the other kind is no match, whatever its
	 * registers. */
	if (v.instance != tpm)
		return gb_result_set(res, GB_R_UNKNOWN_MEASUREMENT, "release %s "
		    "describes %s image, and this is %s document", v.id,
		    v.instance ? "an instance (NitroTPM)" : "an enclave",
		    tpm ? "an instance's NitroTPM" : "an enclave's");
	for (unsigned k = 0; k < v.npcrs; k++) {
		unsigned i = v.pcrs[k].i;

		if (!v.pcrs[k].ok || d->pcrs[i].ptr == NULL ||
		    d->pcrs[i].len != 48 ||
		    memcmp(d->pcrs[i].ptr, v.pcrs[k].v, 48) != 0)
			return gb_result_set(res, GB_R_UNKNOWN_MEASUREMENT,
			    "%sPCR%u differs from release %s, which has this "
			    "PCR%u", tpm ? "NitroTPM " : "", i, v.id, key);
	}
	*matched = true;
	if (v.revoked >= 0)
		return gb_result_set(res, GB_R_REVOKED, "release %s was revoked "
		    "by log entry %lld", v.id, (long long)v.revoked);
	return GB_R_OK;
}

/* Last of all: when the release names the enclave's signing key (a sealed
 * key that survives restarts: "signer_key" in its statement), a result
 * that verified with the document's public_key must have been signed by
 * that key, not by one an enclave of the same build made for itself. */
static enum gb_reason
check_signer(json_t *release, const struct gb_doc *d, struct gb_result *res)
{
	const char *want = json_string_value(json_object_get(release,
	    "signer_key"));
	const char *id = json_string_value(json_object_get(release, "id"));
	char have[65];

	if (want == NULL)
		return GB_R_OK;
	if (id == NULL)
		id = "?";
	if (d->public_key.ptr == NULL || d->public_key.len != 32)
		return gb_result_set(res, GB_R_WRONG_SIGNER, "release %s names "
		    "signer_key %.64s; the document's public_key is not a "
		    "32-byte key", id, want);
	gb_hex_encode(have, d->public_key.ptr, 32);
	if (strcmp(have, want) != 0)
		return gb_result_set(res, GB_R_WRONG_SIGNER, "signed by %s, "
		    "not by %.64s (release %s's signer_key)", have, want, id);
	return GB_R_OK;
}

/*
 * The checks in the order they run, each owning a range of reason codes:
 * the page shows every one as pass, fail, skipped (not asked for) or
 * not_run (an earlier check failed).
 */
static const struct step {
	const char *id;
	enum gb_reason first, last;
} steps[] = {
	{ "cbor", GB_R_MALFORMED, GB_R_MALFORMED },
	{ "header", GB_R_BAD_HEADER, GB_R_BAD_HEADER },
	{ "fields", GB_R_BAD_FIELD, GB_R_BAD_FIELD },
	{ "root", GB_R_UNTRUSTED_ROOT, GB_R_UNTRUSTED_ROOT },
	{ "chain", GB_R_BAD_CHAIN, GB_R_BAD_CHAIN },
	{ "validity", GB_R_CERT_EXPIRED, GB_R_CERT_NOT_YET_VALID },
	{ "signature", GB_R_BAD_SIGNATURE, GB_R_BAD_SIGNATURE },
	{ "debug", GB_R_DEBUG_MODE, GB_R_DEBUG_MODE },
	{ "freshness", GB_R_STALE, GB_R_FUTURE },
	{ "nonce", GB_R_NONCE_MISMATCH, GB_R_NONCE_UNKNOWN },
	{ "release", GB_R_UNKNOWN_MEASUREMENT, GB_R_REVOKED },
	{ "result", GB_R_BAD_RESULT_SIGNATURE, GB_R_WRONG_SIGNER },
};

static json_t *
checks_json(enum gb_reason r, const struct ask *a)
{
	json_t *out = json_array();

	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		const struct step *s = &steps[i];
		bool skip = (s->first == GB_R_STALE &&
		    a->at_ms == GB_AT_DOCUMENT) ||
		    (s->first == GB_R_NONCE_MISMATCH && a->nonce == NULL) ||
		    (s->first == GB_R_BAD_RESULT_SIGNATURE && a->result == NULL);
		const char *status = "pass";
		json_t *c;

		if (r != GB_R_OK && r >= s->first && r <= s->last)
			status = "fail";
		else if (r != GB_R_OK && r < s->first)
			status = "not_run";
		else if (skip)
			status = "skipped";
		c = json_pack("{s:s, s:s}", "check", s->id, "status", status);
		if (strcmp(status, "fail") == 0)
			json_object_update_new(c, json_pack("{s:s, s:s}",
			    "reason", gb_reason_code(r), "text",
			    gb_reason_text(r)));
		json_array_append_new(out, c);
	}
	return out;
}

/* The release claim: {id, name, version, index} of the answer's release. */
static json_t *
release_claim(json_t *release)
{
	json_t *c;

	if (!json_is_object(release))
		return json_null();
	c = json_pack("{s:O, s:O, s:O, s:O}", "id", json_object_get(release,
	    "id"), "name", json_object_get(release, "name"), "version",
	    json_object_get(release, "version"), "index",
	    json_object_get(release, "index"));
	return c != NULL ? c : json_null();
}

/* The checkpoint claim: {origin, size, root} of the proof's checkpoint; the
 * origin is the note's first line. */
static json_t *
checkpoint_claim(json_t *proof)
{
	json_t *cp = json_object_get(proof, "checkpoint"), *c;
	const char *note = json_string_value(json_object_get(cp, "note"));
	const char *nl = note != NULL ? strchr(note, '\n') : NULL;

	if (nl == NULL)
		return json_null();
	c = json_pack("{s:s%, s:O, s:O}", "origin", note, (size_t)(nl - note),
	    "size", json_object_get(cp, "size"), "root", json_object_get(cp,
	    "root"));
	return c != NULL ? c : json_null();
}

/* The claims the verdict signs (docs/verdict.md "The claims"). */
static json_t *
verdict_claims(struct vs *vs, const struct ask *a, enum gb_reason r,
    const struct gb_result *res, const struct gb_doc *d, json_t *release,
    json_t *proof, int64_t iat)
{
	json_t *sub, *claims, *at_ms, *fresh;

	if (a->at_ms == GB_AT_DOCUMENT)
		at_ms = d != NULL ? json_integer((json_int_t)d->timestamp_ms) :
		    json_null();
	else
		at_ms = json_integer(a->at_ms);
	/* What freshness the answer holds the document to: the rule of any
	 * question about a time (applied when the checks get that far), none
	 * at "document". */
	fresh = a->at_ms == GB_AT_DOCUMENT ? json_null() : json_pack("{s:I, "
	    "s:I}", "max_age_ms", (json_int_t)vs->cfg.max_age_ms, "skew_ms",
	    (json_int_t)vs->cfg.skew_ms);
	sub = json_pack("{s:s, s:s, s:s, s:O, s:o, s:o, s:o, s:o, s:o}",
	    "ear.status", r == GB_R_OK ? "affirming" : "contraindicated",
	    "glassbox.reason", gb_reason_code(r), "glassbox.message",
	    res->detail, "glassbox.at", a->at_json, "glassbox.at_ms", at_ms,
	    "glassbox.freshness", fresh,
	    "glassbox.document", gb_verdict_document_claim(a->doc, a->doc_len,
	    d), "glassbox.release", release_claim(release),
	    "glassbox.checkpoint", checkpoint_claim(proof));
	if (sub != NULL && a->result != NULL && json_object_set_new(sub,
	    "glassbox.result_sha256", gb_verdict_sha256_hex(a->result,
	    a->result_len)) != 0) {
		json_decref(sub);
		sub = NULL;
	}
	if (sub == NULL)
		return NULL;
	claims = json_pack("{s:s, s:I, s:I, s:{s:s, s:s}, s:{s:o}}",
	    "eat_profile", "tag:github.com,2023:veraison/ear", "iat",
	    (json_int_t)iat, "exp", (json_int_t)(iat + vs->cfg.verdict_ttl_s),
	    "ear.verifier-id", "developer", "glassbox", "build",
	    "glassbox-verifier " VS_VERSION, "submods", "glassbox", sub);
	if (claims != NULL && a->nonce != NULL &&
	    json_object_set_new(claims, "eat_nonce", gb_json_hex(
	    (struct gb_span){ a->nonce, a->nonce_len })) != 0) {
		json_decref(claims);
		claims = NULL;
	}
	return claims;
}

/* A remembered answer for this request, sent: the verdict counted and named
 * in the log line as the computed one would be. Returns 0 when there is
 * none. */
static int
answer_cached(struct vs_req *q, const uint8_t key[VS_RESPCACHE_KEY_BYTES],
    uint64_t gen)
{
	struct vs_answer *a = vs_respcache_get(q->vs, key, gen,
	    gb_time_now_ms() / 1000);
	int rc;

	if (a == NULL)
		return 0;
	vs_metrics_verdict(q->vs, a->reason);
	q->reason = gb_reason_code(a->reason);
	rc = vs_reply_text(q, 200, "application/json", a->body, a->len);
	vs_respcache_put_back(a);
	return rc;
}

/* The answer's bytes (what vs_reply_json() would send): a new string. */
static char *
answer_json(enum gb_reason r, const struct gb_result *res,
    const struct ask *a, const struct gb_doc *d, json_t *release,
    json_t *proof, const char *jws, const char *tlog)
{
	json_t *j = json_pack("{s:b, s:s, s:s, s:o, s:o, s:O, s:O, s:O, s:s, "
	    "s:s?}", "trusted", r == GB_R_OK, "reason", gb_reason_code(r),
	    "message", res->detail, "checks", checks_json(r, a), "document",
	    d != NULL ? doc_json(d) : json_null(), "release", release, "proof",
	    proof, "at", a->at_json, "verdict", jws, "tlog_proof", tlog);
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

int
vs_api_verify(struct vs_req *q)
{
	struct vs *vs = q->vs;
	struct ask a = { .at_ms = 0 };
	struct gb_policy pol = { .allow_debug = false };
	struct gb_result res = { GB_R_OK, "" };
	struct gb_doc d;
	struct vs_regstate st;
	enum gb_reason r;
	json_t *release = json_null(), *proof = json_null(), *claims;
	uint8_t key[VS_RESPCACHE_KEY_BYTES];
	uint64_t index = 0;
	int64_t iat;
	bool matched = false, parsed;
	char *jws = NULL, *tlog = NULL, *answer = NULL, *body, pcr0[97];
	size_t len;
	int rc;

	if (!vs_method(q, "POST")) {
		rc = vs_problem(q, 405, "method_not_allowed", "use POST");
		goto out;
	}
	/* First, before any answer, remembered or not, and after this
	 * request's read of the latest checkpoint was held against the kept
	 * one (a log rolled back is refused by the request that sees it):
	 * the log watch's verdict (damaged, or its first audit pending). */
	vs_regcache_begin(vs, &st);
	if ((rc = vs_audit_refuse(q)) != 0)
		goto out;
	if ((rc = vs_read_body(q, &body, &len)) != 0)
		goto out;
	if (vs->respcache != NULL && st.gen != 0) {
		vs_respcache_key(vs_header(q, "Content-Type"),
		    vs_query_string(q), body, len, key);
		if ((rc = answer_cached(q, key, st.gen)) != 0) {
			free(body);
			goto out;
		}
	}
	if ((rc = read_ask(q, &a, body, len)) != 0)
		goto out;
	r = gb_verifier_verify(vs->verifier, a.doc, a.doc_len, a.at_ms, &d,
	    &res);
	parsed = r == GB_R_OK || r > GB_R_BAD_FIELD;
	if (r == GB_R_OK) {
		/* Against the time asked, whenever it is a time: only "was it
		 * valid when made" (at "document") has no age. */
		pol.check_freshness = a.at_ms != GB_AT_DOCUMENT;
		pol.now_ms = a.at_ms;
		pol.max_age_ms = vs->cfg.max_age_ms;
		pol.max_skew_ms = vs->cfg.skew_ms;
		pol.nonce = a.nonce;
		pol.nonce_len = a.nonce_len;
		r = gb_policy_check(&pol, &d, &res);
	}
	if (r == GB_R_OK && a.nonce != NULL &&
	    !vs_nonce_take(&vs->nonces, a.nonce, a.nonce_len,
	    gb_time_now_ms()))
		r = gb_result_set(&res, GB_R_NONCE_UNKNOWN, "this nonce was not "
		    "issued by POST /api/v1/challenge, has expired, or was "
		    "used already");
	/* Name the release whenever the document is genuine, even when a
	 * policy check refuses it. */
	if (r == GB_R_OK || r >= GB_R_DEBUG_MODE) {
		struct gb_result rres;
		const char *fault;
		enum gb_reason rr = check_release(q, &st, &d, pcr0, &index,
		    &matched, &fault, &rres);

		if (fault != NULL) {
			rc = vs_problem(q, 503, "not_ready", "%s; no verdict is "
			    "given (see /readyz)", fault);
			goto out;
		}
		if (r == GB_R_OK && rr != GB_R_OK) {
			r = rr;
			res = rres;
		}
	}
	if (r == GB_R_OK && a.result != NULL)
		r = gb_result_check(&d, a.result, a.result_len, a.sig, a.sig_len,
		    &res);

	if (matched) {
		json_decref(release);
		json_decref(proof);
		vs_regcache_release(vs, &st, pcr0, index, &release, &proof,
		    &tlog);
		/* A verdict naming a release carries its proof against a
		 * checkpoint that verified under the log key; without one (the
		 * latest checkpoint's signature fails, a read failed) no
		 * verdict is given, least of all an affirming one. */
		if (!json_is_object(release) || !json_is_object(proof) ||
		    tlog == NULL) {
			rc = vs_problem(q, 503, "not_ready", "release %s matched, "
			    "but no inclusion proof against a checkpoint that "
			    "verifies under the log key can be made (the "
			    "latest checkpoint does not verify, or the "
			    "registry cannot be read); no verdict is given "
			    "(see /readyz)", json_string_value(json_object_get(
			    release, "id")) != NULL ? json_string_value(
			    json_object_get(release, "id")) : pcr0);
			goto out;
		}
		/* --policy: that checkpoint must also be cosigned by the
		 * quorum, or a client holding the same policy would refuse
		 * the receipt; no verdict is given meanwhile (policy.c). */
		{
			const char *note = json_string_value(json_object_get(
			    json_object_get(proof, "checkpoint"), "note"));
			char why[400];

			if (vs_policy_refuses(vs, note, note ? strlen(note) : 0,
			    why, sizeof why)) {
				rc = vs_problem(q, 503, "below_quorum", "release "
				    "%s matched, but %s; no verdict is given "
				    "(see /readyz)", json_string_value(
				    json_object_get(release, "id")), why);
				goto out;
			}
		}
	}
	if (r == GB_R_OK && a.result != NULL && matched)
		r = check_signer(release, &d, &res);
	iat = gb_time_now_ms() / 1000;
	claims = verdict_claims(vs, &a, r, &res, parsed ? &d : NULL, release,
	    proof, iat);
	if (claims == NULL || (jws = vs_jws_sign(vs, claims)) == NULL ||
	    (answer = answer_json(r, &res, &a, parsed ? &d : NULL, release,
	    proof, jws, tlog)) == NULL) {
		json_decref(claims);
		rc = vs_problem(q, 500, "no_memory", "the verdict could not be "
		    "signed");
		goto out;
	}
	json_decref(claims);
	/* Answered again the same way within this second and log state: a
	 * nonce is used once, and "now" is a different time each
	 * millisecond. */
	if (vs->respcache != NULL && st.gen != 0 && a.nonce == NULL &&
	    !a.at_now)
		vs_respcache_add(vs, key, st.gen, iat, r, answer,
		    strlen(answer));
	vs_metrics_verdict(vs, r);
	q->reason = gb_reason_code(r);
	rc = vs_reply_text(q, 200, "application/json", answer, strlen(answer));
out:
	json_decref(release);
	json_decref(proof);
	free(jws);
	free(tlog);
	free(answer);
	ask_free(&a);
	return rc;
}
