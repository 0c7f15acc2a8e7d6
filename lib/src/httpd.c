/*
 * The small HTTP/1.1 server (gb/httpd.h).
 */
#include <arpa/inet.h>
#include <errno.h>
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

#include "gb/codec.h"
#include "gb/err.h"
#include "gb/httpd.h"
#include "httpd_int.h"

#define QUEUE_MAX 256           /* accepted connections waiting */

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
	if (listen(fd, 128) != 0) {
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

struct gb_httpd {
	int fd;
	struct gb_httpd_opts o;
	pthread_t acceptor, workers[GB_HTTPD_WORKERS_MAX];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int queue[QUEUE_MAX];
	size_t head, count;
	bool stopping;
};

void
gb_http_reply(struct gb_http_resp *r, int status, const char *type,
    const char *body)
{
	free(r->body);
	r->status = status;
	r->type = type;
	r->body = strdup(body);
	r->body_len = r->body != NULL ? strlen(body) : 0;
	if (r->body == NULL)
		r->status = 500;
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
				if (o + 1 >= len)
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

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

static void
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void
respond(int fd, const struct gb_http_resp *r)
{
	char head[256];
	int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\nConnection: close\r\n\r\n", r->status,
	    reason_phrase(r->status), r->type ? r->type : "application/json",
	    r->body_len);
	char *all = malloc((size_t)n + r->body_len);

	if (all == NULL) {
		send_all(fd, head, (size_t)n);
		send_all(fd, r->body, r->body_len);
		return;
	}
	memcpy(all, head, (size_t)n);
	if (r->body_len > 0)
		memcpy(all + n, r->body, r->body_len);
	send_all(fd, all, (size_t)n + r->body_len);    /* one write */
	free(all);
}

static void
problem(int fd, int status, const char *code, const char *detail)
{
	struct gb_http_resp r = { 0 };
	char body[512];

	snprintf(body, sizeof body, "{\"status\":%d,\"reason\":\"%s\","
	    "\"detail\":\"%s\"}", status, code, detail);
	gb_http_reply(&r, status, "application/problem+json", body);
	respond(fd, &r);
	free(r.body);
}

/*
 * After refusing a request whose body is still arriving: stop writing, then
 * read and drop what the client sends (bounded, and within the timeout), so
 * that it is not reset before it reads the answer.
 */
static void
linger_close(int fd)
{
	char sink[4096];
	size_t dropped = 0;
	ssize_t r;

	shutdown(fd, SHUT_WR);
	while (dropped < (1u << 20) &&
	    (r = recv(fd, sink, sizeof sink, 0)) > 0)
		dropped += (size_t)r;
}

/* Reads and answers one request on fd. */
void
gb__httpd_serve(const struct gb_httpd_opts *o, int fd)
{
	char head[GB_HTTPD_HEAD_MAX + 1], *end = NULL, *line, *save, *body;
	struct timeval tv = { o->timeout_ms / 1000,
	    (o->timeout_ms % 1000) * 1000 };
	struct gb_http_req req;
	struct gb_http_resp resp = { 0 };
	char *buf;                      /* the body, then req.body */
	size_t n = 0, have, clen = 0;
	bool has_len = false;
	char *target, *q;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	while (end == NULL) {
		ssize_t r;

		if (n == GB_HTTPD_HEAD_MAX) {
			problem(fd, 431, "too_large", "request head over 8192 "
			    "bytes");
			return;
		}
		r = recv(fd, head + n, GB_HTTPD_HEAD_MAX - n, 0);
		if (r <= 0) {
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				problem(fd, 408, "timeout", "the request did not "
				    "arrive in time");
			return;
		}
		n += (size_t)r;
		head[n] = '\0';
		end = strstr(head, "\r\n\r\n");
	}
	*end = '\0';
	body = end + 4;
	have = n - (size_t)(body - head);

	memset(&req, 0, sizeof req);
	line = strtok_r(head, "\r\n", &save);
	if (line == NULL || sscanf(line, "%7s", req.method) != 1 ||
	    (target = strchr(line, ' ')) == NULL) {
		problem(fd, 400, "bad_request", "malformed request line");
		return;
	}
	target++;
	if ((q = strchr(target, ' ')) == NULL || strncmp(q, " HTTP/1.", 8) != 0) {
		problem(fd, 400, "bad_request", "malformed request line");
		return;
	}
	*q = '\0';
	if ((q = strchr(target, '?')) != NULL) {
		*q++ = '\0';
		if (strlen(q) >= sizeof req.query) {
			problem(fd, 431, "too_large", "query too long");
			return;
		}
		strcpy(req.query, q);
	}
	if (target[0] != '/' || strlen(target) >= sizeof req.path) {
		problem(fd, 400, "bad_request", "bad request target");
		return;
	}
	strcpy(req.path, target);
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		char *colon = strchr(line, ':'), *v;

		if (colon == NULL) {
			problem(fd, 400, "bad_request", "malformed header");
			return;
		}
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		if (strcasecmp(line, "Content-Length") == 0) {
			char *e;

			errno = 0;
			clen = strtoull(v, &e, 10);
			if (errno != 0 || *e != '\0' || *v < '0' || *v > '9') {
				problem(fd, 400, "bad_request", "bad "
				    "Content-Length");
				return;
			}
			has_len = true;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			problem(fd, 411, "length_required", "send a "
			    "Content-Length, not a chunked body");
			return;
		} else if (strcasecmp(line, "Content-Type") == 0) {
			snprintf(req.content_type, sizeof req.content_type,
			    "%s", v);
		}
	}
	if (!has_len)
		clen = 0;
	if (clen > o->max_body) {
		problem(fd, 413, "too_large", "the body is over the limit");
		linger_close(fd);
		return;
	}
	if ((buf = malloc(clen + 1)) == NULL) {
		problem(fd, 500, "no_memory", "out of memory");
		return;
	}
	if (have > clen)
		have = clen;            /* nothing after the body is read */
	memcpy(buf, body, have);
	while (have < clen) {
		ssize_t r = recv(fd, buf + have, clen - have, 0);

		if (r <= 0) {
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				problem(fd, 408, "timeout", "the body did not "
				    "arrive in time");
			free(buf);
			return;
		}
		have += (size_t)r;
	}
	buf[clen] = '\0';
	req.body = buf;
	req.body_len = clen;
	resp.status = 500;
	o->handler(o->arg, &req, &resp);
	if (resp.body == NULL)
		gb_http_reply(&resp, resp.status, "application/json", "{}");
	respond(fd, &resp);
	free(resp.body);
	free(buf);
}

static void *
worker(void *arg)
{
	struct gb_httpd *h = arg;

	for (;;) {
		int fd;

		pthread_mutex_lock(&h->mu);
		while (h->count == 0 && !h->stopping)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->count == 0) {
			pthread_mutex_unlock(&h->mu);
			return NULL;
		}
		fd = h->queue[h->head];
		h->head = (h->head + 1) % QUEUE_MAX;
		h->count--;
		pthread_mutex_unlock(&h->mu);
		gb__httpd_serve(&h->o, fd);
		close(fd);
	}
}

static void *
acceptor(void *arg)
{
	struct gb_httpd *h = arg;

	for (;;) {
		int fd = accept(h->fd, NULL, NULL);
		bool queued = false;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE) {
				if (errno == EMFILE || errno == ENFILE)
					usleep(10000);
				pthread_mutex_lock(&h->mu);
				if (h->stopping) {
					pthread_mutex_unlock(&h->mu);
					return NULL;
				}
				pthread_mutex_unlock(&h->mu);
				continue;
			}
			return NULL;            /* shut down */
		}
		pthread_mutex_lock(&h->mu);
		if (!h->stopping && h->count < QUEUE_MAX) {
			h->queue[(h->head + h->count) % QUEUE_MAX] = fd;
			h->count++;
			queued = true;
			pthread_cond_signal(&h->cv);
		}
		pthread_mutex_unlock(&h->mu);
		if (!queued) {                  /* say so, do not stall */
			problem(fd, 503, "busy", "too many connections waiting");
			close(fd);
		}
	}
}

int
gb_httpd_start(int fd, const struct gb_httpd_opts *o, struct gb_httpd **out)
{
	struct gb_httpd *h = calloc(1, sizeof *h);
	unsigned started = 0;

	*out = NULL;
	if (h == NULL || o->workers == 0 || o->workers > GB_HTTPD_WORKERS_MAX ||
	    o->handler == NULL) {
		free(h);
		close(fd);
		return GB_EINVAL;
	}
	h->fd = fd;
	h->o = *o;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	for (; started < o->workers; started++)
		if (pthread_create(&h->workers[started], NULL, worker, h) != 0)
			break;
	if (started < o->workers ||
	    pthread_create(&h->acceptor, NULL, acceptor, h) != 0) {
		h->o.workers = started;
		pthread_mutex_lock(&h->mu);
		h->stopping = true;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
		for (unsigned i = 0; i < started; i++)
			pthread_join(h->workers[i], NULL);
		close(fd);
		free(h);
		return GB_ENOMEM;
	}
	*out = h;
	return 0;
}

void
gb_httpd_stop(struct gb_httpd *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->stopping = true;
	pthread_mutex_unlock(&h->mu);
	shutdown(h->fd, SHUT_RDWR);     /* wakes accept() */
	pthread_join(h->acceptor, NULL);
	pthread_mutex_lock(&h->mu);
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	for (unsigned i = 0; i < h->o.workers; i++)
		pthread_join(h->workers[i], NULL);
	close(h->fd);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
