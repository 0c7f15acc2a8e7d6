/*
 * libFuzzer target for the attestation document parser and verifier: the
 * input is decoded as a user's DOC argument would be (raw, hex or base64)
 * and verified at its own timestamp and at a fixed time, against the AWS
 * root (so that real documents in the corpus reach the chain and signature
 * code) with all caches on. A valid document then meets the policy (debug,
 * freshness, a kind asked for and an expected PCR4: an enclave's PCR4 or an
 * instance's NitroTPM register) and becomes a verdict's document claim
 * (pcrs, or kind and nitrotpm_pcrs). The corpus holds the real NitroTPM
 * documents (../shared/vectors/aws-nitro) and edits of one
 * (corpus/seed-nitrotpm-*).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gb/attest.h"
#include "gb/codec.h"
#include "gb/verdict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gb_verifier *verifier;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gb_expect_pcr pcr4 = { .index = 4, .len = 48 };
	struct gb_policy pol = { .check_freshness = true,
	    .now_ms = 1700000000000, .max_age_ms = 600000, .max_skew_ms = 60000,
	    .expect = &pcr4, .expect_count = 1 };
	struct gb_result res;
	struct gb_doc doc;
	uint8_t *buf;
	size_t len;

	if (verifier == NULL && gb_verifier_new(NULL, 0, &verifier) != 0)
		abort();
	if (gb_verifier_verify(verifier, data, size, GB_AT_DOCUMENT, &doc,
	    &res) == GB_R_OK) {
		(void)gb_policy_check(&pol, &doc, &res);
		pol.check_kind = true;
		pol.allow_debug = true;
		pol.check_freshness = false;
		pol.kind = GB_DOC_ENCLAVE;
		(void)gb_policy_check(&pol, &doc, &res);
		pol.kind = GB_DOC_NITROTPM;
		if (doc.pcrs[4].ptr != NULL && doc.pcrs[4].len == 48)
			memcpy(pcr4.value, doc.pcrs[4].ptr, 48);
		if (gb_policy_check(&pol, &doc, &res) == GB_R_OK &&
		    doc.kind != GB_DOC_NITROTPM)
			abort();        /* another kind than asked passed */
	}
	if (gb_doc_parse(data, size, &doc, &res) == GB_R_OK) {
		json_t *claim = gb_verdict_document_claim(data, size, &doc);

		if (claim == NULL || (json_object_get(claim, "pcrs") != NULL) ==
		    (doc.kind == GB_DOC_NITROTPM) ||
		    (json_object_get(claim, "nitrotpm_pcrs") != NULL) !=
		    (doc.kind == GB_DOC_NITROTPM))
			abort();        /* registers under the wrong name */
		json_decref(claim);
	}
	(void)gb_verifier_verify(verifier, data, size, 1700000000000, &doc,
	    &res);
	if (gb_doc_decode_input(data, size, &buf, &len) == 0) {
		(void)gb_doc_parse(buf, len, &doc, &res);
		free(buf);
	}
	return 0;
}
