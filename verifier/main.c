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
#include "gb/fileio.h"
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
"  --challenge-key FILE HMAC key of challenges, 64 hex digits, mode 0600;\n"
"                       made if absent (default PATH.challenge-key);\n"
"                       verifiers sharing it accept each other's nonces\n"
"  --nonce-db FILE      used-nonce store, SQLite (default PATH.nonces);\n"
"                       verifiers on one host share it to refuse reuse\n"
"  --challenge-rate N   challenges per second per client address (IPv6:\n"
"                       per /64); over it 429 (default 10; 0: no limit)\n"
"  --challenge-burst N  challenges a client may ask at once (default 20)\n"
"  --trusted-proxy LIST IP addresses of proxies (nginx), comma-separated,\n"
"                       whose X-Forwarded-For's last address is taken as\n"
"                       the client's for --challenge-rate (default\n"
"                       127.0.0.1,::1; \"\" trusts none)\n"
"  --verdict-key FILE   Ed25519 key signing verdicts, 64 hex digits, mode\n"
"                       0600; made if absent (default PATH.verdict-key)\n"
"  --token-file FILE    bearer token for POST /api/v1/releases...; mode\n"
"                       0600 (without it, writes are refused)\n"
"  --threads N          server threads, each serving many connections\n"
"                       (default: one per CPU, at least 2)\n"
"  --max-body BYTES     largest request body (default 65536); a larger\n"
"                       Content-Length gets 413 before the body is read\n"
"  --request-timeout MS total time for a request's head, from the\n"
"                       connection's start or the previous answer\n"
"                       (default 10000)\n"
"  --body-timeout MS    total time for a request's body (default 30000)\n"
"  --max-conns N        open connections; over it a connection is closed\n"
"                       at once (default 4096)\n"
"  --max-per-addr N     open connections per client address (default 0:\n"
"                       no cap; behind a proxy every client is one)\n"
"  --cache on|off       verification, registry and response caches\n"
"                       (default on; off for measuring cold documents)\n"
"  --audit-interval S   audit the whole log (every leaf, signature and\n"
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
static void
dispatch(void *arg, const struct gb_http_req *req, struct gb_http_resp *resp)
{
	const struct route *rt = find_route(req->path);
	struct vs_req q = { .req = req, .vs = arg, .route = rt->name,
	    .status = 500, .resp = resp };
	struct timespec t0, t1;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &t0);
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
static void
refused(void *arg, const struct gb_http_req *req, int status,
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

enum { O_CONFIG = 1, O_LISTEN, O_DB, O_ROOT, O_MAXAGE, O_SKEW, O_NONCE,
    O_VKEY, O_TOKEN, O_THREADS, O_MAXBODY, O_TIMEOUT, O_CACHE, O_AUDIT,
    O_VTTL, O_CKEY, O_NONCEDB, O_CRATE, O_CBURST, O_PROXY,
    O_BODYTIMEOUT, O_MAXCONNS, O_PERADDR, O_HELP };

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
	{ "challenge-key", required_argument, NULL, O_CKEY },
	{ "nonce-db", required_argument, NULL, O_NONCEDB },
	{ "challenge-rate", required_argument, NULL, O_CRATE },
	{ "challenge-burst", required_argument, NULL, O_CBURST },
	{ "trusted-proxy", required_argument, NULL, O_PROXY },
	{ "body-timeout", required_argument, NULL, O_BODYTIMEOUT },
	{ "max-conns", required_argument, NULL, O_MAXCONNS },
	{ "max-per-addr", required_argument, NULL, O_PERADDR },
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
	    opt != O_CACHE && opt != O_CKEY && opt != O_NONCEDB &&
	    opt != O_PROXY) {
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
		if (n < 1 || n > GB_HTTPD_WORKERS_MAX) {
			fprintf(stderr, "glassbox-verifier: --threads 1..%d\n",
			    GB_HTTPD_WORKERS_MAX);
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
	case O_TIMEOUT:
	case O_BODYTIMEOUT:
		if (n < 100 || n > 3600000) {
			fprintf(stderr, "glassbox-verifier: --%s 100..3600000\n",
			    name);
			return -1;
		}
		*(opt == O_TIMEOUT ? &c->request_timeout_ms :
		    &c->body_timeout_ms) = (unsigned)n;
		break;
	case O_MAXCONNS:
	case O_PERADDR:
		if (n < (opt == O_MAXCONNS) || n > 1000000) {
			fprintf(stderr, "glassbox-verifier: --%s %d..1000000\n",
			    name, opt == O_MAXCONNS);
			return -1;
		}
		*(opt == O_MAXCONNS ? &c->max_conns : &c->max_per_addr) =
		    (unsigned)n;
		break;
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
	case O_CKEY: c->challenge_key = val; break;
	case O_NONCEDB: c->nonce_db = val; break;
	case O_PROXY: c->trusted_proxies = val; break;
	case O_CRATE:
	case O_CBURST:
		if (n > 1000000 || (opt == O_CBURST && n < 1)) {
			fprintf(stderr, "glassbox-verifier: --%s %s..1000000\n",
			    name, opt == O_CBURST ? "1" : "0");
			return -1;
		}
		if (opt == O_CRATE)
			c->challenge_rate = (unsigned)n;
		else
			c->challenge_burst = (unsigned)n;
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
	    .threads = 0, .max_body = 65536,
	    .request_timeout_ms = GB_HTTPD_HEAD_MS,
	    .body_timeout_ms = GB_HTTPD_BODY_MS,
	    .max_conns = GB_HTTPD_CONNS_MAX, .audit_interval_s = 600,
	    .verdict_ttl_s = 300, .challenge_rate = VS_CHALLENGE_RATE,
	    .challenge_burst = VS_CHALLENGE_BURST,
	    .trusted_proxies = VS_TRUSTED_PROXIES };
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

/* --listen ADDR:PORT ([v6]:PORT too; PORT alone is every IPv4 address)
 * as a listening socket; *port is the port bound. */
static int
open_listen(const char *spec, int *port)
{
	struct gb_listen_addr a;
	char tcp[160];
	const char *why;
	int fd;

	if (snprintf(tcp, sizeof tcp, strchr(spec, ':') ? "tcp:%s" :
	    "tcp:0.0.0.0:%s", spec) >= (int)sizeof tcp ||
	    gb_listen_parse(tcp, &a, &why) != 0) {
		fprintf(stderr, "glassbox-verifier: --listen %s: not ADDR:PORT\n",
		    spec);
		return -1;
	}
	if ((fd = gb_listen_open(&a, &why)) < 0) {
		fprintf(stderr, "glassbox-verifier: --listen %s: %s: %s\n",
		    spec, why, strerror(errno));
		return -1;
	}
	*port = gb_listen_port(fd);
	return fd;
}

static int
start(struct vs *vs, int *port)
{
	struct gb_httpd_opts o = { .workers = vs->cfg.threads,
	    .max_body = vs->cfg.max_body, .handler = dispatch, .arg = vs,
	    .head_ms = vs->cfg.request_timeout_ms,
	    .body_ms = vs->cfg.body_timeout_ms,
	    .max_conns = vs->cfg.max_conns,
	    .max_per_addr = vs->cfg.max_per_addr,
	    .headers = vs_security_headers, .problem = vs_problem_resp,
	    .refused = refused };
	int fd;

	(void)gb_httpd_raise_nofile();
	if ((fd = open_listen(vs->cfg.listen, port)) < 0)
		return -1;
	return gb_httpd_start(fd, &o, &vs->httpd) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct vs *vs = &the_vs;
	int port = -1;
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
	if (vs_nonces_init(&vs->nonces, &vs->cfg) != 0 ||
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
	if (vs_audit_start(vs) != 0) {
		fprintf(stderr, "glassbox-verifier: cannot start the log "
		    "watch\n");
		return 2;
	}
	if (start(vs, &port) != 0) {
		fprintf(stderr, "glassbox-verifier: cannot listen on %s\n",
		    vs->cfg.listen);
		vs_audit_stop(vs);
		return 2;
	}
	{
		const char *colon = strrchr(vs->cfg.listen, ':');
		int hostlen = colon ? (int)(colon - vs->cfg.listen) : 0;

		if (hostlen == 0 || strncmp(vs->cfg.listen, "0.0.0.0", 7) == 0)
			printf("glassbox-verifier listening on "
			    "http://127.0.0.1:%d/\n", port);
		else
			printf("glassbox-verifier listening on http://%.*s:%d/\n",
			    hostlen, vs->cfg.listen, port);
	}
	fflush(stdout);

	sigwait(&set, &sig);
	fprintf(stderr, "{\"event\":\"stopping\",\"signal\":%d}\n", sig);
	gb_httpd_stop(vs->httpd);
	vs->httpd = NULL;
	vs_audit_stop(vs);
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
