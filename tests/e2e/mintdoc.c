/*
 * A test helper: mints attestation documents in the NSM layout under one
 * fresh simulated chain, for end-to-end tests that need documents made
 * "now" (with nonces they just got, keys they just made). It prints the
 * chain's root (DER, base64) on its first line, then reads one JSON request
 * per line and answers each with one line of base64 (or "error: ...").
 *
 * Request: {"timestamp": ms (0 or absent: now), "pcrs": {"0": hex, ...}
 * (absent: 16 zero PCRs, a debug document), "nonce": hex, "public_key": hex,
 * "user_data": hex} (absent fields: null in the document). With
 * "nitrotpm": {"4": hex, ...} instead of "pcrs", an EC2 instance's NitroTPM
 * document: "nitrotpm_pcrs" with all 24 SHA-384 registers (those not given
 * zero) and no "pcrs".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gb/codec.h"
#include "gb/mint.h"
#include "gb/timefmt.h"

static int
hex_field(json_t *req, const char *name, uint8_t **buf, struct gb_span *out)
{
	const char *s = json_string_value(json_object_get(req, name));
	size_t len;

	*out = (struct gb_span){ NULL, 0 };
	if (s == NULL)
		return 0;
	if (gb_hex_decode_alloc(s, strlen(s), 4096, buf, &len) != 0)
		return -1;
	*out = (struct gb_span){ *buf ? *buf : (const uint8_t *)"", len };
	return 0;
}

/* The pair "nitrotpm_pcrs": {0: h'..', ..., 23: h'..'} in raw CBOR, from
 * the request's "nitrotpm" object; its length, or 0 if it is bad. */
#define TPM_PAIR_MAX (14 + 2 + 24 * (1 + 2 + 48))
static size_t
tpm_pair(json_t *p, uint8_t out[TPM_PAIR_MAX])
{
	static uint8_t regs[24][48];
	const char *k;
	json_t *v;
	size_t n = 0;

	memset(regs, 0, sizeof regs);
	json_object_foreach(p, k, v) {
		unsigned i = (unsigned)atoi(k);
		const char *h = json_string_value(v);

		if (i >= 24 || h == NULL ||
		    gb_hex_decode(h, strlen(h), regs[i], 48) != 0)
			return 0;
	}
	memcpy(out, "\x6dnitrotpm_pcrs\xb8\x18", 16);
	n = 16;
	for (unsigned i = 0; i < 24; i++) {
		out[n++] = (uint8_t)i;     /* 0..23: a one-byte CBOR uint */
		out[n++] = 0x58;
		out[n++] = 48;
		memcpy(out + n, regs[i], 48);
		n += 48;
	}
	return n;
}

static void
answer(struct gb_mint_chain *c, json_t *req)
{
	static uint8_t tpm[TPM_PAIR_MAX];
	static uint8_t pcrs[32][48];
	struct gb_mint_doc d = { .timestamp_ms = json_integer_value(
	    json_object_get(req, "timestamp")) };
	uint8_t *nonce = NULL, *pub = NULL, *ud = NULL, *doc = NULL;
	json_t *p = json_object_get(req, "pcrs"), *v;
	const char *k;
	char *b64 = NULL;
	size_t len;

	if (json_is_object(p)) {
		unsigned max = 0;

		memset(pcrs, 0, sizeof pcrs);
		json_object_foreach(p, k, v) {
			unsigned i = (unsigned)atoi(k);
			const char *h = json_string_value(v);

			if (i >= 32 || h == NULL ||
			    gb_hex_decode(h, strlen(h), pcrs[i], 48) != 0) {
				puts("error: bad pcrs");
				return;
			}
			max = i + 1 > max ? i + 1 : max;
		}
		d.pcr_count = max < 16 ? 16 : max;
		d.pcrs = (const uint8_t (*)[48])pcrs;
	}
	if (json_is_object(json_object_get(req, "nitrotpm"))) {
		size_t n = tpm_pair(json_object_get(req, "nitrotpm"), tpm);

		if (n == 0) {
			puts("error: bad nitrotpm");
			fflush(stdout);
			return;
		}
		d.omit = 1u << GB_MF_PCRS;
		d.extra = (struct gb_span){ tpm, n };
		d.extra_pairs = 1;
	}
	if (hex_field(req, "nonce", &nonce, &d.nonce) != 0 ||
	    hex_field(req, "public_key", &pub, &d.public_key) != 0 ||
	    hex_field(req, "user_data", &ud, &d.user_data) != 0 ||
	    gb_mint_document(c, &d, &doc, &len) != 0 ||
	    gb_base64_encode_alloc(doc, len, &b64) != 0)
		puts("error: cannot mint");
	else
		puts(b64);
	fflush(stdout);
	free(nonce);
	free(pub);
	free(ud);
	free(doc);
	free(b64);
}

int
main(void)
{
	struct gb_mint_chain *c;
	struct gb_span root;
	char line[65536], *b64;

	/* Certificates from half an hour ago, so that documents up to then
	 * verify at their own time. */
	struct gb_mint_chain_opts o = { .now_ms = gb_time_now_ms() -
	    30 * 60 * 1000 };

	if (gb_mint_chain_new(&o, &c) != 0)
		return 2;
	root = gb_mint_chain_cert(c, 0);
	if (gb_base64_encode_alloc(root.ptr, root.len, &b64) != 0)
		return 2;
	puts(b64);
	fflush(stdout);
	free(b64);
	while (fgets(line, sizeof line, stdin) != NULL) {
		json_t *req = json_loads(line, 0, NULL);

		if (req == NULL) {
			puts("error: not JSON");
			fflush(stdout);
			continue;
		}
		answer(c, req);
		json_decref(req);
	}
	gb_mint_chain_free(c);
	return 0;
}
