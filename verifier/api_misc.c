/*
 * Service endpoints: /.well-known/glassbox, /healthz, /readyz, /metrics,
 * /api/v1/verdicts, /openapi.json.
 */
#include <stdlib.h>
#include <string.h>

#include "gb/note.h"
#include "server.h"

int
vs_api_wellknown(struct vs_req *q)
{
	char *x;
	int rc;

	if (!vs_method(q, "GET"))
		return vs_problem(q, 405, "method_not_allowed", "use GET");
	if (vs_query_only(q, "") != 0)
		return q->status;
	if ((x = vs_b64url(q->vs->verdict_pub, sizeof q->vs->verdict_pub)) ==
	    NULL)
		return vs_problem(q, 500, "no_memory", "out of memory");
	rc = vs_reply_json(q, 200, json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, "
	    "s:s?, s:s, s:s}", "verdict_key", "kty", "OKP", "crv", "Ed25519",
	    "x", x, "kid", q->vs->verdict_kid, "alg", "EdDSA", "log_key",
	    q->vs->log_vkey[0] ? q->vs->log_vkey : NULL, "root_sha256",
	    gb_verifier_root_sha256(q->vs->verifier), "version",
	    "glassbox-verifier " VS_VERSION));
	free(x);
	return rc;
}

int
vs_api_health(struct vs_req *q)
{
	if (!vs_method(q, "GET"))
		return vs_problem(q, 405, "method_not_allowed", "use GET");
	if (vs_query_only(q, "") != 0)
		return q->status;
	return vs_reply_json(q, 200, json_pack("{s:s}", "status", "ok"));
}

/* Ready when the log watch (audit.c) finished its first audit and the last
 * one did not fail, the latest checkpoint is not behind the kept one, the
 * registry can be read, and its latest checkpoint is signed by the log key
 * over a tree of the log's size. */
int
vs_api_ready(struct vs_req *q)
{
	struct gb_registry *r = vs_registry(q);
	struct gb_note_opened o;
	struct gb_checkpoint c;
	struct gb_note_key k;
	struct gb_reg_error e;
	uint8_t root[GB_HASH_BYTES];
	uint64_t size;
	char *note = NULL, after[24];
	json_t *audit;
	bool ok, damaged, readable;

	if (!vs_method(q, "GET"))
		return vs_problem(q, 405, "method_not_allowed", "use GET");
	if (vs_query_only(q, "") != 0)
		return q->status;
	readable = r != NULL && gb_registry_size(r, &size) == 0 &&
	    gb_registry_checkpoint(r, &note, &e) == 0;
	if (readable)
		vs_watch_seen(q->vs, r, note, strlen(note));
	audit = vs_audit_json(q->vs, &damaged);
	if (damaged) {
		const char *d = json_string_value(json_object_get(audit,
		    "detail"));
		int rc = vs_problem(q, 503, "log_damaged", "the log audit "
		    "failed: %s", d ? d : "");

		json_decref(audit);
		free(note);
		return rc;
	}
	if (atomic_load(&q->vs->audit.pending)) {
		json_decref(audit);
		free(note);
		snprintf(after, sizeof after, "%d", VS_AUDIT_RETRY_AFTER_S);
		return vs_problem_h(q, 503, "Retry-After", after, "not_ready",
		    "the first audit of the log has not finished (audit state "
		    "pending)");
	}
	if (!readable) {
		json_decref(audit);
		free(note);
		return vs_problem(q, 503, "not_ready", "the registry cannot be "
		    "read");
	}
	ok = (q->vs->log_checkpoints != NULL &&
	    strcmp(gb_registry_vkey(r), q->vs->log_vkey) == 0 ?
	    gb_checkpoint_verifier_open(q->vs->log_checkpoints, note,
	    strlen(note), &c) == 0 :
	    gb_note_vkey_parse(gb_registry_vkey(r), &k) == 0 &&
	    gb_note_open(note, strlen(note), &k, 1, &o) == 0 &&
	    gb_checkpoint_parse(note, o.text_len, &c) == 0) &&
	    c.size == size;
	if (ok) {
		struct gb_merkle_store s = gb_registry_store(r);

		ok = gb_merkle_root(&s, size, root) == 0 &&
		    memcmp(root, c.root, sizeof root) == 0;
	}
	free(note);
	if (!ok) {
		json_decref(audit);
		return vs_problem(q, 503, "not_ready", "the log's checkpoint "
		    "does not match its tree");
	}
	return vs_reply_json(q, 200, json_pack("{s:s, s:I, s:o, s:o*}",
	    "status", "ready", "log_size", (json_int_t)size, "audit", audit,
	    "mirror", vs_mirror_json(q->vs)));
}

int
vs_api_metrics(struct vs_req *q)
{
	char *s;
	int rc;

	if (!vs_method(q, "GET"))
		return vs_problem(q, 405, "method_not_allowed", "use GET");
	if (vs_query_only(q, "") != 0)
		return q->status;
	if ((s = vs_metrics_text(q->vs)) == NULL)
		return vs_problem(q, 500, "no_memory", "out of memory");
	rc = vs_reply_text(q, 200, "text/plain; version=0.0.4", s, strlen(s));
	free(s);
	return rc;
}

int
vs_api_openapi(struct vs_req *q)
{
	if (!vs_method(q, "GET"))
		return vs_problem(q, 405, "method_not_allowed", "use GET");
	if (vs_query_only(q, "") != 0)
		return q->status;
	return vs_reply_text(q, 200, "application/json", vs_openapi_json,
	    strlen(vs_openapi_json));
}

int
vs_api_verdicts(struct vs_req *q)
{
	if (!vs_method(q, "GET"))
		return vs_problem(q, 405, "method_not_allowed", "use GET");
	if (vs_query_only(q, "") != 0)
		return q->status;
	return vs_reply_json(q, 200, vs_metrics_verdicts(q->vs));
}

/* GET / and the page's files (web/, embedded); anything else is 404. */
int
vs_api_asset(struct vs_req *q)
{
	const char *uri = vs_path(q);

	if (strcmp(uri, "/") == 0)
		uri = "/index.html";
	for (const struct vs_asset *a = vs_assets; a->path != NULL; a++) {
		if (strcmp(a->path, uri) != 0)
			continue;
		if (!vs_method(q, "GET"))
			return vs_problem(q, 405, "method_not_allowed",
			    "use GET");
		return vs_reply_text(q, 200, a->type, (const char *)a->data,
		    a->len);
	}
	return vs_problem(q, 404, "not_found", "no such resource");
}
