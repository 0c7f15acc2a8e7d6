/*
 * glassbox-verifier --mirror URL: a read-only copy of a remote log, kept
 * from its static tiles (C2SP tlog-tiles, docs/registry.md "Tiles") as any
 * web server, object store or CDN serves them. See docs/verifier.md,
 * "Mirror".
 *
 * Each round fetches URL/checkpoint and opens it with the pinned log key
 * (--log-key), then the policy hook (witness quorum, issue 18 item 3). A
 * checkpoint of a size the copy holds must have the copy's root there
 * (else: fork). A larger one is applied by gb_registry_mirror_append() in
 * one transaction: the entry bundles past the copy (their first one also
 * repeats entries the copy holds: they must be the copy's bytes), the new
 * tree computed from them and the copy, every hash tile of the new tree's
 * part compared with that computed tree, and the root compared with the
 * signed one. Anything else is refused and nothing is applied: a fork
 * (the signed tree does not extend the copy) is kept as evidence (the
 * note, the copy's latest note, the files fetched) in --mirror-evidence
 * and flagged until the process restarts; tiles that disagree with their
 * own entries ("bad_tiles") and entries that break the log's rules
 * ("bad_entry", checked by the registry before it applies them) are
 * refused with evidence too, but the next round tries again. The copy
 * keeps answering from its verified tree.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <nettle/sha2.h>

#include "gb/codec.h"
#include "gb/fileio.h"
#include "gb/merkle.h"
#include "gb/timefmt.h"
#include "gb/tlog_policy.h"
#include "server.h"

/* A file fetched this round, kept for evidence. */
struct fetched {
	char path[96];              /* below URL, as tlog-tiles names it */
	uint8_t *data;              /* From malloc() */
	size_t len;
};

struct round {
	struct vs *vs;
	CURL *curl;
	int64_t deadline_ms;        /* CLOCK_MONOTONIC */
	struct gb_registry *r;      /* the copy, writable (borrowed) */
	uint64_t old;               /* the copy's size before the round */
	uint64_t size;              /* the checkpoint's */
	/* The current entry bundle: its number, bytes and entries. */
	int64_t bundle_n;
	uint8_t *bundle;            /* From malloc() */
	size_t bundle_len;
	uint32_t off[GB_TILE_WIDTH], len[GB_TILE_WIDTH];
	/* Evidence: copies of what was fetched, up to
	 * VS_MIRROR_EVIDENCE_BYTES. */
	struct fetched *files;
	size_t nfiles, kept_bytes;
	bool truncated;             /* some were not kept */
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* The body being received, refused past max. */
struct sink {
	uint8_t *p;
	size_t len, cap, max;
	bool over;
};

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (n > s->max - s->len) {
		s->over = true;
		return 0;               /* curl stops: CURLE_WRITE_ERROR */
	}
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		uint8_t *p;

		while (cap < s->len + n)
			cap *= 2;
		if (cap > s->max)
			cap = s->max;
		if ((p = realloc(s->p, cap)) == NULL)
			return 0;
		s->p = p;
		s->cap = cap;
	}
	memcpy(s->p + s->len, ptr, n);
	s->len += n;
	return n;
}

/* CURLOPT_XFERINFOFUNCTION: a fetch in flight ends when the process
 * stops. */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct vs_mirror *m = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(&m->quit) ? 1 : 0;
}

static void
keep(struct round *rd, const char *path, const uint8_t *p, size_t len)
{
	struct fetched *f;

	if (rd->kept_bytes + len > VS_MIRROR_EVIDENCE_BYTES ||
	    (f = realloc(rd->files, (rd->nfiles + 1) * sizeof *f)) == NULL) {
		rd->truncated = true;
		return;
	}
	rd->files = f;
	f = &rd->files[rd->nfiles];
	if ((f->data = malloc(len ? len : 1)) == NULL) {
		rd->truncated = true;
		return;
	}
	memcpy(f->data, p, len);
	f->len = len;
	snprintf(f->path, sizeof f->path, "%s", path);
	rd->nfiles++;
	rd->kept_bytes += len;
}

/* GETs URL/path into *out (new buffer, *len bytes; at most max), within
 * VS_MIRROR_FETCH_MS and what is left of the round. */
static int
fetch(struct round *rd, const char *path, size_t max, uint8_t **out,
    size_t *len, struct gb_reg_error *e)
{
	struct sink s = { .max = max };
	char url[VS_MIRROR_URL_MAX + 128];
	int64_t left = rd->deadline_ms - mono_ms();
	long status = 0;
	CURLcode cc;

	*out = NULL;
	if (atomic_load(&rd->vs->mirror.quit))
		return fail(e, "stopping", "the verifier is stopping");
	if (left <= 0)
		return fail(e, "timeout", "the round took over %d ms",
		    VS_MIRROR_ROUND_MS);
	if (left > VS_MIRROR_FETCH_MS)
		left = VS_MIRROR_FETCH_MS;
	snprintf(url, sizeof url, "%s/%s", rd->vs->cfg.mirror_url, path);
	curl_easy_reset(rd->curl);
	curl_easy_setopt(rd->curl, CURLOPT_URL, url);
	curl_easy_setopt(rd->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(rd->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(rd->curl, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)VS_MIRROR_CONNECT_MS);
	curl_easy_setopt(rd->curl, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(rd->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(rd->curl, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(rd->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(rd->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(rd->curl, CURLOPT_XFERINFODATA, &rd->vs->mirror);
	curl_easy_setopt(rd->curl, CURLOPT_USERAGENT, "glassbox-verifier/"
	    VS_VERSION " mirror");
	/* Tiles are the same for every reader; a proxy or CDN in between
	 * may answer from its cache, the checkpoint included (a stale one
	 * is only "behind"). */
	cc = curl_easy_perform(rd->curl);
	curl_easy_getinfo(rd->curl, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK) {
		free(s.p);
		if (s.over)
			return fail(e, "too_large", "%s is over %zu bytes", path,
			    max);
		return fail(e, cc == CURLE_OPERATION_TIMEDOUT ? "timeout" :
		    "fetch_failed", "GET %s: %s", url, curl_easy_strerror(cc));
	}
	if (status != 200) {
		free(s.p);
		return fail(e, status == 404 ? "not_found" : "fetch_failed",
		    "GET %s: HTTP %ld", url, status);
	}
	keep(rd, path, s.p ? s.p : (const uint8_t *)"", s.len);
	*out = s.p ? s.p : malloc(1);
	*len = s.len;
	if (*out == NULL)
		return fail(e, "no_memory", "out of memory");
	return 0;
}

/*
 * Tile n of level (-1: the entry bundles) at width w, into *out. A server
 * may delete a partial tile once the full one exists (C2SP tlog-tiles):
 * then the full tile is fetched and *full set; its first w entries or
 * hashes are the partial tile's.
 */
static int
fetch_tile(struct round *rd, int level, uint64_t n, unsigned w, size_t max,
    uint8_t **out, size_t *len, bool *full, char *path, size_t cap,
    struct gb_reg_error *e)
{
	*full = w == GB_TILE_WIDTH;
	if (gb_registry_tile_path(level, n, w, path, cap) != 0)
		return fail(e, "bad_tiles", "no path for tile %d/%" PRIu64,
		    level, n);
	if (fetch(rd, path, max, out, len, e) == 0)
		return 0;
	if (*full || strcmp(e->code, "not_found") != 0)
		return -1;
	*full = true;
	if (gb_registry_tile_path(level, n, GB_TILE_WIDTH, path, cap) != 0)
		return fail(e, "bad_tiles", "no path for tile %d/%" PRIu64,
		    level, n);
	return fetch(rd, path, max, out, len, e);
}

/* Fetches and splits entry bundle n of the tree of rd->size entries. The
 * entries it repeats from the copy must be the copy's. */
static int
load_bundle(struct round *rd, uint64_t n, struct gb_reg_error *e)
{
	uint64_t first = n * GB_TILE_WIDTH;
	unsigned w = (unsigned)(rd->size - first < GB_TILE_WIDTH ?
	    rd->size - first : GB_TILE_WIDTH);
	struct gb_merkle_store s = gb_registry_store(rd->r);
	char path[96];
	size_t at = 0;
	bool full;

	free(rd->bundle);
	rd->bundle = NULL;
	rd->bundle_n = -1;
	if (fetch_tile(rd, -1, n, w, (size_t)GB_TILE_WIDTH * (2 +
	    GB_REG_LEAF_MAX), &rd->bundle, &rd->bundle_len, &full, path,
	    sizeof path, e) != 0)
		return -1;
	for (unsigned i = 0; i < w; i++) {
		uint8_t want[GB_HASH_BYTES], got[GB_HASH_BYTES];
		size_t len;

		if (rd->bundle_len - at < 2)
			return fail(e, "bad_tiles", "%s ends inside entry %u",
			    path, i);
		len = (size_t)rd->bundle[at] << 8 | rd->bundle[at + 1];
		if (rd->bundle_len - at - 2 < len)
			return fail(e, "bad_tiles", "%s ends inside entry %u",
			    path, i);
		rd->off[i] = (uint32_t)(at + 2);
		rd->len[i] = (uint32_t)len;
		at += 2 + len;
		if (first + i >= rd->old)
			continue;
		gb_merkle_leaf_hash(rd->bundle + rd->off[i], len, got);
		if (s.get(s.ctx, 0, first + i, want) != 0)
			return fail(e, "db_error", "cannot read leaf %" PRIu64
			    " of the copy", first + i);
		if (memcmp(want, got, sizeof got) != 0)
			return fail(e, "fork", "entry %" PRIu64 " of the remote "
			    "log is not the copy's verified entry", first + i);
	}
	/* A full bundle read for a partial one goes on past w entries. */
	if (at != rd->bundle_len && (!full || w == GB_TILE_WIDTH))
		return fail(e, "bad_tiles", "%s has bytes past its %u entries",
		    path, w);
	rd->bundle_n = (int64_t)n;
	return 0;
}

/* gb_reg_leaf_fn: the entries, bundle by bundle. */
static int
next_leaf(void *arg, uint64_t index, const uint8_t **leaf, size_t *len,
    struct gb_reg_error *e)
{
	struct round *rd = arg;
	uint64_t n = index / GB_TILE_WIDTH;

	if ((rd->bundle_n < 0 || (uint64_t)rd->bundle_n != n) &&
	    load_bundle(rd, n, e) != 0)
		return -1;
	*leaf = rd->bundle + rd->off[index % GB_TILE_WIDTH];
	*len = rd->len[index % GB_TILE_WIDTH];
	return 0;
}

/* gb_reg_check_fn: every hash tile that holds a node of the new part of
 * the tree must hold the node the entries give. A node that covers only
 * entries the copy held before is the verified history: another value
 * there is a fork; in the new part it is tiles that disagree with their
 * own entries. */
static int
check_tiles(void *arg, const struct gb_merkle_store *s, uint64_t size,
    struct gb_reg_error *e)
{
	struct round *rd = arg;

	/* The same size: the root decides (gb_registry_mirror_append()). */
	if (size == rd->old)
		return 0;
	for (int l = 0; l <= GB_TILE_LEVEL_MAX; l++) {
		unsigned h = 8u * (unsigned)l;
		uint64_t count = size >> h, from;

		if (count == 0)
			break;
		from = rd->old >> h;
		for (uint64_t t = from / GB_TILE_WIDTH;
		    t <= (count - 1) / GB_TILE_WIDTH; t++) {
			uint64_t first = t * GB_TILE_WIDTH;
			unsigned w = (unsigned)(count - first < GB_TILE_WIDTH ?
			    count - first : GB_TILE_WIDTH);
			uint8_t *tile = NULL, want[GB_HASH_BYTES];
			char path[96];
			size_t len;
			bool full;
			int rc = 0;

			if (fetch_tile(rd, l, t, w, (size_t)GB_TILE_WIDTH *
			    GB_HASH_BYTES, &tile, &len, &full, path, sizeof path,
			    e) != 0)
				return -1;
			if (len != (size_t)(full ? GB_TILE_WIDTH : w) *
			    GB_HASH_BYTES)
				rc = fail(e, "bad_tiles", "%s has %zu bytes, not "
				    "%u hashes", path, len, full ? GB_TILE_WIDTH :
				    w);
			for (unsigned i = 0; rc == 0 && i < w; i++) {
				uint64_t j = first + i;

				if (s->get(s->ctx, h, j, want) != 0)
					rc = fail(e, "db_error", "node (%u, %"
					    PRIu64 ") is missing", h, j);
				else if (memcmp(want, tile + (size_t)i *
				    GB_HASH_BYTES, GB_HASH_BYTES) == 0)
					continue;
				else if (((j + 1) << h) <= rd->old)
					rc = fail(e, "fork", "%s: hash %u is not "
					    "the copy's verified node", path, i);
				else
					rc = fail(e, "bad_tiles", "%s: hash %u "
					    "is not the node its entries give",
					    path, i);
			}
			free(tile);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

/* mkdir -p of path's parent directories below base (which exists). */
static int
make_parents(char *path, size_t base_len)
{
	for (char *p = path + base_len + 1; (p = strchr(p, '/')) != NULL;
	    p++) {
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return 0;
}

/* Saves the refused note, the copy's latest note, the files fetched and
 * why, in a directory of its own below --mirror-evidence (one per refused
 * note and reason: a note refused every round is saved once). Its path
 * goes to out. */
static void
save_evidence(struct round *rd, const char *note, size_t note_len,
    const struct gb_reg_error *e, char *out, size_t cap)
{
	const char *base = rd->vs->cfg.mirror_evidence;
	struct sha256_ctx h;
	uint8_t md[32];
	char hex[17], dir[PATH_MAX], path[PATH_MAX + 128], at[40];
	char *held = NULL, *text;
	struct gb_reg_error he;
	json_t *why;

	out[0] = '\0';
	sha256_init(&h);
	sha256_update(&h, note_len, (const uint8_t *)note);
	sha256_digest(&h, sizeof md, md);
	gb_hex_encode(hex, md, 8);
	if ((size_t)snprintf(dir, sizeof dir, "%s/%s-%s", base, e->code, hex) >=
	    sizeof dir || (mkdir(base, 0700) != 0 && errno != EEXIST))
		return;
	snprintf(out, cap, "%s", dir);
	if (mkdir(dir, 0700) != 0)
		return;             /* saved before (EEXIST), or cannot be */
	for (size_t i = 0; i < rd->nfiles; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, rd->files[i].path);
		if (make_parents(path, strlen(dir)) == 0)
			(void)gb_write_file_atomic(path, rd->files[i].data,
			    rd->files[i].len, 0600, 0);
	}
	snprintf(path, sizeof path, "%s/checkpoint", dir);
	(void)gb_write_file_atomic(path, note, note_len, 0600, 0);
	if (gb_registry_checkpoint(rd->r, &held, &he) == 0) {
		snprintf(path, sizeof path, "%s/held-checkpoint", dir);
		(void)gb_write_file_atomic(path, held, strlen(held), 0600, 0);
	}
	gb_time_format_rfc3339(gb_time_now_ms(), at, sizeof at);
	why = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:b}", "reason",
	    e->code, "detail", e->message, "url", rd->vs->cfg.mirror_url, "at",
	    at, "held_size", (json_int_t)rd->old, "remote_size",
	    (json_int_t)rd->size, "files_truncated", rd->truncated);
	if (why != NULL && (text = json_dumps(why, JSON_INDENT(2) |
	    JSON_SORT_KEYS)) != NULL) {
		snprintf(path, sizeof path, "%s/reason.json", dir);
		(void)gb_write_file_atomic(path, text, strlen(text), 0600, 0);
		free(text);
	}
	json_decref(why);
	free(held);
}

/*
 * The policy (--policy, a C2SP tlog-policy): a checkpoint already signed by
 * the log key is applied only if the witnesses' cosignatures it carries
 * meet the quorum (and none of theirs fails). Below it, nothing is applied
 * and the next round tries again (the primary publishes the cosigned note
 * as the witnesses answer). Without a policy the log key alone decides.
 */
static int
policy_check(struct vs *vs, const char *note, size_t len,
    struct gb_reg_error *e)
{
	struct gb_tlog_policy_result res;
	char who[256] = "";
	size_t o = 0;

	if (vs->policy == NULL)
		return 0;
	if (gb_tlog_policy_check(vs->policy, note, len, (int64_t)time(NULL),
	    &res) != 0)
		return fail(e, "bad_signature", "the checkpoint is not a "
		    "signed checkpoint note");
	if (res.trusted)
		return 0;
	for (size_t i = 0; i < res.nwitnesses && o < sizeof who - 1; i++)
		o += (size_t)snprintf(who + o, sizeof who - o, "%s%s %s",
		    i ? ", " : "", res.witness[i].name,
		    gb_tlog_cosig_state_name(res.witness[i].state));
	return fail(e, res.reason != NULL ? res.reason : "below_quorum",
	    "the policy does not trust the checkpoint of size %" PRIu64
	    " (%s): not applied", res.checkpoint.size, who);
}

/* One round; 0 (applied, or nothing new), or -1 with e set. *applied
 * tells whether the copy grew. */
static int
round_run(struct vs *vs, struct gb_registry *r, CURL *curl, bool *applied,
    char *evidence, size_t evcap, uint64_t *held, struct gb_reg_error *e)
{
	struct round rd = { .vs = vs, .curl = curl, .r = r, .bundle_n = -1 };
	struct gb_merkle_store s = gb_registry_store(r);
	struct gb_note_opened o;
	struct gb_checkpoint cp;
	struct gb_note_key k;
	uint8_t root[GB_HASH_BYTES];
	uint8_t *note = NULL;
	size_t note_len = 0;
	int rc = -1;

	*applied = false;
	evidence[0] = '\0';
	rd.deadline_ms = mono_ms() + VS_MIRROR_ROUND_MS;
	if (gb_registry_size(r, &rd.old) != 0) {
		fail(e, "db_error", "cannot read the copy's size");
		goto out;
	}
	*held = rd.old;
	if (fetch(&rd, "checkpoint", GB_NOTE_MAX_BYTES, &note, &note_len, e) !=
	    0)
		goto out;
	if (gb_note_vkey_parse(vs->cfg.log_key, &k) != 0 ||
	    gb_note_open((const char *)note, note_len, &k, 1, &o) != 0) {
		fail(e, "bad_signature", "the remote checkpoint is not signed "
		    "by the log key");
		goto out;
	}
	if (gb_checkpoint_parse((const char *)note, o.text_len, &cp) != 0 ||
	    strcmp(cp.origin, k.name) != 0) {
		fail(e, "wrong_log", "the remote note is not a checkpoint of %s",
		    k.name);
		goto out;
	}
	if (policy_check(vs, (const char *)note, note_len, e) != 0)
		goto out;
	rd.size = cp.size;
	if (cp.size > rd.old)
		rd.deadline_ms += (int64_t)((cp.size - 1) / GB_TILE_WIDTH -
		    rd.old / GB_TILE_WIDTH + 1) * VS_MIRROR_BUNDLE_MS;
	if (cp.size < rd.old) {
		/* Behind (a cache's older copy) is fine if it is ours. */
		if (gb_merkle_root(&s, cp.size, root) != 0) {
			fail(e, "db_error", "cannot read the copy's tree");
			goto out;
		}
		if (memcmp(root, cp.root, sizeof root) != 0) {
			fail(e, "fork", "the remote checkpoint of size %" PRIu64
			    " has another root than the copy's tree at that "
			    "size", cp.size);
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (gb_registry_mirror_append(r, (const char *)note, note_len,
	    next_leaf, check_tiles, &rd, e) != 0)
		goto out;
	*applied = cp.size > rd.old;
	*held = cp.size;
	rc = 0;
out:
	if (rc != 0 && (strcmp(e->code, "fork") == 0 ||
	    strcmp(e->code, "bad_tiles") == 0 ||
	    strcmp(e->code, "bad_entry") == 0) && note != NULL)
		save_evidence(&rd, (const char *)note, note_len, e, evidence,
		    evcap);
	for (size_t i = 0; i < rd.nfiles; i++)
		free(rd.files[i].data);
	free(rd.files);
	free(rd.bundle);
	free(note);
	return rc;
}

static void
log_event(const char *event, json_t *fields)
{
	json_t *j = json_pack("{s:s}", "event", event);
	char *line;

	if (j != NULL && fields != NULL)
		json_object_update(j, fields);
	line = j ? json_dumps(j, JSON_COMPACT) : NULL;
	fprintf(stderr, "%s\n", line ? line : "{\"event\":\"mirror\"}");
	free(line);
	json_decref(j);
	json_decref(fields);
}

/* One round and its bookkeeping; opens the copy for writing. */
static void
mirror_round(struct vs *vs)
{
	struct vs_mirror *m = &vs->mirror;
	struct gb_registry *r = NULL;
	struct gb_reg_error e = { "", "" };
	char evidence[PATH_MAX] = "";
	uint64_t held = 0;
	bool applied = false, changed;
	int rc;

	rc = gb_registry_mirror_open(vs->cfg.db, vs->cfg.log_key, &r, &e);
	if (rc == 0)
		rc = round_run(vs, r, m->curl, &applied, evidence,
		    sizeof evidence, &held, &e);
	gb_registry_close(r);

	pthread_mutex_lock(&m->mu);
	m->rounds++;
	if (rc == 0) {
		m->held = held;
		m->last_ok_ms = gb_time_now_ms();
		atomic_store(&m->has_tree, true);
		changed = m->failing;
		m->failing = false;
	} else {
		m->failures++;
		changed = !m->failing || strcmp(m->code, e.code) != 0 ||
		    strcmp(m->message, e.message) != 0;
		m->failing = true;
		snprintf(m->code, sizeof m->code, "%s", e.code);
		snprintf(m->message, sizeof m->message, "%s", e.message);
		if (strcmp(e.code, "fork") == 0) {
			if (!m->forked)
				changed = true;
			m->forked = true;
			m->forks++;
			snprintf(m->fork_message, sizeof m->fork_message, "%s",
			    e.message);
		}
		if (evidence[0] != '\0')
			snprintf(m->evidence, sizeof m->evidence, "%s",
			    evidence);
	}
	pthread_mutex_unlock(&m->mu);

	if (applied)
		log_event("mirror_applied", json_pack("{s:I}", "size",
		    (json_int_t)held));
	if (rc != 0 && changed)
		log_event(strcmp(e.code, "fork") == 0 ? "mirror_fork" :
		    "mirror_refused", json_pack("{s:s, s:s, s:s*}", "reason",
		    e.code, "detail", e.message, "evidence",
		    evidence[0] ? evidence : NULL));
	else if (rc == 0 && changed)
		log_event("mirror_recovered", json_pack("{s:I}", "size",
		    (json_int_t)held));
}

static void *
poll_loop(void *arg)
{
	struct vs *vs = arg;
	struct vs_mirror *m = &vs->mirror;

	pthread_mutex_lock(&m->mu);
	while (!m->stop) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += vs->cfg.mirror_interval_s;
		while (!m->stop && pthread_cond_timedwait(&m->cv, &m->mu,
		    &until) != ETIMEDOUT)
			;
		if (m->stop)
			break;
		pthread_mutex_unlock(&m->mu);
		mirror_round(vs);
		pthread_mutex_lock(&m->mu);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

int
vs_mirror_prepare(const struct vs_config *c)
{
	struct gb_registry *r = NULL;
	struct gb_reg_error e = { "", "" };
	struct gb_note_key k;
	size_t n;

	if (c->mirror_url == NULL)
		return 0;
	n = strlen(c->mirror_url);
	if (n == 0 || n > VS_MIRROR_URL_MAX || (strncmp(c->mirror_url,
	    "http://", 7) != 0 && strncmp(c->mirror_url, "https://", 8) !=
	    0) || c->mirror_url[n - 1] == '/') {
		fprintf(stderr, "glassbox-verifier: --mirror: an http(s) URL "
		    "of at most %d bytes, without a trailing /\n",
		    VS_MIRROR_URL_MAX);
		return -1;
	}
	if (c->log_key == NULL || gb_note_vkey_parse(c->log_key, &k) != 0) {
		fprintf(stderr, "glassbox-verifier: --mirror needs --log-key, "
		    "the log's note verifier key (glassbox registry key)\n");
		return -1;
	}
	if (access(c->db, F_OK) != 0 &&
	    gb_registry_mirror_init(c->db, c->log_key, c->mirror_url, &e) !=
	    0) {
		fprintf(stderr, "glassbox-verifier: cannot create the mirror %s:"
		    " %s: %s\n", c->db, e.code, e.message);
		return -1;
	}
	if (gb_registry_mirror_open(c->db, c->log_key, &r, &e) != 0) {
		fprintf(stderr, "glassbox-verifier: %s: %s: %s\n", c->db, e.code,
		    e.message);
		return -1;
	}
	gb_registry_close(r);
	return 0;
}

int
vs_mirror_start(struct vs *vs)
{
	struct vs_mirror *m = &vs->mirror;

	if (vs->cfg.mirror_url == NULL)
		return 0;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	m->inited = true;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (m->curl = curl_easy_init()) == NULL)
		return -1;
	/* What the copy holds already: a verified tree if it has a
	 * checkpoint (only verified ones are ever stored). */
	{
		struct gb_registry *r = NULL;
		struct gb_reg_error e;
		char *note = NULL;

		if (gb_registry_open(vs->cfg.db, false, &r, &e) == 0 &&
		    gb_registry_checkpoint(r, &note, &e) == 0 &&
		    gb_registry_size(r, &m->held) == 0)
			atomic_store(&m->has_tree, true);
		free(note);
		gb_registry_close(r);
	}
	/* The first round before the server starts: a copy that is behind
	 * catches up before it answers (bounded by VS_MIRROR_ROUND_MS). */
	mirror_round(vs);
	if (pthread_create(&m->thread, NULL, poll_loop, vs) != 0)
		return -1;
	m->running = true;
	return 0;
}

void
vs_mirror_stop(struct vs *vs)
{
	struct vs_mirror *m = &vs->mirror;

	if (!m->inited)
		return;
	if (m->running) {
		atomic_store(&m->quit, true);
		pthread_mutex_lock(&m->mu);
		m->stop = true;
		pthread_cond_signal(&m->cv);
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->thread, NULL);
		m->running = false;
	}
	if (m->curl != NULL) {
		curl_easy_cleanup(m->curl);
		curl_global_cleanup();
		m->curl = NULL;
	}
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	m->inited = false;
}

json_t *
vs_mirror_json(struct vs *vs)
{
	struct vs_mirror *m = &vs->mirror;
	char at[40] = "";
	json_t *j;

	if (!m->inited)
		return NULL;
	pthread_mutex_lock(&m->mu);
	if (m->last_ok_ms > 0)
		gb_time_format_rfc3339(m->last_ok_ms, at, sizeof at);
	j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s*, s:b}", "source",
	    vs->cfg.mirror_url, "state", m->forked ? "fork" : m->failing ?
	    "failing" : m->last_ok_ms > 0 ? "ok" : "pending", "held",
	    (json_int_t)m->held, "rounds", (json_int_t)m->rounds, "failures",
	    (json_int_t)m->failures, "last_success", at[0] ? at : NULL,
	    "fork", m->forked);
	if (j != NULL && m->failing)
		json_object_update_new(j, json_pack("{s:s, s:s}", "reason",
		    m->code, "detail", m->message));
	if (j != NULL && m->forked)
		json_object_set_new(j, "fork_detail",
		    json_string(m->fork_message));
	if (j != NULL && m->evidence[0] != '\0')
		json_object_set_new(j, "evidence", json_string(m->evidence));
	pthread_mutex_unlock(&m->mu);
	return j;
}

char *
vs_mirror_metrics(struct vs *vs)
{
	struct vs_mirror *m = &vs->mirror;
	char *s = NULL;

	if (!m->inited)
		return NULL;
	pthread_mutex_lock(&m->mu);
	if ((s = malloc(VS_MIRROR_METRICS_BYTES)) != NULL &&
	    snprintf(s, VS_MIRROR_METRICS_BYTES,
	    "# HELP glassbox_mirror_rounds_total Mirror rounds (fetch, "
	    "verify, apply).\n# TYPE glassbox_mirror_rounds_total counter\n"
	    "glassbox_mirror_rounds_total %llu\n"
	    "# HELP glassbox_mirror_failures_total Mirror rounds that failed "
	    "or were refused.\n# TYPE glassbox_mirror_failures_total counter\n"
	    "glassbox_mirror_failures_total %llu\n"
	    "# HELP glassbox_mirror_log_size Entries of the verified copy.\n"
	    "# TYPE glassbox_mirror_log_size gauge\n"
	    "glassbox_mirror_log_size %llu\n"
	    "# HELP glassbox_mirror_fork 1 once the remote log showed a "
	    "checkpoint that does not extend the copy.\n"
	    "# TYPE glassbox_mirror_fork gauge\nglassbox_mirror_fork %d\n"
	    "# HELP glassbox_mirror_last_success_seconds When a round last "
	    "succeeded (Unix time; 0: never).\n"
	    "# TYPE glassbox_mirror_last_success_seconds gauge\n"
	    "glassbox_mirror_last_success_seconds %.3f\n",
	    (unsigned long long)m->rounds, (unsigned long long)m->failures,
	    (unsigned long long)m->held, m->forked ? 1 : 0,
	    (double)m->last_ok_ms / 1000.0) >= VS_MIRROR_METRICS_BYTES) {
		free(s);
		s = NULL;
	}
	pthread_mutex_unlock(&m->mu);
	return s;
}
