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
	/* log_policy: where the --policy file is served, only with one (so
	 * that the page asks for it only then). */
	rc = vs_reply_json(q, 200, json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, "
	    "s:s?, s:s, s:s, s:s*}", "verdict_key", "kty", "OKP", "crv",
	    "Ed25519", "x", x, "kid", q->vs->verdict_kid, "alg", "EdDSA",
	    "log_key", q->vs->log_vkey[0] ? q->vs->log_vkey : NULL,
	    "root_sha256", gb_verifier_root_sha256(q->vs->verifier), "version",
	    "glassbox-verifier " VS_VERSION, "log_policy", q->vs->policy ?
	    "/api/v1/log/policy" : NULL));
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

/* What GET /readyz answers, and the gauges of /metrics. */
enum ready_state {
	READY,
	READY_LOG_DAMAGED,      /* the last audit failed: 503 log_damaged */
	READY_PENDING,          /* no audit finished yet: 503 not_ready */
	READY_UNREADABLE,       /* the registry cannot be read: 503 not_ready */
	READY_MISMATCH,         /* checkpoint and tree disagree: 503 not_ready */
	READY_BELOW_QUORUM,     /* --policy refuses the checkpoint: 503
	                         * below_quorum */
};

/* Ready when the log watch (audit.c) finished its first audit and the last
 * one did not fail, the latest checkpoint is not behind the kept one, the
 * registry can be read, and its latest checkpoint is signed by the log key
 * over a tree of the log's size. *size is the log's size (when readable),
 * *audit a new reference to the audit's state. */
static enum ready_state
ready_state(struct vs_req *q, uint64_t *size, json_t **audit, char *why,
    size_t why_len)
{
	struct gb_registry *r = vs_registry(q);
	struct gb_note_opened o;
	struct gb_checkpoint c;
	struct gb_note_key k;
	struct gb_reg_error e;
	uint8_t root[GB_HASH_BYTES];
	char *note = NULL;
	bool ok, damaged, readable;
	enum ready_state st;

	*size = 0;
	readable = r != NULL && gb_registry_size(r, size) == 0 &&
	    gb_registry_checkpoint(r, &note, &e) == 0;
	if (readable)
		vs_watch_seen(q->vs, r, note, strlen(note));
	*audit = vs_audit_json(q->vs, &damaged);
	if (damaged) {
		st = READY_LOG_DAMAGED;
		goto out;
	}
	if (atomic_load(&q->vs->audit.pending)) {
		st = READY_PENDING;
		goto out;
	}
	if (!readable) {
		st = READY_UNREADABLE;
		goto out;
	}
	ok = (q->vs->log_checkpoints != NULL &&
	    strcmp(gb_registry_vkey(r), q->vs->log_vkey) == 0 ?
	    gb_checkpoint_verifier_open(q->vs->log_checkpoints, note,
	    strlen(note), &c) == 0 :
	    gb_note_vkey_parse(gb_registry_vkey(r), &k) == 0 &&
	    gb_note_open(note, strlen(note), &k, 1, &o) == 0 &&
	    gb_checkpoint_parse(note, o.text_len, &c) == 0) &&
	    c.size == *size;
	if (ok) {
		struct gb_merkle_store s = gb_registry_store(r);

		ok = gb_merkle_root(&s, *size, root) == 0 &&
		    memcmp(root, c.root, sizeof root) == 0;
	}
	st = ok ? READY : READY_MISMATCH;
	if (st == READY && vs_policy_refuses(q->vs, note, strlen(note), why,
	    why_len))
		st = READY_BELOW_QUORUM;
out:
	free(note);
	return st;
}

int
vs_api_ready(struct vs_req *q)
{
	uint64_t size;
	json_t *audit;
	char after[24], why[400];
	int rc;

	if (!vs_method(q, "GET"))
		return vs_problem(q, 405, "method_not_allowed", "use GET");
	if (vs_query_only(q, "") != 0)
		return q->status;
	switch (ready_state(q, &size, &audit, why, sizeof why)) {
	case READY:
		return vs_reply_json(q, 200, json_pack("{s:s, s:I, s:o, s:o*}",
		    "status", "ready", "log_size", (json_int_t)size, "audit",
		    audit, "mirror", vs_mirror_json(q->vs)));
	case READY_LOG_DAMAGED: {
		const char *d = json_string_value(json_object_get(audit,
		    "detail"));

		rc = vs_problem(q, 503, "log_damaged", "the log audit "
		    "failed: %s", d ? d : "");
		break;
	}
	case READY_PENDING:
		snprintf(after, sizeof after, "%d", VS_AUDIT_RETRY_AFTER_S);
		rc = vs_problem_h(q, 503, "Retry-After", after, "not_ready",
		    "the first audit of the log has not finished (audit state "
		    "pending)");
		break;
	case READY_UNREADABLE:
		rc = vs_problem(q, 503, "not_ready", "the registry cannot be "
		    "read");
		break;
	case READY_BELOW_QUORUM:
		rc = vs_problem(q, 503, "below_quorum", "%s", why);
		break;
	default:
		rc = vs_problem(q, 503, "not_ready", "the log's checkpoint "
		    "does not match its tree");
		break;
	}
	json_decref(audit);
	return rc;
}

int
vs_api_metrics(struct vs_req *q)
{
	static const char gauges[] = "# HELP glassbox_ready 1 when GET "
	    "/readyz answers 200.\n# TYPE glassbox_ready gauge\n"
	    "glassbox_ready %d\n# HELP glassbox_log_damaged 1 when the log "
	    "watch's last audit failed (GET /readyz answers log_damaged).\n"
	    "# TYPE glassbox_log_damaged gauge\nglassbox_log_damaged %d\n";
	enum ready_state st;
	size_t n;
	uint64_t size;
	json_t *audit;
	char *s, *t, why[400];
	int rc;

	if (!vs_method(q, "GET"))
		return vs_problem(q, 405, "method_not_allowed", "use GET");
	if (vs_query_only(q, "") != 0)
		return q->status;
	if ((s = vs_metrics_text(q->vs)) == NULL)
		return vs_problem(q, 500, "no_memory", "out of memory");
	/* The two states an operator is woken for (CloudWatch alarms in
	 * infra/terraform/alarms.tf), computed as GET /readyz computes them. */
	st = ready_state(q, &size, &audit, why, sizeof why);
	json_decref(audit);
	n = strlen(s) + sizeof gauges + 2;
	if ((t = malloc(n)) == NULL) {
		free(s);
		return vs_problem(q, 500, "no_memory", "out of memory");
	}
	snprintf(t, n, "%s", s);
	snprintf(t + strlen(s), n - strlen(s), gauges, st == READY,
	    st == READY_LOG_DAMAGED);
	free(s);
	rc = vs_reply_text(q, 200, "text/plain; version=0.0.4", t, strlen(t));
	free(t);
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
