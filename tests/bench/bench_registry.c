/*
 * Registry speed and memory, as the issue that asked for them says:
 *   1. the append rate over 10k appends, one transaction and one signed
 *      checkpoint each (leaves the size of a real publication);
 *   2. gpg's share of a publication, measured separately: verifying one
 *      detached signature with the registry's keyring;
 *   3. the log filled to 1M leaves in batches (one transaction each);
 *   4. inclusion and consistency proofs at 1M leaves: p50 and p99 per proof
 *      against the 1 ms target, and the peak memory of the process.
 * Everything lives in a temporary directory, removed at the end. It prints
 * figures and asserts nothing about time.
 * usage: bench_registry [LEAVES]   (default 1000000)
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "gb/codec.h"
#include "gb/registry.h"
#include "reg_int.h"

#define APPENDS 10000
#define BATCH 10000
#define PROOFS 2000
#define GPG_RUNS 50

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void
die(const char *what, const struct gb_reg_error *e)
{
	fprintf(stderr, "bench_registry: %s: %s %s\n", what,
	    e ? e->code : "", e ? e->message : "");
	exit(2);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

/* A leaf of about the size of a real publication (~2.5 KB), or small. */
static void
make_leaf(char *buf, size_t cap, uint64_t i, bool big)
{
	int n = snprintf(buf, cap, "{\"n\":%" PRIu64 ",\"pad\":\"", i);

	memset(buf + n, 'x', big ? 2400 : 120);
	strcpy(buf + n + (big ? 2400 : 120), "\"}");
}

static void
report_proofs(const char *what, double *t, size_t n)
{
	qsort(t, n, sizeof *t, cmp_double);
	printf("%-22s p50 %7.1f us   p99 %7.1f us   (limit 1000 us: p99 is "
	    "%.3f of it)\n", what, t[n / 2] * 1e6, t[n * 99 / 100] * 1e6,
	    t[n * 99 / 100] / 1e-3);
}

int
main(int argc, char **argv)
{
	uint64_t leaves = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	char dir[] = "/tmp/glassbox-bench-XXXXXX", db[256], cmd[1024];
	uint8_t proof[GB_MERKLE_MAX_PROOF][GB_HASH_BYTES];
	static double times[PROOFS];
	static char leafbuf[BATCH][160];
	const char *batch[BATCH];
	char big[4096], fpr[65];
	struct gb_reg_error e;
	struct gb_registry *r;
	struct gb_reg_entry en;
	struct rusage ru;
	uint64_t size;
	double t;
	size_t n;

	if (leaves < APPENDS + 1 || mkdtemp(dir) == NULL)
		die("usage: bench_registry [LEAVES >= 10001]", NULL);
	snprintf(db, sizeof db, "%s/bench.db", dir);
	if (gb_registry_init(db, "bench.glassbox/log", &e) != 0 ||
	    gb_registry_open(db, true, &r, &e) != 0)
		die("init", &e);

	/* 1. Appends, one transaction and checkpoint each. */
	t = now();
	for (uint64_t i = 0; i < APPENDS; i++) {
		const char *one = big;

		make_leaf(big, sizeof big, i, true);
		if (gb__registry_append_raw(r, &one, 1, &e) != 0)
			die("append", &e);
	}
	t = now() - t;
	printf("appends (2.5 KB leaf, own transaction and checkpoint): "
	    "%.0f/s over %d\n", APPENDS / t, APPENDS);

	/* 2. gpg's share of a publication. */
	snprintf(cmd, sizeof cmd, "export GNUPGHOME=%s/g; mkdir -m 700 $GNUPGHOME"
	    " && gpg --batch --passphrase '' --quick-gen-key 'Bench"
	    " <bench@example.com>' ed25519 sign 1y 2>/dev/null && printf"
	    " '{\"version\":\"1\",\"name\":\"b\",\"pcrs\":{\"0\":\"%%096d\"}}'"
	    " 1 > %s/s.json && gpg --batch --armor --detach-sign %s/s.json"
	    " 2>/dev/null && gpg --armor --export bench@example.com > %s/k.asc"
	    " 2>/dev/null", dir, dir, dir, dir);
	if (system(cmd) != 0)
		die("making a gpg key and signature", NULL);
	{
		char path[300], *key, *stmt, *sig;
		size_t klen, slen, glen;

		snprintf(path, sizeof path, "%s/k.asc", dir);
		if (gb_read_file(path, GB_REG_KEY_MAX, (uint8_t **)&key,
		    &klen) != 0)
			die("reading the key", NULL);
		snprintf(path, sizeof path, "%s/s.json", dir);
		if (gb_read_file(path, 4096, (uint8_t **)&stmt, &slen) != 0)
			die("reading the statement", NULL);
		snprintf(path, sizeof path, "%s/s.json.asc", dir);
		if (gb_read_file(path, 4096, (uint8_t **)&sig, &glen) != 0)
			die("reading the signature", NULL);
		if (gb_registry_key_add(r, key, klen, &en, &e) != 0)
			die("key add", &e);
		t = now();
		for (int i = 0; i < GPG_RUNS; i++)
			if (gb__keyring_verify(r->keyring, stmt, slen, sig, glen,
			    false, fpr, &e) != 0)
				die("verify", &e);
		printf("gpg signature check per publication: %.2f ms "
		    "(mean of %d)\n", (now() - t) / GPG_RUNS * 1e3, GPG_RUNS);
		t = now();
		if (gb_registry_publish(r, stmt, slen, sig, glen, &en, &e) != 0)
			die("publish", &e);
		printf("one whole publish (gpg, checks, append, checkpoint): "
		    "%.2f ms\n", (now() - t) * 1e3);
		free(key);
		free(stmt);
		free(sig);
	}

	/* 3. Fill to LEAVES in batches. */
	if (gb_registry_size(r, &size) != 0)
		die("size", NULL);
	t = now();
	for (uint64_t done = size; done < leaves;) {
		n = leaves - done < BATCH ? (size_t)(leaves - done) : BATCH;
		for (size_t i = 0; i < n; i++) {
			make_leaf(leafbuf[i], sizeof leafbuf[i], done + i, false);
			batch[i] = leafbuf[i];
		}
		if (gb__registry_append_raw(r, batch, n, &e) != 0)
			die("fill", &e);
		done += n;
	}
	t = now() - t;
	printf("fill to %" PRIu64 " leaves in batches of %d: %.0f leaves/s "
	    "(%.1f s)\n", leaves, BATCH, (double)(leaves - size) / t, t);

	/* 4. Proofs at the full size. */
	srand(1);
	for (int i = 0; i < PROOFS; i++) {
		uint64_t idx = ((uint64_t)rand() << 31 ^ (uint64_t)rand()) %
		    leaves;

		t = now();
		if (gb_registry_prove_inclusion(r, idx, leaves, proof, &n,
		    &e) != 0)
			die("inclusion", &e);
		times[i] = now() - t;
	}
	report_proofs("inclusion proof", times, PROOFS);
	for (int i = 0; i < PROOFS; i++) {
		uint64_t m = 1 + ((uint64_t)rand() << 31 ^ (uint64_t)rand()) %
		    (leaves - 1);

		t = now();
		if (gb_registry_prove_consistency(r, m, leaves, proof, &n,
		    &e) != 0)
			die("consistency", &e);
		times[i] = now() - t;
	}
	report_proofs("consistency proof", times, PROOFS);
	getrusage(RUSAGE_SELF, &ru);
	printf("peak memory (max RSS): %.1f MiB\n", ru.ru_maxrss / 1024.0);

	gb_registry_close(r);
	snprintf(cmd, sizeof cmd, "gpgconf --homedir %s/g --kill gpg-agent "
	    "2>/dev/null", dir);
	(void)system(cmd);
	(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
