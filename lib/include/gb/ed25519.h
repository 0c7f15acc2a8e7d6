/*
 * Ed25519 (RFC 8032) over raw keys: the log's checkpoint key, the enclave's
 * result key and the verifier's verdict key all use it. Signing goes
 * through nettle, verification and key generation through OpenSSL.
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

/* Signs msg with the key of seed. It derives the public key first (a
 * scalar multiplication, as costly as the signature): who signs often with
 * one key makes a gb_ed25519_signer once. Returns 0 or GB_ECRYPTO. */
int gb_ed25519_sign(const uint8_t seed[GB_ED25519_SEED_BYTES],
    const void *msg, size_t len, uint8_t sig[GB_ED25519_SIG_BYTES]);

/*
 * A key made ready for signing once: the seed and its public key. It is
 * read-only after gb_ed25519_signer_new(), so any number of threads may
 * sign with one signer at the same time. Signatures are those of
 * gb_ed25519_sign() (Ed25519 is deterministic), at about half the cost.
 */
struct gb_ed25519_signer;

/* A new signer in *out (free with gb_ed25519_signer_free()). Returns 0 or
 * GB_ENOMEM. */
int gb_ed25519_signer_new(const uint8_t seed[GB_ED25519_SEED_BYTES],
    struct gb_ed25519_signer **out);

/* Signs msg. Returns 0 (it cannot fail once the signer exists; the int is
 * there for symmetry with gb_ed25519_sign()). */
int gb_ed25519_signer_sign(const struct gb_ed25519_signer *s,
    const void *msg, size_t len, uint8_t sig[GB_ED25519_SIG_BYTES]);

/* The signer's public key. */
const uint8_t *gb_ed25519_signer_public(const struct gb_ed25519_signer *s);

/* Wipes and frees the signer; NULL is allowed. */
void gb_ed25519_signer_free(struct gb_ed25519_signer *s);

/* Whether sig is a valid signature of msg by pub. */
bool gb_ed25519_verify(const uint8_t pub[GB_ED25519_PUB_BYTES],
    const void *msg, size_t len, const uint8_t sig[GB_ED25519_SIG_BYTES]);

#endif /* GB_ED25519_H */
