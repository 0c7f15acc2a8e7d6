/*
 * A small HTTP/1.1 server for the enclave and the parent, on any stream
 * socket: AF_VSOCK inside an enclave (civetweb cannot listen there), a Unix
 * socket or loopback TCP elsewhere. One request per connection (the answer
 * says Connection: close), a fixed pool of worker threads, every limit
 * named: head size, body size, and a receive timeout per connection.
 */
#ifndef GB_HTTPD_H
#define GB_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#define GB_HTTPD_HEAD_MAX 8192      /* request line and headers */
#define GB_HTTPD_WORKERS_MAX 64

/* Where to listen: "vsock:PORT", "vsock:CID:PORT", "unix:/path" or
 * "tcp:HOST:PORT" (HOST an IPv4 or [IPv6] literal). */
enum gb_listen_kind { GB_LISTEN_VSOCK, GB_LISTEN_UNIX, GB_LISTEN_TCP };
struct gb_listen_addr {
	enum gb_listen_kind kind;
	unsigned cid, port;             /* vsock (cid -1U: any) and tcp */
	char host[64];                  /* tcp */
	char path[108];                 /* unix */
};

/* Parses an address; returns 0, or GB_EINVAL with *why set. */
int gb_listen_parse(const char *s, struct gb_listen_addr *a, const char **why);

/* Opens a listening socket (a Unix socket path is replaced if it is a
 * stale socket, refused if it is anything else). Returns the fd, or -1 with
 * *why set (errno kept). */
int gb_listen_open(const struct gb_listen_addr *a, const char **why);

/* The bound TCP port of a listening fd (for "tcp:127.0.0.1:0"). */
int gb_listen_port(int fd);

struct gb_http_req {
	char method[8];
	char path[256];                 /* without the query */
	char query[2048];               /* after '?', or "" */
	char content_type[128];
	const char *body;               /* NUL-terminated, body_len bytes */
	size_t body_len;
};

struct gb_http_resp {
	int status;
	const char *type;               /* Content-Type */
	char *body;                     /* from malloc(), freed by the server */
	size_t body_len;
};

/* Fills resp; the server sends it. */
typedef void (*gb_http_handler)(void *arg, const struct gb_http_req *req,
    struct gb_http_resp *resp);

struct gb_httpd_opts {
	unsigned workers;               /* threads serving connections */
	size_t max_body;                /* bigger bodies get 413 */
	unsigned timeout_ms;            /* per read and write */
	gb_http_handler handler;
	void *arg;
};

struct gb_httpd;

/* Serves connections on fd (which it owns from now on). */
int gb_httpd_start(int fd, const struct gb_httpd_opts *o,
    struct gb_httpd **out);
/* Stops accepting, lets requests in progress finish, frees everything. */
void gb_httpd_stop(struct gb_httpd *h);

/* A JSON or problem response from a string (copied). */
void gb_http_reply(struct gb_http_resp *r, int status, const char *type,
    const char *body);
/* A query parameter (percent-decoded into buf); NULL if absent or too
 * long. */
const char *gb_http_query(const struct gb_http_req *req, const char *name,
    char *buf, size_t len);

#endif /* GB_HTTPD_H */
