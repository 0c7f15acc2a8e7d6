/*
 * P-384 ECDSA verification with nettle (see p384_int.h).
 */
#include <gmp.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecdsa.h>

#include "gb/err.h"
#include "p384_int.h"

int
gb__p384_key_set(struct gb__p384_key *k, const uint8_t *pt, size_t len)
{
	mpz_t x, y;
	int ok;

	ecc_point_init(&k->pt, nettle_get_secp_384r1());
	k->set = true;
	if (len != 1 + 2 * GB__P384_BYTES || pt[0] != 0x04)
		return GB_EINVAL;
	mpz_init(x);
	mpz_init(y);
	mpz_import(x, GB__P384_BYTES, 1, 1, 0, 0, pt + 1);
	mpz_import(y, GB__P384_BYTES, 1, 1, 0, 0, pt + 1 + GB__P384_BYTES);
	/* ecc_point_set() refuses coordinates >= p and points off the curve. */
	ok = ecc_point_set(&k->pt, x, y);
	mpz_clear(x);
	mpz_clear(y);
	return ok ? 0 : GB_EINVAL;
}

void
gb__p384_key_clear(struct gb__p384_key *k)
{
	if (k->set)
		ecc_point_clear(&k->pt);
	k->set = false;
}

bool
gb__p384_verify(const struct gb__p384_key *k,
    const uint8_t digest[GB__P384_BYTES], const uint8_t sig[GB__P384_SIG_BYTES])
{
	struct dsa_signature s;
	int ok;

	dsa_signature_init(&s);
	mpz_import(s.r, GB__P384_BYTES, 1, 1, 0, 0, sig);
	mpz_import(s.s, GB__P384_BYTES, 1, 1, 0, 0, sig + GB__P384_BYTES);
	/* ecdsa_verify() rejects r or s outside 1..q-1. */
	ok = ecdsa_verify(&k->pt, GB__P384_BYTES, digest, &s);
	dsa_signature_clear(&s);
	return ok != 0;
}

int
gb__p384_sig_from_der(const uint8_t *der, size_t len,
    uint8_t raw[GB__P384_SIG_BYTES])
{
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *sig;
	int ok;

	sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	ok = sig != NULL && p == der + len;
	if (ok) {
		ECDSA_SIG_get0(sig, &r, &s);
		ok = BN_bn2binpad(r, raw, GB__P384_BYTES) == GB__P384_BYTES &&
		    BN_bn2binpad(s, raw + GB__P384_BYTES, GB__P384_BYTES) ==
		    GB__P384_BYTES;
	}
	ECDSA_SIG_free(sig);
	ERR_clear_error();
	return ok ? 0 : GB_EINVAL;
}
