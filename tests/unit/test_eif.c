/*
 * EIF measurement (gb/eif.h) on malformed images: truncation at every
 * length, section sizes that overflow or point past the end, offsets out
 * of order, unknown section types, trailing bytes, an empty file; and the
 * PCRs of the synthetic image against SHA-384 computed here directly.
 * Signed images with a P-384 certificate made here: PCR8, the COSE_Sign1
 * check (good, swapped certificate, another PCR0, damaged), a stale size
 * table entry for the signature section only, malformed signature
 * sections; and gb_eif_describe()'s text against nitro-cli's rules
 * (known answers for the whole JSON, numbers, escapes, metadata it reads
 * or not).
 */
#define _GNU_SOURCE             /* memfd_create */
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <zlib.h>

#include "gb/eif.h"
#include "gb/err.h"
#include "test.h"

static uint8_t img[1024];
static size_t img_len;

static void
synthetic(void)
{
	struct gb_eif_part rd[2] = { { "BOOTRAMDISK", 11 }, { "APPRAMDISK", 10 } };
	char path[] = "/tmp/gb-eif-XXXXXX";
	FILE *f;
	int fd = mkstemp(path);

	close(fd);
	if (gb_eif_build(path, (struct gb_eif_part){ "KERNEL", 6 },
	    (struct gb_eif_part){ "console=ttyS0", 13 },
	    (struct gb_eif_part){ "{}", 2 }, rd, 2,
	    (struct gb_eif_part){ NULL, 0 }) != 0 ||
	    (f = fopen(path, "rb")) == NULL)
		exit(2);
	img_len = fread(img, 1, sizeof img, f);
	fclose(f);
	unlink(path);
}

/* Measures bytes through a memory file. */
static int
measure(const uint8_t *p, size_t n, struct gb_eif *e)
{
	int fd = memfd_create("eif", 0), rc;

	if (fd < 0 || (n > 0 && write(fd, p, n) != (ssize_t)n) ||
	    lseek(fd, 0, SEEK_SET) != 0)
		exit(2);
	rc = gb_eif_measure_fd(fd, e);
	close(fd);
	gb_eif_free(e);
	return rc;
}

/* The same, keeping what the measurement allocated (gb_eif_free()). */
static int
measure_keep(const uint8_t *p, size_t n, struct gb_eif *e)
{
	int fd = memfd_create("eif", 0), rc;

	if (fd < 0 || (n > 0 && write(fd, p, n) != (ssize_t)n) ||
	    lseek(fd, 0, SEEK_SET) != 0)
		exit(2);
	rc = gb_eif_measure_fd(fd, e);
	close(fd);
	return rc;
}

static void
extend_of(const char *s, uint8_t out[48])
{
	uint8_t md[48];

	EVP_Digest(s, strlen(s), md, NULL, EVP_sha384(), NULL);
	gb_eif_extend(md, out);
}

TEST(synthetic_image)
{
	uint8_t want[48], z[96] = { 0 }, md[48];
	struct gb_eif e;

	synthetic();
	ASSERT_EQ(img_len, 650);
	ASSERT_EQ(measure(img, img_len, &e), 0);
	ASSERT(e.crc_ok && e.crc_computed == 0xac0e49e8u);
	ASSERT_EQ(e.nsections, 5);
	ASSERT_EQ(e.sections[3].offset, 605);
	extend_of("KERNELconsole=ttyS0BOOTRAMDISKAPPRAMDISK", want);
	ASSERT(memcmp(e.pcr0, want, 48) == 0);
	extend_of("KERNELconsole=ttyS0BOOTRAMDISK", want);
	ASSERT(memcmp(e.pcr1, want, 48) == 0);
	extend_of("APPRAMDISK", want);
	ASSERT(memcmp(e.pcr2, want, 48) == 0);
	/* extend() itself: SHA384(48 zeros || digest). */
	EVP_Digest("x", 1, z + 48, NULL, EVP_sha384(), NULL);
	EVP_Digest(z, 96, md, NULL, EVP_sha384(), NULL);
	extend_of("x", want);
	ASSERT(memcmp(md, want, 48) == 0);
	ASSERT(!e.is_signed);
}

TEST(truncated_at_every_length)
{
	struct gb_eif e;

	synthetic();
	for (size_t n = 0; n < img_len; n++) {
		int rc = measure(img, n, &e);

		if (rc != GB_EINVAL || e.error[0] == '\0')
			FAIL_AT("%zu bytes: rc %d, \"%s\"", n, rc, e.error);
	}
	ASSERT_EQ(measure(img, img_len, &e), 0);
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

TEST(malformed_headers)
{
	static const struct {
		size_t at;                      /* where to write */
		uint64_t v;
		int width;                      /* 8 or 2 bytes */
		const char *words;
	} cases[] = {
		{ 284 + 8 * 3, UINT64_MAX - 10, 8, "says" },    /* sizes[3] */
		{ 605 + 4, UINT64_MAX - 10, 8, "says" },        /* section hdr */
		{ 28 + 8 * 2, 700, 8, "offset" },               /* offsets[2] */
		{ 26, 33, 2, "sections" },                      /* num_sections */
		{ 26, 0, 2, "sections" },
		{ 26, 4, 2, "follow" },         /* a section left unlisted */
		{ 628, 7, 2, "unknown type" },  /* last section's type */
		{ 628, 0, 2, "unknown type" },
		{ 0, 0x2e656967, 2, "magic" },
	};
	uint8_t bad[1024];
	struct gb_eif e;

	synthetic();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memcpy(bad, img, img_len);
		if (cases[i].width == 8) {
			put64(bad + cases[i].at, cases[i].v);
		} else {
			bad[cases[i].at] = (uint8_t)(cases[i].v >> 8);
			bad[cases[i].at + 1] = (uint8_t)cases[i].v;
		}
		if (measure(bad, img_len, &e) != GB_EINVAL ||
		    strstr(e.error, cases[i].words) == NULL)
			FAIL_AT("case %zu: \"%s\" lacks \"%s\"", i, e.error,
			    cases[i].words);
	}
	/* Both sizes agree and overflow the file: it ends inside. */
	memcpy(bad, img, img_len);
	put64(bad + 284 + 8 * 4, 1u << 30);
	put64(bad + 628 + 4, 1u << 30);
	ASSERT_EQ(measure(bad, img_len, &e), GB_EINVAL);
	ASSERT(strstr(e.error, "ends inside") != NULL);
	/* Trailing bytes. */
	memcpy(bad, img, img_len);
	bad[img_len] = 0;
	ASSERT_EQ(measure(bad, img_len + 1, &e), GB_EINVAL);
	ASSERT(strstr(e.error, "follow") != NULL);
	/* A changed byte of data: CRC mismatch, not an error. */
	memcpy(bad, img, img_len);
	bad[640] ^= 1;
	ASSERT_EQ(measure(bad, img_len, &e), 0);
	ASSERT(!e.crc_ok);
}

/* An image from parts, read back into buf (at most cap bytes). */
static size_t
build_img(uint8_t *buf, size_t cap, const char *meta, const uint8_t *sig,
    size_t siglen)
{
	struct gb_eif_part rd[2] = { { "BOOTRAMDISK", 11 }, { "APPRAMDISK", 10 } };
	char path[] = "/tmp/gb-eif-XXXXXX";
	size_t n;
	FILE *f;
	int fd = mkstemp(path);

	close(fd);
	if (gb_eif_build(path, (struct gb_eif_part){ "KERNEL", 6 },
	    (struct gb_eif_part){ "console=ttyS0", 13 },
	    (struct gb_eif_part){ meta, strlen(meta) }, rd, 2,
	    (struct gb_eif_part){ sig, siglen }) != 0 ||
	    (f = fopen(path, "rb")) == NULL)
		exit(2);
	n = fread(buf, 1, cap, f);
	fclose(f);
	unlink(path);
	return n;
}

/* Rewrites the CRC after a change, as nitro-cli sign-eif does. */
static void
fix_crc(uint8_t *img_, size_t n)
{
	uLong c = crc32(0L, img_, 544);

	c = crc32(c, img_ + 548, (uInt)(n - 548));
	for (int i = 0; i < 4; i++)
		img_[544 + i] = (uint8_t)(c >> (24 - 8 * i));
}

/* A self-signed P-384 certificate for subject o (organizationName, UTF-8)
 * and CN "eif test", and its key, both PEM (malloc). */
static void
make_cert(const char *o, char **cert, char **key)
{
	EVP_PKEY *k = EVP_EC_gen("P-384");
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	BIO *b1 = BIO_new(BIO_s_mem()), *b2 = BIO_new(BIO_s_mem());
	char *p;
	long n;

	if (k == NULL || x == NULL || nm == NULL || b1 == NULL || b2 == NULL ||
	    !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 7) ||
	    !X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_UTF8,
	    (const unsigned char *)o, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"eif test", -1, -1, 0) ||
	    !X509_set_subject_name(x, nm) || !X509_set_issuer_name(x, nm) ||
	    !ASN1_TIME_set_string(X509_getm_notBefore(x), "20260102030405Z") ||
	    !ASN1_TIME_set_string(X509_getm_notAfter(x), "20261203040506Z") ||
	    !X509_set_pubkey(x, k) || !X509_sign(x, k, EVP_sha384()) ||
	    !PEM_write_bio_X509(b1, x) ||
	    !PEM_write_bio_PrivateKey(b2, k, NULL, NULL, 0, NULL, NULL))
		exit(2);
	n = BIO_get_mem_data(b1, &p);
	*cert = strndup(p, (size_t)n);
	n = BIO_get_mem_data(b2, &p);
	*key = strndup(p, (size_t)n);
	if (*cert == NULL || *key == NULL)
		exit(2);
	BIO_free(b1), BIO_free(b2);
	X509_NAME_free(nm);
	X509_free(x);
	EVP_PKEY_free(k);
}

static uint8_t simg[8192];
static size_t simg_len;
static char *cert1, *key1, *cert2, *key2;

/* The synthetic image signed by cert (with key) over pcr0 (NULL: its own). */
static size_t
signed_img(uint8_t *buf, size_t cap, const char *cert, const char *key,
    const uint8_t *pcr0, const char *meta)
{
	struct gb_eif e;
	uint8_t *sig;
	size_t siglen, n;

	synthetic();
	if (measure(img, img_len, &e) != 0 || gb_eif_signature_section(cert,
	    key, pcr0 ? pcr0 : e.pcr0, &sig, &siglen) != 0)
		exit(2);
	n = build_img(buf, cap, meta, sig, siglen);
	free(sig);
	return n;
}

static void
certs(void)
{
	if (cert1 == NULL) {
		make_cert("Glassbox \"QA\"", &cert1, &key1);
		make_cert("a\"b\\c\nd\001e\xc2\x85" "f", &cert2, &key2);
	}
}

TEST(signed_image)
{
	uint8_t md[48], want[48], zero[48] = { 0 }, *der = NULL;
	struct gb_eif e;
	BIO *b;
	X509 *x;
	int dlen;

	certs();
	simg_len = signed_img(simg, sizeof simg, cert1, key1, NULL, "{}");
	ASSERT_EQ(measure_keep(simg, simg_len, &e), 0);
	ASSERT(e.is_signed && e.sig_ok && e.crc_ok);
	ASSERT_EQ(e.stale_sizes, 0);
	/* PCR8 = extend(SHA-384(DER)), the DER kept. */
	ASSERT((b = BIO_new_mem_buf(cert1, -1)) != NULL);
	ASSERT((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL);
	dlen = i2d_X509(x, &der);
	EVP_Digest(der, (size_t)dlen, md, NULL, EVP_sha384(), NULL);
	gb_eif_extend(md, want);
	ASSERT(memcmp(e.pcr8, want, 48) == 0);
	ASSERT(e.cert_der_len == (size_t)dlen &&
	    memcmp(e.cert_der, der, (size_t)dlen) == 0);
	OPENSSL_free(der), X509_free(x), BIO_free(b);
	gb_eif_free(&e);

	/* Swapped certificate: signed by key1, cert2 carried. */
	simg_len = signed_img(simg, sizeof simg, cert2, key1, NULL, "{}");
	ASSERT_EQ(measure_keep(simg, simg_len, &e), 0);
	ASSERT(e.is_signed && !e.sig_ok);
	ASSERT(strstr(e.sig_error, "does not verify") != NULL);
	gb_eif_free(&e);
	/* A good signature of another PCR0. */
	simg_len = signed_img(simg, sizeof simg, cert1, key1, zero, "{}");
	ASSERT_EQ(measure_keep(simg, simg_len, &e), 0);
	ASSERT(e.is_signed && !e.sig_ok);
	ASSERT(strstr(e.sig_error, "does not sign this image's PCR0") != NULL);
	gb_eif_free(&e);
	/* The COSE signature's last byte (the section's last integer, in
	 * one or two bytes) damaged, the CRC updated: it fails. */
	simg_len = signed_img(simg, sizeof simg, cert1, key1, NULL, "{}");
	simg[simg_len - 1] ^= 1;        /* 0..23 and 24..255 stay so */
	fix_crc(simg, simg_len);
	ASSERT_EQ(measure_keep(simg, simg_len, &e), 0);
	ASSERT(e.is_signed && !e.sig_ok && e.crc_ok);
	gb_eif_free(&e);
}

TEST(stale_size_table)
{
	struct gb_eif e;
	uint8_t *p;

	certs();
	simg_len = signed_img(simg, sizeof simg, cert1, key1, NULL, "{}");
	/* Section 5 is the signature: its table entry off by 3, the CRC
	 * updated (nitro-cli sign-eif re-signing). Measured. */
	p = simg + 284 + 8 * 5 + 7;
	*p = (uint8_t)(*p + 3);
	fix_crc(simg, simg_len);
	ASSERT_EQ(measure_keep(simg, simg_len, &e), 0);
	ASSERT(e.crc_ok && e.is_signed && e.sig_ok);
	ASSERT_EQ(e.stale_sizes, 1);
	gb_eif_free(&e);
	/* The same for a ramdisk (section 3): refused. */
	p = simg + 284 + 8 * 3 + 7;
	*p = (uint8_t)(*p + 3);
	fix_crc(simg, simg_len);
	ASSERT_EQ(measure(simg, simg_len, &e), GB_EINVAL);
	ASSERT(strstr(e.error, "section 3 says") != NULL);
}

TEST(malformed_signature_sections)
{
	/* Hand-written CBOR; a real certificate's section is in
	 * signature_section_entries. */
	static const struct {
		const uint8_t *sec;
		size_t len;
		const char *words;
	} cases[] = {
#define SEC(lit) (const uint8_t *)(lit), sizeof(lit) - 1
		{ SEC("\x80"), "no entry" },                    /* [] */
		{ SEC("\xa0"), "not a CBOR array" },            /* {} */
		{ SEC("\x81\xa0"), "not as EIF.md" },           /* [{}] */
		/* [{"signature": []}]: no certificate */
		{ SEC("\x81\xa1\x69signature\x80"), "not as EIF.md" },
		/* [{"signing_certificate": [], "signature": []}]: empty PEM */
		{ SEC("\x81\xa2\x73signing_certificate\x80\x69signature\x80"),
		  "not as EIF.md" },
		/* [{"signing_certificate": [65], "signature": []}]: not PEM */
		{ SEC("\x81\xa2\x73signing_certificate\x81\x18\x41"
		    "\x69signature\x80"), "not a PEM certificate" },
		/* [{... "signature": [256]}]: not a byte */
		{ SEC("\x81\xa2\x73signing_certificate\x81\x18\x41"
		    "\x69signature\x81\x19\x01\x00"), "not as EIF.md" },
		/* byte strings where nitro-cli has arrays of integers */
		{ SEC("\x81\xa2\x73signing_certificate\x41\x41"
		    "\x69signature\x40"), "not as EIF.md" },
		/* a key twice */
		{ SEC("\x81\xa3\x73signing_certificate\x81\x18\x41"
		    "\x69signature\x80\x69signature\x80"), "not as EIF.md" },
#undef SEC
	};
	uint8_t buf[4096];
	struct gb_eif e;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = build_img(buf, sizeof buf, "{}", cases[i].sec,
		    cases[i].len);

		if (measure(buf, n, &e) != GB_EINVAL ||
		    strstr(e.error, cases[i].words) == NULL)
			FAIL_AT("case %zu: \"%s\" lacks \"%s\"", i, e.error,
			    cases[i].words);
	}
}

/* Appends bytes to a signature section's outer array: a second entry or
 * bytes after it. */
TEST(signature_section_entries)
{
	uint8_t *sig, buf[8192], sec[4096];
	struct gb_eif e;
	size_t siglen, n;

	certs();
	synthetic();
	ASSERT_EQ(measure_keep(img, img_len, &e), 0);
	ASSERT_EQ(gb_eif_signature_section(cert1, key1, e.pcr0, &sig, &siglen), 0);
	gb_eif_free(&e);
	ASSERT(siglen + 40 < sizeof sec && sig[0] == 0x81);
	/* [entry, entry]: the first is used, the second read. */
	sec[0] = 0x82;
	memcpy(sec + 1, sig + 1, siglen - 1);
	memcpy(sec + siglen, sig + 1, siglen - 1);
	n = build_img(buf, sizeof buf, "{}", sec, 2 * siglen - 1);
	ASSERT_EQ(measure_keep(buf, n, &e), 0);
	ASSERT(e.is_signed && e.sig_ok);
	gb_eif_free(&e);
	/* [entry, {}]: the second is not a PcrSignature. */
	memcpy(sec + siglen, "\xa0", 1);
	n = build_img(buf, sizeof buf, "{}", sec, siglen + 1);
	ASSERT_EQ(measure(buf, n, &e), GB_EINVAL);
	/* [entry] followed by a byte. */
	memcpy(sec, sig, siglen);
	sec[siglen] = 0;
	n = build_img(buf, sizeof buf, "{}", sec, siglen + 1);
	ASSERT_EQ(measure(buf, n, &e), GB_EINVAL);
	free(sig);
}

static char *
describe_img(const uint8_t *p, size_t n, char *note, size_t notelen)
{
	struct gb_eif e;
	char *out = NULL;
	size_t len;

	if (measure_keep(p, n, &e) != 0)
		return NULL;
	if (gb_eif_describe(&e, &out, &len, note, notelen) != 0 ||
	    strlen(out) != len)
		out = NULL;
	gb_eif_free(&e);
	return out;
}

static void
hex_of(const char *s, char out[97])
{
	uint8_t d[48];

	extend_of(s, d);
	for (int i = 0; i < 48; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

TEST(describe_unsigned)
{
	char want[2048], p0[97], p1[97], p2[97], note[200];
	char *got;

	synthetic();
	hex_of("KERNELconsole=ttyS0BOOTRAMDISKAPPRAMDISK", p0);
	hex_of("KERNELconsole=ttyS0BOOTRAMDISK", p1);
	hex_of("APPRAMDISK", p2);
	/* "{}" is not nitro-cli's metadata: no ImageName, no Metadata. */
	snprintf(want, sizeof want, "{\n  \"EifVersion\": 4,\n"
	    "  \"Measurements\": {\n"
	    "    \"HashAlgorithm\": \"Sha384 { ... }\",\n"
	    "    \"PCR0\": \"%s\",\n    \"PCR1\": \"%s\",\n"
	    "    \"PCR2\": \"%s\"\n  },\n  \"IsSigned\": false,\n"
	    "  \"CheckCRC\": true\n}\n", p0, p1, p2);
	got = describe_img(img, img_len, note, sizeof note);
	ASSERT_STR_EQ(got, want);
	ASSERT(strstr(note, "no ImageName") != NULL);
	free(got);
}

#define META_HEAD "{\"ImageName\":\"n\",\"ImageVersion\":\"v\"," \
	"\"BuildMetadata\":{\"BuildTime\":\"t\",\"BuildTool\":\"b\"," \
	"\"BuildToolVersion\":\"1\",\"OperatingSystem\":\"os\"," \
	"\"KernelVersion\":\"k\"},\"DockerInfo\":"

TEST(describe_metadata)
{
	static const struct {
		const char *meta, *want;        /* want: a substring, or the
		                                 * note if it starts with '!' */
	} cases[] = {
		/* The flattening, in order: build fields, DockerInfo, the
		 * custom keys sorted, a repeated name written twice. */
		{ META_HEAD "{\"b\":1,\"a\":{}},\"CustomMetadata\":{\"z\":[],"
		    "\"BuildTime\":\"x\",\"Z\":null}}",
		  "  \"ImageName\": \"n\",\n  \"ImageVersion\": \"v\",\n"
		  "  \"Metadata\": {\n    \"BuildTime\": \"t\",\n"
		  "    \"BuildTool\": \"b\",\n    \"BuildToolVersion\": \"1\",\n"
		  "    \"OperatingSystem\": \"os\",\n    \"KernelVersion\": \"k\",\n"
		  "    \"DockerInfo\": {\n      \"a\": {},\n      \"b\": 1\n    },\n"
		  "    \"BuildTime\": \"x\",\n    \"Z\": null,\n    \"z\": []\n"
		  "  }\n}\n" },
		{ META_HEAD "null,\"CustomMetadata\":null,\"Extra\":1}",
		  "    \"DockerInfo\": null\n  }\n}\n" },
		/* Numbers as serde_json writes them. */
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":100.0}}", "\"v\": 100.0\n" },
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":1e2}}", "\"v\": 100.0\n" },
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":0.1}}", "\"v\": 0.1\n" },
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":1e-5}}", "\"v\": 0.00001\n" },
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":1e-6}}", "\"v\": 1e-6\n" },
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":1e15}}",
		  "\"v\": 1000000000000000.0\n" },
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":1e16}}", "\"v\": 1e16\n" },
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":1.25e17}}", "\"v\": 1.25e17\n" },
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":-0.0}}", "\"v\": -0.0\n" },
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":0.30000000000000004}}",
		  "\"v\": 0.30000000000000004\n" },
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":-9223372036854775808}}",
		  "\"v\": -9223372036854775808\n" },
		/* serde_json's floats: -0, and integers past u64 / i64. */
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":-0}}", "\"v\": -0.0\n" },
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":[0,-0,\"-0\"]}}",
		  "\"v\": [\n      0,\n      -0.0,\n      \"-0\"\n    ]\n" },
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":18446744073709551616}}",
		  "\"v\": 1.8446744073709552e19\n" },
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":-9223372036854775809}}",
		  "\"v\": -9.223372036854776e18\n" },
		{ META_HEAD "0,\"CustomMetadata\":{\"v\\\"-0\":1}}",
		  "\"v\\\"-0\": 1\n" },
		/* Escapes as serde_json writes them. */
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":\"\\u0000\\u001f\\b\\f"
		    "\\n\\r\\t\\\"\\\\/\\u007f\\u00e9\"}}",
		  "\"v\": \"\\u0000\\u001f\\b\\f\\n\\r\\t\\\"\\\\/\x7f\xc3\xa9\"\n" },
		/* Metadata nitro-cli's EifIdentityInfo does not read. */
		{ "{}", "!no ImageName" },
		{ "[]", "!not a JSON object" },
		{ "{\"ImageName\":1}", "!ImageName is not a string" },
		{ "{\"ImageName\":\"n\",\"ImageVersion\":\"v\"}",
		  "!BuildMetadata is missing" },
		{ META_HEAD "0}", "!CustomMetadata is missing" },
		{ META_HEAD "0,\"CustomMetadata\":\"s\"}", "!CustomMetadata" },
		{ META_HEAD "0,\"CustomMetadata\":[1]}", "!CustomMetadata" },
		{ "{\"ImageName\":\"n\",\"ImageVersion\":\"v\",\"BuildMetadata\":"
		    "{\"BuildTime\":\"t\"},\"DockerInfo\":0,\"CustomMetadata\":null}",
		  "!no BuildTool" },
		{ "{\"ImageName\":\"n\"", "!not JSON" },
		{ "{\"a\":1,\"a\":2}", "!not JSON" },
		/* u64 past i64: serde keeps it, jansson cannot (documented). */
		{ META_HEAD "0,\"CustomMetadata\":{\"v\":9223372036854775808}}",
		  "!not JSON" },
	};
	uint8_t buf[4096];
	char note[200];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = build_img(buf, sizeof buf, cases[i].meta, NULL, 0);
		char *got = describe_img(buf, n, note, sizeof note);
		const char *w = cases[i].want;

		if (got == NULL)
			FAIL_AT("case %zu: not described", i);
		else if (w[0] == '!' ? strstr(note, w + 1) == NULL ||
		    strstr(got, "Metadata") != NULL ||
		    strstr(got, "ImageName") != NULL :
		    strstr(got, w) == NULL || note[0] != '\0')
			FAIL_AT("case %zu: note \"%s\", got\n%s", i, note, got);
		free(got);
	}
}

TEST(describe_signed)
{
	char *got, note[200];
	const char *want1, *want2;

	certs();
	simg_len = signed_img(simg, sizeof simg, cert1, key1, NULL,
	    META_HEAD "0,\"CustomMetadata\":null}");
	got = describe_img(simg, simg_len, note, sizeof note);
	ASSERT(got != NULL);
	/* Rust's Debug of 'Glassbox "QA"' is "Glassbox \"QA\"", and nitro-cli
	 * drops every double quote: Glassbox \QA\ (JSON: \\). */
	want1 = "  \"IsSigned\": true,\n  \"SigningCertificate\": {\n"
	    "    \"IssuerName\": {\n      \"commonName\": \"eif test\",\n"
	    "      \"organizationName\": \"Glassbox \\\\QA\\\\\"\n    },\n"
	    "    \"Algorithm\": \"ecdsa-with-SHA384\",\n"
	    "    \"NotBefore\": \"Jan  2 03:04:05 2026 GMT\",\n"
	    "    \"NotAfter\": \"Dec  3 04:05:06 2026 GMT\",\n"
	    "    \"Signature\": \"30:";
	want2 = "\"\n  },\n  \"CheckCRC\": true,\n  \"SignatureCheck\": true,\n"
	    "  \"ImageName\": \"n\",\n";
	if (strstr(got, want1) == NULL || strstr(got, want2) == NULL)
		FAIL_AT("got\n%s", got);
	ASSERT(strstr(got, "\"PCR8\": \"") != NULL);
	free(got);
	/* Escapes: a"b\c<LF>d<U+0001>e<U+0085>f. */
	simg_len = signed_img(simg, sizeof simg, cert2, key2, NULL, "{}");
	got = describe_img(simg, simg_len, note, sizeof note);
	ASSERT(got != NULL);
	if (strstr(got, "\"organizationName\": "
	    "\"a\\\\b\\\\\\\\c\\\\nd\\\\u{1}e\\\\u{85}f\"") == NULL)
		FAIL_AT("got\n%s", got);
	free(got);
}

TEST_MAIN(
	T(synthetic_image),
	T(truncated_at_every_length),
	T(malformed_headers),
	T(signed_image),
	T(stale_size_table),
	T(malformed_signature_sections),
	T(signature_section_entries),
	T(describe_unsigned),
	T(describe_metadata),
	T(describe_signed),
)
