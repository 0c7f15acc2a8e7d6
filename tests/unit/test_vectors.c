/*
 * The real documents of ../shared/vectors/aws-nitro against their manifest
 * (vectors.json): every positive one verifies at its own timestamp with the
 * manifest's fields and PCRs and is cert_expired now; every negative and
 * derived one gets the outcome the manifest gives; every truncation of a
 * real document is malformed. The three real NitroTPM (EC2 instance)
 * documents, which the manifest lists as rejected for want of "pcrs",
 * verify as kind nitrotpm; byte edits of them are refused with stable
 * reasons.
 */
#include <jansson.h>

#include "gb/attest.h"
#include "gb/codec.h"
#include "gb/timefmt.h"
#include "test.h"

#define DIR GB_VECTORS_DIR "/aws-nitro/"

static json_t *
manifest(void)
{
	json_error_t e;
	json_t *m = json_load_file(DIR "vectors.json", 0, &e);

	if (m == NULL) {
		fprintf(stderr, "vectors.json: %s\n", e.text);
		exit(2);
	}
	return m;
}

/* The manifest says outcomes in words; these are the reason codes they
 * mean (DESIGN.md "Reason codes"). */
static enum gb_reason
expected_reason(const char *expected)
{
	static const struct {
		const char *text;
		enum gb_reason r;
	} map[] = {
		{ "valid", GB_R_OK },
		{ "accept", GB_R_OK },
		{ "reject: chain", GB_R_UNTRUSTED_ROOT },
		{ "reject: malformed CBOR", GB_R_MALFORMED },
		/* The manifest's NitroTPM documents: real, signed by the AWS
		 * chain, with nitrotpm_pcrs for pcrs. The manifest was written
		 * before Glassbox knew instances; they verify now. */
		{ "reject: syntax (no \"pcrs\")", GB_R_OK },
		{ "reject: COSE signature", GB_R_BAD_SIGNATURE },
		{ "reject: malformed (trailing data)", GB_R_MALFORMED },
		/* A non-empty unprotected header: AWS documents it as {}, so
		 * a strict verifier rejects it (DESIGN.md). */
		{ "policy: signature still valid", GB_R_BAD_HEADER },
		{ "reject: protected header alg", GB_R_BAD_HEADER },
	};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strncmp(expected, map[i].text, strlen(map[i].text)) == 0)
			return map[i].r;
	fprintf(stderr, "unmapped manifest outcome: %s\n", expected);
	exit(2);
}

static void
check_hex(struct gb_span s, json_t *want, const char *what, const char *file)
{
	char hex[2 * GB_OPT_FIELD_MAX_BYTES + 1];

	if (json_is_null(want) || want == NULL) {
		if (s.ptr != NULL)
			FAIL_AT("%s: %s should be null", file, what);
		return;
	}
	if (s.ptr == NULL) {
		FAIL_AT("%s: %s missing", file, what);
		return;
	}
	gb_hex_encode(hex, s.ptr, s.len);
	if (strcmp(hex, json_string_value(want)) != 0)
		FAIL_AT("%s: %s %s != %s", file, what, hex,
		    json_string_value(want));
}

TEST(positive_vectors_verify_at_their_timestamp)
{
	json_t *m = manifest(), *v;
	struct gb_verifier *ver;
	size_t i, n = 0;

	ASSERT_EQ(gb_verifier_new(NULL, 0, &ver), 0);
	json_array_foreach(json_object_get(m, "vectors"), i, v) {
		const char *file = json_string_value(json_object_get(v, "file"));
		struct gb_result res;
		struct gb_doc doc;
		unsigned char *buf;
		size_t len;
		char path[512], hex[2 * GB_PCR_MAX_BYTES + 1];

		if (expected_reason(json_string_value(json_object_get(v,
		    "expected"))) != GB_R_OK)
			continue;
		n++;
		snprintf(path, sizeof path, DIR "%s", file);
		buf = gb_test_read(path, &len);
		if (gb_verifier_verify(ver, buf, len, GB_AT_DOCUMENT, &doc,
		    &res) != GB_R_OK) {
			FAIL_AT("%s: %s: %s", file, gb_reason_code(res.reason),
			    res.detail);
			free(buf);
			continue;
		}
		if (doc.timestamp_ms != (uint64_t)json_integer_value(
		    json_object_get(v, "timestamp_ms")))
			FAIL_AT("%s: timestamp", file);
		if (doc.module_id.len != strlen(json_string_value(
		    json_object_get(v, "module_id"))) ||
		    memcmp(doc.module_id.ptr, json_string_value(json_object_get(v,
		    "module_id")), doc.module_id.len) != 0)
			FAIL_AT("%s: module_id", file);
		if (gb_doc_is_debug(&doc) !=
		    json_is_true(json_object_get(v, "debug_mode")))
			FAIL_AT("%s: debug mode", file);
		/* pcr_key: "nitrotpm_pcrs" for the instances, else absent or
		 * "pcrs". */
		const char *pk = json_string_value(json_object_get(v,
		    "pcr_key"));
		if (strcmp(gb_doc_pcrs_key(doc.kind), pk != NULL ? pk :
		    "pcrs") != 0)
			FAIL_AT("%s: kind %s, manifest %s", file,
			    gb_doc_kind_name(doc.kind), pk);
		json_t *pcrs = json_object_get(v, "pcrs"), *val;
		const char *key;
		if (doc.pcr_count != json_object_size(pcrs))
			FAIL_AT("%s: %u PCRs, manifest %zu", file, doc.pcr_count,
			    json_object_size(pcrs));
		json_object_foreach(pcrs, key, val) {
			unsigned idx = (unsigned)atoi(key);

			if (idx >= GB_PCR_MAX_COUNT || doc.pcrs[idx].ptr == NULL) {
				FAIL_AT("%s: PCR%s missing", file, key);
				continue;
			}
			gb_hex_encode(hex, doc.pcrs[idx].ptr, doc.pcrs[idx].len);
			if (strcmp(hex, json_string_value(val)) != 0)
				FAIL_AT("%s: PCR%s differs", file, key);
		}
		check_hex(doc.public_key, json_object_get(v, "public_key_hex"),
		    "public_key", file);
		check_hex(doc.user_data, json_object_get(v, "user_data_hex"),
		    "user_data", file);
		check_hex(doc.nonce, json_object_get(v, "nonce_hex"), "nonce",
		    file);

		/* Leaves live three hours: every one has expired now. */
		if (gb_verifier_verify(ver, buf, len, gb_time_now_ms(), &doc,
		    &res) != GB_R_CERT_EXPIRED)
			FAIL_AT("%s: at now: %s, want cert_expired", file,
			    gb_reason_code(res.reason));
		free(buf);
	}
	ASSERT_EQ(n, 29);      /* 26 enclaves, 3 NitroTPM instances */
	gb_verifier_free(ver);
	json_decref(m);
}

static void
check_outcomes(const char *list, size_t want_count)
{
	json_t *m = manifest(), *v;
	struct gb_verifier *ver;
	size_t i, n = 0;

	ASSERT_EQ(gb_verifier_new(NULL, 0, &ver), 0);
	json_array_foreach(json_object_get(m, list), i, v) {
		const char *file = json_string_value(json_object_get(v, "file"));
		enum gb_reason want = expected_reason(json_string_value(
		    json_object_get(v, "expected")));
		struct gb_result res;
		struct gb_doc doc;
		unsigned char *buf;
		size_t len;
		char path[512];

		if (want == GB_R_OK && strcmp(list, "vectors") == 0)
			continue;       /* the positives have their own test */
		n++;
		snprintf(path, sizeof path, DIR "%s", file);
		buf = gb_test_read(path, &len);
		gb_verifier_verify(ver, buf, len, GB_AT_DOCUMENT, &doc, &res);
		if (res.reason != want)
			FAIL_AT("%s: got %s (%s), want %s", file,
			    gb_reason_code(res.reason), res.detail,
			    gb_reason_code(want));
		free(buf);
	}
	ASSERT_EQ(n, want_count);
	gb_verifier_free(ver);
	json_decref(m);
}

TEST(negative_vectors_give_the_manifest_outcome)
{
	check_outcomes("vectors", 3);
}

TEST(derived_vectors_give_the_manifest_outcome)
{
	check_outcomes("derived", 6);
}

/* The manifest's chain window is the intersection of the certificates'
 * validity: inside it the document verifies, a second outside it not. */
TEST(chain_window_edges)
{
	struct gb_verifier *ver;
	struct gb_result res;
	struct gb_doc doc;
	unsigned char *buf;
	size_t len;
	int64_t nb, na;

	ASSERT_EQ(gb_verifier_new(NULL, 0, &ver), 0);
	buf = gb_test_read(DIR "nautilus-20250415a-prod.cbor", &len);
	/* ["2025-04-15T02:17:47+00:00", "2025-04-15T05:17:50+00:00"] */
	ASSERT_EQ(gb_time_parse_rfc3339("2025-04-15T02:17:47Z", &nb), 0);
	ASSERT_EQ(gb_time_parse_rfc3339("2025-04-15T05:17:50Z", &na), 0);
	for (int pass = 0; pass < 2; pass++) {   /* cold, then cached */
		ASSERT_REASON(gb_verifier_verify(ver, buf, len, nb, &doc, &res),
		    GB_R_OK);
		ASSERT_REASON(gb_verifier_verify(ver, buf, len, na + 999, &doc,
		    &res), GB_R_OK);
		ASSERT_REASON(gb_verifier_verify(ver, buf, len, nb - 1, &doc,
		    &res), GB_R_CERT_NOT_YET_VALID);
		ASSERT_REASON(gb_verifier_verify(ver, buf, len, na + 1000, &doc,
		    &res), GB_R_CERT_EXPIRED);
	}
	free(buf);
	gb_verifier_free(ver);
}

TEST(every_truncation_is_malformed)
{
	static const char *const files[] = {
		DIR "marlin-20250429-prod-pcr16.cbor",
		DIR "sentinel-20250718-prod-indef.cbor",
		DIR "NEG-nitrotpm-20260202.cbor",
	};
	struct gb_verifier *ver;

	ASSERT_EQ(gb_verifier_new(NULL, 0, &ver), 0);
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		struct gb_result res;
		struct gb_doc doc;
		size_t len;
		unsigned char *buf = gb_test_read(files[f], &len);

		for (size_t n = 0; n < len; n++) {
			/* A copy of exactly n bytes, so ASan sees any overread. */
			unsigned char *cut = malloc(n ? n : 1);

			memcpy(cut, buf, n);
			if (gb_verifier_verify(ver, cut, n, GB_AT_DOCUMENT, &doc,
			    &res) != GB_R_MALFORMED)
				FAIL_AT("%s cut to %zu: %s", files[f], n,
				    gb_reason_code(res.reason));
			free(cut);
		}
		free(buf);
	}
	gb_verifier_free(ver);
}

/* A NitroTPM document rebuilt with its payload edited: the COSE_Sign1 of
 * the real document around payload p[0..n), its signature unchanged. */
#define TPM_DOC DIR "NEG-nitrotpm-20260201.cbor"

struct splice {
	unsigned char buf[GB_DOC_MAX_BYTES];
	size_t len;
};

/* The payload of the real document: its offset and length (the bstr head
 * is 59 HI LO: the payload is 4834 bytes). */
static void
tpm_payload(const unsigned char *d, size_t *off, size_t *len)
{
	*off = 10;
	*len = (size_t)d[8] << 8 | d[9];
}

/* out = the document with payload[at .. at + cut) replaced by ins[0..n). */
static void
tpm_edit(const unsigned char *d, size_t dlen, size_t at, size_t cut,
    const void *ins, size_t n, struct splice *out)
{
	size_t off, plen, np;

	tpm_payload(d, &off, &plen);
	np = plen - cut + n;
	/* The edits are a few hundred bytes: a wrong one is a broken test. */
	if (at + cut > plen || np > 0xffff ||
	    10 + np + (dlen - off - plen) > sizeof out->buf) {
		fprintf(stderr, "tpm_edit: edit out of range\n");
		abort();
	}
	memcpy(out->buf, d, 7);                 /* 84 44 a1013822 a0 */
	out->buf[7] = 0x59;
	out->buf[8] = (unsigned char)(np >> 8);
	out->buf[9] = (unsigned char)np;
	memcpy(out->buf + 10, d + off, at);
	memcpy(out->buf + 10 + at, ins, n);
	memcpy(out->buf + 10 + at + n, d + off + at + cut, plen - at - cut);
	memcpy(out->buf + 10 + np, d + off + plen, dlen - off - plen);
	out->len = 10 + np + dlen - off - plen;
}

/* Where the nitrotpm_pcrs value (its map head) starts in the payload. */
static size_t
tpm_regs_at(const unsigned char *d)
{
	size_t off, plen;
	tpm_payload(d, &off, &plen);
	for (size_t i = 0; i + 14 <= plen; i++)
		if (memcmp(d + off + i, "\x6dnitrotpm_pcrs", 14) == 0)
			return i + 14;
	return 0;
}

/* The real documents verify as NitroTPM; the policy holds their registers,
 * not an enclave's, to what is expected. */
TEST(nitrotpm_documents_verify_as_instances)
{
	static const char *const files[] = { DIR "NEG-nitrotpm-20260201.cbor",
	    DIR "NEG-nitrotpm-20260202.cbor", DIR "NEG-nitrotpm-20260203.cbor" };
	struct gb_verifier *ver;

	ASSERT_EQ(gb_verifier_new(NULL, 0, &ver), 0);
	for (size_t f = 0; f < 3; f++) {
		struct gb_expect_pcr e = { .index = 4, .len = 48 };
		struct gb_policy p = { .expect = &e, .expect_count = 1 };
		struct gb_result res;
		struct gb_doc doc;
		size_t len;
		unsigned char *buf = gb_test_read(files[f], &len);

		ASSERT_REASON(gb_verifier_verify(ver, buf, len, GB_AT_DOCUMENT,
		    &doc, &res), GB_R_OK);
		ASSERT_EQ(doc.kind, GB_DOC_NITROTPM);
		ASSERT_EQ(doc.pcr_count, 24);
		ASSERT(!gb_doc_is_debug(&doc));
		ASSERT_STR_EQ(gb_doc_kind_name(doc.kind), "nitrotpm");
		/* PCR4 of all three: the same boot manager code. */
		ASSERT_EQ(gb_hex_decode("1a1f166e1995c1e1bfdf1c1d13b1ebc9d5d4e443"
		    "97501655c911a2062d92063483ca9e17f0264efe336d4b61c5b98d1e",
		    96, e.value, 48), 0);
		ASSERT_REASON(gb_policy_check(&p, &doc, &res), GB_R_OK);
		e.value[47] ^= 1;
		ASSERT_REASON(gb_policy_check(&p, &doc, &res),
		    GB_R_UNKNOWN_MEASUREMENT);
		e.value[47] ^= 1;
		/* Asked for an enclave, an instance's document is no match,
		 * even where its registers are as expected. */
		p.check_kind = true;
		p.kind = GB_DOC_ENCLAVE;
		ASSERT_REASON(gb_policy_check(&p, &doc, &res),
		    GB_R_UNKNOWN_MEASUREMENT);
		p.kind = GB_DOC_NITROTPM;
		ASSERT_REASON(gb_policy_check(&p, &doc, &res), GB_R_OK);
		free(buf);
	}
	gb_verifier_free(ver);
}

/* An enclave's document is never taken for an instance's. */
TEST(enclave_document_is_not_an_instance)
{
	struct gb_verifier *ver;
	struct gb_policy p = { .check_kind = true, .kind = GB_DOC_NITROTPM };
	struct gb_result res;
	struct gb_doc doc;
	size_t len;
	unsigned char *buf = gb_test_read(DIR "marlin-20241213-prod.cbor", &len);

	ASSERT_EQ(gb_verifier_new(NULL, 0, &ver), 0);
	ASSERT_REASON(gb_verifier_verify(ver, buf, len, GB_AT_DOCUMENT, &doc,
	    &res), GB_R_OK);
	ASSERT_EQ(doc.kind, GB_DOC_ENCLAVE);
	ASSERT_REASON(gb_policy_check(&p, &doc, &res),
	    GB_R_UNKNOWN_MEASUREMENT);
	p.kind = GB_DOC_ENCLAVE;
	ASSERT_REASON(gb_policy_check(&p, &doc, &res), GB_R_OK);
	free(buf);
	gb_verifier_free(ver);
}

/* Edits of a real NitroTPM document: each refused with its reason, the
 * message naming the field. */
TEST(nitrotpm_mutations_are_refused)
{
	struct gb_verifier *ver;
	struct gb_result res;
	struct gb_doc doc;
	struct splice m;
	size_t len, off, plen, regs;
	unsigned char *d = gb_test_read(TPM_DOC, &len);
	unsigned char pcrs_entry[5 + 4 + 48];  /* "pcrs" {0: h'...'} */

	ASSERT_EQ(gb_verifier_new(NULL, 0, &ver), 0);
	tpm_payload(d, &off, &plen);
	ASSERT_EQ(plen, 4834);
	regs = tpm_regs_at(d);
	ASSERT(regs != 0);
	/* b8 18: a map of 24; then 00 58 30 and 48 bytes per register. */
	ASSERT_EQ(d[off + regs], 0xb8);
	ASSERT_EQ(d[off + regs + 1], 24);

	/* Unchanged, rebuilt: still valid (the splicing is faithful). */
	tpm_edit(d, len, 0, 0, "", 0, &m);
	ASSERT_EQ(m.len, len);
	ASSERT_REASON(gb_verifier_verify(ver, m.buf, m.len, GB_AT_DOCUMENT,
	    &doc, &res), GB_R_OK);

	/* A changed register: PCR4's last byte. The signature no longer
	 * covers the payload. */
	{
		size_t at = regs + 2 + 4 * 51 + 3 + 47;
		unsigned char b = d[off + at] ^ 0x01;

		tpm_edit(d, len, at, 1, &b, 1, &m);
		ASSERT_REASON(gb_verifier_verify(ver, m.buf, m.len,
		    GB_AT_DOCUMENT, &doc, &res), GB_R_BAD_SIGNATURE);
	}

	/* No nitrotpm_pcrs (and no pcrs): the key renamed. */
	tpm_edit(d, len, regs - 1, 1, "z", 1, &m);
	ASSERT_REASON(gb_verifier_verify(ver, m.buf, m.len, GB_AT_DOCUMENT,
	    &doc, &res), GB_R_BAD_FIELD);
	ASSERT(strncmp(res.detail, "pcrs: missing", 13) == 0);

	/* Both pcrs and nitrotpm_pcrs: {0: 48 bytes} added as "pcrs"
	 * before the payload map's end (ff). */
	memcpy(pcrs_entry, "\x64pcrs\xa1\x00\x58\x30", 9);
	memcpy(pcrs_entry + 9, d + off + regs + 2 + 3, 48);
	ASSERT_EQ(d[off + plen - 1], 0xff);
	tpm_edit(d, len, plen - 1, 0, pcrs_entry, sizeof pcrs_entry, &m);
	ASSERT_REASON(gb_verifier_verify(ver, m.buf, m.len, GB_AT_DOCUMENT,
	    &doc, &res), GB_R_BAD_FIELD);
	ASSERT(strstr(res.detail, "pcrs: present beside nitrotpm_pcrs") ==
	    res.detail);

	/* 23 registers: the map says 23 and PCR23's entry is gone. */
	{
		unsigned char e[2 + 23 * 51];

		memcpy(e, d + off + regs, sizeof e);
		e[1] = 23;
		tpm_edit(d, len, regs, 2 + 24 * 51, e, sizeof e, &m);
		ASSERT_REASON(gb_verifier_verify(ver, m.buf, m.len,
		    GB_AT_DOCUMENT, &doc, &res), GB_R_BAD_FIELD);
		ASSERT_STR_EQ(res.detail, "nitrotpm_pcrs: 23 registers, not "
		    "the 24 of a TPM (PCR0..PCR23)");
	}

	/* 25 registers: PCR24 (key 18 18) added with PCR0's value. */
	{
		unsigned char e[2 + 24 * 51 + 52];

		memcpy(e, d + off + regs, 2 + 24 * 51);
		e[1] = 25;
		e[2 + 24 * 51] = 0x18;
		memcpy(e + 2 + 24 * 51 + 1, d + off + regs + 2, 51);
		e[2 + 24 * 51 + 1] = 24;
		tpm_edit(d, len, regs, 2 + 24 * 51, e, sizeof e, &m);
		ASSERT_REASON(gb_verifier_verify(ver, m.buf, m.len,
		    GB_AT_DOCUMENT, &doc, &res), GB_R_BAD_FIELD);
		ASSERT_STR_EQ(res.detail, "nitrotpm_pcrs: key is not an index "
		    "0..23");
	}

	/* A 32-byte register (an enclave's pcrs would take it; a SHA-384
	 * bank does not): PCR0 cut to 32 bytes. */
	{
		unsigned char e[3 + 32];

		memcpy(e, "\x00\x58\x20", 3);
		memcpy(e + 3, d + off + regs + 2 + 3, 32);
		tpm_edit(d, len, regs + 2, 51, e, sizeof e, &m);
		ASSERT_REASON(gb_verifier_verify(ver, m.buf, m.len,
		    GB_AT_DOCUMENT, &doc, &res), GB_R_BAD_FIELD);
		ASSERT_STR_EQ(res.detail, "nitrotpm_pcrs: PCR0 is not a byte "
		    "string of 48 bytes (SHA-384)");
	}

	/* nitrotpm_pcrs not a map. */
	{
		tpm_edit(d, len, regs, 2 + 24 * 51, "\xf6", 1, &m);
		ASSERT_REASON(gb_verifier_verify(ver, m.buf, m.len,
		    GB_AT_DOCUMENT, &doc, &res), GB_R_BAD_FIELD);
		ASSERT_STR_EQ(res.detail, "nitrotpm_pcrs: not a map");
	}
	free(d);
	gb_verifier_free(ver);
}

TEST_MAIN(
	T(positive_vectors_verify_at_their_timestamp),
	T(negative_vectors_give_the_manifest_outcome),
	T(derived_vectors_give_the_manifest_outcome),
	T(chain_window_edges),
	T(every_truncation_is_malformed),
	T(nitrotpm_documents_verify_as_instances),
	T(enclave_document_is_not_an_instance),
	T(nitrotpm_mutations_are_refused),
)
