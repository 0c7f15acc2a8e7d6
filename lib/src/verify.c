/*
 * Verification of attestation documents: the certificate chain to the pinned
 * root at a chosen time, then the COSE signature.
 *
 * The chain is not searched for: it must be certificate <- cabundle[n-1]
 * <- ... <- cabundle[0], cabundle[0] being the pinned root. OpenSSL parses
 * the certificates and their extensions; the path rules of RFC 5280 6.1 that
 * such a fixed chain needs (issuer names, key identifiers, basicConstraints
 * CA and pathLen, keyCertSign, critical extensions, name constraints,
 * validity) are applied here, over those parsed extensions, and every
 * signature goes through the P-384 seam of p384.c. Doing it here rather than
 * in X509_verify_cert() lets a cached CA chain skip everything but the
 * leaf, and spares OpenSSL 3.0's costly public key decoding.
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
#include <openssl/provider.h>
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
	OSSL_LIB_CTX *parse_ctx;        /* certificates are parsed in it */
	OSSL_PROVIDER *null_prov;       /* its only provider */
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

/*
 * Parses exactly one DER certificate: trailing bytes are refused. The
 * library context holds only the null provider, so OpenSSL does not turn the
 * public key into an EVP_PKEY (in OpenSSL 3.0 that costs ~120 us of the
 * ~145 us a parse takes); keys go to the P-384 seam from the raw
 * SubjectPublicKeyInfo instead (cert_p384_key()).
 */
static X509 *
parse_der(const struct gb_verifier *v, struct gb_span der)
{
	const unsigned char *p = der.ptr;
	X509 *x;

	if (der.len > GB_CERT_MAX_BYTES * 16 ||
	    (x = X509_new_ex(v->parse_ctx, NULL)) == NULL)
		return NULL;
	if (d2i_X509(&x, &p, (long)der.len) == NULL ||
	    p != der.ptr + der.len) {
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
	err = GB_ENOMEM;
	if ((v->parse_ctx = OSSL_LIB_CTX_new()) == NULL ||
	    (v->null_prov = OSSL_PROVIDER_load(v->parse_ctx, "null")) == NULL)
		goto out;
	err = GB_EINVAL;
	if ((v->root = parse_der(v, (struct gb_span){ root_der, root_len })) ==
	    NULL)
		goto out;
	err = GB_ENOMEM;
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
	X509_free(v->root);
	if (v->null_prov != NULL)
		OSSL_PROVIDER_unload(v->null_prov);
	OSSL_LIB_CTX_free(v->parse_ctx);
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

/* The chain of a document, leaf first: c[0] is the certificate, c[n - 1]
 * the pinned root (cabundle[0]), and c[i] must be issued by c[i + 1]. */
struct chain {
	X509 *c[GB_CABUNDLE_MAX_CERTS + 1];
	struct gb_span der[GB_CABUNDLE_MAX_CERTS + 1];
	unsigned n;
};

static enum gb_reason
chain_bad(struct gb_result *res, unsigned depth, const char *what)
{
	return gb_result_set(res, GB_R_BAD_CHAIN,
	    "%s (certificate at depth %u)", what, depth);
}

/*
 * The rules of RFC 5280 6.1 that bear on the certificate at depth i on its
 * own, or NULL if it keeps them all. OpenSSL parsed its extensions
 * (X509_get_extension_flags()): a malformed or repeated one, or a critical
 * one OpenSSL does not know, fails. Every certificate above the leaf issues
 * one, so it must be a CA (basicConstraints), allowed keyCertSign if it has
 * a keyUsage, and no deeper above the leaf than its pathLenConstraint allows
 * (self-issued CAs do not count); the leaf must not be a CA, and must be
 * allowed digitalSignature if it has a keyUsage.
 */
static const char *
cert_rule(const struct chain *ch, unsigned i)
{
	X509 *x = ch->c[i];
	uint32_t fl = X509_get_extension_flags(x);
	long pathlen, below = 0;

	if (fl & EXFLAG_INVALID)
		return "it has a malformed or repeated extension";
	if (fl & EXFLAG_CRITICAL)
		return "it has a critical extension that is not understood";
	if (fl & EXFLAG_PROXY)
		return "it is a proxy certificate";
	if (X509_get_version(x) != X509_VERSION_3)
		return "it is not an X.509 v3 certificate";
	if (i == 0) {
		if (fl & EXFLAG_CA)
			return "the leaf certificate is a CA";
		/* The leaf signs the COSE structure: a keyUsage, when there
		 * is one, must allow digitalSignature (RFC 5280 4.2.1.3).
		 * NSM leaves carry digitalSignature and nonRepudiation. */
		if ((fl & EXFLAG_KUSAGE) &&
		    !(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE))
			return "the leaf certificate's keyUsage does not allow "
			    "digitalSignature, so it may not sign the document";
		return NULL;
	}
	if (!(fl & EXFLAG_CA))
		return "it issues a certificate but is not a CA "
		    "(basicConstraints)";
	if ((fl & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN))
		return "it issues a certificate but its keyUsage does not "
		    "allow keyCertSign";
	if ((pathlen = X509_get_pathlen(x)) >= 0) {
		for (unsigned j = 1; j < i; j++)
			if (!(X509_get_extension_flags(ch->c[j]) & EXFLAG_SI))
				below++;
		if (below > pathlen)
			return "its pathLenConstraint is exceeded";
	}
	return NULL;
}

/* The link from the certificate at depth i to its issuer at depth i + 1:
 * names and authority key identifier (the signature is link_verify()'s). */
static const char *
link_rule(const struct chain *ch, unsigned i)
{
	X509 *x = ch->c[i], *issuer = ch->c[i + 1];
	AUTHORITY_KEYID *akid;
	int ok, crit;

	if (X509_NAME_cmp(X509_get_issuer_name(x),
	    X509_get_subject_name(issuer)) != 0)
		return "its issuer is not the subject of the next certificate";
	akid = X509_get_ext_d2i(x, NID_authority_key_identifier, &crit, NULL);
	ok = X509_check_akid(issuer, akid) == X509_V_OK;
	AUTHORITY_KEYID_free(akid);
	if (!ok)
		return "its authority key identifier does not match the next "
		    "certificate";
	return NULL;
}

/* Whether the leaf has a DNS subjectAltName (then its CN is no hostname). */
static bool
has_dns_san(X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL);
	bool found = false;

	for (int k = 0; k < sk_GENERAL_NAME_num(gens); k++)
		found |= sk_GENERAL_NAME_value(gens, k)->type == GEN_DNS;
	GENERAL_NAMES_free(gens);
	return found;
}

/*
 * Name constraints (RFC 5280 4.2.1.10), as OpenSSL applies them: those of
 * every CA bind the subject names and subjectAltNames of every certificate
 * below it, self-issued CAs excepted, and the leaf's CN when it has no DNS
 * subjectAltName. Only depths below `upto` are checked. Returns the depth
 * that breaks a constraint, or -1.
 */
static int
name_constraints_broken(const struct chain *ch, unsigned upto)
{
	for (unsigned j = ch->n; j-- > 1;) {
		NAME_CONSTRAINTS *nc = X509_get_ext_d2i(ch->c[j],
		    NID_name_constraints, NULL, NULL);

		if (nc == NULL)
			continue;
		for (unsigned i = j < upto ? j : upto; i-- > 0;) {
			X509 *x = ch->c[i];
			int rv;

			if (i > 0 &&
			    (X509_get_extension_flags(x) & EXFLAG_SI))
				continue;
			rv = NAME_CONSTRAINTS_check(x, nc);
			if (rv == X509_V_OK && i == 0 && !has_dns_san(x))
				rv = NAME_CONSTRAINTS_check_CN(x, nc);
			if (rv != X509_V_OK) {
				NAME_CONSTRAINTS_free(nc);
				return (int)i;
			}
		}
		NAME_CONSTRAINTS_free(nc);
	}
	return -1;
}

/*
 * Checks the chain at at_s: first its shape and extensions, then every
 * link's signature, then every certificate's validity, each top down. With
 * a verified CA chain (known), only what involves the leaf is checked; the
 * cache entry's window already holds at_s. On success [*nb, *na] is the
 * window of the certificates checked, narrowed from what it was.
 */
static enum gb_reason
check_chain(const struct chain *ch, const struct chain_val *known,
    int64_t at_s, int64_t *nb, int64_t *na, struct gb_result *res)
{
	unsigned top = known != NULL ? 1 : ch->n;  /* depths to check */
	struct gb__p384_key key = { .set = false };
	const char *why;
	int64_t b, a;
	int depth;

	for (unsigned i = top; i-- > 0;)
		if ((why = cert_rule(ch, i)) != NULL)
			return chain_bad(res, i, why);
	for (unsigned i = top; i-- > 0;)
		if (i + 1 < ch->n && (why = link_rule(ch, i)) != NULL)
			return chain_bad(res, i, why);
	if ((depth = name_constraints_broken(ch, top)) >= 0)
		return chain_bad(res, (unsigned)depth,
		    "it breaks the name constraints of a CA above it");

	for (unsigned i = top; i-- > 0;) {
		int err;

		if (i + 1 == ch->n)
			continue;
		if (known != NULL)
			err = link_verify(ch->c[i], ch->der[i],
			    &known->issuer_key);
		else if ((err = cert_p384_key(ch->c[i + 1], &key)) == 0)
			err = link_verify(ch->c[i], ch->der[i], &key);
		gb__p384_key_clear(&key);
		if (err != 0)
			return chain_bad(res, i, "its signature by the next "
			    "certificate does not verify as ecdsa-with-SHA384 "
			    "with a P-384 key");
	}

	for (unsigned i = top; i-- > 0;) {
		if (cert_window(ch->c[i], &b, &a) != 0)
			return chain_bad(res, i, "unreadable validity period");
		if (at_s > a)
			return gb_result_set(res, GB_R_CERT_EXPIRED,
			    "expired before the verification time "
			    "(certificate at depth %u)", i);
		if (at_s < b)
			return gb_result_set(res, GB_R_CERT_NOT_YET_VALID,
			    "not yet valid at the verification time "
			    "(certificate at depth %u)", i);
		*nb = b > *nb ? b : *nb;
		*na = a < *na ? a : *na;
	}
	return GB_R_OK;
}

/*
 * Verifies certificate <- cabundle at at_s, using and filling the chain
 * cache. On success, *leaf is the leaf certificate (to be freed) and
 * [*nb, *na] the window of the whole chain. On failure returns the reason
 * (also in res).
 */
static enum gb_reason
verify_chain(struct gb_verifier *v, const struct gb_doc *doc, int64_t at_s,
    X509 **leaf, int64_t *nb, int64_t *na, struct gb_result *res)
{
	struct gb__cache_key key = { .parts = doc->cabundle,
	    .nparts = doc->cabundle_count };
	struct gb__cache *cache = &v->cache[C_CHAIN];
	const struct chain_val *known = NULL;
	struct chain_val *cv = NULL;
	struct gb__cval *hit = NULL;
	struct chain ch = { .n = doc->cabundle_count + 1 };
	unsigned ncas = doc->cabundle_count - 1;
	enum gb_reason r;
	int64_t cnb, cna;

	*leaf = NULL;
	if ((v->caches & GB_CACHE_CHAIN) && gb__cache_key_hash(&key) == 0 &&
	    gb__cache_get(cache, &key, at_s, &hit, &cnb, &cna))
		known = (const struct chain_val *)hit;
	if (known != NULL) {
		cv = (struct chain_val *)hit;
	} else {
		if ((cv = calloc(1, sizeof *cv)) == NULL)
			return gb_result_set(res, GB_R_BAD_CHAIN,
			    "out of memory while checking the chain");
		gb__cval_init(&cv->ref, chain_val_destroy);
		for (unsigned i = 0; i < ncas; i++) {
			cv->certs[i] = parse_der(v, doc->cabundle[i + 1]);
			if (cv->certs[i] == NULL) {
				r = gb_result_set(res, GB_R_BAD_CHAIN,
				    "cabundle[%u] is not a DER X.509 "
				    "certificate", i + 1);
				goto out;
			}
			cv->n++;
		}
	}
	if ((*leaf = parse_der(v, doc->certificate)) == NULL) {
		r = gb_result_set(res, GB_R_BAD_CHAIN,
		    "certificate is not a DER X.509 certificate");
		goto out;
	}

	ch.c[0] = *leaf;
	ch.der[0] = doc->certificate;
	for (unsigned i = 0; i < ncas; i++) {
		ch.c[1 + i] = cv->certs[ncas - 1 - i];
		ch.der[1 + i] = doc->cabundle[ncas - i];
	}
	ch.c[ch.n - 1] = v->root;
	ch.der[ch.n - 1] = doc->cabundle[0];
	*nb = known != NULL ? cnb : INT64_MIN;
	*na = known != NULL ? cna : INT64_MAX;
	if ((r = check_chain(&ch, known, at_s, nb, na, res)) != GB_R_OK)
		goto out;

	/* Remember the CA part for the next leaf of the same instance: its
	 * window is that of every CA. */
	if ((v->caches & GB_CACHE_CHAIN) && known == NULL && ncas > 0 &&
	    cert_p384_key(cv->certs[ncas - 1], &cv->issuer_key) == 0) {
		int64_t b = 0, a = 0;
		bool ok = true;

		cnb = INT64_MIN, cna = INT64_MAX;
		for (unsigned i = 1; ok && i < ch.n; i++) {
			ok = cert_window(ch.c[i], &b, &a) == 0;
			cnb = b > cnb ? b : cnb;
			cna = a < cna ? a : cna;
		}
		if (ok)
			(void)gb__cache_put(cache, &key, cnb, cna, &cv->ref);
	}
out:
	if (r != GB_R_OK) {
		X509_free(*leaf);
		*leaf = NULL;
	}
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
