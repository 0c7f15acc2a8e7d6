/*
 * The outbound allowlist (allowlist.c), in vsock-proxy's YAML format and
 * with vsock-proxy's rules: a destination is allowed when an entry lists
 * its port and its name, or its port and a name that resolves to the
 * destination's address.
 */
#ifndef GB_PARENT_ALLOWLIST_H
#define GB_PARENT_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/*
 * Entries in one file. AWS's stock file (vsock-proxy.yaml of
 * aws-nitro-enclaves-cli 1.5.0) lists 76, the KMS and KMS-FIPS endpoints of
 * every region, and grows by two with each new region; the former limit
 * of 64 refused it. 1024 leaves room for that growth and for a site's own
 * services, while bounding memory (260 KiB) and the lookups that one
 * address match may need (one per entry with the destination's port).
 */
#define ALLOWLIST_MAX 1024
/* Bytes of a file: the stock file is 4 KiB; 1024 entries in block style
 * with comments fit in 256 KiB. Read with this cap, never more. */
#define ALLOWLIST_FILE_MAX_BYTES (256 * 1024)
/* A DNS name is at most 253 characters (RFC 1035 section 2.3.4, as text). */
#define ALLOWLIST_NAME_MAX 253

struct allow_entry {
	char address[ALLOWLIST_NAME_MAX + 1];
	unsigned port;
};

struct allowlist {
	struct allow_entry *e;          /* n entries, from malloc */
	unsigned n;
	/* Keys vsock-proxy ignores, ignored here too: how many, and the first
	 * (for the log). */
	unsigned nignored;
	char ignored[120];
};

/*
 * Reads the allowlist in path (at most ALLOWLIST_FILE_MAX_BYTES), or text
 * of len bytes (name is used in messages). Returns 0 and a new list in
 * *out (allowlist_free()), or -1 with err saying why (*out untouched).
 * Refused: what is not YAML, a root that is not a mapping, an "allowlist"
 * that is not a list (or is given twice), an entry that is not a mapping
 * with one address (a string: an unquoted 443 or 1.5 is a number, as
 * vsock-proxy reads YAML) and one port (an unquoted decimal 1..65535: a
 * quoted "443" is a string, which vsock-proxy refuses), explicit tags,
 * and more than ALLOWLIST_MAX entries. Other keys, at the top or in an
 * entry, are ignored (and counted), as vsock-proxy ignores them.
 */
int allowlist_load(const char *path, struct allowlist **out, char *err,
    size_t errlen);
int allowlist_parse(const char *text, size_t len, const char *name,
    struct allowlist **out, char *err, size_t errlen);
void allowlist_free(struct allowlist *l);

enum allowlist_match {
	ALLOWLIST_NO,                   /* no entry has the port */
	ALLOWLIST_BY_NAME,              /* an entry has the port and name */
	/* Entries have the port but other names: allowed for an address one
	 * of those names resolves to (allowlist_address_listed()). */
	ALLOWLIST_BY_ADDRESS,
};

/* How host:port is on the list. Names compare without regard to case, as
 * DNS compares them. */
enum allowlist_match allowlist_match(const struct allowlist *l,
    const char *host, unsigned port);

/*
 * Resolves name to at most max addresses (port not set); returns how many
 * (0 when it does not resolve). Supplied by the caller: the relay asks its
 * DNS server with the forwarder's address family.
 */
typedef unsigned (*allowlist_resolve_fn)(void *arg, const char *name,
    struct sockaddr_storage *addrs, unsigned max);

/*
 * vsock-proxy's match by address (check_allowlist() in its proxy.rs) for a
 * destination not listed by name: the names of the entries with this
 * port are resolved through fn, in the file's order, and the result is
 * the index of the first of the n candidate addresses (the destination's,
 * IPv4 or IPv6; ports are not compared) that one of them resolves to, or
 * -1 if none is. Stops resolving once candidate 0 has matched.
 */
int allowlist_address_listed(const struct allowlist *l, unsigned port,
    const struct sockaddr_storage *cand, unsigned n,
    allowlist_resolve_fn fn, void *arg);

/* A port: 1 to 5 decimal digits (no sign, space, leading zero or other
 * base), 1..65535. Returns 0 and sets *out, or -1. */
int allowlist_port(const char *s, unsigned *out);

/*
 * Whether outbound connections may go to a resolved address: NULL if so,
 * else the name of the special range it is in (loopback, link-local and
 * the instance metadata service, unspecified, multicast, ...; private
 * ranges are allowed). allowlist_allow_special(true) allows every range
 * (--outbound-allow-special). Main thread only.
 */
const char *allowlist_refused(const struct sockaddr *sa);
void allowlist_allow_special(bool yes);

#endif /* GB_PARENT_ALLOWLIST_H */
