/*
 * gb_registry_audit(): trust nothing the database says that the leaves do
 * not prove. The leaves are read in order and replayed: their hashes and the
 * tree are recomputed (in memory), every signature is re-verified in a fresh
 * keyring holding only the keys the log added before it, the rules of each
 * change are applied again, the derived tables must equal what the replay
 * derives, every stored tree node must equal the recomputed one, and the
 * latest checkpoint must be signed by the log key over the recomputed root.
 */
#define _XOPEN_SOURCE 700       /* nftw() */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gb/docjson.h"
#include "gb/codec.h"
#include "reg_int.h"

/* What the replay derives. */
struct key_row {
	char fpr[65];
	uint64_t added;
	int64_t revoked;
};
struct rel_row {
	char id[17], pcr0[97], sha[65], signer[65];
	char name[GB_REG_NAME_MAX + 1], version[GB_REG_NAME_MAX + 1];
	uint64_t leaf;
	int64_t revoked;
};

struct replay {
	const char *origin;             /* the log's, borrowed */
	struct gb__keyring *kr;
	struct key_row *keys;
	size_t nkeys;
	struct rel_row *rels;
	size_t nrels;
};

static struct key_row *
find_key(struct replay *rp, const char *fpr)
{
	for (size_t i = 0; i < rp->nkeys; i++)
		if (strcmp(rp->keys[i].fpr, fpr) == 0)
			return &rp->keys[i];
	return NULL;
}

static struct rel_row *
find_rel(struct replay *rp, const char *id, const char *pcr0)
{
	for (size_t i = 0; i < rp->nrels; i++)
		if ((id != NULL && strcmp(rp->rels[i].id, id) == 0) ||
		    (pcr0 != NULL && strcmp(rp->rels[i].pcr0, pcr0) == 0))
			return &rp->rels[i];
	return NULL;
}

static int
bad(struct gb_reg_error *e, uint64_t idx, const char *what)
{
	return gb__reg_fail(e, "audit_failed", "entry %" PRIu64 ": %s", idx,
	    what);
}

/* A failure of the audit's own keyring (a full /tmp, gpg missing, memory)
 * says nothing about the log: it keeps its code instead of audit_failed. */
static bool
machine_fault(const struct gb_reg_error *ve)
{
	static const char *const codes[] = { "io_error", "gpg_error",
	    "no_memory" };

	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (strcmp(ve->code, codes[i]) == 0)
			return true;
	return false;
}

/* The statement and signature a leaf carries, verified; *fpr the signer,
 * who must be active in the replay. */
static int
replay_signed(struct replay *rp, json_t *leaf, uint64_t idx, char **stmt,
    size_t *stmt_len, char fpr[65], struct gb_reg_error *e)
{
	const char *b64 = json_string_value(json_object_get(leaf, "statement"));
	const char *sig = json_string_value(json_object_get(leaf, "signature"));
	const char *signer = json_string_value(json_object_get(leaf, "signer"));
	struct gb_reg_error ve = { "", "" };
	struct key_row *k;
	char msg[600];

	*stmt = NULL;
	if (b64 == NULL || sig == NULL || signer == NULL ||
	    gb_base64_decode_alloc(b64, strlen(b64), GB_REG_STATEMENT_MAX,
	    (uint8_t **)stmt, stmt_len) != 0)
		return bad(e, idx, "its statement, signature or signer is "
		    "missing or malformed");
	if (gb__keyring_verify(rp->kr, *stmt, *stmt_len, sig, strlen(sig), true,
	    fpr, &ve) != 0) {
		if (machine_fault(&ve))
			return gb__reg_fail(e, ve.code, "entry %" PRIu64 ": "
			    "cannot check its signature: %s", idx, ve.message);
		snprintf(msg, sizeof msg, "its signature does not verify (%s)",
		    ve.message);
		return bad(e, idx, msg);
	}
	if (strcmp(fpr, signer) != 0)
		return bad(e, idx, "it names another signer than the one who "
		    "signed");
	if ((k = find_key(rp, fpr)) == NULL || k->revoked >= 0)
		return bad(e, idx, "its signer was not an active key of the log "
		    "at that point");
	return 0;
}

static int
replay_leaf(struct replay *rp, json_t *leaf, uint64_t idx,
    const uint8_t hash[GB_HASH_BYTES], struct gb_reg_error *e)
{
	const char *type = json_string_value(json_object_get(leaf, "type"));
	const char *fpr_in = json_string_value(json_object_get(leaf,
	    "fingerprint"));
	struct gb_reg_error ve = { "", "" };
	struct key_row *k;
	char fpr[65], *stmt = NULL;
	size_t len;
	int rc = -1;

	if (type == NULL)
		return bad(e, idx, "it has no type");
	if (strcmp(type, "key_added") == 0) {
		const char *key = json_string_value(json_object_get(leaf, "key"));

		if (key == NULL || fpr_in == NULL)
			return bad(e, idx, "its key or fingerprint is missing");
		if (gb__keyring_import(rp->kr, key, strlen(key), fpr, &ve) !=
		    0) {
			if (machine_fault(&ve))
				return gb__reg_fail(e, ve.code, "entry %" PRIu64
				    ": cannot import its key: %s", idx,
				    ve.message);
			return bad(e, idx, "its key does not import");
		}
		if (strcmp(fpr, fpr_in) != 0 || find_key(rp, fpr) != NULL)
			return bad(e, idx, "its fingerprint is not its key's, or "
			    "the key was added before");
		if ((k = realloc(rp->keys, (rp->nkeys + 1) * sizeof *k)) ==
		    NULL)
			return gb__reg_fail(e, "no_memory", "out of memory");
		rp->keys = k;
		k = &rp->keys[rp->nkeys++];
		snprintf(k->fpr, sizeof k->fpr, "%s", fpr);
		k->added = idx;
		k->revoked = -1;
		return 0;
	}
	if (strcmp(type, "key_revoked") == 0) {
		if (fpr_in == NULL || (k = find_key(rp, fpr_in)) == NULL ||
		    k->revoked >= 0)
			return bad(e, idx, "it revokes a key that was not "
			    "active");
		k->revoked = (int64_t)idx;
		return 0;
	}
	if (strcmp(type, "release_published") == 0) {
		struct gb_release rel;
		struct rel_row *row;
		json_t *want;

		if (replay_signed(rp, leaf, idx, &stmt, &len, fpr, e) != 0)
			goto out;
		if (gb_release_parse(stmt, len, &rel, &ve) != 0) {
			bad(e, idx, "its statement is not a valid publication");
			goto out;
		}
		want = gb__release_json(&rel);
		if (!json_equal(want, json_object_get(leaf, "release"))) {
			json_decref(want);
			bad(e, idx, "its release fields are not what its signed "
			    "statement says");
			goto out;
		}
		json_decref(want);
		if ((row = realloc(rp->rels, (rp->nrels + 1) * sizeof *row)) ==
		    NULL) {
			gb__reg_fail(e, "no_memory", "out of memory");
			goto out;
		}
		rp->rels = row;
		row = &rp->rels[rp->nrels];
		memset(row, 0, sizeof *row);
		gb_hex_encode(row->id, hash, 8);
		gb_hex_encode(row->pcr0, rel.pcrs[0].value, 48);
		gb__sha256_hex(stmt, len, row->sha);
		strcpy(row->signer, fpr);
		strcpy(row->name, rel.name);
		strcpy(row->version, rel.version);
		row->leaf = idx;
		row->revoked = -1;
		for (size_t i = 0; i < rp->nrels; i++)
			if (strcmp(rp->rels[i].pcr0, row->pcr0) == 0 ||
			    (strcmp(rp->rels[i].name, row->name) == 0 &&
			    strcmp(rp->rels[i].version, row->version) == 0)) {
				bad(e, idx, "it publishes a PCR0 or a name and "
				    "version published before");
				goto out;
			}
		rp->nrels++;
		rc = 0;
		goto out;
	}
	if (strcmp(type, "release_revoked") == 0) {
		char reason[GB_REG_REASON_MAX + 1], pcr0[97];
		uint8_t raw[48];
		struct rel_row *row;
		const char *id = json_string_value(json_object_get(leaf,
		    "release"));
		const char *why = json_string_value(json_object_get(leaf,
		    "reason"));

		if (replay_signed(rp, leaf, idx, &stmt, &len, fpr, e) != 0)
			goto out;
		if (gb__revocation_parse(stmt, len, rp->origin, raw, reason,
		    &ve) != 0) {
			char msg[600];

			snprintf(msg, sizeof msg, "its statement is not a valid "
			    "revocation of this log (%s: %.500s)", ve.code,
			    ve.message);
			bad(e, idx, msg);
			goto out;
		}
		gb_hex_encode(pcr0, raw, 48);
		row = find_rel(rp, NULL, pcr0);
		if (row == NULL || id == NULL || strcmp(row->id, id) != 0 ||
		    row->revoked >= 0 || why == NULL ||
		    strcmp(why, reason) != 0) {
			bad(e, idx, "it revokes a release that was not "
			    "published, or not as its statement says");
			goto out;
		}
		row->revoked = (int64_t)idx;
		rc = 0;
		goto out;
	}
	return bad(e, idx, "its type is unknown");
out:
	free(stmt);
	return rc;
}

/*
 * release_pcrs (registry.c) must hold exactly every PCR of every published
 * release, as the leaves say; replay_leaf() has checked each leaf's
 * release object against its signed statement. A registry that could not
 * build the table (read-only) has none, and searches read the leaves.
 */
static int
check_pcr_index(struct gb_registry *r, struct gb_reg_error *e)
{
	static const char leaves[] = "SELECT CAST(j.key AS INTEGER), j.value,"
	    " l.idx FROM leaves l, json_each(l.body, '$.release.pcrs') j"
	    " WHERE json_extract(l.body, '$.type') = 'release_published'";
	char sql[1024];
	sqlite3_stmt *st;
	int64_t extra = -1, missing = -1;

	if (sqlite3_prepare_v2(r->db, "SELECT 1 FROM sqlite_master WHERE"
	    " type = 'table' AND name = 'release_pcrs'", -1, &st, NULL) !=
	    SQLITE_OK)
		return gb__reg_fail(e, "db_error", "%s", sqlite3_errmsg(r->db));
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return 0;
	}
	sqlite3_finalize(st);
	snprintf(sql, sizeof sql, "SELECT (SELECT count(*) FROM (SELECT pcr,"
	    " value, leaf FROM release_pcrs EXCEPT %s)), (SELECT count(*) FROM"
	    " (%s EXCEPT SELECT pcr, value, leaf FROM release_pcrs))", leaves,
	    leaves);
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return gb__reg_fail(e, "db_error", "%s", sqlite3_errmsg(r->db));
	if (sqlite3_step(st) == SQLITE_ROW) {
		extra = sqlite3_column_int64(st, 0);
		missing = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (extra != 0 || missing != 0)
		return gb__reg_fail(e, "audit_failed", "the release_pcrs table "
		    "does not match the log (%lld rows the log does not have, "
		    "%lld missing)",
		    (long long)extra, (long long)missing);
	return 0;
}

/* The derived tables must hold exactly what the replay derived. */
static int
check_tables(struct gb_registry *r, struct replay *rp, struct gb_reg_error *e)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int rc = 0, step;

	if (sqlite3_prepare_v2(r->db, "SELECT fpr, added, coalesce(revoked, -1)"
	    " FROM keys", -1, &st, NULL) != SQLITE_OK)
		return gb__reg_fail(e, "db_error", "%s", sqlite3_errmsg(r->db));
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *fpr = (const char *)sqlite3_column_text(st, 0);
		struct key_row *k = fpr ? find_key(rp, fpr) : NULL;

		n++;
		if (k == NULL || k->added != (uint64_t)sqlite3_column_int64(st,
		    1) || k->revoked != sqlite3_column_int64(st, 2))
			rc = gb__reg_fail(e, "audit_failed", "the keys table "
			    "does not match the log (key %.64s)",
			    fpr ? fpr : "?");
	}
	sqlite3_finalize(st);
	if (rc == 0 && n != rp->nkeys)
		rc = gb__reg_fail(e, "audit_failed", "the keys table has %zu "
		    "keys, the log %zu", n, rp->nkeys);
	if (rc != 0)
		return rc;

	n = 0;
	if (sqlite3_prepare_v2(r->db, "SELECT id, leaf, name, version, pcr0,"
	    " statement_sha256, signer, coalesce(revoked, -1) FROM releases",
	    -1, &st, NULL) != SQLITE_OK)
		return gb__reg_fail(e, "db_error", "%s", sqlite3_errmsg(r->db));
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		struct rel_row *w = id ? find_rel(rp, id, NULL) : NULL;
		const char *col[5];

		for (int i = 0; i < 5; i++) {
			col[i] = (const char *)sqlite3_column_text(st, 2 + i);
			if (col[i] == NULL)
				col[i] = "";
		}
		n++;
		if (w == NULL || w->leaf != (uint64_t)sqlite3_column_int64(st,
		    1) || strcmp(w->name, col[0]) != 0 ||
		    strcmp(w->version, col[1]) != 0 ||
		    strcmp(w->pcr0, col[2]) != 0 || strcmp(w->sha, col[3]) != 0 ||
		    strcmp(w->signer, col[4]) != 0 ||
		    w->revoked != sqlite3_column_int64(st, 7))
			rc = gb__reg_fail(e, "audit_failed", "the releases table "
			    "does not match the log (release %.16s)",
			    id ? id : "?");
	}
	sqlite3_finalize(st);
	if (rc == 0 && n != rp->nrels)
		rc = gb__reg_fail(e, "audit_failed", "the releases table has "
		    "%zu releases, the log %zu", n, rp->nrels);
	if (rc == 0)
		rc = check_pcr_index(r, e);
	return rc;
}

/* Every stored node must be the recomputed one, and all must be there. */
static int
check_nodes(struct gb_registry *r, struct gb_merkle_mem *t, struct gb_reg_error *e)
{
	sqlite3_stmt *st;
	uint64_t n = 0, want = 0;
	int rc = 0;

	for (int l = 0; l < 64; l++)
		want += t->len[l];
	if (sqlite3_prepare_v2(r->db, "SELECT level, idx, hash FROM nodes", -1,
	    &st, NULL) != SQLITE_OK)
		return gb__reg_fail(e, "db_error", "%s", sqlite3_errmsg(r->db));
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		int64_t level = sqlite3_column_int64(st, 0);
		int64_t idx = sqlite3_column_int64(st, 1);

		n++;
		if (level < 0 || level >= 64 || idx < 0 ||
		    (uint64_t)idx >= t->len[level] ||
		    sqlite3_column_bytes(st, 2) != GB_HASH_BYTES ||
		    memcmp(sqlite3_column_blob(st, 2), t->lv[level][idx],
		    GB_HASH_BYTES) != 0)
			rc = gb__reg_fail(e, "audit_failed", "stored tree node "
			    "(%" PRId64 ", %" PRId64 ") is not the recomputed "
			    "one", level, idx);
	}
	sqlite3_finalize(st);
	if (rc == 0 && n != want)
		rc = gb__reg_fail(e, "audit_failed", "the tree has %" PRIu64
		    " stored nodes, %" PRIu64 " expected", n, want);
	return rc;
}

/* Opens a checkpoint note with the log key and parses it. */
static int
open_checkpoint(struct gb_registry *r, const char *note, const char *what,
    struct gb_checkpoint *c, struct gb_reg_error *e)
{
	struct gb_note_opened o;
	struct gb_note_key k;

	if (gb_note_vkey_parse(r->vkey, &k) != 0)
		return gb__reg_fail(e, "bad_database", "the log key in the "
		    "database is malformed");
	if (gb_note_open(note, strlen(note), &k, 1, &o) != 0)
		return gb__reg_fail(e, "audit_failed", "%s is not signed by the "
		    "log key: %s", what, o.error);
	if (gb_checkpoint_parse(note, o.text_len, c) != 0 ||
	    strcmp(c->origin, r->origin) != 0)
		return gb__reg_fail(e, "audit_failed", "%s is not a checkpoint "
		    "of this log", what);
	return 0;
}

/* Whether the tree of n leaves (root) extends the old checkpoint, by a
 * consistency proof made from the recomputed tree and verified. */
static bool
grew_from(struct gb_merkle_store *ts, const struct gb_checkpoint *old,
    uint64_t n, const uint8_t root[GB_HASH_BYTES])
{
	uint8_t proof[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES], r0[GB_HASH_BYTES];
	struct gb_span sp[GB_MERKLE_MAX_PROOF];
	size_t np;

	if (old->size == 0)
		return gb_merkle_root(ts, 0, r0) == 0 &&
		    memcmp(r0, old->root, GB_HASH_BYTES) == 0;
	if (gb_merkle_prove_consistency(ts, old->size, n, proof, &np) != 0)
		return false;
	for (size_t i = 0; i < np; i++)
		sp[i] = (struct gb_span){ proof[i], GB_HASH_BYTES };
	return gb_merkle_verify_consistency(old->size, n,
	    (struct gb_span){ old->root, GB_HASH_BYTES },
	    (struct gb_span){ root, GB_HASH_BYTES }, sp, np) == 0;
}

/*
 * The stored checkpoints, walked beside the leaves. The log signs one
 * checkpoint per size, 0 included, and keeps them all, so each size the
 * replay reaches must have its checkpoint, signed by the log key, of this
 * log, for that size, over the root of exactly the leaves replayed so far.
 * A history rewritten and re-signed at its end contradicts the older
 * checkpoints still in the table; the first one it contradicts is named.
 * Each costs one root of the in-memory tree (O(log n)) and one Ed25519
 * verification, so the walk is O(n log n).
 */
struct cp_walk {
	sqlite3_stmt *st;
	struct gb_note_key key;         /* the log's verifier key */
	int step;                       /* the last sqlite3_step() */
	bool gaps;                      /* a mirror's copy: only the sizes it
	                                 * fetched have one (mirror.c) */
};

static int
cp_walk_start(struct gb_registry *r, struct cp_walk *w, struct gb_reg_error *e)
{
	if (gb_note_vkey_parse(r->vkey, &w->key) != 0)
		return gb__reg_fail(e, "bad_database", "the log key in the "
		    "database is malformed");
	if (sqlite3_prepare_v2(r->db, "SELECT size, note FROM checkpoints"
	    " ORDER BY size", -1, &w->st, NULL) != SQLITE_OK)
		return gb__reg_fail(e, gb__sqlite_code(sqlite3_errcode(r->db)),
		    "%s", sqlite3_errmsg(r->db));
	w->step = sqlite3_step(w->st);
	return 0;
}

/* Checks the checkpoint of size n against the tree ts of n leaves. */
static int
cp_walk_check(struct gb_registry *r, struct cp_walk *w,
    struct gb_merkle_store *ts, uint64_t n, struct gb_reg_error *e)
{
	struct gb_note_opened o;
	struct gb_checkpoint c;
	uint8_t root[GB_HASH_BYTES];
	const char *note;
	int64_t size;

	if (w->step != SQLITE_ROW && w->step != SQLITE_DONE)
		return gb__reg_fail(e, gb__sqlite_code(w->step), "reading the "
		    "checkpoints: %s", sqlite3_errmsg(r->db));
	size = w->step == SQLITE_ROW ? sqlite3_column_int64(w->st, 0) : -1;
	if (w->gaps && (size < 0 || (uint64_t)size > n))
		return 0;
	if (size < 0 || (uint64_t)size != n)
		return gb__reg_fail(e, "audit_failed", "the checkpoint of size %"
		    PRIu64 " is missing: the log signs one for every size and "
		    "keeps them all", n);
	note = (const char *)sqlite3_column_text(w->st, 1);
	if (note == NULL || gb_note_open(note, strlen(note), &w->key, 1,
	    &o) != 0)
		return gb__reg_fail(e, "audit_failed", "the checkpoint of size %"
		    PRIu64 " is not signed by the log key: %s", n,
		    note == NULL ? "it is empty" : o.error);
	if (gb_checkpoint_parse(note, o.text_len, &c) != 0 ||
	    strcmp(c.origin, r->origin) != 0 || c.size != n)
		return gb__reg_fail(e, "audit_failed", "the checkpoint of size %"
		    PRIu64 " is not a checkpoint of this log at that size", n);
	if (gb_merkle_root(ts, n, root) != 0)
		return gb__reg_fail(e, "no_memory", "out of memory");
	if (memcmp(root, c.root, GB_HASH_BYTES) != 0)
		return gb__reg_fail(e, "audit_failed", "the checkpoint of size %"
		    PRIu64 ", signed by the log key, contradicts the leaves: "
		    "the root of entries 0..%" PRIu64 " is not the one it "
		    "signed, so the log's history was rewritten after it (an "
		    "entry below %" PRIu64 " changed)", n, n == 0 ? 0 : n - 1,
		    n);
	w->step = sqlite3_step(w->st);
	return 0;
}

/* After the last leaf: no checkpoint may be left over. */
static int
cp_walk_end(struct cp_walk *w, uint64_t n, struct gb_reg_error *e)
{
	if (w->step == SQLITE_ROW)
		return gb__reg_fail(e, "audit_failed", "the checkpoint of size %"
		    PRId64 " does not match the leaves: the log has only %"
		    PRIu64 " entries (it was truncated)",
		    (int64_t)sqlite3_column_int64(w->st, 0), n);
	return 0;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
gb__rmtree(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

int
gb_registry_audit(struct gb_registry *r, const char *since,
    uint64_t *checked, struct gb_reg_error *e)
{
	struct gb_merkle_mem *t = calloc(1, sizeof *t);
	struct gb_merkle_store ts = gb_merkle_mem_store(t);
	struct replay rp = { .origin = r->origin };
	struct cp_walk cw = { .st = NULL };
	struct gb_checkpoint cp, old;
	uint8_t hash[GB_HASH_BYTES], root[GB_HASH_BYTES];
	char tmpl[] = "/tmp/glassbox-audit-XXXXXX", *home = NULL, *note = NULL;
	sqlite3_stmt *st = NULL;
	uint64_t n = 0;
	int rc = -1, step;

	*checked = 0;
	if (t == NULL)
		return gb__reg_fail(e, "no_memory", "out of memory");
	if ((home = mkdtemp(tmpl)) == NULL) {
		gb__reg_fail(e, "io_error", "cannot make a temporary keyring");
		goto out;
	}
	if (gb__keyring_open(home, &rp.kr, e) != 0)
		goto out;
	/* One read transaction: the log cannot move under the audit. */
	if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db, "SELECT idx, body, hash FROM leaves ORDER"
	    " BY idx", -1, &st, NULL) != SQLITE_OK) {
		gb__reg_fail(e, "db_error", "%s", sqlite3_errmsg(r->db));
		goto out;
	}
	cw.gaps = gb__registry_is_mirror(r);
	if (cp_walk_start(r, &cw, e) != 0 || cp_walk_check(r, &cw, &ts, 0,
	    e) != 0)
		goto out;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *body = (const char *)sqlite3_column_text(st, 1);
		json_t *leaf;
		char *canon;
		bool same;

		if ((uint64_t)sqlite3_column_int64(st, 0) != n || body == NULL) {
			bad(e, n, "the leaves are not numbered 0, 1, 2, ...");
			goto out;
		}
		gb_merkle_leaf_hash(body, strlen(body), hash);
		if (sqlite3_column_bytes(st, 2) != GB_HASH_BYTES ||
		    memcmp(hash, sqlite3_column_blob(st, 2), GB_HASH_BYTES) !=
		    0) {
			bad(e, n, "its stored hash is not the hash of its body");
			goto out;
		}
		if ((leaf = gb_json_loadb(body, strlen(body), JSON_REJECT_DUPLICATES, NULL)) ==
		    NULL) {
			bad(e, n, "its body is not JSON");
			goto out;
		}
		canon = json_dumps(leaf, JSON_COMPACT | JSON_SORT_KEYS);
		same = canon != NULL && strcmp(canon, body) == 0;
		free(canon);
		if (!same) {
			json_decref(leaf);
			bad(e, n, "its body is not canonical JSON");
			goto out;
		}
		step = replay_leaf(&rp, leaf, n, hash, e);
		json_decref(leaf);
		if (step != 0)
			goto out;
		if (gb_merkle_append(&ts, n, hash) != 0) {
			gb__reg_fail(e, "no_memory", "out of memory");
			goto out;
		}
		n++;
		if (cp_walk_check(r, &cw, &ts, n, e) != 0)
			goto out;
	}
	if (step != SQLITE_DONE) {
		gb__reg_fail(e, "db_error", "%s", sqlite3_errmsg(r->db));
		goto out;
	}
	if (cp_walk_end(&cw, n, e) != 0)
		goto out;
	if (check_tables(r, &rp, e) != 0 || check_nodes(r, t, e) != 0)
		goto out;
	gb_merkle_root(&ts, n, root);
	/* A mirror that has fetched nothing yet holds no checkpoint. */
	if (cw.gaps && n == 0 && gb_registry_checkpoint(r, &note, NULL) != 0) {
		*checked = 0;
		rc = 0;
		goto out;
	}
	if (gb_registry_checkpoint(r, &note, e) != 0 ||
	    open_checkpoint(r, note, "the latest checkpoint", &cp, e) != 0)
		goto out;
	if (cp.size != n || memcmp(cp.root, root, GB_HASH_BYTES) != 0) {
		gb__reg_fail(e, "audit_failed", "the latest checkpoint (size %"
		    PRIu64 ") does not match the leaves (size %" PRIu64 ")",
		    cp.size, n);
		goto out;
	}
	if (since != NULL) {
		if (open_checkpoint(r, since, "the --since checkpoint", &old,
		    e) != 0)
			goto out;
		if (old.size > n) {
			gb__reg_fail(e, "audit_failed", "the --since checkpoint "
			    "has %" PRIu64 " entries, more than the log's %"
			    PRIu64 ": the log was truncated", old.size, n);
			goto out;
		}
		if (!grew_from(&ts, &old, n, root)) {
			gb__reg_fail(e, "audit_failed", "the log did not grow "
			    "from the --since checkpoint (size %" PRIu64 "): "
			    "its history was rewritten", old.size);
			goto out;
		}
	}
	*checked = n;
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_finalize(cw.st);
	(void)sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
	gb__keyring_close(rp.kr);
	if (home != NULL)
		(void)gb__rmtree(home);
	if (t != NULL)
		gb_merkle_mem_free(t);
	free(t);
	free(rp.keys);
	free(rp.rels);
	free(note);
	return rc;
}
