/*
 * The registry as a client of its witnesses (c2sp.org/tlog-witness): after
 * every change it asks each configured witness to cosign the new
 * checkpoint, with a consistency proof from the size that witness last
 * cosigned (as far as the registry knows: a 409 tells the truth, and the
 * request is made again from there), and keeps each cosignature in the
 * database, keyed by tree size and witness. The checkpoint the registry
 * serves (gb_registry_checkpoint(), the tiles' checkpoint file) is its own
 * signed note followed by the cosignature lines it holds for that size.
 *
 * Witnesses are asked all at once (libcurl's multi interface) and each has
 * GB_REG_WITNESS_TIMEOUT_MS for all its attempts: one that is down or slow
 * delays only its own cosignature, and the change it is asked about was
 * committed before any witness was asked, so no witness can fail or undo
 * it. A cosignature is stored, and the caller told, as soon as it arrives.
 *
 * Tables (made by the first "witness add"):
 *   witnesses(id, name, vkey, url, size, error, tried)
 *   cosignatures(size, witness, line, time)   witness: its vkey
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "gb/codec.h"
#include "gb/note.h"
#include "gb/witness.h"
#include "reg_int.h"

#define URL_MAX 1024                    /* bytes of a witness's URL */

static const char witness_schema[] =
    "CREATE TABLE IF NOT EXISTS witnesses(id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE, vkey TEXT NOT NULL UNIQUE,"
    " url TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0, error TEXT,"
    " tried INTEGER);"
    "CREATE TABLE IF NOT EXISTS cosignatures(size INTEGER NOT NULL,"
    " witness TEXT NOT NULL, line TEXT NOT NULL, time INTEGER NOT NULL,"
    " PRIMARY KEY(size, witness)) WITHOUT ROWID;";

static int
db_fail(struct gb_registry *r, struct gb_reg_error *e, const char *what)
{
	return gb__reg_fail(e, gb__sqlite_code(sqlite3_extended_errcode(r->db)),
	    "%s: %s", what, sqlite3_errmsg(r->db));
}

/* Whether the witness tables exist (registries made before witnesses, and
 * those that never had one, lack them). */
static int
have_tables(struct gb_registry *r, bool *have, struct gb_reg_error *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db, "SELECT 1 FROM sqlite_master WHERE"
	    " type = 'table' AND name = 'cosignatures'", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(r, e, "prepare");
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(r, e, "reading the schema");
	*have = rc == SQLITE_ROW;
	return 0;
}

int
gb__cosigned(struct gb_registry *r, char **note, struct gb_reg_error *e)
{
	sqlite3_stmt *st = NULL;
	const char *nl;
	char *out = NULL;
	uint64_t size = 0;
	size_t len = strlen(*note), cap;
	bool have;
	int rc;

	/* The size is the note's second line (a note this log signed). */
	if ((nl = strchr(*note, '\n')) == NULL)
		return gb__reg_fail(e, "bad_database", "a stored checkpoint is "
		    "not a checkpoint");
	for (const char *d = nl + 1; *d >= '0' && *d <= '9'; d++)
		size = size * 10 + (uint64_t)(*d - '0');
	if (sqlite3_prepare_v2(r->db, "SELECT c.line FROM cosignatures c JOIN"
	    " witnesses w ON w.vkey = c.witness WHERE c.size = ? ORDER BY w.id",
	    -1, &st, NULL) != SQLITE_OK) {
		if (have_tables(r, &have, e) != 0)
			return -1;
		return have ? db_fail(r, e, "prepare") : 0;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	cap = len + 1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		char *grown;

		if (line == NULL || len + n >= GB_NOTE_MAX_BYTES)
			continue;       /* never a note over the limit */
		if ((grown = realloc(out, cap + n)) == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		if (out == NULL)
			memcpy(grown, *note, len + 1);
		out = grown;
		memcpy(out + len, line, n + 1);
		len += n;
		cap += n;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(out);
		return rc == SQLITE_NOMEM ? gb__reg_fail(e, "no_memory",
		    "out of memory") : db_fail(r, e, "reading cosignatures");
	}
	if (out != NULL) {
		free(*note);
		*note = out;
	}
	return 0;
}

/* Trims a URL's trailing slashes into out; http(s) only. */
static int
url_ok(const char *url, char out[URL_MAX])
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n == 0 || n >= URL_MAX - 32 || (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0))
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
			return -1;
	memcpy(out, url, n);
	out[n] = '\0';
	return 0;
}

int
gb_registry_witness_add(struct gb_registry *r, const char *url,
    const char *vkey, struct gb_reg_error *e)
{
	struct gb_cosig_key k;
	sqlite3_stmt *st = NULL;
	char u[URL_MAX];
	int64_t n = 0;
	int rc = -1;

	if (!r->writable)
		return gb__reg_fail(e, "read_only", "the registry was opened "
		    "read-only");
	if (url_ok(url, u) != 0)
		return gb__reg_fail(e, "bad_url", "the witness URL must be "
		    "http:// or https://, without spaces");
	if (gb_cosig_vkey_parse(vkey, &k) != 0)
		return gb__reg_fail(e, "bad_key", "not a witness verifier key "
		    "(NAME+KEYID+BASE64 of type 0x04, Ed25519 cosignature/v1)");
	if (sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK || sqlite3_exec(r->db, witness_schema, NULL, NULL,
	    NULL) != SQLITE_OK) {
		db_fail(r, e, "making the witness tables");
		goto out;
	}
	if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM witnesses", -1,
	    &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		db_fail(r, e, "counting witnesses");
		goto out;
	}
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (n >= GB_REG_WITNESSES_MAX) {
		gb__reg_fail(e, "too_many", "a registry has at most %d "
		    "witnesses", GB_REG_WITNESSES_MAX);
		goto out;
	}
	if (sqlite3_prepare_v2(r->db, "INSERT INTO witnesses(name, vkey, url)"
	    " VALUES (?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		db_fail(r, e, "prepare");
		goto out;
	}
	sqlite3_bind_text(st, 1, k.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, vkey, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, u, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if ((sqlite3_extended_errcode(r->db) & 0xff) ==
		    SQLITE_CONSTRAINT)
			gb__reg_fail(e, "exists", "a witness named %s (or with "
			    "this key) is already configured", k.name);
		else
			db_fail(r, e, "adding the witness");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(r, e, "commit");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	if (rc != 0)
		(void)sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int
gb_registry_witness_remove(struct gb_registry *r, const char *name,
    struct gb_reg_error *e)
{
	sqlite3_stmt *st;
	bool have;
	int rc;

	if (!r->writable)
		return gb__reg_fail(e, "read_only", "the registry was opened "
		    "read-only");
	if (have_tables(r, &have, e) != 0)
		return -1;
	if (!have)
		return gb__reg_fail(e, "not_found", "no witness %s", name);
	/* Its cosignatures stay (they are true statements), but are no
	 * longer published: only configured witnesses' are. */
	if (sqlite3_prepare_v2(r->db, "DELETE FROM witnesses WHERE name = ?1"
	    " OR vkey = ?1", -1, &st, NULL) != SQLITE_OK)
		return db_fail(r, e, "prepare");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(r, e, "removing the witness");
	if (sqlite3_changes(r->db) == 0)
		return gb__reg_fail(e, "not_found", "no witness %s", name);
	return 0;
}

int
gb_registry_witnesses(struct gb_registry *r,
    int (*fn)(void *arg, const struct gb_reg_witness *w), void *arg,
    struct gb_reg_error *e)
{
	sqlite3_stmt *st;
	uint64_t size;
	bool have;
	int rc;

	if (have_tables(r, &have, e) != 0)
		return -1;
	if (!have)
		return 0;
	if (gb_registry_size(r, &size) != 0)
		return db_fail(r, e, "reading the log size");
	if (sqlite3_prepare_v2(r->db, "SELECT w.name, w.vkey, w.url, w.size,"
	    " w.error, w.tried, (SELECT c.time FROM cosignatures c WHERE"
	    " c.witness = w.vkey AND c.size = ?) FROM witnesses w ORDER BY w.id",
	    -1, &st, NULL) != SQLITE_OK)
		return db_fail(r, e, "prepare");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct gb_reg_witness w = {
			.name = (const char *)sqlite3_column_text(st, 0),
			.vkey = (const char *)sqlite3_column_text(st, 1),
			.url = (const char *)sqlite3_column_text(st, 2),
			.size = (uint64_t)sqlite3_column_int64(st, 3),
			.error = (const char *)sqlite3_column_text(st, 4),
			.tried = sqlite3_column_int64(st, 5),
			.cosigned_latest = sqlite3_column_type(st, 6) !=
			    SQLITE_NULL,
		};

		if (fn(arg, &w) != 0)
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 :
	    db_fail(r, e, "listing witnesses");
}

/* --- asking --------------------------------------------------------------- */

/* One witness being asked. */
struct ask {
	CURL *h;                        /* NULL when done */
	struct curl_slist *hdrs;
	struct gb_cosig_key key;
	char vkey[512];
	char url[URL_MAX];              /* URL/add-checkpoint */
	uint64_t old;                   /* the old size of this attempt */
	unsigned attempts;
	char *body;                     /* from malloc() */
	char resp[GB_WITNESS_RESPONSE_MAX];
	size_t resp_len;
	bool resp_over;
	struct timespec deadline;
	struct gb_reg_cosign_result res;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct ask *a = arg;
	size_t len = size * n;

	if (len > sizeof a->resp - 1 - a->resp_len) {
		a->resp_over = true;
		return 0;               /* stops the transfer */
	}
	memcpy(a->resp + a->resp_len, p, len);
	a->resp_len += len;
	return len;
}

static long
ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms;
}

/* The request body: "old M\n", the proof from M to the note's size, an
 * empty line, the note. */
static int
make_body(struct gb_registry *r, struct ask *a, uint64_t size,
    const char *note, struct gb_reg_error *e)
{
	uint8_t proof[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES];
	size_t n = 0, o, cap;
	char *b64;

	free(a->body);
	a->body = NULL;
	if (a->old > 0 && a->old < size &&
	    gb_registry_prove_consistency(r, a->old, size, proof, &n, e) != 0)
		return -1;
	if (n > GB_WITNESS_PROOF_MAX)
		return gb__reg_fail(e, "too_large", "the proof is too long");
	cap = 32 + n * 46 + strlen(note) + 2;
	if ((a->body = malloc(cap)) == NULL)
		return gb__reg_fail(e, "no_memory", "out of memory");
	o = (size_t)snprintf(a->body, cap, "old %" PRIu64 "\n", a->old);
	for (size_t i = 0; i < n; i++) {
		if (gb_base64_encode_alloc(proof[i], GB_HASH_BYTES, &b64) != 0)
			return gb__reg_fail(e, "no_memory", "out of memory");
		o += (size_t)snprintf(a->body + o, cap - o, "%s\n", b64);
		free(b64);
	}
	snprintf(a->body + o, cap - o, "\n%s", note);
	return 0;
}

static int
start(CURLM *m, struct ask *a)
{
	long left = ms_left(&a->deadline);

	if (left <= 0)
		return -1;
	if (a->h == NULL && (a->h = curl_easy_init()) == NULL)
		return -1;
	curl_easy_reset(a->h);
	a->resp_len = 0;
	a->resp_over = false;
	curl_easy_setopt(a->h, CURLOPT_URL, a->url);
	curl_easy_setopt(a->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(a->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a->h, CURLOPT_POSTFIELDS, a->body);
	curl_easy_setopt(a->h, CURLOPT_HTTPHEADER, a->hdrs);
	curl_easy_setopt(a->h, CURLOPT_TIMEOUT_MS, left);
	curl_easy_setopt(a->h, CURLOPT_CONNECTTIMEOUT_MS, left);
	curl_easy_setopt(a->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(a->h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(a->h, CURLOPT_PRIVATE, a);
	curl_easy_setopt(a->h, CURLOPT_USERAGENT, "glassbox-registry");
	a->attempts++;
	return curl_multi_add_handle(m, a->h) == CURLM_OK ? 0 : -1;
}

static void
set_result(struct ask *a, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_result(struct ask *a, const char *code, const char *fmt, ...)
{
	va_list ap;

	a->res.ok = false;
	a->res.code = code;
	va_start(ap, fmt);
	vsnprintf(a->res.message, sizeof a->res.message, fmt, ap);
	va_end(ap);
}

/* Records a witness's outcome: its cosignature (and that it has now seen
 * size), or its error. */
static int
record(struct gb_registry *r, struct ask *a, uint64_t size, uint64_t t,
    const char *line, size_t line_len, uint64_t seen, bool seen_known,
    struct gb_reg_error *e)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return db_fail(r, e, "begin");
	if (line != NULL) {
		if (sqlite3_prepare_v2(r->db, "INSERT OR REPLACE INTO"
		    " cosignatures(size, witness, line, time) VALUES"
		    " (?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
		sqlite3_bind_text(st, 2, a->vkey, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, line, (int)line_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)t);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_finalize(st);
		st = NULL;
	}
	if (sqlite3_prepare_v2(r->db, "UPDATE witnesses SET size = CASE WHEN ?"
	    " THEN ? ELSE size END, error = ?, tried = ? WHERE vkey = ?", -1,
	    &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int(st, 1, seen_known);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seen);
	if (a->res.ok)
		sqlite3_bind_null(st, 3);
	else
		sqlite3_bind_text(st, 3, a->res.message, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 5, a->vkey, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	rc = db_fail(r, e, "storing a witness's answer");
	sqlite3_finalize(st);
	(void)sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/*
 * One answer (or failure) of a's current attempt. Returns 1 when a goes
 * on (another attempt started), 0 when it is done (a->res set).
 */
static int
answered(struct gb_registry *r, CURLM *m, struct ask *a, CURLcode cc,
    uint64_t size, const char *note, size_t text_len,
    struct gb_reg_error *e)
{
	long status = 0;
	char *ctype = NULL;
	uint64_t t, s;
	size_t off, len;

	curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(a->h, CURLINFO_CONTENT_TYPE, &ctype);
	if (cc != CURLE_OK) {
		set_result(a, cc == CURLE_OPERATION_TIMEDOUT ? "timeout" :
		    a->resp_over ? "bad_answer" : "unreachable", "%s",
		    a->resp_over ? "the answer is larger than a cosignature" :
		    curl_easy_strerror(cc));
		return 0;
	}
	if (status == 200) {
		if (gb_cosig_find(&a->key, note, text_len, a->resp, a->resp_len,
		    &t, &off, &len) != 0) {
			set_result(a, "bad_cosignature", "the answer holds no "
			    "valid cosignature by %s", a->key.name);
			return 0;
		}
		a->res.ok = true;
		a->res.code = NULL;
		a->res.message[0] = '\0';
		if (record(r, a, size, t, a->resp + off, len, size, true, e) !=
		    0)
			set_result(a, e->code, "%s", e->message);
		return 0;
	}
	if (status == 409 && ctype != NULL &&
	    strncmp(ctype, "text/x.tlog.size", 16) == 0 &&
	    gb_witness_size_parse(a->resp, a->resp_len, &s) == 0) {
		if (s > size) {
			set_result(a, "witness_ahead", "the witness has cosigned "
			    "size %" PRIu64 " of this log, which has %" PRIu64
			    ": a fork, or this database was restored from an "
			    "old copy", s, size);
			(void)record(r, a, size, 0, NULL, 0, s, true, e);
			return 0;
		}
		if (s == a->old) {
			set_result(a, "conflict", "the witness holds another "
			    "root for size %" PRIu64 ": a fork", s);
			return 0;
		}
		if (a->attempts >= GB_REG_WITNESS_ATTEMPTS) {
			set_result(a, "conflict", "the witness's size kept "
			    "changing (%" PRIu64 " last)", s);
			return 0;
		}
		/* Its latest size, told: ask again from there. */
		a->old = s;
		if (make_body(r, a, size, note, e) != 0) {
			set_result(a, e->code, "%s", e->message);
			return 0;
		}
		curl_multi_remove_handle(m, a->h);
		if (start(m, a) != 0) {
			set_result(a, "timeout", "no time left to ask again");
			return 0;
		}
		return 1;
	}
	a->resp[a->resp_len < sizeof a->resp ? a->resp_len :
	    sizeof a->resp - 1] = '\0';
	a->resp[strcspn(a->resp, "\r\n")] = '\0';
	set_result(a, status == 404 ? "unknown_log" : status == 403 ?
	    "bad_signature" : status == 422 ? "bad_proof" : "refused",
	    "HTTP %ld: %.200s", status, a->resp);
	return 0;
}

static void
ask_free(struct ask *a, CURLM *m)
{
	if (a->h != NULL) {
		if (m != NULL)
			curl_multi_remove_handle(m, a->h);
		curl_easy_cleanup(a->h);
	}
	curl_slist_free_all(a->hdrs);
	free(a->body);
	gb_cosig_key_clear(&a->key);
}

int
gb_registry_cosign(struct gb_registry *r, gb_reg_cosign_fn fn, void *arg,
    struct gb_reg_error *e)
{
	struct ask *asks = NULL;
	struct gb_note_key lk;
	struct gb_note_opened op;
	sqlite3_stmt *st = NULL;
	CURLM *m = NULL;
	char *note = NULL;
	uint64_t size = 0;
	size_t n = 0, text_len;
	unsigned running = 0;
	bool have;
	int rc = -1;

	if (have_tables(r, &have, e) != 0)
		return -1;
	if (!have)
		return 0;
	if (!r->writable)
		return gb__reg_fail(e, "read_only", "the registry was opened "
		    "read-only");
	/* The latest checkpoint as the log signed it, without cosignatures. */
	if (sqlite3_prepare_v2(r->db, "SELECT size, note FROM checkpoints ORDER"
	    " BY size DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW ||
	    (note = strdup((const char *)sqlite3_column_text(st, 1))) ==
	    NULL) {
		db_fail(r, e, "reading the checkpoint");
		goto out;
	}
	size = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (gb_note_vkey_parse(r->vkey, &lk) != 0 ||
	    gb_note_open(note, strlen(note), &lk, 1, &op) != 0) {
		gb__reg_fail(e, "log_damaged", "the latest checkpoint does not "
		    "open with the log key");
		goto out;
	}
	text_len = op.text_len;
	if ((asks = calloc(GB_REG_WITNESSES_MAX, sizeof *asks)) == NULL) {
		gb__reg_fail(e, "no_memory", "out of memory");
		goto out;
	}
	/* Every witness without a cosignature of this size. */
	if (sqlite3_prepare_v2(r->db, "SELECT w.name, w.vkey, w.url, w.size"
	    " FROM witnesses w WHERE NOT EXISTS (SELECT 1 FROM cosignatures c"
	    " WHERE c.witness = w.vkey AND c.size = ?) ORDER BY w.id", -1, &st,
	    NULL) != SQLITE_OK) {
		db_fail(r, e, "prepare");
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	while (n < GB_REG_WITNESSES_MAX && sqlite3_step(st) == SQLITE_ROW) {
		struct ask *a = &asks[n];
		const char *vk = (const char *)sqlite3_column_text(st, 1);
		const char *url = (const char *)sqlite3_column_text(st, 2);

		if (vk == NULL || url == NULL ||
		    gb_cosig_vkey_parse(vk, &a->key) != 0 ||
		    strlen(vk) >= sizeof a->vkey ||
		    strlen(url) >= sizeof a->url - 16)
			continue;
		snprintf(a->vkey, sizeof a->vkey, "%s", vk);
		snprintf(a->url, sizeof a->url, "%s/add-checkpoint", url);
		a->old = (uint64_t)sqlite3_column_int64(st, 3);
		a->res.name = a->key.name;
		a->res.url = a->url;
		a->res.size = size;
		n++;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (n == 0) {
		rc = 0;
		goto out;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK || (m = curl_multi_init()) == NULL) {
		gb__reg_fail(e, "no_memory", "cannot start libcurl");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct ask *a = &asks[i];
		struct gb_reg_error we = { "", "" };

		clock_gettime(CLOCK_MONOTONIC, &a->deadline);
		a->deadline.tv_sec += GB_REG_WITNESS_TIMEOUT_MS / 1000;
		a->deadline.tv_nsec += (GB_REG_WITNESS_TIMEOUT_MS % 1000) *
		    1000000L;
		if (a->deadline.tv_nsec >= 1000000000L) {
			a->deadline.tv_sec++;
			a->deadline.tv_nsec -= 1000000000L;
		}
		a->hdrs = curl_slist_append(NULL, "Content-Type: text/plain; "
		    "charset=utf-8");
		if (a->old > size) {
			set_result(a, "witness_ahead", "the witness has cosigned "
			    "size %" PRIu64 " of this log, which has %" PRIu64,
			    a->old, size);
		} else if (a->hdrs == NULL || make_body(r, a, size, note,
		    &we) != 0 || start(m, a) != 0) {
			set_result(a, we.code[0] ? we.code : "no_memory",
			    "cannot ask: %s", we.message);
		} else {
			running++;
			continue;
		}
		(void)record(r, a, size, 0, NULL, 0, 0, false, &we);
		if (fn != NULL)
			fn(arg, &a->res);
	}
	/* Bounded: each transfer has its own timeout, and every witness at
	 * most GB_REG_WITNESS_ATTEMPTS of them within its deadline. */
	while (running > 0) {
		struct CURLMsg *msg;
		int still, left;

		if (curl_multi_perform(m, &still) != CURLM_OK ||
		    curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK)
			break;
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct ask *a;
			struct gb_reg_error we = { "", "" };
			char *priv = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    &priv);
			if ((a = (struct ask *)(void *)priv) == NULL)
				continue;
			if (answered(r, m, a, msg->data.result, size, note,
			    text_len, &we) == 1)
				continue;
			if (!a->res.ok)
				(void)record(r, a, size, 0, NULL, 0, 0, false,
				    &we);
			curl_multi_remove_handle(m, a->h);
			curl_easy_cleanup(a->h);
			a->h = NULL;
			running--;
			if (fn != NULL)
				fn(arg, &a->res);
		}
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	for (size_t i = 0; asks != NULL && i < GB_REG_WITNESSES_MAX; i++)
		ask_free(&asks[i], m);
	free(asks);
	if (m != NULL)
		curl_multi_cleanup(m);
	free(note);
	return rc;
}
