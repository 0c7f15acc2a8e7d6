/*
 * Hex, base64 (through OpenSSL's EVP_Decode*), capped reading, and the
 * detection of how a user handed us a document.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "gb/codec.h"
#include "gb/err.h"
#include "gb/limits.h"

void
gb_hex_encode(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
gb_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
gb_hex_decode(const char *s, size_t slen, uint8_t *out, size_t out_len)
{
	if (slen != 2 * out_len)
		return GB_EINVAL;
	for (size_t i = 0; i < out_len; i++) {
		int hi = gb_hex_value((unsigned char)s[2 * i]);
		int lo = gb_hex_value((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return GB_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
gb_hex_decode_alloc(const char *s, size_t slen, size_t max, uint8_t **out,
    size_t *out_len)
{
	uint8_t *buf;

	if (slen % 2 != 0)
		return GB_EINVAL;
	if (slen / 2 > max)
		return GB_ETOOBIG;
	if ((buf = malloc(slen / 2 + 1)) == NULL)
		return GB_ENOMEM;
	if (gb_hex_decode(s, slen, buf, slen / 2) != 0) {
		free(buf);
		return GB_EINVAL;
	}
	*out = buf;
	*out_len = slen / 2;
	return 0;
}

static bool
is_b64(int c)
{
	return isalnum(c) || c == '+' || c == '/';
}

int
gb_base64_decode_alloc(const char *s, size_t slen, size_t max, uint8_t **out,
    size_t *out_len)
{
	EVP_ENCODE_CTX *ctx = NULL;
	char *clean = NULL;
	uint8_t *buf = NULL;
	size_t n = 0, pad = 0;
	int len1, len2, err = GB_EINVAL;

	if (slen / 4 * 3 > max + 3)
		return GB_ETOOBIG;
	/* Keep only the alphabet; '=' only at the end, at most two; then pad
	 * to a multiple of four so that unpadded input decodes too. */
	if ((clean = malloc(slen + 4)) == NULL)
		return GB_ENOMEM;
	for (size_t i = 0; i < slen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isspace(c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (!is_b64(c) || pad > 0)
			goto out;
		clean[n++] = (char)c;
	}
	if (pad > 2 || n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0) || n == 0)
		goto out;
	while (n % 4 != 0)
		clean[n++] = '=';
	err = GB_ENOMEM;
	if ((buf = malloc(n / 4 * 3 + 1)) == NULL ||
	    (ctx = EVP_ENCODE_CTX_new()) == NULL)
		goto out;
	err = GB_EINVAL;
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, buf, &len1, (unsigned char *)clean, (int)n) < 0 ||
	    EVP_DecodeFinal(ctx, buf + len1, &len2) != 1)
		goto out;
	if ((size_t)(len1 + len2) > max) {
		err = GB_ETOOBIG;
		goto out;
	}
	*out = buf;
	*out_len = (size_t)(len1 + len2);
	buf = NULL;
	err = 0;
out:
	EVP_ENCODE_CTX_free(ctx);
	free(clean);
	free(buf);
	ERR_clear_error();
	return err;
}

int
gb_base64_encode_alloc(const uint8_t *in, size_t n, char **out)
{
	char *buf;

	if (n > (size_t)INT32_MAX / 2)
		return GB_ETOOBIG;
	if ((buf = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return GB_ENOMEM;
	EVP_EncodeBlock((unsigned char *)buf, in, (int)n);
	*out = buf;
	return 0;
}

int
gb_read_all(FILE *f, size_t max, uint8_t **out, size_t *out_len)
{
	size_t cap = 4096, len = 0;
	uint8_t *buf = NULL, *nbuf;
	size_t got;

	for (;;) {
		if (cap > max + 1)
			cap = max + 1;
		if ((nbuf = realloc(buf, cap + 1)) == NULL) {
			free(buf);
			return GB_ENOMEM;
		}
		buf = nbuf;
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (len > max) {
			free(buf);
			return GB_ETOOBIG;
		}
		if (len < cap) {
			if (ferror(f)) {
				free(buf);
				return GB_EIO;
			}
			break;
		}
		cap *= 2;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

int
gb_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
	FILE *f;
	int err;

	if (strcmp(path, "-") == 0)
		return gb_read_all(stdin, max, out, out_len);
	if ((f = fopen(path, "rb")) == NULL)
		return GB_EIO;
	err = gb_read_all(f, max, out, out_len);
	fclose(f);
	return err;
}

int
gb_doc_decode_input(const uint8_t *in, size_t len, uint8_t **out,
    size_t *out_len)
{
	const char *s = (const char *)in;
	size_t a = 0, b = len, digits = 0;
	bool hex = true;
	uint8_t *buf;

	if (len > 0 && (in[0] == 0x84 || in[0] == 0xd2)) {
		if (len > GB_DOC_MAX_BYTES)
			return GB_ETOOBIG;
		if ((buf = malloc(len + 1)) == NULL)
			return GB_ENOMEM;
		memcpy(buf, in, len);
		*out = buf;
		*out_len = len;
		return 0;
	}
	while (a < b && isspace((unsigned char)s[a]))
		a++;
	while (b > a && isspace((unsigned char)s[b - 1]))
		b--;
	if (a == b)
		return GB_EINVAL;
	for (size_t i = a; i < b; i++) {
		if (isxdigit((unsigned char)s[i]))
			digits++;
		else if (!isspace((unsigned char)s[i]))
			hex = false;
	}
	if (hex) {
		char *compact;
		size_t n = 0;
		int err;

		if ((compact = malloc(digits + 1)) == NULL)
			return GB_ENOMEM;
		for (size_t i = a; i < b; i++)
			if (!isspace((unsigned char)s[i]))
				compact[n++] = s[i];
		err = gb_hex_decode_alloc(compact, n, GB_DOC_MAX_BYTES, out,
		    out_len);
		free(compact);
		return err;
	}
	return gb_base64_decode_alloc(s + a, b - a, GB_DOC_MAX_BYTES, out,
	    out_len);
}

int
gb_cert_read_file(const char *path, uint8_t **der, size_t *der_len)
{
	uint8_t *buf = NULL, *out = NULL;
	size_t len;
	X509 *x = NULL;
	BIO *bio = NULL;
	int n, err;

	if ((err = gb_read_file(path, 64 * 1024, &buf, &len)) != 0)
		return err;
	err = GB_EINVAL;
	if (len > 0 && buf[0] == 0x30) {
		const unsigned char *p = buf;

		x = d2i_X509(NULL, &p, (long)len);
		if (x != NULL && p != buf + len)
			goto out;
	} else if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	}
	if (x == NULL || (n = i2d_X509(x, &out)) <= 0)
		goto out;
	*der = out;
	*der_len = (size_t)n;
	out = NULL;
	err = 0;
out:
	OPENSSL_free(out);
	X509_free(x);
	BIO_free(bio);
	free(buf);
	ERR_clear_error();
	return err;
}

char *
gb_str_trim(char *s)
{
	size_t n;

	s += strspn(s, " \t\r");
	n = strlen(s);
	while (n > 0 && strchr(" \t\r", s[n - 1]) != NULL)
		s[--n] = '\0';
	return s;
}
