/*
 * libFuzzer target for what KMS and the parent send the enclave: CMS
 * envelopes (gb_kms_open_envelope), KMS answers (gb_kms_parse_response)
 * and credentials (gb_kms_creds_parse). The recipient is the fixed test
 * key tests/fuzz/kms_test_key.pem, so envelopes of the corpus (made by
 * make_kms_corpus.py with `openssl cms`) open and the decryption path is
 * reached. The first byte picks the parser:
 *   0  the envelope           3  an error answer (HTTP 400)
 *   1  GenerateDataKey, with Recipient      4  GenerateDataKey, Plaintext
 *   2  Decrypt, with Recipient              5  credentials JSON
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb/codec.h"
#include "gb/kms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gb_kms_recipient *
recipient(void)
{
	static struct gb_kms_recipient *r;
	uint8_t *pem;
	size_t len;

	if (r == NULL) {
		if (gb_read_file(GB_KMS_TEST_KEY, 16384, &pem, &len) != 0 ||
		    gb_kms_recipient_from_pem((const char *)pem, len, &r) != 0)
			abort();
		free(pem);
	}
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long status[] = { 200, 200, 200, 400, 200 };
	static const char *const op[] = { "", "GenerateDataKey", "Decrypt",
	    "Decrypt", "GenerateDataKey" };
	struct gb_kms_attested att = { recipient(), NULL, 0 };
	uint8_t key[GB_KMS_DATA_KEY_BYTES];
	struct gb_kms_result res;
	struct gb_kms_error err;
	struct gb_kms_creds c;
	char *body;

	if (size == 0)
		return 0;
	/* The parsers read text up to a NUL beyond its length, as the HTTP
	 * layer gives it. */
	if ((body = malloc(size)) == NULL)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	switch (data[0]) {
	case 0:
		(void)gb_kms_open_envelope(att.key, data + 1, size - 1, key,
		    &err);
		break;
	case 1: case 2: case 3: case 4:
		if (gb_kms_parse_response(status[data[0]], body, size - 1,
		    op[data[0]], data[0] == 4 ? NULL : &att, &res, &err) == 0)
			gb_kms_result_free(&res);
		break;
	case 5:
		(void)gb_kms_creds_parse(body, size - 1, &c);
		break;
	default:
		break;
	}
	free(body);
	return 0;
}
