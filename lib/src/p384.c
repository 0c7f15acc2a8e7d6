/*
 * P-384 ECDSA verification with nettle (see p384_int.h).
 */
#include <gmp.h>
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
