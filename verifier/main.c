/*
 * glassbox-verifier: the HTTP service clients ask before they trust a
 * document or a result (DESIGN.md "Verifier HTTP API"). Options come from a
 * config file and flags (flags win); see usage_text.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nettle/sha2.h>
#include <openssl/crypto.h>

#include "gb/codec.h"
#include "gb/registry.h"
#include "server.h"

static const char usage_text[] =
"usage: glassbox-verifier --db PATH [options]\n"
"\n"
"  --config FILE        read options from FILE: NAME = VALUE lines, NAME\n"
"                       being a long option below; flags override it\n"
"  --listen ADDR:PORT   where to listen (default 127.0.0.1:8080; port 0\n"
"                       picks a free one); the URL is printed on stdout\n"
"  --db PATH            the registry database (glassbox registry init)\n"
"  --root PEM           trust this root instead of AWS Root-G1\n"
"  --max-age SECONDS    oldest document trusted at \"now\" (default 600)\n"
"  --skew SECONDS       how far ahead of the clock (default 60)\n"
"  --nonce-ttl SECONDS  lifetime of a challenge nonce (default 300)\n"
"  --verdict-ttl SECONDS  a signed verdict's exp is its iat plus this\n"
"                       (default 300; 1..86400)\n"
"  --verdict-key FILE   Ed25519 key signing verdicts, 64 hex digits, mode\n"
"                       0600; made if absent (default PATH.verdict-key)\n"
"  --token-file FILE    bearer token for POST /api/v1/releases...; mode\n"
"                       0600 (without it, writes are refused)\n"
"  --threads N          worker threads (default 4)\n"
"  --max-body BYTES     largest request body (default 65536)\n"
"  --request-timeout MS slow or stuck clients are cut off (default 10000)\n"
"  --cache on|off       verification, registry and response caches\n"
"                       (default on; off for measuring cold documents)\n""  --audit-interval S   audit the whole log (every leaf, signature and\n"
"                       rule) at start and every S seconds; /readyz fails\n"
"                       when an audit does (default 600; 0 turns it off)\n"
"\n"
"Logs one JSON line per request on standard error. SIGTERM or SIGINT stops\n"
"it cleanly.\n";

struct route {
	const char *path, *name;
	int (*fn)(struct vs_req *q);
};

static struct route routes[] = {
	{ "/api/v1/challenge", "challenge", vs_api_challenge },
	{ "/api/v1/verify", "verify", vs_api_verify },
	{ "/api/v1/releases", "releases", vs_api_releases },
	{ "/api/v1/keys", "keys", vs_api_keys },
	{ "/api/v1/log", "log", vs_api_log },
	{ "/api/v1/verdicts", "verdicts", vs_api_verdicts },
	{ "/.well-known/glassbox", "well-known", vs_api_wellknown },
	{ "/healthz", "healthz", vs_api_health },
	{ "/readyz", "readyz", vs_api_ready },
	{ "/metrics", "metrics", vs_api_metrics },
	{ "/openapi.json", "openapi", vs_api_openapi },
};

static struct vs the_vs;

static struct route fallback = { "/**", "web", vs_api_asset };

static int
dispatch(struct mg_connection *conn, void *cbdata)
{
	const struct route *rt = cbdata;
	struct vs_req q = { conn, &the_vs, rt->name, 500, NULL };
	struct timespec t0, t1;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rt->fn(&q);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	vs_metrics_count(&the_vs, rt->name, q.status, secs);
	vs_log_request(&q, secs);
	return q.status;
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
	int rc = read_secret(path, &hex), fd;

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
		if (gb_ed25519_generate(vs->verdict_seed) != 0 ||
		    (fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0) {
			fprintf(stderr, "glassbox-verifier: cannot create %s: "
			    "%s\n", path, strerror(errno));
			return -1;
		}
		gb_hex_encode(buf, vs->verdict_seed, sizeof vs->verdict_seed);
		strcat(buf, "\n");
		rc = write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf) &&
		    fsync(fd) == 0 ? 0 : -1;
		close(fd);
		OPENSSL_cleanse(buf, sizeof buf);
		if (rc != 0)
			return -1;
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

enum { O_CONFIG = 1, O_LISTEN, O_DB, O_ROOT, O_MAXAGE, O_SKEW, O_NONCE,
    O_VKEY, O_TOKEN, O_THREADS, O_MAXBODY, O_TIMEOUT, O_CACHE, O_AUDIT,
    O_VTTL, O_HELP };

static const struct option longopts[] = {
	{ "config", required_argument, NULL, O_CONFIG },
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "db", required_argument, NULL, O_DB },
	{ "root", required_argument, NULL, O_ROOT },
	{ "max-age", required_argument, NULL, O_MAXAGE },
	{ "skew", required_argument, NULL, O_SKEW },
	{ "nonce-ttl", required_argument, NULL, O_NONCE },
	{ "verdict-key", required_argument, NULL, O_VKEY },
	{ "token-file", required_argument, NULL, O_TOKEN },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "max-body", required_argument, NULL, O_MAXBODY },
	{ "request-timeout", required_argument, NULL, O_TIMEOUT },
	{ "cache", required_argument, NULL, O_CACHE },
	{ "audit-interval", required_argument, NULL, O_AUDIT },
	{ "verdict-ttl", required_argument, NULL, O_VTTL },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Applies one option; returns 0 or -1 (message printed). Strings are kept:
 * they point into argv or into the config file's lines, which live on. */
static int
apply(struct vs_config *c, int opt, const char *name, char *val)
{
	char *end;
	long long n = 0;

	if (opt >= O_MAXAGE && opt != O_VKEY && opt != O_TOKEN &&
	    opt != O_CACHE) {
		n = strtoll(val, &end, 10);
		if (*end != '\0' || n < 0 || n > 86400LL * 365 * 1000 ||
		    end == val) {
			fprintf(stderr, "glassbox-verifier: --%s: not a number "
			    "in range: %s\n", name, val);
			return -1;
		}
	}
	switch (opt) {
	case O_LISTEN: c->listen = val; break;
	case O_DB: c->db = val; break;
	case O_ROOT: c->root = val; break;
	case O_MAXAGE: c->max_age_ms = n * 1000; break;
	case O_SKEW: c->skew_ms = n * 1000; break;
	case O_NONCE: c->nonce_ttl_ms = n * 1000; break;
	case O_VKEY: c->verdict_key = val; break;
	case O_TOKEN: c->token_file = val; break;
	case O_THREADS:
		if (n < 1 || n > 256) {
			fprintf(stderr, "glassbox-verifier: --threads 1..256\n");
			return -1;
		}
		c->threads = (unsigned)n;
		break;
	case O_MAXBODY:
		if (n < 1024 || n > 64 << 20) {
			fprintf(stderr, "glassbox-verifier: --max-body "
			    "1024..67108864\n");
			return -1;
		}
		c->max_body = (size_t)n;
		break;
	case O_TIMEOUT: c->request_timeout_ms = (unsigned)n; break;
	case O_CACHE:
		if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0) {
			fprintf(stderr, "glassbox-verifier: --cache on|off\n");
			return -1;
		}
		c->no_cache = strcmp(val, "off") == 0;
		break;
	case O_AUDIT:
		if (n > 86400) {
			fprintf(stderr, "glassbox-verifier: --audit-interval "
			    "0..86400\n");
			return -1;
		}
		c->audit_interval_s = (unsigned)n;
		break;
	case O_VTTL:
		if (n < 1 || n > 86400) {
			fprintf(stderr, "glassbox-verifier: --verdict-ttl "
			    "1..86400\n");
			return -1;
		}
		c->verdict_ttl_s = n;
		break;
	default:
		fprintf(stderr, "glassbox-verifier: unknown option %s\n", name);
		return -1;
	}
	return 0;
}

static uint8_t *config_text;    /* options point into it while running */

/* NAME = VALUE lines; '#' starts a comment. */
static int
load_config(struct vs_config *c, const char *path)
{
	size_t len;
	char *line, *save = NULL;

	if (gb_read_file(path, 1 << 16, &config_text, &len) != 0) {
		fprintf(stderr, "glassbox-verifier: cannot read %s\n", path);
		return -1;
	}
	for (line = strtok_r((char *)config_text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		const struct option *o;
		char *eq, *k;

		line[strcspn(line, "#")] = '\0';
		if ((eq = strchr(line, '=')) == NULL) {
			if (*gb_str_trim(line) != '\0') {
				fprintf(stderr, "glassbox-verifier: %s: not NAME "
				    "= VALUE: %s\n", path, line);
				return -1;
			}
			continue;
		}
		*eq = '\0';
		k = gb_str_trim(line);
		for (o = longopts; o->name != NULL; o++)
			if (strcmp(o->name, k) == 0)
				break;
		if (o->name == NULL || o->val == O_CONFIG || o->val == O_HELP) {
			fprintf(stderr, "glassbox-verifier: %s: unknown option "
			    "%s\n", path, k);
			return -1;
		}
		if (apply(c, o->val, o->name, gb_str_trim(eq + 1)) != 0)
			return -1;
	}
	return 0;
}

static int
configure(struct vs_config *c, int argc, char **argv)
{
	int opt, idx;

	*c = (struct vs_config){ .listen = "127.0.0.1:8080",
	    .max_age_ms = 600000, .skew_ms = 60000, .nonce_ttl_ms = 300000,
	    .threads = 4, .max_body = 65536, .request_timeout_ms = 10000,
	    .audit_interval_s = 600, .verdict_ttl_s = 300 };
	for (int i = 1; i < argc; i++)     /* the config file first */
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc &&
		    load_config(c, argv[i + 1]) != 0)
			return 2;
	while ((opt = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		if (opt == O_HELP) {
			fputs(usage_text, stdout);
			return 1;
		}
		if (opt == '?') {
			fputs(usage_text, stderr);
			return 2;
		}
		if (opt != O_CONFIG && apply(c, opt, longopts[idx].name,
		    optarg) != 0)
			return 2;
	}
	if (optind != argc || c->db == NULL) {
		fprintf(stderr, "glassbox-verifier: --db is required\n%s",
		    usage_text);
		return 2;
	}
	return 0;
}

/* civetweb's listening_ports syntax for ADDR:PORT ([v6]:PORT too). */
static int
start(struct vs *vs, struct mg_context **out)
{
	char threads[16], body[24], timeout[16];
	const char *options[] = {
		"listening_ports", vs->cfg.listen,
		"num_threads", threads,
		"request_timeout_ms", timeout,
		"enable_keep_alive", "yes",
		"keep_alive_timeout_ms", "5000",
		"max_request_size", body,
		"tcp_nodelay", "1",
		NULL,
	};
	struct mg_callbacks cb;
	struct mg_context *ctx;

	snprintf(threads, sizeof threads, "%u", vs->cfg.threads);
	snprintf(timeout, sizeof timeout, "%u", vs->cfg.request_timeout_ms);
	snprintf(body, sizeof body, "%u", 16384);  /* request line + headers */
	memset(&cb, 0, sizeof cb);
	if ((ctx = mg_start(&cb, vs, options)) == NULL)
		return -1;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
		mg_set_request_handler(ctx, routes[i].path, dispatch,
		    &routes[i]);
	mg_set_request_handler(ctx, fallback.path, dispatch, &fallback);
	*out = ctx;
	return 0;
}

int
main(int argc, char **argv)
{
	struct vs *vs = &the_vs;
	struct mg_context *ctx = NULL;
	struct mg_server_port port;
	struct gb_registry *r;
	struct gb_reg_error e;
	uint8_t *root = NULL;
	size_t root_len = 0;
	char *vkey_path = NULL;
	sigset_t set;
	int sig, rc;

	if ((rc = configure(&vs->cfg, argc, argv)) != 0)
		return rc == 1 ? 0 : 2;
	if (vs->cfg.root != NULL && gb_cert_read_file(vs->cfg.root, &root,
	    &root_len) != 0) {
		fprintf(stderr, "glassbox-verifier: cannot read the root %s\n",
		    vs->cfg.root);
		return 2;
	}
	if (gb_verifier_new(root, root_len, &vs->verifier) != 0) {
		fprintf(stderr, "glassbox-verifier: the root is not usable\n");
		return 2;
	}
	free(root);
	if (vs->cfg.no_cache)
		gb_verifier_set_caches(vs->verifier, 0);
	if (gb_registry_open(vs->cfg.db, false, &r, &e) != 0) {
		fprintf(stderr, "glassbox-verifier: %s: %s\n", e.code,
		    e.message);
		return 2;
	}
	snprintf(vs->log_vkey, sizeof vs->log_vkey, "%s", gb_registry_vkey(r));
	gb_registry_close(r);
	if (vs->cfg.verdict_key == NULL) {
		size_t n = strlen(vs->cfg.db) + sizeof ".verdict-key";

		if ((vkey_path = malloc(n)) == NULL)
			return 2;
		snprintf(vkey_path, n, "%s.verdict-key", vs->cfg.db);
		vs->cfg.verdict_key = vkey_path;
	}
	if (verdict_key(vs, vs->cfg.verdict_key) != 0 ||
	    gb_ed25519_signer_new(vs->verdict_seed, &vs->verdict_signer) != 0 ||
	    vs_cache_init(vs) != 0)
		return 2;
	if (vs->cfg.token_file != NULL &&
	    (read_secret(vs->cfg.token_file, &vs->token) != 0 ||
	    strlen(vs->token) < 16)) {
		fprintf(stderr, "glassbox-verifier: the token file %s is "
		    "missing, open to others, or shorter than 16 characters\n",
		    vs->cfg.token_file);
		return 2;
	}
	if (vs_nonces_init(&vs->nonces, VS_NONCE_MAX) != 0 ||
	    pthread_key_create(&vs->reg_key, close_registry) != 0)
		return 2;
	pthread_mutex_init(&vs->write_mu, NULL);
	vs_metrics_init(&vs->metrics);

	/* Workers inherit the mask: only this thread takes the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	mg_init_library(0);
	if (vs_audit_start(vs) != 0) {
		fprintf(stderr, "glassbox-verifier: cannot start the log "
		    "watch\n");
		return 2;
	}
	if (start(vs, &ctx) != 0 ||
	    mg_get_server_ports(ctx, 1, &port) < 1) {
		fprintf(stderr, "glassbox-verifier: cannot listen on %s\n",
		    vs->cfg.listen);
		if (ctx != NULL)
			mg_stop(ctx);
		return 2;
	}
	{
		const char *colon = strrchr(vs->cfg.listen, ':');
		int hostlen = colon ? (int)(colon - vs->cfg.listen) : 0;

		if (hostlen == 0 || strncmp(vs->cfg.listen, "0.0.0.0", 7) == 0)
			printf("glassbox-verifier listening on "
			    "http://127.0.0.1:%d/\n", port.port);
		else
			printf("glassbox-verifier listening on http://%.*s:%d/\n",
			    hostlen, vs->cfg.listen, port.port);
	}
	fflush(stdout);

	sigwait(&set, &sig);
	fprintf(stderr, "{\"event\":\"stopping\",\"signal\":%d}\n", sig);
	mg_stop(ctx);
	vs_audit_stop(vs);
	mg_exit_library();
	vs_cache_fini(vs);
	vs_metrics_fini(&vs->metrics);
	vs_nonces_fini(&vs->nonces);
	pthread_mutex_destroy(&vs->write_mu);
	gb_verifier_free(vs->verifier);
	if (vs->token != NULL)
		OPENSSL_clear_free(vs->token, strlen(vs->token));
	gb_ed25519_signer_free(vs->verdict_signer);
	OPENSSL_cleanse(vs->verdict_seed, sizeof vs->verdict_seed);
	free(vkey_path);
	free(config_text);
	return 0;
}
