/*
 * EIF measurement and building (gb/eif.h).
 *
 * One pass over the file: the reader (the calling thread) checks every
 * header and size against what it reads, keeps the CRC, and hands each
 * chunk of section data to two hashing threads: one computes PCR0's digest
 * (kernel, cmdline, every ramdisk), the other PCR1's (kernel, cmdline, first
 * ramdisk) and PCR2's (the other ramdisks). Chunks go round a fixed ring, so
 * memory stays at RING x CHUNK whatever the image's size.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <zlib.h>

#include "cbor_int.h"
#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/eif.h"
#include "gb/err.h"
#include "gb/limits.h"
#include "nsm_int.h"

#define CHUNK (1 << 20)
#define RING 8

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

void
gb_eif_extend(const uint8_t digest[48], uint8_t out[48])
{
	uint8_t buf[96] = { 0 };

	memcpy(buf + 48, digest, 48);
	EVP_Digest(buf, sizeof buf, out, NULL, EVP_sha384(), NULL);
}

static int
fail(struct gb_eif *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->error, sizeof e->error, fmt, ap);
	va_end(ap);
	return GB_EINVAL;
}

/* The hashing pipeline. */
enum { TO_PCR0 = 1, TO_PCR1 = 2, TO_PCR2 = 4 };

struct chunk {
	uint8_t *data;
	size_t len;
	unsigned to;            /* TO_* */
	int pending;            /* workers still to see it */
};

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct chunk ring[RING];
	uint64_t produced, done[2];     /* chunks handed out, seen by each */
	bool closed, failed;
	EVP_MD_CTX *h[3];
};

static void *
hasher(void *arg, int me)
{
	struct pipe *p = arg;
	uint64_t n = 0;

	for (;;) {
		struct chunk *c;

		pthread_mutex_lock(&p->mu);
		while (n == p->produced && !p->closed)
			pthread_cond_wait(&p->cv, &p->mu);
		if (n == p->produced) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		c = &p->ring[n % RING];
		pthread_mutex_unlock(&p->mu);

		if (me == 0 && (c->to & TO_PCR0))
			p->failed |= !EVP_DigestUpdate(p->h[0], c->data, c->len);
		if (me == 1 && (c->to & TO_PCR1))
			p->failed |= !EVP_DigestUpdate(p->h[1], c->data, c->len);
		if (me == 1 && (c->to & TO_PCR2))
			p->failed |= !EVP_DigestUpdate(p->h[2], c->data, c->len);

		pthread_mutex_lock(&p->mu);
		c->pending--;
		p->done[me] = ++n;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

static void *
hasher0(void *arg)
{
	return hasher(arg, 0);
}

static void *
hasher1(void *arg)
{
	return hasher(arg, 1);
}

/* A free chunk of the ring (waits for the hashers to release one). */
static struct chunk *
next_chunk(struct pipe *p)
{
	struct chunk *c = &p->ring[p->produced % RING];

	pthread_mutex_lock(&p->mu);
	while (c->pending > 0)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	return c;
}

static void
publish(struct pipe *p, struct chunk *c)
{
	pthread_mutex_lock(&p->mu);
	c->pending = 2;
	p->produced++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Reads exactly n bytes (fewer only at the end of the file). */
static ssize_t
read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* {register_index: 0, register_value: [PCR0 as integers]}: what a signed
 * image's COSE_Sign1 carries, as serde_cbor writes nitro-cli's PcrInfo.
 * Returns its length in buf, or 0 if buf is too small. */
static size_t
pcr0_payload(uint8_t *buf, size_t cap, const uint8_t pcr0[48])
{
	struct gb__nsm_w w = { buf, 0, false, cap };

	gb__nsm_head(&w, 5, 2);
	gb__nsm_text(&w, "register_index"), gb__nsm_head(&w, 0, 0);
	gb__nsm_text(&w, "register_value"), gb__nsm_head(&w, 4, 48);
	for (size_t i = 0; i < 48; i++)
		gb__nsm_head(&w, 0, pcr0[i]);
	return gb__nsm_done(&w);
}

/* Reads an array of byte-valued integers (how serde_cbor writes a Vec<u8>)
 * into out, at most cap bytes. Returns 0 or -1. */
static int
int_bytes(struct gb__cbor_cur *c, uint8_t *out, size_t cap, size_t *n)
{
	struct gb__cbor_item it;
	struct gb__cbor_array a;
	int more;

	*n = 0;
	if (gb__cbor_next(c, &it) != 0 || (it.type != GB__CB_ARRAY &&
	    it.type != GB__CB_ARRAY_INDEF))
		return -1;
	gb__cbor_array_begin(&a, c, &it);
	while ((more = gb__cbor_array_more(&a)) == 1) {
		if (gb__cbor_next(c, &it) != 0 || it.type != GB__CB_UINT ||
		    it.val > 255 || *n == cap)
			return -1;
		out[(*n)++] = (uint8_t)it.val;
	}
	return more == 0 ? 0 : -1;
}

/* A definite byte string, the next item. */
static int
bstr(struct gb__cbor_cur *c, const uint8_t **p, size_t *n)
{
	struct gb__cbor_item it;

	if (gb__cbor_next(c, &it) != 0 || it.type != GB__CB_BYTES)
		return -1;
	*p = it.ptr, *n = it.len;
	return 0;
}

/* COSE's algorithm, digest and coordinate size for an EC key's curve, the
 * pairing nitro-cli's COSE library imposes (RFC 8152 section 8.1). */
static int
cose_params(EVP_PKEY *k, int64_t *alg, const EVP_MD **md, size_t *n)
{
	char curve[64];

	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_group_name(k, curve, sizeof curve, NULL))
		return -1;
	if (strcmp(curve, "prime256v1") == 0)
		*alg = -7, *md = EVP_sha256(), *n = 32;
	else if (strcmp(curve, "secp384r1") == 0)
		*alg = -35, *md = EVP_sha384(), *n = 48;
	else if (strcmp(curve, "secp521r1") == 0)
		*alg = -36, *md = EVP_sha512(), *n = 66;
	else
		return -1;
	return 0;
}

/*
 * SignatureCheck: the COSE_Sign1 (untagged or tag 18) verifies with the
 * certificate's key, its protected header names the algorithm that key
 * implies, and its payload is {register_index: 0, register_value: PCR0}
 * for this image's PCR0. Sets e->sig_ok, or e->sig_error; never fails the
 * measurement.
 */
static void
check_signature(struct gb_eif *e, X509 *x, const uint8_t *cose, size_t len)
{
	struct gb__cbor_cur c, hc;
	struct gb__cbor_item it, key;
	struct gb__cbor_array a;
	struct gb__cbor_map m;
	const uint8_t *prot, *payload, *sig;
	size_t nprot, npayload, nsig, n, tlen, want_len;
	uint8_t want[256], *tbs = NULL, *der = NULL;
	int64_t alg, hdr_alg = 0;
	const EVP_MD *md;
	const char *why = NULL;
	bool have_alg = false;
	EVP_MD_CTX *mctx = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	EVP_PKEY *k = X509_get0_pubkey(x);
	int k_ret, dlen;

	gb__cbor_init(&c, cose, len);
	c.definite_strings = true;
	if (gb__cbor_next(&c, &it) != 0)
		goto malformed;
	if (it.type == GB__CB_TAG) {
		if (it.val != 18) {
			why = "the signature is not a COSE_Sign1 (a tag other "
			    "than 18)";
			goto out;
		}
		if (gb__cbor_next(&c, &it) != 0)
			goto malformed;
	}
	if (it.type != GB__CB_ARRAY && it.type != GB__CB_ARRAY_INDEF)
		goto malformed;
	gb__cbor_array_begin(&a, &c, &it);
	if (gb__cbor_array_more(&a) != 1 || bstr(&c, &prot, &nprot) != 0 ||
	    gb__cbor_array_more(&a) != 1 || gb__cbor_next(&c, &it) != 0 ||
	    (it.type != GB__CB_MAP && it.type != GB__CB_MAP_INDEF) ||
	    gb__cbor_skip(&c, &it, 2) != 0 ||
	    gb__cbor_array_more(&a) != 1 ||
	    bstr(&c, &payload, &npayload) != 0 ||
	    gb__cbor_array_more(&a) != 1 || bstr(&c, &sig, &nsig) != 0 ||
	    gb__cbor_array_more(&a) != 0 || c.p != c.end)
		goto malformed;
	/* The protected header: a map naming the algorithm (label 1). */
	gb__cbor_init(&hc, prot, nprot);
	if (gb__cbor_next(&hc, &it) != 0 || gb__cbor_map_begin(&m, &hc,
	    &it) != 0)
		goto malformed;
	while ((k_ret = gb__cbor_map_key(&m, &key)) == 1) {
		if (key.type == GB__CB_UINT && key.val == 1) {
			if (gb__cbor_next(&hc, &it) != 0 || (it.type !=
			    GB__CB_NINT && it.type != GB__CB_UINT) ||
			    it.val > INT64_MAX)
				goto malformed;
			hdr_alg = it.type == GB__CB_NINT ? -1 - (int64_t)it.val :
			    (int64_t)it.val;
			have_alg = true;
		} else if (gb__cbor_skip_item(&hc, 2) != 0) {
			goto malformed;
		}
	}
	if (k_ret != 0 || hc.p != hc.end)
		goto malformed;
	if (!have_alg) {
		why = "the signature's protected header names no algorithm";
		goto out;
	}
	if (k == NULL || cose_params(k, &alg, &md, &n) != 0) {
		why = "the certificate's key is not an EC key on P-256, P-384 "
		    "or P-521";
		goto out;
	}
	if (hdr_alg != alg) {
		why = "the signature's algorithm is not the one the "
		    "certificate's key implies";
		goto out;
	}
	if (nsig != 2 * n) {
		why = "the signature is not r || s of the key's size";
		goto out;
	}
	/* Sig_structure: ["Signature1", protected, h'', payload]. */
	tlen = 32 + nprot + npayload;
	if ((tbs = malloc(tlen)) == NULL) {
		why = "out of memory";
		goto out;
	}
	{
		struct gb__nsm_w w = { tbs, 0, false, tlen };

		gb__nsm_head(&w, 4, 4);
		gb__nsm_text(&w, "Signature1");
		gb__nsm_bytes(&w, prot, nprot);
		gb__nsm_bytes(&w, (const uint8_t *)"", 0);
		gb__nsm_bytes(&w, payload, npayload);
		tlen = gb__nsm_done(&w);
	}
	if (tlen == 0 || (es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(sig, (int)n, NULL)) == NULL ||
	    (s = BN_bin2bn(sig + n, (int)n, NULL)) == NULL ||
	    !ECDSA_SIG_set0(es, r, s)) {
		why = "out of memory";
		goto out;
	}
	r = s = NULL;                   /* es owns them */
	if ((dlen = i2d_ECDSA_SIG(es, &der)) <= 0 ||
	    (mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mctx, NULL, md, NULL, k) != 1) {
		why = "out of memory";
		goto out;
	}
	if (EVP_DigestVerify(mctx, der, (size_t)dlen, tbs, tlen) != 1) {
		why = "the signature does not verify with the certificate's "
		    "key";
		goto out;
	}
	want_len = pcr0_payload(want, sizeof want, e->pcr0);
	if (want_len == 0 || npayload != want_len ||
	    memcmp(payload, want, want_len) != 0) {
		why = "the signature verifies but does not sign this image's "
		    "PCR0";
		goto out;
	}
	e->sig_ok = true;
	goto out;
malformed:
	why = "the signature is not a well-formed COSE_Sign1";
out:
	if (why != NULL)
		snprintf(e->sig_error, sizeof e->sig_error, "%s", why);
	ERR_clear_error();
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	BN_free(r);
	BN_free(s);
	free(tbs);
}

/* One entry of the signature section: a map with signing_certificate and
 * signature, both arrays of byte-valued integers, read into pem and cose
 * (each at most cap bytes); other keys are skipped, as serde does. Returns
 * 0 or -1. */
static int
sig_entry(struct gb__cbor_cur *c, uint8_t *pem, size_t *npem, uint8_t *cose,
    size_t *ncose, size_t cap)
{
	struct gb__cbor_item it, key;
	struct gb__cbor_map m;
	bool have_pem = false, have_cose = false;
	int k;

	if (gb__cbor_next(c, &it) != 0 || gb__cbor_map_begin(&m, c, &it) != 0)
		return -1;
	while ((k = gb__cbor_map_key(&m, &key)) == 1) {
		if (gb__cbor_text_is(&key, "signing_certificate")) {
			if (int_bytes(c, pem, cap, npem) != 0)
				return -1;
			have_pem = true;
		} else if (gb__cbor_text_is(&key, "signature")) {
			if (int_bytes(c, cose, cap, ncose) != 0)
				return -1;
			have_cose = true;
		} else if (gb__cbor_skip_item(c, 3) != 0) {
			return -1;
		}
	}
	return k == 0 && have_pem && have_cose ? 0 : -1;
}

/* The signature section: a CBOR array (nothing after it) of entries as
 * sig_entry() reads them; nitro-cli reads them all and uses the first, the
 * signature of PCR0. Sets PCR8, the certificate and the signature check.
 * Returns 0, GB_EINVAL (not an image nitro-cli reads) or GB_ENOMEM. */
static int
signature_section(struct gb_eif *e, const uint8_t *sig, size_t len)
{
	struct gb__cbor_cur c;
	struct gb__cbor_item it;
	struct gb__cbor_array a;
	uint8_t *pem = NULL, *cose = NULL, *scratch = NULL, *der = NULL;
	uint8_t md[48];
	size_t npem = 0, ncose = 0, n1, n2, entries = 0;
	int more, derlen, rc = GB_ENOMEM;
	X509 *x = NULL;
	BIO *b = NULL;

	gb__cbor_init(&c, sig, len);
	if (gb__cbor_next(&c, &it) != 0 || (it.type != GB__CB_ARRAY &&
	    it.type != GB__CB_ARRAY_INDEF))
		return fail(e, "the signature section is not a CBOR array");
	if ((pem = malloc(len + 1)) == NULL || (cose = malloc(len + 1)) ==
	    NULL || (scratch = malloc(len + 1)) == NULL)
		goto out;
	gb__cbor_array_begin(&a, &c, &it);
	while ((more = gb__cbor_array_more(&a)) == 1) {
		int r = entries == 0 ?
		    sig_entry(&c, pem, &npem, cose, &ncose, len) :
		    sig_entry(&c, scratch, &n1, scratch, &n2, len);

		if (r != 0)
			goto bad;
		entries++;
	}
	if (more != 0 || c.p != c.end)
		goto bad;
	if (entries == 0) {
		rc = fail(e, "the signature section has no entry");
		goto out;
	}
	if (npem == 0)
		goto bad;
	pem[npem] = '\0';
	if ((b = BIO_new_mem_buf(pem, (int)npem)) == NULL ||
	    (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL ||
	    (derlen = i2d_X509(x, &der)) <= 0 ||
	    !EVP_Digest(der, (size_t)derlen, md, NULL, EVP_sha384(), NULL)) {
		ERR_clear_error();
		rc = fail(e, "the signing certificate is not a PEM "
		    "certificate");
		goto out;
	}
	gb_eif_extend(md, e->pcr8);
	e->is_signed = true;
	if ((e->cert_der = malloc((size_t)derlen)) == NULL)
		goto out;
	memcpy(e->cert_der, der, (size_t)derlen);
	e->cert_der_len = (size_t)derlen;
	check_signature(e, x, cose, ncose);
	rc = 0;
	goto out;
bad:
	rc = fail(e, "the signature section is not as EIF.md describes");
out:
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(b);
	free(pem);
	free(cose);
	free(scratch);
	return rc;
}

int
gb_eif_measure_fd(int fd, struct gb_eif *e)
{
	static const uint8_t magic[4] = { '.', 'e', 'i', 'f' };
	uint8_t hdr[GB_EIF_HEADER_BYTES], sh[GB_EIF_SECTION_HEADER_BYTES];
	uint64_t offsets[GB_EIF_MAX_SECTIONS], sizes[GB_EIF_MAX_SECTIONS];
	uint64_t pos = GB_EIF_HEADER_BYTES;
	struct pipe p;
	pthread_t t[2];
	uint8_t *sigbuf = NULL, md[48];
	size_t siglen = 0;
	unsigned ramdisks = 0, kernels = 0, cmdlines = 0;
	int threads = 0, err = 0;
	uLong crc;
	ssize_t n;

	memset(e, 0, sizeof *e);
	memset(&p, 0, sizeof p);
	n = read_full(fd, hdr, sizeof hdr);
	if (n < 0)
		return GB_EIO;
	if (n == 0)
		return fail(e, "the file is empty");
	if ((size_t)n < sizeof hdr)
		return fail(e, "the file is shorter than the 548-byte header");
	if (memcmp(hdr, magic, 4) != 0)
		return fail(e, "no .eif magic");
	e->version = (uint16_t)(hdr[4] << 8 | hdr[5]);
	e->flags = (uint16_t)(hdr[6] << 8 | hdr[7]);
	e->default_mem = be64(hdr + 8);
	e->default_cpus = be64(hdr + 16);
	e->nsections = (unsigned)(hdr[26] << 8 | hdr[27]);
	if (e->nsections == 0 || e->nsections > GB_EIF_MAX_SECTIONS)
		return fail(e, "%u sections (1..32)", e->nsections);
	for (unsigned i = 0; i < GB_EIF_MAX_SECTIONS; i++) {
		offsets[i] = be64(hdr + 28 + 8 * i);
		sizes[i] = be64(hdr + 284 + 8 * i);
	}
	e->crc_stored = (uint32_t)hdr[544] << 24 | (uint32_t)hdr[545] << 16 |
	    (uint32_t)hdr[546] << 8 | hdr[547];
	crc = crc32(0L, hdr, 544);

	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	for (int i = 0; i < RING; i++)
		if ((p.ring[i].data = malloc(CHUNK)) == NULL)
			err = GB_ENOMEM;
	for (int i = 0; i < 3 && err == 0; i++)
		if ((p.h[i] = EVP_MD_CTX_new()) == NULL ||
		    !EVP_DigestInit_ex(p.h[i], EVP_sha384(), NULL))
			err = GB_ENOMEM;
	if (err == 0 && pthread_create(&t[0], NULL, hasher0, &p) == 0)
		threads++;
	if (err == 0 && pthread_create(&t[1], NULL, hasher1, &p) == 0)
		threads++;
	if (err == 0 && threads < 2)
		err = GB_ENOMEM;

	for (unsigned i = 0; i < e->nsections && err == 0; i++) {
		uint16_t type;
		uint64_t size, left;
		unsigned to = 0;

		if (offsets[i] != pos) {
			err = fail(e, "section %u is at offset %llu, not right "
			    "after the previous one (%llu)", i,
			    (unsigned long long)offsets[i],
			    (unsigned long long)pos);
			break;
		}
		if ((n = read_full(fd, sh, sizeof sh)) < 0) {
			err = GB_EIO;
			break;
		}
		if ((size_t)n < sizeof sh) {
			err = fail(e, "the file ends inside section %u's header",
			    i);
			break;
		}
		crc = crc32(crc, sh, sizeof sh);
		type = (uint16_t)(sh[0] << 8 | sh[1]);
		size = be64(sh + 4);
		/* nitro-cli sign-eif, re-signing, rewrites the signature
		 * section but not its entry in the header's size table; its
		 * reader ignores that table. Everything else must agree. */
		if (size != sizes[i] && type != GB_EIF_SIGNATURE) {
			err = fail(e, "section %u says %llu bytes, the header "
			    "%llu", i, (unsigned long long)size,
			    (unsigned long long)sizes[i]);
			break;
		}
		if (size != sizes[i])
			e->stale_sizes++;
		if (size > UINT64_MAX - pos - sizeof sh) {
			err = fail(e, "section %u's size overflows", i);
			break;
		}
		e->sections[i].type = type;
		e->sections[i].flags = (uint16_t)(sh[2] << 8 | sh[3]);
		e->sections[i].offset = pos;
		e->sections[i].size = size;
		switch (type) {
		case GB_EIF_KERNEL:
			kernels++;
			to = TO_PCR0 | TO_PCR1;
			break;
		case GB_EIF_CMDLINE:
			cmdlines++;
			to = TO_PCR0 | TO_PCR1;
			break;
		case GB_EIF_RAMDISK:
			to = TO_PCR0 | (ramdisks == 0 ? TO_PCR1 : TO_PCR2);
			ramdisks++;
			break;
		case GB_EIF_METADATA:
			if (e->metadata != NULL || size > GB_EIF_METADATA_MAX) {
				err = fail(e, "a second metadata section, or one "
				    "over 1 MiB");
				continue;
			}
			if ((e->metadata = malloc(size + 1)) == NULL)
				err = GB_ENOMEM;
			break;
		case GB_EIF_SIGNATURE:
			if (sigbuf != NULL || size > GB_EIF_SIGNATURE_MAX) {
				err = fail(e, "a second signature section, or one "
				    "over 1 MiB");
				continue;
			}
			if ((sigbuf = malloc(size + 1)) == NULL)
				err = GB_ENOMEM;
			break;
		default:
			err = fail(e, "section %u has the unknown type %u", i,
			    type);
			continue;
		}
		pos += sizeof sh;
		for (left = size; left > 0 && err == 0;) {
			struct chunk *c = next_chunk(&p);
			size_t want = left < CHUNK ? (size_t)left : CHUNK;

			if ((n = read_full(fd, c->data, want)) < 0) {
				err = GB_EIO;
				break;
			}
			if ((size_t)n < want) {
				err = fail(e, "the file ends inside section %u", i);
				break;
			}
			crc = crc32(crc, c->data, (uInt)want);
			if (type == GB_EIF_METADATA) {
				memcpy(e->metadata + e->metadata_len, c->data,
				    want);
				e->metadata_len += want;
			} else if (type == GB_EIF_SIGNATURE) {
				memcpy(sigbuf + siglen, c->data, want);
				siglen += want;
			} else {
				c->len = want;
				c->to = to;
				publish(&p, c);
			}
			left -= want;
			pos += want;
		}
	}
	pthread_mutex_lock(&p.mu);
	p.closed = true;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.mu);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);

	if (err == 0 && read_full(fd, sh, 1) != 0)
		err = fail(e, "bytes follow the last section");
	if (err == 0 && (kernels != 1 || cmdlines != 1 || ramdisks == 0))
		err = fail(e, "an image has one kernel, one cmdline and at least "
		    "one ramdisk (this one: %u, %u, %u)", kernels, cmdlines,
		    ramdisks);
	if (err == 0 && p.failed)
		err = GB_ECRYPTO;
	if (err == 0) {
		EVP_DigestFinal_ex(p.h[0], md, NULL);
		gb_eif_extend(md, e->pcr0);
		EVP_DigestFinal_ex(p.h[1], md, NULL);
		gb_eif_extend(md, e->pcr1);
		EVP_DigestFinal_ex(p.h[2], md, NULL);
		gb_eif_extend(md, e->pcr2);
		e->crc_computed = (uint32_t)crc;
		e->crc_ok = e->crc_computed == e->crc_stored;
		if (e->metadata != NULL)
			e->metadata[e->metadata_len] = '\0';
		if (sigbuf != NULL)
			err = signature_section(e, sigbuf, siglen);
	}
	for (int i = 0; i < RING; i++)
		free(p.ring[i].data);
	for (int i = 0; i < 3; i++)
		EVP_MD_CTX_free(p.h[i]);
	pthread_cond_destroy(&p.cv);
	pthread_mutex_destroy(&p.mu);
	free(sigbuf);
	if (err != 0) {
		char why[sizeof e->error];

		memcpy(why, e->error, sizeof why);
		gb_eif_free(e);
		memset(e, 0, sizeof *e);
		memcpy(e->error, why, sizeof why);
	}
	return err;
}

int
gb_eif_measure_file(const char *path, struct gb_eif *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	memset(out, 0, sizeof *out);
	if (fd < 0) {
		snprintf(out->error, sizeof out->error, "cannot open %s: %s",
		    path, strerror(errno));
		return GB_EIO;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	err = gb_eif_measure_fd(fd, out);
	close(fd);
	return err;
}

void
gb_eif_free(struct gb_eif *e)
{
	free(e->metadata);
	e->metadata = NULL;
	e->metadata_len = 0;
	free(e->cert_der);
	e->cert_der = NULL;
	e->cert_der_len = 0;
}

int
gb_eif_build(const char *path, struct gb_eif_part kernel,
    struct gb_eif_part cmdline, struct gb_eif_part metadata,
    const struct gb_eif_part *ramdisks, size_t nramdisks,
    struct gb_eif_part signature)
{
	struct gb_eif_part parts[GB_EIF_MAX_SECTIONS];
	uint16_t types[GB_EIF_MAX_SECTIONS];
	uint8_t hdr[GB_EIF_HEADER_BYTES] = { '.', 'e', 'i', 'f', 0, 4 };
	uint8_t sh[GB_EIF_SECTION_HEADER_BYTES];
	size_t n = 0;
	uint64_t pos = GB_EIF_HEADER_BYTES;
	uLong crc;
	FILE *f;
	int ok;

	if (nramdisks == 0 || nramdisks + 4 > GB_EIF_MAX_SECTIONS)
		return GB_EINVAL;
	parts[n] = kernel, types[n++] = GB_EIF_KERNEL;
	parts[n] = cmdline, types[n++] = GB_EIF_CMDLINE;
	parts[n] = metadata, types[n++] = GB_EIF_METADATA;
	for (size_t i = 0; i < nramdisks; i++)
		parts[n] = ramdisks[i], types[n++] = GB_EIF_RAMDISK;
	if (signature.data != NULL)
		parts[n] = signature, types[n++] = GB_EIF_SIGNATURE;
	put_be(hdr + 26, n, 2);
	for (size_t i = 0; i < n; i++) {
		put_be(hdr + 28 + 8 * i, pos, 8);
		put_be(hdr + 284 + 8 * i, parts[i].len, 8);
		pos += sizeof sh + parts[i].len;
	}
	crc = crc32(0L, hdr, 544);
	for (size_t i = 0; i < n; i++) {
		put_be(sh, types[i], 2);
		put_be(sh + 2, 0, 2);
		put_be(sh + 4, parts[i].len, 8);
		crc = crc32(crc, sh, sizeof sh);
		crc = crc32(crc, parts[i].data, (uInt)parts[i].len);
	}
	put_be(hdr + 544, crc, 4);
	if ((f = fopen(path, "wb")) == NULL)
		return GB_EIO;
	ok = fwrite(hdr, sizeof hdr, 1, f) == 1;
	for (size_t i = 0; ok && i < n; i++) {
		put_be(sh, types[i], 2);
		put_be(sh + 2, 0, 2);
		put_be(sh + 4, parts[i].len, 8);
		ok = fwrite(sh, sizeof sh, 1, f) == 1 && (parts[i].len == 0 ||
		    fwrite(parts[i].data, parts[i].len, 1, f) == 1);
	}
	ok = fclose(f) == 0 && ok;
	return ok ? 0 : GB_EIO;
}

/* An array of byte-valued integers, as the signature section has them. */
static void
int_array(struct gb__nsm_w *w, const uint8_t *p, size_t n)
{
	gb__nsm_head(w, 4, n);
	for (size_t i = 0; i < n; i++)
		gb__nsm_head(w, 0, p[i]);
}

int
gb_eif_signature_section(const char *cert_pem, const char *key_pem,
    const uint8_t pcr0[48], uint8_t **out, size_t *out_len)
{
	static const uint8_t protected_hdr[] = { 0xa1, 0x01, 0x38, 0x22 };
	uint8_t payload[256], tbs[512], cose[1024], der[256], sig[96];
	struct gb__nsm_w tw = { tbs, 0, false, sizeof tbs };
	struct gb__nsm_w cw = { cose, 0, false, sizeof cose };
	struct gb__nsm_w sw;
	size_t plen, tlen, clen, dlen = sizeof der, pemlen = strlen(cert_pem);
	const unsigned char *dp;
	EVP_MD_CTX *md = NULL;
	EVP_PKEY *key = NULL;
	ECDSA_SIG *es = NULL;
	BIO *b = NULL;
	int err = GB_ECRYPTO;

	plen = pcr0_payload(payload, sizeof payload, pcr0);
	/* Sig_structure ["Signature1", protected, h'', payload] */
	gb__nsm_head(&tw, 4, 4);
	gb__nsm_text(&tw, "Signature1");
	gb__nsm_bytes(&tw, protected_hdr, sizeof protected_hdr);
	gb__nsm_bytes(&tw, (const uint8_t *)"", 0);
	gb__nsm_bytes(&tw, payload, plen);
	tlen = gb__nsm_done(&tw);
	if (plen == 0 || tlen == 0 ||
	    (b = BIO_new_mem_buf(key_pem, -1)) == NULL ||
	    (key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL ||
	    (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &dlen, tbs, tlen) != 1)
		goto out;
	dp = der;
	if ((es = d2i_ECDSA_SIG(NULL, &dp, (long)dlen)) == NULL ||
	    BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 48) != 48 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 48, 48) != 48)
		goto out;
	gb__nsm_head(&cw, 4, 4);
	gb__nsm_bytes(&cw, protected_hdr, sizeof protected_hdr);
	gb__nsm_head(&cw, 5, 0);
	gb__nsm_bytes(&cw, payload, plen);
	gb__nsm_bytes(&cw, sig, sizeof sig);
	if ((clen = gb__nsm_done(&cw)) == 0)
		goto out;
	err = GB_ENOMEM;
	*out_len = 16 + 5 * (pemlen + clen) + 64;
	if ((*out = malloc(*out_len)) == NULL)
		goto out;
	sw = (struct gb__nsm_w){ *out, 0, false, *out_len };
	gb__nsm_head(&sw, 4, 1);
	gb__nsm_head(&sw, 5, 2);
	gb__nsm_text(&sw, "signing_certificate");
	int_array(&sw, (const uint8_t *)cert_pem, pemlen);
	gb__nsm_text(&sw, "signature");
	int_array(&sw, cose, clen);
	if ((*out_len = gb__nsm_done(&sw)) == 0) {
		free(*out);
		*out = NULL;
		goto out;
	}
	err = 0;
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	BIO_free(b);
	return err;
}

/*
 * describe-eif's JSON, written as serde_json's to_string_pretty() writes
 * nitro-cli's EifDescribeInfo: two-space indent, "key": value, empty
 * containers as {} and [], strings escaped as serde_json does, object keys
 * of JSON values (DockerInfo, CustomMetadata) in byte order, because
 * serde_json::Value keeps objects in a BTreeMap.
 */
struct jw {
	char *p;                /* from malloc() */
	size_t len, cap;
	bool bad;               /* out of memory or past the limit (sticky) */
	bool toobig;            /* past GB_EIF_DESCRIBE_MAX_BYTES */
	int depth;
	/* Per open container: nothing written in it yet. The metadata nests
	 * at most GB_JSON_MAX_DEPTH (gb_json_loadb), two levels down. */
	bool first[GB_JSON_MAX_DEPTH + 8];
};

static void
jw_raw(struct jw *w, const char *s, size_t n)
{
	if (w->bad)
		return;
	if (n > GB_EIF_DESCRIBE_MAX_BYTES - w->len) {
		w->bad = w->toobig = true;
		return;
	}
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		char *p;

		while (cap < w->len + n + 1)
			cap *= 2;
		if ((p = realloc(w->p, cap)) == NULL) {
			w->bad = true;
			return;
		}
		w->p = p, w->cap = cap;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

static void
jw_s(struct jw *w, const char *s)
{
	jw_raw(w, s, strlen(s));
}

/* serde_json's escapes: \" \\ \b \f \n \r \t, other controls as \u00xx
 * (lower-case hex), everything else (DEL, non-ASCII) as it is. */
static void
jw_str(struct jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	jw_raw(w, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[7] = { '\\', 0 };
		size_t elen = 2;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		jw_raw(w, s + run, i - run);
		run = i + 1;
		switch (ch) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[ch >> 4], esc[5] = hex[ch & 15];
			elen = 6;
		}
		jw_raw(w, esc, elen);
	}
	jw_raw(w, s + run, n - run);
	jw_raw(w, "\"", 1);
}

static void
jw_newline(struct jw *w)
{
	jw_raw(w, "\n", 1);
	for (int i = 0; i < w->depth; i++)
		jw_raw(w, "  ", 2);
}

static void
jw_open(struct jw *w, char c)
{
	jw_raw(w, &c, 1);
	if (w->depth + 1 >= (int)(sizeof w->first / sizeof w->first[0])) {
		w->bad = true;
		return;
	}
	w->first[++w->depth] = true;
}

static void
jw_close(struct jw *w, char c)
{
	bool empty = w->first[w->depth];

	w->depth--;
	if (!empty)
		jw_newline(w);
	jw_raw(w, &c, 1);
}

/* Starts an array element (k NULL) or an object member. */
static void
jw_key(struct jw *w, const char *k, size_t klen)
{
	if (!w->first[w->depth])
		jw_raw(w, ",", 1);
	w->first[w->depth] = false;
	jw_newline(w);
	if (k != NULL) {
		jw_str(w, k, klen);
		jw_raw(w, ": ", 2);
	}
}

static void
jw_kstr(struct jw *w, const char *k, const char *v)
{
	jw_key(w, k, strlen(k));
	jw_str(w, v, strlen(v));
}

/*
 * A double as serde_json prints it (ryu's shortest round-trip digits):
 * plain notation with at least one fractional digit ("100.0", "0.001")
 * when the decimal point falls within 16 digits of the first (or 5 zeros
 * before it), scientific otherwise ("1e16", "1.5e-7").
 */
static void
jw_real(struct jw *w, double v)
{
	char sci[40], digits[20], out[64];
	int exp10 = 0, nd = 0, kk, k, o = 0;
	const char *p;

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(sci, sizeof sci, "%.*e", prec - 1, v);
		if (strtod(sci, NULL) == v)
			break;
	}
	p = sci;
	if (*p == '-')
		out[o++] = '-', p++;
	for (; *p != 'e' && *p != '\0'; p++)
		if (*p >= '0' && *p <= '9' && nd < (int)sizeof digits - 1)
			digits[nd++] = *p;
	if (*p == 'e')
		exp10 = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	kk = exp10 + 1;                 /* digits before the decimal point */
	k = kk - nd;
	if (k >= 0 && kk <= 16) {
		memcpy(out + o, digits, (size_t)nd), o += nd;
		for (int i = 0; i < k; i++)
			out[o++] = '0';
		out[o++] = '.', out[o++] = '0';
	} else if (kk > 0 && kk <= 16) {
		memcpy(out + o, digits, (size_t)kk), o += kk;
		out[o++] = '.';
		memcpy(out + o, digits + kk, (size_t)(nd - kk)), o += nd - kk;
	} else if (kk > -5 && kk <= 0) {
		out[o++] = '0', out[o++] = '.';
		for (int i = 0; i < -kk; i++)
			out[o++] = '0';
		memcpy(out + o, digits, (size_t)nd), o += nd;
	} else {
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			memcpy(out + o, digits + 1, (size_t)(nd - 1));
			o += nd - 1;
		}
		o += snprintf(out + o, sizeof out - (size_t)o, "e%d", kk - 1);
	}
	jw_raw(w, out, (size_t)o);
}

static int
key_order(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A JSON value, objects' keys sorted. depth bounds the recursion. */
static void
jw_value(struct jw *w, json_t *v, int depth)
{
	char num[32];

	if (depth > GB_JSON_MAX_DEPTH + 2) {
		w->bad = true;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		const char **keys;
		const char *key;
		json_t *val;

		if ((keys = calloc(n ? n : 1, sizeof *keys)) == NULL) {
			w->bad = true;
			return;
		}
		json_object_foreach(v, key, val)
			keys[i++] = key;
		qsort(keys, n, sizeof *keys, key_order);
		jw_open(w, '{');
		for (i = 0; i < n && !w->bad; i++) {
			jw_key(w, keys[i], strlen(keys[i]));
			jw_value(w, json_object_get(v, keys[i]), depth + 1);
		}
		jw_close(w, '}');
		free(keys);
		break;
	}
	case JSON_ARRAY:
		jw_open(w, '[');
		for (size_t i = 0; i < json_array_size(v) && !w->bad; i++) {
			jw_key(w, NULL, 0);
			jw_value(w, json_array_get(v, i), depth + 1);
		}
		jw_close(w, ']');
		break;
	case JSON_STRING:
		jw_str(w, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		jw_s(w, num);
		break;
	case JSON_REAL:
		jw_real(w, json_real_value(v));
		break;
	case JSON_TRUE:
		jw_s(w, "true");
		break;
	case JSON_FALSE:
		jw_s(w, "false");
		break;
	case JSON_NULL:
		jw_s(w, "null");
		break;
	}
}

/*
 * serde_json reads "-0" and integers it cannot hold (above 2^64 - 1, below
 * -2^63) as floating-point numbers, where jansson reads "-0" as the
 * integer 0 and refuses the others. A copy of the JSON text (malloc, NUL-
 * terminated, *out_len bytes) with ".0" appended to those integers makes
 * jansson read them as serde_json does. Returns NULL if out of memory.
 */
static char *
serde_numbers(const char *s, size_t n, size_t *out_len)
{
	char *out = malloc(2 * n + 1), *o = out;
	bool in_str = false;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t j = i, digits;
		bool neg;

		if (in_str || (s[i] != '-' && (s[i] < '0' || s[i] > '9'))) {
			if (in_str && s[i] == '\\' && i + 1 < n)
				*o++ = s[i++];
			else if (s[i] == '"')
				in_str = !in_str;
			*o++ = s[i++];
			continue;
		}
		neg = s[j] == '-';
		j += neg;
		while (j < n && s[j] >= '0' && s[j] <= '9')
			j++;
		digits = j - i - neg;
		memcpy(o, s + i, j - i), o += j - i;
		/* A pure integer: no fraction or exponent follows. */
		if (digits > 0 && !(j < n && (s[j] == '.' || s[j] == 'e' ||
		    s[j] == 'E'))) {
			const char *d = s + i + neg;
			/* Magnitudes past the limits, compared as digit text
			 * (no leading zeros in valid JSON). */
			const char *lim = neg ? "9223372036854775808" :
			    "18446744073709551615";
			size_t llen = strlen(lim);
			bool big = digits > llen || (digits == llen &&
			    memcmp(d, lim, llen) > 0);

			if ((neg && digits == 1 && d[0] == '0') || big)
				*o++ = '.', *o++ = '0';
		}
		i = j;
	}
	*o = '\0';
	*out_len = (size_t)(o - out);
	return out;
}

/* The string member k of o, or NULL (with why) if absent or not a string,
 * as serde would refuse it reading EifIdentityInfo. */
static json_t *
meta_str(json_t *o, const char *k, char *why, size_t whylen)
{
	json_t *v = json_object_get(o, k);

	if (v == NULL)
		snprintf(why, whylen, "the metadata has no %s", k);
	else if (!json_is_string(v))
		snprintf(why, whylen, "the metadata's %s is not a string", k);
	else
		return v;
	return NULL;
}

/*
 * The metadata as nitro-cli reads it (EifIdentityInfo: ImageName,
 * ImageVersion, BuildMetadata{BuildTime, BuildTool, BuildToolVersion,
 * OperatingSystem, KernelVersion} strings, DockerInfo and CustomMetadata
 * any JSON, all required, other keys ignored); CustomMetadata must be an
 * object or null for nitro-cli to flatten it. Returns the parsed metadata
 * (new reference) or NULL with why.
 */
static json_t *
meta_load(const struct gb_eif *e, char *why, size_t whylen)
{
	static const char *const build[] = { "BuildTime", "BuildTool",
	    "BuildToolVersion", "OperatingSystem", "KernelVersion" };
	json_error_t jerr;
	json_t *m, *b, *c;
	char *text;
	size_t len;

	if (e->metadata == NULL)
		return NULL;    /* EIF v3 and older: nothing to describe */
	if ((text = serde_numbers(e->metadata, e->metadata_len, &len)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	m = gb_json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
	free(text);
	if (m == NULL) {
		snprintf(why, whylen, "the metadata is not JSON Glassbox reads: "
		    "%.100s", jerr.text);
		return NULL;
	}
	if (!json_is_object(m)) {
		snprintf(why, whylen, "the metadata is not a JSON object");
		goto bad;
	}
	if (meta_str(m, "ImageName", why, whylen) == NULL ||
	    meta_str(m, "ImageVersion", why, whylen) == NULL)
		goto bad;
	if (!json_is_object(b = json_object_get(m, "BuildMetadata"))) {
		snprintf(why, whylen, "the metadata's BuildMetadata is missing "
		    "or not an object");
		goto bad;
	}
	for (size_t i = 0; i < sizeof build / sizeof build[0]; i++)
		if (meta_str(b, build[i], why, whylen) == NULL)
			goto bad;
	if (json_object_get(m, "DockerInfo") == NULL) {
		snprintf(why, whylen, "the metadata has no DockerInfo");
		goto bad;
	}
	c = json_object_get(m, "CustomMetadata");
	if (c == NULL || !(json_is_object(c) || json_is_null(c))) {
		snprintf(why, whylen, "the metadata's CustomMetadata is missing "
		    "or neither an object nor null (nitro-cli cannot flatten "
		    "it)");
		goto bad;
	}
	return m;
bad:
	json_decref(m);
	return NULL;
}

/* "ecdsa-with-SHA384": OBJ_obj2txt() with names, into rust-openssl's
 * 80-byte buffer (longer texts are cut to 79 bytes and "..."). */
static void
object_text(const ASN1_OBJECT *o, char *out, size_t outlen)
{
	char buf[80];
	int n = OBJ_obj2txt(buf, sizeof buf, o, 0);

	if (n <= 0)
		snprintf(out, outlen, "OBJ_obj2txt error");
	else if (n > (int)sizeof buf)
		snprintf(out, outlen, "%.79s...", buf);
	else
		snprintf(out, outlen, "%s", buf);
}

/* An issuer attribute's value as nitro-cli prints it: UTF-8 through
 * Rust's Debug escapes (\\ \t \r \n \0 \u{..} for other controls), then
 * every double quote removed ("error" if it is not a string). Returns a
 * malloc'd string or NULL if out of memory. */
static char *
issuer_value(const ASN1_STRING *s)
{
	unsigned char *u = NULL;
	int n = ASN1_STRING_to_UTF8(&u, s);
	char *out, *o;

	if (n < 0) {
		ERR_clear_error();
		return strdup("error");
	}
	if ((out = malloc((size_t)n * 8 + 1)) == NULL) {
		OPENSSL_free(u);
		return NULL;
	}
	o = out;
	for (int i = 0; i < n; i++) {
		unsigned ch = u[i];

		/* C1 controls arrive as C2 80..C2 9F in UTF-8. */
		if (ch == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 &&
		    u[i + 1] <= 0x9f) {
			o += sprintf(o, "\\u{%x}", u[++i]);
			continue;
		}
		switch (ch) {
		case '"': *o++ = '\\'; break;   /* \" less its quote */
		case '\\': *o++ = '\\', *o++ = '\\'; break;
		case '\t': *o++ = '\\', *o++ = 't'; break;
		case '\r': *o++ = '\\', *o++ = 'r'; break;
		case '\n': *o++ = '\\', *o++ = 'n'; break;
		case '\0': *o++ = '\\', *o++ = '0'; break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				o += sprintf(o, "\\u{%x}", ch);
			else
				*o++ = (char)ch;
		}
	}
	*o = '\0';
	OPENSSL_free(u);
	return out;
}

/* SigningCertificate {IssuerName, Algorithm, NotBefore, NotAfter,
 * Signature}, as nitro-cli's get_certificate_info() forms it. */
static void
jw_cert(struct jw *w, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	const X509_NAME *iss;
	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *alg;
	const ASN1_OBJECT *oid;
	json_t *names = NULL;
	BIO *b = NULL;
	char text[128];
	char *mem;
	long mlen;

	if (x == NULL || p != der + len || (names = json_object()) == NULL ||
	    (b = BIO_new(BIO_s_mem())) == NULL) {
		w->bad = true;
		goto out;
	}
	/* A BTreeMap of the issuer's attributes: the last of equal names
	 * wins, and the keys come out sorted (jw_value sorts them). */
	iss = X509_get_issuer_name(x);
	for (int i = 0; i < X509_NAME_entry_count(iss); i++) {
		const X509_NAME_ENTRY *ne = X509_NAME_get_entry(iss, i);
		char *v = issuer_value(X509_NAME_ENTRY_get_data(ne));

		object_text(X509_NAME_ENTRY_get_object(ne), text, sizeof text);
		/* Text that is not UTF-8 fails Rust's str conversion. */
		if (v != NULL && json_object_set_new(names, text,
		    json_string(v)) != 0)
			(void)json_object_set_new(names, text,
			    json_string("error"));
		if (v == NULL || json_object_get(names, text) == NULL) {
			free(v);
			w->bad = true;
			goto out;
		}
		free(v);
	}
	jw_key(w, "SigningCertificate", 18);
	jw_open(w, '{');
	jw_key(w, "IssuerName", 10);
	jw_value(w, names, 1);
	X509_get0_signature(&sig, &alg, x);
	X509_ALGOR_get0(&oid, NULL, NULL, alg);
	object_text(oid, text, sizeof text);
	jw_kstr(w, "Algorithm", text);
	for (int i = 0; i < 2; i++) {
		const ASN1_TIME *t = i == 0 ? X509_get0_notBefore(x) :
		    X509_get0_notAfter(x);

		(void)BIO_reset(b);
		if (ASN1_TIME_print(b, t) != 1) {
			w->bad = true;
			goto out;
		}
		mlen = BIO_get_mem_data(b, &mem);
		jw_key(w, i == 0 ? "NotBefore" : "NotAfter", i == 0 ? 9 : 8);
		jw_str(w, mem, (size_t)mlen);
	}
	/* Rust's {:02X?} of the bytes, brackets dropped, ", " made ":". */
	jw_key(w, "Signature", 9);
	jw_raw(w, "\"", 1);
	for (int i = 0; i < ASN1_STRING_length(sig); i++) {
		snprintf(text, sizeof text, "%s%02X", i ? ":" : "",
		    ASN1_STRING_get0_data(sig)[i]);
		jw_s(w, text);
	}
	jw_raw(w, "\"", 1);
	jw_close(w, '}');
out:
	ERR_clear_error();
	BIO_free(b);
	json_decref(names);
	X509_free(x);
}

int
gb_eif_describe(const struct gb_eif *e, char **out, size_t *out_len,
    char *note, size_t note_len)
{
	static const char *const build[] = { "BuildTime", "BuildTool",
	    "BuildToolVersion", "OperatingSystem", "KernelVersion" };
	struct jw w = { 0 };
	char hex[97], num[16], why[200] = "";
	json_t *meta = meta_load(e, why, sizeof why);
	int err = 0;

	jw_open(&w, '{');
	snprintf(num, sizeof num, "%u", e->version);
	jw_key(&w, "EifVersion", 10), jw_s(&w, num);
	/* EnclaveBuildInfo, flattened: Measurements is a BTreeMap. */
	jw_key(&w, "Measurements", 12);
	jw_open(&w, '{');
	jw_kstr(&w, "HashAlgorithm", "Sha384 { ... }");
	gb_hex_encode(hex, e->pcr0, 48), jw_kstr(&w, "PCR0", hex);
	gb_hex_encode(hex, e->pcr1, 48), jw_kstr(&w, "PCR1", hex);
	gb_hex_encode(hex, e->pcr2, 48), jw_kstr(&w, "PCR2", hex);
	if (e->is_signed)
		gb_hex_encode(hex, e->pcr8, 48), jw_kstr(&w, "PCR8", hex);
	jw_close(&w, '}');
	jw_key(&w, "IsSigned", 8), jw_s(&w, e->is_signed ? "true" : "false");
	if (e->is_signed)
		jw_cert(&w, e->cert_der, e->cert_der_len);
	jw_key(&w, "CheckCRC", 8), jw_s(&w, e->crc_ok ? "true" : "false");
	if (e->is_signed) {
		jw_key(&w, "SignatureCheck", 14);
		jw_s(&w, e->sig_ok ? "true" : "false");
	}
	if (meta != NULL) {
		json_t *b = json_object_get(meta, "BuildMetadata");
		json_t *c = json_object_get(meta, "CustomMetadata");
		json_t *v;
		const char *k;

		v = json_object_get(meta, "ImageName");
		jw_key(&w, "ImageName", 9);
		jw_str(&w, json_string_value(v), json_string_length(v));
		v = json_object_get(meta, "ImageVersion");
		jw_key(&w, "ImageVersion", 12);
		jw_str(&w, json_string_value(v), json_string_length(v));
		/* MetadataDescribeInfo: the build fields, DockerInfo, then
		 * CustomMetadata's members flattened in (serde writes them
		 * after the fixed ones, even if a name repeats). */
		jw_key(&w, "Metadata", 8);
		jw_open(&w, '{');
		for (size_t i = 0; i < sizeof build / sizeof build[0]; i++) {
			v = json_object_get(b, build[i]);
			jw_key(&w, build[i], strlen(build[i]));
			jw_str(&w, json_string_value(v), json_string_length(v));
		}
		jw_key(&w, "DockerInfo", 10);
		jw_value(&w, json_object_get(meta, "DockerInfo"), 2);
		if (json_is_object(c)) {
			size_t n = json_object_size(c), i = 0;
			const char **keys = calloc(n ? n : 1, sizeof *keys);

			if (keys == NULL)
				w.bad = true;
			json_object_foreach(c, k, v)
				if (keys != NULL)
					keys[i++] = k;
			if (keys != NULL)
				qsort(keys, n, sizeof *keys, key_order);
			for (i = 0; keys != NULL && i < n && !w.bad; i++) {
				jw_key(&w, keys[i], strlen(keys[i]));
				jw_value(&w, json_object_get(c, keys[i]), 2);
			}
			free(keys);
		}
		jw_close(&w, '}');
	}
	jw_close(&w, '}');
	jw_raw(&w, "\n", 1);
	json_decref(meta);
	if (w.bad) {
		err = w.toobig ? GB_EINVAL : GB_ENOMEM;
		free(w.p);
		return err;
	}
	*out = w.p;
	*out_len = w.len;
	if (note != NULL && note_len > 0) {
		size_t n = strlen(why);

		n = n < note_len ? n : note_len - 1;
		memcpy(note, why, n);
		note[n] = '\0';
	}
	return 0;
}
