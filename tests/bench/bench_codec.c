/*
 * Base64 and hex speed on what the verifier decodes per request: the base64
 * of a real attestation document (the body of POST /api/v1/verify, about
 * 6 KB of text for 4.5 KB of CBOR), decoded and encoded, and a 48-byte PCR
 * in hex; and jansson parsing that body (as the verifier does, through
 * gb_json_loadb()) and writing it back. Times are thread CPU time (CLOCK_THREAD_CPUTIME_ID), which other
 * processes on a shared machine disturb less than wall time. It prints
 * figures and asserts nothing about time.
 *
 *   bench_codec [DIR]   (default ../shared/vectors)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/limits.h"

#define SECONDS 1.0

static double
cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* A real document of 4.6 KB, the size of the verify benchmark's bodies. */
#define DOC "aws-nitro/evervault-20221013-prod.cbor"

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/vectors";
	char path[1024], *b64 = NULL, *body = NULL, hex[2 * 48 + 1];
	uint8_t *doc = NULL, *out = NULL, pcr[48];
	size_t len, outlen;
	double t, us;
	long n;
	int rc = 2;

	snprintf(path, sizeof path, "%s/%s", dir, DOC);
	if (gb_read_file(path, GB_DOC_MAX_BYTES, &doc, &len) != 0) {
		fprintf(stderr, "bench_codec: cannot read %s\n", path);
		goto out;
	}
	if (gb_base64_encode_alloc(doc, len, &b64) != 0)
		goto out;
	printf("document %zu bytes, base64 %zu characters; thread CPU time\n",
	    len, strlen(b64));

	for (n = 0, t = cpu_now(); cpu_now() - t < SECONDS; n++) {
		if (gb_base64_decode_alloc(b64, strlen(b64), GB_DOC_MAX_BYTES,
		    &out, &outlen) != 0 || outlen != len) {
			fprintf(stderr, "bench_codec: decode failed\n");
			goto out;
		}
		free(out);
	}
	us = 1e6 * (cpu_now() - t) / n;
	printf("base64 decode  %8.2f us  (%6.0f MB/s of text)\n", us,
	    strlen(b64) / us);

	for (n = 0, t = cpu_now(); cpu_now() - t < SECONDS; n++) {
		char *s;

		if (gb_base64_encode_alloc(doc, len, &s) != 0)
			goto out;
		free(s);
	}
	us = 1e6 * (cpu_now() - t) / n;
	printf("base64 encode  %8.2f us  (%6.0f MB/s of bytes)\n", us,
	    len / us);

	memcpy(pcr, doc + len / 2, sizeof pcr);
	for (n = 0, t = cpu_now(); cpu_now() - t < SECONDS; n++) {
		gb_hex_encode(hex, pcr, sizeof pcr);
		if (gb_hex_decode(hex, strlen(hex), pcr, sizeof pcr) != 0)
			goto out;
	}
	us = 1e6 * (cpu_now() - t) / n;
	printf("hex 48 bytes   %8.3f us  (encode and decode)\n", us);

	n = strlen(b64) + 64;
	if ((body = malloc(n)) == NULL)
		goto out;
	snprintf(body, n, "{\"document\":\"%s\",\"at\":\"document\"}", b64);
	for (n = 0, t = cpu_now(); cpu_now() - t < SECONDS; n++) {
		json_t *j = gb_json_loadb(body, strlen(body), 0, NULL);

		if (j == NULL)
			goto out;
		json_decref(j);
	}
	us = 1e6 * (cpu_now() - t) / n;
	printf("JSON body parse %7.2f us  (jansson, %zu bytes)\n", us,
	    strlen(body));
	{
		json_t *j = gb_json_loadb(body, strlen(body), 0, NULL);

		for (n = 0, t = cpu_now(); cpu_now() - t < SECONDS; n++) {
			char *d = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

			if (d == NULL)
				goto out;
			free(d);
		}
		json_decref(j);
	}
	us = 1e6 * (cpu_now() - t) / n;
	printf("JSON body dump %8.2f us  (jansson json_dumps of the same)\n",
	    us);
	rc = 0;
out:
	free(doc);
	free(b64);
	free(body);
	return rc;
}
