/*
 * Bounded, thread-safe caches of verification results, keyed by exact bytes.
 *
 * A key is a list of byte strings. Entries are found by the SHA-256 of the
 * length-prefixed parts and confirmed by comparing every byte, so a hit means
 * the very same input was verified before. Each entry carries a validity
 * window [nb, na] (seconds): the intersection of the validity periods of the
 * certificates behind it. A lookup hits only when the time asked lies inside
 * that window, so a cached answer is always the answer the full check would
 * give. Values are immutable and reference-counted; a lookup returns a new
 * reference. The cache is 8-way set-associative and evicts the least recently
 * used entry of a set, so its size never exceeds what gb__cache_init() got.
 */
#ifndef GB_CACHE_INT_H
#define GB_CACHE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "gb/attest.h"

struct gb__cval {
	atomic_int refs;
	void (*destroy)(struct gb__cval *);
};

/* Initialises refs to 1. */
void gb__cval_init(struct gb__cval *v, void (*destroy)(struct gb__cval *));
void gb__cval_retain(struct gb__cval *v);
void gb__cval_release(struct gb__cval *v);    /* accepts NULL */

struct gb__cache_key {
	const struct gb_span *parts;
	size_t nparts;
	uint8_t hash[32];
};

struct gb__cache_slot {
	uint8_t hash[32];
	uint8_t *key;               /* from malloc(): length-prefixed parts */
	size_t keylen;
	int64_t nb, na;
	struct gb__cval *val;       /* may be NULL; one reference owned */
	uint64_t used;
};

struct gb__cache {
	pthread_mutex_t mu;
	struct gb__cache_slot *slots;   /* from calloc() */
	size_t nsets;
	uint64_t tick;
	uint64_t hits, misses;
};

/* Returns 0 or GB_ENOMEM. entries is rounded down to a multiple of 8. */
int gb__cache_init(struct gb__cache *c, size_t entries);
void gb__cache_fini(struct gb__cache *c);
void gb__cache_clear(struct gb__cache *c);

/* Computes k->hash from k->parts. Returns 0 or GB_ECRYPTO. */
int gb__cache_key_hash(struct gb__cache_key *k);

/* Returns 1, a new reference in *val (which may be NULL for caches without
 * values) and the entry's window in *nb, *na if k is cached with at_s inside
 * its window; 0 otherwise. */
int gb__cache_get(struct gb__cache *c, const struct gb__cache_key *k,
    int64_t at_s, struct gb__cval **val, int64_t *nb, int64_t *na);

/* Stores k with its window and a new reference to val (may be NULL). A failure
 * to allocate leaves the cache as it was; returns 0 or GB_ENOMEM. */
int gb__cache_put(struct gb__cache *c, const struct gb__cache_key *k,
    int64_t nb, int64_t na, struct gb__cval *val);

#endif /* GB_CACHE_INT_H */
