/*
 * kmsclient: the enclave's KMS client (lib/src/kms.c) from the command line,
 * for tests against moto_server: GenerateDataKey and Decrypt without
 * Recipient (moto has none), signed with SigV4 by libcurl.
 *
 *   kmsclient generate URL REGION KEY_ID [CONTEXT_VALUE]
 *   kmsclient decrypt URL REGION KEY_ID BLOB_BASE64 [CONTEXT_VALUE]
 *
 * Credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN. Prints {"plaintext": base64, "blob": base64}; on a
 * refusal prints the reason code and message on standard error and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb/codec.h"
#include "gb/kms.h"

int
main(int argc, char **argv)
{
	struct gb_kms_creds c;
	struct gb_kms_result r = { .blob = NULL };
	struct gb_kms_error e;
	struct gb_kms_endpoint ep;
	const char *ak = getenv("AWS_ACCESS_KEY_ID");
	const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *tk = getenv("AWS_SESSION_TOKEN");
	const char *ctx[3] = { "purpose", NULL, NULL };
	uint8_t *blob = NULL;
	size_t blob_len = 0;
	char *p64 = NULL, *b64 = NULL;
	bool gen;
	int rc;

	if (argc < 5 || ak == NULL || sk == NULL ||
	    (strcmp(argv[1], "generate") != 0 && strcmp(argv[1], "decrypt") !=
	    0)) {
		fprintf(stderr, "usage: kmsclient generate|decrypt URL REGION "
		    "KEY_ID [BLOB] [CONTEXT]\n");
		return 2;
	}
	gen = argv[1][0] == 'g';
	memset(&c, 0, sizeof c);
	snprintf(c.access_key_id, sizeof c.access_key_id, "%s", ak);
	snprintf(c.secret, sizeof c.secret, "%s", sk);
	snprintf(c.token, sizeof c.token, "%s", tk ? tk : "");
	ep = (struct gb_kms_endpoint){ argv[2], argv[3], NULL, NULL };
	if (gb_kms_global_init() != 0)
		return 2;
	if (gen) {
		ctx[1] = argc > 5 ? argv[5] : NULL;
		rc = gb_kms_generate_data_key(&ep, &c, argv[4], ctx[1] ? ctx :
		    NULL, NULL, &r, &e);
	} else {
		if (argc < 6 || gb_base64_decode_alloc(argv[5], strlen(argv[5]),
		    GB_KMS_BLOB_MAX_BYTES, &blob, &blob_len) != 0) {
			fprintf(stderr, "kmsclient: BLOB is base64\n");
			return 2;
		}
		ctx[1] = argc > 6 ? argv[6] : NULL;
		rc = gb_kms_decrypt(&ep, &c, argv[4], blob, blob_len, ctx[1] ?
		    ctx : NULL, NULL, &r, &e);
	}
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", e.code, e.message);
		free(blob);
		return 1;
	}
	if (gb_base64_encode_alloc(r.data_key, sizeof r.data_key, &p64) != 0 ||
	    (r.blob != NULL && gb_base64_encode_alloc(r.blob, r.blob_len,
	    &b64) != 0))
		return 2;
	printf("{\"plaintext\": \"%s\", \"blob\": \"%s\"}\n", p64,
	    b64 ? b64 : "");
	gb_kms_result_free(&r);
	gb_kms_creds_wipe(&c);
	free(p64);
	free(b64);
	free(blob);
	return 0;
}
