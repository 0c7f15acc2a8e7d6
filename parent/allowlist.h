/*
 * The outbound allowlist (allowlist.c), in vsock-proxy's YAML format.
 */
#ifndef GB_PARENT_ALLOWLIST_H
#define GB_PARENT_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>

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

#endif /* GB_PARENT_ALLOWLIST_H */
