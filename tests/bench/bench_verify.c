/*
 * Verification speed, in the four modes of the issue that asked for it:
 *   cold         no caches: 5 P-384 verifications a document;
 *   chain        the CA chain is known: 2 (leaf link and COSE);
 *   known        the enclave's leaf is known: 1 (COSE);
 *   same         the very same document again: none.
 * The 26 real documents of ../shared/vectors are verified at their own
 * timestamps on one thread, and each rate is printed with its ratio to the
 * fastest raw P-384 verification this program measures in the same run
 * (nettle through our seam, and OpenSSL). It prints figures; it asserts
 * nothing about time.
 *
 *   bench_verify [DIR [MODE [THREADS]]]
 * MODE runs one mode only (the start of its name); "two" runs none of them
 * and prints only the multi-threaded cold and all-caches rates, on THREADS
 * threads (default 2) sharing one verifier.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "gb/attest.h"
#include "p384_int.h"

#define SECONDS 2.0
#define MAX_THREADS 8   /* threads of the multi-threaded figures */

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static unsigned char *docs[32];
static size_t lens[32], ndocs;

static void
load(const char *dir)
{
	char path[1024];
	json_error_t e;
	json_t *m, *v;
	size_t i;

	snprintf(path, sizeof path, "%s/aws-nitro/vectors.json", dir);
	if ((m = json_load_file(path, 0, &e)) == NULL) {
		fprintf(stderr, "bench: %s: %s\n", path, e.text);
		exit(2);
	}
	json_array_foreach(json_object_get(m, "vectors"), i, v) {
		FILE *f;

		if (strcmp(json_string_value(json_object_get(v, "expected")),
		    "valid") != 0 || ndocs == 32)
			continue;
		snprintf(path, sizeof path, "%s/aws-nitro/%s", dir,
		    json_string_value(json_object_get(v, "file")));
		docs[ndocs] = malloc(16384);
		if ((f = fopen(path, "rb")) == NULL)
			exit(2);
		lens[ndocs] = fread(docs[ndocs], 1, 16384, f);
		fclose(f);
		ndocs++;
	}
	json_decref(m);
}

/* Raw P-384 verification of one fixed signature, through our seam (nettle)
 * and through OpenSSL's EVP_PKEY_verify(), on a pre-hashed message. */
static void
raw_rates(double *nettle_rate, double *openssl_rate)
{
	EVP_PKEY *key = EVP_EC_gen("P-384");
	EVP_PKEY_CTX *sctx = EVP_PKEY_CTX_new(key, NULL);
	unsigned char md[48] = { 1, 2, 3 }, der[128], pub[97], raw[96];
	size_t derlen = sizeof der, publen;
	struct gb__p384_key k = { .set = false };
	double t;
	long n;

	if (EVP_PKEY_sign_init(sctx) != 1 ||
	    EVP_PKEY_sign(sctx, der, &derlen, md, sizeof md) != 1 ||
	    !EVP_PKEY_get_octet_string_param(key, "pub", pub, sizeof pub,
	    &publen) || gb__p384_sig_from_der(der, derlen, raw) != 0 ||
	    gb__p384_key_set(&k, pub, publen) != 0)
		exit(2);

	for (n = 0, t = now(); now() - t < SECONDS; n++)
		if (!gb__p384_verify(&k, md, raw))
			exit(3);
	*nettle_rate = n / (now() - t);

	EVP_PKEY_CTX *vctx = EVP_PKEY_CTX_new(key, NULL);
	if (EVP_PKEY_verify_init(vctx) != 1)
		exit(2);
	for (n = 0, t = now(); now() - t < SECONDS; n++)
		if (EVP_PKEY_verify(vctx, der, derlen, md, sizeof md) != 1)
			exit(3);
	*openssl_rate = n / (now() - t);
	EVP_PKEY_CTX_free(vctx);
	EVP_PKEY_CTX_free(sctx);
	gb__p384_key_clear(&k);
	EVP_PKEY_free(key);
}

struct worker {
	struct gb_verifier *v;
	long n;
	int bad;
};

/* Verifies the documents round robin for SECONDS. */
static void *
work(void *arg)
{
	struct worker *w = arg;
	struct gb_result res;
	struct gb_doc doc;
	double t = now();

	while (now() - t < SECONDS)
		for (size_t i = 0; i < ndocs; i++, w->n++)
			if (gb_verifier_verify(w->v, docs[i], lens[i],
			    GB_AT_DOCUMENT, &doc, &res) != GB_R_OK)
				w->bad = 1;
	return NULL;
}

static double
cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Documents per second with these caches on nthreads threads sharing one
 * verifier (warmed first), and the process's CPU microseconds per document
 * (*cpu_us, if not NULL), which a busy machine disturbs less. */
static double
mode_rate(unsigned caches, unsigned nthreads, double *cpu_us)
{
	struct worker w[MAX_THREADS] = { { NULL, 0, 0 } };
	pthread_t th[MAX_THREADS];
	struct gb_verifier *v;
	struct gb_result res;
	struct gb_doc doc;
	double t, cpu;
	long n = 0;

	if (gb_verifier_new(NULL, 0, &v) != 0)
		exit(2);
	gb_verifier_set_caches(v, caches);
	for (size_t i = 0; i < ndocs; i++)      /* warm the caches */
		gb_verifier_verify(v, docs[i], lens[i], GB_AT_DOCUMENT, &doc,
		    &res);
	t = now();
	cpu = cpu_now();
	for (unsigned i = 0; i < nthreads; i++) {
		w[i].v = v;
		if (pthread_create(&th[i], NULL, work, &w[i]) != 0)
			exit(2);
	}
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		n += w[i].n;
		if (w[i].bad) {
			fprintf(stderr, "bench: a document did not verify\n");
			exit(3);
		}
	}
	t = now() - t;
	cpu = cpu_now() - cpu;
	gb_verifier_free(v);
	if (cpu_us != NULL)
		*cpu_us = n > 0 ? 1e6 * cpu / n : 0;
	return n / t;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		unsigned caches;
		double target;
	} modes[] = {
		{ "cold (5 verifies)", 0, 0.18 },
		{ "chain cached (2)", GB_CACHE_CHAIN, 0.45 },
		{ "known enclave (1)", GB_CACHE_CHAIN | GB_CACHE_LEAF, 0.85 },
		{ "same document (0)", GB_CACHE_ALL, 20.0 },
	};
	double nettle_rate, openssl_rate, raw;
	const char *only = argc > 2 ? argv[2] : NULL;
	unsigned nthreads = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 2;
	int met = 0;

	if (nthreads < 1 || nthreads > MAX_THREADS) {
		fprintf(stderr, "bench: threads must be 1..%d\n", MAX_THREADS);
		return 2;
	}

	load(argc > 1 ? argv[1] : "../shared/vectors");
	if (only != NULL && strcmp(only, "two") == 0)
		goto two;
	raw_rates(&nettle_rate, &openssl_rate);
	raw = nettle_rate > openssl_rate ? nettle_rate : openssl_rate;
	printf("raw P-384 verify, one thread: nettle %.0f/s, OpenSSL %s %.0f/s; "
	    "reference %.0f/s\n", nettle_rate, OpenSSL_version(OPENSSL_VERSION),
	    openssl_rate, raw);
	printf("%zu real documents at their own timestamps, one thread\n\n",
	    ndocs);
	printf("%-20s %12s %8s %8s  %s\n", "mode", "docs/s", "ratio", "target",
	    "meets");
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		if (only != NULL && strncmp(modes[i].name, only,
		    strlen(only)) != 0)
			continue;
		double rate = mode_rate(modes[i].caches, 1, NULL);
		double ratio = rate / raw;
		int ok = ratio >= modes[i].target;

		met += ok;
		printf("%-20s %12.0f %8.3f %8.2f  %s\n", modes[i].name, rate,
		    ratio, modes[i].target, ok ? "yes" : "NO");
	}
	printf("\n%d of 4 targets met\n", met);
two:
	if (only == NULL || strcmp(only, "two") == 0) {
		double cold_cpu, warm_cpu;
		double cold = mode_rate(0, nthreads, &cold_cpu);
		double warm = mode_rate(GB_CACHE_ALL, nthreads, &warm_cpu);

		printf("\nin-process, %u threads: cold %.0f docs/s, all caches "
		    "%.0f docs/s; CPU per document: cold %.1f us, all caches "
		    "%.2f us\n", nthreads, cold, warm, cold_cpu, warm_cpu);
	}
	return 0;
}
