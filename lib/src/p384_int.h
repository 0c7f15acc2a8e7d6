/*
 * The one seam every P-384 signature check goes through: certificate links
 * and COSE signatures alike. OpenSSL parses certificates and enforces path
 * rules; the arithmetic is nettle's (hogweed), which verifies about twice as
 * fast as OpenSSL 3.0 on the machines we run on (see docs/performance.md).
 */
#ifndef GB_P384_INT_H
#define GB_P384_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nettle/ecc.h>

#define GB__P384_BYTES 48
#define GB__P384_SIG_BYTES 96    /* raw r || s */

/* A public key, validated to be a point on the curve. Immutable once set, so
 * it can be shared between threads. */
struct gb__p384_key {
	struct ecc_point pt;
	bool set;
};

/* Sets k from an uncompressed SEC1 point (0x04 || X || Y, 97 bytes). Returns
 * 0, or GB_EINVAL if the bytes are not a point on P-384. k must be cleared
 * with gb__p384_key_clear() in every case. */
int gb__p384_key_set(struct gb__p384_key *k, const uint8_t *pt, size_t len);
void gb__p384_key_clear(struct gb__p384_key *k);

/* Verifies a raw r || s signature over a SHA-384 digest. */
bool gb__p384_verify(const struct gb__p384_key *k,
    const uint8_t digest[GB__P384_BYTES], const uint8_t sig[GB__P384_SIG_BYTES]);

/* Converts a DER ECDSA-Sig-Value (as in X.509 and OpenSSL's output) to raw
 * r || s. Returns 0, or GB_EINVAL if it is not exactly one such value with r
 * and s of at most 48 bytes. */
int gb__p384_sig_from_der(const uint8_t *der, size_t len,
    uint8_t raw[GB__P384_SIG_BYTES]);

#endif /* GB_P384_INT_H */
