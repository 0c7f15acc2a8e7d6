/*
 * glassbox-enclave's endpoints: GET /health, GET /attestation, POST /sign,
 * GET /metrics (see main.c and docs/enclave.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nettle/sha2.h>

#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/result.h"
#include "enclave.h"



static void
reply_json(struct gb_http_resp *r, int status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	gb_http_reply(r, status, "application/json", s ? s : "{}");
	if (s == NULL)
		r->status = 500;
	free(s);
}

/* The reason codes, in enum enclave_refusal's order. */
static const char *const refusal_name[ENCLAVE_R__COUNT] = {
	[ENCLAVE_R_BAD_REQUEST] = "bad_request",
	[ENCLAVE_R_UNKNOWN_FIELD] = "unknown_field",
	[ENCLAVE_R_METHOD_NOT_ALLOWED] = "method_not_allowed",
	[ENCLAVE_R_NOT_FOUND] = "not_found",
	[ENCLAVE_R_NSM_ERROR] = "nsm_error",
	[ENCLAVE_R_INTERNAL] = "internal",
	[ENCLAVE_R_NO_MEMORY] = "no_memory",
	[ENCLAVE_R_NOT_SEALED] = "not_sealed",
};

/* A problem answer with its reason code, counted by reason. */
static void
problem(struct enclave *e, struct gb_http_resp *r, int status,
    enum enclave_refusal why, const char *detail)
{
	atomic_fetch_add(&e->count.refusals[why], 1);
	reply_json(r, status, json_pack("{s:i, s:s, s:s}", "status", status,
	    "reason", refusal_name[why], "detail", detail));
	r->type = "application/problem+json";
}

/* An attestation from the NSM, as base64; NULL and a problem set on
 * failure. */
static char *
attest(struct enclave *e, const uint8_t *nonce, size_t nonce_len,
    const uint8_t *user_data, size_t ud_len, struct gb_http_resp *r)
{
	static uint8_t buf[GB_NSM_RESPONSE_MAX];    /* under nsm_mu */
	struct gb_nsm_response resp;
	enum gb_nsm_status st;
	char *b64 = NULL;

	pthread_mutex_lock(&e->nsm_mu);
	st = gb_nsm_attestation(&e->nsm, user_data, ud_len, nonce, nonce_len,
	    e->pub, sizeof e->pub, buf, &resp);
	if (st == GB_NSM_SUCCESS &&
	    gb_base64_encode_alloc(resp.document, resp.document_len, &b64) != 0)
		st = GB_NSM_INTERNAL_ERROR;
	pthread_mutex_unlock(&e->nsm_mu);
	if (st == GB_NSM_SUCCESS)
		atomic_fetch_add(&e->count.attestations, 1);
	if (st != GB_NSM_SUCCESS) {
		char msg[160];

		snprintf(msg, sizeof msg, "the NSM refused the attestation: "
		    "%s (%s)", gb_nsm_status_name(st), gb_nsm_status_text(st));
		problem(e, r, st >= GB_NSM_E_TRANSPORT ? 502 : 500,
		    ENCLAVE_R_NSM_ERROR, msg);
		return NULL;
	}
	return b64;
}

static void
health(struct enclave *e, struct gb_http_resp *r)
{
	reply_json(r, 200, json_pack("{s:s, s:s, s:s, s:s, s:s}", "status",
	    "ok", "public_key", e->pub_hex, "nsm", e->nsm_kind, "module_id",
	    e->module_id, "key", e->key_source ? e->key_source : "ephemeral"));
}

static void
attestation(struct enclave *e, const struct gb_http_req *q,
    struct gb_http_resp *r)
{
	char *doc;
	uint8_t *nonce = NULL;
	size_t nonce_len = 0;

	/* The query is empty or exactly "nonce=HEX": a misspelt, repeated or
	 * encoded parameter would otherwise give a document with another
	 * nonce than the client meant. */
	if (q->query[0] != '\0') {
		const char *v = q->query + strlen("nonce=");
		size_t n = strlen(v);

		if (strncmp(q->query, "nonce=", strlen("nonce=")) != 0 ||
		    strspn(v, "0123456789abcdefABCDEF") != n) {
			problem(e, r, 400, ENCLAVE_R_BAD_REQUEST, "the query "
			    "is nonce=HEX and nothing else");
			return;
		}
		if (n > 2 * GB_NSM_USER_FIELD_MAX || gb_hex_decode_alloc(v, n,
		    GB_NSM_USER_FIELD_MAX, &nonce, &nonce_len) != 0) {
			problem(e, r, 400, ENCLAVE_R_BAD_REQUEST, "nonce must "
			    "be hex, at most 512 bytes");
			return;
		}
	}
	if ((doc = attest(e, nonce ? nonce : (const uint8_t *)"", nonce_len,
	    NULL, 0, r)) != NULL)
		reply_json(r, 200, json_pack("{s:s, s:s}", "document", doc,
		    "public_key", e->pub_hex));
	free(doc);
	free(nonce);
}

static void
sign(struct enclave *e, const struct gb_http_req *q, struct gb_http_resp *r)
{
	uint8_t sig[GB_ED25519_SIG_BYTES], md[32], *payload = NULL;
	uint8_t *nonce = NULL;
	size_t plen = 0, nlen = 0;
	const char *p64, *nhex, *key;
	char *s64 = NULL, *doc = NULL;
	struct sha256_ctx h;
	json_t *j, *v;

	j = gb_json_loadb(q->body, q->body_len, 0, NULL);
	p64 = json_string_value(json_object_get(j, "payload"));
	nhex = json_string_value(json_object_get(j, "nonce"));
	if (!json_is_object(j) || p64 == NULL ||
	    gb_base64_decode_alloc(p64, strlen(p64), q->body_len, &payload,
	    &plen) != 0) {
		problem(e, r, 400, ENCLAVE_R_BAD_REQUEST, "send {\"payload\": "
		    "BASE64, \"nonce\": HEX (optional)}");
		goto out;
	}
	json_object_foreach(j, key, v) {
		/* A misspelt field must not quietly switch the binding off. */
		if (strcmp(key, "payload") != 0 && strcmp(key, "nonce") != 0) {
			char why[128];

			snprintf(why, sizeof why, "unknown field \"%.64s\": send "
			    "payload and nonce only", key);
			problem(e, r, 400, ENCLAVE_R_UNKNOWN_FIELD, why);
			goto out;
		}
	}
	if ((json_object_get(j, "nonce") != NULL && nhex == NULL) ||
	    (nhex != NULL && gb_hex_decode_alloc(nhex, strlen(nhex),
	    GB_NSM_USER_FIELD_MAX, &nonce, &nlen) != 0)) {
		problem(e, r, 400, ENCLAVE_R_BAD_REQUEST, "nonce must be hex, "
		    "at most 512 bytes");
		goto out;
	}
	if (gb_result_sign(e->seed, payload, plen, sig) != 0 ||
	    gb_base64_encode_alloc(sig, sizeof sig, &s64) != 0) {
		problem(e, r, 500, ENCLAVE_R_INTERNAL, "cannot sign");
		goto out;
	}
	if (nhex != NULL) {
		/* A fresh document bound to this result. */
		sha256_init(&h);
		sha256_update(&h, plen, payload);
		sha256_digest(&h, sizeof md, md);
		if ((doc = attest(e, nonce ? nonce : (const uint8_t *)"", nlen,
		    md, sizeof md, r)) == NULL)
			goto out;
	}
	{
		json_t *out = json_pack("{s:s, s:s}", "signature", s64,
		    "public_key", e->pub_hex);

		if (out != NULL && doc != NULL)
			json_object_set_new(out, "document", json_string(doc));
		atomic_fetch_add(&e->count.signs, 1);
		reply_json(r, 200, out);
	}
out:
	json_decref(j);
	free(payload);
	free(nonce);
	free(s64);
	free(doc);
}

/*
 * GET /metrics: the enclave's own counters, then the HTTP server's, each
 * family one group with its HELP and TYPE (the text format's rule; the
 * parent copies these lines into its own /metrics). Every refusal reason
 * is listed, zeros included, so that a scraper sees each series from the
 * start. Returns a new string (free() it), or NULL.
 */
static char *
metrics_text(struct enclave *e, const struct gb_httpd *h)
{
	char *out = NULL, *http = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	if (f == NULL)
		return NULL;
	fprintf(f, "# HELP glassbox_enclave_signs_total Results signed with "
	    "the enclave's key.\n# TYPE glassbox_enclave_signs_total counter\n"
	    "glassbox_enclave_signs_total %llu\n", (unsigned long long)
	    atomic_load(&e->count.signs));
	fprintf(f, "# HELP glassbox_enclave_attestations_total Attestation "
	    "documents the NSM issued (GET /attestation, POST /sign with a "
	    "nonce).\n# TYPE glassbox_enclave_attestations_total counter\n"
	    "glassbox_enclave_attestations_total %llu\n", (unsigned long long)
	    atomic_load(&e->count.attestations));
	fprintf(f, "# HELP glassbox_enclave_refusals_total Requests answered "
	    "with a problem, by reason code.\n# TYPE "
	    "glassbox_enclave_refusals_total counter\n");
	for (int i = 0; i < ENCLAVE_R__COUNT; i++)
		fprintf(f, "glassbox_enclave_refusals_total{reason=\"%s\"} "
		    "%llu\n", refusal_name[i], (unsigned long long)
		    atomic_load(&e->count.refusals[i]));
	if ((http = gb_httpd_metrics_text(h, "glassbox_enclave")) != NULL)
		fputs(http, f);
	if (fclose(f) != 0 || http == NULL) {
		free(out);
		out = NULL;
	}
	free(http);
	return out;
}

void
enclave_handle(void *arg, const struct gb_http_req *q, struct gb_http_resp *r)
{
	struct enclave *e = arg;
	/* HEAD is answered as GET is; the server sends no body. */
	bool get = strcmp(q->method, "GET") == 0 ||
	    strcmp(q->method, "HEAD") == 0;
	bool post = strcmp(q->method, "POST") == 0;

	if (strcmp(q->path, "/health") == 0) {
		if (get)
			health(e, r);
		else
			problem(e, r, 405, ENCLAVE_R_METHOD_NOT_ALLOWED,
			    "use GET");
	} else if (strcmp(q->path, "/attestation") == 0) {
		if (get)
			attestation(e, q, r);
		else
			problem(e, r, 405, ENCLAVE_R_METHOD_NOT_ALLOWED,
			    "use GET");
	} else if (strcmp(q->path, "/sign") == 0) {
		if (post)
			sign(e, q, r);
		else
			problem(e, r, 405, ENCLAVE_R_METHOD_NOT_ALLOWED,
			    "use POST");
	} else if (strcmp(q->path, "/sealed") == 0) {
		/* The sealed blob (nothing secret in it), for the operator
		 * who keeps it beside the parent's copy. */
		if (!get)
			problem(e, r, 405, ENCLAVE_R_METHOD_NOT_ALLOWED,
			    "use GET");
		else if (e->sealed_blob == NULL)
			problem(e, r, 404, ENCLAVE_R_NOT_SEALED, "the key is "
			    "not sealed (no --kms-key)");
		else
			gb_http_reply(r, 200, "application/json",
			    e->sealed_blob);
	} else if (strcmp(q->path, "/metrics") == 0) {
		char *m = get ? metrics_text(e, q->httpd) : NULL;

		if (!get)
			problem(e, r, 405, ENCLAVE_R_METHOD_NOT_ALLOWED,
			    "use GET");
		else if (m == NULL)
			problem(e, r, 500, ENCLAVE_R_NO_MEMORY, "out of memory");
		else
			gb_http_reply(r, 200, "text/plain; version=0.0.4", m);
		free(m);
	} else {
		problem(e, r, 404, ENCLAVE_R_NOT_FOUND, "no such resource");
	}
}

