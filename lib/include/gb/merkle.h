/*
 * The Merkle tree of the transparency log, as RFC 9162 2.1 defines it:
 * SHA-256, leaf hash H(0x00 || leaf), node hash H(0x01 || left || right),
 * the left subtree of n > 1 leaves holding the largest power of two smaller
 * than n.
 *
 * The tree is kept as the hashes of its perfect subtrees: node (level, index)
 * covers leaves [index << level, (index + 1) << level), level 0 being the leaf
 * hashes. Any tree head and proof comes from O(log n) of them, read through
 * a store the caller supplies (memory in tests, SQLite in the registry).
 */
#ifndef GB_MERKLE_H
#define GB_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "gb/attest.h"          /* struct gb_span */

#define GB_HASH_BYTES 32
#define GB_MERKLE_MAX_PROOF 64  /* proof nodes for any size < 2^63 */

struct gb_merkle_store {
	/* Reads node (level, index), which must exist; returns 0 or a
	 * negative enum gb_err. */
	int (*get)(void *ctx, unsigned level, uint64_t index,
	    uint8_t out[GB_HASH_BYTES]);
	/* Writes a new node; returns 0 or a negative enum gb_err. */
	int (*put)(void *ctx, unsigned level, uint64_t index,
	    const uint8_t hash[GB_HASH_BYTES]);
	void *ctx;
};

/* A store in memory (audits, tests, benchmarks): a growable array of
 * hashes per level. Zero it before use; nodes must be put in order. */
struct gb_merkle_mem {
	uint8_t (*lv[64])[GB_HASH_BYTES];
	uint64_t len[64], cap[64];
};
struct gb_merkle_store gb_merkle_mem_store(struct gb_merkle_mem *m);
void gb_merkle_mem_free(struct gb_merkle_mem *m);

void gb_merkle_leaf_hash(const void *leaf, size_t len,
    uint8_t out[GB_HASH_BYTES]);
void gb_merkle_node_hash(const uint8_t left[GB_HASH_BYTES],
    const uint8_t right[GB_HASH_BYTES], uint8_t out[GB_HASH_BYTES]);

/* Adds the leaf hash as leaf number `size` (the tree had `size` leaves) and
 * every perfect subtree it completes. */
int gb_merkle_append(const struct gb_merkle_store *s, uint64_t size,
    const uint8_t leaf_hash[GB_HASH_BYTES]);

/* The root of the first `size` leaves (SHA-256("") for none). */
int gb_merkle_root(const struct gb_merkle_store *s, uint64_t size,
    uint8_t out[GB_HASH_BYTES]);

/* The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162
 * 2.1.3.1), *n nodes into proof. GB_EINVAL unless index < size. */
int gb_merkle_prove_inclusion(const struct gb_merkle_store *s,
    uint64_t index, uint64_t size,
    uint8_t proof[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES], size_t *n);

/* The consistency proof from size1 to size2 leaves (RFC 9162 2.1.4.1).
 * GB_EINVAL unless 0 < size1 <= size2. */
int gb_merkle_prove_consistency(const struct gb_merkle_store *s,
    uint64_t size1, uint64_t size2,
    uint8_t proof[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES], size_t *n);

/*
 * Proof verification (RFC 9162 2.1.3.2 and 2.1.4.2), over values as they
 * arrive, so that a hash of the wrong length is a refusal, not a crash.
 * Return 0 if the proof holds, GB_EINVAL otherwise. A consistency proof from
 * an empty tree is refused; from size1 == size2 it must be empty and the
 * roots equal.
 */
int gb_merkle_verify_inclusion(uint64_t index, uint64_t size,
    struct gb_span leaf_hash, const struct gb_span *proof, size_t n,
    struct gb_span root);
int gb_merkle_verify_consistency(uint64_t size1, uint64_t size2,
    struct gb_span root1, struct gb_span root2, const struct gb_span *proof,
    size_t n);

#endif /* GB_MERKLE_H */
