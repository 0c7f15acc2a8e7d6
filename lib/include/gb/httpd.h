/*
 * The HTTP/1.1 server of every Glassbox service (the verifier, the enclave,
 * the parent's health port), over libmicrohttpd (MHD) on a socket we open:
 * AF_VSOCK inside an enclave, a Unix socket or TCP elsewhere.
 *
 * Connection model: a few event-driven threads (MHD's internal poll() loop,
 * four per CPU by default) each serve many connections, so a slow or idle
 * client holds a socket and a little memory, never a thread. A request has
 * a total deadline for its head (from the connection's start, or from the
 * end of the previous answer on a kept-alive connection, to the last header
 * line) and another for its body; a sweeper thread closes connections past
 * them, however steadily they trickle bytes. Open connections have a global
 * cap and, optionally, one per client address; over a cap a connection is
 * closed at once and counted. Bodies are checked against the limit from
 * their Content-Length before a byte of them is read: 413 at once, and the
 * connection closes.
 */
#ifndef GB_HTTPD_H
#define GB_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults of struct gb_httpd_opts (a 0 there means the default). */
#define GB_HTTPD_HEAD_MS 10000      /* total time for a request's head */
#define GB_HTTPD_BODY_MS 30000      /* total time for its body */
#define GB_HTTPD_CONNS_MAX 4096     /* open connections, all clients */
/* Each server thread's stack. Handlers run there: jansson (depth capped at
 * 32 before it recurses), SQLite, gpgme, OpenSSL and nettle. Every e2e
 * test of the verifier, the enclave and the stack passed with 256 KiB;
 * 2 MiB leaves room for the sanitizers and what comes next. */
#define GB_HTTPD_STACK_BYTES (2u << 20)
/* MHD's memory per connection: it holds the request head while it is
 * parsed (a larger head gets MHD's own 431 or 414) and the answer's
 * headers. Bodies are kept apart, within max_body. Over 32 KiB, MHD maps
 * each pool with mmap() instead of malloc(): only the pages a connection
 * touches are resident, and they go back to the kernel when it closes,
 * where 32 KiB malloc'd blocks fragmented the threads' arenas under
 * connection churn (docs/performance.md, "Soak under attack"). */
#define GB_HTTPD_CONN_MEMORY_BYTES (36u << 10)
#define GB_HTTPD_WORKERS_MAX 64     /* server threads */
/* Default server threads per CPU. Each thread's poll() scans all of its
 * connections at every wakeup, so 1500 held attacker connections on one
 * thread a CPU made every request cost about five times as much; four a
 * CPU cut each scan by four and kept a well-behaved client's p99 within
 * 2x under attack (docs/performance.md, "More threads"). */
#define GB_HTTPD_THREADS_PER_CPU 4
#define GB_HTTPD_PATH_MAX 1024      /* decoded path; longer gets 414 */
#define GB_HTTPD_QUERY_MAX 4096     /* raw query; longer gets 414 */
#define GB_HTTPD_BACKLOG 1024       /* listen() queue */
#define GB_HTTPD_SWEEP_MS 250       /* how often deadlines are checked */
#define GB_HTTPD_DRAIN_MS 2000      /* on stop, time for requests at work */
#define GB_HTTPD_RESP_HEADERS_MAX 4 /* extra headers a handler may add */

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

struct gb__httpd_rq;

/* A request, borrowed by the handler for the duration of its call. */
struct gb_http_req {
	char method[16];
	char path[GB_HTTPD_PATH_MAX];   /* percent-decoded, without the query */
	char query[GB_HTTPD_QUERY_MAX]; /* raw, after '?', or "" */
	char content_type[128];         /* as sent, or "" */
	char remote[64];                /* client address (no port), or "" */
	const char *body;               /* NUL-terminated, body_len bytes */
	size_t body_len;
	struct gb_httpd *httpd;         /* the server (for its statistics) */
	struct gb__httpd_rq *rq;        /* for gb_http_header() */
};

struct gb_http_resp {
	int status;
	const char *type;               /* Content-Type; static or longer-lived */
	char *body;                     /* from malloc(), freed by the server */
	size_t body_len;
	/* Extra headers (names static, values copied). */
	unsigned nheaders;
	struct {
		const char *name;
		char value[128];
	} headers[GB_HTTPD_RESP_HEADERS_MAX];
};

/* Fills resp; the server sends it. HEAD requests reach the handler too:
 * the server sends the answer's headers without its body. */
typedef void (*gb_http_handler)(void *arg, const struct gb_http_req *req,
    struct gb_http_resp *resp);

/* Fills resp with a problem answer for an error the server itself finds
 * (400, 405, 408, 411, 413, 414, 500): code is the reason code. The
 * default writes {"status","reason","detail"} as application/problem+json. */
typedef void (*gb_http_problem_fn)(void *arg, int status, const char *code,
    const char *detail, struct gb_http_resp *resp);

/* Told of each request the server refuses itself before its body (for the
 * service's log line and counters). req holds what was read of the head:
 * method and path may be empty; remote is set. */
typedef void (*gb_http_refused_fn)(void *arg, const struct gb_http_req *req,
    int status, const char *code);

struct gb_httpd_opts {
	unsigned workers;               /* server threads; 0: four per CPU */
	size_t max_body;                /* bigger bodies get 413 */
	gb_http_handler handler;
	void *arg;
	unsigned head_ms;               /* 0: GB_HTTPD_HEAD_MS */
	unsigned body_ms;               /* 0: GB_HTTPD_BODY_MS */
	unsigned max_conns;             /* 0: GB_HTTPD_CONNS_MAX */
	unsigned max_per_addr;          /* 0: no cap per client address */
	size_t stack_bytes;             /* 0: GB_HTTPD_STACK_BYTES */
	/* NULL-terminated name, value pairs sent on every answer, the
	 * server's own included (security headers); borrowed while it runs. */
	const char *const *headers;
	gb_http_problem_fn problem;     /* NULL: the default format */
	gb_http_refused_fn refused;     /* NULL: not told */
};

/* Counters of a running server (each read atomically). */
struct gb_httpd_stats {
	uint64_t open;                  /* connections open now */
	uint64_t accepted;              /* connections since the start */
	uint64_t deadline_head;         /* closed: head deadline passed */
	uint64_t deadline_body;         /* closed: body deadline passed */
	uint64_t refused_total;         /* refused: the global cap */
	uint64_t refused_addr;          /* refused: the per-address cap */
	uint64_t too_large;             /* 413 before the body */
	uint64_t bad_request;           /* refused by the server: 400, 411, ... */
};

struct gb_httpd;

/* Raises this process's open-file limit to its hard limit (so the
 * connection cap, not the descriptor limit, is what refuses clients).
 * Returns the soft limit now in force. */
unsigned long gb_httpd_raise_nofile(void);

/* Serves connections on fd (which it owns from now on, even on failure).
 * Returns 0, GB_EINVAL (bad options) or GB_EIO (MHD would not start). */
int gb_httpd_start(int fd, const struct gb_httpd_opts *o,
    struct gb_httpd **out);
/* Stops accepting, gives requests at work GB_HTTPD_DRAIN_MS, closes every
 * connection, frees everything. NULL is fine. */
void gb_httpd_stop(struct gb_httpd *h);
void gb_httpd_stats(const struct gb_httpd *h, struct gb_httpd_stats *st);
/* The connection counters as Prometheus text, families named
 * PREFIX_http_..., each with HELP and TYPE; a new string (malloc), or NULL
 * when out of memory. */
char *gb_httpd_metrics_text(const struct gb_httpd *h, const char *prefix);

/* A response from a string (copied). */
void gb_http_reply(struct gb_http_resp *r, int status, const char *type,
    const char *body);
/* The same with a length (the body may hold NULs). */
void gb_http_reply_buf(struct gb_http_resp *r, int status, const char *type,
    const void *body, size_t len);
/* Adds a header to the answer (name static; value copied, truncated at
 * 127 bytes); returns 0, or -1 when GB_HTTPD_RESP_HEADERS_MAX are set. */
int gb_http_resp_header(struct gb_http_resp *r, const char *name,
    const char *value);
/* A request header (the first of its name, case-insensitive), or NULL;
 * borrowed for the request. */
const char *gb_http_header(const struct gb_http_req *req, const char *name);
/* The last header of that name (NULL if none), and how many there are in
 * *count (count may be NULL): for headers a proxy appends, such as
 * X-Forwarded-For, where the first line is the client's to write. */
const char *gb_http_header_last(const struct gb_http_req *req,
    const char *name, unsigned *count);
/* A query parameter (percent-decoded into buf); NULL if absent, too long,
 * or holding an encoded NUL (%00). */
const char *gb_http_query(const struct gb_http_req *req, const char *name,
    char *buf, size_t len);
/* The media type of a Content-Type value: lower-cased, without parameters
 * or surrounding space, into buf; "" when absent or too long. */
const char *gb_http_media_type(const char *content_type, char *buf,
    size_t len);

#endif /* GB_HTTPD_H */
