/*
 * libFuzzer target for whole HTTP requests: the input is what a client
 * sends on a connection, written to a real gb_httpd server (libmicrohttpd
 * and our checks: deadlines, caps, Content-Length rules, target decoding)
 * on 127.0.0.1, then end of input; the answer is read to the end. The
 * server runs the enclave's own handler (enclave/api.c: /health,
 * /attestation, /sign with JSON bodies, /metrics) over the simulated NSM,
 * so queries, bodies, signing and attestation are fuzzed through HTTP.
 * The simulator's state lives in a temporary folder, removed at exit.
 */
#define _XOPEN_SOURCE 700       /* nftw() */
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "gb/codec.h"
#include "gb/ed25519.h"
#include "gb/httpd.h"
#include "enclave.h"
#include "fuzz_exchange.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static struct gb_httpd *server;
static int server_port;
static struct enclave enc = { .nsm_mu = PTHREAD_MUTEX_INITIALIZER };
static char state_dir[] = "/tmp/glassbox-fuzz-http-XXXXXX";
static uint8_t seed[GB_ED25519_SEED_BYTES];

static int
remove_one(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
stop_server(void)
{
	gb_httpd_stop(server);
	gb_nsm_sim_close(enc.sim);
	(void)nftw(state_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The enclave as glassbox-enclave --nsm sim sets it up, served on
 * 127.0.0.1 with short deadlines (an input that stops early is closed
 * within a second). */
static int
start_server(void)
{
	struct gb_nsm_sim_opts so = { .boot_pcrs = NULL };
	struct gb_listen_addr a;
	struct gb_httpd_opts o = { .workers = 2, .max_body = 65536,
	    .handler = enclave_handle, .arg = &enc, .head_ms = 1000,
	    .body_ms = 1000 };
	const char *why;
	bool renewed;
	int fd;

	if (mkdtemp(state_dir) == NULL ||
	    gb_nsm_sim_open(state_dir, &so, &enc.sim, &renewed) != 0)
		return -1;
	enc.nsm = gb_nsm_sim_transport(enc.sim);
	enc.nsm_kind = "sim";
	snprintf(enc.module_id, sizeof enc.module_id, "fuzz");
	enc.seed = seed;
	if (gb_ed25519_generate(enc.seed) != 0 ||
	    gb_ed25519_public(enc.seed, enc.pub) != 0)
		return -1;
	gb_hex_encode(enc.pub_hex, enc.pub, sizeof enc.pub);
	if (gb_listen_parse("tcp:127.0.0.1:0", &a, &why) != 0 ||
	    (fd = gb_listen_open(&a, &why)) < 0)
		return -1;
	server_port = gb_listen_port(fd);
	if (gb_httpd_start(fd, &o, &server) != 0)
		return -1;
	atexit(stop_server);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (server == NULL && start_server() != 0)
		abort();
	if (size <= 60000)
		fuzz_exchange(server_port, data, size, 1000);
	return 0;
}
