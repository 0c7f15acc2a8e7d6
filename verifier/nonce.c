/*
 * Challenge nonces that cost nothing until they are used.
 *
 * POST /api/v1/challenge hands out a token the verifier can check without
 * having stored it (server.h: random || expiry || truncated HMAC-SHA256
 * under the challenge key). Only a nonce that comes back with a document
 * is remembered: vs_nonce_take() checks the MAC and the expiry, then
 * inserts the nonce's SHA-256 into the used-nonce store, a SQLite table
 * whose primary key decides a second use (the insert fails). So memory
 * and disk grow with the verify rate times the nonce lifetime, never with
 * the challenge rate.
 *
 * The store is a file (WAL mode), so verifier processes on one host that
 * share the key file and the store accept each other's challenges and
 * refuse each other's used nonces. Expired rows are deleted now and then.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "gb/codec.h"
#include "gb/fileio.h"
#include "server.h"

/* How long a store operation waits for another process's lock. */
#define NONCE_DB_BUSY_MS 5000

static void
put_be64(uint8_t *p, int64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)(v & 0xff);
}

static int64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

/* HMAC-SHA256 of msg under the challenge key, truncated to
 * VS_NONCE_MAC_BYTES. Returns 0 or GB_ECRYPTO. */
static int
mac(const struct vs_nonces *s, const uint8_t *msg, size_t len,
    uint8_t out[VS_NONCE_MAC_BYTES])
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		    (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *c = NULL;
	uint8_t full[32];
	size_t n = 0;
	int rc = GB_ECRYPTO;

	if ((c = EVP_MAC_CTX_new(s->hmac)) == NULL ||
	    EVP_MAC_init(c, s->key, sizeof s->key, params) != 1 ||
	    EVP_MAC_update(c, msg, len) != 1 ||
	    EVP_MAC_final(c, full, &n, sizeof full) != 1 || n != sizeof full) {
		ERR_clear_error();
		goto out;
	}
	memcpy(out, full, VS_NONCE_MAC_BYTES);
	rc = 0;
out:
	OPENSSL_cleanse(full, sizeof full);
	EVP_MAC_CTX_free(c);
	return rc;
}

/* Writes the key file atomically and without clobbering
 * (gb_write_file_atomic() with GB_WRITE_EXCL: linked into place, so a
 * verifier that made the key first keeps it). On EEXIST, *raced is set and
 * the caller reads the other process's key. */
static int
write_key(const char *path, const uint8_t key[VS_CHALLENGE_KEY_BYTES],
    bool *raced)
{
	char hex[2 * VS_CHALLENGE_KEY_BYTES + 2];
	int rc;

	*raced = false;
	gb_hex_encode(hex, key, VS_CHALLENGE_KEY_BYTES);
	strcat(hex, "\n");
	rc = gb_write_file_atomic(path, hex, strlen(hex), 0600, GB_WRITE_EXCL);
	OPENSSL_cleanse(hex, sizeof hex);
	if (rc == 0)
		return 0;
	if (rc == GB_EIO && errno == EEXIST)
		*raced = true;
	else
		fprintf(stderr, "glassbox-verifier: cannot create %s: %s\n",
		    path, rc == GB_EIO ? strerror(errno) : gb_strerror(rc));
	return -1;
}

/* Reads the key file: 64 hex digits (a trailing newline allowed), mode
 * 0600 or stricter. Returns 0, GB_ENOENT if absent, or -1 (printed). */
static int
read_key(const char *path, uint8_t key[VS_CHALLENGE_KEY_BYTES])
{
	uint8_t *text = NULL;
	size_t len = 0;
	struct stat sb;
	int rc = -1;

	if (stat(path, &sb) != 0)
		return errno == ENOENT ? GB_ENOENT : -1;
	if (sb.st_mode & 077) {
		fprintf(stderr, "glassbox-verifier: %s is open to other users "
		    "(mode %03o); chmod 600 it\n", path,
		    (unsigned)sb.st_mode & 0777);
		return -1;
	}
	if (gb_read_file(path, 256, &text, &len) != 0) {
		fprintf(stderr, "glassbox-verifier: cannot read %s\n", path);
		return -1;
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (gb_hex_decode((const char *)text, len, key,
	    VS_CHALLENGE_KEY_BYTES) != 0)
		fprintf(stderr, "glassbox-verifier: %s is not %d hex digits\n",
		    path, 2 * VS_CHALLENGE_KEY_BYTES);
	else
		rc = 0;
	OPENSSL_clear_free(text, len);
	return rc;
}

static int
load_key(struct vs_nonces *s, const char *path)
{
	bool raced;
	int rc = read_key(path, s->key);

	if (rc != GB_ENOENT)
		return rc;
	if (RAND_bytes(s->key, sizeof s->key) != 1)
		return -1;
	if (write_key(path, s->key, &raced) == 0)
		return 0;
	/* Another process made the key between our stat and link: use it. */
	return raced ? read_key(path, s->key) : -1;
}

static int
open_store(struct vs_nonces *s, const char *path)
{
	static const char schema[] =
	    "PRAGMA journal_mode=WAL;"
	    /* A crash of the process loses nothing committed; a power loss
	     * may forget the last used nonces (docs/verifier.md). */
	    "PRAGMA synchronous=NORMAL;"
	    "CREATE TABLE IF NOT EXISTS used(h BLOB PRIMARY KEY,"
	    " expires INTEGER NOT NULL) WITHOUT ROWID;"
	    "CREATE INDEX IF NOT EXISTS used_expires ON used(expires);";
	char *msg = NULL;
	int fd;

	/* Made mode 0600 before SQLite opens it: the store says which nonces
	 * were used, nobody else's business. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) >= 0)
		close(fd);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(s->db, NONCE_DB_BUSY_MS);
	if (sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "INSERT INTO used(h, expires) VALUES"
	    " (?, ?)", -1, &s->insert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM used WHERE expires <= ?",
	    -1, &s->prune, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "glassbox-verifier: the nonce store %s: %s\n", path,
	    msg ? msg : s->db ? sqlite3_errmsg(s->db) : "out of memory");
	sqlite3_free(msg);
	return -1;
}

/* DB + suffix when the option is not given (new string in *made). */
static const char *
path_or(const char *given, const char *db, const char *suffix, char **made)
{
	size_t n;

	if (given != NULL)
		return given;
	n = strlen(db) + strlen(suffix) + 1;
	if ((*made = malloc(n)) == NULL)
		return NULL;
	snprintf(*made, n, "%s%s", db, suffix);
	return *made;
}

/* ADDR[,ADDR...] of --trusted-proxy into s->proxies. */
static int
parse_proxies(struct vs_nonces *s, const char *list)
{
	char buf[INET6_ADDRSTRLEN];
	const char *p = list;

	while (list != NULL && *p != '\0') {
		size_t n = strcspn(p, ",");
		struct vs_proxy *x = &s->proxies[s->nproxies];

		if (s->nproxies == VS_TRUSTED_PROXIES_MAX || n == 0 ||
		    n >= sizeof buf) {
			fprintf(stderr, "glassbox-verifier: --trusted-proxy: at "
			    "most %d IP addresses, comma-separated\n",
			    VS_TRUSTED_PROXIES_MAX);
			return -1;
		}
		memcpy(buf, p, n);
		buf[n] = '\0';
		if (inet_pton(AF_INET, buf, x->addr) == 1)
			x->len = 4;
		else if (inet_pton(AF_INET6, buf, x->addr) == 1)
			x->len = 16;
		else {
			fprintf(stderr, "glassbox-verifier: --trusted-proxy: "
			    "not an IP address: %s\n", buf);
			return -1;
		}
		s->nproxies++;
		p += n + (p[n] == ',');
	}
	return 0;
}

int
vs_nonces_init(struct vs_nonces *s, const struct vs_config *c)
{
	char *kp = NULL, *dp = NULL;
	const char *key_path, *db_path;
	int rc = -1;

	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->rate_mu, NULL);
	key_path = path_or(c->challenge_key, c->db, ".challenge-key", &kp);
	db_path = path_or(c->nonce_db, c->db, ".nonces", &dp);
	if (key_path == NULL || db_path == NULL ||
	    (s->clients = calloc(VS_RATE_CLIENTS_MAX, sizeof *s->clients)) ==
	    NULL || (s->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    RAND_bytes((uint8_t *)&s->hash_seed, sizeof s->hash_seed) != 1) {
		fprintf(stderr, "glassbox-verifier: cannot set up challenges "
		    "(out of memory, or OpenSSL has no HMAC)\n");
		goto out;
	}
	if (parse_proxies(s, c->trusted_proxies) != 0 ||
	    load_key(s, key_path) != 0 || open_store(s, db_path) != 0)
		goto out;
	rc = 0;
out:
	free(kp);
	free(dp);
	return rc;
}

void
vs_nonces_fini(struct vs_nonces *s)
{
	sqlite3_finalize(s->insert);
	sqlite3_finalize(s->prune);
	sqlite3_close(s->db);
	EVP_MAC_free(s->hmac);
	s->hmac = NULL;
	free(s->clients);
	OPENSSL_cleanse(s->key, sizeof s->key);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->rate_mu);
	s->db = NULL;
	s->insert = s->prune = NULL;
	s->clients = NULL;
}

int
vs_nonce_issue(struct vs_nonces *s, int64_t now_ms, int64_t ttl_ms,
    uint8_t out[VS_NONCE_BYTES])
{
	uint8_t n[VS_NONCE_BYTES];

	if (RAND_bytes(n, VS_NONCE_RAND_BYTES) != 1)
		return GB_ECRYPTO;
	put_be64(n + VS_NONCE_RAND_BYTES, now_ms + ttl_ms);
	if (mac(s, n, VS_NONCE_RAND_BYTES + 8, n + VS_NONCE_RAND_BYTES + 8) !=
	    0)
		return GB_ECRYPTO;
	memcpy(out, n, VS_NONCE_BYTES);
	return 0;
}

/* Records the nonce as used until its expiry: the primary key makes a
 * second insert fail, in this process or another sharing the file. */
static bool
record_used(struct vs_nonces *s, const uint8_t *n, int64_t exp,
    int64_t now_ms)
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	bool fresh = false;
	int rc;

	SHA256(n, VS_NONCE_BYTES, h);
	pthread_mutex_lock(&s->mu);
	if (now_ms - s->pruned_ms >= VS_NONCE_PRUNE_MS) {
		/* A row may go once its nonce has expired: an expired nonce
		 * is refused by its own expiry. */
		sqlite3_bind_int64(s->prune, 1, now_ms);
		if (sqlite3_step(s->prune) == SQLITE_DONE)
			s->pruned_ms = now_ms;
		sqlite3_reset(s->prune);
	}
	sqlite3_bind_blob(s->insert, 1, h, sizeof h, SQLITE_STATIC);
	sqlite3_bind_int64(s->insert, 2, exp);
	rc = sqlite3_step(s->insert);
	fresh = rc == SQLITE_DONE;
	if (rc != SQLITE_DONE && rc != SQLITE_CONSTRAINT)
		/* Fail closed: a store that cannot say "unused" refuses. */
		fprintf(stderr, "{\"event\":\"nonce_store_error\","
		    "\"detail\":\"%s\"}\n", sqlite3_errmsg(s->db));
	sqlite3_reset(s->insert);
	sqlite3_clear_bindings(s->insert);
	pthread_mutex_unlock(&s->mu);
	return fresh;
}

bool
vs_nonce_take(struct vs_nonces *s, const uint8_t *n, size_t len,
    int64_t now_ms)
{
	uint8_t want[VS_NONCE_MAC_BYTES];
	int64_t exp;
	bool ok;

	if (len != VS_NONCE_BYTES)
		return false;
	if (mac(s, n, VS_NONCE_RAND_BYTES + 8, want) != 0)
		return false;
	exp = get_be64(n + VS_NONCE_RAND_BYTES);
	/* Both checks are made whatever the first says, and the MAC is
	 * compared in constant time. */
	ok = (CRYPTO_memcmp(want, n + VS_NONCE_RAND_BYTES + 8,
	    VS_NONCE_MAC_BYTES) == 0) & (exp > now_ms);
	if (!ok)
		return false;
	return record_used(s, n, exp, now_ms);
}
