/*
 * The log watch: a thread that audits the registry (gb_registry_audit:
 * every leaf, hash, GPG signature and rule, the derived tables, the tree and
 * every stored checkpoint, so that a history rewritten and re-signed at its
 * end is caught by the first audit already, by the older checkpoints it
 * contradicts) at start and then every --audit-interval seconds.
 * /readyz reports a failure, and /api/v1/verify refuses to answer (503
 * log_damaged), so a database changed behind the log's back takes the
 * verifier out of service instead of feeding it verdicts. Until the first
 * audit finished, verify answers 503 not_ready.
 *
 * A database restored from a backup is a whole older log, every stored
 * checkpoint included: it passes an audit. Only a checkpoint kept outside
 * it tells: the watch keeps the largest verified checkpoint the verifier
 * ever saw (from audits, from each request's read of the latest checkpoint,
 * /readyz's too, so also the ones verdicts were signed against) in
 * DB.watch-checkpoint, across restarts. The latest checkpoint must be it
 * or a tree that grew from it (a consistency proof), at every audit (as
 * its --since) and whenever a request reads a new one; anything else marks
 * the log damaged at once. A file rather than a table of the nonce store:
 * the note is signed by the log key, so it needs no protection but against
 * loss (gb_write_file_atomic()), an operator can read it and hand it to
 * `glassbox registry audit --since`, and the nonce store may be shared by
 * verifiers of other registries.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gb/fileio.h"
#include "gb/merkle.h"
#include "gb/timefmt.h"
#include "server.h"

static void
log_failure(const struct gb_reg_error *e)
{
	json_t *j = json_pack("{s:s, s:s, s:s}", "event", "audit_failed",
	    "reason", e->code, "detail", e->message);
	char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;

	fprintf(stderr, "%s\n", line ? line : "{\"event\":\"audit_failed\"}");
	free(line);
	json_decref(j);
}

static int
fail(struct gb_reg_error *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct gb_reg_error *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;         /* a literal */
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	return -1;
}

/* Makes note (opened into cp) the kept checkpoint and writes it to the
 * file. keep_mu is held. A failed write is logged: the check goes on from
 * memory, but a restart would forget this checkpoint. */
static void
keep_note(struct vs_audit *a, const char *note, size_t len,
    const struct gb_checkpoint *cp)
{
	char *copy = malloc(len + 1);

	if (copy == NULL)
		return;
	memcpy(copy, note, len);
	copy[len] = '\0';
	free(a->kept);
	a->kept = copy;
	a->kept_len = len;
	a->kept_cp = *cp;
	if (gb_write_file_atomic(a->kept_path, note, len, 0644, 0) != 0) {
		json_t *j = json_pack("{s:s, s:s, s:s}", "event",
		    "watch_checkpoint_unsaved", "path", a->kept_path, "detail",
		    strerror(errno));
		char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;

		fprintf(stderr, "%s\n", line ? line :
		    "{\"event\":\"watch_checkpoint_unsaved\"}");
		free(line);
		json_decref(j);
	}
}

/*
 * Reads the latest checkpoint from r (a read of its own, after every
 * earlier kept check: an honest log never shows it smaller than the kept
 * one) and compares it with the kept one. Returns 0 when it is the kept
 * checkpoint or grew from it (then it is kept), 1 when nothing can be said
 * (unreadable, or not signed by the log key: the audit and /readyz report
 * those; or nothing kept yet), -1 with e naming the damage: smaller (a
 * rollback), or not consistent (a rollback and new entries, or a rewrite).
 * With nothing kept, the first checkpoint is kept only when adopt says so:
 * after an audit passed (a log rewritten and re-signed must not become the
 * reference).
 */
static int
check_kept(struct vs *vs, struct gb_registry *r, bool adopt,
    struct gb_reg_error *e)
{
	struct vs_audit *a = &vs->audit;
	uint8_t proof[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES];
	struct gb_span sp[GB_MERKLE_MAX_PROOF];
	struct gb_reg_error re;
	struct gb_checkpoint cp;
	char *note = NULL;
	size_t np, len;
	int rc = 1;

	pthread_mutex_lock(&a->keep_mu);
	if (a->kept_err[0] != '\0') {
		rc = fail(e, "bad_kept_checkpoint", "%s", a->kept_err);
		goto out;
	}
	if (gb_registry_checkpoint(r, &note, &re) != 0 ||
	    vs->log_checkpoints == NULL ||
	    gb_checkpoint_verifier_open(vs->log_checkpoints, note,
	    (len = strlen(note)), &cp) != 0)
		goto out;
	if (a->kept == NULL) {
		if (adopt) {
			keep_note(a, note, len, &cp);
			rc = 0;
		}
		goto out;
	}
	if (cp.size < a->kept_cp.size) {
		rc = fail(e, "rolled_back", "the log was rolled back: its latest "
		    "checkpoint has %" PRIu64 " entries, fewer than the %" PRIu64
		    " of the checkpoint this verifier verified before (kept in "
		    "%s)", cp.size, a->kept_cp.size, a->kept_path);
		goto out;
	}
	if (cp.size == a->kept_cp.size) {
		if (memcmp(cp.root, a->kept_cp.root, GB_HASH_BYTES) == 0)
			rc = 0;
		else
			rc = fail(e, "rolled_back", "the log was rolled back or "
			    "rewritten: its latest checkpoint (size %" PRIu64
			    ") has another root than the one this verifier "
			    "verified before at that size (kept in %s)", cp.size,
			    a->kept_path);
		goto out;
	}
	/* Larger: the tree must extend the kept one. From the empty tree
	 * every tree does. */
	if (a->kept_cp.size > 0) {
		if (gb_registry_prove_consistency(r, a->kept_cp.size, cp.size,
		    proof, &np, &re) != 0)
			goto out;
		for (size_t i = 0; i < np; i++)
			sp[i] = (struct gb_span){ proof[i], GB_HASH_BYTES };
		if (gb_merkle_verify_consistency(a->kept_cp.size, cp.size,
		    (struct gb_span){ a->kept_cp.root, GB_HASH_BYTES },
		    (struct gb_span){ cp.root, GB_HASH_BYTES }, sp, np) != 0) {
			rc = fail(e, "rolled_back", "the log was rolled back or "
			    "rewritten: its latest checkpoint (size %" PRIu64
			    ") did not grow from the checkpoint of size %" PRIu64
			    " this verifier verified before (kept in %s)",
			    cp.size, a->kept_cp.size, a->kept_path);
			goto out;
		}
	}
	keep_note(a, note, len, &cp);
	rc = 0;
out:
	pthread_mutex_unlock(&a->keep_mu);
	free(note);
	return rc;
}

/* The log is damaged until an audit passes with the log grown from the
 * kept checkpoint again. Logged once per reason. */
static void
flag(struct vs_audit *a, const struct gb_reg_error *e)
{
	bool again;

	pthread_mutex_lock(&a->mu);
	again = a->rolled_back && strcmp(a->message, e->message) == 0;
	a->rolled_back = true;
	atomic_store(&a->damaged, true);
	a->at_ms = gb_time_now_ms();
	snprintf(a->code, sizeof a->code, "%s", e->code);
	snprintf(a->message, sizeof a->message, "%s", e->message);
	pthread_mutex_unlock(&a->mu);
	if (!again)
		log_failure(e);
}

void
vs_watch_seen(struct vs *vs, struct gb_registry *r, const char *note,
    size_t len)
{
	struct vs_audit *a = &vs->audit;
	struct gb_reg_error e;
	bool same;

	if (!a->keep || r == NULL)
		return;
	pthread_mutex_lock(&a->keep_mu);
	same = a->kept != NULL && note != NULL && a->kept_len == len &&
	    memcmp(a->kept, note, len) == 0;
	pthread_mutex_unlock(&a->keep_mu);
	if (!same && check_kept(vs, r, false, &e) < 0)
		flag(a, &e);
}

/* Loads DB.watch-checkpoint, if there is one. A file that cannot be read
 * or is not a checkpoint of this log fails closed: the log stays damaged
 * until the operator looks (and removes the file if the log was replaced
 * on purpose). */
static int
load_kept(struct vs *vs)
{
	struct vs_audit *a = &vs->audit;
	struct gb_checkpoint cp;
	size_t n = strlen(vs->cfg.db) + sizeof ".watch-checkpoint", len;
	char *buf = NULL;
	FILE *f;

	if ((a->kept_path = malloc(n)) == NULL)
		return -1;
	snprintf(a->kept_path, n, "%s.watch-checkpoint", vs->cfg.db);
	if ((f = fopen(a->kept_path, "rb")) == NULL) {
		if (errno != ENOENT)
			snprintf(a->kept_err, sizeof a->kept_err, "the kept "
			    "checkpoint %s cannot be read: %s", a->kept_path,
			    strerror(errno));
		return 0;
	}
	/* A note is at most GB_NOTE_MAX_BYTES; one byte more tells a longer
	 * file. */
	if ((buf = malloc(GB_NOTE_MAX_BYTES + 2)) == NULL) {
		fclose(f);
		return -1;
	}
	len = fread(buf, 1, GB_NOTE_MAX_BYTES + 1, f);
	buf[len] = '\0';
	if (ferror(f) || len > GB_NOTE_MAX_BYTES || strlen(buf) != len ||
	    vs->log_checkpoints == NULL ||
	    gb_checkpoint_verifier_open(vs->log_checkpoints, buf, len, &cp) !=
	    0) {
		snprintf(a->kept_err, sizeof a->kept_err, "the kept checkpoint "
		    "%s is not a checkpoint signed by the log key (remove it "
		    "only if the log was replaced on purpose)", a->kept_path);
	} else {
		a->kept = buf;
		a->kept_len = len;
		a->kept_cp = cp;
		buf = NULL;
	}
	fclose(f);
	free(buf);
	return 0;
}

static void
record(struct vs_audit *a, int rc, uint64_t checked,
    const struct gb_reg_error *e)
{
	pthread_mutex_lock(&a->mu);
	a->runs++;
	/* A round checks the kept checkpoint before its audit: a pass clears
	 * what a request flagged (a request reading the log rolled back
	 * still flags it again, before it answers). */
	a->rolled_back = false;
	atomic_store(&a->damaged, rc != 0);
	a->checked = checked;
	a->at_ms = gb_time_now_ms();
	snprintf(a->code, sizeof a->code, "%s", rc == 0 ? "" : e->code);
	snprintf(a->message, sizeof a->message, "%s", rc == 0 ? "" :
	    e->message);
	atomic_store(&a->pending, false);
	pthread_mutex_unlock(&a->mu);
}

static void *
watch(void *arg)
{
	struct vs *vs = arg;
	struct vs_audit *a = &vs->audit;

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		struct gb_registry *r = NULL;
		struct gb_reg_error e = { "", "" };
		struct timespec until;
		uint64_t checked = 0;
		char *since = NULL;
		bool logged = false;
		int rc;

		pthread_mutex_unlock(&a->mu);
		rc = gb_registry_open(vs->cfg.db, false, &r, &e);
		/* First the latest checkpoint against the kept one (it becomes
		 * the kept one if the log grew), then the audit proves the
		 * whole log grew from the kept one. */
		if (rc == 0 && (rc = check_kept(vs, r, false, &e)) < 0) {
			flag(a, &e);
			logged = true;
		} else if (rc > 0) {
			rc = 0;
		}
		if (rc == 0) {
			pthread_mutex_lock(&a->keep_mu);
			if (a->kept != NULL && (since = strdup(a->kept)) == NULL)
				rc = fail(&e, "no_memory", "out of memory");
			pthread_mutex_unlock(&a->keep_mu);
		}
		if (rc == 0)
			rc = gb_registry_audit(r, since, &checked, &e);
		/* The first checkpoint kept is one of an audited log. */
		if (rc == 0 && since == NULL &&
		    (rc = check_kept(vs, r, true, &e)) < 0) {
			flag(a, &e);
			logged = true;
		} else if (rc > 0) {
			rc = 0;
		}
		if (rc != 0 && !logged)
			log_failure(&e);
		free(since);
		gb_registry_close(r);
		record(a, rc, checked, &e);

		pthread_mutex_lock(&a->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += vs->cfg.audit_interval_s;
		while (!a->stop && pthread_cond_timedwait(&a->cv, &a->mu,
		    &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

int
vs_audit_start(struct vs *vs)
{
	struct vs_audit *a = &vs->audit;

	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	pthread_mutex_init(&a->keep_mu, NULL);
	if (vs->cfg.audit_interval_s == 0)
		return 0;
	if (load_kept(vs) != 0)
		return -1;
	/* Both before the thread and the server start: read without a
	 * lock afterwards. */
	a->keep = true;
	atomic_store(&a->pending, true);
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
	pthread_mutex_destroy(&a->keep_mu);
	free(a->kept);
	free(a->kept_path);
	a->kept = a->kept_path = NULL;
	a->keep = false;
}

int
vs_audit_refuse(struct vs_req *q)
{
	struct vs_audit *a = &q->vs->audit;
	char after[24];

	if (atomic_load(&a->damaged))
		return vs_problem(q, 503, "log_damaged", "the log failed its "
		    "audit; no verdict can rest on it (see /readyz)");
	if (q->vs->mirror.inited && !atomic_load(&q->vs->mirror.has_tree)) {
		snprintf(after, sizeof after, "%u",
		    q->vs->cfg.mirror_interval_s);
		return vs_problem_h(q, 503, "Retry-After", after, "not_ready",
		    "this mirror holds no verified copy of the log yet (see "
		    "/readyz)");
	}
	if (!atomic_load(&a->pending))
		return 0;
	snprintf(after, sizeof after, "%d", VS_AUDIT_RETRY_AFTER_S);
	return vs_problem_h(q, 503, "Retry-After", after, "not_ready", "the "
	    "first audit of the log has not finished (audit state pending); "
	    "no verdict rests on an unaudited log");
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
	    *failed ? "failed" : a->runs == 0 ? "pending" : "ok", "checked",
	    (json_int_t)a->checked, "at", a->runs > 0 ? at : NULL,
	    "interval_seconds", (int)vs->cfg.audit_interval_s);
	if (*failed)
		json_object_update_new(j, json_pack("{s:s, s:s}", "reason",
		    a->code, "detail", a->message));
	pthread_mutex_unlock(&a->mu);
	return j;
}
