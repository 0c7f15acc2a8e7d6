/*
 * glassbox-parent: the bridge on the parent instance. It replaces the
 * seeds' socat lines (TCP to the enclave's vsock port) and their health
 * server: forwarders with limits and timeouts (relay.c), and GET /health
 * and /metrics (the library's HTTP server, gb/httpd.h) with the enclave's
 * state as `nitro-cli describe-enclaves` reports it.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "gb/docjson.h"
#include "gb/httpd.h"
#include "allowlist.h"
#include "gb/codec.h"
#include "relay.h"
#include "credentials.h"
#include "vsockproxy.h"
#include "scrape.h"

static const char usage_text[] =
"usage: glassbox-parent --forward LISTEN=TARGET [--forward ...] [options]\n"
"       glassbox-parent vsock-proxy [-4|-6] [-w N] [--config FILE] LOCAL_PORT\n"
"           REMOTE_ADDR REMOTE_PORT  (vsock-proxy's command line; also when\n"
"           run as a link named vsock-proxy; glassbox-parent vsock-proxy -h)\n"
"\n"
"  --config FILE        NAME = VALUE lines, NAME a long option below\n"
"                       (forward and outbound may repeat); flags win.\n"
"                       SIGHUP reads it again: forwarders are added and\n"
"                       retired without dropping open connections\n"
"  --forward LISTEN=TARGET  carry connections accepted on LISTEN\n"
"                       (tcp:HOST:PORT) to TARGET (vsock:CID:PORT in\n"
"                       production; unix:/path or tcp:HOST:PORT in tests);\n"
"                       up to 16 forwarders\n"
"  --max-conns N        open connections per forwarder (default 256); over\n"
"                       it a connection is closed at once and counted\n"
"  --connect-timeout MS to the target (default 5000)\n"
"  --idle-timeout MS    a connection with no traffic either way is closed\n"
"                       (default 300000)\n"
"  --health ADDR:PORT   GET /health and /metrics (default 127.0.0.1:8080;\n"
"                       [v6]:PORT too; off: none); each request's head\n"
"                       must arrive within 10 s, its body within 30 s, at\n"
"                       most 4096 connections open (docs/parent.md)\n"
"  --describe-cmd CMD   what prints the enclaves' JSON (default\n"
"                       \"nitro-cli describe-enclaves\"), run through sh\n"
"  --enclave-name NAME  which enclave of that list (default: the first)\n"
"  --allow-debug        a DEBUG_MODE enclave is healthy too\n"
"  --enclave-metrics TARGET|off  where /metrics fetches the enclave's\n"
"                       counters (GET /metrics, within 2 s) to include\n"
"                       them (default: the first --forward's TARGET)\n"
"  --drain MS           on SIGTERM, time given to open connections\n"
"                       (default 10000)\n"
"  --outbound LISTEN=HOST:PORT  the enclave's way out (vsock-proxy's job):\n"
"                       connections on LISTEN (vsock:PORT in production)\n"
"                       go to HOST:PORT, which must be on the allowlist\n"
"  --allowlist FILE     vsock-proxy's YAML: allowlist: [{address, port}],\n"
"                       with its rules: other keys ignored, a quoted port\n"
"                       refused, HOST:PORT allowed when an entry has PORT\n"
"                       and HOST, or PORT and a name that resolves to\n"
"                       HOST's address (checked at each lookup); SIGHUP\n"
"                       reads it again (open connections stay)\n"
"  -4, --ipv4           outbound targets use IPv4 addresses only\n"
"  -6, --ipv6           IPv6 only (default: IPv4 first, then IPv6)\n"
"  --resolve-interval S outbound names are resolved again after their DNS\n"
"                       TTL, at most this long (default 60; names DNS does\n"
"                       not answer, as in /etc/hosts, exactly this long)\n"
"  --dns-server A:P     ask this DNS server (IPv4) instead of the system's\n"
"                       resolver (tests: no other lookup)\n"
"  --outbound-allow-special  let outbound names resolve to loopback,\n"
"                       link-local (instance metadata), unspecified,\n"
"                       multicast and other special addresses (refused\n"
"                       and logged otherwise; private ranges are allowed)\n"
CREDENTIALS_USAGE
"\n"
"Logs JSON lines on standard error.\n";

static struct {
	struct forwarder f[RELAY_MAX_FORWARDERS];
	unsigned n;
	char *describe, *name, *allowlist;      /* under mu: reload changes */
	char *metrics_from;                     /* under mu; NULL: default */
	bool allow_debug;
	pthread_mutex_t mu;
} P = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Runs cmd through sh with a deadline; its stdout (at most cap - 1 bytes)
 * into buf. Returns the exit status, or -1. */
static int
run_command(const char *cmd, char *buf, size_t cap, int timeout_ms)
{
	int out[2], status = -1;
	size_t len = 0;
	pid_t pid;

	if (pipe(out) != 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		close(out[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	for (;;) {
		struct pollfd p = { out[0], POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, timeout_ms) <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if ((r = read(out[0], buf + len, cap - 1 - len)) <= 0)
			break;
		len += (size_t)r;
		if (len == cap - 1)
			break;
	}
	buf[len] = '\0';
	close(out[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}


static json_t *
forwarders_json(bool probe, bool *all_reachable)
{
	json_t *a = json_array();

	*all_reachable = true;
	for (unsigned i = 0; i < P.n; i++) {
		struct forwarder *f = &P.f[i];

		if (!f->in_use)
			continue;
		/* Outbound targets are outside services: their allowlisting
		 * is reported, not their reachability. */
		bool up = f->outbound ? atomic_load(&f->allowed) :
		    !probe || relay_reachable(&f->target, 1000);

		if (!f->outbound)
			*all_reachable &= up;
		json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I, s:I, "
		    "s:I, s:I, s:b}", "listen", f->listen_text, "target",
		    f->target_text, "active", (json_int_t)atomic_load(&f->active),
		    "refused", (json_int_t)atomic_load(&f->refused), "bytes_in",
		    (json_int_t)atomic_load(&f->bytes_in), "bytes_out",
		    (json_int_t)atomic_load(&f->bytes_out), "failed",
		    (json_int_t)atomic_load(&f->failed), f->outbound ?
		    "allowed" : "reachable", up));
	}
	return a;
}

/* The health answer: the enclave's entry and the forwarders, a new JSON
 * object; *why NULL when healthy: it runs, is not in debug mode (unless
 * allowed), and every target answers; *running whether the describe
 * command lists it RUNNING. */
static json_t *
health_state(const char **why_out, bool *running)
{
	static const char *const keep[] = { "EnclaveName", "EnclaveID",
	    "EnclaveCID", "State", "Flags", "MemoryMiB", "NumberOfCPUs" };
	enum { OUT_MAX = 65536 };       /* the describe command's output */
	char *out = malloc(OUT_MAX);
	const char *why = NULL, *state, *flags;
	json_t *list, *entry = NULL, *enclave = json_null(), *j;
	bool reachable;
	size_t i;
	int rc;

	*running = false;
	char *cmd, *want;
	bool allow_debug;

	pthread_mutex_lock(&P.mu);
	cmd = strdup(P.describe);
	want = P.name ? strdup(P.name) : NULL;
	allow_debug = P.allow_debug;
	pthread_mutex_unlock(&P.mu);
	rc = cmd && out ? run_command(cmd, out, OUT_MAX, 5000) : -1;
	free(cmd);
	list = rc == 0 ? gb_json_loadb(out, strlen(out), 0, NULL) : NULL;
	free(out);
	if (rc != 0)
		why = "the describe command failed";
	else if (!json_is_array(list))
		why = "the describe command did not print a JSON array";
	else {
		json_array_foreach(list, i, j) {
			const char *name = json_string_value(json_object_get(j,
			    "EnclaveName"));

			if (json_is_object(j) && (want == NULL ||
			    (name != NULL && strcmp(name, want) == 0))) {
				entry = j;
				break;
			}
		}
		if (entry == NULL)
			why = "no such enclave is running";
	}
	if (entry != NULL) {
		enclave = json_object();
		for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++)
			if (json_object_get(entry, keep[k]) != NULL)
				json_object_set(enclave, keep[k],
				    json_object_get(entry, keep[k]));
		state = json_string_value(json_object_get(entry, "State"));
		flags = json_string_value(json_object_get(entry, "Flags"));
		*running = state != NULL && strcmp(state, "RUNNING") == 0;
		if (!*running)
			why = "the enclave is not RUNNING";
		else if (!allow_debug && flags != NULL &&
		    strcmp(flags, "DEBUG_MODE") == 0)
			why = "the enclave runs in DEBUG_MODE";
	}
	j = json_pack("{s:s, s:o, s:o}", "status", "ok", "enclave", enclave,
	    "forwarders", forwarders_json(why == NULL, &reachable));
	if (why == NULL && !reachable)
		why = "a forwarder's target does not answer";
	if (why != NULL) {
		json_object_set_new(j, "status", json_string("unhealthy"));
		json_object_set_new(j, "reason", json_string(why));
	}
	free(want);
	json_decref(list);
	*why_out = why;
	return j;
}

/* GET /health: 200, or 503 with the reason. */
static void
health(struct gb_http_resp *resp)
{
	const char *why;
	bool running;
	json_t *j = health_state(&why, &running);
	char *body = json_dumps(j, JSON_COMPACT);

	gb_http_reply(resp, why ? 503 : 200, "application/json",
	    body ? body : "{}");
	free(body);
	json_decref(j);
}

static struct gb_httpd *health_httpd;

/*
 * The enclave's /metrics text, checked (scrape.c), from --enclave-metrics
 * or the first forwarder's target; a new string, or NULL when it is off
 * (*asked false) or failed (*asked true). A change between fetched and
 * failed is logged once.
 */
static char *
enclave_metrics(bool *asked)
{
	static atomic_int last = -1;    /* 1 fetched, 0 failed, -1 not yet */
	struct gb_listen_addr t;
	const char *why = NULL;
	char *text = NULL, spec[160] = "";
	int ok;

	pthread_mutex_lock(&P.mu);
	if (P.metrics_from != NULL)
		snprintf(spec, sizeof spec, "%s", P.metrics_from);
	else
		for (unsigned i = 0; i < P.n && spec[0] == '\0'; i++)
			if (P.f[i].in_use && !P.f[i].outbound)
				snprintf(spec, sizeof spec, "%s",
				    P.f[i].target_text);
	pthread_mutex_unlock(&P.mu);
	*asked = spec[0] != '\0' && strcmp(spec, "off") != 0;
	if (!*asked)
		return NULL;
	if (gb_listen_parse(spec, &t, &why) != 0 ||
	    scrape_get(&t, "/metrics", SCRAPE_TIMEOUT_MS, &text, &why) != 0 ||
	    scrape_check(text, "glassbox_enclave_", &why) != 0) {
		free(text);
		text = NULL;
	}
	ok = text != NULL;
	if (atomic_exchange(&last, ok) != ok)
		relay_log(ok ? "enclave_metrics" : "enclave_metrics_error",
		    NULL, ok ? "fetched" : why);
	return text;
}

/* GET /metrics: each family one group with HELP and TYPE: the enclave's
 * state (as /health finds it), the forwarders' counters, the health port's
 * own connection counters, then the enclave's counters. */
static void
metrics(struct gb_http_resp *resp)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{ "active", "gauge", "Connections open now, by forwarder." },
		{ "accepted_total", "counter", "Connections accepted." },
		{ "refused_total", "counter", "Connections refused over "
		    "--max-conns or off the allowlist." },
		{ "failed_total", "counter", "Connections whose target did not "
		    "answer." },
		{ "bytes_in_total", "counter", "Bytes from clients to targets." },
		{ "bytes_out_total", "counter", "Bytes from targets to clients." },
	};
	char *s = NULL, *http, *enclave;
	size_t len = 0;
	const char *why;
	bool running, asked;
	json_t *state;
	FILE *m;

	/* Before the memstream: the describe command and the enclave's
	 * answer take up to 5 + 2 s, and the probes 1 s each. */
	state = health_state(&why, &running);
	json_decref(state);
	enclave = enclave_metrics(&asked);
	if ((m = open_memstream(&s, &len)) == NULL) {
		free(enclave);
		gb_http_reply(resp, 500, "application/json", "{}");
		return;
	}
	/* Named as the seeds' put-metric-data calls name them, so that what
	 * was built on those keeps working: the CloudWatch agent takes the
	 * names as they are (renaming at scrape time loses the metric's type
	 * there, docs/deploy.md). */
	fprintf(m, "# HELP EnclaveRunning 1 when the describe command lists "
	    "the enclave RUNNING.\n# TYPE EnclaveRunning gauge\n"
	    "EnclaveRunning %d\n", running);
	fprintf(m, "# HELP HealthCheckSuccess 1 when GET /health answers 200."
	    "\n# TYPE HealthCheckSuccess gauge\nHealthCheckSuccess %d\n",
	    why == NULL);
	if (asked)
		fprintf(m, "# HELP glassbox_parent_enclave_metrics_up 1 when the "
		    "enclave's /metrics was fetched and passed the checks.\n"
		    "# TYPE glassbox_parent_enclave_metrics_up gauge\n"
		    "glassbox_parent_enclave_metrics_up %d\n", enclave != NULL);
	for (size_t k = 0; k < sizeof fam / sizeof fam[0]; k++) {
		fprintf(m, "# HELP glassbox_parent_%s %s\n"
		    "# TYPE glassbox_parent_%s %s\n", fam[k].name, fam[k].help,
		    fam[k].name, fam[k].type);
		for (unsigned i = 0; i < P.n; i++) {
			struct forwarder *f = &P.f[i];
			if (!f->in_use)
				continue;
			uint64_t v[] = { atomic_load(&f->active),
			    atomic_load(&f->accepted), atomic_load(&f->refused),
			    atomic_load(&f->failed), atomic_load(&f->bytes_in),
			    atomic_load(&f->bytes_out) };

			fprintf(m, "glassbox_parent_%s{listen=\"%s\"} %llu\n",
			    fam[k].name, f->listen_text,
			    (unsigned long long)v[k]);
		}
	}
	if ((http = gb_httpd_metrics_text(health_httpd,
	    "glassbox_parent_health")) != NULL)
		fputs(http, m);
	free(http);
	if (enclave != NULL)
		fputs(enclave, m);
	free(enclave);
	fclose(m);
	gb_http_reply(resp, 200, "text/plain; version=0.0.4", s ? s : "");
	free(s);
}

static void
handle(void *arg, const struct gb_http_req *q, struct gb_http_resp *resp)
{
	/* HEAD is answered as GET is; the server sends no body. */
	bool get = strcmp(q->method, "GET") == 0 ||
	    strcmp(q->method, "HEAD") == 0;

	(void)arg;
	if (strcmp(q->path, "/health") != 0 && strcmp(q->path, "/metrics") != 0)
		gb_http_reply(resp, 404, "application/problem+json",
		    "{\"status\":404,\"reason\":\"not_found\"}");
	else if (!get)
		gb_http_reply(resp, 405, "application/problem+json",
		    "{\"status\":405,\"reason\":\"method_not_allowed\"}");
	else if (q->path[1] == 'h')
		health(resp);
	else
		metrics(resp);
}

/* --health ADDR:PORT ([v6]:PORT too) as a listening address. */
static int
open_health(const char *spec, int *port)
{
	struct gb_listen_addr a;
	char tcp[160];
	const char *why;
	int fd;

	if (snprintf(tcp, sizeof tcp, "tcp:%s", spec) >= (int)sizeof tcp ||
	    gb_listen_parse(tcp, &a, &why) != 0) {
		fprintf(stderr, "glassbox-parent: --health %s: not ADDR:PORT\n",
		    spec);
		return -1;
	}
	if ((fd = gb_listen_open(&a, &why)) < 0) {
		fprintf(stderr, "glassbox-parent: --health %s: %s: %s\n", spec,
		    why, strerror(errno));
		return -1;
	}
	*port = gb_listen_port(fd);
	return fd;
}

/* A free forwarder slot: never used, or retired with no connection left
 * (connections keep a pointer to their slot). */
static struct forwarder *
free_slot(void)
{
	for (unsigned i = 0; i < RELAY_MAX_FORWARDERS; i++) {
		struct forwarder *f = &P.f[i];

		if (!f->in_use && f->fd < 0 && atomic_load(&f->active) == 0) {
			if (f->outbound)
				pthread_mutex_destroy(&f->mu);
			memset(f, 0, sizeof *f);
			f->fd = -1;
			if (i + 1 > P.n)
				P.n = i + 1;
			return f;
		}
	}
	return NULL;
}

/* LISTEN=HOST:PORT for the enclave's outbound connections. */
static int
add_outbound(const char *arg, unsigned max_conns)
{
	const char *eq = strchr(arg, '='), *colon, *why;
	struct forwarder *f = free_slot();

	if (f == NULL || eq == NULL ||
	    (size_t)(eq - arg) >= sizeof f->listen_text ||
	    (colon = strrchr(eq + 1, ':')) == NULL || colon == eq + 1 ||
	    (size_t)(colon - eq - 1) >= sizeof f->target.host) {
		fprintf(stderr, "glassbox-parent: --outbound LISTEN=HOST:PORT: "
		    "%s\n", arg);
		return -1;
	}
	memcpy(f->listen_text, arg, (size_t)(eq - arg));
	snprintf(f->target_text, sizeof f->target_text, "%s", eq + 1);
	if (gb_listen_parse(f->listen_text, &f->listen, &why) != 0) {
		fprintf(stderr, "glassbox-parent: %s: %s\n", f->listen_text, why);
		return -1;
	}
	f->target.kind = GB_LISTEN_TCP;
	memcpy(f->target.host, eq + 1, (size_t)(colon - eq - 1));
	if (allowlist_port(colon + 1, &f->target.port) != 0) {
		fprintf(stderr, "glassbox-parent: %s: bad port\n", arg);
		return -1;
	}
	f->outbound = true;
	f->max_conns = max_conns;
	pthread_mutex_init(&f->mu, NULL);
	f->in_use = true;
	return 0;
}

/* The allowlist in force; forwarders allowed by address point into it. */
static struct allowlist *allowed_list;

/* (Re)reads the allowlist and allows or withdraws each outbound target. */
static int
apply_allowlist(bool at_start)
{
	struct allowlist *l = NULL;
	char err[300];
	int rc = 0;

	if (P.allowlist == NULL) {
		for (unsigned i = 0; i < P.n; i++)
			if (P.f[i].outbound && P.f[i].in_use) {
				fprintf(stderr, "glassbox-parent: --outbound "
				    "needs --allowlist\n");
				return -1;
			}
		return 0;
	}
	if (allowlist_load(P.allowlist, &l, err, sizeof err) != 0) {
		relay_log("allowlist_error", NULL, err);
		if (at_start)
			fprintf(stderr, "glassbox-parent: %s\n", err);
		return -1;              /* a reload keeps the old list */
	}
	if (l->nignored > 0) {
		snprintf(err, sizeof err, "%u key(s) ignored, as vsock-proxy "
		    "ignores them; the first: %s", l->nignored, l->ignored);
		relay_log("allowlist_ignored", NULL, err);
	}
	for (unsigned i = 0; i < P.n; i++) {
		struct forwarder *f = &P.f[i];
		enum allowlist_match m;
		bool ok;

		if (!f->outbound || !f->in_use) {
			f->by_address = NULL;
			continue;
		}
		m = allowlist_match(l, f->target.host, f->target.port);
		ok = m != ALLOWLIST_NO;
		if (ok != atomic_load(&f->allowed) || !ok)
			relay_log(ok ? "allowed" : "denied", f, !ok ?
			    "not on the allowlist" : m == ALLOWLIST_BY_NAME ?
			    "on the allowlist" : "on the allowlist if its address "
			    "is one of a listed name's");
		/* Resolved again at once against the new list. */
		f->by_address = m == ALLOWLIST_BY_ADDRESS ? l : NULL;
		f->resolve_at_ms = 0;
		atomic_store(&f->allowed, ok);
		if (!ok && at_start) {
			fprintf(stderr, "glassbox-parent: %s is not on the "
			    "allowlist %s\n", f->target_text, P.allowlist);
			rc = -1;
		}
	}
	allowlist_free(allowed_list);
	allowed_list = l;
	return rc;
}

/* At start, as vsock-proxy checks before it listens: a target on the
 * allowlist by address only must resolve to a listed name's address. */
static int
check_by_address(void)
{
	for (unsigned i = 0; i < P.n; i++) {
		struct forwarder *f = &P.f[i];

		if (f->outbound && f->in_use && f->by_address != NULL &&
		    f->addrlen == 0) {
			fprintf(stderr, "glassbox-parent: %s is not on the "
			    "allowlist %s: no name listed with its port resolves "
			    "to its address (see the log)\n", f->target_text,
			    P.allowlist);
			return -1;
		}
	}
	return 0;
}

static int
add_forward(const char *arg, unsigned max_conns)
{
	const char *eq = strchr(arg, '='), *why;
	struct forwarder *f = free_slot();

	if (f == NULL || eq == NULL ||
	    (size_t)(eq - arg) >= sizeof f->listen_text ||
	    strlen(eq + 1) >= sizeof f->target_text) {
		fprintf(stderr, "glassbox-parent: --forward LISTEN=TARGET, at "
		    "most 16: %s\n", arg);
		return -1;
	}
	memcpy(f->listen_text, arg, (size_t)(eq - arg));
	strcpy(f->target_text, eq + 1);
	if (gb_listen_parse(f->listen_text, &f->listen, &why) != 0 ||
	    f->listen.kind != GB_LISTEN_TCP) {
		fprintf(stderr, "glassbox-parent: %s: %s\n", f->listen_text,
		    why ? why : "forwarders listen on tcp:HOST:PORT");
		return -1;
	}
	if (gb_listen_parse(f->target_text, &f->target, &why) != 0) {
		fprintf(stderr, "glassbox-parent: %s: %s\n", f->target_text,
		    why);
		return -1;
	}
	f->max_conns = max_conns;
	f->in_use = true;
	return 0;
}

/*
 * The configuration: flags, and NAME = VALUE lines of --config FILE, NAME
 * a long option (forward and outbound may repeat). SIGHUP reads the file
 * again: forwarders are added and retired (open connections go on), the
 * allowlist, describe command, enclave name and allow-debug change; the
 * health address, timeouts and drain need a restart.
 */
#define SPECS_MAX (2 * RELAY_MAX_FORWARDERS)
struct config {
	char *forward[SPECS_MAX], *outbound[SPECS_MAX];
	unsigned nforward, noutbound;
	char *allowlist, *describe, *name, *health, *metrics_from;
	unsigned max_conns, connect_ms, idle_ms, drain_ms, resolve_s;
	int allow_debug;                /* -1: not said */
	int allow_special;              /* -1: not said */
	int family;                     /* AF_INET (ipv4), AF_INET6, 0 */
};

static void
config_free(struct config *c)
{
	for (unsigned i = 0; i < c->nforward; i++)
		free(c->forward[i]);
	for (unsigned i = 0; i < c->noutbound; i++)
		free(c->outbound[i]);
	free(c->allowlist);
	free(c->describe);
	free(c->name);
	free(c->health);
	free(c->metrics_from);
	memset(c, 0, sizeof *c);
}

/* Applies one NAME = VALUE; returns 0 or -1 (message in err). */
static int
config_set(struct config *c, const char *k, const char *v, char *err,
    size_t errlen)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);
	bool num = *v >= '0' && *v <= '9' && *end == '\0';

	if (strcmp(k, "forward") == 0 || strcmp(k, "outbound") == 0) {
		bool fw = k[0] == 'f';
		unsigned *cnt = fw ? &c->nforward : &c->noutbound;

		if (*cnt == SPECS_MAX) {
			snprintf(err, errlen, "too many %s lines", k);
			return -1;
		}
		(fw ? c->forward : c->outbound)[(*cnt)++] = strdup(v);
		return 0;
	}
#define STR(name, field) if (strcmp(k, name) == 0) { \
		free(c->field); c->field = strdup(v); return 0; }
	STR("allowlist", allowlist)
	STR("describe-cmd", describe)
	STR("enclave-name", name)
	STR("health", health)
	STR("enclave-metrics", metrics_from)
#undef STR
	if (strcmp(k, "allow-debug") == 0 && (strcmp(v, "true") == 0 ||
	    strcmp(v, "false") == 0)) {
		c->allow_debug = v[0] == 't';
		return 0;
	}
	if ((strcmp(k, "ipv4") == 0 || strcmp(k, "ipv6") == 0) &&
	    strcmp(v, "true") == 0) {
		int af = k[3] == '4' ? AF_INET : AF_INET6;

		if (c->family != 0 && c->family != af) {
			snprintf(err, errlen, "ipv4 and ipv6 exclude each other");
			return -1;
		}
		c->family = af;
		return 0;
	}
	if (strcmp(k, "outbound-allow-special") == 0 &&
	    (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)) {
		c->allow_special = v[0] == 't';
		return 0;
	}
#define NUM(name, field) if (strcmp(k, name) == 0 && num && n > 0 && \
	    n < 100000000) { c->field = (unsigned)n; return 0; }
	NUM("max-conns", max_conns)
	NUM("connect-timeout", connect_ms)
	NUM("idle-timeout", idle_ms)
	NUM("drain", drain_ms)
	NUM("resolve-interval", resolve_s)
#undef NUM
	snprintf(err, errlen, "unknown option or bad value: %.40s = %.40s", k,
	    v);
	return -1;
}

static int
config_load(const char *path, struct config *c, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	unsigned no = 0;

	memset(c, 0, sizeof *c);
	c->allow_debug = -1;
	c->allow_special = -1;
	if (f == NULL) {
		snprintf(err, errlen, "cannot read %s", path);
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *eq, *k;

		no++;
		line[strcspn(line, "#\n")] = '\0';
		if (*gb_str_trim(line) == '\0')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			snprintf(err, errlen, "%s:%u: not NAME = VALUE", path,
			    no);
			goto bad;
		}
		*eq = '\0';
		k = gb_str_trim(line);
		if (config_set(c, k, gb_str_trim(eq + 1), err, errlen) != 0) {
			size_t l = strlen(err);

			snprintf(err + l, errlen - l, " (%s:%u)", path, no);
			goto bad;
		}
	}
	fclose(f);
	return 0;
bad:
	fclose(f);
	config_free(c);
	return -1;
}

static bool
same_spec(const struct forwarder *f, bool outbound, const char *spec)
{
	const char *eq = strchr(spec, '=');

	return f->in_use && f->outbound == outbound && eq != NULL &&
	    strlen(f->listen_text) == (size_t)(eq - spec) &&
	    strncmp(f->listen_text, spec, (size_t)(eq - spec)) == 0 &&
	    strcmp(f->target_text, eq + 1) == 0;
}

/* Whether a forward (LISTEN=TARGET, LISTEN on tcp) or outbound
 * (LISTEN=HOST:PORT) spec is well formed, without using it. */
static bool
spec_ok(const char *spec, bool outbound, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '='), *why = NULL, *colon;
	struct gb_listen_addr a;
	char listen[160];
	unsigned port;

	if (eq == NULL || (size_t)(eq - spec) >= sizeof listen) {
		snprintf(err, errlen, "not LISTEN=TARGET: %.80s", spec);
		return false;
	}
	memcpy(listen, spec, (size_t)(eq - spec));
	listen[eq - spec] = '\0';
	if (gb_listen_parse(listen, &a, &why) != 0 ||
	    (!outbound && a.kind != GB_LISTEN_TCP)) {
		snprintf(err, errlen, "%s: %s", listen,
		    why ? why : "forwarders listen on tcp:HOST:PORT");
		return false;
	}
	if (outbound) {
		colon = strrchr(eq + 1, ':');
		if (colon == NULL || colon == eq + 1 ||
		    allowlist_port(colon + 1, &port) != 0) {
			snprintf(err, errlen, "%.80s: not HOST:PORT", eq + 1);
			return false;
		}
		return true;
	}
	if (gb_listen_parse(eq + 1, &a, &why) != 0) {
		snprintf(err, errlen, "%.80s: %s", eq + 1, why);
		return false;
	}
	return true;
}

/* Flags, kept to be merged with the config file at start and reload. */
static struct config flags;
static const char *config_path;
static const char *dns_server;          /* --dns-server, for tests */

/* Adds, retires and updates what the flags and the config file say. */
static int
reconfigure(struct relay *r, bool at_start)
{
	struct config file = { .allow_debug = -1, .allow_special = -1 };
	const char *fw[2 * SPECS_MAX], *ob[2 * SPECS_MAX];
	unsigned nfw = 0, nob = 0, max_conns;
	char err[400];
	int rc = 0;

	if (config_path != NULL &&
	    config_load(config_path, &file, err, sizeof err) != 0) {
		relay_log("config_error", NULL, err);
		if (at_start)
			fprintf(stderr, "glassbox-parent: %s\n", err);
		return -1;              /* a reload keeps what runs */
	}
	for (unsigned i = 0; i < flags.nforward; i++)
		fw[nfw++] = flags.forward[i];
	for (unsigned i = 0; i < file.nforward; i++)
		fw[nfw++] = file.forward[i];
	for (unsigned i = 0; i < flags.noutbound; i++)
		ob[nob++] = flags.outbound[i];
	for (unsigned i = 0; i < file.noutbound; i++)
		ob[nob++] = file.outbound[i];
	max_conns = flags.max_conns ? flags.max_conns : file.max_conns ?
	    file.max_conns : 256;
	/* All or nothing: one bad line, and what runs stays as it is. */
	for (unsigned k = 0; k < nfw + nob; k++) {
		bool outbound = k >= nfw;
		const char *spec = outbound ? ob[k - nfw] : fw[k];

		if (!spec_ok(spec, outbound, err, sizeof err)) {
			relay_log("config_error", NULL, err);
			if (at_start)
				fprintf(stderr, "glassbox-parent: %s\n", err);
			config_free(&file);
			return -1;
		}
	}

	{
		const char *em = flags.metrics_from ? flags.metrics_from :
		    file.metrics_from, *why = NULL;
		struct gb_listen_addr a;

		if (em != NULL && strcmp(em, "off") != 0 &&
		    gb_listen_parse(em, &a, &why) != 0) {
			snprintf(err, sizeof err, "enclave-metrics %.80s: %s",
			    em, why);
			relay_log("config_error", NULL, err);
			if (at_start)
				fprintf(stderr, "glassbox-parent: %s\n", err);
			config_free(&file);
			return -1;
		}
	}

	/* Retire what is no longer asked for. */
	for (unsigned i = 0; i < P.n; i++) {
		struct forwarder *f = &P.f[i];
		bool keep = false;

		for (unsigned k = 0; k < nfw && !keep; k++)
			keep = same_spec(f, false, fw[k]);
		for (unsigned k = 0; k < nob && !keep; k++)
			keep = same_spec(f, true, ob[k]);
		if (f->in_use && !keep) {
			f->in_use = false;
			if (r != NULL)
				relay_retire(r, f);
		}
	}
	/* Add what is new. */
	for (unsigned k = 0; k < nfw + nob && rc == 0; k++) {
		bool outbound = k >= nfw, have = false;
		const char *spec = outbound ? ob[k - nfw] : fw[k];
		struct forwarder *f;

		for (unsigned i = 0; i < P.n && !have; i++)
			have = same_spec(&P.f[i], outbound, spec);
		if (have)
			continue;
		if ((outbound ? add_outbound(spec, max_conns) :
		    add_forward(spec, max_conns)) != 0) {
			rc = -1;
			break;
		}
		f = NULL;
		for (unsigned i = 0; i < P.n; i++)
			if (same_spec(&P.f[i], outbound, spec))
				f = &P.f[i];
		if (r != NULL && f != NULL) {
			if (relay_listen(f, 1) != 0 || relay_add(r, f) != 0) {
				f->in_use = false;
				rc = -1;
			}
		}
	}
	/* Settings that a reload may change (the health handler reads them
	 * under P.mu). */
	pthread_mutex_lock(&P.mu);
	free(P.allowlist);
	free(P.describe);
	free(P.name);
	P.allowlist = strdup(flags.allowlist ? flags.allowlist :
	    file.allowlist ? file.allowlist : "");
	if (P.allowlist != NULL && P.allowlist[0] == '\0') {
		free(P.allowlist);
		P.allowlist = NULL;
	}
	P.describe = strdup(flags.describe ? flags.describe : file.describe ?
	    file.describe : "nitro-cli describe-enclaves");
	P.name = flags.name ? strdup(flags.name) : file.name ?
	    strdup(file.name) : NULL;
	P.allow_debug = flags.allow_debug == 1 || (flags.allow_debug == -1 &&
	    file.allow_debug == 1);
	free(P.metrics_from);
	P.metrics_from = flags.metrics_from ? strdup(flags.metrics_from) :
	    file.metrics_from ? strdup(file.metrics_from) : NULL;
	pthread_mutex_unlock(&P.mu);
	{
		bool special = flags.allow_special == 1 ||
		    (flags.allow_special == -1 && file.allow_special == 1);

		int family = flags.family ? flags.family : file.family ?
		    file.family : AF_UNSPEC;

		/* Resolve again at once, so the new rule applies now. */
		allowlist_allow_special(special);
		for (unsigned i = 0; i < P.n; i++)
			if (P.f[i].outbound) {
				P.f[i].family = family;
				P.f[i].resolve_at_ms = 0;
			}
	}
	if (at_start) {
		/* Start-only settings, kept in flags for main(). */
		if (!flags.health && file.health)
			flags.health = strdup(file.health);
		if (!flags.connect_ms)
			flags.connect_ms = file.connect_ms;
		if (!flags.idle_ms)
			flags.idle_ms = file.idle_ms;
		if (!flags.drain_ms)
			flags.drain_ms = file.drain_ms;
		if (!flags.resolve_s)
			flags.resolve_s = file.resolve_s;
	}
	config_free(&file);
	if (rc == 0)
		rc = apply_allowlist(at_start);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'C' },
		{ "forward", required_argument, NULL, 'f' },
		{ "outbound", required_argument, NULL, 'o' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "connect-timeout", required_argument, NULL, 'c' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "health", required_argument, NULL, 'H' },
		{ "describe-cmd", required_argument, NULL, 'd' },
		{ "enclave-name", required_argument, NULL, 'n' },
		{ "allow-debug", no_argument, NULL, 'a' },
		{ "enclave-metrics", required_argument, NULL, 'M' },
		{ "drain", required_argument, NULL, 'D' },
		{ "allowlist", required_argument, NULL, 'L' },
		{ "resolve-interval", required_argument, NULL, 'R' },
		{ "dns-server", required_argument, NULL, 'S' },
		{ "outbound-allow-special", no_argument, NULL, 's' },
		{ "ipv4", no_argument, NULL, '4' },
		{ "ipv6", no_argument, NULL, '6' },
		{ "help", no_argument, NULL, 'h' },
		/* credentials.c's (flags only, not in --config). */
		{ "credentials", required_argument, NULL, 'K' },
		{ "imds", required_argument, NULL, 'K' },
		{ "sealed-file", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	/* The health port serves small GETs: two threads are plenty, and the
	 * describe command (up to 5 s) holds only its own. */
	struct gb_httpd_opts ho = { .workers = 2, .max_body = 1024,
	    .handler = handle };
	struct relay_opts ro;
	struct relay *r;
	int hfd, port = -1;
	char err[200];
	sigset_t set;
	int c, sig, idx;

	flags.allow_debug = -1;
	flags.allow_special = -1;
	for (unsigned i = 0; i < RELAY_MAX_FORWARDERS; i++)
		P.f[i].fd = -1;
	/* vsock-proxy's command line, translated to ours (vsockproxy.c). */
	if (vsockproxy_mode(argc, argv) &&
	    (c = vsockproxy_args(argc, argv, &argc, &argv)) != 0)
		return c < 0 ? 2 : 0;
	while ((c = getopt_long(argc, argv, "h46", longopts, &idx)) != -1) {
		if (c == 'h') {
			fputs(usage_text, stdout);
			return 0;
		}
		if (c == '?') {
			fputs(usage_text, stderr);
			return 2;
		}
		if (c == 'C') {
			config_path = optarg;
			continue;
		}
		if (c == 'S') {
			dns_server = optarg;
			continue;
		}
		if (c == 'a') {
			flags.allow_debug = 1;
			continue;
		}
		if (c == 's') {
			flags.allow_special = 1;
			continue;
		}
		if (c == 'K') {
			if (credentials_option(longopts[idx].name, optarg) != 0)
				return 2;
			continue;
		}
		if (c == '4' || c == '6') {
			if (config_set(&flags, c == '4' ? "ipv4" : "ipv6", "true",
			    err, sizeof err) != 0) {
				fprintf(stderr, "glassbox-parent: %s\n", err);
				return 2;
			}
			continue;
		}
		if (config_set(&flags, longopts[idx].name, optarg, err,
		    sizeof err) != 0) {
			fprintf(stderr, "glassbox-parent: --%s\n%s", err,
			    usage_text);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (reconfigure(NULL, true) != 0)
		return 2;
	if ((P.n == 0 && !credentials_enabled()) ||
	    (flags.health && strrchr(flags.health, ':') == NULL &&
	    strcmp(flags.health, "off") != 0)) {
		fprintf(stderr, "glassbox-parent: at least one --forward, "
		    "--outbound or --credentials; --health ADDR:PORT or off\n%s",
		    usage_text);
		return 2;
	}
	ro.connect_timeout_ms = flags.connect_ms ? flags.connect_ms : 5000;
	ro.idle_timeout_ms = flags.idle_ms ? flags.idle_ms : 300000;
	if (!flags.resolve_s)
		flags.resolve_s = 60;
	if (!flags.drain_ms)
		flags.drain_ms = 10000;
	if (!flags.health)
		flags.health = strdup("127.0.0.1:8080");
	(void)relay_resolve(P.f, P.n, flags.resolve_s, dns_server);
	if (check_by_address() != 0)
		return 2;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (relay_listen(P.f, P.n) != 0 ||
	    relay_start(P.f, P.n, &ro, &r) != 0)
		return 2;
	(void)gb_httpd_raise_nofile();
	if (strcmp(flags.health, "off") != 0 &&
	    ((hfd = open_health(flags.health, &port)) < 0 ||
	    gb_httpd_start(hfd, &ho, &health_httpd) != 0)) {
		fprintf(stderr, "glassbox-parent: cannot serve health on %s\n",
		    flags.health);
		relay_stop(r, 0);
		return 2;
	}
	for (unsigned i = 0; i < P.n; i++) {
		if (!P.f[i].in_use)
			continue;
		if (P.f[i].listen.kind == GB_LISTEN_TCP)
			printf("%s tcp:%s:%d -> %s\n", P.f[i].outbound ?
			    "outbound" : "forwarding", P.f[i].listen.host,
			    gb_listen_port(P.f[i].fd), P.f[i].target_text);
		else
			printf("%s %s -> %s\n", P.f[i].outbound ? "outbound" :
			    "forwarding", P.f[i].listen_text,
			    P.f[i].target_text);
	}
	if (credentials_start() != 0) {
		if (health_httpd != NULL)
			gb_httpd_stop(health_httpd);
		relay_stop(r, 0);
		return 2;
	}
	if (health_httpd != NULL)
		printf("health on http://%.*s:%d/health\n",
		    (int)(strrchr(flags.health, ':') - flags.health),
		    flags.health, port);
	fflush(stdout);
	relay_log("started", NULL, NULL);

	for (int64_t wait = relay_resolve(P.f, P.n, flags.resolve_s,
	    dns_server);;) {
		struct timespec ts = { (time_t)(wait / 1000),
		    (long)(wait % 1000) * 1000000 };

		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGHUP) {
			relay_log("reload", NULL, config_path);
			(void)reconfigure(r, false);
		} else if (sig == SIGTERM || sig == SIGINT) {
			break;
		}
		wait = relay_resolve(P.f, P.n, flags.resolve_s, dns_server);
	}
	relay_log("stopping", NULL, "draining open connections");
	gb_httpd_stop(health_httpd);
	credentials_stop();
	relay_stop(r, flags.drain_ms);
	config_free(&flags);
	allowlist_free(allowed_list);
	free(P.allowlist);
	free(P.describe);
	free(P.name);
	free(P.metrics_from);
	return 0;
}
