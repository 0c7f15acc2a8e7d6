/*
 * Signed results (gb/result.h).
 */
#include <stdlib.h>
#include <string.h>

#include <nettle/sha2.h>

#include "gb/err.h"
#include "gb/result.h"

/* "glassbox-result-v1" || 0x00 || payload, in a new buffer. */
static uint8_t *
message(const void *payload, size_t len, size_t *out_len)
{
	static const char domain[] = GB_RESULT_DOMAIN;  /* with its NUL */
	uint8_t *m;

	if (len > SIZE_MAX - sizeof domain ||
	    (m = malloc(sizeof domain + len)) == NULL)
		return NULL;
	memcpy(m, domain, sizeof domain);
	if (len > 0)
		memcpy(m + sizeof domain, payload, len);
	*out_len = sizeof domain + len;
	return m;
}

int
gb_result_sign(const uint8_t seed[GB_ED25519_SEED_BYTES], const void *payload,
    size_t len, uint8_t sig[GB_ED25519_SIG_BYTES])
{
	size_t mlen;
	uint8_t *m = message(payload, len, &mlen);
	int err;

	if (m == NULL)
		return GB_ENOMEM;
	err = gb_ed25519_sign(seed, m, mlen, sig);
	free(m);
	return err;
}

enum gb_reason
gb_result_check(const struct gb_doc *doc, const void *payload, size_t len,
    const uint8_t *sig, size_t sig_len, struct gb_result *res)
{
	uint8_t md[32], *m;
	struct sha256_ctx c;
	size_t mlen;
	bool ok;

	if (doc->public_key.ptr == NULL ||
	    doc->public_key.len != GB_ED25519_PUB_BYTES)
		return gb_result_set(res, GB_R_NO_PUBLIC_KEY,
		    "the document carries no raw 32-byte Ed25519 public_key "
		    "to check the result with");
	sha256_init(&c);
	sha256_update(&c, len, payload);
	sha256_digest(&c, sizeof md, md);
	/* A result is bound to one attestation or not trusted at all: a fresh
	 * document without this binding says nothing about an old result. */
	if (doc->user_data.ptr == NULL || doc->user_data.len != sizeof md ||
	    memcmp(doc->user_data.ptr, md, sizeof md) != 0)
		return gb_result_set(res, GB_R_RESULT_NOT_BOUND,
		    "the document's user_data is %s, not SHA-256 of this "
		    "result: the result is not bound to this attestation",
		    doc->user_data.ptr == NULL ? "absent" :
		    doc->user_data.len == 0 ? "empty" : "another value");
	if (sig_len != GB_ED25519_SIG_BYTES)
		return gb_result_set(res, GB_R_BAD_RESULT_SIGNATURE,
		    "the result signature is %zu bytes, not 64 (Ed25519)",
		    sig_len);
	if ((m = message(payload, len, &mlen)) == NULL)
		return gb_result_set(res, GB_R_BAD_RESULT_SIGNATURE,
		    "out of memory while checking the result");
	ok = gb_ed25519_verify(doc->public_key.ptr, m, mlen, sig);
	free(m);
	if (!ok)
		return gb_result_set(res, GB_R_BAD_RESULT_SIGNATURE,
		    "the result signature does not verify with the document's "
		    "public_key");
	return gb_result_set(res, GB_R_OK, "valid");
}
