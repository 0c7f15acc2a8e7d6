/*
 * The relay (relay.h). Each connection is a pair of non-blocking sockets
 * and two buffers; data read from one side is written to the other before
 * more is read, so nothing is lost or reordered and memory is bounded. An
 * end of input on one side is passed on as a half-close (shutdown(SHUT_WR))
 * once its buffer is drained; the pair is closed when both directions have
 * ended, on an error, or after the idle timeout.
 */
#define _GNU_SOURCE             /* accept4, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gb/timefmt.h"
#include "allowlist.h"
#include "relay.h"

struct half {
	uint8_t buf[RELAY_BUF];
	size_t off, len;
	bool eof;                       /* the reading side ended */
	bool shut;                      /* passed on to the writing side */
};

struct conn {
	struct forwarder *f;
	int a, b;                       /* client, enclave */
	bool connecting;
	int64_t start_ms, last_ms;
	struct half ab, ba;             /* client->enclave, enclave->client */
	struct conn *prev, *next;
	bool dead;
	bool a_off, b_off;              /* out of the epoll set: finished */
};

/* What an epoll event points at: a listener or one side of a conn. */
struct tag {
	int kind;                       /* 0 listener, 1 side a, 2 side b */
	void *p;
};

struct relay {
	struct forwarder *f;
	unsigned n;
	struct relay_opts o;
	int ep, wake[2];
	pthread_t thread;
	atomic_bool stopping;
	unsigned drain_ms;
	struct conn *conns;
	struct conn *grave;             /* closed, freed after the events */
	struct tag ltags[RELAY_MAX_FORWARDERS];
};

/* s as the inside of a JSON string: messages quote names and file
 * contents, which would otherwise break the line. */
static void
put_json(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
}

void
relay_log(const char *event, const struct forwarder *f, const char *detail)
{
	char ts[40];

	gb_time_format_rfc3339(gb_time_now_ms(), ts, sizeof ts);
	flockfile(stderr);
	fprintf(stderr, "{\"time\":\"%s\",\"event\":\"%s\"", ts, event);
	if (f != NULL) {
		fputs(",\"listen\":\"", stderr);
		put_json(stderr, f->listen_text);
		fputs("\",\"target\":\"", stderr);
		put_json(stderr, f->target_text);
		fputc('"', stderr);
	}
	if (detail != NULL) {
		fputs(",\"detail\":\"", stderr);
		put_json(stderr, detail);
		fputc('"', stderr);
	}
	fprintf(stderr, "}\n");
	funlockfile(stderr);
}

/* A non-blocking socket connecting to an outbound forwarder's last
 * resolved address. */
static int
connect_resolved(struct forwarder *f)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, rc, one = 1;

	pthread_mutex_lock(&f->mu);
	ss = f->addr;
	len = f->addrlen;
	pthread_mutex_unlock(&f->mu);
	if (len == 0) {
		errno = EHOSTUNREACH;
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	rc = connect(fd, (struct sockaddr *)&ss, len);
	if (rc != 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Addresses kept from one lookup: DNS answers for AWS endpoints carry up
 * to 8; the rest of a longer answer is not used. */
#define RESOLVE_ADDRS_MAX 16

/* The addresses a name resolves to, in the order they are tried. */
struct lookup {
	struct sockaddr_storage a[RESOLVE_ADDRS_MAX];
	socklen_t len[RESOLVE_ADDRS_MAX];
	unsigned n;
	bool dns;                       /* from DNS, with ttl */
	uint32_t ttl;                   /* the smallest of the answers' */
};

/* Appends an IPv4 (4 bytes) or IPv6 (16 bytes) address with port. */
static void
lookup_add(struct lookup *l, int family, const void *addr, unsigned port)
{
	if (l->n == RESOLVE_ADDRS_MAX)
		return;
	memset(&l->a[l->n], 0, sizeof l->a[l->n]);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&l->a[l->n];

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, addr, 4);
		l->len[l->n++] = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->a[l->n];

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, addr, 16);
		l->len[l->n++] = sizeof *sin6;
	}
}

/* Records of type (ns_t_a or ns_t_aaaa) for name through DNS, appended to
 * out with the smallest TTL; dns, if not NULL, is the server. Returns how
 * many were added (0: DNS does not answer any). */
static unsigned
dns_lookup(const char *name, const char *dns, int type, unsigned port,
    struct lookup *out)
{
	struct __res_state st;
	unsigned char ans[4096];
	unsigned before = out->n;
	size_t size = type == ns_t_a ? 4 : 16;
	ns_msg msg;
	ns_rr rr;
	int len;

	memset(&st, 0, sizeof st);
	if (res_ninit(&st) != 0)
		return 0;
	st.retrans = 1;                 /* a dead server costs ~1 s, not 10 */
	st.retry = 1;
	if (dns != NULL) {
		char host[64];
		const char *colon = strrchr(dns, ':');

		if (colon == NULL || (size_t)(colon - dns) >= sizeof host)
			goto out;
		memcpy(host, dns, (size_t)(colon - dns));
		host[colon - dns] = '\0';
		st.nsaddr_list[0].sin_family = AF_INET;
		st.nsaddr_list[0].sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &st.nsaddr_list[0].sin_addr) != 1)
			goto out;
		st.nscount = 1;
	}
	len = res_nquery(&st, name, ns_c_in, type, ans, sizeof ans);
	if (len <= 0 || ns_initparse(ans, len, &msg) != 0)
		goto out;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) != 0)
			break;
		if ((int)ns_rr_type(rr) != type || ns_rr_rdlen(rr) != size)
			continue;
		if (out->n == before || ns_rr_ttl(rr) < out->ttl)
			out->ttl = ns_rr_ttl(rr);
		lookup_add(out, type == ns_t_a ? AF_INET : AF_INET6,
		    ns_rr_rdata(rr), port);
	}
	out->dns |= out->n > before;
out:
	res_nclose(&st);
	return out->n - before;
}

/*
 * The addresses of name with port, of the family asked for (AF_UNSPEC:
 * IPv4 first, then IPv6, as vsock-proxy's resolver orders them): a
 * literal address as it is, else DNS (A, then AAAA when there is no A),
 * else, unless dns names the server to ask, getaddrinfo() (a name in
 * /etc/hosts, say). Returns how many; on 0, *why says why.
 */
static unsigned
resolve_name(const char *name, unsigned port, int family, const char *dns,
    struct lookup *out, const char **why)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_NUMERICSERV, .ai_family = family };
	struct addrinfo *ai = NULL;
	unsigned char bin[16];
	char ps[8];
	int e;

	memset(out, 0, sizeof *out);
	*why = NULL;
	if (inet_pton(AF_INET, name, bin) == 1 ||
	    inet_pton(AF_INET6, name, bin) == 1) {
		int af = strchr(name, ':') ? AF_INET6 : AF_INET;

		if (family != AF_UNSPEC && family != af) {
			*why = af == AF_INET ? "an IPv4 address, and -6 (--ipv6) "
			    "is given" : "an IPv6 address, and -4 (--ipv4) is given";
			return 0;
		}
		lookup_add(out, af, bin, port);
		return 1;
	}
	if (family != AF_INET6)
		(void)dns_lookup(name, dns, ns_t_a, port, out);
	if (family != AF_INET && out->n == 0)
		(void)dns_lookup(name, dns, ns_t_aaaa, port, out);
	if (out->n > 0)
		return out->n;
	if (dns != NULL) {
		/* --dns-server is asked instead of the system's resolver, not
		 * before it: tests send no query anywhere else. */
		*why = family == AF_INET ? "the DNS server has no IPv4 address" :
		    family == AF_INET6 ? "the DNS server has no IPv6 address" :
		    "the DNS server has no address";
		return 0;
	}
	snprintf(ps, sizeof ps, "%u", port);
	if ((e = getaddrinfo(name, ps, &hints, &ai)) != 0) {
		*why = gai_strerror(e);
		return 0;
	}
	/* IPv4 first, then IPv6, whatever getaddrinfo's order. */
	for (int pass = 0; pass < 2; pass++)
		for (struct addrinfo *p = ai; p != NULL; p = p->ai_next)
			if (p->ai_family == (pass == 0 ? AF_INET : AF_INET6))
				lookup_add(out, p->ai_family, p->ai_family ==
				    AF_INET ? (const void *)&((struct sockaddr_in *)
				    (void *)p->ai_addr)->sin_addr : (const void *)
				    &((struct sockaddr_in6 *)(void *)p->ai_addr)->
				    sin6_addr, port);
	freeaddrinfo(ai);
	if (out->n == 0)
		*why = family == AF_INET ? "no IPv4 address" :
		    family == AF_INET6 ? "no IPv6 address" : "no address";
	return out->n;
}

/* How the listed names of an allowlist are resolved for a match by
 * address: as the target is (same DNS server and family). */
struct listed_ctx {
	const char *dns;
	int family;
};

static unsigned
resolve_listed(void *arg, const char *name, struct sockaddr_storage *addrs,
    unsigned max)
{
	struct listed_ctx *c = arg;
	struct lookup lk;
	const char *why;
	unsigned n = resolve_name(name, 0, c->family, c->dns, &lk, &why);

	for (unsigned k = 0; k < n && k < max; k++)
		addrs[k] = lk.a[k];
	return n < max ? n : max;
}

/* Logs that an address of f's target is refused, and why. */
static void
refuse_address(struct forwarder *f, const struct sockaddr *sa, socklen_t len,
    const char *why)
{
	char host[INET6_ADDRSTRLEN], msg[200];

	if (getnameinfo(sa, len, host, sizeof host, NULL, 0,
	    NI_NUMERICHOST) != 0)
		snprintf(host, sizeof host, "?");
	snprintf(msg, sizeof msg, "%s is %s", host, why);
	relay_log("address_refused", f, msg);
}

/*
 * Chooses f's address among lk's: the first not in a refused range
 * (allowlist.c) and, when f's target is on the allowlist by address only,
 * one that a listed name with its port resolves to. Refusals are logged;
 * with none left, f keeps no address.
 */
static void
choose_address(struct forwarder *f, struct lookup *lk, const char *dns)
{
	struct lookup ok = { .n = 0 };
	int pick = -1;

	for (unsigned k = 0; k < lk->n; k++) {
		const char *why = allowlist_refused((struct sockaddr *)&lk->a[k]);

		if (why != NULL) {
			refuse_address(f, (struct sockaddr *)&lk->a[k],
			    lk->len[k], why);
			continue;
		}
		ok.a[ok.n] = lk->a[k];
		ok.len[ok.n++] = lk->len[k];
	}
	if (ok.n > 0 && f->by_address != NULL) {
		struct listed_ctx c = { dns, f->family };

		pick = allowlist_address_listed(f->by_address, f->target.port,
		    ok.a, ok.n, resolve_listed, &c);
		if (pick < 0)
			for (unsigned k = 0; k < ok.n; k++)
				refuse_address(f, (struct sockaddr *)&ok.a[k],
				    ok.len[k], "not an address of a name the "
				    "allowlist lists with this port");
	} else if (ok.n > 0) {
		pick = 0;
	}
	pthread_mutex_lock(&f->mu);
	if (pick >= 0)
		memcpy(&f->addr, &ok.a[pick], ok.len[pick]);
	f->addrlen = pick >= 0 ? ok.len[pick] : 0;
	pthread_mutex_unlock(&f->mu);
}

int64_t
relay_resolve(struct forwarder *f, unsigned n, unsigned max_s,
    const char *dns)
{
	int64_t now = gb_time_now_ms(), next = (int64_t)max_s * 1000;

	for (unsigned i = 0; i < n; i++) {
		struct lookup lk;
		const char *why;

		if (!f[i].outbound || !f[i].in_use)
			continue;
		if (f[i].resolve_at_ms > now) {
			if (f[i].resolve_at_ms - now < next)
				next = f[i].resolve_at_ms - now;
			continue;
		}
		if (resolve_name(f[i].target.host, f[i].target.port,
		    f[i].family, dns, &lk, &why) == 0)
			relay_log("resolve_failed", &f[i], why);
		else
			choose_address(&f[i], &lk, dns);
		if (lk.dns) {
			int64_t wait = (int64_t)(lk.ttl < 1 ? 1 : lk.ttl) * 1000;

			if (wait > (int64_t)max_s * 1000)
				wait = (int64_t)max_s * 1000;
			f[i].resolve_at_ms = now + wait;
		} else {
			f[i].resolve_at_ms = now + (int64_t)max_s * 1000;
		}
		if (f[i].resolve_at_ms - now < next)
			next = f[i].resolve_at_ms - now;
	}
	return next < 200 ? 200 : next;
}

/* A non-blocking socket connecting to target; -1 on immediate failure. */
static int
connect_to(const struct gb_listen_addr *t)
{
	int fd = -1, rc;

	if (t->kind == GB_LISTEN_VSOCK) {
		struct sockaddr_vm vm = { .svm_family = AF_VSOCK,
		    .svm_cid = t->cid, .svm_port = t->port };

		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&vm,
		    sizeof vm);
	} else if (t->kind == GB_LISTEN_UNIX) {
		struct sockaddr_un un = { .sun_family = AF_UNIX };

		strcpy(un.sun_path, t->path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&un,
		    sizeof un);
	} else {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		    .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
		struct addrinfo *ai = NULL;
		char port[8];
		int one = 1;

		snprintf(port, sizeof port, "%u", t->port);
		if (getaddrinfo(t->host, port, &hints, &ai) != 0)
			return -1;
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd >= 0)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof one);
		rc = fd < 0 ? -1 : connect(fd, ai->ai_addr, ai->ai_addrlen);
		freeaddrinfo(ai);
	}
	if (fd >= 0 && rc != 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

int
relay_connect(const struct gb_listen_addr *target)
{
	return connect_to(target);
}

bool
relay_reachable(const struct gb_listen_addr *target, unsigned timeout_ms)
{
	int fd = connect_to(target), err = 0;
	socklen_t len = sizeof err;
	struct pollfd p = { fd, POLLOUT, 0 };
	bool ok;

	if (fd < 0)
		return false;
	ok = poll(&p, 1, (int)timeout_ms) == 1 &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
	close(fd);
	return ok;
}

int
relay_listen(struct forwarder *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const char *why;

		if (!f[i].in_use || f[i].fd >= 0)
			continue;
		if ((f[i].fd = gb_listen_open(&f[i].listen, &why)) < 0) {
			fprintf(stderr, "glassbox-parent: %s: %s: %s\n",
			    f[i].listen_text, why, strerror(errno));
			return -1;
		}
		(void)fcntl(f[i].fd, F_SETFL, O_NONBLOCK);
	}
	return 0;
}

static void
watch(struct relay *r, int op, int fd, uint32_t events, struct tag *t)
{
	struct epoll_event ev = { .events = events, .data.ptr = t };

	(void)epoll_ctl(r->ep, op, fd, &ev);
}

/* Each conn carries its two tags right after it. */
struct conn_box {
	struct conn c;
	struct tag ta, tb;
};

static void
conn_close(struct relay *r, struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	/* Out of the epoll set first: close() leaves it only when no other
	 * descriptor refers to the socket, and a child forked by the health
	 * port (the describe command) holds copies until its exec(). An event
	 * for a freed conn would follow. ENOENT for a socket already out is
	 * fine. */
	(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, c->a, NULL);
	(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, c->b, NULL);
	close(c->a);
	close(c->b);
	atomic_fetch_sub(&c->f->active, 1);
	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = r->grave;
	r->grave = c;
}

/* Frees the conns closed since the last call (each is the first member of
 * its conn_box). */
static void
reap(struct relay *r)
{
	while (r->grave != NULL) {
		struct conn *c = r->grave;

		r->grave = c->next;
		free(c);
	}
}

/* Moves what can be moved from `from` to `to` through h. Returns -1 on an
 * error of either socket. */
static int
pump(int from, int to, struct half *h, atomic_uint_fast64_t *count,
    bool can_write)
{
	for (;;) {
		bool moved = false;

		if (!h->eof && h->len < RELAY_BUF) {
			ssize_t n = recv(from, h->buf + h->len,
			    RELAY_BUF - h->len, 0);

			if (n > 0) {
				h->len += (size_t)n;
				atomic_fetch_add(count, (uint64_t)n);
				moved = true;
			} else if (n == 0) {
				h->eof = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				return -1;
			}
		}
		if (can_write && h->off < h->len) {
			ssize_t n = send(to, h->buf + h->off, h->len - h->off,
			    MSG_NOSIGNAL);

			if (n > 0) {
				h->off += (size_t)n;
				moved = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				return -1;
			}
		}
		if (h->off == h->len)
			h->off = h->len = 0;
		if (h->eof && h->len == 0 && !h->shut && can_write) {
			shutdown(to, SHUT_WR);
			h->shut = true;
		}
		if (!moved)
			return 0;
	}
}

static void
update(struct relay *r, struct conn_box *x)
{
	struct conn *c = &x->c;
	uint32_t ea = 0, eb = 0;

	if (!c->connecting) {
		if (!c->ab.eof && c->ab.len < RELAY_BUF)
			ea |= EPOLLIN;
		if (c->ba.len > c->ba.off)
			ea |= EPOLLOUT;
		if (!c->ba.eof && c->ba.len < RELAY_BUF)
			eb |= EPOLLIN;
		if (c->ab.len > c->ab.off)
			eb |= EPOLLOUT;
	} else {
		eb = EPOLLOUT;
	}
	/* RDHUP only with IN: reported while we cannot read, it would wake
	 * the loop again and again. */
	if (ea & EPOLLIN)
		ea |= EPOLLRDHUP;
	if (eb & EPOLLIN)
		eb |= EPOLLRDHUP;
	/* A socket done both ways leaves the set: its HUP, which no mask
	 * can hide, would otherwise wake the loop until the other side
	 * drains. */
	if (!c->a_off && c->ab.eof && c->ba.shut) {
		(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, c->a, NULL);
		c->a_off = true;
	} else if (!c->a_off) {
		watch(r, EPOLL_CTL_MOD, c->a, ea, &x->ta);
	}
	if (!c->b_off && c->ba.eof && c->ab.shut) {
		(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, c->b, NULL);
		c->b_off = true;
	} else if (!c->b_off) {
		watch(r, EPOLL_CTL_MOD, c->b, eb, &x->tb);
	}
}

static void
service(struct relay *r, struct conn_box *x)
{
	struct conn *c = &x->c;

	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof err;

		if (getsockopt(c->b, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
		    err == EINPROGRESS)
			return;
		if (err != 0) {
			atomic_fetch_add(&c->f->failed, 1);
			relay_log("connect_failed", c->f, strerror(err));
			conn_close(r, c);
			return;
		}
		c->connecting = false;
	}
	if (pump(c->a, c->b, &c->ab, &c->f->bytes_in, true) != 0 ||
	    pump(c->b, c->a, &c->ba, &c->f->bytes_out, true) != 0) {
		conn_close(r, c);
		return;
	}
	c->last_ms = gb_time_now_ms();
	if (c->ab.shut && c->ba.shut) {
		conn_close(r, c);
		return;
	}
	update(r, x);
}

static void
accept_on(struct relay *r, struct forwarder *f)
{
	for (;;) {
		int a = accept4(f->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn_box *x;
		int one = 1;

		if (a < 0)
			return;
		if (atomic_load(&r->stopping) ||
		    atomic_load(&f->active) >= f->max_conns) {
			/* Refused at once, never left to stall. */
			close(a);
			atomic_fetch_add(&f->refused, 1);
			relay_log("refused", f, "connection limit");
			continue;
		}
		if (f->outbound && !atomic_load(&f->allowed)) {
			close(a);
			atomic_fetch_add(&f->refused, 1);
			relay_log("denied", f, "not on the allowlist");
			continue;
		}
		(void)setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if ((x = calloc(1, sizeof *x)) == NULL) {
			close(a);
			atomic_fetch_add(&f->refused, 1);
			continue;
		}
		x->c.f = f;
		x->c.a = a;
		if ((x->c.b = f->outbound ? connect_resolved(f) :
		    connect_to(&f->target)) < 0) {
			close(a);
			free(x);
			atomic_fetch_add(&f->failed, 1);
			relay_log("connect_failed", f, strerror(errno));
			continue;
		}
		atomic_fetch_add(&f->active, 1);
		atomic_fetch_add(&f->accepted, 1);
		x->c.connecting = true;
		x->c.start_ms = x->c.last_ms = gb_time_now_ms();
		x->ta = (struct tag){ 1, x };
		x->tb = (struct tag){ 2, x };
		x->c.next = r->conns;
		if (r->conns)
			r->conns->prev = &x->c;
		r->conns = &x->c;
		watch(r, EPOLL_CTL_ADD, a, 0, &x->ta);
		watch(r, EPOLL_CTL_ADD, x->c.b, EPOLLOUT, &x->tb);
	}
}

/* A command through the wake pipe: add or retire a forwarder slot. */
struct command {
	int op;                         /* 1 add, 2 retire, 0 wake only */
	unsigned slot;
};

static void
commands(struct relay *r)
{
	struct command c;

	while (read(r->wake[0], &c, sizeof c) == (ssize_t)sizeof c) {
		struct forwarder *f;

		if (c.slot >= RELAY_MAX_FORWARDERS)
			continue;
		f = &r->f[c.slot];
		if (c.op == 1 && f->fd >= 0 && !atomic_load(&r->stopping)) {
			r->ltags[c.slot] = (struct tag){ 0, f };
			watch(r, EPOLL_CTL_ADD, f->fd, EPOLLIN, &r->ltags[c.slot]);
			relay_log("forwarder_added", f, NULL);
		} else if (c.op == 2 && f->fd >= 0) {
			(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, f->fd, NULL);
			close(f->fd);
			f->fd = -1;
			relay_log("forwarder_retired", f, "open connections go on");
		}
	}
}

static int
command(struct relay *r, int op, struct forwarder *f)
{
	struct command c = { op, (unsigned)(f - r->f) };

	return write(r->wake[1], &c, sizeof c) == (ssize_t)sizeof c ? 0 : -1;
}

int
relay_add(struct relay *r, struct forwarder *f)
{
	return command(r, 1, f);
}

int
relay_retire(struct relay *r, struct forwarder *f)
{
	return command(r, 2, f);
}

static void *
loop(void *arg)
{
	struct relay *r = arg;
	struct epoll_event ev[64];
	int64_t stop_at = 0;

	for (;;) {
		int n = epoll_wait(r->ep, ev, 64, 200);
		int64_t now = gb_time_now_ms();

		for (int i = 0; i < n; i++) {
			struct tag *t = ev[i].data.ptr;

			if (t == NULL) {                /* the wake pipe */
				commands(r);
				continue;
			}
			if (t->kind == 0) {
				if (!atomic_load(&r->stopping))
					accept_on(r, t->p);
			} else if (!((struct conn_box *)t->p)->c.dead) {
				service(r, t->p);
			}
		}
		for (struct conn *c = r->conns, *next; c != NULL; c = next) {
			next = c->next;
			if (c->connecting && now - c->start_ms >
			    r->o.connect_timeout_ms) {
				atomic_fetch_add(&c->f->failed, 1);
				relay_log("connect_timeout", c->f, NULL);
				conn_close(r, c);
			} else if (!c->connecting && now - c->last_ms >
			    r->o.idle_timeout_ms) {
				relay_log("idle_timeout", c->f, NULL);
				conn_close(r, c);
			}
		}
		reap(r);
		if (atomic_load(&r->stopping)) {
			if (stop_at == 0) {
				/* Stop accepting; let open connections end. */
				for (unsigned i = 0; i < RELAY_MAX_FORWARDERS;
				    i++) {
					if (r->f[i].fd < 0)
						continue;
					(void)epoll_ctl(r->ep, EPOLL_CTL_DEL,
					    r->f[i].fd, NULL);
					close(r->f[i].fd);
					r->f[i].fd = -1;
				}
				stop_at = now + r->drain_ms;
			}
			if (r->conns == NULL || now >= stop_at)
				break;
		}
	}
	while (r->conns != NULL)
		conn_close(r, r->conns);
	reap(r);
	return NULL;
}

int
relay_start(struct forwarder *f, unsigned n, const struct relay_opts *o,
    struct relay **out)
{
	struct relay *r = calloc(1, sizeof *r);

	*out = NULL;
	if (r == NULL || n > RELAY_MAX_FORWARDERS)
		return -1;
	r->f = f;
	r->n = n;
	r->o = *o;
	if ((r->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(r);
		return -1;
	}
	watch(r, EPOLL_CTL_ADD, r->wake[0], EPOLLIN, NULL);
	for (unsigned i = 0; i < n; i++) {
		if (!f[i].in_use || f[i].fd < 0)
			continue;
		r->ltags[i] = (struct tag){ 0, &f[i] };
		watch(r, EPOLL_CTL_ADD, f[i].fd, EPOLLIN, &r->ltags[i]);
	}
	if (pthread_create(&r->thread, NULL, loop, r) != 0) {
		close(r->ep);
		free(r);
		return -1;
	}
	*out = r;
	return 0;
}

void
relay_stop(struct relay *r, unsigned drain_ms)
{
	r->drain_ms = drain_ms;
	atomic_store(&r->stopping, true);
	(void)command(r, 0, r->f);      /* the loop also wakes every 200 ms */
	pthread_join(r->thread, NULL);
	close(r->wake[0]);
	close(r->wake[1]);
	close(r->ep);
	free(r);
}
