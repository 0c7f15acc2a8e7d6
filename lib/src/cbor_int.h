/*
 * A strict, allocation-free CBOR cursor over libcbor's streaming decoder.
 *
 * gb__cbor_next() decodes one item head at a time (libcbor checks that every
 * claimed length is present in the input before reporting it); the helpers
 * here walk arrays and maps, reject duplicate map keys and unsupported key
 * types, and bound nesting by GB_MAX_DEPTH. Nothing is allocated, so a length
 * claim can never turn into an allocation.
 */
#ifndef GB_CBOR_INT_H
#define GB_CBOR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gb/limits.h"

enum gb__cbor_type {
	GB__CB_UINT,
	GB__CB_NINT,          /* value is -1 - val */
	GB__CB_BYTES,
	GB__CB_TEXT,
	GB__CB_BYTES_INDEF,   /* chunks follow, then a break */
	GB__CB_TEXT_INDEF,
	GB__CB_ARRAY,
	GB__CB_ARRAY_INDEF,
	GB__CB_MAP,
	GB__CB_MAP_INDEF,
	GB__CB_TAG,
	GB__CB_FALSE,
	GB__CB_TRUE,
	GB__CB_NULL,
	GB__CB_UNDEF,
	GB__CB_FLOAT,
	GB__CB_BREAK,
};

struct gb__cbor_item {
	enum gb__cbor_type type;
	uint64_t val;           /* integer, count of a definite collection, tag */
	const uint8_t *ptr;     /* definite string content (borrowed) */
	size_t len;
	const uint8_t *start;   /* first byte of the item's head */
};

struct gb__cbor_cur {
	const uint8_t *p;       /* next byte to decode (borrowed) */
	const uint8_t *end;
	const char *why;        /* static text saying why decoding failed */
	bool definite_strings;  /* refuse indefinite-length (chunked) byte
	                         * and text strings (false after init) */
};

/* Positions a cursor on [buf, buf + len). */
void gb__cbor_init(struct gb__cbor_cur *c, const uint8_t *buf, size_t len);

/* Decodes the next item head. Returns 0, or -1 with c->why set. */
int gb__cbor_next(struct gb__cbor_cur *c, struct gb__cbor_item *it);

/* Skips the body of an item whose head was just read (children of arrays,
 * maps and tags, chunks of indefinite strings). depth is the item's own
 * nesting level. Returns 0, or -1 with c->why set. */
int gb__cbor_skip(struct gb__cbor_cur *c, const struct gb__cbor_item *it,
    int depth);

/* Reads and skips one whole item. */
int gb__cbor_skip_item(struct gb__cbor_cur *c, int depth);

/* Walking a map: after gb__cbor_map_begin() on a map head, each call to
 * gb__cbor_map_key() reads one key (into *key) and leaves the cursor on its
 * value, which the caller must consume; it returns 1 for a key, 0 at the end,
 * -1 on error (duplicate key, key of another type than integer, text or byte
 * string, too many pairs, malformed input). */
struct gb__cbor_map {
	struct gb__cbor_cur *c;
	bool indef;
	uint64_t left;          /* definite maps: pairs still to read */
	size_t n;               /* keys seen */
	struct gb__cbor_item keys[GB_CBOR_MAP_MAX_PAIRS];
};

int gb__cbor_map_begin(struct gb__cbor_map *m, struct gb__cbor_cur *c,
    const struct gb__cbor_item *head);
int gb__cbor_map_key(struct gb__cbor_map *m, struct gb__cbor_item *key);

/* Walking an array: gb__cbor_array_more() returns 1 if an element follows
 * (the cursor is on it), 0 at the end (consuming the break of an indefinite
 * array), -1 on error. */
struct gb__cbor_array {
	struct gb__cbor_cur *c;
	bool indef;
	uint64_t left;
};

void gb__cbor_array_begin(struct gb__cbor_array *a, struct gb__cbor_cur *c,
    const struct gb__cbor_item *head);
int gb__cbor_array_more(struct gb__cbor_array *a);

/* True if a text item equals the NUL-terminated string s. */
bool gb__cbor_text_is(const struct gb__cbor_item *it, const char *s);

#endif /* GB_CBOR_INT_H */
