/*
 * The strict CBOR cursor (see cbor_int.h). libcbor decodes each item head and
 * reports it through callbacks; this file turns those into struct
 * gb__cbor_item values and adds what a strict reader of signed documents
 * needs: depth limits, duplicate-key detection, well-formed indefinite
 * strings, and for a reader that wants none (attestation documents, see
 * doc.c), the refusal of indefinite strings altogether.
 */
#include <string.h>

#include <cbor.h>

#include "cbor_int.h"

struct decode_ctx {
	struct gb__cbor_item *it;
	bool bad;               /* a head libcbor decodes but we do not accept */
};

#define CTX ((struct decode_ctx *)vctx)

static void
on_uint(void *vctx, uint64_t v)
{
	CTX->it->type = GB__CB_UINT;
	CTX->it->val = v;
}

static void on_u8(void *c, uint8_t v) { on_uint(c, v); }
static void on_u16(void *c, uint16_t v) { on_uint(c, v); }
static void on_u32(void *c, uint32_t v) { on_uint(c, v); }

static void
on_nint(void *vctx, uint64_t v)
{
	CTX->it->type = GB__CB_NINT;
	CTX->it->val = v;
}

static void on_n8(void *c, uint8_t v) { on_nint(c, v); }
static void on_n16(void *c, uint16_t v) { on_nint(c, v); }
static void on_n32(void *c, uint32_t v) { on_nint(c, v); }

static void
on_bytes(void *vctx, cbor_data p, size_t n)
{
	CTX->it->type = GB__CB_BYTES;
	CTX->it->ptr = p;
	CTX->it->len = n;
}

static void
on_text(void *vctx, cbor_data p, size_t n)
{
	CTX->it->type = GB__CB_TEXT;
	CTX->it->ptr = p;
	CTX->it->len = n;
}

static void on_bytes_indef(void *vctx) { CTX->it->type = GB__CB_BYTES_INDEF; }
static void on_text_indef(void *vctx) { CTX->it->type = GB__CB_TEXT_INDEF; }
static void on_array_indef(void *vctx) { CTX->it->type = GB__CB_ARRAY_INDEF; }
static void on_map_indef(void *vctx) { CTX->it->type = GB__CB_MAP_INDEF; }
static void on_break(void *vctx) { CTX->it->type = GB__CB_BREAK; }
static void on_null(void *vctx) { CTX->it->type = GB__CB_NULL; }
static void on_undef(void *vctx) { CTX->it->type = GB__CB_UNDEF; }

static void
on_array(void *vctx, size_t n)
{
	CTX->it->type = GB__CB_ARRAY;
	CTX->it->val = n;
}

static void
on_map(void *vctx, size_t n)
{
	CTX->it->type = GB__CB_MAP;
	CTX->it->val = n;
}

static void
on_tag(void *vctx, uint64_t v)
{
	CTX->it->type = GB__CB_TAG;
	CTX->it->val = v;
}

static void
on_bool(void *vctx, bool b)
{
	CTX->it->type = b ? GB__CB_TRUE : GB__CB_FALSE;
}

static void
on_float(void *vctx, float f)
{
	(void)f;
	CTX->it->type = GB__CB_FLOAT;
}

static void
on_double(void *vctx, double d)
{
	(void)d;
	CTX->it->type = GB__CB_FLOAT;
}

#undef CTX

static const struct cbor_callbacks callbacks = {
	.uint8 = on_u8, .uint16 = on_u16, .uint32 = on_u32, .uint64 = on_uint,
	.negint8 = on_n8, .negint16 = on_n16, .negint32 = on_n32,
	.negint64 = on_nint,
	.byte_string_start = on_bytes_indef, .byte_string = on_bytes,
	.string = on_text, .string_start = on_text_indef,
	.indef_array_start = on_array_indef, .array_start = on_array,
	.indef_map_start = on_map_indef, .map_start = on_map,
	.tag = on_tag,
	.float2 = on_float, .float4 = on_float, .float8 = on_double,
	.undefined = on_undef, .null = on_null, .boolean = on_bool,
	.indef_break = on_break,
};

void
gb__cbor_init(struct gb__cbor_cur *c, const uint8_t *buf, size_t len)
{
	c->p = buf;
	c->end = buf + len;
	c->why = NULL;
	c->definite_strings = false;
}

static int
fail(struct gb__cbor_cur *c, const char *why)
{
	if (c->why == NULL)
		c->why = why;
	return -1;
}

int
gb__cbor_next(struct gb__cbor_cur *c, struct gb__cbor_item *it)
{
	struct decode_ctx ctx = { .it = it, .bad = false };
	struct cbor_decoder_result r;
	size_t left = (size_t)(c->end - c->p);

	if (left == 0)
		return fail(c, "truncated CBOR item");
	memset(it, 0, sizeof *it);
	it->start = c->p;
	/* libcbor 0.8 treats the one-byte tag heads 0xc6..0xd4 as reserved,
	 * but RFC 8949 assigns them, and 0xd2 is COSE_Sign1 (tag 18). */
	if (*c->p >= 0xc0 && *c->p <= 0xd7) {
		it->type = GB__CB_TAG;
		it->val = *c->p - 0xc0u;
		c->p++;
		return 0;
	}
	it->type = (enum gb__cbor_type)-1;
	r = cbor_stream_decode(c->p, left, &callbacks, &ctx);
	switch (r.status) {
	case CBOR_DECODER_FINISHED:
		break;
	case CBOR_DECODER_NEDATA:
		return fail(c, "truncated CBOR item");
	default:
		return fail(c, "invalid CBOR item head");
	}
	if (ctx.bad || it->type == (enum gb__cbor_type)-1 || r.read == 0 ||
	    r.read > left)
		return fail(c, "invalid CBOR item head");
	if (c->definite_strings && (it->type == GB__CB_BYTES_INDEF ||
	    it->type == GB__CB_TEXT_INDEF))
		return fail(c, "indefinite-length (chunked) byte or text "
		    "string; only definite-length strings are accepted");
	c->p += r.read;
	return 0;
}

/* The chunks of an indefinite string must be definite strings of the same
 * major type (RFC 8949 3.2.3). */
static int
skip_chunks(struct gb__cbor_cur *c, enum gb__cbor_type chunk)
{
	struct gb__cbor_item it;

	for (;;) {
		if (gb__cbor_next(c, &it) != 0)
			return -1;
		if (it.type == GB__CB_BREAK)
			return 0;
		if (it.type != chunk)
			return fail(c, "bad chunk in indefinite-length string");
	}
}

int
gb__cbor_skip(struct gb__cbor_cur *c, const struct gb__cbor_item *it, int depth)
{
	struct gb__cbor_item key;

	if (depth > GB_MAX_DEPTH)
		return fail(c, "CBOR nesting too deep");
	switch (it->type) {
	case GB__CB_BYTES_INDEF:
		return skip_chunks(c, GB__CB_BYTES);
	case GB__CB_TEXT_INDEF:
		return skip_chunks(c, GB__CB_TEXT);
	case GB__CB_TAG:
		return gb__cbor_skip_item(c, depth + 1);
	case GB__CB_ARRAY:
	case GB__CB_ARRAY_INDEF: {
		struct gb__cbor_array a;
		int more;

		gb__cbor_array_begin(&a, c, it);
		while ((more = gb__cbor_array_more(&a)) == 1)
			if (gb__cbor_skip_item(c, depth + 1) != 0)
				return -1;
		return more;
	}
	case GB__CB_MAP:
	case GB__CB_MAP_INDEF: {
		/* Large (2 KiB): skipping maps recurses at most GB_MAX_DEPTH. */
		struct gb__cbor_map m;
		int more;

		if (gb__cbor_map_begin(&m, c, it) != 0)
			return -1;
		while ((more = gb__cbor_map_key(&m, &key)) == 1)
			if (gb__cbor_skip_item(c, depth + 1) != 0)
				return -1;
		return more;
	}
	case GB__CB_BREAK:
		return fail(c, "unexpected break");
	default:
		return 0;
	}
}

int
gb__cbor_skip_item(struct gb__cbor_cur *c, int depth)
{
	struct gb__cbor_item it;

	if (depth > GB_MAX_DEPTH)
		return fail(c, "CBOR nesting too deep");
	if (gb__cbor_next(c, &it) != 0)
		return -1;
	return gb__cbor_skip(c, &it, depth);
}

int
gb__cbor_map_begin(struct gb__cbor_map *m, struct gb__cbor_cur *c,
    const struct gb__cbor_item *head)
{
	m->c = c;
	m->indef = head->type == GB__CB_MAP_INDEF;
	m->left = head->val;
	m->n = 0;
	if (!m->indef && m->left > GB_CBOR_MAP_MAX_PAIRS)
		return fail(c, "CBOR map has too many pairs");
	return 0;
}

static bool
same_key(const struct gb__cbor_item *a, const struct gb__cbor_item *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == GB__CB_UINT || a->type == GB__CB_NINT)
		return a->val == b->val;
	return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

int
gb__cbor_map_key(struct gb__cbor_map *m, struct gb__cbor_item *key)
{
	struct gb__cbor_cur *c = m->c;

	if (!m->indef) {
		if (m->left == 0)
			return 0;
		m->left--;
	}
	if (gb__cbor_next(c, key) != 0)
		return -1;
	if (key->type == GB__CB_BREAK && m->indef)
		return 0;
	switch (key->type) {
	case GB__CB_UINT:
	case GB__CB_NINT:
	case GB__CB_TEXT:
	case GB__CB_BYTES:
		break;
	default:
		return fail(c, "unsupported CBOR map key type");
	}
	if (m->n == GB_CBOR_MAP_MAX_PAIRS)
		return fail(c, "CBOR map has too many pairs");
	for (size_t i = 0; i < m->n; i++)
		if (same_key(&m->keys[i], key))
			return fail(c, "duplicate CBOR map key");
	m->keys[m->n++] = *key;
	return 1;
}

void
gb__cbor_array_begin(struct gb__cbor_array *a, struct gb__cbor_cur *c,
    const struct gb__cbor_item *head)
{
	a->c = c;
	a->indef = head->type == GB__CB_ARRAY_INDEF;
	a->left = head->val;
}

int
gb__cbor_array_more(struct gb__cbor_array *a)
{
	struct gb__cbor_cur *c = a->c;

	if (!a->indef) {
		if (a->left == 0)
			return 0;
		/* Every element takes at least one byte: a count larger than
		 * the input left cannot be honest. */
		if (a->left > (uint64_t)(c->end - c->p))
			return fail(c, "truncated CBOR array");
		a->left--;
		return 1;
	}
	if (c->p == c->end)
		return fail(c, "truncated CBOR array");
	if (*c->p == 0xff) {
		c->p++;
		return 0;
	}
	return 1;
}

bool
gb__cbor_text_is(const struct gb__cbor_item *it, const char *s)
{
	size_t n = strlen(s);

	return it->type == GB__CB_TEXT && it->len == n &&
	    memcmp(it->ptr, s, n) == 0;
}
