/*
 * Internal to the registry library.
 */
#ifndef GB_REG_INT_H
#define GB_REG_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "gb/note.h"
#include "gb/registry.h"

struct gb_registry {
	sqlite3 *db;
	char *path;
	struct gb__keyring *keyring;    /* NULL until needed */
	struct gb_note_key log_key;     /* with seed if writable */
	char *vkey;
	char origin[GB_NOTE_NAME_MAX + 1];
	bool writable;
	sqlite3_stmt *node_get, *node_put;      /* prepared once */
};

/* Appends leaves as one transaction with one checkpoint, without the checks
 * of typed appends: for benchmarks only. */
int gb__registry_append_raw(struct gb_registry *r, const char *const *leaves,
    size_t n, struct gb_reg_error *e);

/* Appends to *note (a checkpoint this log signed, a new string that may
 * be replaced) the cosignature lines the registry holds for its size, from
 * the witnesses configured (registry/src/witness.c). */
int gb__cosigned(struct gb_registry *r, char **note, struct gb_reg_error *e);

/* Whether r is a mirror's copy (mirror.c): its checkpoints are those it
 * fetched, not one per size. */
bool gb__registry_is_mirror(struct gb_registry *r);

/* The Merkle store over the nodes table. */
struct gb_merkle_store gb__store_of(struct gb_registry *r);

/* {"name", "version", "format", "pcrs": {"0": hex, ...}} of a release. */
json_t *gb__release_json(const struct gb_release *rel);

void gb__sha256_hex(const void *p, size_t n, char out[65]);

/* The stable code of a failed SQLite call: io_error (disk full, I/O),
 * no_memory, or db_error. */
const char *gb__sqlite_code(int rc);

/* Removes path and everything under it; 0 if it is gone (or never was),
 * -1 with errno otherwise. */
int gb__rmtree(const char *path);

/* Sets e (if not NULL) and returns -1. */
int gb__reg_fail(struct gb_reg_error *e, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* A revocation statement:
 * {"action":"revoke","origin":LOG,"pcr0":HEX,"reason":TEXT}; LOG must be
 * origin (this log's), else "wrong_log". */
int gb__revocation_parse(const char *stmt, size_t len, const char *origin,
    uint8_t pcr0[48], char reason[GB_REG_REASON_MAX + 1],
    struct gb_reg_error *e);

/* The registry's keyring (gpgme over a GNUPGHOME of its own). */
struct gb__keyring;

/* Opens (creating if needed, mode 0700) the keyring at home. */
int gb__keyring_open(const char *home, struct gb__keyring **out,
    struct gb_reg_error *e);
void gb__keyring_close(struct gb__keyring *k);

/* Imports one armored public key (no secret keys, exactly one primary
 * key); *fpr gets its primary fingerprint (40 or 64 upper-case hex). */
int gb__keyring_import(struct gb__keyring *k, const char *armored,
    size_t len, char fpr[65], struct gb_reg_error *e);

/*
 * Verifies a detached armored signature over data. On a good signature by a
 * key of the keyring (not expired, not revoked, by OpenPGP's own rules),
 * *fpr gets the primary fingerprint of the signer. allow_expired accepts a
 * good signature by a key that has expired since (for audits of old
 * entries).
 */
int gb__keyring_verify(struct gb__keyring *k, const char *data, size_t len,
    const char *sig, size_t sig_len, bool allow_expired, char fpr[65],
    struct gb_reg_error *e);

#endif /* GB_REG_INT_H */
