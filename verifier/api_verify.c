/*
 * POST /api/v1/challenge and POST /api/v1/verify: the question clients ask
 * before they trust a result. The checks run in DESIGN.md's order; the
 * first that fails names the reason: the document (lib), then policy: debug
 * mode, freshness (at "now" only), nonce, the registry, the result.
 */
#include <stdlib.h>
#include <string.h>

#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/result.h"
#include "gb/timefmt.h"
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

/* at: "now" (default), "document", ms since 1970, or RFC 3339. */
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
	} else if (gb_time_parse_at(text, &a->at_ms) != 0) {
		return -1;
	}
	a->at_json = json_string(text);
	return 0;
}

static int
b64_field(json_t *o, const char *name, size_t max, uint8_t **out,
    size_t *len)
{
	const char *s = json_string_value(json_object_get(o, name));

	if (json_object_get(o, name) == NULL)
		return 0;
	if (s == NULL || gb_base64_decode_alloc(s, strlen(s), max, out,
	    len) != 0)
		return -1;
	return 0;
}

/* Reads the request: JSON, or raw CBOR with nonce and at in the query. */
static int
read_ask(struct vs_req *q, struct ask *a)
{
	const char *ct = vs_header(q, "Content-Type");
	char qbuf[256], *body;
	json_error_t je;
	size_t len;
	json_t *j;
	int rc;

	if ((rc = vs_read_body(q, &body, &len)) != 0)
		return rc;
	if (ct != NULL && strncmp(ct, "application/cbor", 16) == 0) {
		const char *nonce = vs_query(q, "nonce", qbuf, sizeof qbuf);

		a->doc = (uint8_t *)body;
		a->doc_len = len;
		if (nonce != NULL && gb_hex_decode_alloc(nonce, strlen(nonce),
		    GB_OPT_FIELD_MAX_BYTES, &a->nonce, &a->nonce_len) != 0)
			return vs_problem(q, 400, "bad_request", "nonce is not "
			    "hex");
		if (parse_at(a, NULL, vs_query(q, "at", qbuf, sizeof qbuf)) !=
		    0)
			return vs_problem(q, 400, "bad_request", "at is not "
			    "now, document, ms or RFC 3339");
		return 0;
	}
	if (ct != NULL && strncmp(ct, "application/json", 16) != 0) {
		free(body);
		return vs_problem(q, 415, "unsupported_media_type", "send "
		    "application/json or application/cbor");
	}
	j = gb_json_loadb(body, len, 0, &je);
	free(body);
	if (!json_is_object(j)) {
		json_decref(j);
		return vs_problem(q, 400, "bad_request", "the body is not a "
		    "JSON object (%s)", je.text);
	}
	rc = 0;
	if (!json_is_string(json_object_get(j, "document")) ||
	    b64_field(j, "document", GB_DOC_MAX_BYTES * 2, &a->doc,
	    &a->doc_len) != 0)
		rc = vs_problem(q, 400, "bad_request", "document must be the "
		    "attestation document in base64");
	else if (b64_field(j, "result", q->vs->cfg.max_body, &a->result,
	    &a->result_len) != 0 || b64_field(j, "signature", 1024, &a->sig,
	    &a->sig_len) != 0)
		rc = vs_problem(q, 400, "bad_request", "result and signature "
		    "must be base64");
	else if ((a->result == NULL) != (a->sig == NULL))
		rc = vs_problem(q, 400, "bad_request", "result and signature "
		    "go together");
	else if (json_object_get(j, "nonce") != NULL &&
	    (!json_is_string(json_object_get(j, "nonce")) ||
	    gb_hex_decode_alloc(json_string_value(json_object_get(j, "nonce")),
	    strlen(json_string_value(json_object_get(j, "nonce"))),
	    GB_OPT_FIELD_MAX_BYTES, &a->nonce, &a->nonce_len) != 0))
		rc = vs_problem(q, 400, "bad_request", "nonce must be hex");
	else if (parse_at(a, json_object_get(j, "at"), NULL) != 0)
		rc = vs_problem(q, 400, "bad_request", "at must be \"now\", "
		    "\"document\", milliseconds or RFC 3339");
	json_decref(j);
	return rc;
}

static json_t *
doc_json(const struct gb_doc *d)
{
	json_t *pcrs = gb_json_pcrs(d);

	return json_pack("{s:s%, s:I, s:o, s:o, s:o, s:o, s:b}", "module_id",
	    (const char *)d->module_id.ptr, d->module_id.len, "timestamp",
	    (json_int_t)d->timestamp_ms, "pcrs", pcrs, "public_key",
	    gb_json_hex(d->public_key), "user_data", gb_json_hex(d->user_data),
	    "nonce", gb_json_hex(d->nonce), "debug", gb_doc_is_debug(d));
}

/* The registry's part: the release whose PCR0 the document has must be
 * published, unrevoked, and declare only PCRs equal to the document's. */
static enum gb_reason
check_release(struct vs_req *q, const struct gb_doc *d, uint64_t *index,
    bool *matched, struct gb_result *res)
{
	struct gb_registry *r = vs_registry(q);
	struct gb_reg_error e;
	char pcr0[97], id[17], *leaf = NULL;
	const char *k;
	int64_t revoked;
	json_t *j, *pcrs, *v;
	enum gb_reason out = GB_R_OK;

	*matched = false;
	if (r == NULL)
		return gb_result_set(res, GB_R_UNKNOWN_MEASUREMENT, "the "
		    "registry is not available");
	if (d->pcrs[0].ptr == NULL || d->pcrs[0].len != 48)
		return gb_result_set(res, GB_R_UNKNOWN_MEASUREMENT, "the "
		    "document has no 48-byte PCR0");
	gb_hex_encode(pcr0, d->pcrs[0].ptr, 48);
	if (gb_registry_by_pcr0(r, pcr0, index, id, &revoked, &e) != 0)
		return gb_result_set(res, GB_R_UNKNOWN_MEASUREMENT, "no "
		    "published release has this PCR0");
	if (gb_registry_leaf(r, *index, &leaf, &e) != 0 ||
	    (j = gb_json_loadb(leaf, strlen(leaf), 0, NULL)) == NULL) {
		free(leaf);
		return gb_result_set(res, GB_R_UNKNOWN_MEASUREMENT, "cannot "
		    "read release %s", id);
	}
	free(leaf);
	pcrs = json_object_get(json_object_get(j, "release"), "pcrs");
	json_object_foreach(pcrs, k, v) {
		unsigned i = (unsigned)strtoul(k, NULL, 10);
		uint8_t want[48];
		const char *hex = json_string_value(v);

		if (i >= GB_PCR_MAX_COUNT || hex == NULL ||
		    gb_hex_decode(hex, strlen(hex), want, 48) != 0 ||
		    d->pcrs[i].ptr == NULL || d->pcrs[i].len != 48 ||
		    memcmp(d->pcrs[i].ptr, want, 48) != 0) {
			out = gb_result_set(res, GB_R_UNKNOWN_MEASUREMENT,
			    "PCR%u differs from release %s, which has this "
			    "PCR0", i, id);
			break;
		}
	}
	json_decref(j);
	if (out != GB_R_OK)
		return out;
	*matched = true;
	if (revoked >= 0)
		return gb_result_set(res, GB_R_REVOKED, "release %s was revoked "
		    "by log entry %lld", id, (long long)revoked);
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
	{ "result", GB_R_BAD_RESULT_SIGNATURE, GB_R_RESULT_NOT_BOUND },
};

static json_t *
checks_json(enum gb_reason r, const struct ask *a)
{
	json_t *out = json_array();

	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		const struct step *s = &steps[i];
		bool skip = (s->first == GB_R_STALE && !a->at_now) ||
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

int
vs_api_verify(struct vs_req *q)
{
	struct vs *vs = q->vs;
	struct ask a = { .at_ms = 0 };
	struct gb_policy pol = { .allow_debug = false };
	struct gb_result res = { GB_R_OK, "" };
	struct gb_doc d;
	enum gb_reason r;
	json_t *release = json_null(), *proof = json_null(), *claims, *sub;
	uint64_t index = 0;
	bool matched = false, parsed;
	char *jws;
	int rc;

	if (!vs_method(q, "POST")) {
		json_decref(release);
		json_decref(proof);
		return vs_problem(q, 405, "method_not_allowed", "use POST");
	}
	if (atomic_load(&vs->audit.damaged)) {
		json_decref(release);
		json_decref(proof);
		return vs_problem(q, 503, "log_damaged", "the log failed its "
		    "audit; no verdict can rest on it (see /readyz)");
	}
	if ((rc = read_ask(q, &a)) != 0) {
		ask_free(&a);
		return rc;
	}
	r = gb_verifier_verify(vs->verifier, a.doc, a.doc_len, a.at_ms, &d,
	    &res);
	parsed = r == GB_R_OK || r > GB_R_BAD_FIELD;
	if (r == GB_R_OK) {
		pol.check_freshness = a.at_now;
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
		enum gb_reason rr = check_release(q, &d, &index, &matched,
		    &rres);

		if (r == GB_R_OK && rr != GB_R_OK) {
			r = rr;
			res = rres;
		}
	}
	if (r == GB_R_OK && a.result != NULL)
		r = gb_result_check(&d, a.result, a.result_len, a.sig, a.sig_len,
		    &res);

	if (matched) {
		struct gb_registry *reg = vs_registry(q);

		json_decref(release);
		json_decref(proof);
		release = vs_release_json(reg, index);
		proof = vs_proof_json(reg, index);
	}
	sub = json_pack("{s:s, s:s, s:s, s:O, s:O}", "ear.status",
	    r == GB_R_OK ? "affirming" : "contraindicated", "glassbox.reason",
	    gb_reason_code(r), "glassbox.message", res.detail, "glassbox.at",
	    a.at_json, "glassbox.release", release);
	if (sub != NULL && json_is_object(proof))
		json_object_set(sub, "glassbox.checkpoint",
		    json_object_get(proof, "checkpoint"));
	claims = json_pack("{s:s, s:I, s:{s:s, s:s}, s:{s:o}}", "eat_profile",
	    "tag:github.com,2023:veraison/ear", "iat",
	    (json_int_t)(gb_time_now_ms() / 1000), "ear.verifier-id",
	    "developer", "glassbox", "build", "glassbox-verifier " VS_VERSION,
	    "submods", "glassbox", sub);
	if (claims != NULL && a.nonce != NULL)
		json_object_set_new(claims, "eat_nonce", gb_json_hex(
		    (struct gb_span){ a.nonce, a.nonce_len }));
	jws = claims ? vs_jws_sign(vs, claims) : NULL;
	json_decref(claims);
	vs_metrics_verdict(vs, r);
	q->reason = gb_reason_code(r);
	rc = vs_reply_json(q, 200, json_pack("{s:b, s:s, s:s, s:o, s:o, s:o, "
	    "s:o, s:O, s:s?}", "trusted", r == GB_R_OK, "reason",
	    gb_reason_code(r), "message", res.detail, "checks",
	    checks_json(r, &a), "document", parsed ? doc_json(&d) :
	    json_null(), "release", release, "proof", proof, "at", a.at_json,
	    "verdict", jws));
	free(jws);
	ask_free(&a);
	return rc;
}
