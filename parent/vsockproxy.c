/*
 * vsock-proxy's command line (aws-nitro-enclaves-cli vsock_proxy/src/
 * main.rs), translated into glassbox-parent's own options, so that
 *
 *   vsock-proxy 8000 kms.us-east-1.amazonaws.com 443 --config FILE
 *
 * runs as glassbox-parent, either as `glassbox-parent vsock-proxy ...` or
 * through a link named vsock-proxy. It becomes
 *
 *   glassbox-parent --outbound vsock:8000=kms.us-east-1.amazonaws.com:443
 *       --allowlist FILE --max-conns 4 --health off
 *
 * with -4/-6 as --ipv4/--ipv6. The allowlist's rules are vsock-proxy's
 * (allowlist.c); where glassbox-parent is stricter (special addresses,
 * ports, a connection over -w refused at once) docs/parent.md says so.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "gb/httpd.h"
#include "allowlist.h"
#include "vsockproxy.h"

static const char usage_text[] =
"usage: glassbox-parent vsock-proxy [options] LOCAL_PORT REMOTE_ADDR "
"REMOTE_PORT\n"
"       vsock-proxy [options] LOCAL_PORT REMOTE_ADDR REMOTE_PORT  (a link)\n"
"\n"
"vsock-proxy's command line: connections the enclave opens on vsock port\n"
"LOCAL_PORT go to REMOTE_ADDR:REMOTE_PORT (TCP), which must be on the\n"
"allowlist: an entry with REMOTE_PORT and REMOTE_ADDR, or with REMOTE_PORT\n"
"and a name that resolves to REMOTE_ADDR's address.\n"
"\n"
"  -4, --ipv4           use IPv4 addresses only\n"
"  -6, --ipv6           use IPv6 addresses only (not with -4)\n"
"  -w, --num_workers N  connections served at once (default 4); over it a\n"
"                       connection is closed at once (vsock-proxy queues it)\n"
"  --config FILE        the allowlist, vsock-proxy's YAML (default\n"
"                       /etc/nitro_enclaves/vsock-proxy.yaml); SIGHUP reads\n"
"                       it again\n"
"  -h, --help           this text\n"
"\n"
"glassbox-parent's own (docs/parent.md):\n"
"  --outbound-allow-special  let REMOTE_ADDR resolve to loopback,\n"
"                       link-local (instance metadata, 169.254.169.254),\n"
"                       multicast and other special addresses (refused\n"
"                       otherwise)\n"
"  --listen ADDR        accept on ADDR (tcp:HOST:PORT, unix:/path) instead\n"
"                       of vsock:LOCAL_PORT (development and tests)\n"
"  --health ADDR:PORT   serve GET /health and /metrics (default: none)\n"
"  --dns-server A:P     ask this DNS server (IPv4) instead of resolv.conf's\n"
"  --resolve-interval S, --connect-timeout MS, --idle-timeout MS, --drain MS\n"
"                       as glassbox-parent --help says\n"
"\n"
"Logs JSON lines on standard error.\n";

/* The translated command line: pointers into the caller's argv, and the
 * outbound spec built here. Kept until exit. */
enum { VARGS_MAX = 32 };
static char *vargv[VARGS_MAX];
static char spec[400];

bool
vsockproxy_mode(int argc, char **argv)
{
	const char *base;

	if (argc < 1 || argv[0] == NULL)
		return false;
	base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	return strcmp(base, "vsock-proxy") == 0 ||
	    (argc > 1 && strcmp(argv[1], "vsock-proxy") == 0);
}

/* A decimal count of connections, 1..99999999 (glassbox-parent's bound
 * on every numeric option). */
static bool
workers_ok(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n > 0 && n <= 8 && s[n] == '\0' && strspn(s, "0") < n;
}

int
vsockproxy_args(int argc, char **argv, int *outc, char ***outv)
{
	static const struct option longopts[] = {
		{ "ipv4", no_argument, NULL, '4' },
		{ "ipv6", no_argument, NULL, '6' },
		{ "num_workers", required_argument, NULL, 'w' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		/* glassbox-parent's own, passed on as they are. */
		{ "outbound-allow-special", no_argument, NULL, 'S' },
		{ "listen", required_argument, NULL, 'l' },
		{ "health", required_argument, NULL, 'P' },
		{ "dns-server", required_argument, NULL, 'P' },
		{ "resolve-interval", required_argument, NULL, 'P' },
		{ "connect-timeout", required_argument, NULL, 'P' },
		{ "idle-timeout", required_argument, NULL, 'P' },
		{ "drain", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	static char default_config[] = "/etc/nitro_enclaves/vsock-proxy.yaml";
	static char default_workers[] = "4", ipv4[] = "--ipv4",
	    ipv6[] = "--ipv6";
	char *config = default_config, *workers = default_workers;
	/* Passed on: up to 8 options, each given by its longopts index. */
	char *family = NULL, *pass[8];
	int pass_opt[8];
	const char *listen = NULL;
	bool special = false, health = false;
	unsigned npass = 0, n = 0, port;
	struct gb_listen_addr la;
	char local[64];
	const char *why;
	int c, idx, first = 1;

	/* "glassbox-parent vsock-proxy ...": parse from the word on. */
	if (argc > 1 && strcmp(argv[1], "vsock-proxy") == 0)
		first = 2;
	optind = first;
	while ((c = getopt_long(argc, argv, "46w:h", longopts, &idx)) != -1) {
		switch (c) {
		case '4':
		case '6':
			if (family != NULL && family[5] != c) {
				fprintf(stderr, "vsock-proxy: -4 (--ipv4) and -6 "
				    "(--ipv6) exclude each other\n");
				return -1;
			}
			family = c == '4' ? ipv4 : ipv6;
			break;
		case 'w':
			if (!workers_ok(optarg)) {
				fprintf(stderr, "vsock-proxy: -w %s: the number of "
				    "workers is 1..99999999\n", optarg);
				return -1;
			}
			workers = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		case 'S':
			special = true;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'P':
			if (npass == sizeof pass / sizeof pass[0]) {
				fprintf(stderr, "vsock-proxy: too many options\n");
				return -1;
			}
			pass_opt[npass] = idx;
			pass[npass++] = optarg;
			health |= strcmp(longopts[idx].name, "health") == 0;
			break;
		default:
			fputs(usage_text, stderr);
			return -1;
		}
	}
	if (argc - optind != 3) {
		fprintf(stderr, "vsock-proxy: LOCAL_PORT REMOTE_ADDR REMOTE_PORT "
		    "expected\n%s", usage_text);
		return -1;
	}
	snprintf(local, sizeof local, "vsock:%.20s", argv[optind]);
	if (strchr(argv[optind], ':') != NULL ||
	    gb_listen_parse(local, &la, &why) != 0) {
		fprintf(stderr, "vsock-proxy: %s: the local port is not valid "
		    "(a vsock port, 0..4294967294)\n", argv[optind]);
		return -1;
	}
	if (allowlist_port(argv[optind + 2], &port) != 0) {
		fprintf(stderr, "vsock-proxy: %s: the remote port is not valid "
		    "(1..65535 in decimal)\n", argv[optind + 2]);
		return -1;
	}
	if (argv[optind + 1][0] == '\0' || strlen(argv[optind + 1]) >
	    ALLOWLIST_NAME_MAX || strpbrk(argv[optind + 1], "=/[] ") != NULL) {
		fprintf(stderr, "vsock-proxy: %s: the remote address is not a "
		    "host name or address\n", argv[optind + 1]);
		return -1;
	}
	if ((size_t)snprintf(spec, sizeof spec, "%s=%s:%u", listen ? listen :
	    local, argv[optind + 1], port) >= sizeof spec) {
		fprintf(stderr, "vsock-proxy: --listen too long\n");
		return -1;
	}

	vargv[n++] = argv[0];
	vargv[n++] = (char *)"--outbound";
	vargv[n++] = spec;
	vargv[n++] = (char *)"--allowlist";
	vargv[n++] = (char *)config;
	vargv[n++] = (char *)"--max-conns";
	vargv[n++] = (char *)workers;
	if (family != NULL)
		vargv[n++] = (char *)family;
	if (special)
		vargv[n++] = (char *)"--outbound-allow-special";
	if (!health) {
		/* vsock-proxy serves no health port, and the verifier may
		 * hold glassbox-parent's default one. */
		vargv[n++] = (char *)"--health";
		vargv[n++] = (char *)"off";
	}
	for (unsigned i = 0; i < npass; i++) {
		static char opts[8][24];

		snprintf(opts[i], sizeof opts[i], "--%s",
		    longopts[pass_opt[i]].name);
		vargv[n++] = opts[i];
		vargv[n++] = pass[i];
	}
	vargv[n] = NULL;
	optind = 0;                     /* glassbox-parent's parse starts over */
	*outc = (int)n;
	*outv = vargv;
	return 0;
}
