/*
 * Ed25519 (gb/ed25519.h): RFC 8032's test vectors 1 and 2, signatures of
 * gb_ed25519_sign() and of a signer equal to OpenSSL's for random keys and
 * messages, and one signer shared by threads signing at once.
 */
#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "gb/codec.h"
#include "gb/ed25519.h"
#include "test.h"

#define THREADS 4
#define PER_THREAD 200

static void
unhex(const char *s, uint8_t *out, size_t n)
{
	if (gb_hex_decode(s, strlen(s), out, n) != 0)
		abort();
}

/* OpenSSL's signature, an implementation independent of ours. */
static int
openssl_sign(const uint8_t seed[32], const uint8_t *msg, size_t len,
    uint8_t sig[64])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	    seed, 32);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t n = 64;
	int ok = k != NULL && c != NULL &&
	    EVP_DigestSignInit(c, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestSign(c, sig, &n, msg, len) == 1 && n == 64;

	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

TEST(rfc8032_vectors)
{
	static const struct {
		const char *seed, *pub, *msg, *sig;
	} v[] = {
		{ "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
		  "",
		  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
		  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
		{ "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
		  "72",
		  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
		  "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
	};

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint8_t seed[32], pub[32], want[64], sig[64], msg[1], got[32];
		size_t mlen = strlen(v[i].msg) / 2;
		struct gb_ed25519_signer *s;

		unhex(v[i].seed, seed, 32);
		unhex(v[i].pub, pub, 32);
		unhex(v[i].msg, msg, mlen);
		unhex(v[i].sig, want, 64);
		ASSERT_EQ(gb_ed25519_public(seed, got), 0);
		ASSERT(memcmp(got, pub, 32) == 0);
		ASSERT_EQ(gb_ed25519_sign(seed, msg, mlen, sig), 0);
		ASSERT(memcmp(sig, want, 64) == 0);
		ASSERT_EQ(gb_ed25519_signer_new(seed, &s), 0);
		ASSERT(memcmp(gb_ed25519_signer_public(s), pub, 32) == 0);
		memset(sig, 0, sizeof sig);
		ASSERT_EQ(gb_ed25519_signer_sign(s, msg, mlen, sig), 0);
		gb_ed25519_signer_free(s);
		ASSERT(memcmp(sig, want, 64) == 0);
		ASSERT(gb_ed25519_verify(pub, msg, mlen, sig));
		sig[10] ^= 1;
		ASSERT(!gb_ed25519_verify(pub, msg, mlen, sig));
	}
}

TEST(same_as_openssl)
{
	uint8_t seed[32], pub[32], msg[700], ref[64], a[64], b[64];

	for (size_t len = 0; len < sizeof msg; len += 37) {
		struct gb_ed25519_signer *s;

		ASSERT_EQ(gb_ed25519_generate(seed), 0);
		ASSERT_EQ(RAND_bytes(msg, sizeof msg), 1);
		ASSERT_EQ(gb_ed25519_public(seed, pub), 0);
		ASSERT_EQ(openssl_sign(seed, msg, len, ref), 0);
		ASSERT_EQ(gb_ed25519_sign(seed, msg, len, a), 0);
		ASSERT_EQ(gb_ed25519_signer_new(seed, &s), 0);
		ASSERT_EQ(gb_ed25519_signer_sign(s, msg, len, b), 0);
		gb_ed25519_signer_free(s);
		ASSERT(memcmp(a, ref, 64) == 0);
		ASSERT(memcmp(b, ref, 64) == 0);
		ASSERT(gb_ed25519_verify(pub, msg, len, b));
	}
	gb_ed25519_signer_free(NULL);
}

struct job {
	const struct gb_ed25519_signer *s;
	const uint8_t *ref;             /* PER_THREAD signatures */
	int bad;
};

static void *
sign_all(void *arg)
{
	struct job *j = arg;

	for (unsigned i = 0; i < PER_THREAD; i++) {
		uint8_t msg[4] = { (uint8_t)(i >> 8), (uint8_t)i, 1, 2 }, sig[64];

		gb_ed25519_signer_sign(j->s, msg, sizeof msg, sig);
		if (memcmp(sig, j->ref + 64 * i, 64) != 0)
			j->bad++;
	}
	return NULL;
}

/* One signer, THREADS threads signing at once: every signature is the
 * one made alone. */
TEST(one_signer_many_threads)
{
	static uint8_t ref[PER_THREAD * 64];
	struct gb_ed25519_signer *s;
	struct job jobs[THREADS];
	pthread_t th[THREADS];
	uint8_t seed[32];
	int bad = 0;

	ASSERT_EQ(gb_ed25519_generate(seed), 0);
	for (unsigned i = 0; i < PER_THREAD; i++) {
		uint8_t msg[4] = { (uint8_t)(i >> 8), (uint8_t)i, 1, 2 };

		ASSERT_EQ(openssl_sign(seed, msg, sizeof msg, ref + 64 * i), 0);
	}
	ASSERT_EQ(gb_ed25519_signer_new(seed, &s), 0);
	for (int i = 0; i < THREADS; i++) {
		jobs[i] = (struct job){ s, ref, 0 };
		ASSERT_EQ(pthread_create(&th[i], NULL, sign_all, &jobs[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		bad += jobs[i].bad;
	}
	gb_ed25519_signer_free(s);
	ASSERT_EQ(bad, 0);
}

TEST_MAIN(
	T(rfc8032_vectors),
	T(same_as_openssl),
	T(one_signer_many_threads),
)
