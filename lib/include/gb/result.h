/*
 * Signed results (DESIGN.md "Signed results"): the enclave signs a result
 * payload with the Ed25519 key whose public half its attestation document
 * carries, over "glassbox-result-v1" || 0x00 || payload, so that the key
 * signs nothing else. The document's user_data must be SHA-256(payload),
 * binding the result to that one attestation: a result beside a document
 * without that binding is refused (a fresh document says nothing about an
 * old result).
 */
#ifndef GB_RESULT_H
#define GB_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "gb/attest.h"
#include "gb/ed25519.h"

#define GB_RESULT_DOMAIN "glassbox-result-v1"

/* Signs payload for the enclave. Returns 0 or GB_ECRYPTO / GB_ENOMEM. */
int gb_result_sign(const uint8_t seed[GB_ED25519_SEED_BYTES],
    const void *payload, size_t len, uint8_t sig[GB_ED25519_SIG_BYTES]);

/*
 * Checks a result against a verified document, in this order:
 * GB_R_NO_PUBLIC_KEY if the document's public_key is not a raw 32-byte
 * Ed25519 key, GB_R_RESULT_NOT_BOUND if its user_data is not exactly
 * SHA-256(payload) (absent and empty included), GB_R_BAD_RESULT_SIGNATURE if
 * the signature does not verify; GB_R_OK otherwise.
 */
enum gb_reason gb_result_check(const struct gb_doc *doc, const void *payload,
    size_t len, const uint8_t *sig, size_t sig_len, struct gb_result *res);

#endif /* GB_RESULT_H */
