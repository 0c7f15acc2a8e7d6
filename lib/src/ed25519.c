/*
 * Ed25519 (gb/ed25519.h). Signing uses nettle's ed25519_sha512_sign(),
 * which takes the public key from its caller instead of deriving it from
 * the seed as OpenSSL's EVP_PKEY_new_raw_private_key() does on every key
 * made: measured here (tests/bench/bench_ed25519.c), a signature costs
 * about 35 us with the public key known, against about 90 us through a
 * fresh EVP_PKEY. Verification and key generation stay with OpenSSL.
 */
#include <stdlib.h>
#include <string.h>

#include <nettle/eddsa.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "gb/ed25519.h"
#include "gb/err.h"

int
gb_ed25519_generate(uint8_t seed[GB_ED25519_SEED_BYTES])
{
	return RAND_priv_bytes(seed, GB_ED25519_SEED_BYTES) == 1 ? 0 :
	    GB_ECRYPTO;
}

int
gb_ed25519_public(const uint8_t seed[GB_ED25519_SEED_BYTES],
    uint8_t pub[GB_ED25519_PUB_BYTES])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	    seed, GB_ED25519_SEED_BYTES);
	size_t n = GB_ED25519_PUB_BYTES;
	int ok;

	ok = k != NULL && EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 &&
	    n == GB_ED25519_PUB_BYTES;
	EVP_PKEY_free(k);
	ERR_clear_error();
	return ok ? 0 : GB_ECRYPTO;
}

struct gb_ed25519_signer {
	uint8_t seed[GB_ED25519_SEED_BYTES];
	uint8_t pub[GB_ED25519_PUB_BYTES];
};

int
gb_ed25519_sign(const uint8_t seed[GB_ED25519_SEED_BYTES], const void *msg,
    size_t len, uint8_t sig[GB_ED25519_SIG_BYTES])
{
	uint8_t pub[GB_ED25519_PUB_BYTES];

	/* nettle signs with whatever public key it is given, and a signature
	 * made with a wrong one gives the private key away: it must be the
	 * seed's own, derived here. */
	ed25519_sha512_public_key(pub, seed);
	ed25519_sha512_sign(pub, seed, len, msg, sig);
	return 0;
}

int
gb_ed25519_signer_new(const uint8_t seed[GB_ED25519_SEED_BYTES],
    struct gb_ed25519_signer **out)
{
	struct gb_ed25519_signer *s = malloc(sizeof *s);

	if (s == NULL)
		return GB_ENOMEM;
	memcpy(s->seed, seed, GB_ED25519_SEED_BYTES);
	ed25519_sha512_public_key(s->pub, s->seed);
	*out = s;
	return 0;
}

int
gb_ed25519_signer_sign(const struct gb_ed25519_signer *s, const void *msg,
    size_t len, uint8_t sig[GB_ED25519_SIG_BYTES])
{
	ed25519_sha512_sign(s->pub, s->seed, len, msg, sig);
	return 0;
}

const uint8_t *
gb_ed25519_signer_public(const struct gb_ed25519_signer *s)
{
	return s->pub;
}

void
gb_ed25519_signer_free(struct gb_ed25519_signer *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, sizeof *s);
	free(s);
}

bool
gb_ed25519_verify(const uint8_t pub[GB_ED25519_PUB_BYTES], const void *msg,
    size_t len, const uint8_t sig[GB_ED25519_SIG_BYTES])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
	    GB_ED25519_PUB_BYTES);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	bool ok;

	ok = k != NULL && c != NULL &&
	    EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestVerify(c, sig, GB_ED25519_SIG_BYTES, msg, len) == 1;
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return ok;
}
