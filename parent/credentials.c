/*
 * glassbox-parent --credentials: what the enclave needs from the parent to
 * use KMS, on one HTTP service (the library's server) that only the
 * enclave reaches (a vsock port: enclaves of this instance only).
 *
 *   GET /credentials[?refresh=1]  {AccessKeyId, SecretAccessKey, Token,
 *                                 Expiration} of the instance role
 *   GET /sealed                   the sealed key blob, 404 if none
 *   POST /sealed                  stores a new blob (FILE.prev keeps the
 *                                 one it replaces)
 *
 * Credentials come from IMDSv2 (PUT /latest/api/token, then GET
 * /latest/meta-data/iam/security-credentials/ and .../ROLE), are kept in
 * memory on a locked page, fetched again when less than
 * CREDS_REFRESH_MARGIN_MS of their life is left (IMDS offers new ones at
 * least five minutes before the old ones expire) or when the enclave says
 * KMS refused them (?refresh=1), and are never logged or written to disk.
 * The sealed blob holds nothing secret (docs/enclave.md).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/err.h"
#include "gb/fileio.h"
#include "gb/httpd.h"
#include "gb/kms.h"
#include "gb/timefmt.h"
#include "credentials.h"
#include "relay.h"

/* Fetch again when less than this is left (AWS: new credentials are
 * available at least 5 minutes before the old ones expire). */
#define CREDS_REFRESH_MARGIN_MS (5 * 60 * 1000)
/* Fetches that are not due by the clock (asked for with ?refresh=1, none
 * held yet, or after a failure) take a token from a bucket of
 * CREDS_RETRY_BURST refilled one every CREDS_RETRY_EVERY_MS: any client of
 * the service could otherwise keep the fetch (three IMDS calls, the lock
 * held) going and run into IMDS's throttling for the whole instance. An
 * enclave's own retries (one refresh after KMS refuses) fit well within. */
#define CREDS_RETRY_BURST 8
#define CREDS_RETRY_EVERY_MS 1000
/* IMDS answers: a role name list and a small JSON object. */
#define CREDS_IMDS_MAX_BYTES 16384
#define CREDS_IMDS_TIMEOUT_MS 5000
/* The IMDSv2 session token's life we ask for (seconds). */
#define CREDS_IMDS_TOKEN_TTL_S "300"
/* A sealed blob (the enclave's are about 1 KiB). */
#define CREDS_SEALED_MAX_BYTES 16384
/* Superseded blobs kept in FILE.history/ (named by their SHA-256). When it
 * holds this many, further writes are refused until an operator looks: a
 * client that may write (any process that reaches the service: every
 * enclave on the instance over vsock) can then push no blob out of it, so
 * no write can make the sealed key unrecoverable. */
#define CREDS_SEALED_HISTORY_MAX 32

static struct {
	const char *listen_text, *imds, *sealed_file;
	struct gb_listen_addr listen;
	struct gb_httpd *httpd;
	pthread_mutex_t mu;             /* creds, have */
	struct gb_kms_creds *creds;     /* a locked page */
	bool have;
	int64_t tokens_ms;              /* the bucket, as time: see below */
	char last_why[300];             /* why the last fetch failed, or "" */
	pthread_mutex_t store_mu;       /* the sealed file */
} C = { .imds = "http://169.254.169.254",
    .mu = PTHREAD_MUTEX_INITIALIZER, .store_mu = PTHREAD_MUTEX_INITIALIZER };

int
credentials_option(const char *name, const char *arg)
{
	const char *why;

	if (strcmp(name, "credentials") == 0) {
		if (gb_listen_parse(arg, &C.listen, &why) != 0) {
			fprintf(stderr, "glassbox-parent: --credentials %s: %s\n",
			    arg, why);
			return -1;
		}
		C.listen_text = arg;
		return 0;
	}
	if (strcmp(name, "imds") == 0) {
		if (strncmp(arg, "http://", 7) != 0) {
			fprintf(stderr, "glassbox-parent: --imds is an http:// "
			    "URL\n");
			return -1;
		}
		C.imds = arg;
		return 0;
	}
	if (strcmp(name, "sealed-file") == 0) {
		C.sealed_file = arg;
		return 0;
	}
	return 1;
}

bool
credentials_enabled(void)
{
	return C.listen_text != NULL;
}

static int
imds_call(const char *method, const char *path, const char *token,
    long *status, char **resp, size_t *len, struct gb_kms_error *e)
{
	char url[512], hdr[256];
	const char *headers[2] = { hdr, NULL };
	struct gb_kms_http h = { .method = method, .url = url,
	    .headers = headers, .max = CREDS_IMDS_MAX_BYTES,
	    .timeout_ms = CREDS_IMDS_TIMEOUT_MS };

	snprintf(url, sizeof url, "%s%s", C.imds, path);
	if (token == NULL)
		snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token-ttl-seconds: "
		    "%s", CREDS_IMDS_TOKEN_TTL_S);
	else
		snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token: %s", token);
	return gb_kms_http_exchange(&h, status, resp, len, e);
}

/* New credentials from IMDSv2 into *out. Returns 0, or -1 with why. */
static int
imds_fetch(struct gb_kms_creds *out, char *why, size_t whylen)
{
	char *token = NULL, *roles = NULL, *body = NULL, path[400];
	size_t tlen = 0, rlen = 0, blen = 0, n;
	struct gb_kms_error e;
	long st = 0;
	int rc = -1;

	if (imds_call("PUT", "/latest/api/token", NULL, &st, &token, &tlen,
	    &e) != 0 || st != 200 || tlen == 0 || tlen > 200 ||
	    strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/=_-") != tlen) {
		snprintf(why, whylen, "IMDSv2 token: %.200s", st ? "bad answer" :
		    e.message);
		goto out;
	}
	if (imds_call("GET", "/latest/meta-data/iam/security-credentials/",
	    token, &st, &roles, &rlen, &e) != 0 || st != 200) {
		snprintf(why, whylen, "IMDS role: %.200s", st == 404 ? "the "
		    "instance has no role" : st ? "bad answer" : e.message);
		goto out;
	}
	/* The first line: the role's name ([\w+=,.@-], at most 64). */
	n = strcspn(roles, "\r\n");
	if (n == 0 || n > 64 || strspn(roles, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+=,.@_-") < n) {
		snprintf(why, whylen, "IMDS role: not a role name");
		goto out;
	}
	snprintf(path, sizeof path,
	    "/latest/meta-data/iam/security-credentials/%.*s", (int)n, roles);
	if (imds_call("GET", path, token, &st, &body, &blen, &e) != 0 ||
	    st != 200) {
		snprintf(why, whylen, "IMDS credentials: %.200s", st ?
		    "bad answer" : e.message);
		goto out;
	}
	if (gb_kms_creds_parse(body, blen, out) != 0 || out->expires_ms == 0) {
		snprintf(why, whylen, "IMDS credentials: not {Code: Success, "
		    "AccessKeyId, SecretAccessKey, Token, Expiration}");
		goto out;
	}
	rc = 0;
out:
	if (token != NULL)
		OPENSSL_clear_free(token, tlen);
	if (body != NULL)
		OPENSSL_clear_free(body, blen);
	free(roles);
	return rc;
}

static void
problem(struct gb_http_resp *r, int status, const char *code,
    const char *detail)
{
	json_t *j = json_pack("{s:i, s:s, s:s}", "status", status, "reason",
	    code, "detail", detail);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	gb_http_reply(r, status, "application/problem+json", s ? s : "{}");
	free(s);
	json_decref(j);
}

/* Held credentials near their expiry, and no failure since: a fetch the
 * clock asks for, never limited. */
static bool
due_by_clock(int64_t now, bool refresh)
{
	return C.have && !refresh && C.last_why[0] == '\0' &&
	    C.creds->expires_ms - now < CREDS_REFRESH_MARGIN_MS;
}

/* The token bucket, kept as the time at which it was (or will be) empty:
 * tokens = (now - tokens_ms) / CREDS_RETRY_EVERY_MS, at most the burst. */
static bool
take_token(int64_t now)
{
	int64_t full = now - (int64_t)CREDS_RETRY_BURST * CREDS_RETRY_EVERY_MS;

	if (C.tokens_ms < full)
		C.tokens_ms = full;
	if (now - C.tokens_ms < CREDS_RETRY_EVERY_MS)
		return false;
	C.tokens_ms += CREDS_RETRY_EVERY_MS;
	return true;
}

static void
serve_credentials(const struct gb_http_req *q, struct gb_http_resp *r)
{
	bool refresh = strcmp(q->query, "refresh=1") == 0;
	char why[300] = "", exp[40], *s = NULL;
	int64_t now = gb_time_now_ms();
	size_t slen = 0;
	json_t *j;

	if (q->query[0] != '\0' && !refresh) {
		problem(r, 400, "bad_request", "the query is refresh=1 or "
		    "nothing");
		return;
	}
	pthread_mutex_lock(&C.mu);
	if ((!C.have || refresh || C.creds->expires_ms - now <
	    CREDS_REFRESH_MARGIN_MS) && (due_by_clock(now, refresh) ||
	    take_token(now))) {
		struct gb_kms_creds *fresh = C.creds + 1;   /* same page */

		C.last_why[0] = '\0';
		if (imds_fetch(fresh, why, sizeof why) == 0) {
			*C.creds = *fresh;
			C.have = true;
			gb_time_format_rfc3339(C.creds->expires_ms, exp,
			    sizeof exp);
			relay_log("credentials_refreshed", NULL, exp);
		} else {
			relay_log("credentials_error", NULL, why);
			snprintf(C.last_why, sizeof C.last_why, "%s", why);
		}
		gb_kms_creds_wipe(fresh);
	} else if (C.last_why[0] != '\0') {
		snprintf(why, sizeof why, "%s", C.last_why);
	}
	if (!C.have || C.creds->expires_ms <= now) {
		pthread_mutex_unlock(&C.mu);
		problem(r, 503, C.have ? "credentials_expired" :
		    "imds_unavailable", C.have ? "IMDS gives only expired "
		    "credentials" : why);
		return;
	}
	gb_time_format_rfc3339(C.creds->expires_ms, exp, sizeof exp);
	j = json_pack("{s:s, s:s, s:s, s:s}", "AccessKeyId",
	    C.creds->access_key_id, "SecretAccessKey", C.creds->secret,
	    "Token", C.creds->token, "Expiration", exp);
	pthread_mutex_unlock(&C.mu);
	if (j != NULL && (s = json_dumps(j, JSON_COMPACT)) != NULL)
		slen = strlen(s);
	json_decref(j);
	if (s == NULL) {
		problem(r, 500, "no_memory", "out of memory");
		return;
	}
	gb_http_reply(r, 200, "application/json", s);
	OPENSSL_clear_free(s, slen);
}

/* Whether j is a blob in the enclave's format (enclave/sealed.c): exactly
 * format, kms_key (a key ARN's characters), ciphertext_blob, nonce and
 * sealed_seed (base64) and public_key (64 hex digits). The enclave checks
 * the rest (sizes, the seal) when it reads it back. */
static bool
blob_shape(json_t *j)
{
	static const char *const b64[] = { "ciphertext_blob", "nonce",
	    "sealed_seed" };
	const char *f = json_string_value(json_object_get(j, "format"));
	const char *k = json_string_value(json_object_get(j, "kms_key"));
	const char *pk = json_string_value(json_object_get(j, "public_key"));

	if (!json_is_object(j) || json_object_size(j) != 6 || f == NULL ||
	    strcmp(f, "glassbox-sealed-v1") != 0 || k == NULL ||
	    strlen(k) > 2048 || strspn(k, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:/-_") != strlen(k) ||
	    pk == NULL || strlen(pk) != 64 || strspn(pk,
	    "0123456789abcdef") != 64)
		return false;
	for (size_t i = 0; i < sizeof b64 / sizeof b64[0]; i++) {
		const char *v = json_string_value(json_object_get(j, b64[i]));

		if (v == NULL || *v == '\0' || strspn(v, "ABCDEFGHIJKLMNOPQRST"
		    "UVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") !=
		    strlen(v))
			return false;
	}
	return true;
}

/* Keeps the blob being replaced in FILE.history/SHA256.json (once per
 * content). 0, or -1 with the problem set (history full: 507). */
static int
keep_history(const uint8_t *old, size_t len, struct gb_http_resp *r)
{
	char dir[4200], path[4300], hex[65];
	uint8_t h[32];
	struct dirent *d;
	unsigned n = 0;
	DIR *dp;

	snprintf(dir, sizeof dir, "%s.history", C.sealed_file);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		problem(r, 500, "io_error", "cannot make the blob history");
		return -1;
	}
	SHA256(old, len, h);
	gb_hex_encode(hex, h, 32);
	snprintf(path, sizeof path, "%s/%s.json", dir, hex);
	if (access(path, F_OK) == 0)
		return 0;
	if ((dp = opendir(dir)) == NULL) {
		problem(r, 500, "io_error", "cannot read the blob history");
		return -1;
	}
	while ((d = readdir(dp)) != NULL)
		n += d->d_name[0] != '.';
	closedir(dp);
	if (n >= CREDS_SEALED_HISTORY_MAX) {
		relay_log("sealed_history_full", NULL, dir);
		problem(r, 507, "history_full", "the sealed blob history is "
		    "full: an operator must look at it before the blob can "
		    "be replaced again");
		return -1;
	}
	if (gb_write_file_atomic(path, old, len, 0600, GB_WRITE_EXCL) != 0 &&
	    errno != EEXIST) {
		problem(r, 500, "io_error", "cannot keep the previous blob");
		return -1;
	}
	return 0;
}

static void
serve_sealed(const struct gb_http_req *q, struct gb_http_resp *r, bool get)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char prev[4200];
	json_t *j;
	int rc;

	if (C.sealed_file == NULL) {
		problem(r, 404, "not_found", "no --sealed-file");
		return;
	}
	pthread_mutex_lock(&C.store_mu);
	if (get) {
		rc = gb_read_file(C.sealed_file, CREDS_SEALED_MAX_BYTES, &buf,
		    &len);
		if (rc == 0)
			gb_http_reply_buf(r, 200, "application/json", buf, len);
		else if (rc == GB_EIO && errno == ENOENT)
			problem(r, 404, "not_sealed", "no sealed blob yet");
		else
			problem(r, 500, "io_error", "cannot read the sealed "
			    "file");
		goto out;
	}
	j = q->body_len <= CREDS_SEALED_MAX_BYTES ? gb_json_loadb(q->body,
	    q->body_len, 0, NULL) : NULL;
	rc = blob_shape(j);
	json_decref(j);
	if (!rc) {
		problem(r, 400, "bad_request", "not a glassbox-sealed-v1 blob "
		    "(format, kms_key, ciphertext_blob, nonce, sealed_seed, "
		    "public_key)");
		goto out;
	}
	/* The blob it replaces is kept, in the history and as FILE.prev:
	 * the key it holds may still be wanted (docs/enclave.md,
	 * --allow-new-key), and a write by another client must not lose
	 * it. */
	if (gb_read_file(C.sealed_file, CREDS_SEALED_MAX_BYTES, &buf, &len) ==
	    0 && (len != q->body_len || memcmp(buf, q->body, len) != 0)) {
		if (keep_history(buf, len, r) != 0)
			goto out;
		snprintf(prev, sizeof prev, "%s.prev", C.sealed_file);
		if (gb_write_file_atomic(prev, buf, len, 0644, 0) != 0) {
			problem(r, 500, "io_error", "cannot keep the previous "
			    "blob");
			goto out;
		}
	}
	if (gb_write_file_atomic(C.sealed_file, q->body, q->body_len, 0644,
	    0) != 0) {
		problem(r, 500, "io_error", "cannot write the sealed file");
		goto out;
	}
	relay_log("sealed_stored", NULL, C.sealed_file);
	gb_http_reply(r, 204, "application/json", "");
out:
	pthread_mutex_unlock(&C.store_mu);
	free(buf);
}

static void
handle(void *arg, const struct gb_http_req *q, struct gb_http_resp *r)
{
	bool get = strcmp(q->method, "GET") == 0;

	(void)arg;
	if (strcmp(q->path, "/credentials") == 0) {
		if (get)
			serve_credentials(q, r);
		else
			problem(r, 405, "method_not_allowed", "use GET");
	} else if (strcmp(q->path, "/sealed") == 0) {
		if (get || strcmp(q->method, "POST") == 0)
			serve_sealed(q, r, get);
		else
			problem(r, 405, "method_not_allowed", "use GET or POST");
	} else {
		problem(r, 404, "not_found", "no such resource");
	}
}

int
credentials_start(void)
{
	struct gb_httpd_opts ho = { .workers = 2,
	    .max_body = CREDS_SEALED_MAX_BYTES, .handler = handle };
	const char *why;
	int fd;

	if (C.listen_text == NULL) {
		if (C.sealed_file != NULL) {
			fprintf(stderr, "glassbox-parent: --sealed-file needs "
			    "--credentials\n");
			return -1;
		}
		return 0;
	}
	/* Two credential sets (kept and being fetched) on a locked page. */
	C.creds = mmap(NULL, 2 * sizeof *C.creds, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (C.creds == MAP_FAILED) {
		C.creds = NULL;
		return -1;
	}
	(void)mlock(C.creds, 2 * sizeof *C.creds);
	(void)madvise(C.creds, 2 * sizeof *C.creds, MADV_DONTDUMP);
	if (gb_kms_global_init() != 0)
		return -1;
	if ((fd = gb_listen_open(&C.listen, &why)) < 0) {
		fprintf(stderr, "glassbox-parent: --credentials %s: %s: %s\n",
		    C.listen_text, why, strerror(errno));
		return -1;
	}
	if (C.listen.kind == GB_LISTEN_TCP)
		printf("credentials on tcp:%s:%d\n", C.listen.host,
		    gb_listen_port(fd));
	else
		printf("credentials on %s\n", C.listen_text);
	if (gb_httpd_start(fd, &ho, &C.httpd) != 0) {
		fprintf(stderr, "glassbox-parent: cannot serve --credentials\n");
		return -1;
	}
	return 0;
}

void
credentials_stop(void)
{
	gb_httpd_stop(C.httpd);
	C.httpd = NULL;
	if (C.creds != NULL) {
		OPENSSL_cleanse(C.creds, 2 * sizeof *C.creds);
		munmap(C.creds, 2 * sizeof *C.creds);
		C.creds = NULL;
	}
	if (C.listen.kind == GB_LISTEN_UNIX && C.listen_text != NULL)
		unlink(C.listen.path);
}
