/*
 * Witness cosignatures and add-checkpoint requests (gb/witness.h): keys of
 * signature type 0x04, the cosignature/v1 message, and the parsers of what
 * crosses the wire between a log and its witnesses. Everything here reads
 * untrusted bytes with a cursor and an end, never past len, and never
 * allocates what a sender claims.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "gb/codec.h"
#include "gb/ed25519.h"
#include "gb/err.h"
#include "gb/witness.h"
#include "note_int.h"

#define SIG_PREFIX "\xe2\x80\x94 "      /* U+2014 EM DASH, space */
#define SIG_PREFIX_LEN 4
#define COSIG_HEADER "cosignature/v1\ntime "
/* "old " and 19 digits (2^63 - 1) and the newline. */
#define OLD_LINE_MAX 24
/* A base64 SHA-256 hash: 44 characters, one '=' of padding. */
#define HASH_B64_LEN 44

/* Printable ASCII without space or '+', 1..GB_NOTE_NAME_MAX bytes: a key
 * name any signed-note reader accepts. */
static bool
name_ok(const char *s, size_t n)
{
	if (n == 0 || n > GB_NOTE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '+')
			return false;
	return true;
}

/* Standard base64, padded, nothing else; decoded to exactly want bytes
 * into out. 0 or GB_EINVAL. */
static int
b64_exact(const char *s, size_t n, uint8_t *out, size_t want)
{
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	int rc = GB_EINVAL;

	if (n == 0 || n % 4 != 0 || n > 4 * (want / 3 + 1))
		return GB_EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		    (c == '=' && i >= n - 2 && (i == n - 1 || s[n - 1] == '='))))
			return GB_EINVAL;
	}
	if (gb_base64_decode_alloc(s, n, want, &raw, &rawlen) == 0 &&
	    rawlen == want) {
		memcpy(out, raw, want);
		rc = 0;
	}
	if (raw != NULL)
		OPENSSL_clear_free(raw, rawlen);
	return rc;
}

/* Decimal without sign or leading zeros, at most max: 0 or GB_EINVAL. */
static int
decimal(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20 || (s[0] == '0' && n > 1))
		return GB_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return GB_EINVAL;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return GB_EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int
gb_cosig_key_generate(const char *name, struct gb_cosig_key *k)
{
	memset(k, 0, sizeof *k);
	if (!name_ok(name, strlen(name)))
		return GB_EINVAL;
	strcpy(k->name, name);
	if (gb_ed25519_generate(k->seed) != 0 ||
	    gb_ed25519_public(k->seed, k->pub) != 0) {
		gb_cosig_key_clear(k);
		return GB_ECRYPTO;
	}
	k->has_seed = true;
	k->id = gb__note_key_id(k->name, GB_COSIG_TYPE, k->pub);
	return 0;
}

void
gb_cosig_key_clear(struct gb_cosig_key *k)
{
	OPENSSL_cleanse(k, sizeof *k);
}

int
gb_cosig_vkey_format(const struct gb_cosig_key *k, char **out)
{
	return gb__note_key_text("", k->name, k->id, GB_COSIG_TYPE, k->pub,
	    out);
}

int
gb_cosig_skey_format(const struct gb_cosig_key *k, char **out)
{
	*out = NULL;
	return k->has_seed ? gb__note_key_text("PRIVATE+KEY+", k->name, k->id,
	    GB_COSIG_TYPE, k->seed, out) : GB_EINVAL;
}

/* NAME+KEYID+BASE64(0x04 || KEY) into k->name, k->id and key, the name
 * held to name_ok() (ASCII), stricter than signed notes in general. */
static int
key_parse(const char *s, struct gb_cosig_key *k, uint8_t key[32])
{
	if (gb__note_key_parse(s, GB_COSIG_TYPE, k->name, &k->id, key) != 0 ||
	    !name_ok(k->name, strlen(k->name)))
		return GB_EINVAL;
	return 0;
}

int
gb_cosig_vkey_parse(const char *s, struct gb_cosig_key *k)
{
	memset(k, 0, sizeof *k);
	if (key_parse(s, k, k->pub) != 0 ||
	    gb__note_key_id(k->name, GB_COSIG_TYPE, k->pub) != k->id) {
		gb_cosig_key_clear(k);
		return GB_EINVAL;
	}
	return 0;
}

int
gb_cosig_skey_parse(const char *s, struct gb_cosig_key *k)
{
	memset(k, 0, sizeof *k);
	if (strncmp(s, "PRIVATE+KEY+", 12) != 0 ||
	    key_parse(s + 12, k, k->seed) != 0 ||
	    gb_ed25519_public(k->seed, k->pub) != 0 ||
	    gb__note_key_id(k->name, GB_COSIG_TYPE, k->pub) != k->id) {
		gb_cosig_key_clear(k);
		return GB_EINVAL;
	}
	k->has_seed = true;
	return 0;
}

/* The signed message: header, time line, then the checkpoint text. */
static int
cosig_message(const char *text, size_t len, uint64_t t, char **msg,
    size_t *msg_len)
{
	char head[64];
	int hn = snprintf(head, sizeof head, COSIG_HEADER "%" PRIu64 "\n", t);

	if (len > GB_NOTE_MAX_BYTES || (*msg = malloc((size_t)hn + len)) ==
	    NULL)
		return len > GB_NOTE_MAX_BYTES ? GB_EINVAL : GB_ENOMEM;
	memcpy(*msg, head, (size_t)hn);
	memcpy(*msg + hn, text, len);
	*msg_len = (size_t)hn + len;
	return 0;
}

int
gb_cosig_sign(const struct gb_cosig_key *k, const char *text, size_t len,
    uint64_t t, char **line)
{
	uint8_t raw[GB_COSIG_SIG_BYTES];
	char *msg = NULL, *b64 = NULL;
	size_t msg_len, n;
	int err;

	*line = NULL;
	if (!k->has_seed || t > GB_COSIG_TIME_MAX || len == 0 ||
	    text[len - 1] != '\n')
		return GB_EINVAL;
	if ((err = cosig_message(text, len, t, &msg, &msg_len)) != 0)
		return err;
	for (int i = 0; i < 4; i++)
		raw[i] = (uint8_t)(k->id >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		raw[4 + i] = (uint8_t)(t >> (56 - 8 * i));
	if ((err = gb_ed25519_sign(k->seed, msg, msg_len, raw + 12)) != 0 ||
	    (err = gb_base64_encode_alloc(raw, sizeof raw, &b64)) != 0)
		goto out;
	n = SIG_PREFIX_LEN + strlen(k->name) + 1 + strlen(b64) + 2;
	if ((*line = malloc(n)) == NULL) {
		err = GB_ENOMEM;
		goto out;
	}
	snprintf(*line, n, SIG_PREFIX "%s %s\n", k->name, b64);
out:
	free(msg);
	free(b64);
	return err;
}

int
gb_cosig_find(const struct gb_cosig_key *k, const char *text,
    size_t text_len, const char *lines, size_t lines_len, uint64_t *t,
    size_t *off, size_t *len)
{
	const char *p = lines, *end = lines + lines_len;
	unsigned count = 0;
	int rc = GB_ENOENT;

	while (p < end && rc == GB_ENOENT) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *sp;
		uint8_t raw[GB_COSIG_SIG_BYTES];
		uint64_t ts = 0;
		char *msg;
		size_t msg_len;
		bool good;

		if (nl == NULL || ++count > GB_NOTE_MAX_SIGS ||
		    (size_t)(nl - p) < SIG_PREFIX_LEN ||
		    memcmp(p, SIG_PREFIX, SIG_PREFIX_LEN) != 0)
			return GB_EINVAL;
		sp = memchr(p + SIG_PREFIX_LEN, ' ', (size_t)(nl - p -
		    SIG_PREFIX_LEN));
		if (sp == NULL || sp == p + SIG_PREFIX_LEN)
			return GB_EINVAL;
		/* Another key's line (by name, then by ID) is skipped
		 * unread beyond its shape. */
		if ((size_t)(sp - p - SIG_PREFIX_LEN) != strlen(k->name) ||
		    memcmp(p + SIG_PREFIX_LEN, k->name, strlen(k->name)) != 0 ||
		    b64_exact(sp + 1, (size_t)(nl - sp - 1), raw,
		    sizeof raw) != 0 ||
		    ((uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
		    (uint32_t)raw[2] << 8 | raw[3]) != k->id) {
			p = nl + 1;
			continue;
		}
		for (int i = 0; i < 8; i++)
			ts = ts << 8 | raw[4 + i];
		if (ts > GB_COSIG_TIME_MAX ||
		    cosig_message(text, text_len, ts, &msg, &msg_len) != 0)
			return GB_EINVAL;
		good = gb_ed25519_verify(k->pub, msg, msg_len, raw + 12);
		free(msg);
		if (!good)
			return GB_EINVAL;
		*t = ts;
		*off = (size_t)(p - lines);
		*len = (size_t)(nl + 1 - p);
		rc = 0;
	}
	return rc;
}

int
gb_witness_request_parse(const char *body, size_t len,
    struct gb_witness_request *rq, const char **why)
{
	const char *p = body, *end = body + len, *nl;

	memset(rq, 0, sizeof *rq);
	if (len > GB_WITNESS_BODY_MAX) {
		*why = "the body is larger than a request can be";
		return GB_EINVAL;
	}
	nl = memchr(p, '\n', (size_t)(end - p) < OLD_LINE_MAX ?
	    (size_t)(end - p) : OLD_LINE_MAX);
	if (nl == NULL || nl - p < 4 || memcmp(p, "old ", 4) != 0 ||
	    decimal(p + 4, (size_t)(nl - p - 4), INT64_MAX,
	    &rq->old_size) != 0) {
		*why = "the first line is not \"old SIZE\" (decimal, no "
		    "leading zeros)";
		return GB_EINVAL;
	}
	p = nl + 1;
	for (;;) {
		if (p == end) {
			*why = "no empty line before the checkpoint";
			return GB_EINVAL;
		}
		if (*p == '\n') {
			p++;
			break;
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			*why = "no empty line before the checkpoint";
			return GB_EINVAL;
		}
		if (rq->nproof == GB_WITNESS_PROOF_MAX) {
			*why = "more than 63 consistency proof lines";
			return GB_EINVAL;
		}
		if (nl - p != HASH_B64_LEN || b64_exact(p, HASH_B64_LEN,
		    rq->proof[rq->nproof], GB_HASH_BYTES) != 0) {
			*why = "a consistency proof line is not one base64 "
			    "SHA-256 hash";
			return GB_EINVAL;
		}
		rq->nproof++;
		p = nl + 1;
	}
	if (p == end) {
		*why = "no checkpoint after the empty line";
		return GB_EINVAL;
	}
	rq->note = p;
	rq->note_len = (size_t)(end - p);
	return 0;
}

int
gb_witness_checkpoint_parse(const char *text, size_t len,
    struct gb_checkpoint *c)
{
	const char *end = text + len, *l1, *l2, *l3;

	memset(c, 0, sizeof *c);
	if (len == 0 || text[len - 1] != '\n' ||
	    (l1 = memchr(text, '\n', len)) == NULL ||
	    (l2 = memchr(l1 + 1, '\n', (size_t)(end - l1 - 1))) == NULL ||
	    (l3 = memchr(l2 + 1, '\n', (size_t)(end - l2 - 1))) == NULL)
		return GB_EINVAL;
	/* Extension lines: each non-empty. */
	for (const char *p = l3 + 1; p < end; p++)
		if (*p == '\n' && p[-1] == '\n')
			return GB_EINVAL;
	/* The first three lines are what gb_checkpoint_parse() reads. */
	return gb_checkpoint_parse(text, (size_t)(l3 + 1 - text), c);
}

int
gb_witness_size_parse(const char *body, size_t len, uint64_t *size)
{
	if (len < 2 || body[len - 1] != '\n')
		return GB_EINVAL;
	return decimal(body, len - 1, INT64_MAX, size);
}
