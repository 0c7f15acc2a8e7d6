/*
 * The NSM protocol (gb/nsm.h): request bytes exactly as NSM.md gives them,
 * responses decoded in any key order and map form, every error code, and
 * truncated, oversized, trailing and mismatched responses refused, through
 * a transport the test supplies.
 */
#include <errno.h>

#include <nettle/sha2.h>

#include "gb/attest.h"
#include "gb/codec.h"
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
	/* Limits: 512 bytes a field. */
	ASSERT(gb_nsm_enc_attestation(out, NULL, 0, big, 512, NULL, 0) > 0);
	ASSERT_EQ(gb_nsm_enc_attestation(out, NULL, 0, big, 513, NULL, 0), 0);
	ASSERT_EQ(gb_nsm_enc_attestation(out, big, 513, NULL, 0, NULL, 0), 0);
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

TEST_MAIN(
	T(requests_are_byte_exact),
	T(responses_in_any_order_and_form),
	T(every_error_code),
	T(calls_through_a_transport),
	T(device_transport_errors),
	T(simulator),
)
