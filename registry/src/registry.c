/*
 * The registry over SQLite (gb/registry.h).
 *
 * Tables: leaves (the log), nodes (perfect-subtree hashes, gb/merkle.h),
 * checkpoints (one signed note per size), and tables derived from the
 * leaves for lookups, keys, releases and release_pcrs (every PCR of every
 * release, for search by value), which audit recomputes. Every
 * append is one IMMEDIATE transaction: checks, derived rows, the leaf, the
 * tree nodes and the new checkpoint commit together or not at all, so a
 * crash loses nothing acknowledged and leaves nothing half-written.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <nettle/sha2.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "gb/codec.h"
#include "gb/fileio.h"
#include "gb/note.h"
#include "gb/timefmt.h"
#include "reg_int.h"

#define SCHEMA_VERSION "1"

static const char schema[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE leaves(idx INTEGER PRIMARY KEY, type TEXT NOT NULL,"
    " body TEXT NOT NULL, hash BLOB NOT NULL);"
    "CREATE TABLE nodes(level INTEGER NOT NULL, idx INTEGER NOT NULL,"
    " hash BLOB NOT NULL, PRIMARY KEY(level, idx)) WITHOUT ROWID;"
    "CREATE TABLE checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL);"
    "CREATE TABLE keys(fpr TEXT PRIMARY KEY, added INTEGER NOT NULL,"
    " revoked INTEGER);"
    "CREATE TABLE releases(id TEXT PRIMARY KEY, leaf INTEGER NOT NULL UNIQUE,"
    " name TEXT NOT NULL, version TEXT NOT NULL, pcr0 TEXT NOT NULL UNIQUE,"
    " statement_sha256 TEXT NOT NULL, signer TEXT NOT NULL, revoked INTEGER,"
    " UNIQUE(name, version));";

const char *
gb__sqlite_code(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:       /* the disk (or a quota) is full */
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		return "io_error";
	case SQLITE_NOMEM:
		return "no_memory";
	default:
		return "db_error";
	}
}

/* A failed SQLite call, named by what the database says went wrong: a full
 * disk is the machine's problem (io_error), never the input's. */
static int
db_fail(struct gb_registry *r, struct gb_reg_error *e, const char *what)
{
	return gb__reg_fail(e, gb__sqlite_code(sqlite3_extended_errcode(r->db)),
	    "%s: %s", what, sqlite3_errmsg(r->db));
}

/* Runs SQL with no result rows. */
static int
exec(struct gb_registry *r, const char *sql, struct gb_reg_error *e)
{
	char *msg = NULL;
	int rc;

	if ((rc = sqlite3_exec(r->db, sql, NULL, NULL, &msg)) != SQLITE_OK) {
		gb__reg_fail(e, gb__sqlite_code(rc), "%s", msg ? msg :
		    sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static char *
path_with(const char *db, const char *suffix)
{
	size_t n = strlen(db) + strlen(suffix) + 1;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s%s", db, suffix);
	return p;
}

static int
open_db(const char *path, int flags, sqlite3 **db, struct gb_reg_error *e)
{
	int rc;

	if ((rc = sqlite3_open_v2(path, db, flags, NULL)) != SQLITE_OK) {
		gb__reg_fail(e, gb__sqlite_code(rc), "cannot open %s: %s", path,
		    *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return -1;
	}
	sqlite3_busy_timeout(*db, 10000);
	return 0;
}

/* Reads one text value (new string) of a query with one integer or text
 * parameter; *out NULL if no row. */
static int
query_text(struct gb_registry *r, const char *sql, const char *tparam,
    int64_t iparam, char **out, struct gb_reg_error *e)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(r, e, "prepare");
	if (tparam != NULL)
		sqlite3_bind_text(st, 1, tparam, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, iparam);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL &&
	    (*out = strdup((const char *)sqlite3_column_text(st, 0))) == NULL)
		rc = SQLITE_NOMEM;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(r, e, "query");
	return 0;
}

/* One integer of a query without parameters. */
static int
query_int(struct gb_registry *r, const char *sql, int64_t *out,
    struct gb_reg_error *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(r, e, "prepare");
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 :
	    db_fail(r, e, "query");
}

/* The Merkle store over the nodes table. */
/* A cached prepared statement, reset for reuse. */
static sqlite3_stmt *
cached(struct gb_registry *r, sqlite3_stmt **st, const char *sql)
{
	if (*st == NULL && sqlite3_prepare_v2(r->db, sql, -1, st, NULL) !=
	    SQLITE_OK)
		return NULL;
	sqlite3_reset(*st);
	sqlite3_clear_bindings(*st);
	return *st;
}

static int
node_get(void *ctx, unsigned level, uint64_t index, uint8_t out[GB_HASH_BYTES])
{
	struct gb_registry *r = ctx;
	sqlite3_stmt *st = cached(r, &r->node_get, "SELECT hash FROM nodes"
	    " WHERE level = ? AND idx = ?");
	int rc = GB_ENOENT;

	if (st == NULL)
		return GB_EIO;
	sqlite3_bind_int(st, 1, (int)level);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 0) == GB_HASH_BYTES) {
		memcpy(out, sqlite3_column_blob(st, 0), GB_HASH_BYTES);
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

static int
node_put(void *ctx, unsigned level, uint64_t index,
    const uint8_t hash[GB_HASH_BYTES])
{
	struct gb_registry *r = ctx;
	sqlite3_stmt *st = cached(r, &r->node_put, "INSERT INTO nodes(level,"
	    " idx, hash) VALUES (?, ?, ?)");
	int rc;

	if (st == NULL)
		return GB_EIO;
	sqlite3_bind_int(st, 1, (int)level);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
	sqlite3_bind_blob(st, 3, hash, GB_HASH_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : GB_EIO;
}

struct gb_merkle_store
gb__store_of(struct gb_registry *r)
{
	return (struct gb_merkle_store){ node_get, node_put, r };
}

/* Signs and stores the checkpoint of the log at size. */
static int
put_checkpoint(struct gb_registry *r, uint64_t size, struct gb_reg_error *e)
{
	struct gb_merkle_store s = gb__store_of(r);
	struct gb_checkpoint c = { .size = size };
	char *text = NULL, *note = NULL;
	sqlite3_stmt *st = NULL;
	size_t len;
	int rc = -1;

	strcpy(c.origin, r->origin);
	if (gb_merkle_root(&s, size, c.root) != 0) {
		gb__reg_fail(e, "db_error", "the tree of size %" PRIu64
		    " is incomplete", size);
		goto out;
	}
	if (gb_checkpoint_format(&c, &text) != 0 ||
	    gb_note_sign(text, strlen(text), &r->log_key, &note, &len) != 0) {
		gb__reg_fail(e, "crypto_error", "cannot sign the checkpoint");
		goto out;
	}
	if (sqlite3_prepare_v2(r->db, "INSERT INTO checkpoints(size, note)"
	    " VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK) {
		db_fail(r, e, "prepare");
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	sqlite3_bind_text(st, 2, note, (int)len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_fail(r, e, "storing the checkpoint");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	free(text);
	free(note);
	return rc;
}

int
gb_registry_size(struct gb_registry *r, uint64_t *size)
{
	int64_t n;

	/* Leaves are numbered 0..n-1 (audit checks it): max is O(log n). */
	if (query_int(r, "SELECT coalesce(max(idx) + 1, 0) FROM leaves", &n,
	    NULL) != 0)
		return -1;
	*size = (uint64_t)n;
	return 0;
}

/* Appends a leaf (inside the caller's transaction) and the checkpoint of
 * the new size. The leaf's hash is out->id's source for releases. */
static int
append_leaf(struct gb_registry *r, json_t *leaf, struct gb_reg_entry *out,
    uint8_t hash[GB_HASH_BYTES], struct gb_reg_error *e)
{
	struct gb_merkle_store s = gb__store_of(r);
	sqlite3_stmt *st = NULL;
	uint64_t size;
	char *body;
	int rc = -1;

	if ((body = json_dumps(leaf, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		return gb__reg_fail(e, "no_memory", "out of memory");
	if (strlen(body) > GB_REG_LEAF_MAX) {
		gb__reg_fail(e, "too_large", "the log entry would be %zu bytes; "
		    "at most %d fit a tile's entry bundle", strlen(body),
		    GB_REG_LEAF_MAX);
		goto out;
	}
	if (gb_registry_size(r, &size) != 0) {
		db_fail(r, e, "reading the log size");
		goto out;
	}
	gb_merkle_leaf_hash(body, strlen(body), hash);
	if (sqlite3_prepare_v2(r->db, "INSERT INTO leaves(idx, type, body, hash)"
	    " VALUES (?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		db_fail(r, e, "prepare");
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	sqlite3_bind_text(st, 2, json_string_value(json_object_get(leaf,
	    "type")), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, body, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, hash, GB_HASH_BYTES, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_fail(r, e, "storing the leaf");
		goto out;
	}
	if (gb_merkle_append(&s, size, hash) != 0) {
		db_fail(r, e, "storing the tree");
		goto out;
	}
	if (put_checkpoint(r, size + 1, e) != 0)
		goto out;
	out->index = size;
	out->size = size + 1;
	rc = 0;
out:
	sqlite3_finalize(st);
	free(body);
	return rc;
}

static int
begin(struct gb_registry *r, struct gb_reg_error *e)
{
	if (!r->writable)
		return gb__reg_fail(e, "read_only", "the registry was opened "
		    "read-only");
	return exec(r, "BEGIN IMMEDIATE", e);
}

/* Commits, or rolls back if rc != 0; returns rc, or -1 if COMMIT failed. */
static int
end(struct gb_registry *r, int rc, struct gb_reg_error *e)
{
	if (rc == 0 && exec(r, "COMMIT", e) == 0)
		return 0;
	(void)sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
keyring(struct gb_registry *r, struct gb_reg_error *e)
{
	char *home;
	int rc;

	if (r->keyring != NULL)
		return 0;
	if ((home = path_with(r->path, ".gnupg")) == NULL)
		return gb__reg_fail(e, "no_memory", "out of memory");
	rc = gb__keyring_open(home, &r->keyring, e);
	free(home);
	return rc;
}

/* The files of a registry at db, and of its init in progress. */
struct init_paths {
	const char *db;                         /* borrowed */
	char *key, *home;                       /* the final names */
	char *stage, *sdb, *skey, *shome;       /* PATH.init/{db,key,gnupg} */
};

static void
init_paths_free(struct init_paths *p)
{
	free(p->key);
	free(p->home);
	free(p->stage);
	free(p->sdb);
	free(p->skey);
	free(p->shome);
}

static int
init_paths(const char *db, struct init_paths *p)
{
	memset(p, 0, sizeof *p);
	p->db = db;
	if ((p->key = path_with(db, ".key")) == NULL ||
	    (p->home = path_with(db, ".gnupg")) == NULL ||
	    (p->stage = path_with(db, ".init")) == NULL ||
	    (p->sdb = path_with(p->stage, "/db")) == NULL ||
	    (p->skey = path_with(p->stage, "/key")) == NULL ||
	    (p->shome = path_with(p->stage, "/gnupg")) == NULL) {
		init_paths_free(p);
		return -1;
	}
	return 0;
}

static bool
exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/*
 * Serializes inits in one directory with flock() on the directory itself
 * (no lock file to leave behind; the kernel drops the lock when its holder
 * dies). Returns the descriptor to close, or -1 where the file system has
 * no such locks (then inits are not serialized), or -2 on error.
 */
static int
lock_dir(const char *db, struct gb_reg_error *e)
{
	const char *slash = strrchr(db, '/');
	char *dir = slash == NULL ? strdup(".") : slash == db ? strdup("/") :
	    strndup(db, (size_t)(slash - db));
	int fd;

	if (dir == NULL) {
		gb__reg_fail(e, "no_memory", "out of memory");
		return -2;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		gb__reg_fail(e, "io_error", "cannot open the directory %s: %s",
		    dir, strerror(errno));
		free(dir);
		return -2;
	}
	free(dir);
	while (flock(fd, LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes the new database at p->sdb: schema, meta, the checkpoint of the
 * empty log; closed, with nothing left in a WAL file. */
static int
init_db(struct init_paths *p, const char *origin, struct gb_note_key *k,
    const char *vkey, struct gb_reg_error *e)
{
	struct gb_registry r = { .writable = true };
	sqlite3_stmt *st = NULL;
	char *wal = NULL;
	int rc = -1;

	if (open_db(p->sdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_EXCLUSIVE, &r.db, e) != 0)
		return -1;
	r.log_key = *k;
	strcpy(r.origin, origin);
	if (exec(&r, "PRAGMA journal_mode=WAL", e) != 0 ||
	    exec(&r, "PRAGMA synchronous=FULL", e) != 0 ||
	    exec(&r, "BEGIN IMMEDIATE", e) != 0)
		goto out;
	if ((rc = exec(&r, schema, e)) == 0 &&
	    sqlite3_prepare_v2(r.db, "INSERT INTO meta(k, v) VALUES"
	    " ('schema', '" SCHEMA_VERSION "'), ('origin', ?), ('vkey', ?)",
	    -1, &st, NULL) != SQLITE_OK)
		rc = db_fail(&r, e, "prepare");
	if (rc == 0) {
		sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, vkey, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = db_fail(&r, e, "meta");
	}
	if (rc == 0)
		rc = put_checkpoint(&r, 0, e);
	rc = end(&r, rc, e);
out:
	gb_note_key_clear(&r.log_key);
	sqlite3_finalize(st);
	sqlite3_finalize(r.node_get);
	sqlite3_finalize(r.node_put);
	/* Closing the last connection checkpoints the WAL into the database
	 * and deletes it; only the database file is moved into place, so a
	 * WAL left over would lose the schema. */
	if (sqlite3_close(r.db) != SQLITE_OK && rc == 0)
		rc = gb__reg_fail(e, "db_error", "cannot close the new database");
	if (rc == 0 && ((wal = path_with(p->sdb, "-wal")) == NULL ||
	    exists(wal)))
		rc = gb__reg_fail(e, "io_error", "the new database could not be "
		    "written out of its WAL (disk full?)");
	free(wal);
	return rc;
}

int
gb_registry_init(const char *db, const char *origin, struct gb_reg_error *e)
{
	struct init_paths p;
	struct gb_note_key k;
	struct gb__keyring *kr = NULL;
	char *skey = NULL, *vkey = NULL;
	bool moved_home = false, moved_key = false;
	int lock = -1, rc = -1;

	memset(&k, 0, sizeof k);
	if (gb_note_key_generate(origin, &k) != 0)
		return gb__reg_fail(e, "bad_origin", "the origin \"%s\" is not "
		    "a valid key name (no spaces, no '+')", origin);
	if (init_paths(db, &p) != 0) {
		gb_note_key_clear(&k);
		return gb__reg_fail(e, "no_memory", "out of memory");
	}
	if ((lock = lock_dir(db, e)) == -2)
		goto out;

	/* PATH appears last: while it is absent, PATH.init marks what an
	 * interrupted init left (PATH.key, PATH.gnupg it had moved into
	 * place), and all of it goes. */
	if (exists(db)) {
		(void)rmdir(p.stage);   /* empty if an init died at its end */
		gb__reg_fail(e, "exists", "%s already exists", db);
		goto out;
	}
	if (exists(p.stage) && (gb__rmtree(p.stage) != 0 ||
	    gb__rmtree(p.key) != 0 || gb__rmtree(p.home) != 0)) {
		gb__reg_fail(e, "io_error", "cannot remove what an interrupted "
		    "init left (%s): %s", p.stage, strerror(errno));
		goto out;
	}
	if (exists(p.key) || exists(p.home)) {
		gb__reg_fail(e, "exists", "%s or %s exists without its database "
		    "%s: restore the database, or remove them", p.key, p.home,
		    db);
		goto out;
	}

	if (gb_note_skey_format(&k, &skey) != 0 ||
	    gb_note_vkey_format(&k, &vkey) != 0) {
		gb__reg_fail(e, "no_memory", "out of memory");
		goto out;
	}
	if (mkdir(p.stage, 0700) != 0) {
		gb__reg_fail(e, "io_error", "cannot create %s: %s", p.stage,
		    strerror(errno));
		goto out;
	}
	/* The key file ends with a newline, as its readers expect. */
	{
		size_t n = strlen(skey);
		char *line = malloc(n + 2);

		if (line == NULL) {
			gb__reg_fail(e, "no_memory", "out of memory");
			goto out;
		}
		memcpy(line, skey, n);
		line[n] = '\n';
		rc = gb_write_file_atomic(p.skey, line, n + 1, 0600,
		    GB_WRITE_EXCL);
		OPENSSL_clear_free(line, n + 2);
		if (rc != 0) {
			rc = gb__reg_fail(e, "io_error", "cannot write the log "
			    "key: %s", strerror(errno));
			goto out;
		}
		rc = -1;
	}
	if (gb__keyring_open(p.shome, &kr, e) != 0 ||
	    init_db(&p, origin, &k, vkey, e) != 0)
		goto out;
	if (gb_fsync_dir(p.shome) != 0 || gb_fsync_dir(p.stage) != 0) {
		gb__reg_fail(e, "io_error", "cannot sync %s: %s", p.stage,
		    strerror(errno));
		goto out;
	}

	/* Into place: the keyring, the key, then the database that makes
	 * them a registry. */
	if (rename(p.shome, p.home) != 0)
		goto io;
	moved_home = true;
	if (rename(p.skey, p.key) != 0)
		goto io;
	moved_key = true;
	if (gb_fsync_parent(db) != 0 || rename(p.sdb, db) != 0)
		goto io;
	if (gb_fsync_parent(db) != 0)
		goto io;
	(void)rmdir(p.stage);
	rc = 0;
	goto out;
io:
	gb__reg_fail(e, "io_error", "cannot move the new registry into place "
	    "at %s: %s", db, strerror(errno));
out:
	gb__keyring_close(kr);
	if (rc != 0 && lock != -2 && !exists(db)) {
		/* Nothing half-made stays: the stage, and what left it. */
		(void)gb__rmtree(p.stage);
		if (moved_key)
			(void)unlink(p.key);
		if (moved_home)
			(void)gb__rmtree(p.home);
	}
	if (lock >= 0)
		close(lock);
	if (skey != NULL)
		OPENSSL_clear_free(skey, strlen(skey));
	free(vkey);
	gb_note_key_clear(&k);
	init_paths_free(&p);
	return rc;
}

/* Reads the log key; refuses a key file others can read. */
static int
read_log_key(struct gb_registry *r, struct gb_reg_error *e)
{
	char *path = path_with(r->path, ".key");
	char buf[256];
	struct stat sb;
	ssize_t n;
	int fd, rc = -1;

	if (path == NULL)
		return gb__reg_fail(e, "no_memory", "out of memory");
	if ((fd = open(path, O_RDONLY)) < 0 || fstat(fd, &sb) != 0) {
		gb__reg_fail(e, "io_error", "cannot read the log key %s: %s",
		    path, strerror(errno));
		goto out;
	}
	if (sb.st_mode & 077) {
		gb__reg_fail(e, "bad_permissions", "the log key %s is open to "
		    "other users (mode %03o); chmod 600 it", path,
		    (unsigned)sb.st_mode & 0777);
		goto out;
	}
	n = read(fd, buf, sizeof buf - 1);
	if (n <= 0) {
		gb__reg_fail(e, "io_error", "cannot read the log key %s", path);
		goto out;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (gb_note_skey_parse(buf, &r->log_key) != 0 ||
	    strcmp(r->log_key.name, r->origin) != 0) {
		gb__reg_fail(e, "bad_key", "%s is not this log's key", path);
		goto out;
	}
	{
		struct gb_note_key pub;
		bool same = gb_note_vkey_parse(r->vkey, &pub) == 0 &&
		    memcmp(pub.pub, r->log_key.pub, sizeof pub.pub) == 0;

		if (!same) {
			gb__reg_fail(e, "bad_key", "%s does not match the "
			    "log's public key", path);
			goto out;
		}
	}
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof buf);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/*
 * release_pcrs: (pcr index, value, release leaf) of every published
 * release, so that a search by PCR value is an index lookup instead of
 * parsing every release. Registries made before it had none: it is made
 * and filled from the leaves on open, in one transaction (through a
 * writable connection of its own when r is read-only). When the file
 * cannot be written, searches read the leaves instead (pcr_index()).
 */
static const char pcr_schema[] =
    "CREATE TABLE IF NOT EXISTS release_pcrs(pcr INTEGER NOT NULL,"
    " value TEXT NOT NULL, leaf INTEGER NOT NULL,"
    " PRIMARY KEY(value, pcr, leaf)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS release_pcrs_leaf ON release_pcrs(leaf);";

/* Every PCR of every published release, from the leaves (whose release
 * objects audit checks against their signed statements). */
#define PCRS_FROM_LEAVES \
    "SELECT CAST(j.key AS INTEGER), j.value, l.idx FROM leaves l," \
    " json_each(l.body, '$.release.pcrs') j" \
    " WHERE json_extract(l.body, '$.type') = 'release_published'"

static bool
pcr_index(sqlite3 *db)
{
	sqlite3_stmt *st;
	bool have = false;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE"
	    " type = 'table' AND name = 'release_pcrs'", -1, &st, NULL) ==
	    SQLITE_OK)
		have = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return have;
}

static int
ensure_pcr_index(struct gb_registry *r, struct gb_reg_error *e)
{
	sqlite3 *db = r->db;
	int rc = 0;

	if (pcr_index(r->db))
		return 0;
	if (!r->writable && sqlite3_open_v2(r->path, &db,
	    SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return 0;               /* searches read the leaves */
	}
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		rc = -1;
	/* Another process may have made it since we looked. */
	else if (!pcr_index(db) && (sqlite3_exec(db, pcr_schema, NULL, NULL,
	    NULL) != SQLITE_OK || sqlite3_exec(db, "INSERT INTO release_pcrs"
	    "(pcr, value, leaf) " PCRS_FROM_LEAVES, NULL, NULL, NULL) !=
	    SQLITE_OK))
		rc = -1;
	if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK)
		rc = -1;
	if (rc != 0) {
		if (r->writable)
			gb__reg_fail(e, "db_error", "cannot build the PCR "
			    "index: %s", sqlite3_errmsg(db));
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	if (db != r->db)
		sqlite3_close(db);
	/* A read-only handle falls back to the leaves; a writer must keep
	 * the index it writes to. */
	return r->writable ? rc : 0;
}

int
gb_registry_open(const char *db, bool writable, struct gb_registry **out,
    struct gb_reg_error *e)
{
	struct gb_registry *r;
	char *v = NULL, *origin = NULL;

	*out = NULL;
	if ((r = calloc(1, sizeof *r)) == NULL ||
	    (r->path = strdup(db)) == NULL) {
		free(r);
		return gb__reg_fail(e, "no_memory", "out of memory");
	}
	r->writable = writable;
	if (access(db, F_OK) != 0) {
		gb__reg_fail(e, "no_registry", "no registry at %s (glassbox "
		    "registry init)", db);
		goto fail;
	}
	if (open_db(db, writable ? SQLITE_OPEN_READWRITE :
	    SQLITE_OPEN_READONLY, &r->db, e) != 0)
		goto fail;
	if (exec(r, "PRAGMA synchronous=FULL", e) != 0 ||
	    query_text(r, "SELECT v FROM meta WHERE k = ?", "schema", 0, &v,
	    e) != 0)
		goto fail;
	if (v == NULL || strcmp(v, SCHEMA_VERSION) != 0) {
		gb__reg_fail(e, "bad_database", "%s is not a glassbox registry "
		    "of schema " SCHEMA_VERSION, db);
		goto fail;
	}
	if (query_text(r, "SELECT v FROM meta WHERE k = ?", "origin", 0,
	    &origin, e) != 0 || query_text(r, "SELECT v FROM meta WHERE k = ?",
	    "vkey", 0, &r->vkey, e) != 0)
		goto fail;
	if (origin == NULL || r->vkey == NULL ||
	    strlen(origin) > GB_NOTE_NAME_MAX) {
		gb__reg_fail(e, "bad_database", "%s lacks its origin or key",
		    db);
		goto fail;
	}
	strcpy(r->origin, origin);
	if (writable && read_log_key(r, e) != 0)
		goto fail;
	if (ensure_pcr_index(r, e) != 0)
		goto fail;
	free(v);
	free(origin);
	*out = r;
	return 0;
fail:
	free(v);
	free(origin);
	gb_registry_close(r);
	return -1;
}

void
gb_registry_close(struct gb_registry *r)
{
	if (r == NULL)
		return;
	sqlite3_finalize(r->node_get);
	sqlite3_finalize(r->node_put);
	sqlite3_close(r->db);
	gb__keyring_close(r->keyring);
	gb_note_key_clear(&r->log_key);
	free(r->vkey);
	free(r->path);
	free(r);
}

const char *
gb_registry_vkey(const struct gb_registry *r)
{
	return r->vkey;
}

/* One integer of a query with one text parameter; 0 if no row. */
static int
lookup_int(struct gb_registry *r, const char *sql, const char *param,
    int64_t *out, struct gb_reg_error *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(r, e, "prepare");
	sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 :
	    db_fail(r, e, "query");
}

/* The state of a key in the log: 0 unknown, 1 active, 2 revoked. */
static int
key_state(struct gb_registry *r, const char *fpr, int *state,
    struct gb_reg_error *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db, "SELECT revoked IS NOT NULL FROM keys"
	    " WHERE fpr = ?", -1, &st, NULL) != SQLITE_OK)
		return db_fail(r, e, "prepare");
	sqlite3_bind_text(st, 1, fpr, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*state = rc == SQLITE_ROW ? 1 + sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 :
	    db_fail(r, e, "query");
}

/* Runs an UPDATE/INSERT with text and integer parameters, in order
 * ('t' text, 'i' int64, 'n' null). */
static int
run(struct gb_registry *r, const char *sql, const char *types,
    struct gb_reg_error *e, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(r, e, "prepare");
	va_start(ap, e);
	for (int i = 0; types[i] != '\0'; i++) {
		if (types[i] == 't')
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *),
			    -1, SQLITE_TRANSIENT);
		else if (types[i] == 'i')
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(r, e, "update");
}

int
gb_registry_key_add(struct gb_registry *r, const char *armored, size_t len,
    struct gb_reg_entry *out, struct gb_reg_error *e)
{
	uint8_t hash[GB_HASH_BYTES];
	char fpr[65];
	json_t *leaf = NULL;
	int state, rc = -1;

	memset(out, 0, sizeof *out);
	if (keyring(r, e) != 0 || begin(r, e) != 0)
		return -1;
	if (gb__keyring_import(r->keyring, armored, len, fpr, e) != 0 ||
	    key_state(r, fpr, &state, e) != 0)
		goto out;
	if (state == 2) {
		gb__reg_fail(e, "key_revoked", "key %s was revoked in this log; "
		    "it cannot be added again", fpr);
		goto out;
	}
	if (state == 1) {               /* already there: nothing to do */
		int64_t idx;

		out->existed = true;
		rc = lookup_int(r, "SELECT added FROM keys WHERE fpr = ?", fpr,
		    &idx, e);
		out->index = (uint64_t)idx;
		if (rc == 0)
			rc = gb_registry_size(r, &out->size);
		goto out;
	}
	leaf = json_pack("{s:s, s:s, s:s%, s:I}", "type", "key_added",
	    "fingerprint", fpr, "key", armored, len, "time_ms",
	    (json_int_t)gb_time_now_ms());
	if (leaf == NULL) {
		gb__reg_fail(e, "bad_key", "the key is not UTF-8 text");
		goto out;
	}
	if (append_leaf(r, leaf, out, hash, e) != 0 ||
	    run(r, "INSERT INTO keys(fpr, added) VALUES (?, ?)", "ti", e, fpr,
	    (int64_t)out->index) != 0)
		goto out;
	rc = 0;
out:
	json_decref(leaf);
	return end(r, rc, e);
}

/* Upper-case hex fingerprint of 40 or 64 digits. */
static bool
fpr_ok(const char *in, char out[65])
{
	size_t n = strlen(in);

	if (n != 40 && n != 64)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = in[i];

		if (c >= 'a' && c <= 'f')
			c = (char)(c - 'a' + 'A');
		if (i < n && !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return false;
		out[i] = c;
	}
	return true;
}

int
gb_registry_key_revoke(struct gb_registry *r, const char *fpr_in,
    const char *reason, struct gb_reg_entry *out, struct gb_reg_error *e)
{
	uint8_t hash[GB_HASH_BYTES];
	json_t *leaf = NULL;
	char fpr[65];
	int state, rc = -1;

	memset(out, 0, sizeof *out);
	if (!fpr_ok(fpr_in, fpr))
		return gb__reg_fail(e, "bad_key", "\"%.80s\" is not a full key "
		    "fingerprint (40 or 64 hex digits)", fpr_in);
	if (reason == NULL || reason[0] == '\0' ||
	    strlen(reason) > GB_REG_REASON_MAX)
		return gb__reg_fail(e, "bad_statement", "a revocation needs a "
		    "reason of 1..%d bytes", GB_REG_REASON_MAX);
	if (begin(r, e) != 0)
		return -1;
	if (key_state(r, fpr, &state, e) != 0)
		goto out;
	if (state != 1) {
		gb__reg_fail(e, state == 0 ? "unknown_key" : "key_revoked",
		    "key %s is %s", fpr, state == 0 ? "not in the log" :
		    "already revoked");
		goto out;
	}
	leaf = json_pack("{s:s, s:s, s:s, s:I}", "type", "key_revoked",
	    "fingerprint", fpr, "reason", reason, "time_ms",
	    (json_int_t)gb_time_now_ms());
	if (leaf == NULL) {
		gb__reg_fail(e, "bad_statement", "the reason is not UTF-8");
		goto out;
	}
	if (append_leaf(r, leaf, out, hash, e) != 0 ||
	    run(r, "UPDATE keys SET revoked = ? WHERE fpr = ?", "it", e,
	    (int64_t)out->index, fpr) != 0)
		goto out;
	rc = 0;
out:
	json_decref(leaf);
	return end(r, rc, e);
}

void
gb__sha256_hex(const void *p, size_t n, char out[65])
{
	struct sha256_ctx c;
	uint8_t md[32];

	sha256_init(&c);
	sha256_update(&c, n, p);
	sha256_digest(&c, sizeof md, md);
	gb_hex_encode(out, md, sizeof md);
}

/* Verifies a signed statement with the keyring and the log's keys: the
 * signer must be a key the log added and did not revoke. */
static int
check_signed(struct gb_registry *r, const char *stmt, size_t stmt_len,
    const char *sig, size_t sig_len, char fpr[65], struct gb_reg_error *e)
{
	int state;

	if (keyring(r, e) != 0 ||
	    gb__keyring_verify(r->keyring, stmt, stmt_len, sig, sig_len, false,
	    fpr, e) != 0 || key_state(r, fpr, &state, e) != 0)
		return -1;
	if (state != 1)
		return gb__reg_fail(e, state == 0 ? "unknown_key" :
		    "key_revoked", "signed by key %s, which %s", fpr,
		    state == 0 ? "is not in the log" : "the log has revoked");
	return 0;
}

/* The leaf's carriage of a signed statement. */
static json_t *
signed_leaf(const char *type, const char *stmt, size_t stmt_len,
    const char *sig, size_t sig_len, const char *fpr)
{
	char *b64 = NULL;
	json_t *leaf;

	if (gb_base64_encode_alloc((const uint8_t *)stmt, stmt_len, &b64) != 0)
		return NULL;
	leaf = json_pack("{s:s, s:s, s:s%, s:s, s:I}", "type", type,
	    "statement", b64, "signature", sig, sig_len, "signer", fpr,
	    "time_ms", (json_int_t)gb_time_now_ms());
	free(b64);
	return leaf;
}

json_t *
gb__release_json(const struct gb_release *rel)
{
	json_t *pcrs = json_object(), *o;
	char key[4], hex[97];

	for (unsigned i = 0; pcrs != NULL && i < rel->npcrs; i++) {
		snprintf(key, sizeof key, "%u", rel->pcrs[i].index);
		gb_hex_encode(hex, rel->pcrs[i].value, 48);
		json_object_set_new(pcrs, key, json_string(hex));
	}
	o = json_pack("{s:s, s:s, s:s, s:o}", "name", rel->name, "version",
	    rel->version, "format", rel->format, "pcrs", pcrs);
	/* Only an instance release says its kind: enclave releases' leaves
	 * stay as they always were. */
	if (o != NULL && rel->instance && json_object_set_new(o, "kind",
	    json_string("nitrotpm")) != 0) {
		json_decref(o);
		o = NULL;
	}
	if (o != NULL && rel->has_signer_key) {
		gb_hex_encode(hex, rel->signer_key, 32);
		if (json_object_set_new(o, "signer_key",
		    json_string(hex)) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

int
gb_registry_publish(struct gb_registry *r, const char *stmt, size_t stmt_len,
    const char *sig, size_t sig_len, struct gb_reg_entry *out,
    struct gb_reg_error *e)
{
	struct gb_release rel;
	uint8_t hash[GB_HASH_BYTES];
	char fpr[65], stmt_sha[65], pcr0[97];
	char *have_sha = NULL, *have_id = NULL;
	json_t *leaf = NULL, *relj;
	int64_t n;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (gb_release_parse(stmt, stmt_len, &rel, e) != 0)
		return -1;
	if (begin(r, e) != 0)
		return -1;
	if (check_signed(r, stmt, stmt_len, sig, sig_len, fpr, e) != 0)
		goto out;
	gb__sha256_hex(stmt, stmt_len, stmt_sha);
	gb_hex_encode(pcr0, rel.pcrs[0].value, 48);

	/* The same statement again is not a new release; another statement
	 * for the same PCR0, or the same name and version, conflicts. */
	if (query_text(r, "SELECT statement_sha256 FROM releases WHERE"
	    " pcr0 = ?", pcr0, 0, &have_sha, e) != 0)
		goto out;
	if (have_sha != NULL && strcmp(have_sha, stmt_sha) == 0) {
		if (query_text(r, "SELECT id FROM releases WHERE pcr0 = ?",
		    pcr0, 0, &have_id, e) != 0 ||
		    lookup_int(r, "SELECT leaf FROM releases WHERE pcr0 = ?",
		    pcr0, &n, e) != 0 || gb_registry_size(r, &out->size) != 0)
			goto out;
		out->existed = true;
		out->index = (uint64_t)n;
		snprintf(out->id, sizeof out->id, "%s", have_id);
		rc = 0;
		goto out;
	}
	if (have_sha != NULL) {
		gb__reg_fail(e, "conflict", "another statement was already "
		    "published for this PCR0");
		goto out;
	}
	{
		sqlite3_stmt *st;
		int found;

		if (sqlite3_prepare_v2(r->db, "SELECT 1 FROM releases WHERE"
		    " name = ? AND version = ?", -1, &st, NULL) != SQLITE_OK) {
			db_fail(r, e, "prepare");
			goto out;
		}
		sqlite3_bind_text(st, 1, rel.name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, rel.version, -1, SQLITE_STATIC);
		found = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (found) {
			gb__reg_fail(e, "conflict", "%s %s was already "
			    "published with other PCRs", rel.name,
			    rel.version);
			goto out;
		}
	}
	if ((leaf = signed_leaf("release_published", stmt, stmt_len, sig,
	    sig_len, fpr)) == NULL || (relj = gb__release_json(&rel)) == NULL ||
	    json_object_set_new(leaf, "release", relj) != 0) {
		gb__reg_fail(e, "bad_statement", "the statement or signature "
		    "is not UTF-8 text");
		goto out;
	}
	if (append_leaf(r, leaf, out, hash, e) != 0)
		goto out;
	gb_hex_encode(out->id, hash, 8);
	if (run(r, "INSERT INTO releases(id, leaf, name, version, pcr0,"
	    " statement_sha256, signer) VALUES (?, ?, ?, ?, ?, ?, ?)",
	    "tittttt", e, out->id, (int64_t)out->index, rel.name, rel.version,
	    pcr0, stmt_sha, fpr) != 0)
		goto out;
	for (unsigned i = 0; i < rel.npcrs; i++) {
		char hex[97];

		gb_hex_encode(hex, rel.pcrs[i].value, 48);
		if (run(r, "INSERT INTO release_pcrs(pcr, value, leaf) VALUES"
		    " (?, ?, ?)", "iti", e, (int64_t)rel.pcrs[i].index, hex,
		    (int64_t)out->index) != 0)
			goto out;
	}
	rc = 0;
out:
	free(have_sha);
	free(have_id);
	json_decref(leaf);
	return end(r, rc, e);
}

int
gb_registry_revoke(struct gb_registry *r, const char *stmt, size_t stmt_len,
    const char *sig, size_t sig_len, struct gb_reg_entry *out,
    struct gb_reg_error *e)
{
	char reason[GB_REG_REASON_MAX + 1], fpr[65], pcr0[97];
	uint8_t pcr0_raw[48], hash[GB_HASH_BYTES];
	char *id = NULL;
	json_t *leaf = NULL;
	int64_t relleaf, revoked;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (gb__revocation_parse(stmt, stmt_len, r->origin, pcr0_raw,
	    reason, e) != 0)
		return -1;
	gb_hex_encode(pcr0, pcr0_raw, 48);
	if (begin(r, e) != 0)
		return -1;
	if (check_signed(r, stmt, stmt_len, sig, sig_len, fpr, e) != 0 ||
	    query_text(r, "SELECT id FROM releases WHERE pcr0 = ?", pcr0, 0,
	    &id, e) != 0)
		goto out;
	if (id == NULL) {
		gb__reg_fail(e, "not_found", "no release has this PCR0");
		goto out;
	}
	if (lookup_int(r, "SELECT leaf FROM releases WHERE pcr0 = ?", pcr0,
	    &relleaf, e) != 0 || lookup_int(r, "SELECT coalesce(revoked, -1)"
	    " FROM releases WHERE pcr0 = ?", pcr0, &revoked, e) != 0)
		goto out;
	if (revoked >= 0) {
		gb__reg_fail(e, "already_revoked", "release %s was revoked by "
		    "entry %" PRId64, id, revoked);
		goto out;
	}
	if ((leaf = signed_leaf("release_revoked", stmt, stmt_len, sig,
	    sig_len, fpr)) == NULL || json_object_set_new(leaf, "release",
	    json_string(id)) != 0 || json_object_set_new(leaf, "reason",
	    json_string(reason)) != 0) {
		gb__reg_fail(e, "bad_statement", "the statement or signature "
		    "is not UTF-8 text");
		goto out;
	}
	if (append_leaf(r, leaf, out, hash, e) != 0 ||
	    run(r, "UPDATE releases SET revoked = ? WHERE id = ?", "it", e,
	    (int64_t)out->index, id) != 0)
		goto out;
	snprintf(out->id, sizeof out->id, "%s", id);
	rc = 0;
out:
	free(id);
	json_decref(leaf);
	return end(r, rc, e);
}

int
gb_registry_leaf(struct gb_registry *r, uint64_t index, char **json,
    struct gb_reg_error *e)
{
	if (query_text(r, "SELECT body FROM leaves WHERE idx = ?", NULL,
	    (int64_t)index, json, e) != 0)
		return -1;
	if (*json == NULL)
		return gb__reg_fail(e, "not_found", "no entry %" PRIu64, index);
	return 0;
}

/* The note with the witnesses' cosignatures of its size (witness.c);
 * *note is freed on failure. */
static int
cosigned(struct gb_registry *r, char **note, struct gb_reg_error *e)
{
	if (gb__cosigned(r, note, e) == 0)
		return 0;
	free(*note);
	*note = NULL;
	return -1;
}

int
gb_registry_checkpoint(struct gb_registry *r, char **note,
    struct gb_reg_error *e)
{
	if (query_text(r, "SELECT note FROM checkpoints ORDER BY size DESC"
	    " LIMIT ?", NULL, 1, note, e) != 0)
		return -1;
	if (*note == NULL)
		return gb__reg_fail(e, "bad_database", "the log has no "
		    "checkpoint");
	return cosigned(r, note, e);
}

int
gb_registry_checkpoint_at(struct gb_registry *r, uint64_t size, char **note,
    struct gb_reg_error *e)
{
	if (size > INT64_MAX)
		return gb__reg_fail(e, "not_found", "no checkpoint of size %"
		    PRIu64, size);
	if (query_text(r, "SELECT note FROM checkpoints WHERE size = ?", NULL,
	    (int64_t)size, note, e) != 0)
		return -1;
	if (*note == NULL)
		return gb__reg_fail(e, "not_found", "no checkpoint of size %"
		    PRIu64, size);
	return cosigned(r, note, e);
}

int
gb_registry_find_release(struct gb_registry *r, const char *id,
    uint64_t *index, struct gb_reg_error *e)
{
	int64_t n;
	char *found = NULL;

	if (query_text(r, "SELECT id FROM releases WHERE id = ?", id, 0,
	    &found, e) != 0)
		return -1;
	if (found == NULL)
		return gb__reg_fail(e, "not_found", "no release %.40s", id);
	free(found);
	if (lookup_int(r, "SELECT leaf FROM releases WHERE id = ?", id, &n,
	    e) != 0)
		return -1;
	*index = (uint64_t)n;
	return 0;
}

int
gb_registry_prove_inclusion(struct gb_registry *r, uint64_t index,
    uint64_t size, uint8_t proof[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES],
    size_t *n, struct gb_reg_error *e)
{
	struct gb_merkle_store s = gb__store_of(r);
	uint64_t have;

	if (gb_registry_size(r, &have) != 0)
		return db_fail(r, e, "reading the log size");
	if (index >= size || size > have)
		return gb__reg_fail(e, "out_of_range", "entry %" PRIu64 " is "
		    "not in a tree of %" PRIu64 " (the log has %" PRIu64 ")",
		    index, size, have);
	if (gb_merkle_prove_inclusion(&s, index, size, proof, n) != 0)
		return gb__reg_fail(e, "bad_database", "the tree is missing "
		    "nodes");
	return 0;
}

int
gb_registry_prove_consistency(struct gb_registry *r, uint64_t size1,
    uint64_t size2, uint8_t proof[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES],
    size_t *n, struct gb_reg_error *e)
{
	struct gb_merkle_store s = gb__store_of(r);
	uint64_t have;

	if (gb_registry_size(r, &have) != 0)
		return db_fail(r, e, "reading the log size");
	if (size1 == 0 || size1 > size2 || size2 > have)
		return gb__reg_fail(e, "out_of_range", "no consistency proof "
		    "from %" PRIu64 " to %" PRIu64 " (sizes 1..%" PRIu64 ")",
		    size1, size2, have);
	if (gb_merkle_prove_consistency(&s, size1, size2, proof, n) != 0)
		return gb__reg_fail(e, "bad_database", "the tree is missing "
		    "nodes");
	return 0;
}

int
gb_registry_releases(struct gb_registry *r,
    int (*fn)(void *arg, const struct gb_reg_release *rel), void *arg,
    struct gb_reg_error *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db, "SELECT id, leaf, name, version, pcr0,"
	    " signer, coalesce(revoked, -1) FROM releases ORDER BY leaf", -1,
	    &st, NULL) != SQLITE_OK)
		return db_fail(r, e, "prepare");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct gb_reg_release rel = {
			.id = (const char *)sqlite3_column_text(st, 0),
			.index = (uint64_t)sqlite3_column_int64(st, 1),
			.name = (const char *)sqlite3_column_text(st, 2),
			.version = (const char *)sqlite3_column_text(st, 3),
			.pcr0 = (const char *)sqlite3_column_text(st, 4),
			.signer = (const char *)sqlite3_column_text(st, 5),
			.revoked = sqlite3_column_int64(st, 6),
		};

		if (fn(arg, &rel) != 0)
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 :
	    db_fail(r, e, "listing releases");
}

int
gb_registry_releases_page(struct gb_registry *r,
    const struct gb_reg_filter *f, int64_t after, size_t limit,
    int (*fn)(void *arg, const struct gb_reg_release *rel), void *arg,
    int64_t *next, struct gb_reg_error *e)
{
	char sql[1024];
	bool indexed = f->pcr != NULL && pcr_index(r->db);
	sqlite3_stmt *st;
	int64_t last = -1;
	size_t n = 0;
	int rc;

	*next = -1;
	if (limit == 0 || limit > GB_REG_PAGE_MAX)
		return gb__reg_fail(e, "out_of_range", "a page holds 1..%d "
		    "releases", GB_REG_PAGE_MAX);
	/* Fixed fragments only: every value is a bound parameter. */
	snprintf(sql, sizeof sql, "SELECT DISTINCT r.id, r.leaf, r.name,"
	    " r.version, r.pcr0, r.signer, coalesce(r.revoked, -1)"
	    " FROM releases r%s WHERE r.leaf > ?1%s%s%s ORDER BY r.leaf"
	    " LIMIT ?5",
	    indexed ? " JOIN release_pcrs p ON p.leaf = r.leaf AND"
	    " p.value = ?4" : "",
	    f->name != NULL ? " AND r.name = ?2" : "",
	    f->pcr0 != NULL ? " AND r.pcr0 = ?3" : "",
	    f->pcr != NULL && !indexed ? " AND r.leaf IN (SELECT l.idx FROM"
	    " leaves l, json_each(l.body, '$.release.pcrs') j WHERE"
	    " json_extract(l.body, '$.type') = 'release_published' AND"
	    " j.value = ?4)" : "");
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(r, e, "prepare");
	sqlite3_bind_int64(st, 1, after);
	if (f->name != NULL)
		sqlite3_bind_text(st, 2, f->name, -1, SQLITE_STATIC);
	if (f->pcr0 != NULL)
		sqlite3_bind_text(st, 3, f->pcr0, -1, SQLITE_STATIC);
	if (f->pcr != NULL)
		sqlite3_bind_text(st, 4, f->pcr, -1, SQLITE_STATIC);
	/* One more than asked, to tell whether another page follows. */
	sqlite3_bind_int64(st, 5, (sqlite3_int64)limit + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct gb_reg_release rel = {
			.id = (const char *)sqlite3_column_text(st, 0),
			.index = (uint64_t)sqlite3_column_int64(st, 1),
			.name = (const char *)sqlite3_column_text(st, 2),
			.version = (const char *)sqlite3_column_text(st, 3),
			.pcr0 = (const char *)sqlite3_column_text(st, 4),
			.signer = (const char *)sqlite3_column_text(st, 5),
			.revoked = sqlite3_column_int64(st, 6),
		};

		if (n == limit) {
			*next = last;
			break;
		}
		n++;
		last = (int64_t)rel.index;
		if (fn(arg, &rel) != 0)
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 :
	    db_fail(r, e, "listing releases");
}

int
gb_registry_keys(struct gb_registry *r,
    int (*fn)(void *arg, const struct gb_reg_key *k), void *arg,
    struct gb_reg_error *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db, "SELECT fpr, added, coalesce(revoked, -1)"
	    " FROM keys ORDER BY added", -1, &st, NULL) != SQLITE_OK)
		return db_fail(r, e, "prepare");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct gb_reg_key k = {
			.fpr = (const char *)sqlite3_column_text(st, 0),
			.index = (uint64_t)sqlite3_column_int64(st, 1),
			.revoked = sqlite3_column_int64(st, 2),
		};

		if (fn(arg, &k) != 0)
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 :
	    db_fail(r, e, "listing keys");
}

int
gb__registry_append_raw(struct gb_registry *r, const char *const *leaves,
    size_t n, struct gb_reg_error *e)
{
	struct gb_merkle_store s = gb__store_of(r);
	uint8_t hash[GB_HASH_BYTES];
	sqlite3_stmt *st = NULL;
	uint64_t size;
	int rc = -1;

	if (begin(r, e) != 0)
		return -1;
	if (gb_registry_size(r, &size) != 0 ||
	    sqlite3_prepare_v2(r->db, "INSERT INTO leaves(idx, type, body,"
	    " hash) VALUES (?, 'bench', ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		db_fail(r, e, "prepare");
		goto out;
	}
	for (size_t i = 0; i < n; i++, size++) {
		gb_merkle_leaf_hash(leaves[i], strlen(leaves[i]), hash);
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
		sqlite3_bind_text(st, 2, leaves[i], -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, hash, GB_HASH_BYTES, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE ||
		    gb_merkle_append(&s, size, hash) != 0) {
			db_fail(r, e, "appending");
			goto out;
		}
	}
	rc = put_checkpoint(r, size, e);
out:
	sqlite3_finalize(st);
	return end(r, rc, e);
}

int
gb_registry_by_pcr0(struct gb_registry *r, const char *pcr0, uint64_t *index,
    char id[17], int64_t *revoked, struct gb_reg_error *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db, "SELECT leaf, id, coalesce(revoked, -1)"
	    " FROM releases WHERE pcr0 = ?", -1, &st, NULL) != SQLITE_OK)
		return db_fail(r, e, "prepare");
	sqlite3_bind_text(st, 1, pcr0, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*index = (uint64_t)sqlite3_column_int64(st, 0);
		snprintf(id, 17, "%s", (const char *)sqlite3_column_text(st, 1));
		*revoked = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return gb__reg_fail(e, "not_found", "no release has this PCR0");
	return rc == SQLITE_ROW ? 0 : db_fail(r, e, "query");
}

struct gb_merkle_store
gb_registry_store(struct gb_registry *r)
{
	return gb__store_of(r);
}
