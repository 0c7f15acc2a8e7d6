/*
 * Byte codecs and capped input: hex, base64, and reading a document given as
 * raw bytes, base64 or hex text.
 */
#ifndef GB_CODEC_H
#define GB_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes 2n lower-case hex digits and a NUL to out (2n + 1 bytes). */
void gb_hex_encode(char *out, const uint8_t *in, size_t n);

/* s without leading and trailing blanks (space, tab, CR), in place. */
char *gb_str_trim(char *s);

/* The value of one hex digit (either case), or -1. */
int gb_hex_value(int c);

/* Decodes exactly 2 * out_len hex digits (either case) from s[0..slen).
 * Returns 0, or GB_EINVAL (odd length, bad digit, wrong size). */
int gb_hex_decode(const char *s, size_t slen, uint8_t *out, size_t out_len);

/* Decodes hex text of any even length into a new buffer (*out, from malloc(),
 * *out_len bytes). At most max bytes are produced; longer input: GB_ETOOBIG. */
int gb_hex_decode_alloc(const char *s, size_t slen, size_t max, uint8_t **out,
    size_t *out_len);

/* Standard base64 (RFC 4648 4), with or without padding; ASCII white space
 * is skipped. Strict otherwise: '=' only at the end and only to complete
 * the last group, and the unused bits of a short last group must be zero
 * (RFC 4648 3.5), so each byte string has one encoding. Same contract as
 * gb_hex_decode_alloc(): at most max bytes are produced, GB_ETOOBIG as soon
 * as the output would pass max (even if later text is not base64),
 * GB_EINVAL for anything that is not base64. The buffer is NUL-terminated
 * beyond *out_len. */
int gb_base64_decode_alloc(const char *s, size_t slen, size_t max,
    uint8_t **out, size_t *out_len);

/* base64url without padding (RFC 7515 2): only the URL alphabet, no '=',
 * no white space, not empty; otherwise as gb_base64_decode_alloc() (at most
 * max bytes, GB_EINVAL / GB_ETOOBIG / GB_ENOMEM). */
int gb_base64url_decode_alloc(const char *s, size_t slen, size_t max,
    uint8_t **out, size_t *out_len);

/* Base64 of n bytes into a new NUL-terminated string (*out, from malloc()). */
int gb_base64_encode_alloc(const uint8_t *in, size_t n, char **out);

/* Reads all of f, at most max bytes. Returns 0 and a new buffer (*out, from
 * malloc(), NUL-terminated beyond *out_len), GB_ETOOBIG past max, GB_EIO. */
int gb_read_all(FILE *f, size_t max, uint8_t **out, size_t *out_len);

/* Reads a file (or standard input for "-") with gb_read_all(). */
int gb_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len);

/*
 * Turns what a user gave as a document into its bytes: raw CBOR is kept as
 * it is; otherwise text that is entirely hex, or else base64 (both with
 * surrounding white space allowed), is decoded. Raw CBOR is recognised by its
 * first byte, 0x84 (array of 4) or 0xd2 (tag 18), which is neither a hex digit
 * nor a base64 character. Returns 0 and a new buffer, GB_EINVAL if the text is
 * neither, GB_ETOOBIG past GB_DOC_MAX_BYTES.
 */
int gb_doc_decode_input(const uint8_t *in, size_t len, uint8_t **out,
    size_t *out_len);

/* Reads a certificate file, PEM or DER, into new DER bytes. */
int gb_cert_read_file(const char *path, uint8_t **der, size_t *der_len);

#endif /* GB_CODEC_H */
