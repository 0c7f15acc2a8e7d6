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

/*
 * A log's checkpoints opened with one verifier key, parsed once: the key
 * text is parsed when the object is made, and the last checkpoint that
 * opened is remembered by its exact bytes, so that a service reading the
 * same latest checkpoint on every request checks its signature (an
 * Ed25519 verification, about 115 us) only when it changes. Any number of
 * threads may use one object at the same time (a mutex guards the memo).
 */
struct gb_checkpoint_verifier;

/* Parses vkey ("NAME+KEYID+BASE64", as gb_note_vkey_parse()). Returns 0 and
 * a new object, GB_EINVAL (bad key) or GB_ENOMEM. */
int gb_checkpoint_verifier_new(const char *vkey,
    struct gb_checkpoint_verifier **out);

/* The parsed key. */
const struct gb_note_key *gb_checkpoint_verifier_key(
    const struct gb_checkpoint_verifier *v);

/* Opens note as a checkpoint signed by the key (gb_note_open(), then
 * gb_checkpoint_parse() of its text) into *c. Returns 0, or GB_EINVAL when
 * the note does not open or is not a checkpoint (nothing is remembered
 * then). */
int gb_checkpoint_verifier_open(struct gb_checkpoint_verifier *v,
    const char *note, size_t len, struct gb_checkpoint *c);

/* Frees v; NULL is allowed. */
void gb_checkpoint_verifier_free(struct gb_checkpoint_verifier *v);

#endif /* GB_NOTE_H */
