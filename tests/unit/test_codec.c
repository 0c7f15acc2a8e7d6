/*
 * Base64 and hex (gb/codec.h): RFC 4648's vectors, the strictness the
 * verifier relies on (padding only at the end and only where it belongs,
 * canonical trailing bits, the alphabet and white space only, the size
 * limit), and agreement with OpenSSL's encoder on every length up to 300.
 */
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "gb/codec.h"
#include "gb/err.h"
#include "test.h"

/* Decodes s (strlen) with limit max: the result code, and the bytes as a
 * NUL-terminated string in got (when it is 0). */
static int
dec(const char *s, size_t max, char *got, size_t got_size)
{
	uint8_t *out = NULL;
	size_t n = 0;
	int err = gb_base64_decode_alloc(s, strlen(s), max, &out, &n);

	if (err == 0) {
		if (n >= got_size)
			n = got_size - 1;
		memcpy(got, out, n);
		got[n] = '\0';
		free(out);
	}
	return err;
}

TEST(rfc4648_vectors)
{
	static const char *const v[][2] = {
		{ "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	char got[64], *enc;

	ASSERT_EQ(gb_base64_encode_alloc((const uint8_t *)"", 0, &enc), 0);
	ASSERT_STR_EQ(enc, "");
	free(enc);
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		ASSERT_EQ(gb_base64_encode_alloc((const uint8_t *)v[i][0],
		    strlen(v[i][0]), &enc), 0);
		ASSERT_STR_EQ(enc, v[i][1]);
		free(enc);
		ASSERT_EQ(dec(v[i][1], 64, got, sizeof got), 0);
		ASSERT_STR_EQ(got, v[i][0]);
	}
}

TEST(lenient_where_documented)
{
	char got[64];

	/* Unpadded. */
	ASSERT_EQ(dec("Zg", 64, got, sizeof got), 0);
	ASSERT_STR_EQ(got, "f");
	ASSERT_EQ(dec("Zm9vYmE", 64, got, sizeof got), 0);
	ASSERT_STR_EQ(got, "fooba");
	/* White space anywhere, padding included. */
	ASSERT_EQ(dec(" Zm9v\r\nYm\tE\v=\f ", 64, got, sizeof got), 0);
	ASSERT_STR_EQ(got, "fooba");
	ASSERT_EQ(dec("Zg= =\n", 64, got, sizeof got), 0);
	ASSERT_STR_EQ(got, "f");
	/* White space at every place of a padded text. */
	for (size_t at = 0; at <= 8; at++) {
		char s[16];

		memcpy(s, "Zm9vYmE=", at);
		s[at] = '\n';
		strcpy(s + at + 1, "Zm9vYmE=" + at);
		ASSERT_EQ(dec(s, 64, got, sizeof got), 0);
		ASSERT_STR_EQ(got, "fooba");
	}
}

TEST(strict_elsewhere)
{
	static const char *const bad[] = {
		"", " \n", "=", "==", "Z", "Z===", "Zg=", "Zg===", "Zm9v=",
		"Zm9vY", "Zm8==", "Zg==Zg==", "Zg=a", "Zm9v\x80", "Zm9*",
		"Zm-v", "Zm_v", "Zm9v.", "Zm\x01v",
		/* trailing bits that are not zero: no second encoding */
		"Zh==", "Zh", "Zm9=", "Zm9", "Zm9vYmF=",
	};
	uint8_t *out = NULL;
	size_t n = 0;
	char got[64];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (dec(bad[i], 64, got, sizeof got) != GB_EINVAL)
			FAIL_AT("accepted \"%s\"", bad[i]);
	/* A NUL inside the text is not white space. */
	ASSERT_EQ(gb_base64_decode_alloc("Zm9v\0Zm9v", 9, 64, &out, &n),
	    GB_EINVAL);
	/* The limit, before and after decoding. */
	ASSERT_EQ(dec("Zm9vYmFy", 6, got, sizeof got), 0);
	ASSERT_EQ(dec("Zm9vYmFy", 5, got, sizeof got), GB_ETOOBIG);
	ASSERT_EQ(dec("Zm9vYmE=", 4, got, sizeof got), GB_ETOOBIG);
	ASSERT_EQ(dec("Zm9vYmFyZm9vYmFy", 4, got, sizeof got), GB_ETOOBIG);
}

/* Every length up to 300 bytes of random data: our encoding is OpenSSL's,
 * and it decodes back, also with a newline every 76 characters. */
TEST(agrees_with_openssl)
{
	uint8_t in[300], *out;
	unsigned char ref[4 * 100 + 1];
	char *enc, wrapped[520];
	size_t n;

	ASSERT_EQ(RAND_bytes(in, sizeof in), 1);
	for (size_t len = 1; len <= sizeof in; len++) {
		size_t w = 0;

		EVP_EncodeBlock(ref, in, (int)len);
		ASSERT_EQ(gb_base64_encode_alloc(in, len, &enc), 0);
		if (strcmp(enc, (char *)ref) != 0) {
			FAIL_AT("length %zu: %s != %s", len, enc, ref);
			free(enc);
			return;
		}
		for (size_t i = 0; enc[i] != '\0'; i++) {
			if (i > 0 && i % 76 == 0)
				wrapped[w++] = '\n';
			wrapped[w++] = enc[i];
		}
		free(enc);
		if (gb_base64_decode_alloc(wrapped, w, len, &out, &n) != 0) {
			FAIL_AT("length %zu does not decode back", len);
			return;
		}
		ASSERT_EQ(n, len);
		ASSERT(memcmp(out, in, len) == 0);
		free(out);
	}
}

TEST(hex)
{
	uint8_t b[4], *out;
	char s[9];
	size_t n;

	gb_hex_encode(s, (const uint8_t *)"\x00\x9f\xa0\xff", 4);
	ASSERT_STR_EQ(s, "009fa0ff");
	ASSERT_EQ(gb_hex_decode("009FA0ff", 8, b, 4), 0);
	ASSERT(memcmp(b, "\x00\x9f\xa0\xff", 4) == 0);
	ASSERT_EQ(gb_hex_decode("009fa0f", 7, b, 4), GB_EINVAL);
	ASSERT_EQ(gb_hex_decode("009fa0fg", 8, b, 4), GB_EINVAL);
	ASSERT_EQ(gb_hex_decode_alloc("00ff", 4, 1, &out, &n), GB_ETOOBIG);
	ASSERT_EQ(gb_hex_decode_alloc("00ff", 4, 2, &out, &n), 0);
	ASSERT_EQ(n, 2);
	free(out);
}

/* base64url for JWS parts and JWKs: its own alphabet only, no padding, no
 * white space, not empty. */
TEST(base64url)
{
	static const char *const bad[] = { "", "A", "AQ==", "AQ=", "+/8",
	    "A Q", "AQ\n", "A.Q" };
	uint8_t *out;
	size_t n;

	ASSERT_EQ(gb_base64url_decode_alloc("-_8", 3, 8, &out, &n), 0);
	ASSERT_EQ(n, 2);
	ASSERT(memcmp(out, "\xfb\xff", 2) == 0);
	free(out);
	ASSERT_EQ(gb_base64url_decode_alloc("AQID", 4, 2, &out, &n),
	    GB_ETOOBIG);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ASSERT_EQ(gb_base64url_decode_alloc(bad[i], strlen(bad[i]), 8,
		    &out, &n), GB_EINVAL);
}

TEST_MAIN(
	T(rfc4648_vectors),
	T(base64url),
	T(lenient_where_documented),
	T(strict_elsewhere),
	T(agrees_with_openssl),
	T(hex),
)
