/*
 * RFC 9162 Merkle tree over a store of perfect-subtree hashes (gb/merkle.h).
 *
 * Every range the RFC's recursions visit starts at a multiple of a power of
 * two at least as large as the range, so its hash is the right-to-left fold
 * of at most 64 perfect subtrees, largest first (subtree()). The proofs walk
 * the RFC recursions from the top: the siblings met are perfect subtrees (one
 * read each) except at most one ragged right edge, so a proof costs O(log n)
 * reads.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "gb/err.h"
#include "gb/merkle.h"
#include "merkle_int.h"

void
gb_merkle_leaf_hash(const void *leaf, size_t len, uint8_t out[GB_HASH_BYTES])
{
	static const uint8_t prefix = 0x00;
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, 1, &prefix);
	sha256_update(&c, len, leaf);
	sha256_digest(&c, GB_HASH_BYTES, out);
}

void
gb__merkle_node_hash_raw(const uint8_t *left, size_t llen,
    const uint8_t *right, size_t rlen, uint8_t out[GB_HASH_BYTES])
{
	static const uint8_t prefix = 0x01;
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, 1, &prefix);
	sha256_update(&c, llen, left);
	sha256_update(&c, rlen, right);
	sha256_digest(&c, GB_HASH_BYTES, out);
}

void
gb_merkle_node_hash(const uint8_t left[GB_HASH_BYTES],
    const uint8_t right[GB_HASH_BYTES], uint8_t out[GB_HASH_BYTES])
{
	gb__merkle_node_hash_raw(left, GB_HASH_BYTES, right, GB_HASH_BYTES,
	    out);
}

/* The largest power of two smaller than n, for n > 1. */
static uint64_t
split(uint64_t n)
{
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

/* The hash of leaves [start, start + len), len > 0, start a multiple of a
 * power of two >= len. */
static int
subtree(const struct gb_merkle_store *s, uint64_t start, uint64_t len,
    uint8_t out[GB_HASH_BYTES])
{
	uint8_t piece[64][GB_HASH_BYTES];
	unsigned n = 0;
	int err;

	for (unsigned level = 64; level-- > 0;) {
		uint64_t size = (uint64_t)1 << level;

		if (!(len & size))
			continue;
		if (start & (size - 1))
			return GB_EINVAL;
		if ((err = s->get(s->ctx, level, start >> level, piece[n])) != 0)
			return err;
		n++;
		start += size;
	}
	if (n == 0)
		return GB_EINVAL;
	memcpy(out, piece[n - 1], GB_HASH_BYTES);
	while (--n > 0)
		gb_merkle_node_hash(piece[n - 1], out, out);
	return 0;
}

int
gb_merkle_append(const struct gb_merkle_store *s, uint64_t size,
    const uint8_t leaf_hash[GB_HASH_BYTES])
{
	uint8_t cur[GB_HASH_BYTES], left[GB_HASH_BYTES];
	uint64_t idx = size;
	int err;

	if (size == UINT64_MAX)
		return GB_ETOOBIG;
	if ((err = s->put(s->ctx, 0, idx, leaf_hash)) != 0)
		return err;
	memcpy(cur, leaf_hash, GB_HASH_BYTES);
	for (unsigned level = 0; idx & 1; level++, idx >>= 1) {
		if ((err = s->get(s->ctx, level, idx - 1, left)) != 0)
			return err;
		gb_merkle_node_hash(left, cur, cur);
		if ((err = s->put(s->ctx, level + 1, idx >> 1, cur)) != 0)
			return err;
	}
	return 0;
}

int
gb_merkle_root(const struct gb_merkle_store *s, uint64_t size,
    uint8_t out[GB_HASH_BYTES])
{
	if (size == 0) {
		struct sha256_ctx c;

		sha256_init(&c);
		sha256_digest(&c, GB_HASH_BYTES, out);
		return 0;
	}
	return subtree(s, 0, size, out);
}

/* Turns the siblings met top down into a proof, bottom up, after first. */
static void
bottom_up(uint8_t (*sib)[GB_HASH_BYTES], size_t nsib,
    uint8_t proof[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES], size_t first)
{
	for (size_t i = 0; i < nsib; i++)
		memcpy(proof[first + i], sib[nsib - 1 - i], GB_HASH_BYTES);
}

int
gb_merkle_prove_inclusion(const struct gb_merkle_store *s, uint64_t index,
    uint64_t size, uint8_t proof[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES],
    size_t *n)
{
	uint8_t sib[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES];
	uint64_t a = 0, b = size;
	size_t nsib = 0;
	int err;

	*n = 0;
	if (index >= size)
		return GB_EINVAL;
	while (b - a > 1) {
		uint64_t k = split(b - a);

		if (index < a + k) {
			err = subtree(s, a + k, b - a - k, sib[nsib]);
			b = a + k;
		} else {
			err = subtree(s, a, k, sib[nsib]);
			a += k;
		}
		if (err != 0)
			return err;
		nsib++;
	}
	bottom_up(sib, nsib, proof, 0);
	*n = nsib;
	return 0;
}

int
gb_merkle_prove_consistency(const struct gb_merkle_store *s, uint64_t size1,
    uint64_t size2, uint8_t proof[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES],
    size_t *n)
{
	uint8_t sib[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES];
	uint64_t a = 0, b = size2, m = size1;
	size_t nsib = 0, first = 0;
	bool whole = true;      /* the RFC's b: still inside the old tree's root */
	int err;

	*n = 0;
	if (size1 == 0 || size1 > size2)
		return GB_EINVAL;
	while (m != b - a) {
		uint64_t k = split(b - a);

		if (m <= k) {
			err = subtree(s, a + k, b - a - k, sib[nsib]);
			b = a + k;
		} else {
			err = subtree(s, a, k, sib[nsib]);
			a += k;
			m -= k;
			whole = false;
		}
		if (err != 0)
			return err;
		nsib++;
	}
	if (!whole) {
		if ((err = subtree(s, a, b - a, proof[0])) != 0)
			return err;
		first = 1;
	}
	bottom_up(sib, nsib, proof, first);
	*n = first + nsib;
	return 0;
}

static bool
is_hash(struct gb_span h)
{
	return h.len == GB_HASH_BYTES && h.ptr != NULL;
}

static bool
proof_ok(const struct gb_span *proof, size_t n)
{
	if (n > GB_MERKLE_MAX_PROOF)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_hash(proof[i]))
			return false;
	return true;
}

/* Right-shifts fn and sn together until fn's lowest bit is set or fn is 0. */
static void
shift_to_set(uint64_t *fn, uint64_t *sn)
{
	while (!(*fn & 1) && *fn != 0) {
		*fn >>= 1;
		*sn >>= 1;
	}
}

int
gb_merkle_verify_inclusion(uint64_t index, uint64_t size,
    struct gb_span leaf_hash, const struct gb_span *proof, size_t n,
    struct gb_span root)
{
	uint64_t fn = index, sn;
	uint8_t r[GB_HASH_BYTES];

	if (index >= size || !is_hash(leaf_hash) || !is_hash(root) ||
	    !proof_ok(proof, n))
		return GB_EINVAL;
	sn = size - 1;
	memcpy(r, leaf_hash.ptr, GB_HASH_BYTES);
	for (size_t i = 0; i < n; i++) {
		if (sn == 0)
			return GB_EINVAL;
		if ((fn & 1) || fn == sn) {
			gb_merkle_node_hash(proof[i].ptr, r, r);
			shift_to_set(&fn, &sn);
		} else {
			gb_merkle_node_hash(r, proof[i].ptr, r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(r, root.ptr, GB_HASH_BYTES) == 0 ? 0 :
	    GB_EINVAL;
}

int
gb_merkle_verify_consistency(uint64_t size1, uint64_t size2,
    struct gb_span root1, struct gb_span root2, const struct gb_span *proof,
    size_t n)
{
	uint8_t fr[GB_HASH_BYTES], sr[GB_HASH_BYTES];
	uint64_t fn, sn;
	size_t i = 0;

	if (size1 == 0 || size1 > size2)
		return GB_EINVAL;
	if (size1 == size2)
		return n == 0 && root1.len == root2.len &&
		    (root1.len == 0 ||
		    memcmp(root1.ptr, root2.ptr, root1.len) == 0) ? 0 :
		    GB_EINVAL;
	if (n == 0 || !is_hash(root1) || !is_hash(root2) ||
	    !proof_ok(proof, n))
		return GB_EINVAL;

	/* A power-of-two old tree is a node of the new one: its root is the
	 * first node of the path, which the proof leaves out. */
	if ((size1 & (size1 - 1)) == 0) {
		memcpy(fr, root1.ptr, GB_HASH_BYTES);
	} else {
		memcpy(fr, proof[0].ptr, GB_HASH_BYTES);
		i = 1;
	}
	memcpy(sr, fr, GB_HASH_BYTES);
	fn = size1 - 1;
	sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < n; i++) {
		if (sn == 0)
			return GB_EINVAL;
		if ((fn & 1) || fn == sn) {
			gb_merkle_node_hash(proof[i].ptr, fr, fr);
			gb_merkle_node_hash(proof[i].ptr, sr, sr);
			shift_to_set(&fn, &sn);
		} else {
			gb_merkle_node_hash(sr, proof[i].ptr, sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(fr, root1.ptr, GB_HASH_BYTES) == 0 &&
	    memcmp(sr, root2.ptr, GB_HASH_BYTES) == 0 ? 0 : GB_EINVAL;
}

static int
mem_get(void *ctx, unsigned level, uint64_t index, uint8_t out[GB_HASH_BYTES])
{
	struct gb_merkle_mem *m = ctx;

	if (level >= 64 || index >= m->len[level])
		return GB_ENOENT;
	memcpy(out, m->lv[level][index], GB_HASH_BYTES);
	return 0;
}

static int
mem_put(void *ctx, unsigned level, uint64_t index,
    const uint8_t hash[GB_HASH_BYTES])
{
	struct gb_merkle_mem *m = ctx;

	if (level >= 64 || index != m->len[level])
		return GB_EINVAL;       /* appends only, in order */
	if (m->len[level] == m->cap[level]) {
		uint64_t cap = m->cap[level] ? 2 * m->cap[level] : 64;
		void *p = realloc(m->lv[level], cap * GB_HASH_BYTES);

		if (p == NULL)
			return GB_ENOMEM;
		m->lv[level] = p;
		m->cap[level] = cap;
	}
	memcpy(m->lv[level][index], hash, GB_HASH_BYTES);
	m->len[level]++;
	return 0;
}

struct gb_merkle_store
gb_merkle_mem_store(struct gb_merkle_mem *m)
{
	return (struct gb_merkle_store){ mem_get, mem_put, m };
}

void
gb_merkle_mem_free(struct gb_merkle_mem *m)
{
	for (int i = 0; i < 64; i++)
		free(m->lv[i]);
	memset(m, 0, sizeof *m);
}
