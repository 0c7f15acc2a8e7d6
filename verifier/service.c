/*
 * The verifier service without its process: the route table, the dispatch
 * gb_httpd calls, and the state a struct vs needs (verifier with its root,
 * registry key, verdict key, token, challenges, metrics, caches), made from
 * a struct vs_config. main.c parses options and runs the server around it;
 * tests/fuzz/fuzz_verifier.c runs the same handler in-process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <nettle/sha2.h>
#include <openssl/crypto.h>

#include "gb/codec.h"
#include "gb/fileio.h"
#include "gb/registry.h"
#include "server.h"

void
vs_config_defaults(struct vs_config *c)
{
	*c = (struct vs_config){ .listen = "127.0.0.1:8080",
	    .max_age_ms = 600000, .skew_ms = 60000, .nonce_ttl_ms = 300000,
	    .threads = 0, .max_body = 65536,
	    .request_timeout_ms = GB_HTTPD_HEAD_MS,
	    .body_timeout_ms = GB_HTTPD_BODY_MS,
	    .max_conns = GB_HTTPD_CONNS_MAX, .audit_interval_s = 600,
	    .verdict_ttl_s = 300, .challenge_rate = VS_CHALLENGE_RATE,
	    .challenge_burst = VS_CHALLENGE_BURST,
	    .trusted_proxies = VS_TRUSTED_PROXIES,
	    .mirror_interval_s = VS_MIRROR_INTERVAL_S };
}

struct route {
	const char *path, *name;
	int (*fn)(struct vs_req *q);
};

static struct route routes[] = {
	{ "/api/v1/challenge", "challenge", vs_api_challenge },
	{ "/api/v1/verify", "verify", vs_api_verify },
	{ "/api/v1/releases", "releases", vs_api_releases },
	{ "/api/v1/keys", "keys", vs_api_keys },
	{ "/api/v1/log/policy", "policy", vs_api_policy },
	{ "/api/v1/log", "log", vs_api_log },
	{ "/api/v1/verdicts", "verdicts", vs_api_verdicts },
	{ "/tlog", "tlog", vs_api_tlog },
	{ "/.well-known/glassbox", "well-known", vs_api_wellknown },
	{ "/healthz", "healthz", vs_api_health },
	{ "/readyz", "readyz", vs_api_ready },
	{ "/metrics", "metrics", vs_api_metrics },
	{ "/openapi.json", "openapi", vs_api_openapi },
};

static struct route fallback = { "/", "web", vs_api_asset };

/* A route serves its path and what lies below it ("/api/v1/log" serves
 * "/api/v1/log/checkpoint"); anything else is the page's. */
static const struct route *
find_route(const char *path)
{
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		size_t n = strlen(routes[i].path);

		if (strncmp(path, routes[i].path, n) == 0 &&
		    (path[n] == '\0' || path[n] == '/'))
			return &routes[i];
	}
	return &fallback;
}

/* The server (gb/httpd.h) calls this for every complete request. */
void
vs_service_handler(void *arg, const struct gb_http_req *req, struct gb_http_resp *resp)
{
	const struct route *rt = find_route(req->path);
	struct vs_req q = { .req = req, .vs = arg, .route = rt->name,
	    .status = 500, .resp = resp };
	struct timespec t0, t1;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* A mirror's copy grows only from its primary's log: the writes
	 * (POST /api/v1/releases...) go to the primary. */
	if (q.vs->cfg.mirror_url != NULL && strcmp(rt->name, "releases") == 0 &&
	    !vs_method(&q, "GET") && !vs_method(&q, "HEAD"))
		vs_problem(&q, 403, "mirror_read_only", "this verifier is a "
		    "read-only mirror of the log at %s; send writes to the "
		    "primary", q.vs->cfg.mirror_url);
	else
		rt->fn(&q);
	if (resp->body == NULL)         /* a handler that said nothing */
		vs_problem(&q, 500, "internal", "no answer");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	vs_metrics_count(q.vs, rt->name, q.status, secs);
	vs_log_request(&q, secs);
}

/* A request the server refused before its body (413, 400, 405, ...): the
 * same log line and counter as any other, under the route "server". */
void
vs_service_refused(void *arg, const struct gb_http_req *req, int status,
    const char *code)
{
	struct vs_req q = { .req = req, .vs = arg, .route = "server",
	    .status = status, .reason = code };

	vs_metrics_count(q.vs, q.route, status, 0);
	vs_log_request(&q, 0);
}

static void
close_registry(void *p)
{
	gb_registry_close(p);
}

/* Reads a secret file: refused if others may read it. *out is a new
 * NUL-terminated string, trailing newline removed. */
static int
read_secret(const char *path, char **out)
{
	struct stat sb;
	size_t len;

	if (stat(path, &sb) != 0)
		return -1;
	if (sb.st_mode & 077) {
		fprintf(stderr, "glassbox-verifier: %s is open to other users "
		    "(mode %03o); chmod 600 it\n", path,
		    (unsigned)sb.st_mode & 0777);
		return -2;
	}
	if (gb_read_file(path, 4096, (uint8_t **)out, &len) != 0)
		return -1;
	while (len > 0 && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r'))
		(*out)[--len] = '\0';
	return 0;
}

/* Loads the verdict key, or makes one (mode 0600) if the file is absent. */
static int
verdict_key(struct vs *vs, const char *path)
{
	char *hex = NULL, buf[2 * GB_ED25519_SEED_BYTES + 2];
	struct sha256_ctx h;
	uint8_t md[32];
	int rc = read_secret(path, &hex);

	if (rc == -2)
		return -1;
	if (rc == 0) {
		rc = gb_hex_decode(hex, strlen(hex), vs->verdict_seed,
		    sizeof vs->verdict_seed);
		OPENSSL_clear_free(hex, strlen(hex));
		if (rc != 0) {
			fprintf(stderr, "glassbox-verifier: %s is not 64 hex "
			    "digits\n", path);
			return -1;
		}
	} else {
		if (gb_ed25519_generate(vs->verdict_seed) != 0) {
			fprintf(stderr, "glassbox-verifier: cannot make a "
			    "verdict key\n");
			return -1;
		}
		/* Whole or absent after a crash, never empty: written
		 * aside, fsynced, linked into place, directory fsynced. */
		gb_hex_encode(buf, vs->verdict_seed, sizeof vs->verdict_seed);
		strcat(buf, "\n");
		rc = gb_write_file_atomic(path, buf, strlen(buf), 0600,
		    GB_WRITE_EXCL);
		OPENSSL_cleanse(buf, sizeof buf);
		if (rc != 0) {
			fprintf(stderr, "glassbox-verifier: cannot create %s: "
			    "%s\n", path, strerror(errno));
			OPENSSL_cleanse(vs->verdict_seed,
			    sizeof vs->verdict_seed);
			return -1;
		}
	}
	if (gb_ed25519_public(vs->verdict_seed, vs->verdict_pub) != 0)
		return -1;
	/* kid: the first 8 bytes of SHA-256 of the public key, in hex. */
	sha256_init(&h);
	sha256_update(&h, sizeof vs->verdict_pub, vs->verdict_pub);
	sha256_digest(&h, sizeof md, md);
	gb_hex_encode(vs->verdict_kid, md, 8);
	return 0;
}


void
vs_service_httpd_opts(struct vs *vs, struct gb_httpd_opts *o)
{
	*o = (struct gb_httpd_opts){ .workers = vs->cfg.threads,
	    .max_body = vs->cfg.max_body, .handler = vs_service_handler,
	    .arg = vs, .head_ms = vs->cfg.request_timeout_ms,
	    .body_ms = vs->cfg.body_timeout_ms,
	    .max_conns = vs->cfg.max_conns,
	    .max_per_addr = vs->cfg.max_per_addr,
	    .headers = vs_security_headers, .problem = vs_problem_resp,
	    .refused = vs_service_refused };
}

int
vs_service_init(struct vs *vs, const struct vs_config *c)
{
	struct gb_registry *r = NULL;
	struct gb_reg_error e;
	uint8_t *root = NULL;
	size_t root_len = 0;
	bool cache = false;
	int rc = -1;

	*vs = (struct vs){ .cfg = *c };
	if (vs->cfg.root != NULL && gb_cert_read_file(vs->cfg.root, &root,
	    &root_len) != 0) {
		fprintf(stderr, "glassbox-verifier: cannot read the root %s\n",
		    vs->cfg.root);
		goto out;
	}
	if (gb_verifier_new(root, root_len, &vs->verifier) != 0) {
		fprintf(stderr, "glassbox-verifier: the root is not usable\n");
		goto out;
	}
	if (vs->cfg.no_cache)
		gb_verifier_set_caches(vs->verifier, 0);
	if (gb_registry_open(vs->cfg.db, false, &r, &e) != 0) {
		fprintf(stderr, "glassbox-verifier: %s: %s\n", e.code,
		    e.message);
		goto out;
	}
	snprintf(vs->log_vkey, sizeof vs->log_vkey, "%s", gb_registry_vkey(r));
	if (vs_policy_init(vs) != 0)
		goto out;
	if (vs->cfg.verdict_key == NULL) {
		size_t n = strlen(vs->cfg.db) + sizeof ".verdict-key";

		if ((vs->verdict_key_path = malloc(n)) == NULL)
			goto out;
		snprintf(vs->verdict_key_path, n, "%s.verdict-key", vs->cfg.db);
		vs->cfg.verdict_key = vs->verdict_key_path;
	}
	if (verdict_key(vs, vs->cfg.verdict_key) != 0 ||
	    gb_ed25519_signer_new(vs->verdict_seed, &vs->verdict_signer) != 0)
		goto out;
	if (vs_cache_init(vs) != 0)
		goto out;
	cache = true;
	if (vs->cfg.token_file != NULL &&
	    (read_secret(vs->cfg.token_file, &vs->token) != 0 ||
	    strlen(vs->token) < 16)) {
		fprintf(stderr, "glassbox-verifier: the token file %s is "
		    "missing, open to others, or shorter than 16 characters\n",
		    vs->cfg.token_file);
		goto out;
	}
	/* vs_nonces_fini() also undoes a failed vs_nonces_init(). */
	if (vs_nonces_init(&vs->nonces, &vs->cfg) != 0 ||
	    pthread_key_create(&vs->reg_key, close_registry) != 0) {
		vs_nonces_fini(&vs->nonces);
		goto out;
	}
	pthread_mutex_init(&vs->write_mu, NULL);
	vs_metrics_init(&vs->metrics);
	rc = 0;
out:
	free(root);
	gb_registry_close(r);
	if (rc != 0) {              /* undone, for a caller that goes on */
		if (cache)
			vs_cache_fini(vs);
		if (vs->token != NULL)
			OPENSSL_clear_free(vs->token, strlen(vs->token));
		gb_ed25519_signer_free(vs->verdict_signer);
		OPENSSL_cleanse(vs->verdict_seed, sizeof vs->verdict_seed);
		gb_verifier_free(vs->verifier);
		free(vs->verdict_key_path);
		vs_policy_fini(vs);
		*vs = (struct vs){ .cfg = *c };
	}
	return rc;
}

void
vs_service_fini(struct vs *vs)
{
	vs_cache_fini(vs);
	vs_metrics_fini(&vs->metrics);
	vs_nonces_fini(&vs->nonces);
	pthread_mutex_destroy(&vs->write_mu);
	gb_verifier_free(vs->verifier);
	if (vs->token != NULL)
		OPENSSL_clear_free(vs->token, strlen(vs->token));
	gb_ed25519_signer_free(vs->verdict_signer);
	OPENSSL_cleanse(vs->verdict_seed, sizeof vs->verdict_seed);
	free(vs->verdict_key_path);
	vs_policy_fini(vs);
}
