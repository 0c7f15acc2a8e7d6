/*
 * The real documents of ../shared/vectors/aws-nitro against their manifest
 * (vectors.json): every positive one verifies at its own timestamp with the
 * manifest's fields and PCRs and is cert_expired now; every negative and
 * derived one gets the outcome the manifest gives; every truncation of a
 * real document is malformed.
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
		{ "reject: syntax (no \"pcrs\")", GB_R_BAD_FIELD },
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
	ASSERT_EQ(n, 26);
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
	check_outcomes("vectors", 6);
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
	};
	struct gb_verifier *ver;

	ASSERT_EQ(gb_verifier_new(NULL, 0, &ver), 0);
	for (size_t f = 0; f < 2; f++) {
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

TEST_MAIN(
	T(positive_vectors_verify_at_their_timestamp),
	T(negative_vectors_give_the_manifest_outcome),
	T(derived_vectors_give_the_manifest_outcome),
	T(chain_window_edges),
	T(every_truncation_is_malformed),
)
