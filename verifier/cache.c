/*
 * What the verifier keeps between requests (docs/verifier.md "Caches"):
 *
 * - the log's checkpoint verifier: the key parsed once, each checkpoint's
 *   signature checked once;
 * - per worker thread, a registry reader whose statements are prepared
 *   once;
 * - the registry cache: for each PCR0 asked about, what the registry says
 *   (the release, its PCRs, and for a release its JSON, inclusion proof and
 *   tlog-proof against the latest checkpoint), all dropped at once when the
 *   latest checkpoint changes (every change to the registry appends a leaf
 *   and a checkpoint in one transaction);
 * - the response cache: whole verify answers, for requests that can be
 *   answered twice (no nonce, a fixed time), keyed by the request's bytes,
 *   the registry cache's generation and the second of the verdict's iat.
 *   Within one second and one log state the answer computed again would be
 *   the same bytes (iat has 1 s resolution and Ed25519 is deterministic),
 *   so a hit sends exactly what a miss would.
 */
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/note.h"
#include "server.h"

/* PCR0s remembered by the registry cache (releases and PCR0s no release
 * has): a table of sets of VS_CACHE_WAYS entries, so a flood of new PCR0s
 * replaces entries and never grows it, while a few keys sharing a set do
 * not push each other out. About 2 KiB an entry plus a release's JSON. */
#define VS_CACHE_WAYS 4
#define VS_RELEASE_CACHE_SLOTS 256

struct vs_relentry {
	bool used;
	uint8_t pcr0[48];
	struct vs_relview view;
	json_t *release, *proof;    /* owned; json null when not found */
	char *tlog;                 /* owned; NULL when not found */
};

struct vs_regcache {
	pthread_mutex_t mu;
	char *note;                 /* the latest checkpoint, from malloc() */
	size_t note_len;
	struct gb_checkpoint cp;    /* note, opened */
	uint64_t gen;               /* bumped when note changes; 0 unused */
	struct vs_relentry slot[VS_RELEASE_CACHE_SLOTS];
	unsigned char next[VS_RELEASE_CACHE_SLOTS / VS_CACHE_WAYS];
	    /* the way each set replaces next */
};

/* Answers remembered by the response cache, in sets of VS_CACHE_WAYS (a
 * flood of distinct bodies replaces entries, never grows it). An answer is 2 to
 * 8 KiB; larger ones (at most VS_RESPONSE_MAX_BYTES) are not kept, so the
 * cache holds at most SLOTS * MAX_BYTES (16 MiB), usually about 2 MiB. */
#define VS_RESPONSE_CACHE_SLOTS 512
#define VS_RESPONSE_MAX_BYTES 32768

struct vs_respcache {
	pthread_mutex_t mu;
	struct vs_respentry {
		uint8_t key[VS_RESPCACHE_KEY_BYTES];
		uint64_t gen;
		int64_t second;
		struct vs_answer *answer;       /* NULL: free slot */
	} slot[VS_RESPONSE_CACHE_SLOTS];
	unsigned char next[VS_RESPONSE_CACHE_SLOTS / VS_CACHE_WAYS];
};

/* The one struct vs of the process, for vs_log_checkpoints(). */
static struct vs *the_vs;

static void
close_reader(void *p)
{
	gb_reg_reader_close(p);
}

static void
entry_clear(struct vs_relentry *en)
{
	json_decref(en->release);
	json_decref(en->proof);
	free(en->tlog);
	memset(en, 0, sizeof *en);
}

int
vs_cache_init(struct vs *vs)
{
	vs->log_checkpoints = NULL;
	vs->regcache = NULL;
	if (vs->log_vkey[0] != '\0' &&
	    gb_checkpoint_verifier_new(vs->log_vkey, &vs->log_checkpoints) != 0)
		return -1;
	if (pthread_key_create(&vs->reader_key, close_reader) != 0)
		goto fail;
	if (!vs->cfg.no_cache) {
		if ((vs->regcache = calloc(1, sizeof *vs->regcache)) == NULL)
			goto fail;
		pthread_mutex_init(&vs->regcache->mu, NULL);
		if ((vs->respcache = calloc(1, sizeof *vs->respcache)) == NULL)
			goto fail;
		pthread_mutex_init(&vs->respcache->mu, NULL);
	}
	the_vs = vs;
	return 0;
fail:
	/* Only at startup: the process ends. */
	gb_checkpoint_verifier_free(vs->log_checkpoints);
	vs->log_checkpoints = NULL;
	return -1;
}

/* After the workers stopped (their readers closed with their threads). */
void
vs_cache_fini(struct vs *vs)
{
	the_vs = NULL;
	if (vs->regcache != NULL) {
		for (size_t i = 0; i < VS_RELEASE_CACHE_SLOTS; i++)
			entry_clear(&vs->regcache->slot[i]);
		free(vs->regcache->note);
		pthread_mutex_destroy(&vs->regcache->mu);
		free(vs->regcache);
		vs->regcache = NULL;
	}
	if (vs->respcache != NULL) {
		for (size_t i = 0; i < VS_RESPONSE_CACHE_SLOTS; i++)
			vs_respcache_put_back(vs->respcache->slot[i].answer);
		pthread_mutex_destroy(&vs->respcache->mu);
		free(vs->respcache);
		vs->respcache = NULL;
	}
	pthread_key_delete(vs->reader_key);
	gb_checkpoint_verifier_free(vs->log_checkpoints);
	vs->log_checkpoints = NULL;
}

struct gb_checkpoint_verifier *
vs_log_checkpoints(const char *vkey)
{
	struct vs *vs = the_vs;

	if (vs == NULL || vs->log_checkpoints == NULL || vkey == NULL ||
	    strcmp(vkey, vs->log_vkey) != 0)
		return NULL;
	return vs->log_checkpoints;
}

/* Forgets every entry: a new generation. The lock is held. */
static void
drop(struct vs_regcache *c)
{
	for (size_t i = 0; i < VS_RELEASE_CACHE_SLOTS; i++)
		entry_clear(&c->slot[i]);
	c->gen++;
}

/* Compares the latest checkpoint with the cache's; returns the cache's
 * generation for it, or 0 when the cache cannot serve this request (the
 * checkpoint unreadable or not opening, or older than the cache's: this
 * thread read before another thread saw a newer one). */
static uint64_t
sync_gen(struct vs *vs, struct gb_reg_reader *rd)
{
	struct vs_regcache *c = vs->regcache;
	struct gb_reg_error e;
	struct gb_checkpoint cp;
	const char *note;
	size_t len;
	uint64_t size, gen = 0;
	bool changed;
	char *copy;

	if (gb_reg_reader_latest(rd, &note, &len, &size, &changed, &e) != 0)
		return 0;
	/* The log must never go back from a checkpoint seen before (the
	 * cache only holds back from a smaller one; the watch says why). */
	vs_watch_seen(vs, gb_reg_reader_registry(rd), note, len);
	pthread_mutex_lock(&c->mu);
	if (c->note != NULL && c->note_len == len &&
	    memcmp(c->note, note, len) == 0) {
		/* The same log, but the database changed since this thread
		 * last looked (or this thread never looked: it cannot know
		 * what changed before): an append another thread has seen
		 * already, or a write that bypassed the log (the log watch
		 * will say). Either way the cache must not outlive what it
		 * read. */
		if (changed)
			drop(c);
		gen = c->gen;
	}
	pthread_mutex_unlock(&c->mu);
	if (gen != 0)
		return gen;
	/* A new checkpoint: opened outside the lock (its verifier has a lock
	 * of its own), then it replaces the cache unless a newer one did. */
	if (vs->log_checkpoints == NULL ||
	    gb_checkpoint_verifier_open(vs->log_checkpoints, note, len, &cp) !=
	    0 || cp.size != size || (copy = malloc(len + 1)) == NULL)
		return 0;
	memcpy(copy, note, len + 1);
	pthread_mutex_lock(&c->mu);
	if (c->note != NULL && c->note_len == len &&
	    memcmp(c->note, note, len) == 0) {
		gen = c->gen;
		free(copy);
	} else if (c->note != NULL && size < c->cp.size) {
		free(copy);
	} else {
		drop(c);
		free(c->note);
		c->note = copy;
		c->note_len = len;
		c->cp = cp;
		gen = c->gen;
	}
	pthread_mutex_unlock(&c->mu);
	return gen;
}

void
vs_regcache_begin(struct vs *vs, struct vs_regstate *st)
{
	struct gb_reg_reader *rd = pthread_getspecific(vs->reader_key);
	struct gb_reg_error e;

	st->rd = NULL;
	st->gen = 0;
	if (rd == NULL && vs->cfg.db != NULL &&
	    gb_reg_reader_open(vs->cfg.db, &rd, &e) == 0 &&
	    pthread_setspecific(vs->reader_key, rd) != 0) {
		gb_reg_reader_close(rd);
		rd = NULL;
	}
	st->rd = rd;
	if (rd != NULL && vs->regcache != NULL) {
		st->gen = sync_gen(vs, rd);
	} else if (rd != NULL && vs->audit.keep) {
		/* Without the cache, the same check of the latest checkpoint
		 * against the kept one (sync_gen() does it with the cache). */
		const char *note;
		size_t len;
		uint64_t size;
		bool changed;

		if (gb_reg_reader_latest(rd, &note, &len, &size, &changed,
		    &e) == 0)
			vs_watch_seen(vs, gb_reg_reader_registry(rd), note, len);
	}
}

/* Reads the view from the database. */
static int
load_view(struct gb_reg_reader *rd, const char *pcr0hex,
    struct vs_relview *v)
{
	struct gb_reg_error e;
	const char *k;
	char *leaf = NULL;
	json_t *j, *v0;

	memset(v, 0, sizeof *v);
	if (gb_reg_reader_by_pcr0(rd, pcr0hex, &v->index, v->id, &v->revoked,
	    &e) != 0)
		return strcmp(e.code, "not_found") == 0 ? 0 : -1;
	v->found = true;
	if (gb_reg_reader_leaf(rd, v->index, &leaf, &e) != 0 ||
	    (j = gb_json_loadb(leaf, strlen(leaf), 0, NULL)) == NULL) {
		free(leaf);
		return 0;
	}
	free(leaf);
	v->readable = true;
	/* No kind: an enclave image (every release before instances). Any
	 * other kind than "nitrotpm" is not one we know: it matches no
	 * document (instance is set, and its PCRs are refused below). */
	{
		json_t *kind = json_object_get(json_object_get(j, "release"),
		    "kind");

		v->instance = kind != NULL;
		if (kind != NULL && !(json_is_string(kind) && strcmp(
		    json_string_value(kind), "nitrotpm") == 0))
			v->readable = false;
	}
	json_object_foreach(json_object_get(json_object_get(j, "release"),
	    "pcrs"), k, v0) {
		const char *hex = json_string_value(v0);
		unsigned i = (unsigned)strtoul(k, NULL, 10);

		/* One entry past the limit, refused, stands for the rest: a
		 * release declares at most GB_PCR_MAX_COUNT. */
		v->pcrs[v->npcrs].i = i;
		v->pcrs[v->npcrs].ok = v->npcrs < VS_RELEASE_PCRS_MAX &&
		    i < GB_PCR_MAX_COUNT && hex != NULL &&
		    gb_hex_decode(hex, strlen(hex), v->pcrs[v->npcrs].v, 48) == 0;
		if (v->npcrs++ == VS_RELEASE_PCRS_MAX)
			break;
	}
	json_decref(j);
	return 0;
}

/* The first entry of pcr0's set. PCR0 is a SHA-384 digest: any of its
 * bytes are uniform. */
static size_t
set_of(const uint8_t pcr0[48])
{
	return ((size_t)pcr0[0] | (size_t)pcr0[1] << 8) %
	    (VS_RELEASE_CACHE_SLOTS / VS_CACHE_WAYS) * VS_CACHE_WAYS;
}

/* pcr0's entry, or NULL. The lock is held. */
static struct vs_relentry *
rel_find(struct vs_regcache *c, const uint8_t pcr0[48])
{
	size_t set = set_of(pcr0);

	for (size_t w = 0; w < VS_CACHE_WAYS; w++) {
		struct vs_relentry *en = &c->slot[set + w];

		if (en->used && memcmp(en->pcr0, pcr0, 48) == 0)
			return en;
	}
	return NULL;
}

/* Where pcr0 goes: its entry (another thread put it there meanwhile), a
 * free one, or the next of its set in turn. The lock is held. */
static struct vs_relentry *
rel_victim(struct vs_regcache *c, const uint8_t pcr0[48])
{
	size_t set = set_of(pcr0);
	struct vs_relentry *en = rel_find(c, pcr0);

	for (size_t w = 0; en == NULL && w < VS_CACHE_WAYS; w++)
		if (!c->slot[set + w].used)
			en = &c->slot[set + w];
	if (en == NULL) {
		unsigned char *n = &c->next[set / VS_CACHE_WAYS];

		en = &c->slot[set + *n];
		*n = (unsigned char)((*n + 1) % VS_CACHE_WAYS);
	}
	return en;
}

/* The release's JSON, proof and tlog-proof into en, against the checkpoint
 * of st's generation (which the cache holds while it is current); -1 when
 * the generation has passed meanwhile or a part is missing. */
static int
fill(struct vs_regcache *c, struct vs_regstate *st, struct vs_relentry *en)
{
	struct gb_registry *r = gb_reg_reader_registry(st->rd);
	struct gb_checkpoint cp;
	char *note = NULL;

	pthread_mutex_lock(&c->mu);
	if (c->gen == st->gen) {
		note = strdup(c->note);
		cp = c->cp;
	}
	pthread_mutex_unlock(&c->mu);
	if (note == NULL)
		return -1;
	en->release = vs_release_json(r, en->view.index);
	en->proof = vs_proof_json_at(r, en->view.index, note, &cp);
	en->tlog = vs_tlog_proof(r, en->proof);
	free(note);
	/* Not remembered unless whole: a failed read (or a release newer
	 * than this checkpoint, read in a race with a publication) is tried
	 * again by the next request. */
	return json_is_object(en->release) && json_is_object(en->proof) &&
	    en->tlog != NULL ? 0 : -1;
}

int
vs_regcache_view(struct vs *vs, struct vs_regstate *st, const char *pcr0hex,
    struct vs_relview *view)
{
	struct vs_regcache *c = vs->regcache;
	struct vs_relentry fresh;
	struct vs_relentry *en;
	uint8_t pcr0[48];
	bool hit = false;

	memset(view, 0, sizeof *view);
	if (st->rd == NULL)
		return -1;
	if (st->gen == 0 || gb_hex_decode(pcr0hex, strlen(pcr0hex), pcr0,
	    sizeof pcr0) != 0)
		return load_view(st->rd, pcr0hex, view);
	pthread_mutex_lock(&c->mu);
	if (c->gen == st->gen && (en = rel_find(c, pcr0)) != NULL) {
		*view = en->view;
		hit = true;
	}
	pthread_mutex_unlock(&c->mu);
	if (hit)
		return 0;
	if (load_view(st->rd, pcr0hex, view) != 0)
		return -1;
	/* An unreadable release is not remembered: the next request tries
	 * again. */
	if (view->found && !view->readable)
		return 0;
	memset(&fresh, 0, sizeof fresh);
	fresh.used = true;
	memcpy(fresh.pcr0, pcr0, sizeof pcr0);
	fresh.view = *view;
	if (view->found && fill(c, st, &fresh) != 0) {
		entry_clear(&fresh);
		return 0;
	}
	pthread_mutex_lock(&c->mu);
	if (c->gen == st->gen) {
		en = rel_victim(c, pcr0);
		entry_clear(en);
		*en = fresh;
		memset(&fresh, 0, sizeof fresh);
	}
	pthread_mutex_unlock(&c->mu);
	entry_clear(&fresh);
	return 0;
}

void
vs_regcache_release(struct vs *vs, struct vs_regstate *st,
    const char *pcr0hex, uint64_t index, json_t **release, json_t **proof,
    char **tlog)
{
	struct vs_regcache *c = vs->regcache;
	struct gb_registry *r = st->rd != NULL ?
	    gb_reg_reader_registry(st->rd) : NULL;
	struct vs_relentry *en;
	uint8_t pcr0[48];
	bool has_tlog = false;

	*release = NULL;
	*proof = NULL;
	*tlog = NULL;
	if (st->gen != 0 && gb_hex_decode(pcr0hex, strlen(pcr0hex), pcr0,
	    sizeof pcr0) == 0) {
		pthread_mutex_lock(&c->mu);
		/* Copies: jansson's reference counts and dumps are not for
		 * sharing between threads. */
		if (c->gen == st->gen && (en = rel_find(c, pcr0)) != NULL &&
		    en->view.found &&
		    en->view.index == index) {
			*release = json_deep_copy(en->release);
			*proof = json_deep_copy(en->proof);
			has_tlog = en->tlog != NULL;
			*tlog = has_tlog ? strdup(en->tlog) : NULL;
		}
		pthread_mutex_unlock(&c->mu);
		if (*release != NULL && *proof != NULL &&
		    has_tlog == (*tlog != NULL))
			return;
		json_decref(*release);
		json_decref(*proof);
		free(*tlog);
		*tlog = NULL;
	}
	*release = vs_release_json(r, index);
	*proof = vs_proof_json(r, index);
	*tlog = vs_tlog_proof(r, *proof);
}

/* Each part with its length first, so that no two requests share a text
 * to hash; a missing Content-Type differs from an empty one. */
void
vs_respcache_key(const char *ctype, const char *query, const char *body,
    size_t len, uint8_t key[VS_RESPCACHE_KEY_BYTES])
{
	const char *part[2] = { ctype, query };
	struct sha256_ctx h;
	uint8_t n[9];

	sha256_init(&h);
	for (size_t i = 0; i < 2; i++) {
		size_t pl = part[i] != NULL ? strlen(part[i]) : 0;

		n[0] = part[i] != NULL;
		for (size_t b = 0; b < 8; b++)
			n[1 + b] = (uint8_t)((uint64_t)pl >> (8 * b));
		sha256_update(&h, sizeof n, n);
		if (pl > 0)
			sha256_update(&h, pl, (const uint8_t *)part[i]);
	}
	sha256_update(&h, len, (const uint8_t *)body);
	sha256_digest(&h, VS_RESPCACHE_KEY_BYTES, key);
}

/* The first entry of key's set (a SHA-256 digest: uniform bytes). */
static size_t
resp_set(const uint8_t key[VS_RESPCACHE_KEY_BYTES])
{
	return ((size_t)key[0] | (size_t)key[1] << 8) %
	    (VS_RESPONSE_CACHE_SLOTS / VS_CACHE_WAYS) * VS_CACHE_WAYS;
}

/* key's entry, or NULL. The lock is held. */
static struct vs_respentry *
resp_find(struct vs_respcache *c, const uint8_t key[VS_RESPCACHE_KEY_BYTES])
{
	size_t set = resp_set(key);

	for (size_t w = 0; w < VS_CACHE_WAYS; w++) {
		struct vs_respentry *en = &c->slot[set + w];

		if (en->answer != NULL &&
		    memcmp(en->key, key, VS_RESPCACHE_KEY_BYTES) == 0)
			return en;
	}
	return NULL;
}

struct vs_answer *
vs_respcache_get(struct vs *vs, const uint8_t key[VS_RESPCACHE_KEY_BYTES],
    uint64_t gen, int64_t second)
{
	struct vs_respcache *c = vs->respcache;
	struct vs_respentry *en;
	struct vs_answer *a = NULL;

	if (c == NULL || gen == 0)
		return NULL;
	pthread_mutex_lock(&c->mu);
	if ((en = resp_find(c, key)) != NULL && en->gen == gen &&
	    en->second == second) {
		a = en->answer;
		atomic_fetch_add(&a->refs, 1);
	}
	pthread_mutex_unlock(&c->mu);
	return a;
}

void
vs_respcache_put_back(struct vs_answer *a)
{
	if (a != NULL && atomic_fetch_sub(&a->refs, 1) == 1)
		free(a);
}

void
vs_respcache_add(struct vs *vs, const uint8_t key[VS_RESPCACHE_KEY_BYTES],
    uint64_t gen, int64_t second, enum gb_reason reason, const char *body,
    size_t len)
{
	struct vs_respcache *c = vs->respcache;
	struct vs_respentry *en;
	struct vs_answer *a, *old;

	if (c == NULL || gen == 0 || len > VS_RESPONSE_MAX_BYTES ||
	    (a = malloc(sizeof *a + len)) == NULL)
		return;
	atomic_init(&a->refs, 1);
	a->reason = reason;
	a->len = len;
	memcpy(a->body, body, len);
	pthread_mutex_lock(&c->mu);
	/* The key's own entry, else a free or outdated one (another second
	 * or log state), else the next of the set in turn. */
	if ((en = resp_find(c, key)) == NULL) {
		size_t set = resp_set(key);

		for (size_t w = 0; en == NULL && w < VS_CACHE_WAYS; w++) {
			struct vs_respentry *x = &c->slot[set + w];

			if (x->answer == NULL || x->gen != gen ||
			    x->second != second)
				en = x;
		}
		if (en == NULL) {
			unsigned char *n = &c->next[set / VS_CACHE_WAYS];

			en = &c->slot[set + *n];
			*n = (unsigned char)((*n + 1) % VS_CACHE_WAYS);
		}
	}
	old = en->answer;
	memcpy(en->key, key, VS_RESPCACHE_KEY_BYTES);
	en->gen = gen;
	en->second = second;
	en->answer = a;
	pthread_mutex_unlock(&c->mu);
	vs_respcache_put_back(old);
}
