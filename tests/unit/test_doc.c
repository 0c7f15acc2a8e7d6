/*
 * Documents minted with gb/mint.h: every reason code the core produces, every
 * field boundary, every chain defect, the policy checks, and caches that must
 * never change an answer.
 */
#include <pthread.h>

#include "gb/attest.h"
#include "gb/mint.h"
#include "gb/timefmt.h"
#include "test.h"

static struct gb_mint_chain *chain;     /* made once, valid around now */
static struct gb_verifier *ver;         /* pinned to chain's root */

static void
teardown(void)
{
	gb_verifier_free(ver);
	gb_mint_chain_free(chain);
}

static void
setup(void)
{
	struct gb_span root;

	if (chain != NULL)
		return;
	if (gb_mint_chain_new(NULL, &chain) != 0)
		exit(2);
	root = gb_mint_chain_cert(chain, 0);
	if (gb_verifier_new(root.ptr, root.len, &ver) != 0)
		exit(2);
	atexit(teardown);
}

/* A small CBOR writer for hand-made fields. */
struct cb {
	uint8_t b[8192];
	size_t n;
};

static void
cb_head(struct cb *c, int major, uint64_t v)
{
	uint8_t m = (uint8_t)(major << 5);

	if (v < 24) {
		c->b[c->n++] = m | (uint8_t)v;
	} else if (v <= 0xff) {
		c->b[c->n++] = m | 24;
		c->b[c->n++] = (uint8_t)v;
	} else if (v <= 0xffff) {
		c->b[c->n++] = m | 25;
		c->b[c->n++] = (uint8_t)(v >> 8);
		c->b[c->n++] = (uint8_t)v;
	} else {
		c->b[c->n++] = m | 27;
		for (int i = 7; i >= 0; i--)
			c->b[c->n++] = (uint8_t)(v >> (8 * i));
	}
}

static void
cb_bytes(struct cb *c, size_t len, uint8_t fill)
{
	cb_head(c, 2, len);
	memset(c->b + c->n, fill, len);
	c->n += len;
}

static void
cb_text(struct cb *c, const char *s)
{
	cb_head(c, 3, strlen(s));
	memcpy(c->b + c->n, s, strlen(s));
	c->n += strlen(s);
}

static struct gb_span
span(const struct cb *c)
{
	return (struct gb_span){ c->b, c->n };
}

static enum gb_reason
mint_verify_at(const struct gb_mint_doc *d, int64_t at, struct gb_result *res)
{
	struct gb_doc doc;
	uint8_t *buf;
	size_t len;
	enum gb_reason r;

	setup();
	if (gb_mint_document(chain, d, &buf, &len) != 0)
		exit(2);
	r = gb_verifier_verify(ver, buf, len, at, &doc, res);
	free(buf);
	return r;
}

TEST(minted_document_verifies_in_both_map_forms)
{
	static const uint8_t pk[32] = { 1 }, ud[32] = { 2 }, nonce[20] = { 3 };
	struct gb_mint_doc d = { .public_key = { pk, 32 },
	    .user_data = { ud, 32 }, .nonce = { nonce, 20 } };
	struct gb_result res;
	struct gb_doc doc;
	uint8_t *buf;
	size_t len;

	setup();
	for (int definite = 0; definite < 2; definite++) {
		d.definite_map = definite;
		ASSERT_EQ(gb_mint_document(chain, &d, &buf, &len), 0);
		/* The NSM's layout: untagged array, {1: -35}, {}, payload. */
		ASSERT_EQ(buf[0], 0x84);
		ASSERT(memcmp(buf + 1, "\x44\xa1\x01\x38\x22\xa0\x59", 7) == 0);
		ASSERT_EQ(buf[10], definite ? 0xa9 : 0xbf);
		ASSERT_REASON(gb_verifier_verify(ver, buf, len, gb_time_now_ms(),
		    &doc, &res), GB_R_OK);
		ASSERT_EQ(doc.pcr_count, 16);
		ASSERT_EQ(doc.cabundle_count, 4);
		ASSERT_EQ(doc.public_key.len, 32);
		ASSERT(memcmp(doc.nonce.ptr, nonce, 20) == 0);
		ASSERT(gb_doc_is_debug(&doc));   /* all PCRs zero */
		free(buf);
	}
}

/* One table row: a change to a default document and the expected reason. */
struct row {
	const char *name;
	void (*make)(struct gb_mint_doc *d, struct cb *c);
	enum gb_reason want;
};

#define ROW(n, w) { #n, n, w }

static void opt1024(struct gb_mint_doc *d, struct cb *c)
{ static uint8_t b[1024]; d->public_key = d->user_data = d->nonce =
  (struct gb_span){ b, 1024 }; (void)c; }
static void pk1025(struct gb_mint_doc *d, struct cb *c)
{ cb_bytes(c, 1025, 7); d->raw[GB_MF_PUBLIC_KEY] = span(c); }
static void ud1025(struct gb_mint_doc *d, struct cb *c)
{ cb_bytes(c, 1025, 7); d->raw[GB_MF_USER_DATA] = span(c); }
static void nonce1025(struct gb_mint_doc *d, struct cb *c)
{ cb_bytes(c, 1025, 7); d->raw[GB_MF_NONCE] = span(c); }
static void ud_empty(struct gb_mint_doc *d, struct cb *c)
{ cb_bytes(c, 0, 0); d->raw[GB_MF_USER_DATA] = span(c); }
static void opt_absent(struct gb_mint_doc *d, struct cb *c)
{ d->omit = 1u << GB_MF_PUBLIC_KEY | 1u << GB_MF_USER_DATA |
  1u << GB_MF_NONCE; (void)c; }
static void nonce_text(struct gb_mint_doc *d, struct cb *c)
{ cb_text(c, "abc"); d->raw[GB_MF_NONCE] = span(c); }
static void ud_indef(struct gb_mint_doc *d, struct cb *c)
{ c->b[c->n++] = 0x5f; cb_bytes(c, 2, 1); c->b[c->n++] = 0xff;
  d->raw[GB_MF_USER_DATA] = span(c); }

static void pcr_map(struct cb *c, unsigned index, size_t len)
{ cb_head(c, 5, 1); cb_head(c, 0, index); cb_bytes(c, len, 9); }
static void pcr31(struct gb_mint_doc *d, struct cb *c)
{ pcr_map(c, 31, 48); d->raw[GB_MF_PCRS] = span(c); }
static void pcr32(struct gb_mint_doc *d, struct cb *c)
{ pcr_map(c, 32, 48); d->raw[GB_MF_PCRS] = span(c); }
static void pcr_len32(struct gb_mint_doc *d, struct cb *c)
{ pcr_map(c, 0, 32); d->raw[GB_MF_PCRS] = span(c); }
static void pcr_len64(struct gb_mint_doc *d, struct cb *c)
{ pcr_map(c, 0, 64); d->raw[GB_MF_PCRS] = span(c); }
static void pcr_len47(struct gb_mint_doc *d, struct cb *c)
{ pcr_map(c, 0, 47); d->raw[GB_MF_PCRS] = span(c); }
static void pcr_len0(struct gb_mint_doc *d, struct cb *c)
{ pcr_map(c, 0, 0); d->raw[GB_MF_PCRS] = span(c); }
static void pcrs_empty(struct gb_mint_doc *d, struct cb *c)
{ cb_head(c, 5, 0); d->raw[GB_MF_PCRS] = span(c); }
static void pcrs_array(struct gb_mint_doc *d, struct cb *c)
{ cb_head(c, 4, 1); cb_bytes(c, 48, 0); d->raw[GB_MF_PCRS] = span(c); }
static void pcr_key_negative(struct gb_mint_doc *d, struct cb *c)
{ cb_head(c, 5, 1); cb_head(c, 1, 0); cb_bytes(c, 48, 0);
  d->raw[GB_MF_PCRS] = span(c); }
static void pcr_key_text(struct gb_mint_doc *d, struct cb *c)
{ cb_head(c, 5, 1); cb_text(c, "0"); cb_bytes(c, 48, 0);
  d->raw[GB_MF_PCRS] = span(c); }
static void pcrs_32_entries(struct gb_mint_doc *d, struct cb *c)
{ d->pcr_count = 32; (void)c; }
static void pcr_dup_index(struct gb_mint_doc *d, struct cb *c)
{ cb_head(c, 5, 2); cb_head(c, 0, 3); cb_bytes(c, 48, 0);
  c->b[c->n++] = 0x18; c->b[c->n++] = 3;   /* 3 again, not minimal */
  cb_bytes(c, 48, 0); d->raw[GB_MF_PCRS] = span(c); }
static void pcrs_indef(struct gb_mint_doc *d, struct cb *c)
{ c->b[c->n++] = 0xbf; for (unsigned i = 0; i < 3; i++) { cb_head(c, 0, i);
  cb_bytes(c, 48, 1); } c->b[c->n++] = 0xff; d->raw[GB_MF_PCRS] = span(c); }

static void cabundle_empty(struct gb_mint_doc *d, struct cb *c)
{ cb_head(c, 4, 0); d->raw[GB_MF_CABUNDLE] = span(c); }
static void cabundle_not_array(struct gb_mint_doc *d, struct cb *c)
{ cb_bytes(c, 10, 0); d->raw[GB_MF_CABUNDLE] = span(c); }
static void cabundle_entry_empty(struct gb_mint_doc *d, struct cb *c)
{ cb_head(c, 4, 1); cb_bytes(c, 0, 0); d->raw[GB_MF_CABUNDLE] = span(c); }
static void cabundle_entry1025(struct gb_mint_doc *d, struct cb *c)
{ cb_head(c, 4, 1); cb_bytes(c, 1025, 0x30);
  d->raw[GB_MF_CABUNDLE] = span(c); }
static void cabundle_9(struct gb_mint_doc *d, struct cb *c)
{ cb_head(c, 4, 9); for (int i = 0; i < 9; i++) cb_bytes(c, 10, 0x30);
  d->raw[GB_MF_CABUNDLE] = span(c); }
static void cert1025(struct gb_mint_doc *d, struct cb *c)
{ cb_bytes(c, 1025, 0x30); d->raw[GB_MF_CERTIFICATE] = span(c); }
static void cert_empty(struct gb_mint_doc *d, struct cb *c)
{ cb_bytes(c, 0, 0); d->raw[GB_MF_CERTIFICATE] = span(c); }
static void cert1024_garbage(struct gb_mint_doc *d, struct cb *c)
{ cb_bytes(c, 1024, 0x30); d->raw[GB_MF_CERTIFICATE] = span(c); }
static void cert_text(struct gb_mint_doc *d, struct cb *c)
{ cb_text(c, "MIIB"); d->raw[GB_MF_CERTIFICATE] = span(c); }

static void ts0(struct gb_mint_doc *d, struct cb *c)
{ cb_head(c, 0, 0); d->raw[GB_MF_TIMESTAMP] = span(c); }
static void ts_text(struct gb_mint_doc *d, struct cb *c)
{ cb_text(c, "1700000000000"); d->raw[GB_MF_TIMESTAMP] = span(c); }
static void ts_negative(struct gb_mint_doc *d, struct cb *c)
{ cb_head(c, 1, 5); d->raw[GB_MF_TIMESTAMP] = span(c); }
static void ts_too_big(struct gb_mint_doc *d, struct cb *c)
{ cb_head(c, 0, GB_TIMESTAMP_MAX_MS + 1); d->raw[GB_MF_TIMESTAMP] = span(c); }

static void module_empty(struct gb_mint_doc *d, struct cb *c)
{ cb_text(c, ""); d->raw[GB_MF_MODULE_ID] = span(c); }
static void module_bytes(struct gb_mint_doc *d, struct cb *c)
{ cb_bytes(c, 8, 'a'); d->raw[GB_MF_MODULE_ID] = span(c); }
static void module_129(struct gb_mint_doc *d, struct cb *c)
{ static char s[130]; memset(s, 'a', 129); cb_text(c, s);
  d->raw[GB_MF_MODULE_ID] = span(c); }
static void module_128(struct gb_mint_doc *d, struct cb *c)
{ static char s[129]; memset(s, 'a', 128); cb_text(c, s);
  d->raw[GB_MF_MODULE_ID] = span(c); }
static void module_control(struct gb_mint_doc *d, struct cb *c)
{ cb_text(c, "i-1\n"); d->raw[GB_MF_MODULE_ID] = span(c); }
static void digest_sha256(struct gb_mint_doc *d, struct cb *c)
{ cb_text(c, "SHA256"); d->raw[GB_MF_DIGEST] = span(c); }

#define OMIT(f) static void omit_##f(struct gb_mint_doc *d, struct cb *c) \
{ d->omit = 1u << GB_MF_##f; (void)c; }
OMIT(MODULE_ID) OMIT(DIGEST) OMIT(TIMESTAMP) OMIT(PCRS) OMIT(CERTIFICATE)
OMIT(CABUNDLE)

static void dup_key(struct gb_mint_doc *d, struct cb *c)
{ cb_text(c, "nonce"); c->b[c->n++] = 0xf6; d->extra = span(c);
  d->extra_pairs = 1; }
static void dup_key_nonminimal(struct gb_mint_doc *d, struct cb *c)
{ c->b[c->n++] = 0x78; c->b[c->n++] = 5; memcpy(c->b + c->n, "nonce", 5);
  c->n += 5; c->b[c->n++] = 0xf6; d->extra = span(c); d->extra_pairs = 1; }
static void unknown_keys(struct gb_mint_doc *d, struct cb *c)
{ cb_text(c, "zzz"); cb_head(c, 5, 1); cb_head(c, 0, 1); cb_head(c, 4, 2);
  cb_text(c, "x"); c->b[c->n++] = 0xf5; cb_head(c, 0, 7); cb_text(c, "seven");
  d->extra = span(c); d->extra_pairs = 2; }
static void complex_key(struct gb_mint_doc *d, struct cb *c)
{ cb_head(c, 4, 0); c->b[c->n++] = 0xf6; d->extra = span(c);
  d->extra_pairs = 1; }
static void deep_nesting(struct gb_mint_doc *d, struct cb *c)
{ cb_text(c, "deep"); for (int i = 0; i < 2000; i++) c->b[c->n++] = 0x81;
  c->b[c->n++] = 0x00; d->extra = span(c); d->extra_pairs = 1; }
static void huge_bstr_claim(struct gb_mint_doc *d, struct cb *c)
{ c->b[c->n++] = 0x5b; memset(c->b + c->n, 0xff, 8); c->n += 8;
  d->raw[GB_MF_USER_DATA] = span(c); }
static void huge_array_claim(struct gb_mint_doc *d, struct cb *c)
{ c->b[c->n++] = 0x9b; memset(c->b + c->n, 0xff, 8); c->n += 8;
  d->raw[GB_MF_CABUNDLE] = span(c); }
static void huge_map_claim(struct gb_mint_doc *d, struct cb *c)
{ c->b[c->n++] = 0xbb; memset(c->b + c->n, 0x7f, 8); c->n += 8;
  d->raw[GB_MF_PCRS] = span(c); }
static void bad_chunk(struct gb_mint_doc *d, struct cb *c)
{ cb_text(c, "chunks"); c->b[c->n++] = 0x5f; cb_text(c, "t");
  c->b[c->n++] = 0xff; d->extra = span(c); d->extra_pairs = 1; }

static const struct row rows[] = {
	ROW(opt1024, GB_R_OK),
	ROW(pk1025, GB_R_BAD_FIELD),
	ROW(ud1025, GB_R_BAD_FIELD),
	ROW(nonce1025, GB_R_BAD_FIELD),
	ROW(ud_empty, GB_R_OK),
	ROW(opt_absent, GB_R_OK),
	ROW(nonce_text, GB_R_BAD_FIELD),
	ROW(ud_indef, GB_R_MALFORMED),
	ROW(pcr31, GB_R_OK),
	ROW(pcr32, GB_R_BAD_FIELD),
	ROW(pcr_len32, GB_R_OK),
	ROW(pcr_len64, GB_R_OK),
	ROW(pcr_len47, GB_R_BAD_FIELD),
	ROW(pcr_len0, GB_R_BAD_FIELD),
	ROW(pcrs_empty, GB_R_BAD_FIELD),
	ROW(pcrs_array, GB_R_BAD_FIELD),
	ROW(pcr_key_negative, GB_R_BAD_FIELD),
	ROW(pcr_key_text, GB_R_BAD_FIELD),
	ROW(pcrs_32_entries, GB_R_OK),
	ROW(pcr_dup_index, GB_R_MALFORMED),
	ROW(pcrs_indef, GB_R_OK),
	ROW(cabundle_empty, GB_R_BAD_FIELD),
	ROW(cabundle_not_array, GB_R_BAD_FIELD),
	ROW(cabundle_entry_empty, GB_R_BAD_FIELD),
	ROW(cabundle_entry1025, GB_R_BAD_FIELD),
	ROW(cabundle_9, GB_R_BAD_FIELD),
	ROW(cert1025, GB_R_BAD_FIELD),
	ROW(cert_empty, GB_R_BAD_FIELD),
	ROW(cert1024_garbage, GB_R_BAD_CHAIN),
	ROW(cert_text, GB_R_BAD_FIELD),
	ROW(ts0, GB_R_BAD_FIELD),
	ROW(ts_text, GB_R_BAD_FIELD),
	ROW(ts_negative, GB_R_BAD_FIELD),
	ROW(ts_too_big, GB_R_BAD_FIELD),
	ROW(module_empty, GB_R_BAD_FIELD),
	ROW(module_bytes, GB_R_BAD_FIELD),
	ROW(module_129, GB_R_BAD_FIELD),
	ROW(module_128, GB_R_OK),
	ROW(module_control, GB_R_BAD_FIELD),
	ROW(digest_sha256, GB_R_BAD_FIELD),
	ROW(omit_MODULE_ID, GB_R_BAD_FIELD),
	ROW(omit_DIGEST, GB_R_BAD_FIELD),
	ROW(omit_TIMESTAMP, GB_R_BAD_FIELD),
	ROW(omit_PCRS, GB_R_BAD_FIELD),
	ROW(omit_CERTIFICATE, GB_R_BAD_FIELD),
	ROW(omit_CABUNDLE, GB_R_BAD_FIELD),
	ROW(dup_key, GB_R_MALFORMED),
	ROW(dup_key_nonminimal, GB_R_MALFORMED),
	ROW(unknown_keys, GB_R_OK),
	ROW(complex_key, GB_R_MALFORMED),
	ROW(deep_nesting, GB_R_MALFORMED),
	ROW(huge_bstr_claim, GB_R_MALFORMED),
	ROW(huge_array_claim, GB_R_MALFORMED),
	ROW(huge_map_claim, GB_R_MALFORMED),
	ROW(bad_chunk, GB_R_MALFORMED),
};

/*
 * Indefinite-length (chunked) strings, in correctly signed documents: the
 * NSM never writes them, and docs/verification.md says they are refused as
 * malformed wherever they are, chunks well-formed or not. The same values
 * as definite strings verify (the control), so only the encoding differs.
 */
static void chunked_bytes(struct cb *c, size_t len, uint8_t fill, bool indef)
{ if (!indef) { cb_bytes(c, len, fill); return; } c->b[c->n++] = 0x5f;
  cb_bytes(c, len / 2, fill); cb_bytes(c, len - len / 2, fill);
  c->b[c->n++] = 0xff; }
static void chunked_text(struct cb *c, const char *s, bool indef)
{ size_t n = strlen(s); if (!indef) { cb_text(c, s); return; }
  c->b[c->n++] = 0x7f; cb_head(c, 3, n / 2); memcpy(c->b + c->n, s, n / 2);
  c->n += n / 2; cb_head(c, 3, n - n / 2); memcpy(c->b + c->n, s + n / 2,
  n - n / 2); c->n += n - n / 2; c->b[c->n++] = 0xff; }

TEST(chunked_strings_are_refused)
{
	static const char *const where[] = { "user_data", "nonce",
	    "module_id", "digest", "pcr", "certificate", "unknown field",
	    "unknown key", "empty user_data" };
	const size_t n = sizeof where / sizeof where[0];
	struct gb_span cert;

	setup();
	cert = gb_mint_chain_cert(chain, 4);
	for (size_t i = 0; i < n; i++)
		for (int indef = 0; indef < 2; indef++) {
			struct gb_mint_doc d = { 0 };
			struct gb_result res;
			struct cb c = { .n = 0 };
			enum gb_reason got, want = indef ? GB_R_MALFORMED :
			    GB_R_OK;

			switch (i) {
			case 0:
				chunked_bytes(&c, 32, 5, indef);
				d.raw[GB_MF_USER_DATA] = span(&c);
				break;
			case 1:
				chunked_bytes(&c, 20, 6, indef);
				d.raw[GB_MF_NONCE] = span(&c);
				break;
			case 2:
				chunked_text(&c, gb_mint_chain_module_id(chain),
				    indef);
				d.raw[GB_MF_MODULE_ID] = span(&c);
				break;
			case 3:
				chunked_text(&c, "SHA384", indef);
				d.raw[GB_MF_DIGEST] = span(&c);
				break;
			case 4:
				cb_head(&c, 5, 1);
				cb_head(&c, 0, 0);
				chunked_bytes(&c, 48, 1, indef);
				d.raw[GB_MF_PCRS] = span(&c);
				break;
			case 5:
				if (indef) {
					c.b[c.n++] = 0x5f;
					cb_head(&c, 2, 10);
					memcpy(c.b + c.n, cert.ptr, 10);
					c.n += 10;
					cb_head(&c, 2, cert.len - 10);
					memcpy(c.b + c.n, cert.ptr + 10,
					    cert.len - 10);
					c.n += cert.len - 10;
					c.b[c.n++] = 0xff;
				} else {
					cb_head(&c, 2, cert.len);
					memcpy(c.b + c.n, cert.ptr, cert.len);
					c.n += cert.len;
				}
				d.raw[GB_MF_CERTIFICATE] = span(&c);
				break;
			case 6:
				cb_text(&c, "zzz");
				chunked_text(&c, "ignored anyway", indef);
				d.extra = span(&c);
				d.extra_pairs = 1;
				break;
			case 7:
				chunked_text(&c, "zzz", indef);
				c.b[c.n++] = 0xf6;
				d.extra = span(&c);
				d.extra_pairs = 1;
				break;
			case 8:
				if (indef) {
					c.b[c.n++] = 0x5f;
					c.b[c.n++] = 0xff;
				} else {
					cb_bytes(&c, 0, 0);
				}
				d.raw[GB_MF_USER_DATA] = span(&c);
				break;
			}
			got = mint_verify_at(&d, gb_time_now_ms(), &res);
			if (got != want)
				FAIL_AT("%s, %s: got %s (%s), want %s", where[i],
				    indef ? "chunked" : "definite",
				    gb_reason_code(got), res.detail,
				    gb_reason_code(want));
			if (indef && strstr(res.detail,
			    "indefinite-length (chunked)") == NULL)
				FAIL_AT("%s: message \"%s\"", where[i],
				    res.detail);
		}
}

TEST(field_boundaries)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct gb_mint_doc d = { 0 };
		struct gb_result res;
		struct cb c = { .n = 0 };
		enum gb_reason got;

		rows[i].make(&d, &c);
		/* at a fixed time inside the chain's window */
		got = mint_verify_at(&d, gb_time_now_ms(), &res);
		if (getenv("GB_TEST_VERBOSE")) printf("  %-22s %s: %s\n", rows[i].name, gb_reason_code(got), res.detail);
		if (got != rows[i].want)
			FAIL_AT("%s: got %s (%s), want %s", rows[i].name,
			    gb_reason_code(got), res.detail,
			    gb_reason_code(rows[i].want));
	}
}

/* COSE structure by hand: protected, unprotected, payload, signature. */
static enum gb_reason
cose_by_hand(const struct cb *prot, const struct cb *unprot, size_t siglen,
    uint8_t tag, int arraylen)
{
	static struct cb c;
	struct gb_mint_doc d = { 0 };
	struct gb_result res;
	struct gb_doc doc;
	uint8_t *good;
	size_t goodlen, payload_at, payload_len;

	setup();
	/* Take a real minted payload, then rebuild around it. */
	if (gb_mint_document(chain, &d, &good, &goodlen) != 0)
		exit(2);
	payload_at = 10;    /* 84 44 a1013822 a0 59 HH HH */
	payload_len = (size_t)good[8] << 8 | good[9];
	c.n = 0;
	if (tag)
		c.b[c.n++] = tag;
	cb_head(&c, 4, (uint64_t)arraylen);
	cb_head(&c, 2, prot->n);
	memcpy(c.b + c.n, prot->b, prot->n);
	c.n += prot->n;
	memcpy(c.b + c.n, unprot->b, unprot->n);
	c.n += unprot->n;
	cb_head(&c, 2, payload_len);
	memcpy(c.b + c.n, good + payload_at, payload_len);
	c.n += payload_len;
	if (arraylen == 4)
		cb_bytes(&c, siglen, 1);
	free(good);
	return gb_verifier_verify(ver, c.b, c.n, gb_time_now_ms(), &doc, &res);
}

TEST(cose_headers_and_structure)
{
	struct cb es384 = { .n = 0 }, empty = { .n = 0 }, extra = { .n = 0 },
	    es256 = { .n = 0 }, nothing = { .n = 0 }, unprot = { .n = 0 },
	    notmap = { .n = 0 };

	memcpy(es384.b, "\xa1\x01\x38\x22", 4), es384.n = 4;
	memcpy(es256.b, "\xa1\x01\x38\x20", 4), es256.n = 4;
	memcpy(extra.b, "\xa2\x01\x38\x22\x04\x40", 6), extra.n = 6;
	empty.b[0] = 0xa0, empty.n = 1;
	unprot.b[0] = 0xa1, unprot.b[1] = 0x01, unprot.b[2] = 0x01, unprot.n = 3;
	notmap.b[0] = 0x80, notmap.n = 1;

	/* A signature that does not verify: only the header checks differ. */
	ASSERT_REASON(cose_by_hand(&es384, &empty, 96, 0, 4),
	    GB_R_BAD_SIGNATURE);
	ASSERT_REASON(cose_by_hand(&es384, &empty, 96, 0xd2, 4),
	    GB_R_BAD_SIGNATURE);
	ASSERT_REASON(cose_by_hand(&es384, &empty, 95, 0, 4),
	    GB_R_BAD_SIGNATURE);
	ASSERT_REASON(cose_by_hand(&es384, &empty, 96, 0xd1, 4),
	    GB_R_MALFORMED);
	ASSERT_REASON(cose_by_hand(&es384, &empty, 96, 0, 3), GB_R_MALFORMED);
	ASSERT_REASON(cose_by_hand(&es256, &empty, 96, 0, 4), GB_R_BAD_HEADER);
	ASSERT_REASON(cose_by_hand(&extra, &empty, 96, 0, 4), GB_R_BAD_HEADER);
	ASSERT_REASON(cose_by_hand(&nothing, &empty, 96, 0, 4), GB_R_BAD_HEADER);
	ASSERT_REASON(cose_by_hand(&es384, &unprot, 96, 0, 4), GB_R_BAD_HEADER);
	ASSERT_REASON(cose_by_hand(&es384, &notmap, 96, 0, 4), GB_R_MALFORMED);
}

TEST(payload_must_be_exactly_one_map)
{
	static const uint8_t not_map[] = { 0x01 };
	static const uint8_t trailing[] = { 0xa0, 0x00 };
	struct gb_result res;
	struct gb_doc doc;
	uint8_t *buf;
	size_t len;

	setup();
	ASSERT_EQ(gb_mint_sign(chain, not_map, 1, &buf, &len), 0);
	ASSERT_REASON(gb_verifier_verify(ver, buf, len, 0, &doc, &res),
	    GB_R_MALFORMED);
	free(buf);
	ASSERT_EQ(gb_mint_sign(chain, trailing, 2, &buf, &len), 0);
	ASSERT_REASON(gb_verifier_verify(ver, buf, len, 0, &doc, &res),
	    GB_R_MALFORMED);
	free(buf);
	/* An empty map is well-formed: its fields are missing. */
	ASSERT_EQ(gb_mint_sign(chain, trailing, 1, &buf, &len), 0);
	ASSERT_REASON(gb_verifier_verify(ver, buf, len, 0, &doc, &res),
	    GB_R_BAD_FIELD);
	free(buf);
}

TEST(garbage_nesting_and_length_claims)
{
	static const uint8_t huge[] = { 0x84, 0x5b, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff };
	static const uint8_t huge_array[] = { 0x9b, 0x7f, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0x00 };
	static const uint8_t garbage[] = "\xff\xfe not cbor at all";
	const size_t deep_n = 100000;
	struct gb_result res;
	struct gb_doc doc;
	uint8_t *deep;

	setup();
	ASSERT_REASON(gb_verifier_verify(ver, NULL, 0, 0, &doc, &res),
	    GB_R_MALFORMED);
	ASSERT_REASON(gb_verifier_verify(ver, garbage, sizeof garbage, 0, &doc,
	    &res), GB_R_MALFORMED);
	ASSERT_REASON(gb_verifier_verify(ver, huge, sizeof huge, 0, &doc, &res),
	    GB_R_MALFORMED);
	ASSERT_REASON(gb_verifier_verify(ver, huge_array, sizeof huge_array, 0,
	    &doc, &res), GB_R_MALFORMED);
	/* 100000 nested arrays, at the top and as a payload: both refused,
	 * the second before the size limit even matters. */
	ASSERT((deep = malloc(deep_n + 1)) != NULL);
	memset(deep, 0x81, deep_n);
	deep[deep_n] = 0;
	ASSERT_REASON(gb_verifier_verify(ver, deep, deep_n + 1, 0, &doc, &res),
	    GB_R_MALFORMED);
	ASSERT_REASON(gb_doc_parse(deep, GB_DOC_MAX_BYTES, &doc, &res),
	    GB_R_MALFORMED);
	free(deep);
}

static enum gb_reason
verify_chain_flags(unsigned flags, int64_t leaf_nb, int64_t leaf_na,
    int64_t at, struct gb_result *res)
{
	struct gb_mint_chain_opts o = { .flags = flags,
	    .leaf_not_before_ms = leaf_nb, .leaf_not_after_ms = leaf_na };
	struct gb_mint_chain *c;
	struct gb_verifier *v;
	struct gb_mint_doc d = { .timestamp_ms = at };
	struct gb_span root;
	struct gb_doc doc;
	enum gb_reason r;
	uint8_t *buf;
	size_t len;

	if (gb_mint_chain_new(&o, &c) != 0)
		exit(2);
	root = gb_mint_chain_cert(c, 0);
	if (gb_verifier_new(root.ptr, root.len, &v) != 0 ||
	    gb_mint_document(c, &d, &buf, &len) != 0)
		exit(2);
	r = gb_verifier_verify(v, buf, len, at, &doc, res);
	free(buf);
	gb_verifier_free(v);
	gb_mint_chain_free(c);
	return r;
}

TEST(chain_defects)
{
	/* Each defect, and the words its message must have, so that the
	 * rule that caught it is the one meant. */
	static const struct {
		unsigned flags;
		enum gb_reason want;
		const char *words;
	} cases[] = {
		{ 0, GB_R_OK, "valid" },
		{ GB_MINT_BROKEN_LINK, GB_R_BAD_CHAIN, "signature" },
		{ GB_MINT_ZONAL_NOT_CA, GB_R_BAD_CHAIN, "not a CA" },
		{ GB_MINT_PATHLEN_VIOLATION, GB_R_BAD_CHAIN, "pathLen" },
		{ GB_MINT_LEAF_IS_CA, GB_R_BAD_CHAIN, "leaf certificate is a CA" },
		{ GB_MINT_INSTANCE_NO_CERTSIGN, GB_R_BAD_CHAIN, "keyCertSign" },
		{ GB_MINT_UNKNOWN_CRITICAL, GB_R_BAD_CHAIN, "critical extension" },
		{ GB_MINT_LEAF_WRONG_ISSUER, GB_R_BAD_CHAIN, "its issuer is not" },
		{ GB_MINT_LEAF_WRONG_AKID, GB_R_BAD_CHAIN,
		  "authority key identifier" },
		{ GB_MINT_NAME_CONSTRAINED, GB_R_BAD_CHAIN, "name constraints" },
		{ GB_MINT_NAME_CONSTRAINED_OK, GB_R_OK, "valid" },
	};
	int64_t now = gb_time_now_ms(), hour = 3600000;
	struct gb_result res;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ASSERT_REASON(verify_chain_flags(cases[i].flags, 0, 0, now,
		    &res), cases[i].want);
		if (strstr(res.detail, cases[i].words) == NULL)
			FAIL_AT("flags %#x: \"%s\" lacks \"%s\"",
			    cases[i].flags, res.detail, cases[i].words);
	}
	/* The leaf's window against the time asked. */
	ASSERT_REASON(verify_chain_flags(0, now + hour, now + 2 * hour, now,
	    &res), GB_R_CERT_NOT_YET_VALID);
	ASSERT_REASON(verify_chain_flags(0, now - 2 * hour, now - hour, now,
	    &res), GB_R_CERT_EXPIRED);
	/* A broken link and an expired leaf: the chain is named first. */
	ASSERT_REASON(verify_chain_flags(GB_MINT_BROKEN_LINK, now - 2 * hour,
	    now - hour, now, &res), GB_R_BAD_CHAIN);
}

/* The leaf signs the document: a keyUsage that does not allow
 * digitalSignature (RFC 5280 4.2.1.3) is bad_chain; no keyUsage at all
 * restricts nothing. */
TEST(leaf_key_usage)
{
	static const struct {
		const char *ku;
		enum gb_reason want;
	} cases[] = {
		{ NULL, GB_R_OK },                       /* the NSM's */
		{ "critical,digitalSignature", GB_R_OK },
		{ "digitalSignature,nonRepudiation", GB_R_OK }, /* real leaves */
		{ "", GB_R_OK },                         /* no keyUsage */
		{ "critical,cRLSign", GB_R_BAD_CHAIN },
		{ "critical,nonRepudiation", GB_R_BAD_CHAIN },
		{ "keyAgreement", GB_R_BAD_CHAIN },
		{ "critical,keyCertSign", GB_R_BAD_CHAIN },
	};
	int64_t now = gb_time_now_ms();

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct gb_mint_chain_opts o = { .now_ms = now,
		    .leaf_key_usage = cases[i].ku };
		struct gb_mint_doc d = { .timestamp_ms = now };
		struct gb_mint_chain *c;
		struct gb_verifier *v;
		struct gb_result res;
		struct gb_span root;
		struct gb_doc doc;
		enum gb_reason got;
		uint8_t *buf;
		size_t len;

		ASSERT_EQ(gb_mint_chain_new(&o, &c), 0);
		root = gb_mint_chain_cert(c, 0);
		ASSERT_EQ(gb_verifier_new(root.ptr, root.len, &v), 0);
		ASSERT_EQ(gb_mint_document(c, &d, &buf, &len), 0);
		got = gb_verifier_verify(v, buf, len, now, &doc, &res);
		if (got != cases[i].want)
			FAIL_AT("keyUsage \"%s\": got %s (%s), want %s",
			    cases[i].ku ? cases[i].ku : "(default)",
			    gb_reason_code(got), res.detail,
			    gb_reason_code(cases[i].want));
		if (got == GB_R_BAD_CHAIN && (strstr(res.detail,
		    "keyUsage does not allow digitalSignature") == NULL ||
		    strstr(res.detail, "depth 0") == NULL))
			FAIL_AT("keyUsage \"%s\": message \"%s\"", cases[i].ku,
			    res.detail);
		free(buf);
		gb_verifier_free(v);
		gb_mint_chain_free(c);
	}
}

TEST(wrong_root)
{
	struct gb_mint_chain *other;
	struct gb_verifier *aws, *v;
	struct gb_mint_doc d = { 0 };
	struct gb_span root;
	struct gb_result res;
	struct gb_doc doc;
	uint8_t *buf;
	size_t len;

	setup();
	ASSERT_EQ(gb_mint_chain_new(NULL, &other), 0);
	root = gb_mint_chain_cert(other, 0);
	ASSERT_EQ(gb_verifier_new(root.ptr, root.len, &v), 0);
	ASSERT_EQ(gb_verifier_new(NULL, 0, &aws), 0);
	ASSERT_EQ(gb_mint_document(chain, &d, &buf, &len), 0);
	ASSERT_REASON(gb_verifier_verify(v, buf, len, 0, &doc, &res),
	    GB_R_UNTRUSTED_ROOT);
	ASSERT_REASON(gb_verifier_verify(aws, buf, len, 0, &doc, &res),
	    GB_R_UNTRUSTED_ROOT);
	free(buf);
	gb_verifier_free(v);
	gb_verifier_free(aws);
	gb_mint_chain_free(other);
}

/* A cabundle out of order, or with a stranger inside, is not the chain. */
TEST(cabundle_order_and_strangers)
{
	struct gb_mint_chain *other;
	struct gb_mint_doc d = { 0 };
	struct gb_result res;
	struct cb c = { .n = 0 };
	struct gb_span cert;
	const int swapped[4] = { 0, 2, 1, 3 };

	setup();
	cb_head(&c, 4, 4);
	for (int i = 0; i < 4; i++) {
		cert = gb_mint_chain_cert(chain, swapped[i]);
		cb_head(&c, 2, cert.len);
		memcpy(c.b + c.n, cert.ptr, cert.len);
		c.n += cert.len;
	}
	d.raw[GB_MF_CABUNDLE] = span(&c);
	ASSERT_REASON(mint_verify_at(&d, gb_time_now_ms(), &res),
	    GB_R_BAD_CHAIN);

	ASSERT_EQ(gb_mint_chain_new(NULL, &other), 0);
	c.n = 0;
	cb_head(&c, 4, 5);
	for (int i = 0; i < 5; i++) {
		cert = i == 2 ? gb_mint_chain_cert(other, 2) :
		    gb_mint_chain_cert(chain, i < 2 ? i : i - 1);
		cb_head(&c, 2, cert.len);
		memcpy(c.b + c.n, cert.ptr, cert.len);
		c.n += cert.len;
	}
	d.raw[GB_MF_CABUNDLE] = span(&c);
	ASSERT_REASON(mint_verify_at(&d, gb_time_now_ms(), &res),
	    GB_R_BAD_CHAIN);
	gb_mint_chain_free(other);

	/* The leaf with a byte after its DER. */
	cert = gb_mint_chain_cert(chain, 4);
	c.n = 0;
	cb_head(&c, 2, cert.len + 1);
	memcpy(c.b + c.n, cert.ptr, cert.len);
	c.n += cert.len;
	c.b[c.n++] = 0;
	memset(&d, 0, sizeof d);
	d.raw[GB_MF_CERTIFICATE] = span(&c);
	ASSERT_REASON(mint_verify_at(&d, gb_time_now_ms(), &res),
	    GB_R_BAD_CHAIN);
}

TEST(policy_checks)
{
	static const uint8_t pcr[3][48] = { { 1 }, { 2 }, { 3 } };
	static const uint8_t nonce[4] = { 9, 8, 7, 6 };
	int64_t now = gb_time_now_ms();
	struct gb_mint_doc d = { .timestamp_ms = now, .pcr_count = 3,
	    .pcrs = pcr, .nonce = { nonce, 4 } };
	struct gb_expect_pcr e = { .index = 1, .len = 48 };
	struct gb_policy p = { .now_ms = now };
	struct gb_result res;
	struct gb_doc doc;
	uint8_t *buf, *dbg;
	size_t len, dlen;
	struct gb_mint_doc dd = { .timestamp_ms = now };

	setup();
	ASSERT_EQ(gb_mint_document(chain, &d, &buf, &len), 0);
	ASSERT_EQ(gb_mint_document(chain, &dd, &dbg, &dlen), 0);

	ASSERT_REASON(gb_verifier_verify(ver, dbg, dlen, now, &doc, &res),
	    GB_R_OK);
	ASSERT_REASON(gb_policy_check(&p, &doc, &res), GB_R_DEBUG_MODE);
	p.allow_debug = true;
	ASSERT_REASON(gb_policy_check(&p, &doc, &res), GB_R_OK);
	p.allow_debug = false;

	ASSERT_REASON(gb_verifier_verify(ver, buf, len, now, &doc, &res),
	    GB_R_OK);
	ASSERT_REASON(gb_policy_check(&p, &doc, &res), GB_R_OK);

	p.check_freshness = true;
	p.max_age_ms = 600000;
	p.max_skew_ms = 60000;
	ASSERT_REASON(gb_policy_check(&p, &doc, &res), GB_R_OK);
	p.now_ms = now + 600000;                 /* exactly the max age */
	ASSERT_REASON(gb_policy_check(&p, &doc, &res), GB_R_OK);
	p.now_ms = now + 600001;
	ASSERT_REASON(gb_policy_check(&p, &doc, &res), GB_R_STALE);
	p.now_ms = now - 60000;                  /* exactly the skew */
	ASSERT_REASON(gb_policy_check(&p, &doc, &res), GB_R_OK);
	p.now_ms = now - 60001;
	ASSERT_REASON(gb_policy_check(&p, &doc, &res), GB_R_FUTURE);
	p.now_ms = now;

	p.nonce = nonce;
	p.nonce_len = 4;
	ASSERT_REASON(gb_policy_check(&p, &doc, &res), GB_R_OK);
	p.nonce_len = 3;
	ASSERT_REASON(gb_policy_check(&p, &doc, &res), GB_R_NONCE_MISMATCH);
	p.nonce = NULL;

	memcpy(e.value, pcr[1], 48);
	p.expect = &e;
	p.expect_count = 1;
	ASSERT_REASON(gb_policy_check(&p, &doc, &res), GB_R_OK);
	e.value[47] ^= 1;
	ASSERT_REASON(gb_policy_check(&p, &doc, &res),
	    GB_R_UNKNOWN_MEASUREMENT);
	e.index = 20;                            /* not in the document */
	ASSERT_REASON(gb_policy_check(&p, &doc, &res),
	    GB_R_UNKNOWN_MEASUREMENT);
	free(buf);
	free(dbg);
}

/*
 * Caches must never change an answer: the same questions are asked of a
 * verifier with each cache setting and of one without caches, twice, with
 * times inside and outside the windows and a document whose signature was
 * broken under a leaf already cached.
 */
TEST(caches_never_change_answers)
{
	static const unsigned settings[] = { GB_CACHE_CHAIN,
	    GB_CACHE_CHAIN | GB_CACHE_LEAF, GB_CACHE_ALL, GB_CACHE_DOC,
	    GB_CACHE_LEAF };
	int64_t now = gb_time_now_ms(), hour = 3600000, day = 24 * hour;
	int64_t times[] = { now, now - 30000, now + 2 * hour, now + 4 * hour,
	    now - 2 * hour, now + 2 * day, now + 30 * day, GB_AT_DOCUMENT };
	struct gb_mint_doc d1 = { .timestamp_ms = now },
	    d2 = { .timestamp_ms = now + 1000 };
	struct gb_span root;
	struct gb_verifier *plain, *v;
	struct gb_result r1, r2;
	struct gb_doc doc;
	uint8_t *docs[3];
	size_t lens[3];

	setup();
	root = gb_mint_chain_cert(chain, 0);
	ASSERT_EQ(gb_verifier_new(root.ptr, root.len, &plain), 0);
	gb_verifier_set_caches(plain, 0);
	ASSERT_EQ(gb_mint_document(chain, &d1, &docs[0], &lens[0]), 0);
	ASSERT_EQ(gb_mint_document(chain, &d2, &docs[1], &lens[1]), 0);
	ASSERT_EQ(gb_mint_document(chain, &d2, &docs[2], &lens[2]), 0);
	docs[2][lens[2] - 1] ^= 1;              /* the signature's last byte */

	for (size_t s = 0; s < sizeof settings / sizeof settings[0]; s++) {
		struct gb_cache_stats st;
		uint64_t hits = 0;

		ASSERT_EQ(gb_verifier_new(root.ptr, root.len, &v), 0);
		gb_verifier_set_caches(v, settings[s]);
		for (int round = 0; round < 2; round++)
			for (size_t t = 0; t < sizeof times / sizeof times[0]; t++)
				for (int i = 0; i < 3; i++) {
					gb_verifier_verify(plain, docs[i], lens[i],
					    times[t], &doc, &r1);
					gb_verifier_verify(v, docs[i], lens[i],
					    times[t], &doc, &r2);
					if (r1.reason != r2.reason)
						FAIL_AT("caches %u, doc %d, t %zu: "
						    "%s != %s", settings[s], i, t,
						    gb_reason_code(r2.reason),
						    gb_reason_code(r1.reason));
				}
		gb_verifier_stats(v, &st);
		for (int i = 0; i < 3; i++)
			hits += st.hits[i];
		if (hits == 0)
			FAIL_AT("caches %u: no hit", settings[s]);
		gb_verifier_free(v);
	}
	for (int i = 0; i < 3; i++)
		free(docs[i]);
	gb_verifier_free(plain);
}

/*
 * Once a CA chain is cached, only the leaf is checked: every leaf defect must
 * still be found, exactly as without caches. The chain's zonal CA carries
 * name constraints, so they must be applied to new leaves too.
 */
TEST(cached_chain_still_checks_new_leaves)
{
	static const unsigned leaf_flags[] = { 0, GB_MINT_LEAF_IS_CA,
	    GB_MINT_LEAF_WRONG_ISSUER, GB_MINT_LEAF_WRONG_AKID,
	    GB_MINT_LEAF_OTHER_NAME, 0, 0, 0 };
	static const char *const leaf_ku[] = { NULL, NULL, NULL, NULL, NULL,
	    NULL, NULL, "critical,cRLSign" };
	static const enum gb_reason want[] = { GB_R_OK, GB_R_BAD_CHAIN,
	    GB_R_BAD_CHAIN, GB_R_BAD_CHAIN, GB_R_BAD_CHAIN,
	    GB_R_CERT_NOT_YET_VALID, GB_R_CERT_EXPIRED, GB_R_BAD_CHAIN };
	int64_t now = gb_time_now_ms(), hour = 3600000;
	struct gb_mint_chain_opts o = { .now_ms = now,
	    .flags = GB_MINT_NAME_CONSTRAINED_OK };
	struct gb_mint_doc d = { .timestamp_ms = now };
	struct gb_verifier *plain, *v;
	struct gb_cache_stats st;
	struct gb_mint_chain *c;
	struct gb_result r1, r2;
	struct gb_span root;
	struct gb_doc doc;
	uint8_t *buf;
	size_t len;

	ASSERT_EQ(gb_mint_chain_new(&o, &c), 0);
	root = gb_mint_chain_cert(c, 0);
	ASSERT_EQ(gb_verifier_new(root.ptr, root.len, &plain), 0);
	ASSERT_EQ(gb_verifier_new(root.ptr, root.len, &v), 0);
	gb_verifier_set_caches(plain, 0);
	gb_verifier_set_caches(v, GB_CACHE_CHAIN);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		struct gb_mint_chain_opts lo = { .flags = leaf_flags[i],
		    .leaf_key_usage = leaf_ku[i] };

		if (want[i] == GB_R_CERT_NOT_YET_VALID)
			lo.leaf_not_before_ms = now + hour;
		if (want[i] == GB_R_CERT_EXPIRED) {
			lo.leaf_not_before_ms = now - 2 * hour;
			lo.leaf_not_after_ms = now - hour;
		}
		if (i > 0)
			ASSERT_EQ(gb_mint_chain_new_leaf(c, &lo), 0);
		ASSERT_EQ(gb_mint_document(c, &d, &buf, &len), 0);
		gb_verifier_verify(plain, buf, len, now, &doc, &r1);
		gb_verifier_verify(v, buf, len, now, &doc, &r2);
		free(buf);
		if (r1.reason != want[i] || r2.reason != want[i])
			FAIL_AT("leaf %zu: %s without caches, %s with, want %s",
			    i, gb_reason_code(r1.reason),
			    gb_reason_code(r2.reason),
			    gb_reason_code(want[i]));
	}
	gb_verifier_stats(v, &st);
	ASSERT_EQ(st.hits[0], sizeof want / sizeof want[0] - 1);
	gb_verifier_free(v);
	gb_verifier_free(plain);
	gb_mint_chain_free(c);
}

struct thread_arg {
	const uint8_t *doc;
	size_t len;
	int64_t at;
	int bad;
};

static void *
verify_many(void *p)
{
	struct thread_arg *a = p;
	struct gb_result res;
	struct gb_doc doc;

	for (int i = 0; i < 200; i++)
		if (gb_verifier_verify(ver, a->doc, a->len, a->at, &doc, &res) !=
		    GB_R_OK)
			a->bad++;
	return NULL;
}

TEST(verifier_is_shared_between_threads)
{
	struct gb_mint_doc d = { 0 };
	struct thread_arg args[4];
	pthread_t th[4];
	uint8_t *buf;
	size_t len;

	setup();
	ASSERT_EQ(gb_mint_document(chain, &d, &buf, &len), 0);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ buf, len, gb_time_now_ms(), 0 };
		ASSERT_EQ(pthread_create(&th[i], NULL, verify_many, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ASSERT_EQ(args[i].bad, 0);
	}
	free(buf);
}

TEST_MAIN(
	T(minted_document_verifies_in_both_map_forms),
	T(field_boundaries),
	T(chunked_strings_are_refused),
	T(cose_headers_and_structure),
	T(payload_must_be_exactly_one_map),
	T(garbage_nesting_and_length_claims),
	T(chain_defects),
	T(leaf_key_usage),
	T(wrong_root),
	T(cabundle_order_and_strangers),
	T(policy_checks),
	T(caches_never_change_answers),
	T(cached_chain_still_checks_new_leaves),
	T(verifier_is_shared_between_threads),
)
