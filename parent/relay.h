/*
 * The parent's relay: TCP listeners whose connections are carried, byte for
 * byte and both ways, to the enclave (vsock, or unix/tcp in development).
 * One thread, epoll, a fixed buffer per direction.
 */
#ifndef GB_PARENT_RELAY_H
#define GB_PARENT_RELAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/socket.h>

#include "gb/httpd.h"               /* struct gb_listen_addr */

#define RELAY_BUF (64 * 1024)       /* per direction and connection */
#define RELAY_MAX_FORWARDERS 16

struct forwarder {
	char listen_text[160], target_text[160];
	struct gb_listen_addr listen, target;
	int fd;                         /* listening */
	unsigned max_conns;
	/* Outbound forwarders: the target is a name, resolved again every
	 * resolve interval (resolved under mu), and allowed or not by the
	 * allowlist (a reload can withdraw it). */
	bool outbound;
	pthread_mutex_t mu;
	struct sockaddr_storage addr;
	socklen_t addrlen;              /* 0: not resolved (yet) */
	atomic_bool allowed;
	/* Which of the target's addresses are used: AF_UNSPEC (IPv4 first,
	 * then IPv6, as vsock-proxy), AF_INET (-4) or AF_INET6 (-6). */
	int family;
	/* Not NULL when the target is on the allowlist only by address
	 * (ALLOWLIST_BY_ADDRESS): the list, whose names with the target's
	 * port the resolved address must be one of. Main thread only. */
	const struct allowlist *by_address;
	bool in_use;                    /* configured (main thread's view) */
	int64_t resolve_at_ms;          /* next lookup (main thread) */
	atomic_uint_fast64_t active, accepted, refused, failed;
	atomic_uint_fast64_t bytes_in, bytes_out;   /* to / from the enclave */
};

struct allowlist;

struct relay_opts {
	unsigned connect_timeout_ms, idle_timeout_ms;
};

struct relay;

/* Opens the forwarders' listeners. Returns 0 or -1 (message printed). */
int relay_listen(struct forwarder *f, unsigned n);

/* Starts the relay thread over forwarders f[0..n) of an array of
 * RELAY_MAX_FORWARDERS slots; slots without in_use are skipped. */
int relay_start(struct forwarder *f, unsigned n, const struct relay_opts *o,
    struct relay **out);

/* A forwarder slot f (of the array given to relay_start, its listener
 * open) starts being served; or stops accepting, its open connections
 * going on. Both are carried out by the relay thread. */
int relay_add(struct relay *r, struct forwarder *f);
int relay_retire(struct relay *r, struct forwarder *f);

/* Stops accepting, lets open connections finish for up to drain_ms, then
 * closes everything. */
void relay_stop(struct relay *r, unsigned drain_ms);

/* A non-blocking socket connecting to target (the connection may still be
 * in progress: poll for POLLOUT, then read SO_ERROR); -1 on failure. */
int relay_connect(const struct gb_listen_addr *target);

/* Whether a target accepts a connection within timeout_ms. */
bool relay_reachable(const struct gb_listen_addr *target,
    unsigned timeout_ms);

/*
 * Resolves the outbound forwarders' names that are due: a literal address
 * as it is; a name through DNS (A records, then AAAA if there are none;
 * only one of them with f->family), with the answer's TTL deciding the
 * next lookup (at least 1 s, at most max_s); a name DNS does not answer
 * (in /etc/hosts, say) through getaddrinfo(), looked up again after
 * max_s. dns, if not NULL, is the DNS server to ask instead (IPv4
 * "ADDR:PORT"; tests): then there is no getaddrinfo(). Of the addresses found, the first that is not in a special
 * range (allowlist_refused()) and, for a target on the allowlist by
 * address only, is an address of a listed name, is used. A failed lookup
 * keeps the last address. Returns the milliseconds until the next one is
 * due.
 */
int64_t relay_resolve(struct forwarder *f, unsigned n, unsigned max_s,
    const char *dns);

/* JSON line logging (stderr). */
void relay_log(const char *event, const struct forwarder *f,
    const char *detail);

#endif /* GB_PARENT_RELAY_H */
