/*
 * Verification of attestation documents: the certificate chain to the pinned
 * root at a chosen time, then the COSE signature.
 *
 * OpenSSL parses the certificates, builds the chain and enforces the path
 * rules (issuer names, basicConstraints CA and pathLen, keyCertSign). The
 * signature and validity-time checks of each link, which OpenSSL would do in
 * its internal_verify(), are ours (chain_verify_cb(), installed with
 * X509_STORE_CTX_set_verify()), so that every signature goes through the
 * P-384 seam of p384.c and so that links already verified can be skipped.
 *
 * Three caches (cache_int.h) avoid repeating signature checks: verified CA
 * chains (root .. instance CA), verified leaves with their chain, and whole
 * documents. Each hit is confined to the validity window of the certificates
 * behind it, so the answer never differs from a full check.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cbor.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cache_int.h"
#include "gb/attest.h"
#include "gb/codec.h"
#include "gb/timefmt.h"
#include "p384_int.h"

enum { C_CHAIN, C_LEAF, C_DOC, C__COUNT };

struct gb_verifier {
	uint8_t *root_der;              /* from malloc() */
	size_t root_len;
	char root_sha256[65];
	X509 *root;
	X509_STORE *store;              /* trusts root only */
	unsigned caches;                /* GB_CACHE_* */
	struct gb__cache cache[C__COUNT];
};

/* A verified CA chain: cabundle[1..n-1] parsed, and the key of the last one
 * (the instance CA, which signs leaves). */
struct chain_val {
	struct gb__cval ref;
	X509 *certs[GB_CABUNDLE_MAX_CERTS];
	unsigned n;
	struct gb__p384_key issuer_key;
};

/* A verified leaf: its P-384 key, ready for the COSE check. */
struct leaf_val {
	struct gb__cval ref;
	struct gb__p384_key key;
};

static void
chain_val_destroy(struct gb__cval *v)
{
	struct chain_val *cv = (struct chain_val *)v;

	for (unsigned i = 0; i < cv->n; i++)
		X509_free(cv->certs[i]);
	gb__p384_key_clear(&cv->issuer_key);
	free(cv);
}

static void
leaf_val_destroy(struct gb__cval *v)
{
	struct leaf_val *lv = (struct leaf_val *)v;

	gb__p384_key_clear(&lv->key);
	free(lv);
}

/* Parses exactly one DER certificate: trailing bytes are refused. */
static X509 *
parse_der(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (len > GB_CERT_MAX_BYTES * 16)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	ERR_clear_error();
	return x;
}

int
gb_verifier_new(const uint8_t *root_der, size_t root_len,
    struct gb_verifier **out)
{
	struct gb_verifier *v;
	uint8_t md[32];
	int err = GB_ENOMEM;

	if ((v = calloc(1, sizeof *v)) == NULL)
		return GB_ENOMEM;
	if (root_der == NULL) {
		root_der = gb_aws_root_g1_der;
		root_len = gb_aws_root_g1_der_len;
	}
	if ((v->root_der = malloc(root_len)) == NULL)
		goto out;
	memcpy(v->root_der, root_der, root_len);
	v->root_len = root_len;
	err = GB_ECRYPTO;
	if (!EVP_Digest(root_der, root_len, md, NULL, EVP_sha256(), NULL))
		goto out;
	gb_hex_encode(v->root_sha256, md, sizeof md);
	if (root_der == gb_aws_root_g1_der &&
	    strcmp(v->root_sha256, gb_aws_root_g1_sha256) != 0)
		goto out;
	err = GB_EINVAL;
	if ((v->root = parse_der(root_der, root_len)) == NULL)
		goto out;
	err = GB_ENOMEM;
	if ((v->store = X509_STORE_new()) == NULL ||
	    !X509_STORE_add_cert(v->store, v->root))
		goto out;
	for (int i = 0; i < C__COUNT; i++)
		if (gb__cache_init(&v->cache[i], GB_CACHE_MAX_ENTRIES) != 0)
			goto out;
	v->caches = GB_CACHE_ALL;
	*out = v;
	return 0;
out:
	ERR_clear_error();
	gb_verifier_free(v);
	return err;
}

void
gb_verifier_free(struct gb_verifier *v)
{
	if (v == NULL)
		return;
	for (int i = 0; i < C__COUNT; i++)
		gb__cache_fini(&v->cache[i]);
	X509_STORE_free(v->store);
	X509_free(v->root);
	free(v->root_der);
	free(v);
}

void
gb_verifier_set_caches(struct gb_verifier *v, unsigned caches)
{
	for (int i = 0; i < C__COUNT; i++)
		gb__cache_clear(&v->cache[i]);
	v->caches = caches & GB_CACHE_ALL;
}

void
gb_verifier_stats(struct gb_verifier *v, struct gb_cache_stats *out)
{
	for (int i = 0; i < C__COUNT; i++) {
		pthread_mutex_lock(&v->cache[i].mu);
		out->hits[i] = v->cache[i].hits;
		out->misses[i] = v->cache[i].misses;
		pthread_mutex_unlock(&v->cache[i].mu);
	}
}

const char *
gb_verifier_root_sha256(const struct gb_verifier *v)
{
	return v->root_sha256;
}

static int
asn1_time_secs(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return -1;
	*out = gb_days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday) * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	return 0;
}

/* The validity period [nb, na] of a certificate, in seconds. */
static int
cert_window(X509 *x, int64_t *nb, int64_t *na)
{
	return asn1_time_secs(X509_get0_notBefore(x), nb) == 0 &&
	    asn1_time_secs(X509_get0_notAfter(x), na) == 0 ? 0 : -1;
}

/* Extracts a P-384 public key (id-ecPublicKey, namedCurve secp384r1). */
static int
cert_p384_key(X509 *x, struct gb__p384_key *k)
{
	X509_PUBKEY *pub = X509_get_X509_PUBKEY(x);
	const unsigned char *pt;
	const ASN1_OBJECT *alg;
	const void *param;
	X509_ALGOR *algor;
	int pttype, ptlen;

	if (pub == NULL || !X509_PUBKEY_get0_param(NULL, &pt, &ptlen, &algor, pub))
		return GB_EINVAL;
	X509_ALGOR_get0(&alg, &pttype, &param, algor);
	if (OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey ||
	    pttype != V_ASN1_OBJECT || OBJ_obj2nid(param) != NID_secp384r1)
		return GB_EINVAL;
	return gb__p384_key_set(k, pt, (size_t)ptlen);
}

/* Reads a DER tag and definite length at p[0..n): the header is *hl bytes,
 * the content *len bytes, all inside n. */
static int
der_head(const uint8_t *p, size_t n, uint8_t tag, size_t *hl, size_t *len)
{
	size_t k;

	if (n < 2 || p[0] != tag)
		return -1;
	if (p[1] < 0x80) {
		*len = p[1];
		*hl = 2;
	} else {
		k = p[1] & 0x7f;
		if (k == 0 || k > 3 || n < 2 + k)
			return -1;
		*len = 0;
		for (size_t i = 0; i < k; i++)
			*len = *len << 8 | p[2 + i];
		*hl = 2 + k;
	}
	return *len <= n - *hl ? 0 : -1;
}

/* The TBSCertificate of a DER Certificate, as received: the first element
 * of the outer SEQUENCE (RFC 5280 4.1). */
static int
der_tbs(struct gb_span cert, struct gb_span *tbs)
{
	size_t hl, len, hl2, len2;

	if (der_head(cert.ptr, cert.len, 0x30, &hl, &len) != 0 ||
	    hl + len != cert.len ||
	    der_head(cert.ptr + hl, len, 0x30, &hl2, &len2) != 0)
		return -1;
	*tbs = (struct gb_span){ cert.ptr + hl, hl2 + len2 };
	return 0;
}

/* Checks that subject (whose DER is der) was signed by the holder of key
 * with ecdsa-with-SHA384. */
static int
link_verify(X509 *subject, struct gb_span der, const struct gb__p384_key *key)
{
	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *outer;
	struct gb_span tbs;
	uint8_t md[48], raw[96];

	X509_get0_signature(&sig, &outer, subject);
	if (X509_get_signature_nid(subject) != NID_ecdsa_with_SHA384 ||
	    X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(subject)) != 0 ||
	    gb__p384_sig_from_der(sig->data, (size_t)sig->length, raw) != 0 ||
	    der_tbs(der, &tbs) != 0 ||
	    !EVP_Digest(tbs.ptr, tbs.len, md, NULL, EVP_sha384(), NULL)) {
		ERR_clear_error();
		return GB_EINVAL;
	}
	return gb__p384_verify(key, md, raw) ? 0 : GB_EINVAL;
}

/* What chain_verify_cb() needs: the chain it must find, the time, and what it
 * may skip. */
struct chain_state {
	X509 *expect[GB_CABUNDLE_MAX_CERTS + 1];  /* leaf first, root last */
	struct gb_span der[GB_CABUNDLE_MAX_CERTS + 1];  /* their DER */
	unsigned n;
	const struct chain_val *known;  /* verified CAs, or NULL */
	int64_t at_s;
	int64_t nb, na;                 /* OUT: the chain's validity window */
	struct gb_result *res;
	enum gb_reason reason;
};

/* Records the reason and makes X509_verify_cert() fail. Depth 0 is the leaf,
 * depth n - 1 the root (cabundle[0]). */
static int
chain_fail(struct chain_state *st, X509_STORE_CTX *ctx, enum gb_reason r,
    const char *what, unsigned depth)
{
	st->reason = gb_result_set(st->res, r, "%s (certificate at depth %u)",
	    what, depth);
	X509_STORE_CTX_set_error(ctx, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

/*
 * Replaces OpenSSL's internal_verify(): runs after the chain has been built
 * and its extensions checked. Checks, in this order: that the chain is exactly
 * certificate <- cabundle[n-1] <- ... <- cabundle[0]; that the leaf is not a
 * CA; every link's signature (top down, skipping links a cached chain already
 * proved); every certificate's validity at the time asked (top down).
 */
static int
chain_verify_cb(X509_STORE_CTX *ctx)
{
	struct chain_state *st = X509_STORE_CTX_get_app_data(ctx);
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	unsigned n = (unsigned)sk_X509_num(chain);
	struct gb__p384_key key = { .set = false };
	int64_t nb, na;

	if (n != st->n)
		return chain_fail(st, ctx, GB_R_BAD_CHAIN,
		    "the chain built is not certificate <- cabundle", n - 1);
	for (unsigned i = 0; i < n; i++)
		if (X509_cmp(sk_X509_value(chain, (int)i), st->expect[i]) != 0)
			return chain_fail(st, ctx, GB_R_BAD_CHAIN,
			    "the chain does not follow cabundle order", i);
	if (X509_get_extension_flags(st->expect[0]) & EXFLAG_CA)
		return chain_fail(st, ctx, GB_R_BAD_CHAIN,
		    "the leaf certificate is a CA", 0);

	for (unsigned i = n - 1; i-- > 0;) {
		X509 *subject = st->expect[i], *issuer = st->expect[i + 1];
		int err;

		/* internal_verify(), which we replace, checks keyCertSign;
		 * check_ca() already refuses CAs without it, this keeps the
		 * rule whatever OpenSSL's chain checks become. */
		if ((X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) &&
		    !(X509_get_key_usage(issuer) & KU_KEY_CERT_SIGN))
			return chain_fail(st, ctx, GB_R_BAD_CHAIN,
			    "its issuer's keyUsage does not allow keyCertSign", i);
		/* A cached chain proved every link between CAs. */
		if (st->known != NULL && i > 0)
			continue;
		if (st->known != NULL)
			err = link_verify(subject, st->der[i],
			    &st->known->issuer_key);
		else if ((err = cert_p384_key(issuer, &key)) == 0)
			err = link_verify(subject, st->der[i], &key);
		gb__p384_key_clear(&key);
		if (err != 0)
			return chain_fail(st, ctx, GB_R_BAD_CHAIN,
			    "its signature by the next certificate does not "
			    "verify as ecdsa-with-SHA384 with a P-384 key", i);
	}

	st->nb = INT64_MIN;
	st->na = INT64_MAX;
	for (unsigned i = n; i-- > 0;) {
		if (cert_window(st->expect[i], &nb, &na) != 0)
			return chain_fail(st, ctx, GB_R_BAD_CHAIN,
			    "unreadable validity period", i);
		if (st->at_s > na)
			return chain_fail(st, ctx, GB_R_CERT_EXPIRED,
			    "expired before the verification time", i);
		if (st->at_s < nb)
			return chain_fail(st, ctx, GB_R_CERT_NOT_YET_VALID,
			    "not yet valid at the verification time", i);
		st->nb = nb > st->nb ? nb : st->nb;
		st->na = na < st->na ? na : st->na;
	}
	return 1;
}

/*
 * Verifies certificate <- cabundle at at_s, using and filling the chain
 * cache. On success, *leaf is the leaf (a new reference) and [*nb, *na] the
 * window of the whole chain. On failure returns the reason (also in res).
 */
static enum gb_reason
verify_chain(struct gb_verifier *v, const struct gb_doc *doc, int64_t at_s,
    X509 **leaf, int64_t *nb, int64_t *na, struct gb_result *res)
{
	struct chain_state st = { .n = doc->cabundle_count + 1, .at_s = at_s,
	    .res = res, .reason = GB_R_OK };
	struct gb__cache_key key = { .parts = doc->cabundle,
	    .nparts = doc->cabundle_count };
	struct gb__cache *cache = &v->cache[C_CHAIN];
	struct chain_val *cv = NULL;
	struct gb__cval *hit = NULL;
	STACK_OF(X509) *untrusted = NULL;
	X509_STORE_CTX *ctx = NULL;
	enum gb_reason r = GB_R_BAD_CHAIN;
	unsigned ncas = doc->cabundle_count - 1;
	int ok;

	*leaf = NULL;
	if ((v->caches & GB_CACHE_CHAIN) && gb__cache_key_hash(&key) == 0 &&
	    gb__cache_get(cache, &key, at_s, &hit, nb, na))
		st.known = (const struct chain_val *)hit;
	if (st.known != NULL) {
		cv = (struct chain_val *)hit;
	} else {
		if ((cv = calloc(1, sizeof *cv)) == NULL)
			return gb_result_set(res, GB_R_BAD_CHAIN,
			    "out of memory while checking the chain");
		gb__cval_init(&cv->ref, chain_val_destroy);
		for (unsigned i = 0; i < ncas; i++) {
			cv->certs[i] = parse_der(doc->cabundle[i + 1].ptr,
			    doc->cabundle[i + 1].len);
			if (cv->certs[i] == NULL) {
				r = gb_result_set(res, GB_R_BAD_CHAIN,
				    "cabundle[%u] is not a DER X.509 "
				    "certificate", i + 1);
				goto out;
			}
			cv->n++;
		}
	}

	if ((*leaf = parse_der(doc->certificate.ptr, doc->certificate.len)) ==
	    NULL) {
		r = gb_result_set(res, GB_R_BAD_CHAIN,
		    "certificate is not a DER X.509 certificate");
		goto out;
	}
	st.expect[0] = *leaf;
	st.der[0] = doc->certificate;
	for (unsigned i = 0; i < ncas; i++) {
		st.expect[1 + i] = cv->certs[ncas - 1 - i];
		st.der[1 + i] = doc->cabundle[ncas - i];
	}
	st.expect[st.n - 1] = v->root;
	st.der[st.n - 1] = doc->cabundle[0];

	if ((untrusted = sk_X509_new_null()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL)
		goto oom;
	for (unsigned i = 0; i < ncas; i++)
		if (!sk_X509_push(untrusted, cv->certs[i]))
			goto oom;
	if (!X509_STORE_CTX_init(ctx, v->store, *leaf, untrusted))
		goto oom;
	X509_STORE_CTX_set_app_data(ctx, &st);
	X509_STORE_CTX_set_verify(ctx, chain_verify_cb);
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx),
	    (time_t)at_s);
	X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(ctx),
	    GB_CABUNDLE_MAX_CERTS + 1);
	ok = X509_verify_cert(ctx);
	if (ok != 1) {
		if (st.reason != GB_R_OK) {
			r = st.reason;
		} else {
			int e = X509_STORE_CTX_get_error(ctx);

			r = gb_result_set(res, GB_R_BAD_CHAIN,
			    "certificate at depth %d: %s",
			    X509_STORE_CTX_get_error_depth(ctx),
			    X509_verify_cert_error_string(e));
		}
		goto out;
	}
	*nb = st.nb;
	*na = st.na;
	r = GB_R_OK;

	/* Remember the CA part for the next leaf of the same instance. */
	if ((v->caches & GB_CACHE_CHAIN) && st.known == NULL && ncas > 0 &&
	    cert_p384_key(cv->certs[ncas - 1], &cv->issuer_key) == 0) {
		int64_t cnb = INT64_MIN, cna = INT64_MAX, b, a;

		ok = cert_window(v->root, &b, &a) == 0;
		cnb = b > cnb ? b : cnb;
		cna = a < cna ? a : cna;
		for (unsigned i = 0; ok && i < ncas; i++) {
			ok = cert_window(cv->certs[i], &b, &a) == 0;
			cnb = b > cnb ? b : cnb;
			cna = a < cna ? a : cna;
		}
		if (ok)
			(void)gb__cache_put(cache, &key, cnb, cna, &cv->ref);
	}
	goto out;
oom:
	r = gb_result_set(res, GB_R_BAD_CHAIN,
	    "out of memory while checking the chain");
out:
	if (r != GB_R_OK) {
		X509_free(*leaf);
		*leaf = NULL;
	}
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	gb__cval_release(&cv->ref);
	ERR_clear_error();
	return r;
}

/* SHA-384 of the COSE Sig_structure ["Signature1", protected, h'', payload],
 * over the protected and payload bytes exactly as received (RFC 9052 4.4). */
static int
sig_structure_digest(const struct gb_doc *doc, uint8_t md[48])
{
	static const uint8_t head[] = { 0x84, 0x6a, 'S', 'i', 'g', 'n', 'a', 't',
	    'u', 'r', 'e', '1' };
	static const uint8_t empty_bstr = 0x40;
	uint8_t h1[9], h2[9];
	size_t n1, n2;
	EVP_MD_CTX *c;
	int ok;

	n1 = cbor_encode_bytestring_start(doc->protected_hdr.len, h1, sizeof h1);
	n2 = cbor_encode_bytestring_start(doc->payload.len, h2, sizeof h2);
	if (n1 == 0 || n2 == 0 || (c = EVP_MD_CTX_new()) == NULL)
		return GB_ECRYPTO;
	ok = EVP_DigestInit_ex(c, EVP_sha384(), NULL) &&
	    EVP_DigestUpdate(c, head, sizeof head) &&
	    EVP_DigestUpdate(c, h1, n1) &&
	    EVP_DigestUpdate(c, doc->protected_hdr.ptr, doc->protected_hdr.len) &&
	    EVP_DigestUpdate(c, &empty_bstr, 1) &&
	    EVP_DigestUpdate(c, h2, n2) &&
	    EVP_DigestUpdate(c, doc->payload.ptr, doc->payload.len) &&
	    EVP_DigestFinal_ex(c, md, NULL);
	EVP_MD_CTX_free(c);
	return ok ? 0 : GB_ECRYPTO;
}

static enum gb_reason
verify_cose(const struct gb_doc *doc, const struct gb__p384_key *key,
    struct gb_result *res)
{
	uint8_t md[48];

	if (doc->signature.len != GB__P384_SIG_BYTES)
		return gb_result_set(res, GB_R_BAD_SIGNATURE,
		    "the signature is %zu bytes, not 96 (ES384 r || s)",
		    doc->signature.len);
	if (sig_structure_digest(doc, md) != 0)
		return gb_result_set(res, GB_R_BAD_SIGNATURE,
		    "could not hash the signed structure");
	if (!gb__p384_verify(key, md, doc->signature.ptr))
		return gb_result_set(res, GB_R_BAD_SIGNATURE,
		    "the COSE signature does not verify with the key of the "
		    "leaf certificate");
	return GB_R_OK;
}

/* Floor division, for negative times too. */
static int64_t
ms_to_s(int64_t ms)
{
	return ms >= 0 ? ms / 1000 : -((-(ms + 1)) / 1000) - 1;
}

enum gb_reason
gb_verifier_verify(struct gb_verifier *v, const uint8_t *buf, size_t len,
    int64_t at_ms, struct gb_doc *doc, struct gb_result *res)
{
	struct gb_span leafparts[GB_CABUNDLE_MAX_CERTS + 1];
	struct gb_span whole = { buf, len };
	struct gb__cache_key dkey = { .parts = &whole, .nparts = 1 };
	struct gb__cache_key lkey = { .parts = leafparts };
	struct gb__cval *hit = NULL;
	struct leaf_val *lv = NULL;
	X509 *leaf = NULL;
	int64_t at_s, nb, na;
	enum gb_reason r;
	bool dkeyed = false, lkeyed = false;

	if ((r = gb_doc_parse(buf, len, doc, res)) != GB_R_OK)
		return r;
	at_s = ms_to_s(at_ms == GB_AT_DOCUMENT ? (int64_t)doc->timestamp_ms :
	    at_ms);

	if (doc->cabundle[0].len != v->root_len ||
	    memcmp(doc->cabundle[0].ptr, v->root_der, v->root_len) != 0)
		return gb_result_set(res, GB_R_UNTRUSTED_ROOT,
		    "cabundle[0] is not the pinned root (SHA-256 %.16s...)",
		    v->root_sha256);

	if ((v->caches & GB_CACHE_DOC) && gb__cache_key_hash(&dkey) == 0) {
		dkeyed = true;
		if (gb__cache_get(&v->cache[C_DOC], &dkey, at_s, &hit, &nb,
		    &na))
			return gb_result_set(res, GB_R_OK, "valid");
	}

	for (unsigned i = 0; i < doc->cabundle_count; i++)
		leafparts[i] = doc->cabundle[i];
	leafparts[doc->cabundle_count] = doc->certificate;
	lkey.nparts = doc->cabundle_count + 1;
	if ((v->caches & GB_CACHE_LEAF) && gb__cache_key_hash(&lkey) == 0) {
		lkeyed = true;
		if (gb__cache_get(&v->cache[C_LEAF], &lkey, at_s, &hit, &nb,
		    &na))
			lv = (struct leaf_val *)hit;
	}

	if (lv == NULL) {
		r = verify_chain(v, doc, at_s, &leaf, &nb, &na, res);
		if (r != GB_R_OK)
			return r;
		if ((lv = calloc(1, sizeof *lv)) == NULL) {
			X509_free(leaf);
			return gb_result_set(res, GB_R_BAD_SIGNATURE,
			    "out of memory while checking the signature");
		}
		gb__cval_init(&lv->ref, leaf_val_destroy);
		if (cert_p384_key(leaf, &lv->key) != 0) {
			X509_free(leaf);
			gb__cval_release(&lv->ref);
			return gb_result_set(res, GB_R_BAD_SIGNATURE,
			    "the leaf certificate's key is not a P-384 key, "
			    "as ES384 requires");
		}
		X509_free(leaf);
		if (lkeyed)
			(void)gb__cache_put(&v->cache[C_LEAF], &lkey, nb, na,
			    &lv->ref);
	}

	r = verify_cose(doc, &lv->key, res);
	gb__cval_release(&lv->ref);
	if (r != GB_R_OK)
		return r;
	if (dkeyed)
		(void)gb__cache_put(&v->cache[C_DOC], &dkey, nb, na, NULL);
	return gb_result_set(res, GB_R_OK, "valid");
}
