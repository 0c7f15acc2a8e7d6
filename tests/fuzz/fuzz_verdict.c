/*
 * libFuzzer target for the offline verdict check (gb_verdict_check(): the
 * JWS, its claims, the tlog-proof receipt and the document it names), the
 * parsers `glassbox check-verdict` and programs linking Glassbox run on
 * what a verifier, or anyone in between, sent them.
 *
 * The input is up to four parts separated by a 0x00 byte: claims (JSON),
 * tlog-proof text, document bytes, result bytes. The harness signs the
 * claims as a JWS with a fixed test key, pinned as the verdict key, so
 * the fuzzer reaches every check after the signature. When the first byte
 * is '!', the first part is the whole JWS instead (the signature's own
 * path: base64url, header, shape).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gb/codec.h"
#include "gb/ed25519.h"
#include "gb/verdict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 8032 7.1 test 1's secret key: a published key, signing nothing real. */
static const char seed_hex[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/* The log key of the seeds' receipts: C2SP's published example key. */
static const char log_vkey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

/* base64url without padding of p into a new string. */
static char *
b64url(const uint8_t *p, size_t n)
{
	char *s = NULL;
	size_t len;

	if (gb_base64_encode_alloc(p, n, &s) != 0)
		return NULL;
	len = strlen(s);
	while (len > 0 && s[len - 1] == '=')
		s[--len] = '\0';
	for (size_t i = 0; i < len; i++)
		s[i] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
	return s;
}

/* header.claims.signature under seed; a new string, or NULL. */
static char *
sign_jws(const uint8_t seed[GB_ED25519_SEED_BYTES], const char *kid,
    const uint8_t *claims, size_t n)
{
	char hdr[96], *h, *c, *sig = NULL, *out = NULL;
	uint8_t s[GB_ED25519_SIG_BYTES];
	size_t in_len;

	snprintf(hdr, sizeof hdr, "{\"alg\":\"EdDSA\",\"kid\":\"%s\","
	    "\"typ\":\"JWT\"}", kid);
	h = b64url((const uint8_t *)hdr, strlen(hdr));
	c = b64url(claims, n);
	if (h == NULL || c == NULL)
		goto out;
	in_len = strlen(h) + 1 + strlen(c);
	if ((out = malloc(in_len + 1 + 90)) == NULL)
		goto out;
	snprintf(out, in_len + 1, "%s.%s", h, c);
	if (gb_ed25519_sign(seed, out, in_len, s) != 0 ||
	    (sig = b64url(s, sizeof s)) == NULL) {
		free(out);
		out = NULL;
		goto out;
	}
	strcat(out, ".");
	strcat(out, sig);
out:
	free(h);
	free(c);
	free(sig);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t seed[GB_ED25519_SEED_BYTES], pub[GB_ED25519_PUB_BYTES];
	static int ready;
	const uint8_t *part[4] = { NULL, NULL, NULL, NULL }, *p = data;
	size_t len[4] = { 0, 0, 0, 0 }, k = 0;
	bool raw = size > 0 && data[0] == '!';
	struct gb_verdict_input in = { .jws = NULL };
	struct gb_verdict_outcome out = { .valid = false };
	char *jws = NULL, *proof = NULL, *claims = NULL;

	if (!ready) {
		if (gb_hex_decode(seed_hex, 64, seed, sizeof seed) != 0 ||
		    gb_ed25519_public(seed, pub) != 0)
			abort();
		ready = 1;
	}
	if (raw) {
		p++;
		size--;
	}
	/* Split on 0x00 into at most four parts; the last takes the rest. */
	part[0] = p;
	for (size_t i = 0; i < size && k < 3; i++)
		if (p[i] == 0) {
			len[k] = (size_t)(p + i - part[k]);
			part[++k] = p + i + 1;
		}
	len[k] = (size_t)(p + size - part[k]);
	if ((claims = malloc(len[0] + 1)) == NULL)
		return 0;
	memcpy(claims, part[0], len[0]);
	claims[len[0]] = '\0';
	jws = raw ? claims : sign_jws(seed, "fuzzkid", part[0], len[0]);
	if (part[1] != NULL && (proof = malloc(len[1] + 1)) != NULL) {
		memcpy(proof, part[1], len[1]);
		proof[len[1]] = '\0';
	}
	if (jws != NULL) {
		in.jws = jws;
		in.jws_len = strlen(jws);
		in.tlog_proof = proof;
		in.tlog_proof_len = proof ? len[1] : 0;
		in.doc = part[2] ? part[2] : (const uint8_t *)"";
		in.doc_len = len[2];
		in.result = part[3];
		in.result_len = len[3];
		in.verdict_pub = pub;
		in.verdict_kid = "fuzzkid";
		in.log_vkey = log_vkey;
		in.now_s = 1764000000;
		(void)gb_verdict_check(&in, &out);
		json_decref(out.claims);
	}
	if (jws != claims)
		free(jws);
	free(claims);
	free(proof);
	return 0;
}
