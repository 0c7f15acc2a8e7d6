/*
 * Ed25519 signing speed, as the verifier signs each verdict: a message the
 * size of a verdict's JWS signing input (600 bytes), signed
 *   - the way the verifier did it: OpenSSL, a new EVP_PKEY from the seed
 *     and a new EVP_MD_CTX per signature (the former gb_ed25519_sign(),
 *     written out here so the comparison stays in one run);
 *   - with gb_ed25519_sign() (derives the public key per signature);
 *   - with a gb_ed25519_signer made once;
 *   - with the signer on two threads at once (signatures per second in all).
 * Verification through gb_ed25519_verify() is printed too: the verifier
 * checks the log's checkpoint signature with it. Times are thread CPU time,
 * which other processes on a shared machine disturb less than wall time.
 * It prints figures and asserts nothing about time.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "gb/ed25519.h"

#define SECONDS 1.0
#define MSG_BYTES 600
#define THREADS 2

static uint8_t seed[GB_ED25519_SEED_BYTES], msg[MSG_BYTES];

static double
cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static double
wall_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int
openssl_per_call(uint8_t sig[GB_ED25519_SIG_BYTES])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	    seed, sizeof seed);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t n = GB_ED25519_SIG_BYTES;
	int ok = k != NULL && c != NULL &&
	    EVP_DigestSignInit(c, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestSign(c, sig, &n, msg, sizeof msg) == 1;

	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

static void *
sign_loop(void *arg)
{
	const struct gb_ed25519_signer *s = arg;
	uint8_t sig[GB_ED25519_SIG_BYTES];
	long n;
	double t;

	for (n = 0, t = wall_now(); wall_now() - t < SECONDS; n++)
		gb_ed25519_signer_sign(s, msg, sizeof msg, sig);
	return (void *)n;
}

int
main(void)
{
	uint8_t ref[GB_ED25519_SIG_BYTES], sig[GB_ED25519_SIG_BYTES];
	uint8_t pub[GB_ED25519_PUB_BYTES];
	struct gb_ed25519_signer *s = NULL;
	pthread_t th[THREADS];
	long n, total = 0;
	double t, us_old, us;
	int rc = 2;

	memset(msg, 'm', sizeof msg);
	if (gb_ed25519_generate(seed) != 0 || gb_ed25519_public(seed, pub) != 0 ||
	    gb_ed25519_signer_new(seed, &s) != 0 ||
	    openssl_per_call(ref) != 0)
		goto out;
	printf("Ed25519, %d-byte message, thread CPU time per signature\n",
	    MSG_BYTES);

	for (n = 0, t = cpu_now(); cpu_now() - t < SECONDS; n++)
		if (openssl_per_call(sig) != 0)
			goto out;
	us_old = 1e6 * (cpu_now() - t) / n;
	printf("OpenSSL, key made per signature (before)  %7.1f us\n", us_old);

	for (n = 0, t = cpu_now(); cpu_now() - t < SECONDS; n++)
		if (gb_ed25519_sign(seed, msg, sizeof msg, sig) != 0)
			goto out;
	us = 1e6 * (cpu_now() - t) / n;
	printf("gb_ed25519_sign (public key per call)     %7.1f us  %.2fx\n", us,
	    us_old / us);
	if (memcmp(sig, ref, sizeof sig) != 0) {
		fprintf(stderr, "bench_ed25519: signatures differ\n");
		goto out;
	}

	for (n = 0, t = cpu_now(); cpu_now() - t < SECONDS; n++)
		gb_ed25519_signer_sign(s, msg, sizeof msg, sig);
	us = 1e6 * (cpu_now() - t) / n;
	printf("gb_ed25519_signer, made once              %7.1f us  %.2fx\n", us,
	    us_old / us);
	if (memcmp(sig, ref, sizeof sig) != 0) {
		fprintf(stderr, "bench_ed25519: signatures differ\n");
		goto out;
	}

	t = wall_now();
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&th[i], NULL, sign_loop, s) != 0)
			goto out;
	for (int i = 0; i < THREADS; i++) {
		void *r;

		pthread_join(th[i], &r);
		total += (long)r;
	}
	printf("one signer on %d threads                  %7.0f signatures/s "
	    "(wall time)\n", THREADS, total / (wall_now() - t));

	for (n = 0, t = cpu_now(); cpu_now() - t < SECONDS; n++)
		if (!gb_ed25519_verify(pub, msg, sizeof msg, ref))
			goto out;
	printf("gb_ed25519_verify                         %7.1f us\n",
	    1e6 * (cpu_now() - t) / n);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "bench_ed25519: failed\n");
	gb_ed25519_signer_free(s);
	ERR_clear_error();
	return rc;
}
