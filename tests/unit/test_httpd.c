/*
 * The HTTP server (gb/httpd.h): listening addresses (vsock, unix and tcp
 * forms, their errors, what opening refuses), the helpers (media types,
 * query parameters), and a real server on 127.0.0.1 with short deadlines:
 * requests and answers, HEAD, refusals before the body, target decoding,
 * deadlines, connection caps and their counters. (Abuse at scale is
 * tests/e2e/test_abuse.py.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gb/httpd.h"
#include "test.h"

TEST(parse_addresses)
{
	struct gb_listen_addr a;
	const char *why;

	ASSERT_EQ(gb_listen_parse("vsock:5000", &a, &why), 0);
	ASSERT(a.kind == GB_LISTEN_VSOCK && a.port == 5000 &&
	    a.cid == VMADDR_CID_ANY);
	ASSERT_EQ(gb_listen_parse("vsock:3:5005", &a, &why), 0);
	ASSERT(a.cid == 3 && a.port == 5005);
	ASSERT_EQ(gb_listen_parse("unix:/run/glassbox.sock", &a, &why), 0);
	ASSERT_STR_EQ(a.path, "/run/glassbox.sock");
	ASSERT_EQ(gb_listen_parse("tcp:127.0.0.1:8080", &a, &why), 0);
	ASSERT(a.kind == GB_LISTEN_TCP && a.port == 8080);
	ASSERT_STR_EQ(a.host, "127.0.0.1");
	ASSERT_EQ(gb_listen_parse("tcp:[::1]:0", &a, &why), 0);
	ASSERT_STR_EQ(a.host, "::1");

	static const char *const bad[] = { "vsock:", "vsock:x", "vsock:1:",
	    "vsock:-1", "vsock:99999999999", "vsock:1:2:3", "unix:",
	    "tcp:127.0.0.1", "tcp::80", "tcp:1.2.3.4:65536", "tcp:[::1:80",
	    "tcp:1.2.3.4:", "http://x", "", "vsock:5000 " };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		if (gb_listen_parse(bad[i], &a, &why) == 0)
			FAIL_AT("accepted \"%s\"", bad[i]);
		else if (why == NULL)
			FAIL_AT("no reason for \"%s\"", bad[i]);
	}
	/* A unix path longer than sun_path can hold. */
	{
		char longp[200] = "unix:/";

		memset(longp + 6, 'a', 150);
		longp[156] = '\0';
		ASSERT(gb_listen_parse(longp, &a, &why) != 0);
	}
}

TEST(open_refusals)
{
	struct gb_listen_addr a;
	const char *why;
	char file[] = "/tmp/gb-httpd-XXXXXX";
	int fd;

	/* A unix path that is a regular file is not replaced. */
	ASSERT((fd = mkstemp(file)) >= 0);
	close(fd);
	snprintf(a.path, sizeof a.path, "%s", file);
	a.kind = GB_LISTEN_UNIX;
	ASSERT_EQ(gb_listen_open(&a, &why), -1);
	ASSERT_EQ(errno, EEXIST);
	ASSERT(access(file, F_OK) == 0);
	unlink(file);
	/* Host names are not resolved. */
	ASSERT_EQ(gb_listen_parse("tcp:localhost:0", &a, &why), 0);
	ASSERT_EQ(gb_listen_open(&a, &why), -1);
	ASSERT(strstr(why, "numeric") != NULL);
	/* Port 0 picks a port, which can be read back. */
	ASSERT_EQ(gb_listen_parse("tcp:127.0.0.1:0", &a, &why), 0);
	ASSERT((fd = gb_listen_open(&a, &why)) >= 0);
	ASSERT(gb_listen_port(fd) > 0);
	close(fd);
	/* vsock: either this machine has it, or the error says so. */
	ASSERT_EQ(gb_listen_parse("vsock:0:5999", &a, &why), 0);
	fd = gb_listen_open(&a, &why);
	if (fd >= 0)
		close(fd);
	else
		ASSERT(why != NULL && strstr(why, "vsock") != NULL);
}

TEST(media_types)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "application/json", "application/json" },
		{ "Application/JSON; charset=utf-8", "application/json" },
		{ "  application/cbor ;x=y", "application/cbor" },
		{ "application/cbor-seq", "application/cbor-seq" },
		{ "application/jsonfoo", "application/jsonfoo" },
		{ "", "" },
		{ ";", "" },
	};
	char buf[32];

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		ASSERT_STR_EQ(gb_http_media_type(t[i].in, buf, sizeof buf),
		    t[i].want);
	ASSERT_STR_EQ(gb_http_media_type(NULL, buf, sizeof buf), "");
	/* Too long for the buffer: no type at all, never a prefix of it. */
	ASSERT_STR_EQ(gb_http_media_type("application/a-very-long-type-name",
	    buf, 16), "");
}

TEST(query_parameters)
{
	struct gb_http_req q = { 0 };
	char buf[16];

	strcpy(q.query, "a=1&nonce=ab%2Fcd+e&empty&x=");
	ASSERT_STR_EQ(gb_http_query(&q, "a", buf, sizeof buf), "1");
	ASSERT_STR_EQ(gb_http_query(&q, "nonce", buf, sizeof buf), "ab/cd e");
	ASSERT_STR_EQ(gb_http_query(&q, "empty", buf, sizeof buf), "");
	ASSERT_STR_EQ(gb_http_query(&q, "x", buf, sizeof buf), "");
	ASSERT(gb_http_query(&q, "non", buf, sizeof buf) == NULL);
	ASSERT(gb_http_query(&q, "nonce", buf, 4) == NULL);     /* too long */
}

/* ---- a real server ---- */

static void
echo_handler(void *arg, const struct gb_http_req *req,
    struct gb_http_resp *resp)
{
	char body[8192], media[64];

	(void)arg;
	snprintf(body, sizeof body, "%.15s|%.1023s|%.4095s|%.63s|%zu|%.*s",
	    req->method,
	    req->path, req->query, gb_http_media_type(gb_http_header(req,
	    "content-type"), media, sizeof media), req->body_len,
	    (int)(req->body_len > 100 ? 100 : req->body_len), req->body);
	gb_http_reply(resp, 200, "text/plain", body);
	gb_http_resp_header(resp, "X-Test", "yes");
}

static const char *const test_headers[] = { "X-Frame-Options", "DENY",
    NULL };

static struct gb_httpd *
serve(int *port, unsigned max_conns, unsigned per_addr, unsigned head_ms)
{
	struct gb_httpd_opts o = { .workers = 2, .max_body = 1000,
	    .handler = echo_handler, .head_ms = head_ms, .body_ms = 600,
	    .max_conns = max_conns, .max_per_addr = per_addr,
	    .headers = test_headers };
	struct gb_listen_addr a;
	struct gb_httpd *h = NULL;
	const char *why;
	int fd;

	if (gb_listen_parse("tcp:127.0.0.1:0", &a, &why) != 0 ||
	    (fd = gb_listen_open(&a, &why)) < 0)
		return NULL;
	*port = gb_listen_port(fd);
	if (gb_httpd_start(fd, &o, &h) != 0)
		return NULL;
	return h;
}

static int
dial(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Reads until the peer closes, at most wait_ms in all; returns the bytes
 * (NUL-terminated in buf) or -1 if the connection was still open. */
static ssize_t
read_to_close(int fd, char *buf, size_t cap, int wait_ms)
{
	size_t n = 0;

	for (int waited = 0; waited < wait_ms; waited += 50) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 50) <= 0)
			continue;
		r = recv(fd, buf + n, cap - 1 - n, 0);
		if (r <= 0) {
			buf[n] = '\0';
			return (ssize_t)n;
		}
		n += (size_t)r;
		if (n == cap - 1)
			break;
	}
	buf[n] = '\0';
	return -1;
}

/* One request on a new connection, answered and closed. */
static int
exchange(int port, const char *req, char *buf, size_t cap)
{
	int fd = dial(port);
	ssize_t n;

	if (fd < 0)
		return -1;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		close(fd);
		return -1;
	}
	n = read_to_close(fd, buf, cap, 3000);
	close(fd);
	return n < 0 ? -1 : 0;
}

static int
status_of(const char *resp)
{
	int st = 0;

	return sscanf(resp, "HTTP/1.1 %d", &st) == 1 ? st : 0;
}

TEST(server_requests)
{
	static const struct {
		const char *req;
		int status;
		const char *has;        /* in the answer */
	} t[] = {
		{ "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		    200, "GET|/a/b|x=1||0|" },
		{ "POST /p HTTP/1.1\r\nHost: h\r\nContent-Type: Application/"
		    "JSON; charset=x\r\nContent-Length: 5\r\nConnection: close"
		    "\r\n\r\nhello", 200, "POST|/p||application/json|5|hello" },
		{ "GET /a%2Fb%20c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
		    "\r\n", 200, "|/a/b c|" },
		/* %00 stays as written: no path is cut short. */
		{ "GET /app.js%00.html HTTP/1.1\r\nHost: h\r\nConnection: "
		    "close\r\n\r\n", 200, "|/app.js%00.html|" },
		{ "GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bad_request" },
		{ "HEAD /h HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		    200, "X-Test: yes" },
		{ "OPTIONS /h HTTP/1.1\r\nHost: h\r\nOrigin: http://e\r\n\r\n",
		    405, "Allow: GET, HEAD, POST" },
		{ "DELETE /h HTTP/1.1\r\nHost: h\r\n\r\n", 405,
		    "method_not_allowed" },
		{ "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n",
		    413, "too_large" },
		{ "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: "
		    "18446744073709551616\r\n\r\n", 413, "" },
		{ "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
		    "Content-Length: 2\r\n\r\nab", 400, "more than one" },
		{ "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
		    "Content-Length: 3\r\n\r\nabc", 400, "more than one" },
		{ "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
		    "\r\n\r\n0\r\n\r\n", 411, "length_required" },
		{ "GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400,
		    "not a path" },
	};
	char buf[8192];
	int port = 0;
	struct gb_httpd *h = serve(&port, 0, 0, 400);

	ASSERT(h != NULL);
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		if (exchange(port, t[i].req, buf, sizeof buf) != 0) {
			FAIL_AT("request %zu: no answer", i);
			break;
		}
		if (status_of(buf) != t[i].status ||
		    strstr(buf, t[i].has) == NULL) {
			FAIL_AT("request %zu: want %d with \"%s\", got:\n%s", i,
			    t[i].status, t[i].has, buf);
			break;
		}
		/* The server's own refusals carry the configured headers
		 * (MHD's own 413 for an overflowing length cannot). */
		if (t[i].has[0] != '\0' && strstr(buf, "X-Frame-Options: DENY") ==
		    NULL) {
			FAIL_AT("request %zu: no configured header:\n%s", i, buf);
			break;
		}
	}
	/* HEAD: the headers, no body. */
	ASSERT(exchange(port, "HEAD /h HTTP/1.1\r\nHost: h\r\nConnection: "
	    "close\r\n\r\n", buf, sizeof buf) == 0);
	ASSERT(strstr(buf, "\r\n\r\n") != NULL &&
	    strstr(buf, "\r\n\r\n")[4] == '\0');
	gb_httpd_stop(h);
}

TEST(server_deadlines)
{
	struct gb_httpd_stats st;
	char buf[4096], *m;
	int port = 0, idle, slow, body;
	struct gb_httpd *h = serve(&port, 0, 0, 400);
	ssize_t n;

	ASSERT(h != NULL);
	ASSERT((idle = dial(port)) >= 0);
	ASSERT((slow = dial(port)) >= 0);
	ASSERT((body = dial(port)) >= 0);
	ASSERT(send(slow, "GET / HTTP/1.1\r\nHo", 19, 0) == 19);
	ASSERT(send(body, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99\r\n"
	    "\r\nab", 50, 0) == 50);
	/* A byte at a time keeps each connection busy, never past its
	 * deadline: the total is what counts. */
	for (int i = 0; i < 8; i++) {
		struct timespec ts = { 0, 100 * 1000000L };

		nanosleep(&ts, NULL);
		(void)send(slow, "s", 1, MSG_NOSIGNAL);
		(void)send(body, "b", 1, MSG_NOSIGNAL);
	}
	ASSERT(read_to_close(idle, buf, sizeof buf, 3000) == 0);
	ASSERT(read_to_close(slow, buf, sizeof buf, 3000) >= 0);
	ASSERT_EQ(status_of(buf), 408);     /* its request line had come */
	n = read_to_close(body, buf, sizeof buf, 3000);
	ASSERT(n > 0);
	ASSERT_EQ(status_of(buf), 408);
	ASSERT(strstr(buf, "X-Frame-Options: DENY") != NULL);
	close(idle);
	close(slow);
	close(body);
	gb_httpd_stats(h, &st);
	ASSERT_EQ(st.deadline_head, 2);
	ASSERT_EQ(st.deadline_body, 1);
	/* A kept-alive connection: the next head's deadline runs from the
	 * end of the previous answer. */
	ASSERT((idle = dial(port)) >= 0);
	ASSERT(send(idle, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 27, 0) == 27);
	ASSERT(read_to_close(idle, buf, sizeof buf, 3000) > 0);
	ASSERT_EQ(status_of(buf), 200);
	close(idle);
	gb_httpd_stats(h, &st);
	ASSERT_EQ(st.deadline_head, 3);
	m = gb_httpd_metrics_text(h, "t");
	ASSERT(m != NULL);
	ASSERT(strstr(m, "# TYPE t_http_deadline_closed_total counter\n"
	    "t_http_deadline_closed_total{phase=\"head\"} 3\n"
	    "t_http_deadline_closed_total{phase=\"body\"} 1\n") != NULL);
	free(m);
	gb_httpd_stop(h);
}

/* Over a cap a connection is closed at once and counted. */
static void
check_cap(unsigned max_conns, unsigned per_addr)
{
	struct gb_httpd_stats st;
	int fds[8], port = 0, closed = 0;
	struct gb_httpd *h = serve(&port, max_conns, per_addr, 10000);
	char buf[64];

	ASSERT(h != NULL);
	for (int i = 0; i < 8; i++) {
		ASSERT((fds[i] = dial(port)) >= 0);
		/* One at a time: the count is exact when accepts do not
		 * race. */
		{
			struct timespec ts = { 0, 30 * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	for (int i = 0; i < 8; i++) {
		struct pollfd p = { fds[i], POLLIN, 0 };

		if (poll(&p, 1, 300) == 1 &&
		    recv(fds[i], buf, sizeof buf, 0) <= 0) {
			if (i < 3)
				FAIL_AT("connection %d (within the cap) closed", i);
			closed++;
		}
	}
	ASSERT_EQ(closed, 5);
	gb_httpd_stats(h, &st);
	ASSERT_EQ(per_addr ? st.refused_addr : st.refused_total, 5);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	gb_httpd_stop(h);
}

TEST(server_caps)
{
	check_cap(3, 0);
	check_cap(0, 3);
}

TEST_MAIN(
	T(parse_addresses),
	T(open_refusals),
	T(media_types),
	T(query_parameters),
	T(server_requests),
	T(server_deadlines),
	T(server_caps),
)
