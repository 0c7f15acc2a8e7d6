/*
 * Unit tests of lib/src/kms.c: CMS envelopes made by `openssl cms` for the
 * fixed test key (tests/fuzz/corpus_kms, see make_kms_corpus.py: seed-0-ok-*
 * open to the bytes 0..31, seed-0-bad-* are refused), KMS answers and
 * their reason codes, credentials.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gb/kms.h"
#include "test.h"

static struct gb_kms_recipient *
test_key(void)
{
	static struct gb_kms_recipient *r;
	size_t len;
	unsigned char *pem;

	if (r == NULL) {
		pem = gb_test_read(GB_KMS_TEST_KEY, &len);
		if (gb_kms_recipient_from_pem((const char *)pem, len, &r) != 0)
			abort();
		free(pem);
	}
	return r;
}

TEST(envelopes)
{
	DIR *d = opendir(GB_KMS_CORPUS);
	struct dirent *e;
	unsigned ok = 0, bad = 0;
	uint8_t want[32];

	for (int i = 0; i < 32; i++)
		want[i] = (uint8_t)i;
	ASSERT(d != NULL);
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		unsigned char *buf;
		size_t len;
		uint8_t key[32];
		struct gb_kms_error err;
		bool good = strncmp(e->d_name, "seed-0-ok-", 10) == 0;
		int rc;

		if (!good && strncmp(e->d_name, "seed-0-bad-", 11) != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", GB_KMS_CORPUS, e->d_name);
		buf = gb_test_read(path, &len);
		memset(key, 0xee, sizeof key);
		rc = gb_kms_open_envelope(test_key(), buf + 1, len - 1, key, &err);
		free(buf);
		if (good) {
			if (rc != 0 || memcmp(key, want, 32) != 0)
				FAIL_AT("%s: does not open: %s", e->d_name,
				    err.message);
			ok++;
		} else {
			if (rc == 0 || strcmp(err.code, "kms_envelope") != 0)
				FAIL_AT("%s: not refused", e->d_name);
			/* Nothing is written on failure. */
			for (int i = 0; i < 32; i++)
				if (key[i] != 0xee) {
					FAIL_AT("%s: key written", e->d_name);
					break;
				}
			bad++;
		}
	}
	closedir(d);
	ASSERT_EQ(ok, 2);
	ASSERT_EQ(bad, 7);
}

TEST(errors)
{
	static const struct {
		long status;
		const char *body, *code;
	} t[] = {
		{ 400, "{\"__type\":\"AccessDeniedException\",\"message\":\"m\"}",
		    "kms_access_denied" },
		{ 400, "{\"__type\":\"com.amazonaws.kms#AccessDeniedException\"}",
		    "kms_access_denied" },
		{ 400, "{\"__type\":\"ExpiredTokenException\"}",
		    "kms_expired_token" },
		{ 400, "{\"__type\":\"InvalidCiphertextException\"}",
		    "kms_invalid_ciphertext" },
		{ 400, "{\"__type\":\"IncorrectKeyException\"}",
		    "kms_incorrect_key" },
		{ 400, "{\"__type\":\"KMSInvalidStateException\"}",
		    "kms_key_unusable" },
		{ 400, "{\"__type\":\"UnrecognizedClientException\"}",
		    "kms_bad_credentials" },
		{ 400, "{\"__type\":\"SomethingNew\"}", "kms_error" },
		{ 500, "not json", "kms_error" },
		{ 403, "<Error><Code>SignatureDoesNotMatch</Code></Error>",
		    "kms_bad_credentials" },
		{ 403, "<Error><Code>Unterminated", "kms_error" },
		/* Successes that are not. */
		{ 200, "[]", "kms_bad_response" },
		{ 200, "{\"CiphertextBlob\":\"!!\"}", "kms_bad_response" },
		{ 200, "{\"Plaintext\":\"AAAA\"}", "kms_bad_response" },
		{ 200, "{\"CiphertextBlob\":\"AAAA\"}", "kms_bad_response" },
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct gb_kms_result r;
		struct gb_kms_error err;
		int rc = gb_kms_parse_response(t[i].status, t[i].body,
		    strlen(t[i].body), "GenerateDataKey", NULL, &r, &err);

		if (rc == 0 || strcmp(err.code, t[i].code) != 0)
			FAIL_AT("case %zu: %s, want %s", i, rc ? err.code : "ok",
			    t[i].code);
	}
}

TEST(plaintext)
{
	/* Without Recipient: the 32-byte Plaintext; with: refused. */
	const char *body = "{\"CiphertextBlob\":\"AQID\",\"Plaintext\":"
	    "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}";
	struct gb_kms_attested att = { test_key(), NULL, 0 };
	struct gb_kms_result r;
	struct gb_kms_error err;

	ASSERT_EQ(gb_kms_parse_response(200, body, strlen(body),
	    "GenerateDataKey", NULL, &r, &err), 0);
	ASSERT_EQ(r.blob_len, 3);
	ASSERT_EQ(r.data_key[31], 31);
	gb_kms_result_free(&r);
	ASSERT(r.blob == NULL);
	ASSERT(gb_kms_parse_response(200, body, strlen(body),
	    "GenerateDataKey", &att, &r, &err) != 0);
	ASSERT_STR_EQ(err.code, "kms_bad_response");
}

TEST(creds)
{
	static const struct {
		const char *json;
		bool ok;
	} t[] = {
		{ "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
		    "\"S\",\"Token\":\"T\",\"Expiration\":\"2026-11-30T12:00:00Z\"}",
		    true },
		{ "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}", true },
		{ "{\"Code\":\"Failure\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":"
		    "\"S\"}", false },
		{ "{\"AccessKeyId\":\"\",\"SecretAccessKey\":\"S\"}", false },
		{ "{\"AccessKeyId\":\"A B\",\"SecretAccessKey\":\"S\"}", false },
		{ "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
		    "\"Expiration\":\"soon\"}", false },
		{ "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":7}",
		    false },
		{ "[]", false },
	};
	struct gb_kms_creds c;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		memset(&c, 0, sizeof c);
		if ((gb_kms_creds_parse(t[i].json, strlen(t[i].json), &c) == 0)
		    != t[i].ok)
			FAIL_AT("case %zu", i);
	}
	ASSERT_EQ(gb_kms_creds_parse(t[0].json, strlen(t[0].json), &c), 0);
	ASSERT_STR_EQ(c.token, "T");
	ASSERT_EQ(c.expires_ms, 1796040000000LL);
}

TEST(recipient)
{
	struct gb_kms_recipient *r = NULL;
	size_t len;

	ASSERT(gb_kms_recipient_new(1024, &r) != 0);
	ASSERT(gb_kms_recipient_new(8192, &r) != 0);
	ASSERT_EQ(gb_kms_recipient_new(2048, &r), 0);
	ASSERT(gb_kms_recipient_spki(r, &len) != NULL);
	ASSERT_EQ(len, 294);            /* DER SubjectPublicKeyInfo, RSA-2048 */
	gb_kms_recipient_free(r);
	gb_kms_recipient_free(NULL);
	ASSERT(gb_kms_recipient_from_pem("nope", 4, &r) != 0);
}

TEST_MAIN(T(envelopes), T(errors), T(plaintext), T(creds), T(recipient))
