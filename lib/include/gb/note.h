/*
 * C2SP signed notes with Ed25519 keys (c2sp.org/signed-note), and the
 * transparency log checkpoints written as such notes (c2sp.org/tlog-checkpoint).
 *
 * A note is its text (non-empty UTF-8 ending in a newline, no control
 * characters but newline), a blank line, and signature lines
 * "\u2014 NAME BASE64(KEYID[4] || SIGNATURE)\n". KEYID is the first four bytes
 * of SHA-256(NAME || "\n" || 0x01 || PUBLIC_KEY[32]).
 */
#ifndef GB_NOTE_H
#define GB_NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gb/merkle.h"

#define GB_NOTE_MAX_BYTES 65536 /* a whole note */
#define GB_NOTE_MAX_SIGS 100    /* signature lines in one note */
#define GB_NOTE_NAME_MAX 255    /* bytes of a key name */

struct gb_note_key {
	char name[GB_NOTE_NAME_MAX + 1];
	uint32_t id;
	uint8_t pub[32];
	bool has_seed;
	uint8_t seed[32];         /* the private key, if has_seed */
};

/* A new key named name; returns 0, GB_EINVAL (bad name) or GB_ECRYPTO. */
int gb_note_key_generate(const char *name, struct gb_note_key *k);

/* "NAME+KEYID+BASE64(0x01 || PUB)" (verifier key) and
 * "PRIVATE+KEY+NAME+KEYID+BASE64(0x01 || SEED)" (signer key), as new strings
 * (from malloc()). */
int gb_note_vkey_format(const struct gb_note_key *k, char **out);
int gb_note_skey_format(const struct gb_note_key *k, char **out);

/* Parse either form; the key ID must match the name and key. Returns 0 or
 * GB_EINVAL. gb_note_key_clear() wipes the seed. */
int gb_note_vkey_parse(const char *s, struct gb_note_key *k);
int gb_note_skey_parse(const char *s, struct gb_note_key *k);
void gb_note_key_clear(struct gb_note_key *k);

/* Signs text (which must be valid note text) into a note with one
 * signature: *out (from malloc(), NUL-terminated), *out_len bytes. */
int gb_note_sign(const char *text, size_t len, const struct gb_note_key *k,
    char **out, size_t *out_len);

/* What gb_note_open() found. */
struct gb_note_opened {
	size_t text_len;          /* the text is note[0 .. text_len) */
	unsigned verified;        /* signatures by the keys given, all good */
	unsigned unverified;      /* signatures by other keys, not checked */
	const char *error;        /* why it was refused, or NULL */
};

/*
 * Parses a note and checks the signatures made by any of keys (matched by
 * name and key ID). Returns 0 when the note is well formed, no signature by
 * a known key fails, and at least one verifies; otherwise GB_EINVAL with
 * out->error saying why.
 */
int gb_note_open(const char *note, size_t len, const struct gb_note_key *keys,
    size_t nkeys, struct gb_note_opened *out);

/* A checkpoint's body: origin, tree size, root hash, each on a line, then
 * any extension lines (which we never write and refuse to read). */
struct gb_checkpoint {
	char origin[GB_NOTE_NAME_MAX + 1];
	uint64_t size;
	uint8_t root[GB_HASH_BYTES];
};

/* The checkpoint text (new string, from malloc()). */
int gb_checkpoint_format(const struct gb_checkpoint *c, char **out);

/* Parses checkpoint text (the text of an opened note). Returns 0 or
 * GB_EINVAL. */
int gb_checkpoint_parse(const char *text, size_t len, struct gb_checkpoint *c);

#endif /* GB_NOTE_H */
