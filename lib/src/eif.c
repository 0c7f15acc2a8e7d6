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

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <zlib.h>

#include "cbor_int.h"
#include "gb/eif.h"
#include "gb/err.h"
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

/* PCR8 from the signature section: its first entry's certificate (PEM,
 * as an array of byte-valued integers) in DER. */
static int
pcr8(struct gb_eif *e, const uint8_t *sig, size_t len)
{
	struct gb__cbor_cur c;
	struct gb__cbor_item it, key;
	struct gb__cbor_map m;
	struct gb__cbor_array a;
	uint8_t *pem = NULL, *der = NULL, md[48];
	size_t npem = 0;
	int k, derlen, rc = -1;
	X509 *x = NULL;
	BIO *b = NULL;

	gb__cbor_init(&c, sig, len);
	if (gb__cbor_next(&c, &it) != 0 || (it.type != GB__CB_ARRAY &&
	    it.type != GB__CB_ARRAY_INDEF))
		return fail(e, "the signature section is not a CBOR array");
	gb__cbor_array_begin(&a, &c, &it);
	if (gb__cbor_array_more(&a) != 1 || gb__cbor_next(&c, &it) != 0 ||
	    gb__cbor_map_begin(&m, &c, &it) != 0)
		return fail(e, "the signature section has no entry");
	if ((pem = malloc(len + 1)) == NULL)
		return GB_ENOMEM;
	while ((k = gb__cbor_map_key(&m, &key)) == 1) {
		struct gb__cbor_array ints;
		int more;

		if (!gb__cbor_text_is(&key, "signing_certificate")) {
			if (gb__cbor_skip_item(&c, 3) != 0)
				goto bad;
			continue;
		}
		if (gb__cbor_next(&c, &it) != 0 || (it.type != GB__CB_ARRAY &&
		    it.type != GB__CB_ARRAY_INDEF))
			goto bad;
		gb__cbor_array_begin(&ints, &c, &it);
		while ((more = gb__cbor_array_more(&ints)) == 1) {
			if (gb__cbor_next(&c, &it) != 0 ||
			    it.type != GB__CB_UINT || it.val > 255 || npem == len)
				goto bad;
			pem[npem++] = (uint8_t)it.val;
		}
		if (more < 0)
			goto bad;
	}
	if (k < 0 || npem == 0)
		goto bad;
	pem[npem] = '\0';
	if ((b = BIO_new_mem_buf(pem, (int)npem)) == NULL ||
	    (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL ||
	    (derlen = i2d_X509(x, &der)) <= 0 ||
	    !EVP_Digest(der, (size_t)derlen, md, NULL, EVP_sha384(), NULL)) {
		rc = fail(e, "the signing certificate is not a PEM "
		    "certificate");
		goto out;
	}
	gb_eif_extend(md, e->pcr8);
	e->is_signed = true;
	rc = 0;
	goto out;
bad:
	rc = fail(e, "the signature section is not as EIF.md describes");
out:
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(b);
	free(pem);
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
		if (size != sizes[i]) {
			err = fail(e, "section %u says %llu bytes, the header "
			    "%llu", i, (unsigned long long)size,
			    (unsigned long long)sizes[i]);
			break;
		}
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
			err = pcr8(e, sigbuf, siglen);
	}
	for (int i = 0; i < RING; i++)
		free(p.ring[i].data);
	for (int i = 0; i < 3; i++)
		EVP_MD_CTX_free(p.h[i]);
	pthread_cond_destroy(&p.cv);
	pthread_mutex_destroy(&p.mu);
	free(sigbuf);
	if (err != 0) {
		free(e->metadata);
		e->metadata = NULL;
		e->metadata_len = 0;
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
	struct gb__nsm_w pw = { payload, 0, false, sizeof payload };
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

	/* {register_index: 0, register_value: [PCR0 as integers]} */
	gb__nsm_head(&pw, 5, 2);
	gb__nsm_text(&pw, "register_index"), gb__nsm_head(&pw, 0, 0);
	gb__nsm_text(&pw, "register_value"), int_array(&pw, pcr0, 48);
	plen = gb__nsm_done(&pw);
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
