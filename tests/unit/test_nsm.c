/*
 * The NSM protocol (gb/nsm.h): request bytes exactly as NSM.md gives them,
 * responses decoded in any key order and map form, every error code, and
 * truncated, oversized, trailing and mismatched responses refused, through
 * a transport the test supplies.
 */
#include <errno.h>
#include <unistd.h>

#include <jansson.h>
#include <nettle/sha2.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "gb/attest.h"
#include "gb/codec.h"
#include "gb/eif.h"
#include "gb/err.h"
#include "gb/nsm.h"
#include "gb/nsm_sim.h"
#include "test.h"

static const uint8_t big513[513];

/* A tiny CBOR writer for canned responses. */
struct buf {
	uint8_t b[GB_NSM_RESPONSE_MAX + 64];
	size_t n;
};

static void
put(struct buf *b, const void *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void
hd(struct buf *b, unsigned major, uint64_t v)
{
	uint8_t h[3];

	if (v < 24) {
		h[0] = (uint8_t)(major << 5 | v);
		put(b, h, 1);
	} else if (v < 256) {
		h[0] = (uint8_t)(major << 5 | 24);
		h[1] = (uint8_t)v;
		put(b, h, 2);
	} else {
		h[0] = (uint8_t)(major << 5 | 25);
		h[1] = (uint8_t)(v >> 8);
		h[2] = (uint8_t)v;
		put(b, h, 3);
	}
}

static void
tx(struct buf *b, const char *s)
{
	hd(b, 3, strlen(s));
	put(b, s, strlen(s));
}

static void
bs(struct buf *b, const uint8_t *p, size_t n)
{
	hd(b, 2, n);
	put(b, p, n);
}

TEST(requests_are_byte_exact)
{
	static const uint8_t big[513];
	uint8_t want[77], nonce[32], out[GB_NSM_REQUEST_MAX];
	size_t n = 0;

	/* NSM.md: a1 6b "Attestation" a3 69 "user_data" f6 65 "nonce"
	 * 58 20 00..1f 6a "public_key" f6, 77 bytes. */
	want[n++] = 0xa1;
	want[n++] = 0x6b;
	memcpy(want + n, "Attestation", 11), n += 11;
	want[n++] = 0xa3;
	want[n++] = 0x69;
	memcpy(want + n, "user_data", 9), n += 9;
	want[n++] = 0xf6;
	want[n++] = 0x65;
	memcpy(want + n, "nonce", 5), n += 5;
	want[n++] = 0x58;
	want[n++] = 0x20;
	for (int i = 0; i < 32; i++)
		want[n++] = nonce[i] = (uint8_t)i;
	want[n++] = 0x6a;
	memcpy(want + n, "public_key", 10), n += 10;
	want[n++] = 0xf6;
	ASSERT_EQ(n, 77);
	ASSERT_EQ(gb_nsm_enc_attestation(out, NULL, 0, nonce, 32, NULL, 0), 77);
	ASSERT(memcmp(out, want, 77) == 0);

	ASSERT_EQ(gb_nsm_enc_simple(out, "DescribeNSM"), 12);
	ASSERT(memcmp(out, "\x6b" "DescribeNSM", 12) == 0);
	ASSERT_EQ(gb_nsm_enc_simple(out, "GetRandom"), 10);
	ASSERT_EQ(gb_nsm_enc_simple(out, "Other"), 0);
	ASSERT_EQ(gb_nsm_enc_describe_pcr(out, 16), 21);
	ASSERT(memcmp(out, "\xa1\x6b" "DescribePCR" "\xa1\x65" "index" "\x10",
	    21) == 0);
	ASSERT_EQ(gb_nsm_enc_lock_pcrs(out, 24), 19);
	ASSERT(memcmp(out, "\xa1\x68" "LockPCRs" "\xa1\x65" "range" "\x18\x18",
	    19) == 0);
	ASSERT_EQ(gb_nsm_enc_extend_pcr(out, 17, (const uint8_t *)"abc", 3),
	    28);
	ASSERT(memcmp(out, "\xa1\x69" "ExtendPCR" "\xa2\x65" "index" "\x11"
	    "\x64" "data" "\x43" "abc", 28) == 0);
	/* Limits: 512 bytes of nonce or user_data, 1..1024 of public_key. */
	ASSERT(gb_nsm_enc_attestation(out, NULL, 0, big, 512, NULL, 0) > 0);
	ASSERT_EQ(gb_nsm_enc_attestation(out, NULL, 0, big, 513, NULL, 0), 0);
	ASSERT_EQ(gb_nsm_enc_attestation(out, big, 513, NULL, 0, NULL, 0), 0);
	{
		static const uint8_t pk[1025];

		/* All three at their largest still fit one request. */
		n = gb_nsm_enc_attestation(out, big, 512, big, 512, pk, 1024);
		/* 44 bytes with all three null; each field then takes a
		 * 3-byte head instead of f6, and its bytes. */
		ASSERT_EQ(n, 44 + 3 * 2 + 512 + 512 + 1024);
		ASSERT(memcmp(out + n - 1027, "\x59\x04\x00", 3) == 0);
		ASSERT_EQ(gb_nsm_enc_attestation(out, NULL, 0, NULL, 0, pk,
		    1025), 0);
		ASSERT_EQ(gb_nsm_enc_attestation(out, NULL, 0, NULL, 0, pk, 0),
		    0);
		ASSERT(gb_nsm_enc_attestation(out, NULL, 0, NULL, 0, pk, 1) >
		    0);
	}
}

TEST(responses_in_any_order_and_form)
{
	static const uint8_t r48[48] = { 7 };
	struct gb_nsm_response r;
	struct buf b = { .n = 0 };

	/* DescribeNSM, keys in an unusual order, indefinite maps. */
	hd(&b, 5, 1);
	tx(&b, "DescribeNSM");
	put(&b, "\xbf", 1);
	tx(&b, "locked_pcrs");
	hd(&b, 4, 3);
	hd(&b, 0, 0), hd(&b, 0, 1), hd(&b, 0, 2);
	tx(&b, "digest"), tx(&b, "SHA384");
	tx(&b, "max_pcrs"), hd(&b, 0, 32);
	tx(&b, "module_id"), tx(&b, "i-0123456789abcdef0-enc0123456789abcdef");
	tx(&b, "version_patch"), hd(&b, 0, 0);
	tx(&b, "version_minor"), hd(&b, 0, 0);
	tx(&b, "version_major"), hd(&b, 0, 1);
	tx(&b, "future_field"), tx(&b, "ignored");
	put(&b, "\xff", 1);
	ASSERT_EQ(gb_nsm_decode(b.b, b.n, &r), GB_NSM_SUCCESS);
	ASSERT_STR_EQ(r.kind, "DescribeNSM");
	ASSERT_EQ(r.nsm.max_pcrs, 32);
	ASSERT_EQ(r.nsm.nlocked, 3);
	ASSERT_STR_EQ(r.nsm.digest, "SHA384");
	ASSERT_EQ(r.nsm.major, 1);

	/* DescribePCR with data before lock. */
	b.n = 0;
	hd(&b, 5, 1), tx(&b, "DescribePCR"), hd(&b, 5, 2);
	tx(&b, "data"), bs(&b, r48, 48);
	tx(&b, "lock"), put(&b, "\xf5", 1);
	ASSERT_EQ(gb_nsm_decode(b.b, b.n, &r), GB_NSM_SUCCESS);
	ASSERT(r.lock && r.data_len == 48 && r.data[0] == 7);
	/* Every prefix of it is refused. */
	for (size_t n = 0; n < b.n; n++)
		if (gb_nsm_decode(b.b, n, &r) != GB_NSM_E_DECODE)
			FAIL_AT("prefix of %zu bytes accepted", n);
	/* And so are trailing bytes, and a missing field. */
	put(&b, "\x00", 1);
	ASSERT_EQ(gb_nsm_decode(b.b, b.n, &r), GB_NSM_E_DECODE);
	b.n = 0;
	hd(&b, 5, 1), tx(&b, "DescribePCR"), hd(&b, 5, 1);
	tx(&b, "lock"), put(&b, "\xf4", 1);
	ASSERT_EQ(gb_nsm_decode(b.b, b.n, &r), GB_NSM_E_DECODE);

	/* Bare variants. */
	b.n = 0;
	tx(&b, "LockPCR");
	ASSERT_EQ(gb_nsm_decode(b.b, b.n, &r), GB_NSM_SUCCESS);
	b.n = 0;
	tx(&b, "Unlock");
	ASSERT_EQ(gb_nsm_decode(b.b, b.n, &r), GB_NSM_E_DECODE);
	/* Oversized. */
	ASSERT_EQ(gb_nsm_decode(b.b, GB_NSM_RESPONSE_MAX + 1, &r),
	    GB_NSM_E_DECODE);
}

TEST(every_error_code)
{
	struct gb_nsm_response r;
	struct buf b;

	for (int s = GB_NSM_INVALID_ARGUMENT; s <= GB_NSM_INTERNAL_ERROR; s++) {
		b.n = 0;
		hd(&b, 5, 1), tx(&b, "Error");
		tx(&b, gb_nsm_status_name((enum gb_nsm_status)s));
		ASSERT_EQ(gb_nsm_decode(b.b, b.n, &r), s);
		ASSERT_EQ(r.status, s);
		ASSERT(strlen(gb_nsm_status_text((enum gb_nsm_status)s)) > 5);
	}
	b.n = 0;
	hd(&b, 5, 1), tx(&b, "Error"), tx(&b, "Success");
	ASSERT_EQ(gb_nsm_decode(b.b, b.n, &r), GB_NSM_E_DECODE);
	b.n = 0;
	hd(&b, 5, 1), tx(&b, "Error"), tx(&b, "NoSuchError");
	ASSERT_EQ(gb_nsm_decode(b.b, b.n, &r), GB_NSM_E_DECODE);
	/* Two variants in one response. */
	b.n = 0;
	hd(&b, 5, 2), tx(&b, "Error"), tx(&b, "InternalError");
	tx(&b, "LockPCR"), put(&b, "\xf6", 1);
	ASSERT_EQ(gb_nsm_decode(b.b, b.n, &r), GB_NSM_E_DECODE);
}

/* A transport that records the request and answers with a canned reply. */
struct fake {
	uint8_t req[GB_NSM_REQUEST_MAX];
	size_t req_len;
	struct buf reply;
	int fail;
};

static int
fake_xfer(void *ctx, const uint8_t *req, size_t req_len, uint8_t *resp,
    size_t *resp_len)
{
	struct fake *f = ctx;

	memcpy(f->req, req, req_len);
	f->req_len = req_len;
	if (f->fail) {
		errno = f->fail;
		return -1;
	}
	if (f->reply.n > *resp_len) {
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(resp, f->reply.b, f->reply.n);
	*resp_len = f->reply.n;
	return 0;
}

TEST(calls_through_a_transport)
{
	static struct fake f;
	static uint8_t buf[GB_NSM_RESPONSE_MAX];
	static const uint8_t doc[100] = { 0x84 };
	struct gb_nsm n = { fake_xfer, &f };
	struct gb_nsm_response r;
	uint8_t nonce[4] = { 1, 2, 3, 4 };

	f.reply.n = 0;
	hd(&f.reply, 5, 1), tx(&f.reply, "Attestation"), hd(&f.reply, 5, 1);
	tx(&f.reply, "document"), bs(&f.reply, doc, sizeof doc);
	ASSERT_EQ(gb_nsm_attestation(&n, NULL, 0, nonce, 4, NULL, 0, buf, &r),
	    GB_NSM_SUCCESS);
	ASSERT_EQ(r.document_len, 100);
	ASSERT_EQ(r.document[0], 0x84);
	ASSERT_EQ(f.req_len, 48);       /* the request went out as encoded */
	ASSERT(memcmp(f.req + 25, "\x65" "nonce" "\x44\x01\x02\x03\x04", 11) ==
	    0);

	/* The answer to another request. */
	f.reply.n = 0;
	tx(&f.reply, "LockPCR");
	ASSERT_EQ(gb_nsm_attestation(&n, NULL, 0, nonce, 4, NULL, 0, buf, &r),
	    GB_NSM_E_MISMATCH);
	/* An NSM error comes through as itself. */
	f.reply.n = 0;
	hd(&f.reply, 5, 1), tx(&f.reply, "Error"), tx(&f.reply, "InputTooLarge");
	ASSERT_EQ(gb_nsm_attestation(&n, NULL, 0, nonce, 4, NULL, 0, buf, &r),
	    GB_NSM_INPUT_TOO_LARGE);
	/* A response larger than the buffer, and a failed transport. */
	f.reply.n = GB_NSM_RESPONSE_MAX + 1;
	ASSERT_EQ(gb_nsm_attestation(&n, NULL, 0, nonce, 4, NULL, 0, buf, &r),
	    GB_NSM_E_TRANSPORT);
	f.fail = ETIMEDOUT;
	ASSERT_EQ(gb_nsm_attestation(&n, NULL, 0, nonce, 4, NULL, 0, buf, &r),
	    GB_NSM_E_TRANSPORT);
}

/* /dev/nsm does not exist here: opening it fails cleanly, and the ioctl
 * transport on another device fails as a transport error. */
TEST(device_transport_errors)
{
	static uint8_t buf[GB_NSM_RESPONSE_MAX];
	struct gb_nsm n;
	struct gb_nsm_response r;

	ASSERT(gb_nsm_open_dev("/nonexistent/nsm", &n) == -1);
	ASSERT_EQ(errno, ENOENT);
	ASSERT_EQ(gb_nsm_open_dev("/dev/null", &n), 0);
	ASSERT_EQ(gb_nsm_attestation(&n, NULL, 0, NULL, 0, NULL, 0, buf, &r),
	    GB_NSM_E_TRANSPORT);
	gb_nsm_close_dev(&n);
}

/* The simulator through the client, as the enclave uses it: every
 * operation, and documents that lib's verifier accepts with its root. */
TEST(simulator)
{
	static uint8_t buf[GB_NSM_RESPONSE_MAX], req[GB_NSM_REQUEST_MAX];
	static const uint8_t boot[3][48] = { { 0xa1 }, { 0xb2 }, { 0xc3 } };
	struct gb_nsm_sim_opts o = { .boot_pcrs = boot };
	struct gb_nsm_sim *s;
	struct gb_nsm n;
	struct gb_nsm_response r;
	struct gb_verifier *v;
	struct gb_result res;
	struct gb_doc doc;
	struct gb_span root;
	char dir[] = "/tmp/gb-nsm-sim-XXXXXX", root_hex[17];
	uint8_t pub[32] = { 9 }, pcr16[48], h[48], nonce[32] = { 1 };
	struct sha384_ctx ctx;
	bool renewed;
	size_t len;

	ASSERT(mkdtemp(dir) != NULL);
	ASSERT_EQ(gb_nsm_sim_open(dir, &o, &s, &renewed), 0);
	ASSERT(renewed);                /* an empty state directory */
	n = gb_nsm_sim_transport(s);

	len = gb_nsm_enc_simple(req, "DescribeNSM");
	ASSERT_EQ(gb_nsm_call(&n, req, len, "DescribeNSM", buf, &r),
	    GB_NSM_SUCCESS);
	ASSERT_EQ(r.nsm.max_pcrs, 32);
	ASSERT_EQ(r.nsm.nlocked, 16);
	ASSERT_STR_EQ(r.nsm.module_id, gb_nsm_sim_module_id(s));
	len = gb_nsm_enc_simple(req, "GetRandom");
	ASSERT_EQ(gb_nsm_call(&n, req, len, "GetRandom", buf, &r),
	    GB_NSM_SUCCESS);
	ASSERT_EQ(r.random_len, 256);

	/* PCR0 as booted, locked; PCR16 extends, then locks. */
	len = gb_nsm_enc_describe_pcr(req, 0);
	ASSERT_EQ(gb_nsm_call(&n, req, len, "DescribePCR", buf, &r),
	    GB_NSM_SUCCESS);
	ASSERT(r.lock && r.data[0] == 0xa1);
	len = gb_nsm_enc_extend_pcr(req, 0, (const uint8_t *)"x", 1);
	ASSERT_EQ(gb_nsm_call(&n, req, len, "ExtendPCR", buf, &r),
	    GB_NSM_READ_ONLY_INDEX);
	len = gb_nsm_enc_extend_pcr(req, 16, (const uint8_t *)"app", 3);
	ASSERT_EQ(gb_nsm_call(&n, req, len, "ExtendPCR", buf, &r),
	    GB_NSM_SUCCESS);
	memset(h, 0, 48);
	sha384_init(&ctx);
	sha384_update(&ctx, 48, h);
	sha384_update(&ctx, 3, (const uint8_t *)"app");
	sha384_digest(&ctx, 48, pcr16);
	ASSERT(r.data_len == 48 && memcmp(r.data, pcr16, 48) == 0);
	len = gb_nsm_enc_lock_pcr(req, 16);
	ASSERT_EQ(gb_nsm_call(&n, req, len, "LockPCR", buf, &r),
	    GB_NSM_SUCCESS);
	len = gb_nsm_enc_extend_pcr(req, 16, (const uint8_t *)"more", 4);
	ASSERT_EQ(gb_nsm_call(&n, req, len, "ExtendPCR", buf, &r),
	    GB_NSM_READ_ONLY_INDEX);
	len = gb_nsm_enc_describe_pcr(req, 32);
	ASSERT_EQ(gb_nsm_call(&n, req, len, "DescribePCR", buf, &r),
	    GB_NSM_INVALID_INDEX);
	len = gb_nsm_enc_lock_pcrs(req, 33);
	ASSERT_EQ(gb_nsm_call(&n, req, len, "LockPCRs", buf, &r),
	    GB_NSM_INVALID_INDEX);
	ASSERT_EQ(gb_nsm_call(&n, (const uint8_t *)"\x61x", 2, "LockPCR", buf,
	    &r), GB_NSM_INVALID_ARGUMENT);

	/* An attestation the verifier accepts, carrying what was asked. */
	ASSERT_EQ(gb_nsm_attestation(&n, NULL, 0, nonce, 32, pub, 32, buf, &r),
	    GB_NSM_SUCCESS);
	root = gb_nsm_sim_root(s);
	ASSERT_EQ(gb_verifier_new(root.ptr, root.len, &v), 0);
	ASSERT_REASON(gb_verifier_verify(v, r.document, r.document_len,
	    GB_AT_DOCUMENT, &doc, &res), GB_R_OK);
	ASSERT(doc.nonce.len == 32 && doc.nonce.ptr[0] == 1);
	ASSERT(doc.public_key.len == 32 && doc.public_key.ptr[0] == 9);
	ASSERT(doc.user_data.ptr == NULL);
	ASSERT_EQ(doc.pcr_count, 17);
	ASSERT(memcmp(doc.pcrs[16].ptr, pcr16, 48) == 0);
	ASSERT_EQ(doc.pcrs[0].ptr[0], 0xa1);
	ASSERT(!gb_doc_is_debug(&doc));
	ASSERT_EQ(gb_nsm_attestation(&n, NULL, 0, big513, 513, NULL, 0, buf,
	    &r), GB_NSM_INPUT_TOO_LARGE);
	gb_verifier_free(v);
	gb_hex_encode(root_hex, root.ptr + root.len - 8, 8);
	gb_nsm_sim_close(s);

	/* The state directory keeps the chain; debug mode zeroes PCR0..2. */
	o.debug_mode = true;
	ASSERT_EQ(gb_nsm_sim_open(dir, &o, &s, &renewed), 0);
	ASSERT(!renewed);
	root = gb_nsm_sim_root(s);
	{
		char again[17];

		gb_hex_encode(again, root.ptr + root.len - 8, 8);
		ASSERT_STR_EQ(again, root_hex);
	}
	n = gb_nsm_sim_transport(s);
	ASSERT_EQ(gb_nsm_attestation(&n, NULL, 0, NULL, 0, NULL, 0, buf, &r),
	    GB_NSM_SUCCESS);
	ASSERT_EQ(gb_verifier_new(root.ptr, root.len, &v), 0);
	ASSERT_REASON(gb_verifier_verify(v, r.document, r.document_len,
	    GB_AT_DOCUMENT, &doc, &res), GB_R_OK);
	ASSERT(gb_doc_is_debug(&doc));
	gb_verifier_free(v);
	gb_nsm_sim_close(s);
	{
		char cmd[128];

		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		ASSERT_EQ(system(cmd), 0);
	}
}

/* SHA-384(48 zero bytes || x) with OpenSSL, independent of lib's nettle. */
static void
ossl_extend(const uint8_t *x, size_t len, uint8_t out[48])
{
	uint8_t in[48 + 64 * 1024] = { 0 };
	unsigned n = 48;

	memcpy(in + 48, x, len);
	EVP_Digest(in, 48 + len, out, &n, EVP_sha384(), NULL);
}

/*
 * PCR3 and PCR4 as the Nitro hypervisor computes them, against values
 * nobody here computed: the AWS Nitro Enclaves User Guide's own examples
 * ("Where to get an enclave's measurements"), and every real document of
 * ../shared/vectors, whose PCR4 is that of the instance ID its module_id
 * begins with.
 */
TEST(pcr3_pcr4_known_values)
{
	uint8_t got[48];
	char hex[97];
	json_t *v, *vecs, *d;
	size_t i, real = 0;

	gb_nsm_pcr_of_text("arn:aws:iam::123456789012:role/Webserver", got);
	gb_hex_encode(hex, got, 48);
	ASSERT_STR_EQ(hex, "78fce75db17cd4e0a3fb8dad3ad128ca5e77edbb2b2c7f75"
	    "329dccd99aa5f6ef4fc1f1a452e315b9e98f9e312e6921e6");
	gb_nsm_pcr_of_text("i-1234567890abcdef0", got);
	gb_hex_encode(hex, got, 48);
	ASSERT_STR_EQ(hex, "08f996b5d43e047a9eb51e7f548bfee7e164fd7dc8f65541"
	    "f2ac09d6545ac812719327281c401a67a10fcba87ae79ce0");

	v = json_load_file(GB_VECTORS_DIR "/aws-nitro/vectors.json", 0, NULL);
	ASSERT(v != NULL);
	vecs = json_object_get(v, "vectors");
	json_array_foreach(vecs, i, d) {
		const char *mid = json_string_value(json_object_get(d,
		    "module_id"));
		const char *pcr4 = json_string_value(json_object_get(
		    json_object_get(d, "pcrs"), "4"));
		const char *file = json_string_value(json_object_get(d,
		    "file"));
		char id[32];
		size_t n;

		if (mid == NULL || pcr4 == NULL || strncmp(file, "NEG-", 4) == 0
		    || strstr(mid, "-enc") == NULL)
			continue;
		n = (size_t)(strstr(mid, "-enc") - mid);
		if (n >= sizeof id)
			continue;
		memcpy(id, mid, n);
		id[n] = '\0';
		gb_nsm_pcr_of_text(id, got);
		gb_hex_encode(hex, got, 48);
		if (strcmp(hex, pcr4) != 0) {
			FAIL_AT("%s: PCR4 of %s is %s, the document says %s",
			    file, id, hex, pcr4);
			json_decref(v);
			return;
		}
		real++;
	}
	json_decref(v);
	ASSERT(real >= 20);
}

/* A P-384 key and a self-signed certificate, as PEM files in dir; the
 * certificate's DER in der. */
static int
make_cert(const char *dir, uint8_t *der, size_t *der_len)
{
	char path[256];
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	X509 *x = X509_new();
	X509_NAME *nm;
	unsigned char *p = der;
	FILE *f;
	int rc = -1, n;

	if (k == NULL || x == NULL)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)"glassbox test signer", -1, -1, 0);
	X509_set_issuer_name(x, nm);
	X509_set_pubkey(x, k);
	if (X509_sign(x, k, EVP_sha384()) == 0 || (n = i2d_X509(x, NULL)) <= 0
	    || (size_t)n > *der_len)
		goto out;
	*der_len = (size_t)i2d_X509(x, &p);
	snprintf(path, sizeof path, "%s/cert.pem", dir);
	if ((f = fopen(path, "w")) == NULL)
		goto out;
	PEM_write_X509(f, x);
	fclose(f);
	snprintf(path, sizeof path, "%s/key.pem", dir);
	if ((f = fopen(path, "w")) == NULL)
		goto out;
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

static char *
slurp(const char *dir, const char *name)
{
	char path[256], *buf = calloc(1, 8192);
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (buf == NULL || (f = fopen(path, "r")) == NULL) {
		free(buf);
		return NULL;
	}
	(void)fread(buf, 1, 8191, f);
	fclose(f);
	return buf;
}

/* One attestation through the simulator, verified with its root. */
static int
sim_doc(struct gb_nsm_sim *s, const uint8_t *pk, size_t pk_len,
    struct gb_doc *doc, uint8_t *buf)
{
	struct gb_nsm n = gb_nsm_sim_transport(s);
	struct gb_nsm_response r;
	struct gb_span root = gb_nsm_sim_root(s);
	struct gb_verifier *v;
	struct gb_result res;
	int reason;

	if (gb_nsm_attestation(&n, NULL, 0, NULL, 0, pk, pk_len, buf, &r) !=
	    GB_NSM_SUCCESS || gb_verifier_new(root.ptr, root.len, &v) != 0)
		return -1;
	reason = (int)gb_verifier_verify(v, r.document, r.document_len,
	    GB_AT_DOCUMENT, doc, &res);
	gb_verifier_free(v);
	return reason;
}

/*
 * The simulator's PCR3, PCR4 and PCR8 from a role ARN, an instance ID and
 * a signing certificate, in documents the verifier accepts; PCR8 equal to
 * what lib/eif.c measures in an image signed with that certificate and to
 * OpenSSL's SHA-384 of the DER, extended; debug mode; refused options.
 */
TEST(simulator_pcr3_pcr4_pcr8)
{
	static uint8_t buf[GB_NSM_RESPONSE_MAX];
	static const uint8_t boot[3][48] = { { 1 }, { 2 }, { 3 } };
	static const char arn[] = "arn:aws:iam::123456789012:role/glassbox";
	static const char iid[] = "i-0abc1234def567890";
	char dir[] = "/tmp/gb-nsm-pcr-XXXXXX", path[256], *cert_pem, *key_pem;
	uint8_t der[4096], md[48], want3[48], want4[48], want8[48], zero[48] =
	    { 0 }, *sig = NULL;
	size_t der_len = sizeof der, sig_len;
	struct gb_nsm_sim_opts o = { .boot_pcrs = boot };
	struct gb_nsm_sim *s;
	struct gb_doc doc;
	struct gb_eif img;
	unsigned mdn = 48;
	bool renewed;
	int rc;

	ASSERT(mkdtemp(dir) != NULL);
	ASSERT_EQ(make_cert(dir, der, &der_len), 0);
	ossl_extend((const uint8_t *)arn, strlen(arn), want3);
	ossl_extend((const uint8_t *)iid, strlen(iid), want4);
	EVP_Digest(der, der_len, md, &mdn, EVP_sha384(), NULL);
	ossl_extend(md, 48, want8);

	/* A signed synthetic image: eif.c's PCR8 is the same. */
	cert_pem = slurp(dir, "cert.pem");
	key_pem = slurp(dir, "key.pem");
	ASSERT(cert_pem != NULL && key_pem != NULL);
	rc = gb_eif_signature_section(cert_pem, key_pem, boot[0], &sig,
	    &sig_len);
	free(cert_pem);
	free(key_pem);
	ASSERT_EQ(rc, 0);
	snprintf(path, sizeof path, "%s/signed.eif", dir);
	{
		struct gb_eif_part rd[2] = { { "BOOT", 4 }, { "APP", 3 } };

		rc = gb_eif_build(path, (struct gb_eif_part){ "K", 1 },
		    (struct gb_eif_part){ "c", 1 },
		    (struct gb_eif_part){ "{}", 2 }, rd, 2,
		    (struct gb_eif_part){ sig, sig_len });
	}
	free(sig);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(gb_eif_measure_file(path, &img), 0);
	gb_eif_free(&img);
	ASSERT(img.is_signed);
	ASSERT(memcmp(img.pcr8, want8, 48) == 0);

	/* From the certificate. */
	o.iam_role_arn = arn;
	o.instance_id = iid;
	o.signing_cert = (struct gb_span){ der, der_len };
	ASSERT_EQ(gb_nsm_sim_open(dir, &o, &s, &renewed), 0);
	ASSERT(strncmp(gb_nsm_sim_module_id(s), "i-0abc1234def567890-enc",
	    23) == 0);
	ASSERT_REASON(sim_doc(s, NULL, 0, &doc, buf), GB_R_OK);
	ASSERT(memcmp(doc.pcrs[3].ptr, want3, 48) == 0);
	ASSERT(memcmp(doc.pcrs[4].ptr, want4, 48) == 0);
	ASSERT(memcmp(doc.pcrs[8].ptr, want8, 48) == 0);
	ASSERT(memcmp(doc.pcrs[0].ptr, boot[0], 48) == 0);
	ASSERT(memcmp(doc.pcrs[5].ptr, zero, 48) == 0);
	ASSERT(doc.module_id.len > 23 &&
	    memcmp(doc.module_id.ptr, "i-0abc1234def567890-enc", 23) == 0);
	gb_nsm_sim_close(s);

	/* From the image's measurement; debug mode zeroes 0..2 and 8 only. */
	o.signing_cert = (struct gb_span){ NULL, 0 };
	o.pcr8 = img.pcr8;
	o.debug_mode = true;
	ASSERT_EQ(gb_nsm_sim_open(dir, &o, &s, &renewed), 0);
	ASSERT_REASON(sim_doc(s, NULL, 0, &doc, buf), GB_R_OK);
	ASSERT(gb_doc_is_debug(&doc));
	ASSERT(memcmp(doc.pcrs[3].ptr, want3, 48) == 0);
	ASSERT(memcmp(doc.pcrs[4].ptr, want4, 48) == 0);
	ASSERT(memcmp(doc.pcrs[8].ptr, zero, 48) == 0);
	gb_nsm_sim_close(s);
	o.debug_mode = false;
	ASSERT_EQ(gb_nsm_sim_open(dir, &o, &s, &renewed), 0);
	ASSERT_REASON(sim_doc(s, NULL, 0, &doc, buf), GB_R_OK);
	ASSERT(memcmp(doc.pcrs[8].ptr, want8, 48) == 0);
	gb_nsm_sim_close(s);

	/* Without them, zeros, and the chain's own module id. */
	ASSERT_EQ(gb_nsm_sim_open(dir, NULL, &s, &renewed), 0);
	ASSERT_REASON(sim_doc(s, NULL, 0, &doc, buf), GB_R_OK);
	ASSERT(memcmp(doc.pcrs[3].ptr, zero, 48) == 0);
	ASSERT(memcmp(doc.pcrs[8].ptr, zero, 48) == 0);
	ASSERT(strncmp(gb_nsm_sim_module_id(s), "i-0abc", 6) != 0);
	gb_nsm_sim_close(s);

	/* Refused: not a role ARN, not an instance ID, both PCR8 sources, a
	 * certificate with a byte too many. */
	{
		static const char *const bad_arns[] = {
			"arn:aws:iam::123456789012:user/x",
			"arn:aws:iam::12345678901:role/x",
			"arn:aws:iam::123456789012:role/",
			"arn:aws:iam::123456789012:role/a b",
			"role/x", "",
		};
		static const char *const bad_ids[] = {
			"i-123", "i-0ABC1234DEF567890", "x-0abc1234def567890",
			"i-0abc1234def5678901", "",
		};
		struct gb_nsm_sim_opts b = { .boot_pcrs = NULL };

		for (size_t i = 0; i < sizeof bad_arns / sizeof *bad_arns;
		    i++) {
			b.iam_role_arn = bad_arns[i];
			ASSERT_EQ(gb_nsm_sim_open(dir, &b, &s, &renewed),
			    GB_EINVAL);
		}
		b.iam_role_arn = "arn:aws-cn:iam::123456789012:role/p/ok";
		ASSERT_EQ(gb_nsm_sim_open(dir, &b, &s, &renewed), 0);
		gb_nsm_sim_close(s);
		b.iam_role_arn = NULL;
		for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++) {
			b.instance_id = bad_ids[i];
			ASSERT_EQ(gb_nsm_sim_open(dir, &b, &s, &renewed),
			    GB_EINVAL);
		}
		b.instance_id = "i-0123abcd";
		ASSERT_EQ(gb_nsm_sim_open(dir, &b, &s, &renewed), 0);
		gb_nsm_sim_close(s);
		b.instance_id = NULL;
		b.signing_cert = (struct gb_span){ der, der_len };
		b.pcr8 = want8;
		ASSERT_EQ(gb_nsm_sim_open(dir, &b, &s, &renewed), GB_EINVAL);
		b.pcr8 = NULL;
		der[der_len] = 0;
		b.signing_cert = (struct gb_span){ der, der_len + 1 };
		ASSERT_EQ(gb_nsm_sim_open(dir, &b, &s, &renewed), GB_EINVAL);
		b.signing_cert = (struct gb_span){ der, der_len - 1 };
		ASSERT_EQ(gb_nsm_sim_open(dir, &b, &s, &renewed), GB_EINVAL);
	}
	snprintf(path, sizeof path, "rm -rf %s", dir);
	ASSERT_EQ(system(path), 0);
}

/* public_key up to 1024 bytes, the DER of an RSA-4096 key among them, in
 * documents the verifier accepts; 1025 bytes and an empty one refused by
 * the simulator itself (a request the client would not send). */
TEST(simulator_public_key_1024)
{
	static uint8_t buf[GB_NSM_RESPONSE_MAX], pk[1025];
	char dir[] = "/tmp/gb-nsm-pk-XXXXXX", cmd[64];
	struct gb_nsm_sim *s;
	struct gb_nsm n;
	struct gb_nsm_response r;
	struct gb_doc doc;
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	unsigned char *der = NULL;
	int der_len;
	bool renewed;
	struct buf req;

	ASSERT(rsa != NULL);
	der_len = i2d_PUBKEY(rsa, &der);
	EVP_PKEY_free(rsa);
	ASSERT(der_len > 512 && der_len <= 1024);
	ASSERT(mkdtemp(dir) != NULL);
	ASSERT_EQ(gb_nsm_sim_open(dir, NULL, &s, &renewed), 0);
	n = gb_nsm_sim_transport(s);

	ASSERT_REASON(sim_doc(s, der, (size_t)der_len, &doc, buf), GB_R_OK);
	ASSERT(doc.public_key.len == (size_t)der_len &&
	    memcmp(doc.public_key.ptr, der, (size_t)der_len) == 0);
	OPENSSL_free(der);
	for (size_t i = 0; i < sizeof pk; i++)
		pk[i] = (uint8_t)i;
	ASSERT_REASON(sim_doc(s, pk, 1024, &doc, buf), GB_R_OK);
	ASSERT(doc.public_key.len == 1024 && doc.public_key.ptr[1023] ==
	    (uint8_t)1023);
	ASSERT_EQ(gb_nsm_attestation(&n, NULL, 0, NULL, 0, pk, 1025, buf, &r),
	    GB_NSM_INPUT_TOO_LARGE);
	ASSERT_EQ(gb_nsm_attestation(&n, NULL, 0, NULL, 0, pk, 0, buf, &r),
	    GB_NSM_INVALID_ARGUMENT);

	/* The same two, sent raw past the client's checks. */
	for (size_t len = 0; len <= 1025; len += 1025) {
		req.n = 0;
		hd(&req, 5, 1), tx(&req, "Attestation"), hd(&req, 5, 3);
		tx(&req, "user_data"), put(&req, "\xf6", 1);
		tx(&req, "nonce"), put(&req, "\xf6", 1);
		tx(&req, "public_key"), bs(&req, pk, len);
		ASSERT_EQ(gb_nsm_call(&n, req.b, req.n, "Attestation", buf, &r),
		    len == 0 ? GB_NSM_INVALID_ARGUMENT :
		    GB_NSM_INPUT_TOO_LARGE);
	}
	gb_nsm_sim_close(s);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ASSERT_EQ(system(cmd), 0);
}

TEST_MAIN(
	T(requests_are_byte_exact),
	T(responses_in_any_order_and_form),
	T(every_error_code),
	T(calls_through_a_transport),
	T(device_transport_errors),
	T(simulator),
	T(pcr3_pcr4_known_values),
	T(simulator_pcr3_pcr4_pcr8),
	T(simulator_public_key_1024),
)
