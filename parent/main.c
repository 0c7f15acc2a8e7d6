/*
 * glassbox-parent: the bridge on the parent instance. It replaces the
 * seeds' socat lines (TCP to the enclave's vsock port) and their health
 * server: forwarders with limits and timeouts (relay.c), and GET /health
 * and /metrics (civetweb) with the enclave's state as
 * `nitro-cli describe-enclaves` reports it.
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

#include <civetweb.h>
#include <jansson.h>

#include "allowlist.h"
#include "relay.h"

static const char usage_text[] =
"usage: glassbox-parent --forward LISTEN=TARGET [--forward ...] [options]\n"
"\n"
"  --forward LISTEN=TARGET  carry connections accepted on LISTEN\n"
"                       (tcp:HOST:PORT) to TARGET (vsock:CID:PORT in\n"
"                       production; unix:/path or tcp:HOST:PORT in tests);\n"
"                       up to 16 forwarders\n"
"  --max-conns N        open connections per forwarder (default 256); over\n"
"                       it a connection is closed at once and counted\n"
"  --connect-timeout MS to the target (default 5000)\n"
"  --idle-timeout MS    a connection with no traffic either way is closed\n"
"                       (default 300000)\n"
"  --health ADDR:PORT   GET /health and /metrics (default 127.0.0.1:8080)\n"
"  --describe-cmd CMD   what prints the enclaves' JSON (default\n"
"                       \"nitro-cli describe-enclaves\"), run through sh\n"
"  --enclave-name NAME  which enclave of that list (default: the first)\n"
"  --allow-debug        a DEBUG_MODE enclave is healthy too\n"
"  --drain MS           on SIGTERM, time given to open connections\n"
"                       (default 10000)\n"
"  --outbound LISTEN=HOST:PORT  the enclave's way out (vsock-proxy's job):\n"
"                       connections on LISTEN (vsock:PORT in production)\n"
"                       go to HOST:PORT, which must be on the allowlist\n"
"  --allowlist FILE     vsock-proxy's YAML: allowlist: [{address, port}];\n"
"                       SIGHUP reads it again (open connections stay)\n"
"  --resolve-interval S outbound names are resolved again this often\n"
"                       (default 60; getaddrinfo does not give TTLs)\n"
"\n"
"Logs JSON lines on standard error.\n";

static struct {
	struct forwarder f[RELAY_MAX_FORWARDERS];
	unsigned n;
	const char *describe, *name, *allowlist;
	bool allow_debug;
} P;

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

static void
reply(struct mg_connection *c, int status, const char *type, const char *s)
{
	mg_printf(c, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n\r\n%s", status,
	    status == 200 ? "OK" : status == 503 ? "Service Unavailable" :
	    "Error", type, strlen(s), s);
}

static json_t *
forwarders_json(bool probe, bool *all_reachable)
{
	json_t *a = json_array();

	*all_reachable = true;
	for (unsigned i = 0; i < P.n; i++) {
		struct forwarder *f = &P.f[i];
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

/* GET /health: the enclave's entry and the forwarders; 503 unless it runs,
 * is not in debug mode (unless allowed), and every target answers. */
static int
health(struct mg_connection *c, void *unused)
{
	static const char *const keep[] = { "EnclaveName", "EnclaveID",
	    "EnclaveCID", "State", "Flags", "MemoryMiB", "NumberOfCPUs" };
	char out[65536], *body;
	const char *why = NULL, *state, *flags;
	json_t *list, *entry = NULL, *enclave = json_null(), *j;
	bool reachable;
	size_t i;
	int rc;

	(void)unused;
	if (strcmp(mg_get_request_info(c)->request_method, "GET") != 0) {
		reply(c, 405, "application/json", "{\"reason\":"
		    "\"method_not_allowed\"}");
		return 405;
	}
	rc = run_command(P.describe, out, sizeof out, 5000);
	list = rc == 0 ? json_loads(out, 0, NULL) : NULL;
	if (rc != 0)
		why = "the describe command failed";
	else if (!json_is_array(list))
		why = "the describe command did not print a JSON array";
	else {
		json_array_foreach(list, i, j) {
			const char *name = json_string_value(json_object_get(j,
			    "EnclaveName"));

			if (json_is_object(j) && (P.name == NULL ||
			    (name != NULL && strcmp(name, P.name) == 0))) {
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
		if (state == NULL || strcmp(state, "RUNNING") != 0)
			why = "the enclave is not RUNNING";
		else if (!P.allow_debug && flags != NULL &&
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
	body = json_dumps(j, JSON_COMPACT);
	reply(c, why ? 503 : 200, "application/json", body ? body : "{}");
	free(body);
	json_decref(j);
	json_decref(list);
	return why ? 503 : 200;
}

static int
metrics(struct mg_connection *c, void *unused)
{
	static const char *const names[] = { "active", "accepted", "refused",
	    "failed", "bytes_in", "bytes_out" };
	char *s = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&s, &len);

	(void)unused;
	if (m == NULL)
		return 500;
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		fprintf(m, "# TYPE glassbox_parent_%s %s\n", names[k],
		    k == 0 ? "gauge" : "counter");
		for (unsigned i = 0; i < P.n; i++) {
			struct forwarder *f = &P.f[i];
			uint64_t v[] = { atomic_load(&f->active),
			    atomic_load(&f->accepted), atomic_load(&f->refused),
			    atomic_load(&f->failed), atomic_load(&f->bytes_in),
			    atomic_load(&f->bytes_out) };

			fprintf(m, "glassbox_parent_%s{listen=\"%s\"} %llu\n",
			    names[k], f->listen_text,
			    (unsigned long long)v[k]);
		}
	}
	fclose(m);
	reply(c, 200, "text/plain; version=0.0.4", s);
	free(s);
	return 200;
}

/* LISTEN=HOST:PORT for the enclave's outbound connections. */
static int
add_outbound(const char *arg, unsigned max_conns)
{
	const char *eq = strchr(arg, '='), *colon, *why;
	struct forwarder *f = &P.f[P.n];
	char *end;

	if (P.n == RELAY_MAX_FORWARDERS || eq == NULL ||
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
	f->target.port = (unsigned)strtoul(colon + 1, &end, 10);
	if (*end != '\0' || f->target.port == 0 || f->target.port > 65535) {
		fprintf(stderr, "glassbox-parent: %s: bad port\n", arg);
		return -1;
	}
	f->outbound = true;
	f->max_conns = max_conns;
	pthread_mutex_init(&f->mu, NULL);
	P.n++;
	return 0;
}

/* (Re)reads the allowlist and allows or withdraws each outbound target. */
static int
apply_allowlist(bool at_start)
{
	struct allowlist l;
	char err[300];
	int rc = 0;

	if (P.allowlist == NULL) {
		for (unsigned i = 0; i < P.n; i++)
			if (P.f[i].outbound) {
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
	for (unsigned i = 0; i < P.n; i++) {
		struct forwarder *f = &P.f[i];
		bool ok;

		if (!f->outbound)
			continue;
		ok = allowlist_has(&l, f->target.host, f->target.port);
		if (ok != atomic_load(&f->allowed) || !ok)
			relay_log(ok ? "allowed" : "denied", f,
			    ok ? "on the allowlist" : "not on the allowlist");
		atomic_store(&f->allowed, ok);
		if (!ok && at_start) {
			fprintf(stderr, "glassbox-parent: %s is not on the "
			    "allowlist %s\n", f->target_text, P.allowlist);
			rc = -1;
		}
	}
	return rc;
}

static int
add_forward(const char *arg, unsigned max_conns)
{
	const char *eq = strchr(arg, '='), *why;
	struct forwarder *f = &P.f[P.n];

	if (P.n == RELAY_MAX_FORWARDERS || eq == NULL ||
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
	P.n++;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "forward", required_argument, NULL, 'f' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "connect-timeout", required_argument, NULL, 'c' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "health", required_argument, NULL, 'H' },
		{ "describe-cmd", required_argument, NULL, 'd' },
		{ "enclave-name", required_argument, NULL, 'n' },
		{ "allow-debug", no_argument, NULL, 'a' },
		{ "drain", required_argument, NULL, 'D' },
		{ "outbound", required_argument, NULL, 'o' },
		{ "allowlist", required_argument, NULL, 'L' },
		{ "resolve-interval", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct relay_opts ro = { 5000, 300000 };
	const char *fwd[RELAY_MAX_FORWARDERS + 1], *health_addr =
	    "127.0.0.1:8080", *outb[RELAY_MAX_FORWARDERS + 1];
	unsigned nfwd = 0, nout = 0, max_conns = 256, drain = 10000;
	unsigned resolve_s = 60;
	const char *opts[] = { "listening_ports", NULL, "num_threads", "2",
	    "request_timeout_ms", "10000", NULL };
	struct mg_callbacks cb;
	struct mg_context *ctx;
	struct mg_server_port port;
	struct relay *r;
	sigset_t set;
	int c, sig;

	P.describe = "nitro-cli describe-enclaves";
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (nfwd == RELAY_MAX_FORWARDERS + 1) {
				fprintf(stderr, "glassbox-parent: at most 16 "
				    "forwarders\n");
				return 2;
			}
			fwd[nfwd++] = optarg;
			break;
		case 'm': max_conns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': ro.connect_timeout_ms = (unsigned)strtoul(optarg,
		    NULL, 10); break;
		case 'i': ro.idle_timeout_ms = (unsigned)strtoul(optarg, NULL,
		    10); break;
		case 'H': health_addr = optarg; break;
		case 'd': P.describe = optarg; break;
		case 'n': P.name = optarg; break;
		case 'a': P.allow_debug = true; break;
		case 'D': drain = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'o':
			if (nout == RELAY_MAX_FORWARDERS + 1) {
				fprintf(stderr, "glassbox-parent: at most 16 "
				    "forwarders\n");
				return 2;
			}
			outb[nout++] = optarg;
			break;
		case 'L': P.allowlist = optarg; break;
		case 'R': resolve_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind != argc || nfwd + nout == 0 || max_conns == 0 ||
	    resolve_s == 0 || strrchr(health_addr, ':') == NULL ||
	    ro.connect_timeout_ms == 0 || ro.idle_timeout_ms == 0) {
		fprintf(stderr, "glassbox-parent: at least one --forward; "
		    "limits and timeouts above 0\n%s", usage_text);
		return 2;
	}
	for (unsigned i = 0; i < nfwd; i++)
		if (add_forward(fwd[i], max_conns) != 0)
			return 2;
	for (unsigned i = 0; i < nout; i++)
		if (add_outbound(outb[i], max_conns) != 0)
			return 2;
	if (apply_allowlist(true) != 0)
		return 2;
	(void)relay_resolve(P.f, P.n);  /* failures are logged, retried */

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (relay_listen(P.f, P.n) != 0 || relay_start(P.f, P.n, &ro, &r) != 0)
		return 2;
	opts[1] = health_addr;
	memset(&cb, 0, sizeof cb);
	mg_init_library(0);
	if ((ctx = mg_start(&cb, NULL, opts)) == NULL ||
	    mg_get_server_ports(ctx, 1, &port) < 1) {
		fprintf(stderr, "glassbox-parent: cannot serve health on %s\n",
		    health_addr);
		relay_stop(r, 0);
		return 2;
	}
	mg_set_request_handler(ctx, "/health", health, NULL);
	mg_set_request_handler(ctx, "/metrics", metrics, NULL);
	for (unsigned i = 0; i < P.n; i++) {
		if (P.f[i].listen.kind == GB_LISTEN_TCP)
			printf("%s tcp:%s:%d -> %s\n", P.f[i].outbound ?
			    "outbound" : "forwarding", P.f[i].listen.host,
			    gb_listen_port(P.f[i].fd), P.f[i].target_text);
		else
			printf("%s %s -> %s\n", P.f[i].outbound ? "outbound" :
			    "forwarding", P.f[i].listen_text,
			    P.f[i].target_text);
	}
	printf("health on http://%.*s:%d/health\n",
	    (int)(strrchr(health_addr, ':') - health_addr), health_addr,
	    port.port);
	fflush(stdout);
	relay_log("started", NULL, NULL);

	for (;;) {
		struct timespec ts = { (time_t)resolve_s, 0 };

		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGHUP) {
			relay_log("reload", NULL, P.allowlist);
			(void)apply_allowlist(false);
		} else if (sig < 0 && errno == EAGAIN) {
			(void)relay_resolve(P.f, P.n);
		} else if (sig == SIGTERM || sig == SIGINT) {
			break;
		}
	}
	relay_log("stopping", NULL, "draining open connections");
	mg_stop(ctx);
	relay_stop(r, drain);
	mg_exit_library();
	return 0;
}
