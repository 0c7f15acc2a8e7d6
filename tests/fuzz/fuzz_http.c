/*
 * libFuzzer target for whole HTTP requests: the input is what a client
 * sends on a connection, written to a real gb_httpd server (libmicrohttpd
 * and our checks: deadlines, caps, Content-Length rules, target decoding)
 * on 127.0.0.1, then end of input; the answer is read to the end. The
 * handler does what the services' handlers do with a request: reads
 * headers, the media type, query parameters, and parses a JSON body with
 * the guarded parser.
 */
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <jansson.h>

#include "gb/docjson.h"
#include "gb/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_WAIT_MS 2000       /* the longest an answer may take */

static void
handler(void *arg, const struct gb_http_req *req, struct gb_http_resp *resp)
{
	char buf[256], media[64];
	json_t *j;

	(void)arg;
	(void)gb_http_query(req, "nonce", buf, sizeof buf);
	(void)gb_http_header(req, "Authorization");
	gb_http_media_type(gb_http_header(req, "Content-Type"), media,
	    sizeof media);
	j = gb_json_loadb(req->body, req->body_len, 0, NULL);
	if (strcmp(req->path, "/metrics") == 0) {
		char *m = gb_httpd_metrics_text(req->httpd, "fuzz");

		gb_http_reply(resp, 200, "text/plain", m ? m : "");
		free(m);
	} else {
		gb_http_reply(resp, j != NULL ? 200 : strlen(req->path) > 1 ?
		    400 : 404, "application/json", "{}");
		(void)gb_http_resp_header(resp, "X-Fuzz", media);
	}
	json_decref(j);
}

static struct gb_httpd *server;
static int server_port;

static void
stop_server(void)
{
	gb_httpd_stop(server);
}

static int
start_server(void)
{
	struct gb_listen_addr a;
	struct gb_httpd_opts o = { .workers = 2, .max_body = 4096,
	    .handler = handler, .head_ms = 1000, .body_ms = 1000 };
	const char *why;
	int fd;

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
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char sink[4096];
	size_t off = 0;
	int fd;

	if (server == NULL && start_server() != 0)
		abort();
	if (size > 60000 || (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return 0;
	sin.sin_port = htons((uint16_t)server_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		close(fd);
		return 0;
	}
	if (size == 0)
		shutdown(fd, SHUT_WR);
	/* The request, then end of input: the server never waits for more.
	 * Writes and reads take turns so neither side's buffer fills. */
	for (int rounds = 0; rounds < 1000; rounds++) {
		struct pollfd p = { fd, POLLIN | (off < size ? POLLOUT : 0), 0 };
		ssize_t n;

		if (poll(&p, 1, FUZZ_WAIT_MS) <= 0)
			break;
		if ((p.revents & POLLOUT) && off < size) {
			n = send(fd, data + off, size - off, MSG_NOSIGNAL);
			if (n <= 0)
				off = size;
			else
				off += (size_t)n;
			if (off == size)
				shutdown(fd, SHUT_WR);
			continue;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, sink, sizeof sink, 0);
			if (n <= 0)
				break;
		}
	}
	close(fd);
	return 0;
}
