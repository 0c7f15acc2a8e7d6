/*
 * libFuzzer target for the small HTTP server's request parsing
 * (lib/src/httpd.c): the input is what a client sends on a connection,
 * through a socket pair, answered by a handler that reads the request.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
handler(void *arg, const struct gb_http_req *req, struct gb_http_resp *resp)
{
	char buf[64];

	(void)arg;
	(void)gb_http_query(req, "nonce", buf, sizeof buf);
	gb_http_reply(resp, strlen(req->path) > 1 ? 200 : 404,
	    "application/json", "{}");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gb_httpd_opts o = { 1, 4096, 200, handler, NULL };
	char sink[4096];
	int sv[2];

	if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 0;
	/* The whole request, then end of input: the server never waits. */
	if (size > 0 && write(sv[0], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[0], SHUT_WR);
	gb__httpd_serve(&o, sv[1]);
	close(sv[1]);
	while (read(sv[0], sink, sizeof sink) > 0)
		;
	close(sv[0]);
	return 0;
}
