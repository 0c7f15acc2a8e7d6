/*
 * The Merkle tree (gb/merkle.h) against ../shared/vectors/merkle: the RFC 6962
 * reference tree, every proof of the exhaustive trees of 1..20 leaves
 * (generated and verified), and all 196 transparency-dev probes with their
 * verdicts. Then trees of every size up to 300 against a naive recursive
 * MTH, written here straight from RFC 9162 2.1.1.
 */
#include <jansson.h>

#include "gb/codec.h"
#include "gb/err.h"
#include "gb/merkle.h"
#include "merkle_int.h"
#include "test.h"

#define DIR GB_VECTORS_DIR "/merkle/"

/*
 * jansson reads integers as long long and refuses the one probe whose
 * leafIdx is 2^64 - 1. Such numbers (above INT64_MAX, outside strings) are
 * put in quotes before parsing; u64() reads both forms.
 */
static json_t *
load(const char *name)
{
	char path[512];
	unsigned char *text;
	char *q;
	size_t len, o = 0;
	bool in_str = false, esc = false;
	json_error_t e;
	json_t *j;

	snprintf(path, sizeof path, DIR "%s", name);
	text = gb_test_read(path, &len);
	if ((q = malloc(2 * len + 1)) == NULL)
		exit(2);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = text[i];
		size_t run = 0;

		if (in_str) {
			in_str = esc || c != '"';
			esc = !esc && c == '\\';
		} else if (c == '"') {
			in_str = true;
		} else if (c >= '0' && c <= '9') {
			while (i + run < len && text[i + run] >= '0' &&
			    text[i + run] <= '9')
				run++;
			if (run >= 19 && (run > 19 || memcmp(text + i,
			    "9223372036854775807", 19) > 0)) {
				q[o++] = '"';
				memcpy(q + o, text + i, run);
				o += run;
				q[o++] = '"';
				i += run - 1;
				continue;
			}
		}
		q[o++] = (char)c;
	}
	if ((j = json_loadb(q, o, 0, &e)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, e.text);
		exit(2);
	}
	free(q);
	free(text);
	return j;
}

static uint64_t
u64(json_t *v)
{
	if (json_is_string(v))
		return strtoull(json_string_value(v), NULL, 10);
	return (uint64_t)json_integer_value(v);
}

/* Hex values of a test file, kept until the test ends. */
struct hexes {
	uint8_t *buf[256];
	size_t n;
};

static struct gb_span
hex(struct hexes *h, json_t *v)
{
	const char *s = json_string_value(v);
	uint8_t *out = NULL;
	size_t len = 0;

	if (s == NULL || h->n == 256 ||
	    gb_hex_decode_alloc(s, strlen(s), 4096, &out, &len) != 0) {
		fprintf(stderr, "bad hex in a vector\n");
		exit(2);
	}
	h->buf[h->n++] = out;
	return (struct gb_span){ out, len };
}

static void
hexes_free(struct hexes *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->buf[i]);
	h->n = 0;
}

/* The proof array of a vector as spans. */
static size_t
spans(struct hexes *h, json_t *arr, struct gb_span *out, size_t max)
{
	size_t i;
	json_t *v;

	if (json_array_size(arr) > max)
		return max + 1;
	json_array_foreach(arr, i, v)
		out[i] = hex(h, v);
	return json_array_size(arr);
}

static bool
same_proof(uint8_t (*got)[GB_HASH_BYTES], size_t n, const struct gb_span *want,
    size_t wn)
{
	if (n != wn)
		return false;
	for (size_t i = 0; i < n; i++)
		if (want[i].len != GB_HASH_BYTES ||
		    memcmp(got[i], want[i].ptr, GB_HASH_BYTES) != 0)
			return false;
	return true;
}

/* Builds a tree from leaf data (hex strings, or one byte i for leaf i). */
static void
build(struct gb_merkle_mem *m, struct gb_merkle_store *s, struct hexes *h,
    json_t *leaves, size_t count)
{
	uint8_t lh[GB_HASH_BYTES];

	memset(m, 0, sizeof *m);
	*s = gb_merkle_mem_store(m);
	for (size_t i = 0; i < count; i++) {
		uint8_t b = (uint8_t)i;

		if (leaves != NULL) {
			struct gb_span l = hex(h, json_array_get(leaves, i));

			gb_merkle_leaf_hash(l.ptr, l.len, lh);
		} else {
			gb_merkle_leaf_hash(&b, 1, lh);
		}
		if (gb_merkle_append(s, i, lh) != 0) {
			fprintf(stderr, "append failed\n");
			exit(2);
		}
	}
}

/* Generates every proof a vector file lists, compares them with the file and
 * verifies them against the file's roots. */
static void
check_proofs(json_t *f, const struct gb_merkle_store *s, struct hexes *h)
{
	json_t *roots = json_object_get(f, "roots_by_size"), *v;
	uint8_t got[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES], root[GB_HASH_BYTES];
	struct gb_span want[GB_MERKLE_MAX_PROOF];
	const char *size_key;
	char key[24];
	size_t i, n, wn;

	json_array_foreach(json_object_get(f, "inclusion_proofs"), i, v) {
		uint64_t idx = u64(json_object_get(v, "leaf_index"));
		uint64_t size = u64(json_object_get(v, "tree_size"));
		uint8_t lh[GB_HASH_BYTES];
		struct gb_span r;

		snprintf(key, sizeof key, "%" PRIu64, size);
		r = hex(h, json_object_get(roots, key));
		wn = spans(h, json_object_get(v, "proof"), want,
		    GB_MERKLE_MAX_PROOF);
		ASSERT_EQ(gb_merkle_prove_inclusion(s, idx, size, got, &n), 0);
		if (!same_proof(got, n, want, wn))
			FAIL_AT("inclusion (%" PRIu64 ", %" PRIu64 ") differs",
			    idx, size);
		ASSERT_EQ(s->get(s->ctx, 0, idx, lh), 0);
		if (gb_merkle_verify_inclusion(idx, size,
		    (struct gb_span){ lh, sizeof lh }, want, wn, r) != 0)
			FAIL_AT("inclusion (%" PRIu64 ", %" PRIu64 ") refused",
			    idx, size);
		hexes_free(h);
	}
	json_array_foreach(json_object_get(f, "consistency_proofs"), i, v) {
		uint64_t m = u64(json_object_get(v, "size1"));
		uint64_t size = u64(json_object_get(v, "size2"));
		struct gb_span r1, r2;

		snprintf(key, sizeof key, "%" PRIu64, m);
		r1 = hex(h, json_object_get(roots, key));
		snprintf(key, sizeof key, "%" PRIu64, size);
		r2 = hex(h, json_object_get(roots, key));
		wn = spans(h, json_object_get(v, "proof"), want,
		    GB_MERKLE_MAX_PROOF);
		ASSERT_EQ(gb_merkle_prove_consistency(s, m, size, got, &n), 0);
		if (!same_proof(got, n, want, wn))
			FAIL_AT("consistency (%" PRIu64 ", %" PRIu64 ") differs",
			    m, size);
		if (gb_merkle_verify_consistency(m, size, r1, r2, want, wn) != 0)
			FAIL_AT("consistency (%" PRIu64 ", %" PRIu64 ") refused",
			    m, size);
		hexes_free(h);
	}
	json_object_foreach(roots, size_key, v) {
		struct gb_span r = hex(h, v);

		ASSERT_EQ(gb_merkle_root(s, strtoull(size_key, NULL, 10), root),
		    0);
		if (r.len != GB_HASH_BYTES || memcmp(root, r.ptr, r.len) != 0)
			FAIL_AT("root of %s leaves differs", size_key);
		hexes_free(h);
	}
}

TEST(hasher_vectors)
{
	json_t *f = load("rfc6962-reference-tree.json"), *v;
	struct hexes h = { .n = 0 };
	uint8_t got[GB_HASH_BYTES];
	size_t i;
	int n = 0;

	json_array_foreach(json_object_get(f, "hasher_vectors"), i, v) {
		const char *kind = json_string_value(json_object_get(v, "kind"));
		struct gb_span want = hex(&h, json_object_get(v, "want"));

		if (strcmp(kind, "empty_root") == 0) {
			struct gb_merkle_store none = { NULL, NULL, NULL };

			ASSERT_EQ(gb_merkle_root(&none, 0, got), 0);
		} else if (strcmp(kind, "leaf") == 0) {
			struct gb_span l = hex(&h, json_object_get(v, "leaf"));

			gb_merkle_leaf_hash(l.ptr, l.len, got);
		} else {
			/* The vector's children are 4 raw bytes each. */
			struct gb_span l = hex(&h, json_object_get(v, "left"));
			struct gb_span r = hex(&h, json_object_get(v, "right"));

			gb__merkle_node_hash_raw(l.ptr, l.len, r.ptr, r.len,
			    got);
		}
		if (memcmp(got, want.ptr, GB_HASH_BYTES) != 0)
			FAIL_AT("hasher vector %zu", i);
		n++;
	}
	ASSERT_EQ(n, 4);
	hexes_free(&h);
	json_decref(f);
}

TEST(reference_tree)
{
	json_t *f = load("rfc6962-reference-tree.json");
	json_t *leaves = json_object_get(f, "leaves");
	struct hexes h = { .n = 0 };
	struct gb_merkle_store s;
	struct gb_merkle_mem m;

	build(&m, &s, &h, leaves, json_array_size(leaves));
	hexes_free(&h);
	check_proofs(f, &s, &h);
	hexes_free(&h);
	gb_merkle_mem_free(&m);
	json_decref(f);
}

TEST(exhaustive_1_to_20)
{
	json_t *f = load("generated-exhaustive-1-20.json");
	struct hexes h = { .n = 0 };
	struct gb_merkle_store s;
	struct gb_merkle_mem m;

	build(&m, &s, &h, NULL, 20);
	check_proofs(f, &s, &h);
	hexes_free(&h);
	gb_merkle_mem_free(&m);
	json_decref(f);
}

TEST(inclusion_probes)
{
	json_t *f = load("inclusion-probes.hex.json"), *v;
	struct gb_span proof[GB_MERKLE_MAX_PROOF + 1];
	struct hexes h = { .n = 0 };
	size_t i, n;

	json_array_foreach(json_object_get(f, "probes"), i, v) {
		bool want_err = json_is_true(json_object_get(v, "wantErr"));
		int rc;

		n = spans(&h, json_object_get(v, "proof"), proof,
		    GB_MERKLE_MAX_PROOF);
		rc = n > GB_MERKLE_MAX_PROOF ? GB_EINVAL :
		    gb_merkle_verify_inclusion(u64(json_object_get(v, "leafIdx")),
		    u64(json_object_get(v, "treeSize")),
		    hex(&h, json_object_get(v, "leafHash")), proof, n,
		    hex(&h, json_object_get(v, "root")));
		if ((rc != 0) != want_err)
			FAIL_AT("%s: %s", json_string_value(json_object_get(v,
			    "file")), want_err ? "accepted" : "refused");
		hexes_free(&h);
	}
	ASSERT_EQ(i, 98);
	json_decref(f);
}

TEST(consistency_probes)
{
	json_t *f = load("consistency-probes.hex.json"), *v;
	struct gb_span proof[GB_MERKLE_MAX_PROOF + 1];
	struct hexes h = { .n = 0 };
	size_t i, n;

	json_array_foreach(json_object_get(f, "probes"), i, v) {
		bool want_err = json_is_true(json_object_get(v, "wantErr"));
		int rc;

		n = spans(&h, json_object_get(v, "proof"), proof,
		    GB_MERKLE_MAX_PROOF);
		rc = n > GB_MERKLE_MAX_PROOF ? GB_EINVAL :
		    gb_merkle_verify_consistency(u64(json_object_get(v, "size1")),
		    u64(json_object_get(v, "size2")),
		    hex(&h, json_object_get(v, "root1")),
		    hex(&h, json_object_get(v, "root2")), proof, n);
		if ((rc != 0) != want_err)
			FAIL_AT("%s: %s", json_string_value(json_object_get(v,
			    "file")), want_err ? "accepted" : "refused");
		hexes_free(&h);
	}
	ASSERT_EQ(i, 98);
	json_decref(f);
}

/* MTH(D[a:b]) by the definition, leaf i being the 4 bytes of i. */
static void
naive_mth(uint64_t a, uint64_t b, uint8_t out[GB_HASH_BYTES])
{
	uint8_t l[GB_HASH_BYTES], r[GB_HASH_BYTES];
	uint64_t k = 1;

	if (b - a == 1) {
		uint32_t leaf = (uint32_t)a;

		gb_merkle_leaf_hash(&leaf, sizeof leaf, out);
		return;
	}
	while (k * 2 < b - a)
		k *= 2;
	naive_mth(a, a + k, l);
	naive_mth(a + k, b, r);
	gb_merkle_node_hash(l, r, out);
}

static void
as_spans(uint8_t (*p)[GB_HASH_BYTES], size_t n, struct gb_span *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (struct gb_span){ p[i], GB_HASH_BYTES };
}

/* Every size up to 300: the root equals the naive MTH, and proofs between
 * many pairs verify; a proof for another leaf hash or old size, or with one
 * bit flipped, is refused. */
TEST(every_size_to_300)
{
	enum { N = 300 };
	static uint8_t roots[N + 1][GB_HASH_BYTES];
	uint8_t p[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES], lh[GB_HASH_BYTES];
	struct gb_span sp[GB_MERKLE_MAX_PROOF];
	struct gb_merkle_store s;
	struct gb_merkle_mem m;
	size_t n;

	memset(&m, 0, sizeof m);
	s = gb_merkle_mem_store(&m);
	ASSERT_EQ(gb_merkle_root(&s, 0, roots[0]), 0);
	for (uint32_t i = 0; i < N; i++) {
		uint8_t want[GB_HASH_BYTES];

		gb_merkle_leaf_hash(&i, sizeof i, lh);
		ASSERT_EQ(gb_merkle_append(&s, i, lh), 0);
		ASSERT_EQ(gb_merkle_root(&s, i + 1, roots[i + 1]), 0);
		naive_mth(0, i + 1, want);
		if (memcmp(want, roots[i + 1], GB_HASH_BYTES) != 0)
			FAIL_AT("root of %u leaves", i + 1);
	}
	for (uint64_t size = 1; size <= N; size++) {
		for (uint64_t i = 0; i < size; i += 1 + size / 16) {
			struct gb_span root = { roots[size], GB_HASH_BYTES };
			struct gb_span leaf = { lh, GB_HASH_BYTES };

			ASSERT_EQ(s.get(s.ctx, 0, i, lh), 0);
			ASSERT_EQ(gb_merkle_prove_inclusion(&s, i, size, p, &n),
			    0);
			as_spans(p, n, sp);
			ASSERT_EQ(gb_merkle_verify_inclusion(i, size, leaf, sp,
			    n, root), 0);
			if (size > 1) {         /* another leaf's hash */
				uint8_t other[GB_HASH_BYTES];

				ASSERT_EQ(s.get(s.ctx, 0, (i + 1) % size,
				    other),
				    0);
				ASSERT(gb_merkle_verify_inclusion(i, size,
				    (struct gb_span){ other, GB_HASH_BYTES },
				    sp, n, root) != 0);
			}
			if (n > 0) {
				p[n - 1][7] ^= 0x10;
				ASSERT(gb_merkle_verify_inclusion(i, size, leaf,
				    sp, n, root) != 0);
			}
		}
		for (uint64_t m1 = 1; m1 <= size; m1 += 1 + size / 16) {
			struct gb_span r1 = { roots[m1], GB_HASH_BYTES };
			struct gb_span r2 = { roots[size], GB_HASH_BYTES };

			ASSERT_EQ(gb_merkle_prove_consistency(&s, m1, size, p,
			    &n), 0);
			as_spans(p, n, sp);
			ASSERT_EQ(gb_merkle_verify_consistency(m1, size, r1, r2,
			    sp, n), 0);
			if (m1 < size) {
				struct gb_span r3 = { roots[m1 + 1],
				    GB_HASH_BYTES };

				ASSERT(gb_merkle_verify_consistency(m1 + 1,
				    size, r3, r2, sp, n) != 0);
				p[0][0] ^= 1;
				ASSERT(gb_merkle_verify_consistency(m1, size,
				    r1, r2, sp, n) != 0);
			}
		}
	}
	/* Out of range requests are refused, not answered. */
	ASSERT_EQ(gb_merkle_prove_inclusion(&s, N, N, p, &n), GB_EINVAL);
	ASSERT_EQ(gb_merkle_prove_consistency(&s, 0, N, p, &n), GB_EINVAL);
	ASSERT_EQ(gb_merkle_prove_consistency(&s, N, N - 1, p, &n), GB_EINVAL);
	ASSERT(gb_merkle_prove_inclusion(&s, 0, N + 1, p, &n) != 0);
	gb_merkle_mem_free(&m);
}

TEST_MAIN(
	T(hasher_vectors),
	T(reference_tree),
	T(exhaustive_1_to_20),
	T(inclusion_probes),
	T(consistency_probes),
	T(every_size_to_300),
)
