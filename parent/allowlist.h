/*
 * The outbound allowlist (allowlist.c), in vsock-proxy's YAML format.
 */
#ifndef GB_PARENT_ALLOWLIST_H
#define GB_PARENT_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define ALLOWLIST_MAX 64

struct allowlist {
	struct allow {
		char address[254];
		unsigned port;
	} e[ALLOWLIST_MAX];
	unsigned n;
};

/* Loads path; returns 0, or -1 with err saying why. */
int allowlist_load(const char *path, struct allowlist *out, char *err,
    size_t errlen);
bool allowlist_has(const struct allowlist *l, const char *address,
    unsigned port);

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
