/*
 * Verification caches (see cache_int.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cache_int.h"

#define WAYS 8

void
gb__cval_init(struct gb__cval *v, void (*destroy)(struct gb__cval *))
{
	atomic_init(&v->refs, 1);
	v->destroy = destroy;
}

void
gb__cval_retain(struct gb__cval *v)
{
	if (v != NULL)
		atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

void
gb__cval_release(struct gb__cval *v)
{
	if (v != NULL &&
	    atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) == 1)
		v->destroy(v);
}

int
gb__cache_init(struct gb__cache *c, size_t entries)
{
	memset(c, 0, sizeof *c);
	c->nsets = entries / WAYS;
	if (c->nsets == 0)
		c->nsets = 1;
	c->slots = calloc(c->nsets * WAYS, sizeof *c->slots);
	if (c->slots == NULL)
		return GB_ENOMEM;
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c->slots);
		c->slots = NULL;
		return GB_ENOMEM;
	}
	return 0;
}

static void
slot_clear(struct gb__cache_slot *s)
{
	free(s->key);
	gb__cval_release(s->val);
	memset(s, 0, sizeof *s);
}

void
gb__cache_clear(struct gb__cache *c)
{
	if (c->slots == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->nsets * WAYS; i++)
		slot_clear(&c->slots[i]);
	pthread_mutex_unlock(&c->mu);
}

void
gb__cache_fini(struct gb__cache *c)
{
	if (c->slots == NULL)
		return;
	gb__cache_clear(c);
	pthread_mutex_destroy(&c->mu);
	free(c->slots);
	c->slots = NULL;
}

static void
put_len(uint8_t out[8], size_t n)
{
	for (int i = 7; i >= 0; i--, n >>= 8)
		out[i] = (uint8_t)n;
}

int
gb__cache_key_hash(struct gb__cache_key *k)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t len[8];
	int ok;

	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < k->nparts; i++) {
		put_len(len, k->parts[i].len);
		ok = EVP_DigestUpdate(md, len, sizeof len) &&
		    EVP_DigestUpdate(md, k->parts[i].ptr, k->parts[i].len);
	}
	ok = ok && EVP_DigestFinal_ex(md, k->hash, NULL);
	EVP_MD_CTX_free(md);
	return ok ? 0 : GB_ECRYPTO;
}

static size_t
key_bytes(const struct gb__cache_key *k)
{
	size_t n = 0;

	for (size_t i = 0; i < k->nparts; i++)
		n += 8 + k->parts[i].len;
	return n;
}

static bool
key_equal(const struct gb__cache_slot *s, const struct gb__cache_key *k)
{
	const uint8_t *p = s->key;
	uint8_t len[8];

	if (s->key == NULL || memcmp(s->hash, k->hash, sizeof s->hash) != 0 ||
	    s->keylen != key_bytes(k))
		return false;
	for (size_t i = 0; i < k->nparts; i++) {
		put_len(len, k->parts[i].len);
		if (memcmp(p, len, 8) != 0 ||
		    memcmp(p + 8, k->parts[i].ptr, k->parts[i].len) != 0)
			return false;
		p += 8 + k->parts[i].len;
	}
	return true;
}

static struct gb__cache_slot *
set_of(struct gb__cache *c, const struct gb__cache_key *k)
{
	uint64_t h = 0;

	for (int i = 0; i < 8; i++)
		h = h << 8 | k->hash[i];
	return &c->slots[(h % c->nsets) * WAYS];
}

int
gb__cache_get(struct gb__cache *c, const struct gb__cache_key *k, int64_t at_s,
    struct gb__cval **val, int64_t *nb, int64_t *na)
{
	struct gb__cache_slot *set;
	int hit = 0;

	pthread_mutex_lock(&c->mu);
	set = set_of(c, k);
	for (int i = 0; i < WAYS; i++) {
		struct gb__cache_slot *s = &set[i];

		if (key_equal(s, k) && s->nb <= at_s && at_s <= s->na) {
			s->used = ++c->tick;
			gb__cval_retain(s->val);
			*val = s->val;
			*nb = s->nb;
			*na = s->na;
			hit = 1;
			break;
		}
	}
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->mu);
	return hit;
}

int
gb__cache_put(struct gb__cache *c, const struct gb__cache_key *k, int64_t nb,
    int64_t na, struct gb__cval *val)
{
	struct gb__cache_slot *set, *victim;
	size_t n = key_bytes(k);
	uint8_t *key, *p;

	if ((key = malloc(n)) == NULL)
		return GB_ENOMEM;
	p = key;
	for (size_t i = 0; i < k->nparts; i++) {
		put_len(p, k->parts[i].len);
		memcpy(p + 8, k->parts[i].ptr, k->parts[i].len);
		p += 8 + k->parts[i].len;
	}
	pthread_mutex_lock(&c->mu);
	set = set_of(c, k);
	victim = &set[0];
	for (int i = 0; i < WAYS; i++) {
		if (key_equal(&set[i], k)) {     /* same input: refresh */
			victim = &set[i];
			break;
		}
		if (set[i].used < victim->used)
			victim = &set[i];
	}
	slot_clear(victim);
	memcpy(victim->hash, k->hash, sizeof victim->hash);
	victim->key = key;
	victim->keylen = n;
	victim->nb = nb;
	victim->na = na;
	gb__cval_retain(val);
	victim->val = val;
	victim->used = ++c->tick;
	pthread_mutex_unlock(&c->mu);
	return 0;
}
