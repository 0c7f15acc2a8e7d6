/*
 * The log watch: a thread that audits the registry (gb_registry_audit:
 * every leaf, hash, GPG signature and rule, the derived tables, the tree and
 * every stored checkpoint, so that a history rewritten and re-signed at its
 * end is caught by the first audit already, by the older checkpoints it
 * contradicts) at start and then every --audit-interval seconds,
 * each time also proving that the log grew from the checkpoint the last
 * good audit saw. /readyz reports a failure, and /api/v1/verify refuses to
 * answer (503 log_damaged), so a database changed behind the log's back
 * takes the verifier out of service instead of feeding it verdicts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gb/timefmt.h"
#include "server.h"

static void
record(struct vs_audit *a, int rc, uint64_t checked,
    const struct gb_reg_error *e)
{
	pthread_mutex_lock(&a->mu);
	a->runs++;
	atomic_store(&a->damaged, rc != 0);
	a->checked = checked;
	a->at_ms = gb_time_now_ms();
	snprintf(a->code, sizeof a->code, "%s", rc == 0 ? "" : e->code);
	snprintf(a->message, sizeof a->message, "%s", rc == 0 ? "" :
	    e->message);
	pthread_mutex_unlock(&a->mu);
}

static void *
watch(void *arg)
{
	struct vs *vs = arg;
	struct vs_audit *a = &vs->audit;
	char *since = NULL;

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		struct gb_registry *r = NULL;
		struct gb_reg_error e = { "", "" };
		struct timespec until;
		uint64_t checked = 0;
		char *note = NULL;
		int rc;

		pthread_mutex_unlock(&a->mu);
		rc = gb_registry_open(vs->cfg.db, false, &r, &e);
		if (rc == 0)
			rc = gb_registry_audit(r, since, &checked, &e);
		/* The next audit must find this checkpoint in the log's past. */
		if (rc == 0 && gb_registry_checkpoint(r, &note, &e) == 0) {
			free(since);
			since = note;
		}
		gb_registry_close(r);
		record(a, rc, checked, &e);
		if (rc != 0) {
			json_t *j = json_pack("{s:s, s:s, s:s}", "event",
			    "audit_failed", "reason", e.code, "detail",
			    e.message);
			char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;

			fprintf(stderr, "%s\n", line ? line :
			    "{\"event\":\"audit_failed\"}");
			free(line);
			json_decref(j);
		}

		pthread_mutex_lock(&a->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += vs->cfg.audit_interval_s;
		while (!a->stop && pthread_cond_timedwait(&a->cv, &a->mu,
		    &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&a->mu);
	free(since);
	return NULL;
}

int
vs_audit_start(struct vs *vs)
{
	struct vs_audit *a = &vs->audit;

	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	if (vs->cfg.audit_interval_s == 0)
		return 0;
	if (pthread_create(&a->thread, NULL, watch, vs) != 0)
		return -1;
	a->running = true;
	return 0;
}

void
vs_audit_stop(struct vs *vs)
{
	struct vs_audit *a = &vs->audit;

	if (a->running) {
		pthread_mutex_lock(&a->mu);
		a->stop = true;
		pthread_cond_signal(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->thread, NULL);
	}
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
}

/* {state: off|pending|ok|failed, checked, at, reason?, detail?}; *failed
 * tells whether the last audit failed. */
json_t *
vs_audit_json(struct vs *vs, bool *failed)
{
	struct vs_audit *a = &vs->audit;
	char at[40] = "";
	json_t *j;

	pthread_mutex_lock(&a->mu);
	*failed = atomic_load(&a->damaged);
	if (a->runs > 0)
		gb_time_format_rfc3339(a->at_ms, at, sizeof at);
	j = json_pack("{s:s, s:I, s:s?, s:i}", "state", !a->running ? "off" :
	    a->runs == 0 ? "pending" : *failed ? "failed" : "ok", "checked",
	    (json_int_t)a->checked, "at", a->runs > 0 ? at : NULL,
	    "interval_seconds", (int)vs->cfg.audit_interval_s);
	if (*failed)
		json_object_update_new(j, json_pack("{s:s, s:s}", "reason",
		    a->code, "detail", a->message));
	pthread_mutex_unlock(&a->mu);
	return j;
}
