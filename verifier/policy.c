/*
 * --policy FILE: the verifier trusts a checkpoint only when it satisfies a
 * C2SP tlog-policy (gb/tlog_policy.h): signed by a log the policy lists
 * (if it lists any) and cosigned by its quorum of witnesses. A verdict
 * naming a release carries a proof against the latest checkpoint; below
 * quorum, no such verdict is given (503 below_quorum, as not_ready does
 * for a checkpoint that does not verify), and /readyz answers 503
 * below_quorum. The file is served as it was read at GET
 * /api/v1/log/policy, for the page to pin (docs/verifier.md).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gb/codec.h"
#include "gb/note.h"
#include "server.h"

int
vs_policy_init(struct vs *vs)
{
	struct gb_tlog_policy_error e;
	struct gb_note_key k;
	uint8_t *buf = NULL;
	size_t len;
	bool listed;
	int rc;

	if (vs->cfg.policy == NULL)
		return 0;
	if ((rc = gb_read_file(vs->cfg.policy, GB_TLOG_POLICY_MAX_BYTES, &buf,
	    &len)) != 0) {
		fprintf(stderr, "glassbox-verifier: --policy %s: %s\n",
		    vs->cfg.policy, rc == GB_ETOOBIG ? "larger than a policy "
		    "can be" : gb_strerror(rc));
		return -1;
	}
	if ((rc = gb_tlog_policy_parse((const char *)buf, len, &vs->policy,
	    &e)) != 0) {
		if (rc == GB_EINVAL)
			fprintf(stderr, "glassbox-verifier: --policy %s:%u: "
			    "not a tlog-policy: %s\n", vs->cfg.policy, e.line,
			    e.message);
		free(buf);
		return -1;
	}
	/* A policy that lists logs but not this one would refuse every
	 * checkpoint: a configuration error, said at start. */
	listed = gb_tlog_policy_nlogs(vs->policy) == 0;
	if (gb_note_vkey_parse(vs->log_vkey, &k) == 0)
		for (size_t i = 0; i < gb_tlog_policy_nlogs(vs->policy); i++)
			listed |= memcmp(gb_tlog_policy_log(vs->policy, i,
			    NULL)->pub, k.pub, sizeof k.pub) == 0;
	if (!listed) {
		fprintf(stderr, "glassbox-verifier: --policy %s: the "
		    "registry's log key %s is not one of its logs\n",
		    vs->cfg.policy, vs->log_vkey);
		gb_tlog_policy_free(vs->policy);
		vs->policy = NULL;
		free(buf);
		return -1;
	}
	vs->policy_text = (char *)buf;
	vs->policy_len = len;
	pthread_mutex_init(&vs->policy_mu, NULL);
	return 0;
}

void
vs_policy_fini(struct vs *vs)
{
	if (vs->policy != NULL)
		pthread_mutex_destroy(&vs->policy_mu);
	gb_tlog_policy_free(vs->policy);
	free(vs->policy_text);
	free(vs->policy_ok);
	vs->policy = NULL;
	vs->policy_text = NULL;
	vs->policy_ok = NULL;
}

bool
vs_policy_refuses(struct vs *vs, const char *note, size_t len, char *why,
    size_t why_len)
{
	struct gb_tlog_policy_result r;
	size_t n;

	bool same;
	char *copy;

	if (vs->policy == NULL)
		return false;
	if (note == NULL) {
		snprintf(why, why_len, "the checkpoint cannot be read");
		return true;
	}
	pthread_mutex_lock(&vs->policy_mu);
	same = vs->policy_ok != NULL && vs->policy_ok_len == len &&
	    memcmp(vs->policy_ok, note, len) == 0;
	pthread_mutex_unlock(&vs->policy_mu);
	if (same)
		return false;
	if (gb_tlog_policy_check(vs->policy, note, len, (int64_t)time(NULL),
	    &r) != 0) {
		snprintf(why, why_len, "the checkpoint cannot be read");
		return true;
	}
	if (r.trusted) {
		/* Remembered when memory allows; otherwise checked again. */
		if ((copy = malloc(len)) != NULL) {
			memcpy(copy, note, len);
			pthread_mutex_lock(&vs->policy_mu);
			free(vs->policy_ok);
			vs->policy_ok = copy;
			vs->policy_ok_len = len;
			pthread_mutex_unlock(&vs->policy_mu);
		}
		return false;
	}
	n = (size_t)snprintf(why, why_len, "the checkpoint (size %" PRIu64
	    ") does not satisfy the policy's quorum %s (%s):",
	    r.checkpoint.size, gb_tlog_policy_quorum(vs->policy), r.reason);
	for (size_t i = 0; i < r.nwitnesses && n < why_len; i++)
		n += (size_t)snprintf(why + n, why_len - n, " %s %s",
		    r.witness[i].name, gb_tlog_cosig_state_name(
		    r.witness[i].state));
	return true;
}

int
vs_api_policy(struct vs_req *q)
{
	if (!vs_method(q, "GET"))
		return vs_problem(q, 405, "method_not_allowed", "use GET");
	if (vs_query_only(q, "") != 0)
		return q->status;
	if (strcmp(vs_path(q), "/api/v1/log/policy") != 0)
		return vs_problem(q, 404, "not_found", "no such resource");
	if (q->vs->policy == NULL)
		return vs_problem(q, 404, "no_policy", "this verifier was "
		    "started without --policy");
	return vs_reply_text(q, 200, "text/plain; charset=utf-8",
	    q->vs->policy_text, q->vs->policy_len);
}
