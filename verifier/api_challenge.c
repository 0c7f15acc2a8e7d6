/*
 * POST /api/v1/challenge: a one-time nonce (nonce.c makes it; nothing is
 * stored until it comes back with a document), under a budget per client
 * so that one client's flood costs others nothing.
 *
 * The budget is a token bucket per client address (vs_remote()), kept as
 * GCRA's "theoretical arrival time": one int64 per client. IPv6 clients
 * are counted by their /64, as one host usually holds a whole /64. Behind
 * a proxy named by --trusted-proxy, the client is the last address of
 * X-Forwarded-For (the one the proxy added); anyone else's
 * X-Forwarded-For is ignored, as a client can write anything there. The
 * table has a fixed size: a new client takes a free slot or evicts, among
 * the slots it may use, the one whose bucket is fullest (an evicted
 * client starts again with a full bucket, so eviction can only give
 * tokens, never take them).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb/codec.h"
#include "gb/timefmt.h"
#include "server.h"

/* The client's key: its IPv4 address (also when IPv4-mapped), or the
 * first 8 bytes (the /64) of its IPv6 address. */
static size_t
client_key(const char *addr, uint8_t key[8])
{
	struct in6_addr a6;
	struct in_addr a4;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (addr != NULL && inet_pton(AF_INET, addr, &a4) == 1) {
		memcpy(key, &a4, 4);
		return 4;
	}
	if (addr != NULL && inet_pton(AF_INET6, addr, &a6) == 1) {
		if (memcmp(a6.s6_addr, mapped, sizeof mapped) == 0) {
			memcpy(key, a6.s6_addr + 12, 4);
			return 4;
		}
		memcpy(key, a6.s6_addr, 8);
		return 8;
	}
	key[0] = 0;                 /* unknown: all such share one bucket */
	return 1;
}

/* The client's address: the peer's, or, when the peer is a trusted
 * proxy, the last entry of X-Forwarded-For (into buf). */
static const char *
client_addr(struct vs_req *q, char *buf, size_t cap)
{
	const struct vs_nonces *s = &q->vs->nonces;
	const char *peer = vs_remote(q), *xff, *last;
	uint8_t a[16];
	size_t alen = 0, n;
	bool trusted = false;

	if (s->nproxies == 0 || peer == NULL)
		return peer;
	if (inet_pton(AF_INET, peer, a) == 1) {
		alen = 4;
	} else if (inet_pton(AF_INET6, peer, a) == 1) {
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
		    0, 0xff, 0xff };

		/* On a [::] listener an IPv4 proxy arrives IPv4-mapped. */
		alen = 16;
		if (memcmp(a, mapped, sizeof mapped) == 0) {
			memmove(a, a + 12, 4);
			alen = 4;
		}
	}
	for (unsigned i = 0; i < s->nproxies && !trusted; i++)
		trusted = s->proxies[i].len == alen &&
		    memcmp(s->proxies[i].addr, a, alen) == 0;
	/* The proxy appends its own line or entry: the last entry of the
	 * last line is what it saw; earlier ones are the client's words. */
	if (!trusted || (xff = gb_http_header_last(q->req, "X-Forwarded-For",
	    NULL)) == NULL)
		return peer;
	last = strrchr(xff, ',');
	last = last ? last + 1 : xff;
	last += strspn(last, " \t");
	n = strcspn(last, " \t");
	if (n == 0 || n >= cap)
		return peer;
	memcpy(buf, last, n);
	buf[n] = '\0';
	return buf;
}

/* FNV-1a over a random seed and the key: clients cannot choose where
 * they land without knowing the seed. */
static size_t
slot_of(uint64_t seed, const uint8_t *k, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < n; i++) {
		h ^= k[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	return (size_t)(h % VS_RATE_CLIENTS_MAX);
}

/*
 * Takes one token from the client's bucket. Returns 0 if the challenge
 * may be issued, or the microseconds until a token is there.
 */
static int64_t
take_token(struct vs_nonces *s, const char *addr, unsigned rate,
    unsigned burst, int64_t now_us)
{
	int64_t t = 1000000 / (rate ? rate : 1);
	int64_t tau = t * ((burst ? burst : 1) - 1), tat, wait = 0;
	struct vs_client *e = NULL, *spare = NULL;
	uint8_t key[8];
	size_t len = client_key(addr, key);
	size_t home = slot_of(s->hash_seed, key, len);

	pthread_mutex_lock(&s->rate_mu);
	for (size_t i = 0; i < VS_RATE_PROBE; i++) {
		struct vs_client *c = &s->clients[(home + i) %
		    VS_RATE_CLIENTS_MAX];

		if (c->len == len && memcmp(c->addr, key, len) == 0) {
			e = c;
			break;
		}
		/* A free slot, or else the fullest bucket (smallest tat). */
		if (spare == NULL || (spare->len != 0 && (c->len == 0 ||
		    c->tat_us < spare->tat_us)))
			spare = c;
	}
	if (e == NULL) {
		e = spare;
		memcpy(e->addr, key, len);
		e->len = (uint8_t)len;
		e->tat_us = now_us;
	}
	tat = e->tat_us > now_us ? e->tat_us : now_us;
	if (tat - now_us > tau)
		wait = tat - tau - now_us;
	else
		e->tat_us = tat + t;
	pthread_mutex_unlock(&s->rate_mu);
	return wait;
}

/* 429 rate_limited, a problem+json with Retry-After (seconds). */
static int
rate_limited(struct vs_req *q, int64_t retry_s)
{
	char after[24];

	snprintf(after, sizeof after, "%lld", (long long)retry_s);
	return vs_problem_h(q, 429, "Retry-After", after, "rate_limited",
	    "too many challenges from this address; try again in %lld s",
	    (long long)retry_s);
}

int
vs_api_challenge(struct vs_req *q)
{
	struct vs *vs = q->vs;
	uint8_t n[VS_NONCE_BYTES];
	char hex[2 * VS_NONCE_BYTES + 1], at[40], client[64];
	int64_t now = gb_time_now_ms(), exp = now + vs->cfg.nonce_ttl_ms;
	int64_t wait;

	if (!vs_method(q, "POST"))
		return vs_problem(q, 405, "method_not_allowed", "use POST");
	/* It takes nothing: whatever a client sends here was meant for
	 * something else, and is refused rather than ignored. */
	if (q->req->query[0] != '\0')
		return vs_problem(q, 400, "unknown_field", "a challenge takes no "
		    "query parameters");
	if (q->req->body_len > 0)
		return vs_problem(q, 400, "bad_request", "a challenge takes no "
		    "body");
	if (vs->cfg.challenge_rate > 0 && (wait = take_token(&vs->nonces,
	    client_addr(q, client, sizeof client), vs->cfg.challenge_rate,
	    vs->cfg.challenge_burst,
	    now * 1000)) > 0)
		return rate_limited(q, (wait + 999999) / 1000000);
	if (vs_nonce_issue(&vs->nonces, now, vs->cfg.nonce_ttl_ms, n) != 0)
		return vs_problem(q, 500, "crypto_error", "cannot make a "
		    "challenge");
	gb_hex_encode(hex, n, sizeof n);
	gb_time_format_rfc3339(exp, at, sizeof at);
	return vs_reply_json(q, 200, json_pack("{s:s, s:I, s:s}", "nonce", hex,
	    "expires", (json_int_t)exp, "expires_at", at));
}
