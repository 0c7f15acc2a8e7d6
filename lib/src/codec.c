/*
 * Hex, base64 (by table), capped reading, and the
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

/*
 * Base64 (RFC 4648 4) by table. Decoding is a hot path of the verifier (a
 * 6 KB document per request); OpenSSL's EVP_Decode* behind a cleaning pass
 * cost about 22 us for that, this about 4.
 */
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Each character's class: 0 is not base64 (the default), 1..64 is the
 * digit's value plus one, and white space and '=' are marked. */
enum { B64_SPACE = -1, B64_PAD = -2 };

static const signed char b64_class[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
	['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
	['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
	['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
	['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54,
	['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
	['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
	/* isspace() in the C locale */
	[' '] = B64_SPACE, ['\t'] = B64_SPACE, ['\n'] = B64_SPACE,
	['\v'] = B64_SPACE, ['\f'] = B64_SPACE, ['\r'] = B64_SPACE,
	['='] = B64_PAD,
};

int
gb_base64_decode_alloc(const char *s, size_t slen, size_t max, uint8_t **out,
    size_t *out_len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint8_t *buf;
	uint32_t acc = 0;
	size_t i = 0, n = 0, o = 0, pad = 0;
	size_t cap = slen / 4 * 3 < max ? slen / 4 * 3 : max;

	/* Past max bytes of output it stops (white space makes the text
	 * longer than its bytes need, so the length alone cannot tell). Each
	 * group is written while o <= max: 3 bytes more, then a final group of
	 * at most 2 and the NUL fit in cap + 4. */
	if ((buf = malloc(cap + 4)) == NULL)
		return GB_ENOMEM;
	for (;;) {
		/* Four alphabet characters at once, the common case. */
		while (n % 4 == 0 && i + 4 <= slen) {
			int a = b64_class[p[i]] - 1, b = b64_class[p[i + 1]] - 1;
			int c = b64_class[p[i + 2]] - 1, d = b64_class[p[i + 3]] - 1;
			uint32_t v;

			if ((a | b | c | d) < 0)
				break;
			v = (uint32_t)a << 18 | (uint32_t)b << 12 |
			    (uint32_t)c << 6 | (uint32_t)d;
			buf[o++] = (uint8_t)(v >> 16);
			buf[o++] = (uint8_t)(v >> 8);
			buf[o++] = (uint8_t)v;
			i += 4;
			n += 4;
			if (o > max)
				goto too_big;
		}
		if (i == slen)
			break;
		int v = b64_class[p[i++]];

		if (v == B64_SPACE)
			continue;
		if (v == B64_PAD) {
			pad++;
			break;
		}
		if (v <= 0)
			goto bad;
		acc = acc << 6 | (uint32_t)(v - 1);
		if (++n % 4 == 0) {
			buf[o++] = (uint8_t)(acc >> 16);
			buf[o++] = (uint8_t)(acc >> 8);
			buf[o++] = (uint8_t)acc;
			acc = 0;
			if (o > max)
				goto too_big;
		}
	}
	/* After the first '=': only '=' and white space. */
	for (; i < slen; i++) {
		int v = b64_class[p[i]];

		if (v == B64_PAD)
			pad++;
		else if (v != B64_SPACE)
			goto bad;
	}
	/* At most two '=', none in a complete group, and padding (if any)
	 * completes the last one; unpadded input is accepted. The bits of
	 * a short group past its last byte must be zero (RFC 4648 3.5), so
	 * that each byte string has a single encoding. */
	if (n == 0 || n % 4 == 1 || pad > 2 || (pad > 0 && (n + pad) % 4 != 0))
		goto bad;
	if (n % 4 == 2) {
		if ((acc & 0xf) != 0)
			goto bad;
		buf[o++] = (uint8_t)(acc >> 4);
	} else if (n % 4 == 3) {
		if ((acc & 0x3) != 0)
			goto bad;
		buf[o++] = (uint8_t)(acc >> 10);
		buf[o++] = (uint8_t)(acc >> 2);
	}
	if (o > max)
		goto too_big;
	buf[o] = 0;
	*out = buf;
	*out_len = o;
	return 0;
too_big:
	free(buf);
	return GB_ETOOBIG;
bad:
	free(buf);
	return GB_EINVAL;
}

int
gb_base64url_decode_alloc(const char *s, size_t n, size_t max, uint8_t **out,
    size_t *out_len)
{
	char *std;
	int err;

	if (n == 0 || n % 4 == 1)
		return GB_EINVAL;
	if ((std = malloc(n + 3)) == NULL)
		return GB_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9'))) {
			free(std);
			return GB_EINVAL;
		}
		std[i] = c;
	}
	err = gb_base64_decode_alloc(std, n, max, out, out_len);
	free(std);
	return err;
}

int
gb_base64_encode_alloc(const uint8_t *in, size_t n, char **out)
{
	char *buf, *q;
	size_t i;

	if (n > (size_t)INT32_MAX / 2)
		return GB_ETOOBIG;
	if ((buf = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return GB_ENOMEM;
	for (i = 0, q = buf; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];

		*q++ = b64_alphabet[v >> 18];
		*q++ = b64_alphabet[v >> 12 & 63];
		*q++ = b64_alphabet[v >> 6 & 63];
		*q++ = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		*q++ = b64_alphabet[in[i] >> 2];
		*q++ = b64_alphabet[(in[i] & 3) << 4];
		*q++ = '=';
		*q++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

		*q++ = b64_alphabet[v >> 10];
		*q++ = b64_alphabet[v >> 4 & 63];
		*q++ = b64_alphabet[(v & 15) << 2];
		*q++ = '=';
	}
	*q = '\0';
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
