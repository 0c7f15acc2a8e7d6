/*
 * libFuzzer target for the parent's allowlist (parent/allowlist.c): the
 * input is the YAML file. A list that loads is then asked what the parent
 * asks of it: a match by name, and a match by address through a stand-in
 * resolver that gives every name the same two addresses.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "allowlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned
resolve(void *arg, const char *name, struct sockaddr_storage *addrs,
    unsigned max)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&addrs[0];
	struct sockaddr_in6 *b = (struct sockaddr_in6 *)&addrs[1];

	(void)arg;
	if (max < 2 || strlen(name) % 3 == 0)   /* some names do not resolve */
		return 0;
	memset(addrs, 0, 2 * sizeof *addrs);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(0x0a000000u | (uint32_t)strlen(name));
	b->sin6_family = AF_INET6;
	b->sin6_addr.s6_addr[15] = (uint8_t)name[0];
	return 2;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct allowlist *l = NULL;
	struct sockaddr_storage cand[2];
	char err[300];

	if (size > ALLOWLIST_FILE_MAX_BYTES)
		return 0;
	if (allowlist_parse((const char *)data, size, "fuzz", &l, err,
	    sizeof err) != 0)
		return 0;
	memset(cand, 0, sizeof cand);
	cand[0].ss_family = AF_INET6;
	((struct sockaddr_in *)&cand[1])->sin_family = AF_INET;
	((struct sockaddr_in *)&cand[1])->sin_addr.s_addr = htonl(0x0a000005u);
	for (unsigned i = 0; i < l->n; i++) {
		if (allowlist_match(l, l->e[i].address, l->e[i].port) !=
		    ALLOWLIST_BY_NAME)
			__builtin_trap();       /* every entry matches itself */
		(void)allowlist_address_listed(l, l->e[i].port, cand, 2,
		    resolve, NULL);
	}
	allowlist_free(l);
	return 0;
}
