/*
 * A mirror's copy of a remote log (gb/registry.h, "Mirrors"): a registry
 * database like any other (leaves with their exact bytes, tree nodes,
 * checkpoints as the origin signed them, the derived tables), but with no
 * log key of its own. It grows only by gb_registry_mirror_append(): the
 * entries that extend the copy to a checkpoint signed by the log's key,
 * each checked against the rules of the typed appends (rules()), applied
 * in one transaction that commits only if the new tree's root is the one
 * the checkpoint signed (and the caller's check of the remote's hash
 * tiles passes). Its checkpoints are those the mirror fetched, so
 * unlike a primary's they do not cover every size; meta "mirror" marks it
 * (the audit then checks the checkpoints it has instead of asking for one
 * per size).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/note.h"
#include "reg_int.h"

static int
sql_fail(sqlite3 *db, struct gb_reg_error *e, const char *what)
{
	return gb__reg_fail(e, gb__sqlite_code(sqlite3_extended_errcode(db)),
	    "%s: %s", what, sqlite3_errmsg(db));
}

/* Runs sql with parameters bound in order from types: 't' text (const
 * char *), 'i' integer (int64_t), 'b' text with length (const char *,
 * size_t). */
static int
run(sqlite3 *db, struct gb_reg_error *e, const char *sql, const char *types,
    ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc, i = 1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, e, "prepare");
	va_start(ap, types);
	for (const char *t = types; *t != '\0'; t++, i++) {
		if (*t == 't') {
			sqlite3_bind_text(st, i, va_arg(ap, const char *), -1,
			    SQLITE_TRANSIENT);
		} else if (*t == 'i') {
			sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
		} else {
			const char *p = va_arg(ap, const char *);
			size_t n = va_arg(ap, size_t);

			sqlite3_bind_text(st, i, p, (int)n, SQLITE_TRANSIENT);
		}
	}
	va_end(ap);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return gb__reg_fail(e, rc == SQLITE_CONSTRAINT ? "bad_entry" :
		    gb__sqlite_code(rc), "%s", sqlite3_errmsg(db));
	return 0;
}

bool
gb__registry_is_mirror(struct gb_registry *r)
{
	sqlite3_stmt *st;
	bool yes = false;

	if (sqlite3_prepare_v2(r->db, "SELECT 1 FROM meta WHERE k = 'mirror'",
	    -1, &st, NULL) == SQLITE_OK)
		yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/* Removes what a failed gb_registry_mirror_init() made after the registry
 * was created, so that the next start makes it again rather than finding
 * a registry that is neither a primary's nor a mirror's. */
static void
undo_init(const char *db)
{
	static const char *const files[] = { "", "-wal", "-shm", ".key" };
	char path[4096];

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		if ((size_t)snprintf(path, sizeof path, "%s%s", db, files[i]) <
		    sizeof path)
			(void)unlink(path);
	if ((size_t)snprintf(path, sizeof path, "%s.gnupg", db) < sizeof path)
		(void)gb__rmtree(path);
}

int
gb_registry_mirror_init(const char *db, const char *vkey, const char *source,
    struct gb_reg_error *e)
{
	struct gb_note_key k;
	sqlite3 *s = NULL;
	char *key = NULL;
	size_t n;
	int rc = -1;

	if (gb_note_vkey_parse(vkey, &k) != 0)
		return gb__reg_fail(e, "bad_key", "not a note verifier key: "
		    "%.80s", vkey);
	/* A registry like any other, then made the log's: its key, no
	 * checkpoint of its own (the throwaway key signed the empty one) and
	 * no signing key at all. */
	if (gb_registry_init(db, k.name, e) != 0)
		return -1;
	n = strlen(db) + sizeof ".key";
	if ((key = malloc(n)) == NULL) {
		gb__reg_fail(e, "no_memory", "out of memory");
		goto out;
	}
	snprintf(key, n, "%s.key", db);
	if (sqlite3_open_v2(db, &s, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sql_fail(s, e, "opening the new mirror");
		goto out;
	}
	sqlite3_busy_timeout(s, 10000);
	if (sqlite3_exec(s, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		sql_fail(s, e, "begin");
		goto out;
	}
	if (run(s, e, "UPDATE meta SET v = ? WHERE k = 'vkey'", "t", vkey) !=
	    0 || run(s, e, "INSERT INTO meta(k, v) VALUES ('mirror', ?)", "t",
	    source) != 0 || run(s, e, "DELETE FROM checkpoints", "") != 0) {
		(void)sqlite3_exec(s, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	if (sqlite3_exec(s, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sql_fail(s, e, "commit");
		(void)sqlite3_exec(s, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	if (unlink(key) != 0 && errno != ENOENT) {
		gb__reg_fail(e, "io_error", "cannot remove %s: %s", key,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	sqlite3_close(s);
	if (rc != 0)
		undo_init(db);
	free(key);
	return rc;
}

int
gb_registry_mirror_open(const char *db, const char *vkey,
    struct gb_registry **out, struct gb_reg_error *e)
{
	struct gb_registry *r = NULL;
	sqlite3 *s = NULL;

	*out = NULL;
	if (gb_registry_open(db, false, &r, e) != 0)
		return -1;
	if (!gb__registry_is_mirror(r)) {
		gb__reg_fail(e, "not_mirror", "%s is a primary registry, not a "
		    "mirror's copy", db);
		goto fail;
	}
	if (vkey != NULL && strcmp(vkey, r->vkey) != 0) {
		gb__reg_fail(e, "wrong_log", "%s mirrors another log (key %.80s)",
		    db, r->vkey);
		goto fail;
	}
	/* A connection that writes, under a handle that stays read-only for
	 * the typed appends (begin() refuses them: "read_only"). */
	if (sqlite3_open_v2(db, &s, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sql_fail(s, e, "opening the mirror for writing");
		sqlite3_close(s);
		goto fail;
	}
	sqlite3_busy_timeout(s, 10000);
	if (sqlite3_exec(s, "PRAGMA synchronous=FULL", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		sql_fail(s, e, "pragma");
		sqlite3_close(s);
		goto fail;
	}
	sqlite3_finalize(r->node_get);
	sqlite3_finalize(r->node_put);
	r->node_get = r->node_put = NULL;
	sqlite3_close(r->db);
	r->db = s;
	*out = r;
	return 0;
fail:
	gb_registry_close(r);
	return -1;
}

static int
bad_entry(struct gb_reg_error *e, uint64_t idx, const char *what)
{
	return gb__reg_fail(e, "bad_entry", "entry %" PRIu64 ": %s", idx, what);
}

/* A machine's fault (gpg missing, a full disk, memory) says nothing about
 * the entry: it keeps its code, and the round fails without evidence. */
static bool
machine_fault(const struct gb_reg_error *ve)
{
	return strcmp(ve->code, "io_error") == 0 ||
	    strcmp(ve->code, "gpg_error") == 0 ||
	    strcmp(ve->code, "no_memory") == 0;
}

/* Whether fpr is an active key of the copy (inside the transaction). */
static bool
active_key(sqlite3 *db, const char *fpr)
{
	sqlite3_stmt *st;
	bool yes = false;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM keys WHERE fpr = ? AND"
	    " revoked IS NULL", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, fpr, -1, SQLITE_STATIC);
		yes = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return yes;
}

/* The signed statement a leaf carries (*stmt new), its signature verified
 * by an active key of the copy that the leaf names as its signer. */
static int
signed_by_active(struct gb_registry *r, json_t *leaf, uint64_t idx,
    uint8_t **stmt, size_t *len, struct gb_reg_error *e)
{
	const char *b64 = json_string_value(json_object_get(leaf, "statement"));
	const char *sig = json_string_value(json_object_get(leaf, "signature"));
	const char *signer = json_string_value(json_object_get(leaf, "signer"));
	struct gb_reg_error ve = { "", "" };
	char fpr[65];

	*stmt = NULL;
	if (b64 == NULL || sig == NULL || signer == NULL ||
	    gb_base64_decode_alloc(b64, strlen(b64), GB_REG_STATEMENT_MAX,
	    stmt, len) != 0)
		return bad_entry(e, idx, "its statement, signature or signer is "
		    "missing or malformed");
	/* Expired since is fine: entries are checked as of when logged. */
	if (gb__keyring_verify(r->keyring, (const char *)*stmt, *len, sig,
	    strlen(sig), true, fpr, &ve) != 0) {
		if (machine_fault(&ve))
			return gb__reg_fail(e, ve.code, "entry %" PRIu64 ": "
			    "cannot check its signature: %s", idx, ve.message);
		return bad_entry(e, idx, "its signature does not verify");
	}
	if (strcmp(fpr, signer) != 0 || !active_key(r->db, fpr))
		return bad_entry(e, idx, "its signer is not the key that signed, "
		    "or not an active key of the log");
	return 0;
}

/*
 * The rules of a change, as the typed appends of registry.c and the audit
 * apply them, checked on entry idx before it is applied: a key's
 * fingerprint is its key's, a statement's signature verifies by an active
 * key of the log that the entry names, a publication's release fields are
 * what its signed statement says, a revocation is of this log and of the
 * release its statement names. Uniqueness (a key, a PCR0, a name and
 * version) is the derived tables' constraints (derive()).
 */
static int
rules(struct gb_registry *r, uint64_t idx, json_t *leaf,
    struct gb_reg_error *e)
{
	const char *type = json_string_value(json_object_get(leaf, "type"));
	struct gb_reg_error ve = { "", "" };
	uint8_t *stmt = NULL;
	size_t len;
	int rc = -1;

	if (r->keyring == NULL) {
		char home[4096];

		if ((size_t)snprintf(home, sizeof home, "%s.gnupg", r->path) >=
		    sizeof home)
			return gb__reg_fail(e, "io_error", "path too long");
		if (gb__keyring_open(home, &r->keyring, e) != 0)
			return -1;
	}
	if (strcmp(type, "key_added") == 0) {
		const char *key = json_string_value(json_object_get(leaf, "key"));
		const char *fpr_in = json_string_value(json_object_get(leaf,
		    "fingerprint"));
		char fpr[65];

		if (key == NULL || fpr_in == NULL)
			return bad_entry(e, idx, "its key or fingerprint is "
			    "missing");
		if (gb__keyring_import(r->keyring, key, strlen(key), fpr,
		    &ve) != 0) {
			if (machine_fault(&ve))
				return gb__reg_fail(e, ve.code, "entry %" PRIu64
				    ": cannot import its key: %s", idx,
				    ve.message);
			return bad_entry(e, idx, "its key does not import");
		}
		if (strcmp(fpr, fpr_in) != 0)
			return bad_entry(e, idx, "its fingerprint is not its "
			    "key's");
		return 0;
	}
	if (strcmp(type, "release_published") == 0) {
		struct gb_release rel;
		json_t *want;
		bool same;

		if (signed_by_active(r, leaf, idx, &stmt, &len, e) != 0)
			goto out;
		if (gb_release_parse((const char *)stmt, len, &rel, &ve) != 0) {
			bad_entry(e, idx, "its statement is not a valid "
			    "publication");
			goto out;
		}
		want = gb__release_json(&rel);
		same = want != NULL && json_equal(want, json_object_get(leaf,
		    "release"));
		json_decref(want);
		if (!same) {
			bad_entry(e, idx, "its release fields are not what its "
			    "signed statement says");
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (strcmp(type, "release_revoked") == 0) {
		char reason[GB_REG_REASON_MAX + 1], pcr0[97];
		const char *id = json_string_value(json_object_get(leaf,
		    "release"));
		const char *why = json_string_value(json_object_get(leaf,
		    "reason"));
		uint8_t raw[48];
		sqlite3_stmt *st = NULL;
		bool match = false;

		if (signed_by_active(r, leaf, idx, &stmt, &len, e) != 0)
			goto out;
		if (gb__revocation_parse((const char *)stmt, len, r->origin, raw,
		    reason, &ve) != 0) {
			bad_entry(e, idx, "its statement is not a valid "
			    "revocation of this log");
			goto out;
		}
		gb_hex_encode(pcr0, raw, 48);
		if (id != NULL && why != NULL && strcmp(why, reason) == 0 &&
		    sqlite3_prepare_v2(r->db, "SELECT 1 FROM releases WHERE id"
		    " = ? AND pcr0 = ? AND revoked IS NULL", -1, &st, NULL) ==
		    SQLITE_OK) {
			sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, pcr0, -1, SQLITE_STATIC);
			match = sqlite3_step(st) == SQLITE_ROW;
		}
		sqlite3_finalize(st);
		if (!match) {
			bad_entry(e, idx, "it revokes a release that is not "
			    "published and unrevoked, or not as its statement "
			    "says");
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (strcmp(type, "key_revoked") == 0) {
		const char *fpr = json_string_value(json_object_get(leaf,
		    "fingerprint"));

		if (fpr == NULL || !active_key(r->db, fpr))
			return bad_entry(e, idx, "it revokes a key that is not "
			    "active");
		return 0;
	}
	return bad_entry(e, idx, "its type is unknown");
out:
	free(stmt);
	return rc;
}

/* The derived rows of entry idx (its JSON leaf, its hash), as the typed
 * appends of registry.c write them; the audit replays the rules and the
 * signatures and compares these rows with what it derives. */
static int
derive(sqlite3 *db, uint64_t idx, json_t *leaf,
    const uint8_t hash[GB_HASH_BYTES], struct gb_reg_error *e)
{
	const char *type = json_string_value(json_object_get(leaf, "type"));
	const char *fpr = json_string_value(json_object_get(leaf,
	    "fingerprint"));
	int64_t i = (int64_t)idx;

	if (strcmp(type, "key_added") == 0 && fpr != NULL)
		return run(db, e, "INSERT INTO keys(fpr, added) VALUES (?, ?)",
		    "ti", fpr, i);
	if (strcmp(type, "key_revoked") == 0 && fpr != NULL)
		return run(db, e, "UPDATE keys SET revoked = ? WHERE fpr = ? AND"
		    " revoked IS NULL", "it", i, fpr);
	if (strcmp(type, "release_published") == 0) {
		json_t *rel = json_object_get(leaf, "release");
		const char *b64 = json_string_value(json_object_get(leaf,
		    "statement"));
		const char *signer = json_string_value(json_object_get(leaf,
		    "signer"));
		const char *name = json_string_value(json_object_get(rel,
		    "name"));
		const char *version = json_string_value(json_object_get(rel,
		    "version"));
		const char *pcr0 = json_string_value(json_object_get(
		    json_object_get(rel, "pcrs"), "0"));
		char id[17], sha[65], *pcrs = NULL;
		uint8_t *stmt = NULL;
		size_t len;
		int rc;

		if (b64 == NULL || signer == NULL || name == NULL ||
		    version == NULL || pcr0 == NULL ||
		    gb_base64_decode_alloc(b64, strlen(b64),
		    GB_REG_STATEMENT_MAX, &stmt, &len) != 0)
			return gb__reg_fail(e, "bad_entry", "entry %" PRIu64
			    ": a publication without its statement, signer, "
			    "name, version or PCR0", idx);
		gb__sha256_hex(stmt, len, sha);
		free(stmt);
		gb_hex_encode(id, hash, 8);
		rc = run(db, e, "INSERT INTO releases(id, leaf, name, version,"
		    " pcr0, statement_sha256, signer) VALUES (?, ?, ?, ?, ?, ?,"
		    " ?)", "tittttt", id, i, name, version, pcr0, sha, signer);
		/* Every PCR the release declares, as the typed append and
		 * registry.c's PCRS_FROM_LEAVES list them. */
		if (rc == 0 && (pcrs = json_dumps(json_object_get(rel, "pcrs"),
		    JSON_COMPACT)) == NULL)
			rc = gb__reg_fail(e, "bad_entry", "entry %" PRIu64 ": "
			    "its PCRs are not an object", idx);
		if (rc == 0)
			rc = run(db, e, "INSERT INTO release_pcrs(pcr, value,"
			    " leaf) SELECT CAST(j.key AS INTEGER), j.value, ?"
			    " FROM json_each(?) j", "it", i, pcrs);
		free(pcrs);
		return rc;
	}
	if (strcmp(type, "release_revoked") == 0) {
		const char *id = json_string_value(json_object_get(leaf,
		    "release"));

		if (id == NULL)
			return gb__reg_fail(e, "bad_entry", "entry %" PRIu64
			    ": a revocation without its release", idx);
		return run(db, e, "UPDATE releases SET revoked = ? WHERE id = ?"
		    " AND revoked IS NULL", "it", i, id);
	}
	return gb__reg_fail(e, "bad_entry", "entry %" PRIu64 ": unknown type "
	    "\"%.40s\"", idx, type);
}

/* Appends entry idx (bytes p[0..len)) inside the caller's transaction: the
 * leaf, its derived rows and the tree nodes. */
static int
append_one(struct gb_registry *r, uint64_t idx, const uint8_t *p, size_t len,
    struct gb_reg_error *e)
{
	struct gb_merkle_store s = gb__store_of(r);
	uint8_t hash[GB_HASH_BYTES];
	sqlite3_stmt *st = NULL;
	json_t *leaf = NULL;
	int rc = -1;

	if (len == 0 || len > GB_REG_LEAF_MAX || memchr(p, '\0', len) != NULL)
		return gb__reg_fail(e, "bad_entry", "entry %" PRIu64 " is empty, "
		    "over %d bytes or holds a NUL", idx, GB_REG_LEAF_MAX);
	if ((leaf = gb_json_loadb((const char *)p, len,
	    JSON_REJECT_DUPLICATES, NULL)) == NULL || !json_is_object(leaf) ||
	    json_string_value(json_object_get(leaf, "type")) == NULL) {
		gb__reg_fail(e, "bad_entry", "entry %" PRIu64 " is not a JSON "
		    "object with a type", idx);
		goto out;
	}
	gb_merkle_leaf_hash(p, len, hash);
	if (sqlite3_prepare_v2(r->db, "INSERT INTO leaves(idx, type, body, hash)"
	    " VALUES (?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		sql_fail(r->db, e, "prepare");
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)idx);
	sqlite3_bind_text(st, 2, json_string_value(json_object_get(leaf,
	    "type")), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, (const char *)p, (int)len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, hash, GB_HASH_BYTES, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sql_fail(r->db, e, "storing the leaf");
		goto out;
	}
	if (gb_merkle_append(&s, idx, hash) != 0) {
		sql_fail(r->db, e, "storing the tree");
		goto out;
	}
	rc = rules(r, idx, leaf, e);
	if (rc == 0)
		rc = derive(r->db, idx, leaf, hash, e);
out:
	sqlite3_finalize(st);
	json_decref(leaf);
	return rc;
}

int
gb_registry_mirror_append(struct gb_registry *r, const char *note,
    size_t note_len, gb_reg_leaf_fn leaf, gb_reg_check_fn check, void *arg,
    struct gb_reg_error *e)
{
	struct gb_merkle_store s = gb__store_of(r);
	struct gb_note_opened o;
	struct gb_checkpoint cp;
	struct gb_note_key k;
	uint8_t root[GB_HASH_BYTES];
	uint64_t n;
	int rc = -1;

	if (!gb__registry_is_mirror(r))
		return gb__reg_fail(e, "not_mirror", "only a mirror's copy grows "
		    "by checkpoints of another log");
	if (gb_note_vkey_parse(r->vkey, &k) != 0)
		return gb__reg_fail(e, "bad_database", "the log key in the "
		    "database is malformed");
	if (note_len > GB_NOTE_MAX_BYTES || gb_note_open(note, note_len, &k, 1,
	    &o) != 0)
		return gb__reg_fail(e, "bad_signature", "the checkpoint is not "
		    "signed by the log key");
	if (gb_checkpoint_parse(note, o.text_len, &cp) != 0 ||
	    strcmp(cp.origin, r->origin) != 0)
		return gb__reg_fail(e, "wrong_log", "the note is not a checkpoint "
		    "of %s", r->origin);
	if (sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return sql_fail(r->db, e, "begin");
	if (gb_registry_size(r, &n) != 0) {
		sql_fail(r->db, e, "reading the size");
		goto out;
	}
	if (cp.size < n) {
		gb__reg_fail(e, "older", "the checkpoint (size %" PRIu64 ") is "
		    "older than the copy (size %" PRIu64 ")", cp.size, n);
		goto out;
	}
	for (uint64_t i = n; i < cp.size; i++) {
		const uint8_t *p;
		size_t len;

		if (leaf(arg, i, &p, &len, e) != 0 ||
		    append_one(r, i, p, len, e) != 0)
			goto out;
	}
	if (check != NULL && check(arg, &s, cp.size, e) != 0)
		goto out;
	if (gb_merkle_root(&s, cp.size, root) != 0) {
		sql_fail(r->db, e, "reading the tree");
		goto out;
	}
	if (memcmp(root, cp.root, GB_HASH_BYTES) != 0) {
		gb__reg_fail(e, "fork", "the checkpoint of size %" PRIu64 " signs "
		    "a root that the copy's %" PRIu64 " entries and the %" PRIu64
		    " fetched do not give: the log does not extend the copy",
		    cp.size, n, cp.size - n);
		goto out;
	}
	/* The same size again (its root checked above) may come with more
	 * signatures (witness cosignatures, issue 18): the copy keeps the
	 * note as the log publishes it now. */
	if (run(r->db, e, "INSERT INTO checkpoints(size, note) VALUES (?, ?)"
	    " ON CONFLICT(size) DO UPDATE SET note = excluded.note WHERE note"
	    " != excluded.note", "ib", (int64_t)cp.size, note, note_len) != 0)
		goto out;
	if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sql_fail(r->db, e, "commit");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		(void)sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}
