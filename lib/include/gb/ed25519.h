/*
 * Ed25519 (RFC 8032) over raw keys, with OpenSSL: the log's checkpoint key,
 * the enclave's result key and the verifier's verdict key all use it.
 */
#ifndef GB_ED25519_H
#define GB_ED25519_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_ED25519_SEED_BYTES 32
#define GB_ED25519_PUB_BYTES 32
#define GB_ED25519_SIG_BYTES 64

/* A new random private key (seed). Returns 0 or GB_ECRYPTO. */
int gb_ed25519_generate(uint8_t seed[GB_ED25519_SEED_BYTES]);

/* The public key of a seed. Returns 0 or GB_ECRYPTO. */
int gb_ed25519_public(const uint8_t seed[GB_ED25519_SEED_BYTES],
    uint8_t pub[GB_ED25519_PUB_BYTES]);

int gb_ed25519_sign(const uint8_t seed[GB_ED25519_SEED_BYTES],
    const void *msg, size_t len, uint8_t sig[GB_ED25519_SIG_BYTES]);

/* Whether sig is a valid signature of msg by pub. */
bool gb_ed25519_verify(const uint8_t pub[GB_ED25519_PUB_BYTES],
    const void *msg, size_t len, const uint8_t sig[GB_ED25519_SIG_BYTES]);

#endif /* GB_ED25519_H */
