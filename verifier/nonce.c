/*
 * One-time nonces for POST /api/v1/challenge: random 32 bytes, each valid
 * until it expires or is used once. An open-addressed table of a fixed
 * capacity (VS_NONCE_MAX); when it is full of live nonces, no more are
 * issued (the caller answers 503) rather than forgetting one early.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "server.h"

int
vs_nonces_init(struct vs_nonces *s, size_t cap)
{
	memset(s, 0, sizeof *s);
	if ((s->slot = calloc(cap, sizeof *s->slot)) == NULL)
		return GB_ENOMEM;
	s->cap = cap;
	pthread_mutex_init(&s->mu, NULL);
	return 0;
}

void
vs_nonces_fini(struct vs_nonces *s)
{
	free(s->slot);
	pthread_mutex_destroy(&s->mu);
}

static size_t
home(const struct vs_nonces *s, const uint8_t *n)
{
	uint64_t h;

	memcpy(&h, n, sizeof h);        /* the nonce is random already */
	return (size_t)(h % s->cap);
}

int
vs_nonce_issue(struct vs_nonces *s, int64_t now_ms, int64_t ttl_ms,
    uint8_t out[VS_NONCE_BYTES])
{
	int rc = GB_ETOOBIG;

	if (RAND_bytes(out, VS_NONCE_BYTES) != 1)
		return GB_ECRYPTO;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0, k = home(s, out); i < s->cap; i++,
	    k = (k + 1) % s->cap) {
		struct vs_nonce *e = &s->slot[k];

		if (e->expires_ms == 0 || e->expires_ms <= now_ms) {
			memcpy(e->n, out, VS_NONCE_BYTES);
			e->expires_ms = now_ms + ttl_ms;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Takes a live nonce out of the table; false if it was never issued, has
 * expired, or was used. Probing stops at a never-used slot. */
bool
vs_nonce_take(struct vs_nonces *s, const uint8_t *n, size_t len,
    int64_t now_ms)
{
	bool found = false;

	if (len != VS_NONCE_BYTES)
		return false;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0, k = home(s, n); i < s->cap; i++,
	    k = (k + 1) % s->cap) {
		struct vs_nonce *e = &s->slot[k];

		if (e->expires_ms == 0)
			break;
		if (memcmp(e->n, n, VS_NONCE_BYTES) == 0) {
			found = e->expires_ms > now_ms;
			/* Used or expired: a tombstone that never matches. */
			e->expires_ms = 1;
			memset(e->n, 0, VS_NONCE_BYTES);
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}
