/*
 * Transparency log witnesses (c2sp.org/tlog-witness) and their Ed25519
 * cosignatures (c2sp.org/tlog-cosignature, cosignature/v1): what both the
 * witness server (glassbox witness) and the registry, its client, need.
 *
 * A cosignature is a signed-note signature line
 *
 *     "\u2014 NAME BASE64(KEYID[4] || TIMESTAMP[8, big endian] || SIG[64])\n"
 *
 * where KEYID is the first four bytes of SHA-256(NAME || "\n" || 0x04 ||
 * PUB[32]) and SIG is Ed25519 over
 *
 *     "cosignature/v1\ntime " TIMESTAMP_DECIMAL "\n" || CHECKPOINT_TEXT
 *
 * (the note's text with its final newline, without any signature line).
 * Keys are written like note keys, with signature type 0x04: the verifier
 * key "NAME+KEYID+BASE64(0x04 || PUB)" and the witness's own key file
 * "PRIVATE+KEY+NAME+KEYID+BASE64(0x04 || SEED)". Witness names here are
 * printable ASCII without spaces or '+' (1..GB_NOTE_NAME_MAX bytes).
 */
#ifndef GB_WITNESS_H
#define GB_WITNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gb/merkle.h"
#include "gb/note.h"

#define GB_COSIG_TYPE 0x04              /* signed-note signature type */
#define GB_COSIG_SIG_BYTES (4 + 8 + 64) /* key ID, timestamp, signature */
/* Consistency proof lines of one add-checkpoint request: tlog-witness
 * lets a client send at most 63. */
#define GB_WITNESS_PROOF_MAX 63
/* An add-checkpoint body: "old N\n" (at most 24 bytes), 63 proof lines of
 * 45 bytes, the blank line and a checkpoint note (GB_NOTE_MAX_BYTES). */
#define GB_WITNESS_BODY_MAX (GB_NOTE_MAX_BYTES + 4096)
/* A witness's answer as its client reads it: cosignature lines (one is
 * about 160 bytes; a witness with several keys sends several). */
#define GB_WITNESS_RESPONSE_MAX 16384
/* tlog-cosignature: a timestamp must not exceed 2^63 - 1. */
#define GB_COSIG_TIME_MAX INT64_MAX

struct gb_cosig_key {
	char name[GB_NOTE_NAME_MAX + 1];
	uint32_t id;
	uint8_t pub[32];
	bool has_seed;
	uint8_t seed[32];               /* the private key, if has_seed */
};

/* A new key named name: 0, GB_EINVAL (bad name) or GB_ECRYPTO. */
int gb_cosig_key_generate(const char *name, struct gb_cosig_key *k);
/* The verifier key and the private key file's line, as new strings. */
int gb_cosig_vkey_format(const struct gb_cosig_key *k, char **out);
int gb_cosig_skey_format(const struct gb_cosig_key *k, char **out);
/* Parses either form (type 0x04, key ID matching name and key): 0 or
 * GB_EINVAL. */
int gb_cosig_vkey_parse(const char *s, struct gb_cosig_key *k);
int gb_cosig_skey_parse(const char *s, struct gb_cosig_key *k);
/* Wipes the key (its seed included). */
void gb_cosig_key_clear(struct gb_cosig_key *k);

/* The cosignature line by k (with seed) over the checkpoint text[0..len)
 * at timestamp t, as a new string ending in "\n". Returns 0, GB_EINVAL
 * (no seed, t too large, empty text) or GB_ENOMEM / GB_ECRYPTO. */
int gb_cosig_sign(const struct gb_cosig_key *k, const char *text, size_t len,
    uint64_t t, char **line);

/*
 * Looks through lines[0..lines_len) (signature lines, each "\u2014 NAME
 * BASE64\n", as a witness answers) for k's cosignature of text (matched by
 * name and key ID, others ignored, as signed-note says) and verifies it.
 * Returns 0 with *t its timestamp and *off, *len where the line (with its
 * newline) is in lines; GB_ENOENT if k signed no line; GB_EINVAL if the
 * lines are not signature lines, or k's does not verify.
 */
int gb_cosig_find(const struct gb_cosig_key *k, const char *text,
    size_t text_len, const char *lines, size_t lines_len, uint64_t *t,
    size_t *off, size_t *len);

/* An add-checkpoint request body, parsed (proof hashes copied; note
 * borrowed from the body). */
struct gb_witness_request {
	uint64_t old_size;
	size_t nproof;
	uint8_t proof[GB_WITNESS_PROOF_MAX][GB_HASH_BYTES];
	const char *note;               /* the checkpoint note, to the end */
	size_t note_len;
};

/*
 * Parses "old N\n", zero to 63 lines of base64 hashes, an empty line and
 * the checkpoint note (not opened here). N is decimal without leading
 * zeros, at most 2^63 - 1. Returns 0, or GB_EINVAL with *why saying what
 * is malformed (a static string).
 */
int gb_witness_request_parse(const char *body, size_t len,
    struct gb_witness_request *rq, const char **why);

/* A checkpoint's text as a witness reads it: origin, size and root as
 * gb_checkpoint_parse() wants them, then any extension lines (non-empty;
 * cosigned with the rest, never interpreted). 0 or GB_EINVAL. */
int gb_witness_checkpoint_parse(const char *text, size_t len,
    struct gb_checkpoint *c);

/* The body of a 409 answer (text/x.tlog.size): "N\n", N decimal without
 * leading zeros. 0 or GB_EINVAL. */
int gb_witness_size_parse(const char *body, size_t len, uint64_t *size);

#endif /* GB_WITNESS_H */
