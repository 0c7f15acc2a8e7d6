/*
 * glassbox witness: a transparency log witness (c2sp.org/tlog-witness),
 * small enough that an auditor runs one. It keeps, for each log it is
 * configured with (an origin and the log's Ed25519 note key), the latest
 * checkpoint it verified, and cosigns (c2sp.org/tlog-cosignature,
 * cosignature/v1) a new checkpoint only when a consistency proof shows it
 * extends that one. So a log cannot show two histories to parties that
 * both check this witness's cosignature. See docs/witness.md.
 *
 * State is one SQLite file (WAL). The check of the old size and the update
 * to the new one are one IMMEDIATE transaction: two submissions racing for
 * the same log are serialized there, and the second is checked against
 * what the first stored, so the witness's view of a log never goes back.
 * The witness key is DB.key (mode 0600), its verifier key in the database.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "cli.h"
#include "gb/codec.h"
#include "gb/fileio.h"
#include "gb/httpd.h"
#include "gb/merkle.h"
#include "gb/note.h"
#include "gb/witness.h"

/* Log keys one origin may have (a rotation holds two or three). */
#define WITNESS_LOG_KEYS_MAX 8
/* Refused submissions kept per log as evidence (a bad proof or another
 * root at the same size, each with a valid log signature: what a forked
 * log sends). The oldest go first, so a log cannot fill the disk. */
#define WITNESS_EVIDENCE_MAX 1000
/* How long a request waits for another one's transaction on the same
 * database (each holds it for a few milliseconds). */
#define WITNESS_BUSY_MS 10000
/* Bytes of the key file. */
#define WITNESS_KEY_FILE_MAX 512
#define SCHEMA_VERSION "1"

static const char usage_text[] =
"usage: glassbox witness [--db PATH] [--json] COMMAND ...\n"
"\n"
"  init NAME                 create the witness: its database and its key\n"
"                            (PATH.key, mode 0600) named NAME (a\n"
"                            schema-less URL, e.g. witness.example/w1);\n"
"                            prints its verifier key\n"
"  vkey                      print the witness's verifier key\n"
"  log add VKEY [--origin O] witness the log whose checkpoints VKEY (a\n"
"                            C2SP note verifier key) signs; its origin is\n"
"                            O (default: the key's name). Another key for\n"
"                            a known origin is added beside the first\n"
"  log remove ORIGIN         stop witnessing a log (forgets its state)\n"
"  log list                  the logs, their keys and the latest size\n"
"                            cosigned\n"
"  evidence                  submissions refused with a valid log\n"
"                            signature (bad proof, other root): a fork\n"
"  serve [--listen ADDR:PORT] [--threads N]\n"
"                            serve POST /add-checkpoint (C2SP\n"
"                            tlog-witness) and GET /healthz; default\n"
"                            127.0.0.1:8090, port 0 picks one\n"
"\n"
"  --db PATH   the witness database (default: $GLASSBOX_WITNESS_DB, else\n"
"              ./glassbox-witness.db)\n"
"  --json      print JSON on standard output\n"
"\n"
"Exit status: 0 done, 1 refused, 2 usage or I/O error.\n";

static const char schema[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE logs(origin TEXT PRIMARY KEY,"
    " size INTEGER NOT NULL DEFAULT 0, root BLOB, note TEXT,"
    " updated INTEGER);"
    "CREATE TABLE log_keys(origin TEXT NOT NULL, vkey TEXT NOT NULL,"
    " PRIMARY KEY(origin, vkey)) WITHOUT ROWID;"
    "CREATE TABLE evidence(id INTEGER PRIMARY KEY, origin TEXT NOT NULL,"
    " time INTEGER NOT NULL, status INTEGER NOT NULL, reason TEXT NOT NULL,"
    " request TEXT NOT NULL);";

struct opts {
	const char *db, *origin, *listen;
	unsigned threads;
	bool json;
};

/* The running server: borrowed by every request. */
struct witness {
	const char *db;
	struct gb_cosig_key key;        /* with its seed */
};

static int
fail(const char *code, const char *message)
{
	fprintf(stderr, "glassbox witness: %s: %s\n", code, message);
	return 2;
}

static int
usage_error(const char *what)
{
	fprintf(stderr, "glassbox witness: %s\n%s", what, usage_text);
	return 2;
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
db_open(const char *path, int flags, sqlite3 **db)
{
	if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
		fprintf(stderr, "glassbox witness: cannot open %s: %s\n", path,
		    *db != NULL ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return -1;
	}
	sqlite3_busy_timeout(*db, WITNESS_BUSY_MS);
	return 0;
}

/* One text value of a query with one text parameter (new string, NULL if
 * no row). */
static char *
query_text(sqlite3 *db, const char *sql, const char *param)
{
	sqlite3_stmt *st;
	char *out = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	if (param != NULL)
		sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

/* --- init ---------------------------------------------------------------- */

static int
init_cmd(const struct opts *o, const char *name)
{
	struct gb_cosig_key k;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *keyp = path_with(o->db, ".key"), *tmp = path_with(o->db, ".init");
	char *skey = NULL, *vkey = NULL, *line = NULL, *wal = NULL;
	bool wrote_key = false;
	struct stat sb;
	int status = 2;

	memset(&k, 0, sizeof k);
	if (keyp == NULL || tmp == NULL || (wal = path_with(tmp, "-wal")) ==
	    NULL) {
		fail("no_memory", "out of memory");
		goto out;
	}
	if (lstat(o->db, &sb) == 0) {
		fprintf(stderr, "glassbox witness: exists: %s already exists\n",
		    o->db);
		status = 1;
		goto out;
	}
	if (gb_cosig_key_generate(name, &k) != 0) {
		fprintf(stderr, "glassbox witness: bad_name: \"%s\" is not a "
		    "key name (printable ASCII, no spaces, no '+')\n", name);
		status = 1;
		goto out;
	}
	if (gb_cosig_skey_format(&k, &skey) != 0 ||
	    gb_cosig_vkey_format(&k, &vkey) != 0 ||
	    (line = path_with(skey, "\n")) == NULL) {
		fail("no_memory", "out of memory");
		goto out;
	}
	/* The key first, never over another: a key without its database is
	 * a previous init's, and its owner decides. */
	if (gb_write_file_atomic(keyp, line, strlen(line), 0600,
	    GB_WRITE_EXCL) != 0) {
		fprintf(stderr, "glassbox witness: %s: cannot write %s: %s\n",
		    errno == EEXIST ? "exists" : "io_error", keyp,
		    errno == EEXIST ? "it exists without its database; remove "
		    "it or restore the database" : strerror(errno));
		status = errno == EEXIST ? 1 : 2;
		goto out;
	}
	wrote_key = true;
	/* The database is built aside and renamed into place whole. */
	(void)unlink(tmp);
	(void)unlink(wal);
	if (db_open(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db) != 0)
		goto out;
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; BEGIN IMMEDIATE", NULL,
	    NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO meta(k, v) VALUES ('schema', '"
	    SCHEMA_VERSION "'), ('name', ?), ('vkey', ?)", -1, &st, NULL) !=
	    SQLITE_OK) {
		fail("db_error", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(st, 1, k.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, vkey, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fail("db_error", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* Closing the only connection moves the WAL into the file. */
	if (sqlite3_close(db) != SQLITE_OK || (db = NULL, lstat(wal, &sb) ==
	    0)) {
		fail("io_error", "the new database could not be written out "
		    "of its WAL");
		goto out;
	}
	if (gb_fsync_parent(tmp) != 0 || rename(tmp, o->db) != 0 ||
	    gb_fsync_parent(o->db) != 0) {
		fail("io_error", strerror(errno));
		goto out;
	}
	if (o->json) {
		json_t *j = json_pack("{s:b, s:s, s:s, s:s}", "ok", 1, "db",
		    o->db, "name", k.name, "vkey", vkey);

		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	} else {
		printf("created %s (witness key %s)\nwitness verifier key: %s\n",
		    o->db, keyp, vkey);
	}
	status = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (status != 0 && tmp != NULL)
		(void)unlink(tmp);
	if (status != 0 && wrote_key)
		(void)unlink(keyp);
	if (skey != NULL)
		OPENSSL_clear_free(skey, strlen(skey));
	if (line != NULL)
		OPENSSL_clear_free(line, strlen(line));
	gb_cosig_key_clear(&k);
	free(vkey);
	free(keyp);
	free(tmp);
	free(wal);
	return status;
}

/* Reads the witness key (refusing a file others can read) and checks it
 * against the database's verifier key. */
static int
read_key(const char *dbpath, sqlite3 *db, struct gb_cosig_key *k)
{
	char *keyp = path_with(dbpath, ".key"), *vkey = NULL, *mine = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat sb;
	int rc = -1;

	if (keyp == NULL)
		return -1;
	if (stat(keyp, &sb) != 0 || gb_read_file(keyp, WITNESS_KEY_FILE_MAX,
	    &buf, &len) != 0) {
		fprintf(stderr, "glassbox witness: io_error: cannot read the "
		    "witness key %s\n", keyp);
		goto out;
	}
	if (sb.st_mode & 077) {
		fprintf(stderr, "glassbox witness: bad_permissions: the witness "
		    "key %s is open to other users (mode %03o); chmod 600 it\n",
		    keyp, (unsigned)sb.st_mode & 0777);
		goto out;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	vkey = query_text(db, "SELECT v FROM meta WHERE k = 'vkey'", NULL);
	if (gb_cosig_skey_parse((const char *)buf, k) != 0 ||
	    gb_cosig_vkey_format(k, &mine) != 0 || vkey == NULL ||
	    strcmp(mine, vkey) != 0) {
		fprintf(stderr, "glassbox witness: bad_key: %s is not this "
		    "witness's key\n", keyp);
		gb_cosig_key_clear(k);
		goto out;
	}
	rc = 0;
out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, len + 1);
	free(mine);
	free(vkey);
	free(keyp);
	return rc;
}

/* --- add-checkpoint ------------------------------------------------------- */

static void
reply(struct gb_http_resp *resp, int status, const char *code,
    const char *message)
{
	char buf[512];

	snprintf(buf, sizeof buf, "%s: %s\n", code, message);
	gb_http_reply(resp, status, "text/plain; charset=utf-8", buf);
}

/* Keeps a refused submission that the log signed (what a forked log
 * sends), and trims the oldest beyond WITNESS_EVIDENCE_MAX. */
static void
keep_evidence(sqlite3 *db, const char *origin, int status,
    const char *reason, const char *body, size_t len)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, "INSERT INTO evidence(origin, time, status,"
	    " reason, request) VALUES (?, ?, ?, ?, ?)", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
		sqlite3_bind_int(st, 3, status);
		sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, body, (int)len, SQLITE_STATIC);
		(void)sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db, "DELETE FROM evidence WHERE origin = ?1 AND"
	    " id <= (SELECT id FROM evidence WHERE origin = ?1 ORDER BY id DESC"
	    " LIMIT 1 OFFSET ?2)", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, WITNESS_EVIDENCE_MAX);
		(void)sqlite3_step(st);
	}
	sqlite3_finalize(st);
}

/* The log keys of origin (at most WITNESS_LOG_KEYS_MAX): how many. */
static int
log_keys(sqlite3 *db, const char *origin, struct gb_note_key *keys)
{
	sqlite3_stmt *st;
	int n = 0;

	if (sqlite3_prepare_v2(db, "SELECT vkey FROM log_keys WHERE origin = ?",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	while (n < WITNESS_LOG_KEYS_MAX && sqlite3_step(st) == SQLITE_ROW)
		if (gb_note_vkey_parse((const char *)sqlite3_column_text(st, 0),
		    &keys[n]) == 0)
			n++;
	sqlite3_finalize(st);
	return n;
}

/*
 * The checks of tlog-witness in its order, the state's inside one
 * IMMEDIATE transaction: malformed 400, unknown origin 404, no valid log
 * signature 403, old size above the checkpoint's 400, old size not the
 * latest cosigned 409 (text/x.tlog.size), bad proof 422, same size and
 * another root 409; then the new state is committed and only then signed.
 */
static void
add_checkpoint(struct witness *w, const struct gb_http_req *req,
    struct gb_http_resp *resp)
{
	static const uint8_t empty_root[GB_HASH_BYTES] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb,
		0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4,
		0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52,
		0xb8, 0x55 };   /* SHA-256 of nothing: the empty tree's root */
	struct gb_witness_request *rq = NULL;
	struct gb_note_key keys[WITNESS_LOG_KEYS_MAX];
	struct gb_note_opened op;
	struct gb_checkpoint c;
	struct gb_span proof[GB_WITNESS_PROOF_MAX];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	uint8_t old_root[GB_HASH_BYTES];
	const char *why;
	char *line = NULL, buf[64];
	uint64_t have = 0;
	bool has_root = false, in_tx = false;
	int nkeys, rc;

	if ((rq = malloc(sizeof *rq)) == NULL) {
		reply(resp, 500, "no_memory", "out of memory");
		goto out;
	}
	if (gb_witness_request_parse(req->body, req->body_len, rq, &why) != 0) {
		reply(resp, 400, "malformed", why);
		goto out;
	}
	/* The note's shape first (no keys: only "no known signature" may be
	 * wrong), so that a malformed note is 400, not 403. */
	if (gb_note_open(rq->note, rq->note_len, NULL, 0, &op) == 0 ||
	    strcmp(op.error, "no signature by a known key") != 0) {
		reply(resp, 400, "malformed", op.error != NULL ? op.error :
		    "not a signed note");
		goto out;
	}
	if (gb_witness_checkpoint_parse(rq->note, op.text_len, &c) != 0) {
		reply(resp, 400, "malformed", "the note is not a checkpoint "
		    "(origin, size, root hash)");
		goto out;
	}
	if (db_open(w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, &db) !=
	    0) {
		reply(resp, 500, "db_error", "cannot open the database");
		goto out;
	}
	if ((nkeys = log_keys(db, c.origin, keys)) < 0) {
		reply(resp, 500, "db_error", sqlite3_errmsg(db));
		goto out;
	}
	if (nkeys == 0) {
		reply(resp, 404, "unknown_log", "this witness does not witness "
		    "that origin");
		goto out;
	}
	if (gb_note_open(rq->note, rq->note_len, keys, (size_t)nkeys,
	    &op) != 0) {
		reply(resp, 403, "bad_signature", op.error);
		goto out;
	}
	if (rq->old_size > c.size) {
		reply(resp, 400, "malformed", "the old size is larger than the "
		    "checkpoint's");
		goto out;
	}

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		reply(resp, 503, "busy", sqlite3_errmsg(db));
		goto out;
	}
	in_tx = true;
	if (sqlite3_prepare_v2(db, "SELECT size, root FROM logs WHERE origin ="
	    " ?", -1, &st, NULL) != SQLITE_OK) {
		reply(resp, 500, "db_error", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(st, 1, c.origin, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		reply(resp, rc == SQLITE_DONE ? 404 : 500, rc == SQLITE_DONE ?
		    "unknown_log" : "db_error", rc == SQLITE_DONE ? "this "
		    "witness does not witness that origin" : sqlite3_errmsg(db));
		goto out;
	}
	have = (uint64_t)sqlite3_column_int64(st, 0);
	if (sqlite3_column_bytes(st, 1) == GB_HASH_BYTES) {
		memcpy(old_root, sqlite3_column_blob(st, 1), GB_HASH_BYTES);
		has_root = true;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rq->old_size != have) {
		snprintf(buf, sizeof buf, "%" PRIu64 "\n", have);
		gb_http_reply(resp, 409, "text/x.tlog.size", buf);
		goto out;
	}
	for (size_t i = 0; i < rq->nproof; i++)
		proof[i] = (struct gb_span){ rq->proof[i], GB_HASH_BYTES };
	if (c.size == 0 && memcmp(c.root, empty_root, GB_HASH_BYTES) != 0) {
		reply(resp, 422, "bad_proof", "an empty tree's root is the "
		    "hash of nothing");
		goto out;
	}
	if (have == c.size && have > 0 && has_root &&
	    memcmp(old_root, c.root, GB_HASH_BYTES) != 0) {
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		in_tx = false;
		keep_evidence(db, c.origin, 409, "another root at the size "
		    "cosigned", req->body, req->body_len);
		snprintf(buf, sizeof buf, "%" PRIu64 "\n", have);
		gb_http_reply(resp, 409, "text/x.tlog.size", buf);
		goto out;
	}
	if (rq->old_size == 0 || rq->old_size == c.size ? rq->nproof != 0 :
	    !has_root || gb_merkle_verify_consistency(rq->old_size, c.size,
	    (struct gb_span){ old_root, GB_HASH_BYTES },
	    (struct gb_span){ c.root, GB_HASH_BYTES }, proof,
	    rq->nproof) != 0) {
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		in_tx = false;
		keep_evidence(db, c.origin, 422, "the consistency proof does "
		    "not verify", req->body, req->body_len);
		reply(resp, 422, "bad_proof", "the consistency proof from the "
		    "old size does not verify");
		goto out;
	}
	if (sqlite3_prepare_v2(db, "UPDATE logs SET size = ?, root = ?, note ="
	    " ?, updated = ? WHERE origin = ?", -1, &st, NULL) != SQLITE_OK) {
		reply(resp, 500, "db_error", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)c.size);
	sqlite3_bind_blob(st, 2, c.root, GB_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, rq->note, (int)rq->note_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 5, c.origin, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		reply(resp, 500, "db_error", sqlite3_errmsg(db));
		goto out;
	}
	in_tx = false;
	/* Persisted: now the cosignature. */
	if (gb_cosig_sign(&w->key, rq->note, op.text_len, (uint64_t)time(NULL),
	    &line) != 0) {
		reply(resp, 500, "crypto_error", "cannot sign");
		goto out;
	}
	gb_http_reply(resp, 200, "text/plain; charset=utf-8", line);
out:
	sqlite3_finalize(st);
	if (in_tx)
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	free(line);
	free(rq);
}

/* The server's own refusals (413, 408, 400, ...) in the same text/plain
 * form as the witness's. */
static void
problem(void *arg, int status, const char *code, const char *detail,
    struct gb_http_resp *resp)
{
	reply(resp, status, code, detail != NULL ? detail : "");
}

static void
handle(void *arg, const struct gb_http_req *req, struct gb_http_resp *resp)
{
	struct witness *w = arg;

	if (strcmp(req->path, "/healthz") == 0) {
		gb_http_reply(resp, 200, "text/plain; charset=utf-8", "ok\n");
	} else if (strcmp(req->path, "/add-checkpoint") != 0) {
		reply(resp, 404, "not_found", "this witness serves POST "
		    "/add-checkpoint");
	} else if (strcmp(req->method, "POST") != 0) {
		reply(resp, 405, "method_not_allowed", "use POST");
		(void)gb_http_resp_header(resp, "Allow", "POST");
	} else {
		add_checkpoint(w, req, resp);
	}
}

/* ADDR:PORT (as glassbox-verifier takes it), or tcp:/unix: forms. */
static int
open_listen(const char *spec, int *port)
{
	struct gb_listen_addr a;
	char buf[160];
	const char *why;
	int fd;

	if (snprintf(buf, sizeof buf, strncmp(spec, "tcp:", 4) == 0 ||
	    strncmp(spec, "unix:", 5) == 0 ? "%s" : "tcp:%s", spec) >=
	    (int)sizeof buf || gb_listen_parse(buf, &a, &why) != 0) {
		fprintf(stderr, "glassbox witness: --listen %s: not ADDR:PORT\n",
		    spec);
		return -1;
	}
	if ((fd = gb_listen_open(&a, &why)) < 0) {
		fprintf(stderr, "glassbox witness: --listen %s: %s: %s\n", spec,
		    why, strerror(errno));
		return -1;
	}
	*port = a.kind == GB_LISTEN_TCP ? gb_listen_port(fd) : 0;
	return fd;
}

static int
serve_cmd(const struct opts *o, sqlite3 *db)
{
	static const char *const headers[] = { "X-Content-Type-Options",
	    "nosniff", NULL };
	struct witness w = { .db = o->db };
	struct gb_httpd_opts ho;
	struct gb_httpd *h = NULL;
	sigset_t set;
	int fd, port = 0, sig;

	if (read_key(o->db, db, &w.key) != 0)
		return 2;
	memset(&ho, 0, sizeof ho);
	ho.workers = o->threads;
	ho.max_body = GB_WITNESS_BODY_MAX;
	ho.handler = handle;
	ho.arg = &w;
	ho.headers = headers;
	ho.problem = problem;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	(void)gb_httpd_raise_nofile();
	if ((fd = open_listen(o->listen, &port)) < 0 ||
	    gb_httpd_start(fd, &ho, &h) != 0) {
		gb_cosig_key_clear(&w.key);
		return 2;
	}
	printf("glassbox witness %s listening on http://127.0.0.1:%d/\n",
	    w.key.name, port);
	fflush(stdout);
	sigwait(&set, &sig);
	gb_httpd_stop(h);
	gb_cosig_key_clear(&w.key);
	return 0;
}

/* --- configuration --------------------------------------------------------- */

static int
exec_bound(sqlite3 *db, const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b != NULL)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(db) : -1;
}

static int
log_add(const struct opts *o, sqlite3 *db, const char *vkey)
{
	struct gb_note_key k;
	const char *origin;
	int added;

	if (gb_note_vkey_parse(vkey, &k) != 0) {
		fprintf(stderr, "glassbox witness: bad_key: not a note verifier "
		    "key (NAME+KEYID+BASE64, Ed25519): %s\n", vkey);
		return 1;
	}
	origin = o->origin != NULL ? o->origin : k.name;
	if (strlen(origin) == 0 || strlen(origin) > GB_NOTE_NAME_MAX ||
	    strchr(origin, '\n') != NULL) {
		fprintf(stderr, "glassbox witness: bad_origin: %s\n", origin);
		return 1;
	}
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    exec_bound(db, "INSERT OR IGNORE INTO logs(origin) VALUES (?)",
	    origin, NULL) < 0 ||
	    (added = exec_bound(db, "INSERT OR IGNORE INTO log_keys(origin,"
	    " vkey) VALUES (?, ?)", origin, vkey)) < 0 ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fail("db_error", sqlite3_errmsg(db));
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 2;
	}
	if (o->json) {
		json_t *j = json_pack("{s:b, s:s, s:s, s:b}", "ok", 1, "origin",
		    origin, "vkey", vkey, "added", added > 0);

		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	} else {
		printf("%s %s: %s\n", added > 0 ? "witnessing" : "already "
		    "witnessing", origin, vkey);
	}
	return 0;
}

static int
log_remove(sqlite3 *db, const char *origin)
{
	int n;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    exec_bound(db, "DELETE FROM log_keys WHERE origin = ?", origin,
	    NULL) < 0 || (n = exec_bound(db, "DELETE FROM logs WHERE origin ="
	    " ?", origin, NULL)) < 0 ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fail("db_error", sqlite3_errmsg(db));
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 2;
	}
	if (n == 0) {
		fprintf(stderr, "glassbox witness: not_found: no log %s\n",
		    origin);
		return 1;
	}
	printf("no longer witnessing %s\n", origin);
	return 0;
}

static int
log_list(const struct opts *o, sqlite3 *db)
{
	sqlite3_stmt *st;
	json_t *list = json_array();
	char hex[2 * GB_HASH_BYTES + 1];

	if (sqlite3_prepare_v2(db, "SELECT l.origin, l.size, l.root,"
	    " (SELECT group_concat(vkey, ' ') FROM log_keys k WHERE k.origin ="
	    " l.origin), l.updated FROM logs l ORDER BY l.origin", -1, &st,
	    NULL) != SQLITE_OK) {
		json_decref(list);
		return fail("db_error", sqlite3_errmsg(db));
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *origin = (const char *)sqlite3_column_text(st, 0);
		const char *ks = (const char *)sqlite3_column_text(st, 3);

		hex[0] = '\0';
		if (sqlite3_column_bytes(st, 2) == GB_HASH_BYTES)
			gb_hex_encode(hex, sqlite3_column_blob(st, 2),
			    GB_HASH_BYTES);
		if (o->json)
			json_array_append_new(list, json_pack("{s:s, s:I, s:s, "
			    "s:s, s:I}", "origin", origin, "size",
			    (json_int_t)sqlite3_column_int64(st, 1), "root", hex,
			    "keys", ks ? ks : "", "updated",
			    (json_int_t)sqlite3_column_int64(st, 4)));
		else
			printf("%s  size %" PRId64 "%s%s\n  keys: %s\n", origin,
			    (int64_t)sqlite3_column_int64(st, 1), hex[0] ?
			    "  root " : "", hex, ks ? ks : "");
	}
	sqlite3_finalize(st);
	if (o->json) {
		json_dumpf(list, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	json_decref(list);
	return 0;
}

static int
evidence_list(const struct opts *o, sqlite3 *db)
{
	sqlite3_stmt *st;
	json_t *list = json_array();

	if (sqlite3_prepare_v2(db, "SELECT id, origin, time, status, reason,"
	    " request FROM evidence ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
		json_decref(list);
		return fail("db_error", sqlite3_errmsg(db));
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *origin = (const char *)sqlite3_column_text(st, 1);
		const char *reason = (const char *)sqlite3_column_text(st, 4);
		const char *rq = (const char *)sqlite3_column_text(st, 5);

		if (o->json)
			json_array_append_new(list, json_pack("{s:I, s:s, s:I, "
			    "s:i, s:s, s:s}", "id",
			    (json_int_t)sqlite3_column_int64(st, 0), "origin",
			    origin, "time",
			    (json_int_t)sqlite3_column_int64(st, 2), "status",
			    sqlite3_column_int(st, 3), "reason", reason,
			    "request", rq ? rq : ""));
		else
			printf("#%" PRId64 " %s: %d %s\n%s\n",
			    (int64_t)sqlite3_column_int64(st, 0), origin,
			    sqlite3_column_int(st, 3), reason, rq ? rq : "");
	}
	sqlite3_finalize(st);
	if (o->json) {
		json_dumpf(list, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	json_decref(list);
	return 0;
}

static int
run(const struct opts *o, int argc, char **argv)
{
	const char *cmd = argv[0], *sub = argc > 1 ? argv[1] : "";
	bool ro = strcmp(cmd, "vkey") == 0 || strcmp(cmd, "evidence") == 0 ||
	    (strcmp(cmd, "log") == 0 && strcmp(sub, "list") == 0);
	sqlite3 *db = NULL;
	char *v;
	int status;

	if (strcmp(cmd, "init") == 0)
		return argc == 2 ? init_cmd(o, argv[1]) :
		    usage_error("init takes the witness's name");
	if (access(o->db, F_OK) != 0) {
		fprintf(stderr, "glassbox witness: no_witness: %s does not "
		    "exist (glassbox witness --db %s init NAME)\n", o->db,
		    o->db);
		return 2;
	}
	if (db_open(o->db, ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE,
	    &db) != 0)
		return 2;
	if (strcmp(cmd, "vkey") == 0 && argc == 1) {
		v = query_text(db, "SELECT v FROM meta WHERE k = 'vkey'", NULL);
		status = v != NULL ? (printf("%s\n", v), 0) :
		    fail("bad_database", "no witness key in the database");
		free(v);
	} else if (strcmp(cmd, "log") == 0 && strcmp(sub, "add") == 0 &&
	    argc == 3) {
		status = log_add(o, db, argv[2]);
	} else if (strcmp(cmd, "log") == 0 && strcmp(sub, "remove") == 0 &&
	    argc == 3) {
		status = log_remove(db, argv[2]);
	} else if (strcmp(cmd, "log") == 0 && strcmp(sub, "list") == 0 &&
	    argc == 2) {
		status = log_list(o, db);
	} else if (strcmp(cmd, "evidence") == 0 && argc == 1) {
		status = evidence_list(o, db);
	} else if (strcmp(cmd, "serve") == 0 && argc == 1) {
		status = serve_cmd(o, db);
	} else {
		status = usage_error("unknown command or wrong arguments");
	}
	sqlite3_close(db);
	return status;
}

int
cmd_witness(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "origin", required_argument, NULL, 'o' },
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .db = getenv("GLASSBOX_WITNESS_DB"),
	    .listen = "127.0.0.1:8090" };
	char *end;
	unsigned long n;
	int c;

	if (o.db == NULL || o.db[0] == '\0')
		o.db = "glassbox-witness.db";
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.db = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'o':
			o.origin = optarg;
			break;
		case 'l':
			o.listen = optarg;
			break;
		case 't':
			n = strtoul(optarg, &end, 10);
			if (*end != '\0' || optarg[0] == '-' || n == 0 ||
			    n > GB_HTTPD_WORKERS_MAX)
				return usage_error("--threads is 1..64");
			o.threads = (unsigned)n;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage_error("unknown option");
		}
	}
	if (optind >= argc)
		return usage_error("no command");
	return run(&o, argc - optind, argv + optind);
}
