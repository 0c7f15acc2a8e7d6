/*
 * glassbox-verifier: the HTTP service clients ask before they trust a
 * document or a result (DESIGN.md "Verifier HTTP API"). Options come from a
 * config file and flags (flags win); see usage_text. This file parses them
 * and runs the server and the log watch; the service itself (routes, keys,
 * challenges, caches) is service.c.
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

#include "gb/codec.h"
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
"                       (default: four per CPU)\n"
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
"  --mirror URL         be a read-only mirror of the log whose tiles\n"
"                       (C2SP tlog-tiles) are served at URL: --db is its\n"
"                       verified copy (made if absent); writes get 403\n"
"                       mirror_read_only (docs/verifier.md, \"Mirror\")\n"
"  --log-key VKEY       the mirrored log's note verifier key (pinned;\n"
"                       required with --mirror)\n"
"  --mirror-interval S  seconds between rounds (default 10; 1..86400)\n"
"  --mirror-evidence DIR  where refused checkpoints and their tiles are\n"
"                       kept (default PATH.evidence)\n"
"  --policy FILE        a C2SP tlog-policy (logs, witnesses, quorum): no\n"
"                       verdict naming a release, and /readyz 503, while\n"
"                       the latest checkpoint is below its quorum\n"
"                       (below_quorum); served at /api/v1/log/policy\n"
"\n"
"Logs one JSON line per request on standard error. SIGTERM or SIGINT stops\n"
"it cleanly.\n";

static struct vs the_vs;

enum { O_CONFIG = 1, O_LISTEN, O_DB, O_ROOT, O_MAXAGE, O_SKEW, O_NONCE,
    O_VKEY, O_TOKEN, O_THREADS, O_MAXBODY, O_TIMEOUT, O_CACHE, O_AUDIT,
    O_VTTL, O_CKEY, O_NONCEDB, O_CRATE, O_CBURST, O_PROXY,
    O_BODYTIMEOUT, O_MAXCONNS, O_PERADDR, O_MIRROR, O_LOGKEY, O_MINTERVAL,
    O_EVIDENCE, O_POLICY, O_HELP };

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
	{ "mirror", required_argument, NULL, O_MIRROR },
	{ "log-key", required_argument, NULL, O_LOGKEY },
	{ "mirror-interval", required_argument, NULL, O_MINTERVAL },
	{ "mirror-evidence", required_argument, NULL, O_EVIDENCE },
	{ "policy", required_argument, NULL, O_POLICY },
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
	    opt != O_PROXY && opt != O_MIRROR && opt != O_LOGKEY &&
	    opt != O_EVIDENCE && opt != O_POLICY) {
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
	case O_MIRROR: c->mirror_url = val; break;
	case O_LOGKEY: c->log_key = val; break;
	case O_EVIDENCE: c->mirror_evidence = val; break;
	case O_MINTERVAL:
		if (n < 1 || n > 86400) {
			fprintf(stderr, "glassbox-verifier: --mirror-interval "
			    "1..86400\n");
			return -1;
		}
		c->mirror_interval_s = (unsigned)n;
		break;
	case O_POLICY: c->policy = val; break;
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
static char *evidence_path;     /* the default --mirror-evidence */

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

	vs_config_defaults(c);
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
	if (c->mirror_url != NULL && c->mirror_evidence == NULL) {
		size_t n = strlen(c->db) + sizeof ".evidence";

		if ((evidence_path = malloc(n)) == NULL)
			return 2;
		snprintf(evidence_path, n, "%s.evidence", c->db);
		c->mirror_evidence = evidence_path;
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
	struct gb_httpd_opts o;
	int fd;

	vs_service_httpd_opts(vs, &o);
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
	struct vs_config cfg;
	sigset_t set;
	int sig, rc;

	if ((rc = configure(&cfg, argc, argv)) != 0)
		return rc == 1 ? 0 : 2;
	if (vs_mirror_prepare(&cfg) != 0 || vs_service_init(vs, &cfg) != 0)
		return 2;

	/* Workers inherit the mask: only this thread takes the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The mirror's first round before the audit: it audits the copy. */
	if (vs_mirror_start(vs) != 0) {
		fprintf(stderr, "glassbox-verifier: cannot start the mirror\n");
		return 2;
	}
	if (vs_audit_start(vs) != 0) {
		fprintf(stderr, "glassbox-verifier: cannot start the log "
		    "watch\n");
		return 2;
	}
	if (start(vs, &port) != 0) {
		fprintf(stderr, "glassbox-verifier: cannot listen on %s\n",
		    vs->cfg.listen);
		vs_audit_stop(vs);
		vs_mirror_stop(vs);
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
	vs_mirror_stop(vs);
	vs_audit_stop(vs);
	vs_service_fini(vs);
	free(config_text);
	free(evidence_path);
	return 0;
}
