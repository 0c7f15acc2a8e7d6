/*
 * Ed25519 with OpenSSL's raw-key interface (gb/ed25519.h).
 */
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

int
gb_ed25519_sign(const uint8_t seed[GB_ED25519_SEED_BYTES], const void *msg,
    size_t len, uint8_t sig[GB_ED25519_SIG_BYTES])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	    seed, GB_ED25519_SEED_BYTES);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t n = GB_ED25519_SIG_BYTES;
	int ok;

	ok = k != NULL && c != NULL &&
	    EVP_DigestSignInit(c, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestSign(c, sig, &n, msg, len) == 1 &&
	    n == GB_ED25519_SIG_BYTES;
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return ok ? 0 : GB_ECRYPTO;
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
