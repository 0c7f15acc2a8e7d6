/*
 * libFuzzer target for the attestation document parser and verifier: the
 * input is decoded as a user's DOC argument would be (raw, hex or base64)
 * and verified at its own timestamp and at a fixed time, against the AWS
 * root (so that real documents in the corpus reach the chain and signature
 * code) with all caches on.
 */
#include <stdint.h>
#include <stdlib.h>

#include "gb/attest.h"
#include "gb/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gb_verifier *verifier;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gb_policy pol = { .check_freshness = true,
	    .now_ms = 1700000000000, .max_age_ms = 600000, .max_skew_ms = 60000 };
	struct gb_result res;
	struct gb_doc doc;
	uint8_t *buf;
	size_t len;

	if (verifier == NULL && gb_verifier_new(NULL, 0, &verifier) != 0)
		abort();
	if (gb_verifier_verify(verifier, data, size, GB_AT_DOCUMENT, &doc,
	    &res) == GB_R_OK)
		(void)gb_policy_check(&pol, &doc, &res);
	(void)gb_verifier_verify(verifier, data, size, 1700000000000, &doc,
	    &res);
	if (gb_doc_decode_input(data, size, &buf, &len) == 0) {
		(void)gb_doc_parse(buf, len, &doc, &res);
		free(buf);
	}
	return 0;
}
