/*
 * glassbox-enclave: the signer inside the enclave. At start it makes an
 * Ed25519 key that never leaves memory (wiped on exit), and serves:
 *   GET  /health                  {status, public_key, nsm, module_id}
 *   GET  /attestation?nonce=HEX   {document, public_key}
 *   POST /sign {payload, nonce?}  {signature, public_key, document?}
 *   GET  /metrics                 the HTTP server's counters (Prometheus)
 * The NSM is /dev/nsm (--nsm dev) or the simulator (--nsm sim), behind the
 * same protocol code (gb/nsm.h); calls to it are serialised.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jansson.h>
#include <nettle/sha2.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "gb/docjson.h"
#include "gb/codec.h"
#include "gb/ed25519.h"
#include "gb/eif.h"
#include "gb/err.h"
#include "gb/httpd.h"
#include "gb/nsm.h"
#include "gb/nsm_sim.h"
#include "gb/result.h"
#include "gb/kms.h"
#include "enclave.h"
#include "sealed.h"

static const char usage_text[] =
"usage: glassbox-enclave [--nsm dev|sim] [--listen ADDR] [options]\n"
"\n"
"  --nsm dev|sim        the NSM: /dev/nsm (default), or the simulator\n"
"  --listen ADDR        vsock:PORT (default vsock:5000), vsock:CID:PORT,\n"
"                       unix:/path, or tcp:HOST:PORT (port 0 picks one)\n"
"  --state DIR          simulator: where its chain is kept (default\n"
"                       ./glassbox-nsm-sim); its root is DIR/level0.der\n"
"  --pcrs FILE          simulator: PCR0..2 from pcr-values.json or\n"
"                       nitro-cli's describe-eif/build-enclave JSON\n"
"  --eif FILE           simulator: PCR0..2 (and PCR8) measured from an\n"
"                       enclave image\n"
"  --iam-role ARN       simulator: PCR3 from the parent's IAM role ARN\n"
"  --instance-id ID     simulator: PCR4 from the parent's instance ID (and\n"
"                       the module id ID-enc...)\n"
"  --signing-cert PEM   simulator: PCR8 from an image's signing certificate\n"
"                       (--eif of a signed image sets it by itself)\n"
"  --debug-mode         simulator: PCR0..2 and PCR8 read as zeros\n"
"  --threads N          server threads, each serving many connections\n"
"                       (default: four per CPU)\n"
"  --max-body BYTES     largest request body (default 65536)\n"
"  --head-timeout MS    total time for a request's head (default 10000)\n"
"  --body-timeout MS    total time for a request's body (default 30000)\n"
"  --timeout MS         the same as --head-timeout (older name)\n"
"  --max-conns N        open connections (default 4096)\n"
"  --max-per-addr N     open connections per client address (default 0:\n"
"                       no cap; behind the parent every client is one)\n"
SEALED_USAGE
"\n"
"Prints the listening address (and the simulator's root) on standard\n"
"output. SIGTERM or SIGINT stops it and wipes the key. Exit status 2:\n"
"usage or start-up error; 3: the sealed key is not available (the\n"
"reason code on standard error).\n";

/* A decimal option value up to 2^31; *bad set if it is not one. */
static unsigned long
number(const char *s, bool *bad)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 ||
	    v > 0x7fffffffUL) {
		*bad = true;
		return 0;
	}
	return v;
}

/* PCR0..2 from pcr-values.json ("pcrs") or nitro-cli JSON
 * ("Measurements"). */
static int
read_pcrs(const char *path, uint8_t pcrs[3][48])
{
	json_t *j = json_load_file(path, 0, NULL), *m;
	int rc = 0;

	if (j == NULL)
		return -1;
	m = json_object_get(j, "Measurements");
	for (int i = 0; i < 3 && rc == 0; i++) {
		char k[8];
		const char *hex;

		snprintf(k, sizeof k, m ? "PCR%d" : "%d", i);
		hex = json_string_value(json_object_get(m ? m :
		    json_object_get(j, "pcrs"), k));
		if (hex == NULL || gb_hex_decode(hex, strlen(hex), pcrs[i], 48))
			rc = -1;
	}
	json_decref(j);
	return rc;
}

/* The simulator's PCR8 certificate: one PEM certificate, as nitro-cli
 * takes it, as DER in *der (from OPENSSL_malloc()). */
static int
enclave_sim_cert(const char *path, unsigned char **der_out, size_t *len_out)
{
	FILE *f = fopen(path, "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int len = x != NULL ? i2d_X509(x, &der) : -1;

	if (f != NULL)
		fclose(f);
	X509_free(x);
	if (len <= 0) {
		fprintf(stderr, "glassbox-enclave: --signing-cert %s: not a "
		    "PEM certificate\n", path);
		ERR_clear_error();
		return -1;
	}
	*der_out = der;
	*len_out = (size_t)len;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "nsm", required_argument, NULL, 'n' },
		{ "listen", required_argument, NULL, 'l' },
		{ "state", required_argument, NULL, 's' },
		{ "pcrs", required_argument, NULL, 'p' },
		{ "eif", required_argument, NULL, 'e' },
		{ "debug-mode", no_argument, NULL, 'd' },
		{ "iam-role", required_argument, NULL, 'R' },
		{ "instance-id", required_argument, NULL, 'I' },
		{ "signing-cert", required_argument, NULL, 'S' },
		{ "threads", required_argument, NULL, 't' },
		{ "max-body", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 'o' },
		{ "head-timeout", required_argument, NULL, 'o' },
		{ "body-timeout", required_argument, NULL, 'B' },
		{ "max-conns", required_argument, NULL, 'c' },
		{ "max-per-addr", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		SEALED_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	static struct sealed_opts kms;
	static struct enclave e = { .nsm_mu = PTHREAD_MUTEX_INITIALIZER };
	const char *nsm = "dev", *listen = "vsock:5000", *state =
	    "glassbox-nsm-sim", *pcrs_file = NULL, *eif_file = NULL, *why;
	struct gb_httpd_opts ho = { .max_body = 65536, .handler = enclave_handle,
	    .arg = &e, .head_ms = GB_HTTPD_HEAD_MS, .body_ms = GB_HTTPD_BODY_MS,
	    .max_conns = GB_HTTPD_CONNS_MAX };
	bool bad = false;
	struct gb_nsm_sim_opts so = { .boot_pcrs = NULL };
	const char *cert_file = NULL;
	unsigned char *cert_der = NULL;
	static uint8_t pcrs[3][48], pcr8[48], buf[GB_NSM_RESPONSE_MAX],
	    req[GB_NSM_REQUEST_MAX];
	struct gb_nsm_response resp;
	struct gb_listen_addr addr;
	struct gb_httpd *httpd;
	sigset_t set;
	bool renewed;
	int c, fd, sig;
	size_t len;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': nsm = optarg; break;
		case 'l': listen = optarg; break;
		case 's': state = optarg; break;
		case 'p': pcrs_file = optarg; break;
		case 'd': so.debug_mode = true; break;
		case 'R': so.iam_role_arn = optarg; break;
		case 'I': so.instance_id = optarg; break;
		case 'S': cert_file = optarg; break;
		case 't':
			ho.workers = (unsigned)number(optarg, &bad);
			bad |= ho.workers < 1;
			break;
		case 'b': ho.max_body = number(optarg, &bad); break;
		case 'o': ho.head_ms = (unsigned)number(optarg, &bad); break;
		case 'B': ho.body_ms = (unsigned)number(optarg, &bad); break;
		case 'c': ho.max_conns = (unsigned)number(optarg, &bad); break;
		case 'a': ho.max_per_addr = (unsigned)number(optarg, &bad);
			break;
		case 'e': eif_file = optarg; break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			if (c >= 0x100 && sealed_option(&kms, c, optarg) == 0)
				break;
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind != argc || bad || ho.workers > GB_HTTPD_WORKERS_MAX ||
	    ho.max_body < 1024 || ho.max_body > (64u << 20) ||
	    ho.head_ms < 100 || ho.body_ms < 100 || ho.max_conns < 1) {
		fprintf(stderr, "glassbox-enclave: bad arguments (threads "
		    "1..%d, max-body 1024..67108864, timeouts >= 100, "
		    "max-conns >= 1)\n%s", GB_HTTPD_WORKERS_MAX, usage_text);
		return 2;
	}
	if (sealed_check(&kms) != 0)
		return 2;
	if (gb_listen_parse(listen, &addr, &why) != 0) {
		fprintf(stderr, "glassbox-enclave: --listen %s: %s\n", listen,
		    why);
		return 2;
	}

	/* The NSM. */
	if (strcmp(nsm, "sim") == 0) {
		if (eif_file != NULL && pcrs_file != NULL) {
			fprintf(stderr, "glassbox-enclave: --eif or --pcrs, not "
			    "both\n");
			return 2;
		}
		if (eif_file != NULL) {
			struct gb_eif img;

			if (gb_eif_measure_file(eif_file, &img) != 0 ||
			    !img.crc_ok) {
				fprintf(stderr, "glassbox-enclave: %s: %s\n",
				    eif_file, img.error[0] ? img.error :
				    "CRC mismatch");
				return 2;
			}
			memcpy(pcrs[0], img.pcr0, 48);
			memcpy(pcrs[1], img.pcr1, 48);
			memcpy(pcrs[2], img.pcr2, 48);
			if (img.is_signed) {
				memcpy(pcr8, img.pcr8, 48);
				so.pcr8 = pcr8;
			}
			gb_eif_free(&img);
			so.boot_pcrs = (const uint8_t (*)[48])pcrs;
		}
		if (pcrs_file != NULL) {
			if (read_pcrs(pcrs_file, pcrs) != 0) {
				fprintf(stderr, "glassbox-enclave: %s has no "
				    "PCR0..2 of 96 hex digits\n", pcrs_file);
				return 2;
			}
			so.boot_pcrs = (const uint8_t (*)[48])pcrs;
		}
		if (cert_file != NULL) {
			if (enclave_sim_cert(cert_file, &cert_der,
			    &so.signing_cert.len) != 0)
				return 2;
			so.signing_cert.ptr = cert_der;
		}
		if ((c = gb_nsm_sim_open(state, &so, &e.sim, &renewed)) != 0) {
			if (c == GB_EINVAL)
				fprintf(stderr, "glassbox-enclave: --iam-role "
				    "takes arn:aws:iam::ACCOUNT:role/NAME, "
				    "--instance-id i-HEX, and --signing-cert "
				    "goes with an unsigned --eif only\n");
			else
				fprintf(stderr, "glassbox-enclave: cannot use "
				    "the simulator state in %s\n", state);
			OPENSSL_free(cert_der);
			return 2;
		}
		OPENSSL_free(cert_der);
		so.signing_cert.ptr = NULL;
		e.nsm = gb_nsm_sim_transport(e.sim);
		e.nsm_kind = "sim";
		printf("simulated NSM: root %s/level0.der%s\n", state,
		    renewed ? " (new)" : "");
	} else if (strcmp(nsm, "dev") == 0) {
		if (pcrs_file != NULL || eif_file != NULL || so.debug_mode ||
		    so.iam_role_arn != NULL || so.instance_id != NULL ||
		    cert_file != NULL) {
			fprintf(stderr, "glassbox-enclave: --pcrs, --eif, "
			    "--iam-role, --instance-id, --signing-cert and "
			    "--debug-mode are for --nsm sim\n");
			return 2;
		}
		if (gb_nsm_open_dev(NULL, &e.nsm) != 0) {
			perror("glassbox-enclave: /dev/nsm");
			return 2;
		}
		e.nsm_kind = "dev";
	} else {
		fprintf(stderr, "glassbox-enclave: --nsm dev or sim\n");
		return 2;
	}
	len = gb_nsm_enc_simple(req, "DescribeNSM");
	if (gb_nsm_call(&e.nsm, req, len, "DescribeNSM", buf, &resp) !=
	    GB_NSM_SUCCESS) {
		fprintf(stderr, "glassbox-enclave: the NSM does not answer: "
		    "%s\n", gb_nsm_status_text(resp.status));
		return 2;
	}
	snprintf(e.module_id, sizeof e.module_id, "%s", resp.nsm.module_id);

	/* The key: on a locked page, never written anywhere. */
	e.seed = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e.seed == MAP_FAILED)
		return 2;
	(void)mlock(e.seed, 4096);
	(void)madvise(e.seed, 4096, MADV_DONTDUMP);
	if (kms.kms_key != NULL) {
		/* Sealed across restarts (sealed.c); exit 3: the key is not
		 * available, the reason printed. */
		if (gb_kms_global_init() != 0 || sealed_key_init(&e, &kms) != 0)
			return 3;
	} else {
		e.key_source = "ephemeral";
		if (gb_ed25519_generate(e.seed) != 0 ||
		    gb_ed25519_public(e.seed, e.pub) != 0)
			return 2;
	}
	gb_hex_encode(e.pub_hex, e.pub, sizeof e.pub);

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	(void)gb_httpd_raise_nofile();
	if ((fd = gb_listen_open(&addr, &why)) < 0) {
		fprintf(stderr, "glassbox-enclave: --listen %s: %s: %s\n",
		    listen, why, strerror(errno));
		return 2;
	}
	if (addr.kind == GB_LISTEN_TCP)
		printf("listening on tcp:%s:%d\n", addr.host, gb_listen_port(fd));
	else
		printf("listening on %s\n", listen);
	fflush(stdout);
	if (gb_httpd_start(fd, &ho, &httpd) != 0)
		return 2;
	sigwait(&set, &sig);
	gb_httpd_stop(httpd);
	if (addr.kind == GB_LISTEN_UNIX)
		unlink(addr.path);
	OPENSSL_cleanse(e.seed, GB_ED25519_SEED_BYTES);
	munmap(e.seed, 4096);
	free(e.sealed_blob);
	if (e.sim != NULL)
		gb_nsm_sim_close(e.sim);
	else
		gb_nsm_close_dev(&e.nsm);
	return 0;
}
