/*
 * The release registry: GPG-signed PCR publications kept in an append-only
 * Merkle transparency log (RFC 9162) in SQLite, with a signed checkpoint
 * (C2SP tlog-checkpoint) after every append. See docs/registry.md.
 *
 * Every change is a new leaf, never an edit: key_added, key_revoked,
 * release_published, release_revoked. A leaf is canonical JSON (sorted keys,
 * no white space) that carries what is needed to re-verify it from the log
 * alone: the signed statement bytes (base64), the armored signature and the
 * signer's fingerprint, or the armored key.
 *
 * Refusals carry a stable code (struct gb_reg_error), as reason codes do for
 * documents; nothing is written when a call is refused.
 */
#ifndef GB_REGISTRY_H
#define GB_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gb/merkle.h"

#define GB_REG_STATEMENT_MAX 65536      /* bytes of a signed statement */
#define GB_REG_SIGNATURE_MAX 16384      /* bytes of an armored signature */
#define GB_REG_KEY_MAX 262144           /* bytes of an armored public key */
#define GB_REG_NAME_MAX 128             /* bytes of a release name, version */
#define GB_REG_REASON_MAX 512           /* bytes of a revocation reason */
/* Bytes of one leaf: an entry bundle of the static tiles (C2SP
 * tlog-tiles) prefixes each leaf with a uint16 length, so a change whose
 * leaf would be longer is refused ("too_large") before it is logged. */
#define GB_REG_LEAF_MAX 65535

/* Why a call failed: code is stable ("bad_signature", ...), message is for
 * people. */
struct gb_reg_error {
	const char *code;
	char message[512];
};

struct gb_registry;

/* A parsed publication: the release it names and its PCRs. */
struct gb_release {
	char name[GB_REG_NAME_MAX + 1];
	char version[GB_REG_NAME_MAX + 1];
	const char *format;             /* "pcr-values" or "describe-eif" */
	bool instance;                  /* "kind": "nitrotpm": an instance
	                                 * image, whose PCRs are NitroTPM
	                                 * registers (PCR4 first) */
	unsigned npcrs;
	struct {
		unsigned index;
		uint8_t value[48];
	} pcrs[32];                     /* sorted by index; PCR0 first (PCR4
	                                 * for an instance image) */
	bool has_signer_key;            /* the statement names "signer_key": */
	uint8_t signer_key[32];         /* the enclave's Ed25519 result key */
};

/* Parses a statement in the seed format (pcr-values.json) or nitro-cli's
 * describe-eif JSON. Returns 0 or -1 with e set. */
int gb_release_parse(const char *stmt, size_t len, struct gb_release *out,
    struct gb_reg_error *e);

/* What an append did. */
struct gb_reg_entry {
	uint64_t index;                 /* its leaf */
	uint64_t size;                  /* the log's size after it */
	char id[17];                    /* release id (16 hex), or "" */
	bool existed;                   /* idempotent: nothing was appended */
};

/* Creates a new registry at db (refused if it exists): the database, the
 * log key (db + ".key", mode 0600) and the keyring (db + ".gnupg").
 * origin names the log in its checkpoints. All or nothing: they are built
 * in db + ".init/" and renamed into place, the database last; what an
 * interrupted init left is removed first. A full disk is "io_error". */
int gb_registry_init(const char *db, const char *origin,
    struct gb_reg_error *e);

/* Opens an existing registry, read-only unless writable. */
int gb_registry_open(const char *db, bool writable, struct gb_registry **out,
    struct gb_reg_error *e);
void gb_registry_close(struct gb_registry *r);

int gb_registry_key_add(struct gb_registry *r, const char *armored,
    size_t len, struct gb_reg_entry *out, struct gb_reg_error *e);
int gb_registry_key_revoke(struct gb_registry *r, const char *fpr,
    const char *reason, struct gb_reg_entry *out, struct gb_reg_error *e);
int gb_registry_publish(struct gb_registry *r, const char *stmt,
    size_t stmt_len, const char *sig, size_t sig_len,
    struct gb_reg_entry *out, struct gb_reg_error *e);
/* stmt: {"action":"revoke","origin":ORIGIN,"pcr0":HEX,"reason":TEXT},
 * ORIGIN this log's ("wrong_log" otherwise). Signatures over digests weaker
 * than SHA-256 are "weak_signature" here and in publish. */
int gb_registry_revoke(struct gb_registry *r, const char *stmt,
    size_t stmt_len, const char *sig, size_t sig_len,
    struct gb_reg_entry *out, struct gb_reg_error *e);

/* The log's size, a leaf (canonical JSON, new string), the latest
 * checkpoint (signed note, new string), the log's verifier key. */
int gb_registry_size(struct gb_registry *r, uint64_t *size);
int gb_registry_leaf(struct gb_registry *r, uint64_t index, char **json,
    struct gb_reg_error *e);
int gb_registry_checkpoint(struct gb_registry *r, char **note,
    struct gb_reg_error *e);
const char *gb_registry_vkey(const struct gb_registry *r);

/* The checkpoint signed when the log had size entries (new string);
 * "not_found" if there is none. */
int gb_registry_checkpoint_at(struct gb_registry *r, uint64_t size,
    char **note, struct gb_reg_error *e);

/* Rows of the derived tables, for listing. revoked is the leaf index of the
 * revocation, or -1. */
struct gb_reg_release {
	const char *id, *name, *version, *pcr0, *signer;
	uint64_t index;
	int64_t revoked;
};
struct gb_reg_key {
	const char *fpr;
	uint64_t index;
	int64_t revoked;
};

/* Calls fn for every release (or key) in log order; fn returns 0 to go
 * on. */
int gb_registry_releases(struct gb_registry *r,
    int (*fn)(void *arg, const struct gb_reg_release *rel), void *arg,
    struct gb_reg_error *e);
int gb_registry_keys(struct gb_registry *r,
    int (*fn)(void *arg, const struct gb_reg_key *k), void *arg,
    struct gb_reg_error *e);

/*
 * A page of releases in log order: those whose leaf index is above after
 * (-1: from the start), at most limit (1..GB_REG_PAGE_MAX), that match
 * every filter given (NULL: any): name, PCR0, and pcr, a value any of the
 * release's PCRs has (96 lower-case hex digits; found through the
 * release_pcrs index). fn is called for each; *next is the after of the
 * next page, or -1 when this one is the last.
 */
#define GB_REG_PAGE_MAX 1000            /* releases per page */
struct gb_reg_filter {
	const char *name, *pcr0, *pcr;
};
int gb_registry_releases_page(struct gb_registry *r,
    const struct gb_reg_filter *f, int64_t after, size_t limit,
    int (*fn)(void *arg, const struct gb_reg_release *rel), void *arg,
    int64_t *next, struct gb_reg_error *e);

/* The release published for a PCR0 (96 lower-case hex digits): its leaf
 * index, id, and the index of its revocation or -1. "not_found" if none. */
int gb_registry_by_pcr0(struct gb_registry *r, const char *pcr0,
    uint64_t *index, char id[17], int64_t *revoked, struct gb_reg_error *e);

/* The log's tree as a Merkle store (gb/merkle.h), for roots. */
struct gb_merkle_store gb_registry_store(struct gb_registry *r);

/* The leaf index of a release id (16 hex). */
int gb_registry_find_release(struct gb_registry *r, const char *id,
    uint64_t *index, struct gb_reg_error *e);

int gb_registry_prove_inclusion(struct gb_registry *r, uint64_t index,
    uint64_t size, uint8_t proof[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES],
    size_t *n, struct gb_reg_error *e);
int gb_registry_prove_consistency(struct gb_registry *r, uint64_t size1,
    uint64_t size2, uint8_t proof[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES],
    size_t *n, struct gb_reg_error *e);

/* Recomputes everything from the leaves: their hashes and the tree, every
 * signature (with the keys the log holds, in a fresh keyring), the rules of
 * each change in order, the derived tables, and every stored checkpoint
 * (one per size 0..n, each signed by the log key over the root of the
 * leaves up to its size); with since (an older checkpoint note), that the
 * log grew from it. Returns 0, or -1 with e naming the first bad entry or
 * checkpoint. O(n log n) besides one GPG verification per signed entry. */
int gb_registry_audit(struct gb_registry *r, const char *since,
    uint64_t *checked, struct gb_reg_error *e);

/*
 * The log as static tiles (C2SP tlog-tiles; docs/registry.md, "Tiles"):
 * checkpoint, tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>].
 */
#define GB_TILE_WIDTH 256               /* hashes (or entries) of a full tile */
#define GB_TILE_LEVEL_MAX 5             /* tlog-tiles: L is 0..5 */

/* The path of a tile below the directory ("tile/0/x001/234.p/7"); level -1
 * is the entry bundles. Returns 0, or -1 for a bad level or width. */
int gb_registry_tile_path(int level, uint64_t n, unsigned width, char *out,
    size_t cap);

/* The inverse: a path below the directory ("tile/1/x001/234.p/7") to its
 * level, index and width (256: full). Only the one spelling
 * gb_registry_tile_path() writes is accepted. Returns 0 or -1. */
int gb_registry_tile_parse(const char *path, int *level, uint64_t *n,
    unsigned *width);

/* The bytes of tile n of level (-1: entries) at width in the tree of size
 * entries (new buffer): width must be at most what that tree gives the
 * tile ("not_found" otherwise). */
int gb_registry_tile(struct gb_registry *r, uint64_t size, int level,
    uint64_t n, unsigned width, uint8_t **out, size_t *len,
    struct gb_reg_error *e);

/*
 * Writes the log's current tree into dir: the tiles it needs, then its
 * checkpoint, each file atomically, so that a reader never sees a torn file
 * or a checkpoint whose tiles are missing. Full tiles are immutable: one
 * already there with other bytes is "tiles_conflict" and nothing more is
 * written; so is a checkpoint there that is not this log's, or of a larger
 * tree. Without full, only the tiles past the published checkpoint are
 * written; with it, every tile is written or compared. Writers of one
 * directory are serialized (flock).
 */
int gb_registry_write_tiles(struct gb_registry *r, const char *dir, bool full,
    struct gb_reg_error *e);

/* The tiles directory kept in the registry (new string, NULL if none), and
 * setting it (NULL: none). */
int gb_registry_tiles_dir(struct gb_registry *r, char **dir,
    struct gb_reg_error *e);
int gb_registry_set_tiles_dir(struct gb_registry *r, const char *dir,
    struct gb_reg_error *e);

/*
 * Witnesses (C2SP tlog-witness; docs/registry.md, "Witnesses"): after
 * every change the registry asks each configured witness to cosign the new
 * checkpoint, and the checkpoint it serves (gb_registry_checkpoint(),
 * gb_registry_checkpoint_at(), the tiles' checkpoint file) is its signed
 * note followed by the cosignature lines it holds for that size.
 */
#define GB_REG_WITNESSES_MAX 16         /* witnesses of one registry */
/* Total time one witness has to answer, all its attempts together. They
 * are asked in parallel: a witness that is down or slow delays its own
 * cosignature, and nothing else, by at most this. */
#define GB_REG_WITNESS_TIMEOUT_MS 5000
/* Requests to one witness in one round: the first, then again from the
 * size a 409 names (its state moved since the registry last asked). */
#define GB_REG_WITNESS_ATTEMPTS 3

/* Adds a witness: the URL prefix of its add-checkpoint (http or https)
 * and its verifier key (NAME+KEYID+BASE64(0x04 || key), Ed25519
 * cosignature/v1). "exists" if its name or key is configured already. */
int gb_registry_witness_add(struct gb_registry *r, const char *url,
    const char *vkey, struct gb_reg_error *e);
/* Removes a witness by name or verifier key: its cosignatures stay in the
 * database but are no longer published. */
int gb_registry_witness_remove(struct gb_registry *r, const char *name,
    struct gb_reg_error *e);

struct gb_reg_witness {
	const char *name, *vkey, *url;
	uint64_t size;                  /* the size it last cosigned, as known */
	const char *error;              /* its last failure, or NULL */
	int64_t tried;                  /* when it was last asked (Unix s) */
	bool cosigned_latest;           /* holds a cosignature of the latest */
};
/* Calls fn for each witness, in the order they were added. */
int gb_registry_witnesses(struct gb_registry *r,
    int (*fn)(void *arg, const struct gb_reg_witness *w), void *arg,
    struct gb_reg_error *e);

/* What asking one witness gave. */
struct gb_reg_cosign_result {
	const char *name, *url;         /* borrowed for the call */
	uint64_t size;                  /* the checkpoint's */
	bool ok;                        /* cosigned, verified and stored */
	const char *code;               /* else why: unreachable, timeout,
					 * unknown_log, bad_signature,
					 * bad_proof, conflict, witness_ahead,
					 * bad_cosignature, refused, ... */
	char message[256];
};
typedef void (*gb_reg_cosign_fn)(void *arg,
    const struct gb_reg_cosign_result *res);

/*
 * Asks every witness without a cosignature of the latest checkpoint for
 * one, all in parallel, each for at most GB_REG_WITNESS_TIMEOUT_MS; fn (if
 * not NULL) is told of each as soon as it is done, after a cosignature is
 * stored. A witness's failure is its own (recorded with it, and given to
 * fn), never the call's: it returns -1 only when the registry itself
 * cannot be read. Needs a writable registry once a witness is configured.
 */
int gb_registry_cosign(struct gb_registry *r, gb_reg_cosign_fn fn, void *arg,
    struct gb_reg_error *e);

/* After a change: gb_registry_write_tiles() into the kept directory, if
 * there is one, then gb_registry_cosign(), rewriting the tiles' checkpoint
 * as each cosignature arrives; fn as there (NULL: each witness's failure
 * is a JSON line on standard error). Returns -1 only when the tiles could
 * not be written: that failure leaves the change committed and the tiles
 * behind, and the next sync catches up. */
int gb_registry_sync(struct gb_registry *r, gb_reg_cosign_fn fn, void *arg,
    struct gb_reg_error *e);
/* gb_registry_sync(r, NULL, NULL, e). */
int gb_registry_sync_tiles(struct gb_registry *r, struct gb_reg_error *e);

/*
 * Mirrors (docs/verifier.md, "Mirror"): a read-only copy of another log,
 * kept by glassbox-verifier --mirror from the log's tiles. A mirror's
 * database is a registry like a primary's (the verifier reads it as
 * usual) with the log's verifier key, no signing key, meta "mirror" = its
 * source, and the checkpoints it fetched (not one per size).
 *
 * init creates one at db for the log of vkey (the origin is its name);
 * source is kept for people. open opens it to grow: "not_mirror" for a
 * primary's database, "wrong_log" if vkey (when not NULL) is not its key;
 * the typed appends (publish, ...) stay refused ("read_only").
 */
int gb_registry_mirror_init(const char *db, const char *vkey,
    const char *source, struct gb_reg_error *e);
int gb_registry_mirror_open(const char *db, const char *vkey,
    struct gb_registry **out, struct gb_reg_error *e);

/* Gives entry index's exact bytes (borrowed until the next call); 0, or -1
 * with e set. */
typedef int (*gb_reg_leaf_fn)(void *arg, uint64_t index,
    const uint8_t **leaf, size_t *len, struct gb_reg_error *e);
/* Looks at the tree of size entries (s: its nodes, the new ones included)
 * before it is committed; 0 to go on, -1 with e set to refuse. */
typedef int (*gb_reg_check_fn)(void *arg, const struct gb_merkle_store *s,
    uint64_t size, struct gb_reg_error *e);

/*
 * Appends verified leaves with this checkpoint: note must be a checkpoint
 * of the mirror's log signed by its key ("bad_signature", "wrong_log");
 * leaf is asked for the entries from the copy's size to the note's, in
 * order, and each must keep the rules of the typed appends (its GPG
 * signature by an active key it names, checked in the copy's keyring; a
 * release's fields as its statement says; no key, PCR0 or name and
 * version twice; ...: "bad_entry" otherwise) and is stored with its
 * derived rows and tree nodes; check (if not NULL) then looks at the new
 * tree; its root must be the note's ("fork"); the note is stored as the
 * checkpoint of its size (replacing one of that size, which can only
 * differ by its signatures). All in one transaction: on any refusal nothing
 * is written. A note older than the copy is "older". A failure of the
 * machine (gpg, disk, memory) keeps its code.
 */
int gb_registry_mirror_append(struct gb_registry *r, const char *note,
    size_t note_len, gb_reg_leaf_fn leaf, gb_reg_check_fn check, void *arg,
    struct gb_reg_error *e);

#endif /* GB_REGISTRY_H */
