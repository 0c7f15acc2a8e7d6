/*
 * C2SP signed notes and tlog checkpoints (gb/note.h).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>
#include <openssl/crypto.h>

#include "gb/codec.h"
#include "gb/ed25519.h"
#include "gb/err.h"
#include "gb/note.h"
#include "note_int.h"

#define ALG_ED25519 0x01
#define SIG_PREFIX "\xe2\x80\x94 "      /* U+2014 EM DASH, space */
#define SIG_PREFIX_LEN 4

/* Length of the UTF-8 sequence at p[0..n), or 0 if it is not well formed
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* Well-formed UTF-8 without control characters other than newline (and
 * without DEL). */
static bool
text_ok(const char *s, size_t n, bool newlines)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0, k; i < n; i += k) {
		if ((p[i] < 0x20 && !(newlines && p[i] == '\n')) || p[i] == 0x7f)
			return false;
		if ((k = utf8_len(p + i, n - i)) == 0)
			return false;
	}
	return true;
}

/* Key names: non-empty UTF-8, no spaces, no '+', no control characters.
 * (Of the Unicode spaces, the ASCII ones are the ones that occur.) */
static bool
name_ok(const char *s, size_t n)
{
	if (n == 0 || n > GB_NOTE_NAME_MAX || !text_ok(s, n, false))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == ' ' || s[i] == '+')
			return false;
	/* U+00A0, U+2000..U+200A and U+3000 are spaces too. */
	for (size_t i = 0; i + 1 < n; i++) {
		const unsigned char *u = (const unsigned char *)s + i;

		if ((u[0] == 0xc2 && u[1] == 0xa0) || (i + 2 < n &&
		    ((u[0] == 0xe2 && u[1] == 0x80 && u[2] <= 0x8a) ||
		    (u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x80))))
			return false;
	}
	return true;
}

uint32_t
gb__note_key_id(const char *name, uint8_t type, const uint8_t pub[32])
{
	const uint8_t sep[2] = { '\n', type };
	struct sha256_ctx c;
	uint8_t md[32];

	sha256_init(&c);
	sha256_update(&c, strlen(name), (const uint8_t *)name);
	sha256_update(&c, sizeof sep, sep);
	sha256_update(&c, 32, pub);
	sha256_digest(&c, sizeof md, md);
	return (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 |
	    (uint32_t)md[2] << 8 | md[3];
}

/* Strict standard base64: the alphabet, padded to a multiple of four. */
static int
b64_strict(const char *s, size_t n, size_t max, uint8_t **out, size_t *len)
{
	if (n == 0 || n % 4 != 0)
		return GB_EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		    (c == '=' && i >= n - 2)))
			return GB_EINVAL;
	}
	return gb_base64_decode_alloc(s, n, max, out, len);
}

int
gb_note_key_generate(const char *name, struct gb_note_key *k)
{
	memset(k, 0, sizeof *k);
	if (!name_ok(name, strlen(name)))
		return GB_EINVAL;
	strcpy(k->name, name);
	if (gb_ed25519_generate(k->seed) != 0 ||
	    gb_ed25519_public(k->seed, k->pub) != 0) {
		gb_note_key_clear(k);
		return GB_ECRYPTO;
	}
	k->has_seed = true;
	k->id = gb__note_key_id(k->name, ALG_ED25519, k->pub);
	return 0;
}

void
gb_note_key_clear(struct gb_note_key *k)
{
	OPENSSL_cleanse(k, sizeof *k);
}

int
gb__note_key_text(const char *prefix, const char *name, uint32_t id,
    uint8_t type, const uint8_t key[32], char **out)
{
	uint8_t raw[33];
	char *b64 = NULL;
	size_t n;
	int err;

	*out = NULL;
	raw[0] = type;
	memcpy(raw + 1, key, 32);
	err = gb_base64_encode_alloc(raw, sizeof raw, &b64);
	OPENSSL_cleanse(raw, sizeof raw);
	if (err != 0)
		return err;
	n = strlen(prefix) + strlen(name) + 10 + strlen(b64) + 1;
	if ((*out = malloc(n)) == NULL) {
		OPENSSL_clear_free(b64, strlen(b64));
		return GB_ENOMEM;
	}
	snprintf(*out, n, "%s%s+%08" PRIx32 "+%s", prefix, name, id, b64);
	OPENSSL_clear_free(b64, strlen(b64));
	return 0;
}

int
gb_note_vkey_format(const struct gb_note_key *k, char **out)
{
	return gb__note_key_text("", k->name, k->id, ALG_ED25519, k->pub, out);
}

int
gb_note_skey_format(const struct gb_note_key *k, char **out)
{
	return k->has_seed ? gb__note_key_text("PRIVATE+KEY+", k->name, k->id,
	    ALG_ED25519, k->seed, out) : GB_EINVAL;
}

int
gb__note_key_parse(const char *s, uint8_t type,
    char name[GB_NOTE_NAME_MAX + 1], uint32_t *id, uint8_t key[32])
{
	const char *p1 = strchr(s, '+'), *p2;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	char *end;
	unsigned long v;
	int err = GB_EINVAL;

	if (p1 == NULL || (p2 = strchr(p1 + 1, '+')) == NULL ||
	    !name_ok(s, (size_t)(p1 - s)) || p2 - p1 != 9)
		return GB_EINVAL;
	for (const char *h = p1 + 1; h < p2; h++)
		if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f')))
			return GB_EINVAL;
	v = strtoul(p1 + 1, &end, 16);
	if (end != p2 ||
	    b64_strict(p2 + 1, strlen(p2 + 1), 64, &raw, &rawlen) != 0)
		return GB_EINVAL;
	if (rawlen == 33 && raw[0] == type) {
		memcpy(name, s, (size_t)(p1 - s));
		name[p1 - s] = '\0';
		memcpy(key, raw + 1, 32);
		*id = (uint32_t)v;
		err = 0;
	}
	OPENSSL_clear_free(raw, rawlen);
	return err;
}

int
gb_note_vkey_parse(const char *s, struct gb_note_key *k)
{
	memset(k, 0, sizeof *k);
	if (gb__note_key_parse(s, ALG_ED25519, k->name, &k->id, k->pub) != 0 ||
	    gb__note_key_id(k->name, ALG_ED25519, k->pub) != k->id) {
		gb_note_key_clear(k);
		return GB_EINVAL;
	}
	return 0;
}

int
gb_note_skey_parse(const char *s, struct gb_note_key *k)
{
	uint32_t id;

	memset(k, 0, sizeof *k);
	if (strncmp(s, "PRIVATE+KEY+", 12) != 0 ||
	    gb__note_key_parse(s + 12, ALG_ED25519, k->name, &k->id,
	    k->seed) != 0)
		goto bad;
	id = k->id;
	k->has_seed = true;
	if (gb_ed25519_public(k->seed, k->pub) != 0 ||
	    gb__note_key_id(k->name, ALG_ED25519, k->pub) != id)
		goto bad;
	return 0;
bad:
	gb_note_key_clear(k);
	return GB_EINVAL;
}

/* Note text: non-empty, ends with a newline, valid characters. */
static bool
note_text_ok(const char *text, size_t len)
{
	return len > 0 && text[len - 1] == '\n' && text_ok(text, len, true);
}

int
gb_note_sign(const char *text, size_t len, const struct gb_note_key *k,
    char **out, size_t *out_len)
{
	uint8_t raw[4 + GB_ED25519_SIG_BYTES];
	char *b64 = NULL, *note;
	size_t n;
	int err;

	*out = NULL;
	if (!k->has_seed || !note_text_ok(text, len) ||
	    len > GB_NOTE_MAX_BYTES / 2)
		return GB_EINVAL;
	raw[0] = (uint8_t)(k->id >> 24);
	raw[1] = (uint8_t)(k->id >> 16);
	raw[2] = (uint8_t)(k->id >> 8);
	raw[3] = (uint8_t)k->id;
	if ((err = gb_ed25519_sign(k->seed, text, len, raw + 4)) != 0 ||
	    (err = gb_base64_encode_alloc(raw, sizeof raw, &b64)) != 0)
		return err;
	n = len + 1 + SIG_PREFIX_LEN + strlen(k->name) + 1 + strlen(b64) + 1;
	if ((note = malloc(n + 1)) == NULL) {
		free(b64);
		return GB_ENOMEM;
	}
	memcpy(note, text, len);
	snprintf(note + len, n + 1 - len, "\n" SIG_PREFIX "%s %s\n", k->name,
	    b64);
	free(b64);
	*out = note;
	*out_len = n;
	return 0;
}

static int
refuse(struct gb_note_opened *out, const char *why)
{
	out->error = why;
	return GB_EINVAL;
}

int
gb_note_open(const char *note, size_t len, const struct gb_note_key *keys,
    size_t nkeys, struct gb_note_opened *out)
{
	const char *blank, *p, *end = note + len;
	uint32_t seen[GB_NOTE_MAX_SIGS];
	unsigned nseen = 0;

	memset(out, 0, sizeof *out);
	if (len > GB_NOTE_MAX_BYTES)
		return refuse(out, "the note is larger than its limit");
	if (len < 2)
		return refuse(out, "no blank line before the signatures");
	/* The text ends at the last blank line: signature lines are never
	 * empty. */
	for (blank = end - 1; blank > note && !(blank[-1] == '\n' &&
	    blank[0] == '\n'); blank--)
		;
	if (blank <= note)
		return refuse(out, "no blank line before the signatures");
	blank--;
	out->text_len = (size_t)(blank - note) + 1;
	if (!note_text_ok(note, out->text_len))
		return refuse(out, "the text is empty or has characters "
		    "notes may not have");
	p = blank + 2;
	if (p == end)
		return refuse(out, "no signature lines");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *sp;
		const struct gb_note_key *k = NULL;
		char name[GB_NOTE_NAME_MAX + 1];
		uint8_t *raw = NULL;
		size_t rawlen = 0;
		uint32_t id;
		bool good;

		if (nl == NULL)
			return refuse(out, "a signature line lacks its newline");
		if (nseen == GB_NOTE_MAX_SIGS)
			return refuse(out, "more signatures than the limit");
		if ((size_t)(nl - p) < SIG_PREFIX_LEN ||
		    memcmp(p, SIG_PREFIX, SIG_PREFIX_LEN) != 0)
			return refuse(out, "a line after the signatures is not "
			    "a signature line");
		p += SIG_PREFIX_LEN;
		for (sp = nl; sp > p && sp[-1] != ' '; sp--)
			;
		if (sp == p || !name_ok(p, (size_t)(sp - 1 - p)))
			return refuse(out, "a signature line has a bad key "
			    "name");
		memcpy(name, p, (size_t)(sp - 1 - p));
		name[sp - 1 - p] = '\0';
		if (b64_strict(sp, (size_t)(nl - sp), 1024, &raw, &rawlen) != 0)
			return refuse(out, "a signature is not base64");
		if (rawlen < 5) {
			free(raw);
			return refuse(out, "a signature is too short");
		}
		id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
		    (uint32_t)raw[2] << 8 | raw[3];
		for (unsigned i = 0; i < nseen; i++)
			if (seen[i] == id) {
				free(raw);
				return refuse(out, "two signatures with the "
				    "same key ID");
			}
		seen[nseen++] = id;
		for (size_t i = 0; i < nkeys && k == NULL; i++)
			if (keys[i].id == id && strcmp(keys[i].name, name) == 0)
				k = &keys[i];
		if (k == NULL) {
			out->unverified++;
		} else {
			good = rawlen == 4 + GB_ED25519_SIG_BYTES &&
			    gb_ed25519_verify(k->pub, note, out->text_len,
			    raw + 4);
			if (!good) {
				free(raw);
				return refuse(out, "a signature by a known key "
				    "does not verify");
			}
			out->verified++;
		}
		free(raw);
		p = nl + 1;
	}
	if (out->verified == 0)
		return refuse(out, "no signature by a known key");
	return 0;
}

int
gb_checkpoint_format(const struct gb_checkpoint *c, char **out)
{
	char *b64 = NULL;
	size_t n;
	int err;

	if (!name_ok(c->origin, strlen(c->origin)))
		return GB_EINVAL;
	if ((err = gb_base64_encode_alloc(c->root, GB_HASH_BYTES, &b64)) != 0)
		return err;
	n = strlen(c->origin) + 1 + 20 + 1 + strlen(b64) + 2;
	if ((*out = malloc(n)) == NULL) {
		free(b64);
		return GB_ENOMEM;
	}
	snprintf(*out, n, "%s\n%" PRIu64 "\n%s\n", c->origin, c->size, b64);
	free(b64);
	return 0;
}

int
gb_checkpoint_parse(const char *text, size_t len, struct gb_checkpoint *c)
{
	const char *l1, *l2, *l3, *end = text + len;
	uint8_t *root = NULL;
	size_t rlen = 0;
	uint64_t size = 0;

	memset(c, 0, sizeof *c);
	if ((l1 = memchr(text, '\n', len)) == NULL ||
	    (l2 = memchr(l1 + 1, '\n', (size_t)(end - l1 - 1))) == NULL ||
	    (l3 = memchr(l2 + 1, '\n', (size_t)(end - l2 - 1))) == NULL ||
	    l3 + 1 != end)
		return GB_EINVAL;
	if (!name_ok(text, (size_t)(l1 - text)))
		return GB_EINVAL;
	/* Decimal, no sign, no leading zero, no overflow. */
	if (l2 == l1 + 1 || (l1[1] == '0' && l2 != l1 + 2))
		return GB_EINVAL;
	for (const char *d = l1 + 1; d < l2; d++) {
		if (*d < '0' || *d > '9' || size > (UINT64_MAX - 9) / 10)
			return GB_EINVAL;
		size = size * 10 + (uint64_t)(*d - '0');
	}
	if (b64_strict(l2 + 1, (size_t)(l3 - l2 - 1), 64, &root, &rlen) != 0)
		return GB_EINVAL;
	if (rlen != GB_HASH_BYTES) {
		free(root);
		return GB_EINVAL;
	}
	memcpy(c->origin, text, (size_t)(l1 - text));
	c->size = size;
	memcpy(c->root, root, GB_HASH_BYTES);
	free(root);
	return 0;
}

struct gb_checkpoint_verifier {
	struct gb_note_key key;
	pthread_mutex_t mu;
	char *note;                     /* the last note that opened, or NULL */
	size_t len;
	struct gb_checkpoint c;         /* its checkpoint */
};

int
gb_checkpoint_verifier_new(const char *vkey,
    struct gb_checkpoint_verifier **out)
{
	struct gb_checkpoint_verifier *v;

	if ((v = calloc(1, sizeof *v)) == NULL)
		return GB_ENOMEM;
	if (gb_note_vkey_parse(vkey, &v->key) != 0) {
		free(v);
		return GB_EINVAL;
	}
	if (pthread_mutex_init(&v->mu, NULL) != 0) {
		free(v);
		return GB_ENOMEM;
	}
	*out = v;
	return 0;
}

const struct gb_note_key *
gb_checkpoint_verifier_key(const struct gb_checkpoint_verifier *v)
{
	return &v->key;
}

int
gb_checkpoint_verifier_open(struct gb_checkpoint_verifier *v,
    const char *note, size_t len, struct gb_checkpoint *c)
{
	struct gb_note_opened o;
	struct gb_checkpoint fresh;
	char *copy;
	bool same;

	pthread_mutex_lock(&v->mu);
	same = v->note != NULL && v->len == len &&
	    memcmp(v->note, note, len) == 0;
	if (same)
		*c = v->c;
	pthread_mutex_unlock(&v->mu);
	if (same)
		return 0;
	/* Checked outside the lock: other threads keep the old memo
	 * meanwhile. */
	if (gb_note_open(note, len, &v->key, 1, &o) != 0 ||
	    gb_checkpoint_parse(note, o.text_len, &fresh) != 0)
		return GB_EINVAL;
	*c = fresh;
	/* Out of memory, the note is still good; it is not remembered. */
	if ((copy = malloc(len + 1)) == NULL)
		return 0;
	memcpy(copy, note, len);
	copy[len] = '\0';
	pthread_mutex_lock(&v->mu);
	free(v->note);
	v->note = copy;
	v->len = len;
	v->c = fresh;
	pthread_mutex_unlock(&v->mu);
	return 0;
}

void
gb_checkpoint_verifier_free(struct gb_checkpoint_verifier *v)
{
	if (v == NULL)
		return;
	pthread_mutex_destroy(&v->mu);
	free(v->note);
	gb_note_key_clear(&v->key);
	free(v);
}
