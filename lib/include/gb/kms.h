/*
 * AWS KMS from inside a Nitro Enclave (issue 17): an RSA key pair made in
 * memory (the "recipient"), KMS Decrypt and GenerateDataKey over KMS's JSON
 * protocol signed with SigV4, and the CMS envelope (CiphertextForRecipient)
 * KMS answers with when the request carries the enclave's attestation
 * document. Everything on the wire is libcurl's (TLS, SigV4) and
 * OpenSSL's (CMS); this module builds the requests, reads the answers and
 * names every failure with a stable reason code.
 *
 * The TCP path may leave through a relay (glassbox-parent --outbound): the
 * URL keeps KMS's real host name, for SNI and the certificate check, while
 * the socket is opened to the relay's address (vsock, unix or tcp).
 */
#ifndef GB_KMS_H
#define GB_KMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gb/httpd.h"               /* struct gb_listen_addr */

/* The recipient's RSA modulus. KMS accepts 2048 to 4096 bits
 * (RSAES_OAEP_SHA_256). The default is 3072: its DER public key (422
 * bytes) fits the NSM client's public_key limit of 512 bytes; a 4096-bit
 * key (550 bytes) needs the 1024 that AWS allows (issue 17, item 4). */
#define GB_KMS_RSA_BITS_MIN 2048
#define GB_KMS_RSA_BITS_MAX 4096
#define GB_KMS_RSA_BITS_DEFAULT 3072
/* A KMS answer's body: the largest real one (a 6144-byte CiphertextBlob and
 * an envelope, both in base64) is under 16 KiB. */
#define GB_KMS_RESPONSE_MAX_BYTES 65536
/* CiphertextForRecipient, decoded: a 4096-bit key's 512 bytes, the
 * certificate-free recipient info and a 32-byte key in AES-CBC. */
#define GB_KMS_ENVELOPE_MAX_BYTES 8192
/* CiphertextBlob: "Length Constraints: 1..6144" (KMS API reference). */
#define GB_KMS_BLOB_MAX_BYTES 6144
/* The data keys we ask for (KeySpec AES_256). */
#define GB_KMS_DATA_KEY_BYTES 32
/* A whole exchange with KMS or the parent, connection included. */
#define GB_KMS_TIMEOUT_MS 30000
/* Credential fields (IAM: access key ids up to 128 characters; session
 * tokens have no documented bound, real ones are 1-2 KB). */
#define GB_KMS_KEY_ID_MAX 128
#define GB_KMS_SECRET_MAX 128
#define GB_KMS_TOKEN_MAX 4096
/* A key ARN or id (KMS: KeyId 1..2048 characters). */
#define GB_KMS_ARN_MAX 2048

/* Temporary credentials (secret: keep in locked memory, wipe with
 * gb_kms_creds_wipe()). */
struct gb_kms_creds {
	char access_key_id[GB_KMS_KEY_ID_MAX + 1];
	char secret[GB_KMS_SECRET_MAX + 1];
	char token[GB_KMS_TOKEN_MAX + 1];   /* "" when there is none */
	int64_t expires_ms;                 /* 0: not said */
};

/* What went wrong: code is a stable lower-case reason code (below),
 * message a sentence for people (KMS's own error type and message
 * included, never a secret). */
struct gb_kms_error {
	char code[40];
	char message[320];
};

/*
 * The reason codes:
 *   kms_access_denied       KMS refused (AccessDeniedException): the key
 *                           policy does not admit this enclave (its PCRs,
 *                           or the role)
 *   kms_expired_token       the credentials have expired
 *   kms_bad_credentials     KMS does not know them, or the signature
 *   kms_invalid_ciphertext  KMS cannot decrypt the CiphertextBlob (damaged,
 *                           another key, another encryption context)
 *   kms_incorrect_key       the blob belongs to another KMS key
 *   kms_key_unusable        the key is disabled, pending deletion or gone
 *   kms_error               any other KMS error (its type in the message)
 *   kms_unreachable         no connection, or it broke
 *   kms_tls                 TLS failed (certificate, host name)
 *   kms_bad_response        KMS's answer is not what the API says
 *   kms_envelope            the CMS envelope does not open with our key or
 *                           is not RSAES-OAEP-SHA-256 with a 32-byte key
 *   kms_internal            out of memory, a library failed
 */

/* The enclave's RSA key pair for KMS. */
struct gb_kms_recipient;

/* A new key pair of bits (GB_KMS_RSA_BITS_MIN..MAX) in *out. Returns 0,
 * GB_EINVAL (bits) or GB_ECRYPTO. */
int gb_kms_recipient_new(unsigned bits, struct gb_kms_recipient **out);
void gb_kms_recipient_free(struct gb_kms_recipient *r);
/* A recipient from a PEM RSA private key (tests and the fuzz target:
 * envelopes made in advance for a fixed key). Returns 0, GB_EINVAL (not
 * an RSA key of GB_KMS_RSA_BITS_MIN..MAX) or GB_ENOMEM. */
int gb_kms_recipient_from_pem(const char *pem, size_t len,
    struct gb_kms_recipient **out);
/* Its DER SubjectPublicKeyInfo (for the attestation's public_key);
 * borrowed from r. */
const uint8_t *gb_kms_recipient_spki(const struct gb_kms_recipient *r,
    size_t *len);

/*
 * Opens a CiphertextForRecipient: CMS EnvelopedData (RFC 5652) with one
 * key-transport recipient, RSAES-OAEP with SHA-256 and MGF1-SHA-256, whose
 * content is exactly GB_KMS_DATA_KEY_BYTES. Writes key only on success.
 * Returns 0, or GB_EINVAL with err set (kms_envelope).
 */
int gb_kms_open_envelope(const struct gb_kms_recipient *r,
    const uint8_t *cms, size_t len, uint8_t key[GB_KMS_DATA_KEY_BYTES],
    struct gb_kms_error *err);

/* Where KMS is, and how to reach it. */
struct gb_kms_endpoint {
	const char *url;                /* "https://kms.REGION.amazonaws.com" */
	const char *region;             /* for SigV4 */
	const char *ca_file;            /* CA bundle; NULL: libcurl's own */
	const struct gb_listen_addr *via;   /* the relay; NULL: direct */
};

/* The attestation a request carries (Recipient), and the key that opens
 * the answer; both borrowed. */
struct gb_kms_attested {
	const struct gb_kms_recipient *key;
	const uint8_t *doc;
	size_t doc_len;
};

/* An answer: the data key (secret, on success only), and for
 * GenerateDataKey the CiphertextBlob (from malloc(), blob_len bytes). */
struct gb_kms_result {
	uint8_t data_key[GB_KMS_DATA_KEY_BYTES];
	uint8_t *blob;
	size_t blob_len;
};

/* Wipes the data key and frees the blob; NULL is fine. */
void gb_kms_result_free(struct gb_kms_result *r);

/*
 * GenerateDataKey (KeySpec AES_256) and Decrypt. context is a
 * NULL-terminated list of name, value pairs sent as EncryptionContext (or
 * NULL). With att, the request carries Recipient {RSAES_OAEP_SHA_256,
 * AttestationDocument} and the data key is taken from the envelope only;
 * without it (tests against moto) from Plaintext. Returns 0 and fills
 * *out, or a negative gb_err with err set (*out then holds nothing).
 */
int gb_kms_generate_data_key(const struct gb_kms_endpoint *ep,
    const struct gb_kms_creds *c, const char *key_id,
    const char *const *context, const struct gb_kms_attested *att,
    struct gb_kms_result *out, struct gb_kms_error *err);
int gb_kms_decrypt(const struct gb_kms_endpoint *ep,
    const struct gb_kms_creds *c, const char *key_id, const uint8_t *blob,
    size_t blob_len, const char *const *context,
    const struct gb_kms_attested *att, struct gb_kms_result *out,
    struct gb_kms_error *err);

/*
 * Reads a KMS answer (HTTP status and body) for op ("GenerateDataKey" or
 * "Decrypt"; body NUL-terminated beyond len): an error body (JSON, or the
 * query protocol's XML) becomes its reason code; a success must hold
 * what op returns. att as above. Exposed for the fuzz target. Returns 0 or
 * a negative gb_err with err set.
 */
int gb_kms_parse_response(long status, const char *body, size_t len,
    const char *op, const struct gb_kms_attested *att,
    struct gb_kms_result *out, struct gb_kms_error *err);

/*
 * Credentials as IMDS and glassbox-parent give them: a JSON object with
 * AccessKeyId, SecretAccessKey, Token and Expiration (RFC 3339); IMDS's
 * Code, when present, must be "Success"; other members are ignored.
 * Returns 0 and fills *out, or GB_EINVAL (nothing written).
 */
int gb_kms_creds_parse(const char *json, size_t len,
    struct gb_kms_creds *out);
void gb_kms_creds_wipe(struct gb_kms_creds *c);

/*
 * One HTTP exchange with libcurl (used for KMS, for the parent's
 * credentials service, and by the parent for IMDS). via: open the socket
 * to that address instead of the URL's host (whose name is kept for TLS);
 * headers: NULL-terminated "Name: value" lines; the answer is capped at
 * max bytes. Returns 0 with *status and a new NUL-terminated body (*resp,
 * from malloc(), *resp_len bytes), or a negative gb_err with err set
 * (kms_unreachable, kms_tls, kms_bad_response, kms_internal).
 */
struct gb_kms_http {
	const char *method;             /* "GET", "PUT", "POST" */
	const char *url;
	const char *const *headers;
	const void *body;
	size_t body_len;
	const struct gb_listen_addr *via;
	const char *ca_file;
	const char *sigv4;              /* CURLOPT_AWS_SIGV4, or NULL */
	const struct gb_kms_creds *creds;   /* for sigv4 */
	size_t max;
	long timeout_ms;                /* 0: GB_KMS_TIMEOUT_MS */
};
int gb_kms_http_exchange(const struct gb_kms_http *h, long *status,
    char **resp, size_t *resp_len, struct gb_kms_error *err);

/* curl_global_init(); call once, before any thread is started. */
int gb_kms_global_init(void);

#endif /* GB_KMS_H */
