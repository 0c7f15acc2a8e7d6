/*
 * The HTTP/1.1 server of the services (gb/httpd.h): listening addresses,
 * then libmicrohttpd (MHD) driven with a deadline sweeper, connection caps
 * and strict request checks of our own.
 *
 * Why the sweeper is safe: MHD calls the NOTIFY_CONNECTION "closed"
 * callback before it closes a connection's socket (daemon.c, in every
 * path that closes one), and that callback takes h->mu to unlink the
 * connection. The sweeper shuts sockets down only under h->mu and only for
 * linked connections, so it never touches a descriptor that was closed and
 * perhaps reused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "gb/codec.h"
#include "gb/err.h"
#include "gb/httpd.h"

static int
parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int
gb_listen_parse(const char *s, struct gb_listen_addr *a, const char **why)
{
	const char *colon;

	memset(a, 0, sizeof *a);
	*why = NULL;
	if (strncmp(s, "vsock:", 6) == 0) {
		char cid[16];

		a->kind = GB_LISTEN_VSOCK;
		a->cid = VMADDR_CID_ANY;
		s += 6;
		if ((colon = strchr(s, ':')) != NULL) {
			if ((size_t)(colon - s) >= sizeof cid) {
				*why = "vsock CID too long";
				return GB_EINVAL;
			}
			memcpy(cid, s, (size_t)(colon - s));
			cid[colon - s] = '\0';
			if (parse_uint(cid, 0xfffffffeu, &a->cid) != 0) {
				*why = "vsock CID is not a number";
				return GB_EINVAL;
			}
			s = colon + 1;
		}
		if (parse_uint(s, 0xfffffffeu, &a->port) != 0) {
			*why = "vsock port is not a number";
			return GB_EINVAL;
		}
		return 0;
	}
	if (strncmp(s, "unix:", 5) == 0) {
		a->kind = GB_LISTEN_UNIX;
		if (s[5] == '\0' || strlen(s + 5) >= sizeof a->path) {
			*why = "unix socket path empty or longer than 107 bytes";
			return GB_EINVAL;
		}
		strcpy(a->path, s + 5);
		return 0;
	}
	if (strncmp(s, "tcp:", 4) == 0) {
		a->kind = GB_LISTEN_TCP;
		s += 4;
		if ((colon = strrchr(s, ':')) == NULL || colon == s ||
		    (size_t)(colon - s) >= sizeof a->host) {
			*why = "tcp address is not HOST:PORT";
			return GB_EINVAL;
		}
		if (*s == '[') {                /* [v6]:port */
			if (colon[-1] != ']' || colon - s < 3) {
				*why = "tcp IPv6 address is not [ADDR]:PORT";
				return GB_EINVAL;
			}
			memcpy(a->host, s + 1, (size_t)(colon - s - 2));
		} else {
			memcpy(a->host, s, (size_t)(colon - s));
		}
		if (parse_uint(colon + 1, 65535, &a->port) != 0) {
			*why = "tcp port is not 0..65535";
			return GB_EINVAL;
		}
		return 0;
	}
	*why = "address must start with vsock:, unix: or tcp:";
	return GB_EINVAL;
}

int
gb_listen_open(const struct gb_listen_addr *a, const char **why)
{
	int fd = -1, one = 1;

	if (a->kind == GB_LISTEN_VSOCK) {
		struct sockaddr_vm vm = { .svm_family = AF_VSOCK,
		    .svm_cid = a->cid, .svm_port = a->port };

		if ((fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
			*why = "this machine has no vsock (AF_VSOCK socket "
			    "failed)";
			return -1;
		}
		if (bind(fd, (struct sockaddr *)&vm, sizeof vm) != 0) {
			*why = "cannot bind the vsock port";
			goto fail;
		}
	} else if (a->kind == GB_LISTEN_UNIX) {
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		struct stat st;

		if (lstat(a->path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				errno = EEXIST;
				*why = "the unix socket path exists and is not a "
				    "socket";
				return -1;
			}
			unlink(a->path);        /* a socket left behind */
		}
		strcpy(un.sun_path, a->path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		    bind(fd, (struct sockaddr *)&un, sizeof un) != 0) {
			*why = "cannot bind the unix socket";
			goto fail;
		}
	} else {
		struct addrinfo hints = { .ai_family = AF_UNSPEC,
		    .ai_socktype = SOCK_STREAM,
		    .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
		struct addrinfo *ai = NULL;
		char port[8];

		snprintf(port, sizeof port, "%u", a->port);
		if (getaddrinfo(a->host, port, &hints, &ai) != 0) {
			errno = EINVAL;
			*why = "the tcp host is not a numeric address";
			return -1;
		}
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
			    sizeof one);
		if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			freeaddrinfo(ai);
			*why = "cannot bind the tcp address";
			goto fail;
		}
		freeaddrinfo(ai);
	}
	if (listen(fd, GB_HTTPD_BACKLOG) != 0) {
		*why = "cannot listen";
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return -1;
}

int
gb_listen_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

/* ---- the server ---- */

#define ADDR_BUCKETS 1024       /* per-address counts, chained */
#define LOG_PER_SECOND 10       /* MHD's messages, beyond which dropped */

enum phase { PH_HEAD, PH_BODY, PH_WORK };

/* Connections per client address (only when max_per_addr is set). */
struct addr_count {
	struct addr_count *next;
	uint8_t key[20];
	size_t keylen;
	unsigned n;
};

/* One per connection, from malloc() in on_connection(STARTED), freed in
 * on_connection(CLOSED). Fields under h->mu. */
struct conn {
	struct conn *prev, *next;
	int fd;
	enum phase phase;
	int64_t deadline_ms;            /* 0: none */
	bool line_seen;                 /* this request's line has arrived */
	bool swept;
	uint8_t key[20];
	size_t keylen;
	bool counted_addr;
	char remote[64];
	/* The request on this connection, owned by it: MHD does not always
	 * tell on_completed() of a request whose line it saw (a query with
	 * more arguments than its memory pool holds is dropped without an
	 * answer), so what it left is freed with the next request or the
	 * connection. Only the connection's own MHD thread touches it. */
	struct gb__httpd_rq *rq;
};

/* One per request, from malloc() in on_uri(), freed in on_completed() (or
 * with its connection: struct conn's rq). */
struct gb__httpd_rq {
	struct gb_httpd *h;
	struct conn *conn;
	struct MHD_Connection *mc;
	bool started;
	char *target;                   /* the raw request target (malloc) */
	char *body;                     /* malloc, cap bytes */
	size_t len, cap, clen;
	struct gb_http_req req;
};

struct gb_httpd {
	struct gb_httpd_opts o;
	struct MHD_Daemon *d;
	int fd;                         /* until MHD_quiesce_daemon */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t sweeper;
	bool stopping;
	struct conn *conns;             /* under mu */
	struct addr_count *addrs[ADDR_BUCKETS];     /* under mu */
	unsigned open;                  /* under mu */
	char *timeout_head, *timeout_body;  /* canned 408 answers (malloc) */
	size_t timeout_head_len, timeout_body_len;
	_Atomic uint64_t accepted, deadline_head, deadline_body, refused_total,
	    refused_addr, too_large, bad_request;
	pthread_mutex_t log_mu;
	int64_t log_second;
	unsigned log_count;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
gb_http_reply_buf(struct gb_http_resp *r, int status, const char *type,
    const void *body, size_t len)
{
	free(r->body);
	r->status = status;
	r->type = type;
	r->body_len = 0;
	if ((r->body = malloc(len + 1)) == NULL) {
		r->status = 500;
		return;
	}
	if (len > 0)
		memcpy(r->body, body, len);
	r->body[len] = '\0';
	r->body_len = len;
}

void
gb_http_reply(struct gb_http_resp *r, int status, const char *type,
    const char *body)
{
	gb_http_reply_buf(r, status, type, body, strlen(body));
}

int
gb_http_resp_header(struct gb_http_resp *r, const char *name,
    const char *value)
{
	if (r->nheaders >= GB_HTTPD_RESP_HEADERS_MAX)
		return -1;
	r->headers[r->nheaders].name = name;
	snprintf(r->headers[r->nheaders].value,
	    sizeof r->headers[r->nheaders].value, "%s", value);
	r->nheaders++;
	return 0;
}

const char *
gb_http_header(const struct gb_http_req *req, const char *name)
{
	if (req->rq == NULL)
		return NULL;
	return MHD_lookup_connection_value(req->rq->mc, MHD_HEADER_KIND, name);
}

struct header_last {
	const char *name, *value;
	unsigned count;
};

static enum MHD_Result
header_last_cb(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct header_last *h = cls;

	(void)kind;
	if (key != NULL && strcasecmp(key, h->name) == 0) {
		h->value = value;
		h->count++;
	}
	return MHD_YES;
}

const char *
gb_http_header_last(const struct gb_http_req *req, const char *name,
    unsigned *count)
{
	struct header_last h = { name, NULL, 0 };

	if (req->rq != NULL)
		MHD_get_connection_values(req->rq->mc, MHD_HEADER_KIND,
		    header_last_cb, &h);
	if (count != NULL)
		*count = h.count;
	return h.value;
}

const char *
gb_http_media_type(const char *ct, char *buf, size_t len)
{
	size_t n = 0;

	if (len == 0)
		return "";
	buf[0] = '\0';
	if (ct == NULL)
		return buf;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	if (n >= len)
		return buf;             /* too long: no type, never a prefix */
	for (size_t i = 0; i < n; i++) {
		char c = ct[i];

		buf[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	buf[n] = '\0';
	return buf;
}

const char *
gb_http_query(const struct gb_http_req *req, const char *name, char *buf,
    size_t len)
{
	size_t nl = strlen(name);

	for (const char *p = req->query; *p != '\0';) {
		const char *end = strchr(p, '&');
		size_t plen = end ? (size_t)(end - p) : strlen(p);

		if (plen > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t o = 0;

			for (const char *v = p + nl + 1; v < p + plen; v++) {
				int c = (unsigned char)*v;

				if (c == '%' && v + 2 < p + plen &&
				    gb_hex_value(v[1]) >= 0 && gb_hex_value(v[2]) >= 0) {
					c = gb_hex_value(v[1]) * 16 + gb_hex_value(v[2]);
					v += 2;
				} else if (c == '+') {
					c = ' ';
				}
				/* A NUL would cut the value short unseen. */
				if (o + 1 >= len || c == 0)
					return NULL;
				buf[o++] = (char)c;
			}
			buf[o] = '\0';
			return buf;
		}
		if (plen == nl && strncmp(p, name, nl) == 0) {
			if (len == 0)
				return NULL;
			buf[0] = '\0';
			return buf;
		}
		p += plen + (end ? 1 : 0);
	}
	return NULL;
}

static void
default_problem(void *arg, int status, const char *code, const char *detail,
    struct gb_http_resp *r)
{
	char body[512];

	(void)arg;
	snprintf(body, sizeof body, "{\"status\":%d,\"reason\":\"%s\","
	    "\"detail\":\"%s\"}", status, code, detail);
	gb_http_reply(r, status, "application/problem+json", body);
}

static void
make_problem(struct gb_httpd *h, int status, const char *code,
    const char *detail, struct gb_http_resp *r)
{
	(h->o.problem ? h->o.problem : default_problem)(h->o.arg, status, code,
	    detail, r);
}

/* ---- connections: caps, deadlines ---- */

/* The client's address as a key (family and address, no port) and as
 * text. */
static void
addr_key(const struct sockaddr *sa, uint8_t key[20], size_t *keylen,
    char *text, size_t textlen)
{
	*keylen = 0;
	text[0] = '\0';
	if (sa == NULL)
		return;
	key[0] = (uint8_t)sa->sa_family;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		memcpy(key + 1, &in->sin_addr, 4);
		*keylen = 5;
		inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)textlen);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		memcpy(key + 1, &in6->sin6_addr, 16);
		*keylen = 17;
		inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)textlen);
	} else if (sa->sa_family == AF_VSOCK) {
		const struct sockaddr_vm *vm = (const void *)sa;

		memcpy(key + 1, &vm->svm_cid, 4);
		*keylen = 5;
		snprintf(text, textlen, "vsock:%u", vm->svm_cid);
	} else {
		*keylen = 1;            /* unix: one local peer */
		snprintf(text, textlen, "local");
	}
}

static size_t
addr_bucket(const uint8_t *key, size_t keylen)
{
	uint32_t x = 2166136261u;       /* FNV-1a */

	for (size_t i = 0; i < keylen; i++)
		x = (x ^ key[i]) * 16777619u;
	return x % ADDR_BUCKETS;
}

/* The count of an address (under h->mu); with make, created if absent
 * (NULL when out of memory). */
static struct addr_count *
addr_find(struct gb_httpd *h, const uint8_t *key, size_t keylen, bool make)
{
	struct addr_count **pp = &h->addrs[addr_bucket(key, keylen)], *a;

	for (a = *pp; a != NULL; a = a->next)
		if (a->keylen == keylen && memcmp(a->key, key, keylen) == 0)
			return a;
	if (!make || (a = calloc(1, sizeof *a)) == NULL)
		return NULL;
	memcpy(a->key, key, keylen);
	a->keylen = keylen;
	a->next = *pp;
	*pp = a;
	return a;
}

static void
addr_release(struct gb_httpd *h, const uint8_t *key, size_t keylen)
{
	struct addr_count **pp = &h->addrs[addr_bucket(key, keylen)], *a;

	for (; (a = *pp) != NULL; pp = &a->next) {
		if (a->keylen != keylen || memcmp(a->key, key, keylen) != 0)
			continue;
		if (--a->n == 0) {
			*pp = a->next;
			free(a);
		}
		return;
	}
}

/*
 * MHD asks before it takes a connection. The caps are ours, not MHD's:
 * MHD at its own limit stops accepting (clients wait in the listen queue),
 * where a refusal here closes the connection at once and is counted. The
 * check and the count (in on_connection) are apart, so with several
 * threads accepting at once the cap can be passed by at most one
 * connection a thread; MHD's own limit sits above it by that much.
 */
static enum MHD_Result
on_accept(void *cls, const struct sockaddr *sa, socklen_t salen)
{
	struct gb_httpd *h = cls;
	uint8_t key[20];
	size_t keylen;
	char text[64];
	bool ok = true;

	(void)salen;
	pthread_mutex_lock(&h->mu);
	if (h->open >= h->o.max_conns) {
		ok = false;
		atomic_fetch_add(&h->refused_total, 1);
	} else if (h->o.max_per_addr > 0) {
		struct addr_count *a;

		addr_key(sa, key, &keylen, text, sizeof text);
		a = addr_find(h, key, keylen, false);
		if (a != NULL && a->n >= h->o.max_per_addr) {
			ok = false;
			atomic_fetch_add(&h->refused_addr, 1);
		}
	}
	pthread_mutex_unlock(&h->mu);
	return ok ? MHD_YES : MHD_NO;
}

static void
free_rq(struct gb__httpd_rq *rq)
{
	if (rq == NULL)
		return;
	if (rq->conn != NULL && rq->conn->rq == rq)
		rq->conn->rq = NULL;
	free(rq->target);
	free(rq->body);
	free(rq);
}

static void
on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct gb_httpd *h = cls;
	struct conn *c = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fi, *ai;

		if ((c = calloc(1, sizeof *c)) == NULL)
			return;         /* no deadline: MHD's idle timeout only */
		fi = MHD_get_connection_info(mc,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		ai = MHD_get_connection_info(mc,
		    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		c->fd = fi != NULL ? fi->connect_fd : -1;
		addr_key(ai != NULL ? ai->client_addr : NULL, c->key,
		    &c->keylen, c->remote, sizeof c->remote);
		c->phase = PH_HEAD;
		c->deadline_ms = now_ms() + h->o.head_ms;
		pthread_mutex_lock(&h->mu);
		c->next = h->conns;
		if (h->conns != NULL)
			h->conns->prev = c;
		h->conns = c;
		h->open++;
		if (h->o.max_per_addr > 0) {
			struct addr_count *a = addr_find(h, c->key, c->keylen,
			    true);

			if (a != NULL) {
				a->n++;
				c->counted_addr = true;
			}
		}
		pthread_mutex_unlock(&h->mu);
		atomic_fetch_add(&h->accepted, 1);
		*socket_context = c;
		return;
	}
	if (c == NULL)
		return;
	/* CLOSED: MHD closes the socket after this returns. */
	pthread_mutex_lock(&h->mu);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	h->open--;
	if (c->counted_addr)
		addr_release(h, c->key, c->keylen);
	pthread_mutex_unlock(&h->mu);
	free_rq(c->rq);                 /* one MHD dropped (NULL if completed) */
	free(c);
	*socket_context = NULL;
}

static void
set_phase(struct gb_httpd *h, struct conn *c, enum phase p)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	c->phase = p;
	c->deadline_ms = p == PH_HEAD ? now_ms() + h->o.head_ms :
	    p == PH_BODY ? now_ms() + h->o.body_ms : 0;
	if (p == PH_HEAD)
		c->line_seen = false;
	pthread_mutex_unlock(&h->mu);
}

/*
 * Every GB_HTTPD_SWEEP_MS: a connection past its deadline gets a 408 (when
 * a request had begun: an idle kept-alive connection is just closed, as a
 * client may be sending its next request at that moment) and is shut down;
 * MHD sees the end of input and closes it. MHD reads and writes the socket
 * in its own thread, but not during the head or the body (it writes only
 * an answer, which comes after), so the 408 goes out whole.
 */
static void *
sweeper(void *arg)
{
	struct gb_httpd *h = arg;

	pthread_mutex_lock(&h->mu);
	while (!h->stopping) {
		struct timespec ts;
		int64_t now;

		clock_gettime(CLOCK_MONOTONIC, &ts);    /* h->cv's clock */
		ts.tv_nsec += (long)GB_HTTPD_SWEEP_MS * 1000000;
		ts.tv_sec += ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&h->cv, &h->mu, &ts);
		now = now_ms();
		for (struct conn *c = h->conns; c != NULL; c = c->next) {
			const char *msg;
			size_t len;

			if (c->swept || c->fd < 0 || c->deadline_ms == 0 ||
			    now < c->deadline_ms)
				continue;
			c->swept = true;
			if (c->phase == PH_BODY) {
				atomic_fetch_add(&h->deadline_body, 1);
				msg = h->timeout_body;
				len = h->timeout_body_len;
			} else {
				atomic_fetch_add(&h->deadline_head, 1);
				msg = c->line_seen ? h->timeout_head : NULL;
				len = h->timeout_head_len;
			}
			if (msg != NULL)
				(void)send(c->fd, msg, len, MSG_DONTWAIT |
				    MSG_NOSIGNAL);
			shutdown(c->fd, SHUT_RDWR);
		}
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* ---- requests ---- */

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
	struct gb_httpd *h = cls;
	struct gb__httpd_rq *rq = calloc(1, sizeof *rq);
	const union MHD_ConnectionInfo *si = MHD_get_connection_info(mc,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	if (rq == NULL)
		return NULL;
	if ((rq->target = strdup(uri)) == NULL) {
		free(rq);
		return NULL;
	}
	rq->h = h;
	rq->mc = mc;
	rq->conn = si != NULL ? si->socket_context : NULL;
	rq->req.rq = rq;
	rq->req.httpd = h;
	if (rq->conn != NULL) {
		free_rq(rq->conn->rq);      /* one MHD dropped */
		rq->conn->rq = rq;
		pthread_mutex_lock(&h->mu);
		rq->conn->line_seen = true;
		pthread_mutex_unlock(&h->mu);
	}
	return rq;
}

static void
on_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct gb_httpd *h = cls;
	struct gb__httpd_rq *rq = *req_cls;

	(void)mc;
	if (rq == NULL)
		return;
	/* The next request on this connection has its own head deadline,
	 * counted from now (idle time included). */
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		set_phase(h, rq->conn, PH_HEAD);
	free_rq(rq);
	*req_cls = NULL;
}

/* Sends r (its body taken over) with the server's headers; close says
 * Connection: close. Returns MHD's answer. */
static enum MHD_Result
send_resp(struct gb_httpd *h, struct MHD_Connection *mc,
    struct gb_http_resp *r, bool close)
{
	struct MHD_Response *m;
	enum MHD_Result ok;
	unsigned i;

	if (r->body == NULL)
		gb_http_reply(r, r->status, "application/json", "{}");
	m = r->body != NULL ? MHD_create_response_from_buffer(r->body_len,
	    r->body, MHD_RESPMEM_MUST_FREE) : NULL;
	if (m == NULL) {
		free(r->body);
		r->body = NULL;
		return MHD_NO;          /* MHD closes the connection */
	}
	r->body = NULL;
	MHD_add_response_header(m, "Content-Type", r->type ? r->type :
	    "application/json");
	/* no-store unless the handler says otherwise (immutable tiles). */
	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, "Cache-Control") == 0)
			break;
	if (i == r->nheaders)
		MHD_add_response_header(m, "Cache-Control", "no-store");
	for (const char *const *p = h->o.headers; p != NULL && p[0] != NULL;
	    p += 2)
		MHD_add_response_header(m, p[0], p[1]);
	for (i = 0; i < r->nheaders; i++)
		MHD_add_response_header(m, r->headers[i].name,
		    r->headers[i].value);
	if (close || r->status == 413)
		MHD_add_response_header(m, "Connection", "close");
	ok = MHD_queue_response(mc, (unsigned)r->status, m);
	MHD_destroy_response(m);
	return ok;
}

/* Refuses a request before its body: the answer, then the connection
 * closes (the body, if any, is never read). */
static enum MHD_Result
refuse(struct gb__httpd_rq *rq, int status, const char *code,
    const char *detail)
{
	struct gb_httpd *h = rq->h;
	struct gb_http_resp r = { 0 };

	atomic_fetch_add(status == 413 ? &h->too_large : &h->bad_request, 1);
	if (h->o.refused != NULL)
		h->o.refused(h->o.arg, &rq->req, status, code);
	make_problem(h, status, code, detail, &r);
	if (status == 405)
		gb_http_resp_header(&r, "Allow", "GET, HEAD, POST");
	set_phase(h, rq->conn, PH_WORK);
	return send_resp(h, rq->mc, &r, true);
}

struct head_scan {
	unsigned n_length, n_te, n_type;
	const char *length;
};

static enum MHD_Result
scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct head_scan *s = cls;

	(void)kind;
	if (strcasecmp(key, "Content-Length") == 0) {
		s->n_length++;
		s->length = value;
	} else if (strcasecmp(key, "Transfer-Encoding") == 0) {
		s->n_te++;
	} else if (strcasecmp(key, "Content-Type") == 0) {
		s->n_type++;
	}
	return MHD_YES;
}

/* Splits and decodes the raw target into req->path and req->query.
 * Returns 0, or the status to refuse with (*why set). */
static int
parse_target(const char *t, struct gb_http_req *req, const char **why)
{
	const char *q = strchr(t, '?');
	size_t plen = q ? (size_t)(q - t) : strlen(t), o = 0;

	if (strcmp(t, "*") == 0) {
		strcpy(req->path, "*");
		return 0;
	}
	if (t[0] != '/') {
		*why = "the request target is not a path";
		return 400;
	}
	for (size_t i = 0; i < plen; i++) {
		int c = (unsigned char)t[i];

		if (c == '%') {
			if (i + 2 >= plen ||
			    gb_hex_value(t[i + 1]) < 0 ||
			    gb_hex_value(t[i + 2]) < 0) {
				*why = "bad percent escape in the path";
				return 400;
			}
			c = gb_hex_value(t[i + 1]) * 16 + gb_hex_value(t[i + 2]);
			/* "%00" stays as it is: a decoded path never holds a
			 * NUL (that would cut "/app.js%00.html" to "/app.js"),
			 * and no resource has a '%' in its name. */
			if (c == 0)
				c = '%';
			else
				i += 2;
		}
		if (o + 1 >= sizeof req->path) {
			*why = "the path is too long";
			return 414;
		}
		req->path[o++] = (char)c;
	}
	req->path[o] = '\0';
	if (q != NULL) {
		if (strlen(q + 1) >= sizeof req->query) {
			*why = "the query is too long";
			return 414;
		}
		strcpy(req->query, q + 1);
	}
	return 0;
}

/* The head has arrived: check it, and refuse at once what will not be
 * served. Returns MHD_YES to go on (the body, then the handler). */
static enum MHD_Result
begin(struct gb__httpd_rq *rq, const char *method)
{
	struct gb_httpd *h = rq->h;
	struct gb_http_req *req = &rq->req;
	struct head_scan s = { 0 };
	const char *why = NULL, *ct;
	int st;

	rq->started = true;
	set_phase(h, rq->conn, PH_BODY);
	if (rq->conn != NULL)
		snprintf(req->remote, sizeof req->remote, "%s",
		    rq->conn->remote);
	/* Kept (cut short if it must be) for the refusal's log line. */
	snprintf(req->method, sizeof req->method, "%s", method);
	if (strlen(method) >= sizeof req->method ||
	    (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	    strcmp(method, "POST") != 0))
		return refuse(rq, 405, "method_not_allowed", "use GET, HEAD or "
		    "POST");
	if ((st = parse_target(rq->target, req, &why)) != 0)
		return refuse(rq, st, st == 414 ? "too_large" : "bad_request",
		    why);
	MHD_get_connection_values(rq->mc, MHD_HEADER_KIND, scan_header, &s);
	if (s.n_te > 0)
		return s.n_length > 0 ? refuse(rq, 400, "bad_request", "both "
		    "Content-Length and Transfer-Encoding") : refuse(rq, 411,
		    "length_required", "send a Content-Length, not a chunked "
		    "body");
	if (s.n_length > 1)
		return refuse(rq, 400, "bad_request", "more than one "
		    "Content-Length");
	/* Two types: which one the body is would be a guess. */
	if (s.n_type > 1)
		return refuse(rq, 400, "bad_request", "more than one "
		    "Content-Type");
	if (s.n_length == 1) {
		const char *v = s.length;
		size_t digits = strspn(v, "0123456789");
		unsigned long long n;

		if (digits == 0 || v[digits] != '\0')
			return refuse(rq, 400, "bad_request", "bad "
			    "Content-Length");
		/* More than 19 digits overflows; it is over the limit too. */
		n = digits > 19 ? ULLONG_MAX : strtoull(v, NULL, 10);
		if (n > h->o.max_body)
			return refuse(rq, 413, "too_large", "the body is over "
			    "the limit");
		rq->clen = (size_t)n;
	}
	ct = MHD_lookup_connection_value(rq->mc, MHD_HEADER_KIND,
	    "Content-Type");
	if (ct != NULL && strlen(ct) >= sizeof req->content_type)
		ct = "invalid/too-long";    /* matches no type */
	snprintf(req->content_type, sizeof req->content_type, "%s",
	    ct ? ct : "");
	return MHD_YES;
}

/* Appends body bytes; the total is within clen (MHD stops at the
 * Content-Length, which begin() checked against the limit). The buffer
 * grows with what arrives, not with what is announced. */
static int
append(struct gb__httpd_rq *rq, const char *p, size_t n)
{
	if (n > rq->clen - rq->len)
		return -1;
	if (rq->len + n + 1 > rq->cap) {
		size_t cap = rq->cap ? rq->cap * 2 : 4096;
		char *b;

		if (cap < rq->len + n + 1)
			cap = rq->len + n + 1;
		if (cap > rq->clen + 1)
			cap = rq->clen + 1;
		if ((b = realloc(rq->body, cap)) == NULL)
			return -1;
		rq->body = b;
		rq->cap = cap;
	}
	memcpy(rq->body + rq->len, p, n);
	rq->len += n;
	return 0;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *mc, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **req_cls)
{
	struct gb_httpd *h = cls;
	struct gb__httpd_rq *rq = *req_cls;
	struct gb_http_resp r = { 0 };

	(void)url;
	(void)version;
	if (rq == NULL)
		return MHD_NO;          /* out of memory: MHD closes it */
	if (!rq->started)
		return begin(rq, method);
	if (*upload_len > 0) {
		if (append(rq, upload, *upload_len) != 0)
			return MHD_NO;
		*upload_len = 0;
		return MHD_YES;
	}
	/* The whole request is here. */
	set_phase(h, rq->conn, PH_WORK);
	rq->req.body = rq->body != NULL ? rq->body : "";
	rq->req.body_len = rq->len;
	if (rq->body != NULL)
		rq->body[rq->len] = '\0';
	r.status = 500;
	h->o.handler(h->o.arg, &rq->req, &r);
	return send_resp(h, mc, &r, false);
}

/* MHD's messages, as JSON lines, at most LOG_PER_SECOND a second (a
 * flood of connections must not become a flood of log lines). */
static void
on_log(void *cls, const char *fmt, va_list ap)
{
	struct gb_httpd *h = cls;
	int64_t sec = now_ms() / 1000;
	char msg[256];
	bool ok;
	size_t n;

	pthread_mutex_lock(&h->log_mu);
	if (h->log_second != sec) {
		h->log_second = sec;
		h->log_count = 0;
	}
	ok = h->log_count++ < LOG_PER_SECOND;
	pthread_mutex_unlock(&h->log_mu);
	if (!ok)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (msg[i] == '"' || msg[i] == '\\' || (unsigned char)msg[i] < 32)
			msg[i] = '\'';
	fprintf(stderr, "{\"event\":\"httpd\",\"message\":\"%s\"}\n", msg);
}

/* The raw 408 the sweeper sends: made once, at start. */
static char *
canned_timeout(struct gb_httpd *h, const char *detail, size_t *len)
{
	struct gb_http_resp r = { 0 };
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	if (f == NULL)
		return NULL;
	make_problem(h, 408, "timeout", detail, &r);
	fprintf(f, "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n", r.type ? r.type :
	    "application/problem+json", r.body_len);
	for (const char *const *p = h->o.headers; p != NULL && p[0] != NULL;
	    p += 2)
		fprintf(f, "%s: %s\r\n", p[0], p[1]);
	fputs("\r\n", f);
	if (r.body_len > 0)
		fwrite(r.body, 1, r.body_len, f);
	free(r.body);
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	*len = n;
	return s;
}

unsigned long
gb_httpd_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (unsigned long)rl.rlim_cur;
}

static void
free_server(struct gb_httpd *h)
{
	for (size_t i = 0; i < ADDR_BUCKETS; i++)
		while (h->addrs[i] != NULL) {
			struct addr_count *a = h->addrs[i];

			h->addrs[i] = a->next;
			free(a);
		}
	free(h->timeout_head);
	free(h->timeout_body);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	pthread_mutex_destroy(&h->log_mu);
	free(h);
}

int
gb_httpd_start(int fd, const struct gb_httpd_opts *o, struct gb_httpd **out)
{
	struct gb_httpd *h = NULL;
	unsigned workers, idle_s;
	char detail[128];
	int rc = GB_EINVAL;

	*out = NULL;
	if (o->handler == NULL || o->workers > GB_HTTPD_WORKERS_MAX ||
	    o->max_body == 0)
		goto fail;
	rc = GB_ENOMEM;
	if ((h = calloc(1, sizeof *h)) == NULL)
		goto fail;
	h->o = *o;
	h->fd = fd;
	pthread_mutex_init(&h->mu, NULL);
	pthread_mutex_init(&h->log_mu, NULL);
	{
		pthread_condattr_t ca;

		/* The sweeper's waits follow the monotonic clock: a change of
		 * the wall clock must not stall it. */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&h->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (h->o.head_ms == 0)
		h->o.head_ms = GB_HTTPD_HEAD_MS;
	if (h->o.body_ms == 0)
		h->o.body_ms = GB_HTTPD_BODY_MS;
	if (h->o.max_conns == 0)
		h->o.max_conns = GB_HTTPD_CONNS_MAX;
	if (h->o.stack_bytes == 0)
		h->o.stack_bytes = GB_HTTPD_STACK_BYTES;
	workers = o->workers;
	if (workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		n *= GB_HTTPD_THREADS_PER_CPU;
		workers = n < 2 ? 2 : n > GB_HTTPD_WORKERS_MAX ?
		    GB_HTTPD_WORKERS_MAX : (unsigned)n;
	}
	h->o.workers = workers;
	snprintf(detail, sizeof detail, "the request head did not arrive "
	    "within %u ms", h->o.head_ms);
	h->timeout_head = canned_timeout(h, detail, &h->timeout_head_len);
	snprintf(detail, sizeof detail, "the request body did not arrive "
	    "within %u ms", h->o.body_ms);
	h->timeout_body = canned_timeout(h, detail, &h->timeout_body_len);
	if (h->timeout_head == NULL || h->timeout_body == NULL)
		goto fail;
	if (pthread_create(&h->sweeper, NULL, sweeper, h) != 0)
		goto fail;
	/* MHD's idle timeout stays as a backstop for the answer's way out
	 * (a client that stops reading); our deadlines come first. poll(),
	 * not epoll: MHD 0.9.75's edge-triggered epoll loop misses an end of
	 * input that arrives with a request's last bytes, so a half-closed
	 * connection lingered until its deadline; poll() sees it at once.
	 * Either way a thread serves many connections. */
	idle_s = (h->o.head_ms > h->o.body_ms ? h->o.head_ms : h->o.body_ms) /
	    1000 + 1;
	*out = h;       /* before the first request can ask for it */
	h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0,
	    on_accept, h, on_request, h,
	    MHD_OPTION_EXTERNAL_LOGGER, on_log, h,     /* first, as MHD asks */
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_THREAD_POOL_SIZE, workers,
	    MHD_OPTION_THREAD_STACK_SIZE, h->o.stack_bytes,
	    MHD_OPTION_CONNECTION_LIMIT, h->o.max_conns + workers,
	    MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)GB_HTTPD_CONN_MEMORY_BYTES,
	    MHD_OPTION_STRICT_FOR_CLIENT, 1,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
	    MHD_OPTION_END);
	if (h->d == NULL) {
		*out = NULL;
		pthread_mutex_lock(&h->mu);
		h->stopping = true;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->sweeper, NULL);
		/* MHD may have closed the socket it was given. */
		if (fcntl(fd, F_GETFD) == -1)
			fd = -1;
		rc = GB_EIO;
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (h != NULL)
		free_server(h);
	return rc;
}

void
gb_httpd_stop(struct gb_httpd *h)
{
	int fd;
	int64_t until;

	if (h == NULL)
		return;
	/* Stop accepting; MHD hands the listening socket back. */
	fd = MHD_quiesce_daemon(h->d);
	if (fd >= 0)
		close(fd);
	/* Requests at work finish and are answered. */
	until = now_ms() + GB_HTTPD_DRAIN_MS;
	for (;;) {
		bool busy = false;

		pthread_mutex_lock(&h->mu);
		for (struct conn *c = h->conns; c != NULL && !busy; c = c->next)
			busy = c->phase == PH_WORK;
		pthread_mutex_unlock(&h->mu);
		if (!busy || now_ms() >= until)
			break;
		usleep(10000);
	}
	MHD_stop_daemon(h->d);
	pthread_mutex_lock(&h->mu);
	h->stopping = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->sweeper, NULL);
	free_server(h);
}

void
gb_httpd_stats(const struct gb_httpd *h, struct gb_httpd_stats *st)
{
	struct gb_httpd *m = (struct gb_httpd *)(uintptr_t)h;

	memset(st, 0, sizeof *st);
	if (h == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	st->open = h->open;
	pthread_mutex_unlock(&m->mu);
	st->accepted = atomic_load(&m->accepted);
	st->deadline_head = atomic_load(&m->deadline_head);
	st->deadline_body = atomic_load(&m->deadline_body);
	st->refused_total = atomic_load(&m->refused_total);
	st->refused_addr = atomic_load(&m->refused_addr);
	st->too_large = atomic_load(&m->too_large);
	st->bad_request = atomic_load(&m->bad_request);
}

char *
gb_httpd_metrics_text(const struct gb_httpd *h, const char *p)
{
	struct gb_httpd_stats s;
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	if (f == NULL)
		return NULL;
	gb_httpd_stats(h, &s);
	fprintf(f, "# HELP %s_http_connections_open HTTP connections open "
	    "now.\n# TYPE %s_http_connections_open gauge\n"
	    "%s_http_connections_open %llu\n", p, p, p,
	    (unsigned long long)s.open);
	fprintf(f, "# HELP %s_http_connections_total HTTP connections "
	    "accepted.\n# TYPE %s_http_connections_total counter\n"
	    "%s_http_connections_total %llu\n", p, p, p,
	    (unsigned long long)s.accepted);
	fprintf(f, "# HELP %s_http_deadline_closed_total HTTP connections "
	    "closed because a request's head or body missed its deadline.\n"
	    "# TYPE %s_http_deadline_closed_total counter\n"
	    "%s_http_deadline_closed_total{phase=\"head\"} %llu\n"
	    "%s_http_deadline_closed_total{phase=\"body\"} %llu\n", p, p, p,
	    (unsigned long long)s.deadline_head, p,
	    (unsigned long long)s.deadline_body);
	fprintf(f, "# HELP %s_http_refused_total HTTP connections refused "
	    "over a connection cap.\n# TYPE %s_http_refused_total counter\n"
	    "%s_http_refused_total{limit=\"total\"} %llu\n"
	    "%s_http_refused_total{limit=\"address\"} %llu\n", p, p, p,
	    (unsigned long long)s.refused_total, p,
	    (unsigned long long)s.refused_addr);
	fprintf(f, "# HELP %s_http_rejected_total HTTP requests the server "
	    "refused before their body.\n# TYPE %s_http_rejected_total "
	    "counter\n%s_http_rejected_total{reason=\"too_large\"} %llu\n"
	    "%s_http_rejected_total{reason=\"bad_request\"} %llu\n", p, p, p,
	    (unsigned long long)s.too_large, p,
	    (unsigned long long)s.bad_request);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
