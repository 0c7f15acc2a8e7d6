/*
 * KMS with attestation (gb/kms.h): the recipient key, the requests of
 * KMS's JSON protocol (TrentService, application/x-amz-json-1.1), their
 * answers, the CMS envelope, and credentials as IMDS gives them.
 *
 * Facts from the AWS KMS API reference (Decrypt, GenerateDataKey,
 * RecipientInfo) and the Nitro Enclaves documentation: with Recipient the
 * answer's Plaintext is null and CiphertextForRecipient holds the data key
 * as CMS EnvelopedData for the attestation's public key, RSAES-OAEP with
 * SHA-256 for the key transport and AES-256-CBC for the content. Errors
 * are HTTP 4xx/5xx with {"__type": "[namespace#]Name", "message": ...}.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/err.h"
#include "gb/kms.h"
#include "gb/timefmt.h"

struct gb_kms_recipient {
	EVP_PKEY *pkey;
	uint8_t *spki;                  /* from OPENSSL_malloc() (i2d) */
	size_t spki_len;
};

static void
set_err(struct gb_kms_error *err, const char *code, const char *msg)
{
	snprintf(err->code, sizeof err->code, "%s", code);
	snprintf(err->message, sizeof err->message, "%s", msg);
}

int
gb_kms_recipient_new(unsigned bits, struct gb_kms_recipient **out)
{
	struct gb_kms_recipient *r = NULL;
	unsigned char *p = NULL;
	int n, rc = GB_ECRYPTO;

	if (bits < GB_KMS_RSA_BITS_MIN || bits > GB_KMS_RSA_BITS_MAX)
		return GB_EINVAL;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return GB_ENOMEM;
	if ((r->pkey = EVP_RSA_gen(bits)) == NULL ||
	    (n = i2d_PUBKEY(r->pkey, &p)) <= 0)
		goto out;
	r->spki = p;
	r->spki_len = (size_t)n;
	*out = r;
	r = NULL;
	rc = 0;
out:
	ERR_clear_error();
	gb_kms_recipient_free(r);
	return rc;
}

int
gb_kms_recipient_from_pem(const char *pem, size_t len,
    struct gb_kms_recipient **out)
{
	struct gb_kms_recipient *r = NULL;
	unsigned char *p = NULL;
	BIO *b = NULL;
	int n, rc = GB_EINVAL;

	if (len > INT_MAX || (r = calloc(1, sizeof *r)) == NULL ||
	    (b = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		rc = GB_ENOMEM;
		goto out;
	}
	if ((r->pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL ||
	    EVP_PKEY_get_base_id(r->pkey) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(r->pkey) < GB_KMS_RSA_BITS_MIN ||
	    EVP_PKEY_get_bits(r->pkey) > GB_KMS_RSA_BITS_MAX ||
	    (n = i2d_PUBKEY(r->pkey, &p)) <= 0)
		goto out;
	r->spki = p;
	r->spki_len = (size_t)n;
	*out = r;
	r = NULL;
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(b);
	gb_kms_recipient_free(r);
	return rc;
}

void
gb_kms_recipient_free(struct gb_kms_recipient *r)
{
	if (r == NULL)
		return;
	EVP_PKEY_free(r->pkey);         /* clears the private numbers */
	OPENSSL_free(r->spki);
	free(r);
}

const uint8_t *
gb_kms_recipient_spki(const struct gb_kms_recipient *r, size_t *len)
{
	*len = r->spki_len;
	return r->spki;
}

/* Whether alg is exactly the OID nid (parameters aside). */
static bool
alg_is(const X509_ALGOR *alg, int nid)
{
	return alg != NULL && OBJ_obj2nid(alg->algorithm) == nid;
}

/* RSAES-OAEP with SHA-256 and MGF1-SHA-256 (RFC 8017 A.2.1; absent
 * parameters mean SHA-1, which we refuse). */
static bool
oaep_sha256(const X509_ALGOR *alg)
{
	RSA_OAEP_PARAMS *op = NULL;
	X509_ALGOR *mgf_hash = NULL;
	bool ok = false;

	if (!alg_is(alg, NID_rsaesOaep) || alg->parameter == NULL ||
	    alg->parameter->type != V_ASN1_SEQUENCE)
		goto out;
	op = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_OAEP_PARAMS),
	    alg->parameter);
	if (op == NULL || !alg_is(op->hashFunc, NID_sha256) ||
	    !alg_is(op->maskGenFunc, NID_mgf1) ||
	    op->maskGenFunc->parameter == NULL ||
	    op->maskGenFunc->parameter->type != V_ASN1_SEQUENCE)
		goto out;
	mgf_hash = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR),
	    op->maskGenFunc->parameter);
	/* pSourceFunc: absent, or the empty label KMS would not change. */
	ok = alg_is(mgf_hash, NID_sha256) && (op->pSourceFunc == NULL ||
	    alg_is(op->pSourceFunc, NID_pSpecified));
out:
	X509_ALGOR_free(mgf_hash);
	RSA_OAEP_PARAMS_free(op);
	return ok;
}

int
gb_kms_open_envelope(const struct gb_kms_recipient *r, const uint8_t *cms,
    size_t len, uint8_t key[GB_KMS_DATA_KEY_BYTES], struct gb_kms_error *err)
{
	const unsigned char *p = cms;
	CMS_ContentInfo *ci = NULL;
	STACK_OF(CMS_RecipientInfo) *ris;
	CMS_RecipientInfo *ri;
	X509_ALGOR *kalg = NULL;
	BIO *out = NULL;
	BUF_MEM *bm = NULL;
	const char *why = "not a CMS EnvelopedData";
	int rc = GB_EINVAL;

	if (len == 0 || len > GB_KMS_ENVELOPE_MAX_BYTES) {
		why = "empty, or larger than 8192 bytes";
		goto out;
	}
	/* BER is allowed (KMS uses indefinite lengths); nothing may follow. */
	if ((ci = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL ||
	    p != cms + len ||
	    OBJ_obj2nid(CMS_get0_type(ci)) != NID_pkcs7_enveloped)
		goto out;
	/* One recipient, by key transport: ours. */
	ris = CMS_get0_RecipientInfos(ci);
	if (ris == NULL || sk_CMS_RecipientInfo_num(ris) != 1 ||
	    (ri = sk_CMS_RecipientInfo_value(ris, 0)) == NULL ||
	    CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS) {
		why = "not exactly one key-transport recipient";
		goto out;
	}
	if (CMS_RecipientInfo_ktri_get0_algs(ri, NULL, NULL, &kalg) != 1 ||
	    !oaep_sha256(kalg)) {
		why = "the key transport is not RSAES-OAEP with SHA-256";
		goto out;
	}
	/* CMS_DEBUG_DECRYPT: a key that does not open the envelope is an
	 * error here, rather than OpenSSL's random key against padding
	 * oracles (there is no oracle to protect: the key pair lives for one
	 * call and the answer comes over TLS from KMS). The secure-heap BIO
	 * wipes the plaintext when freed. */
	if ((out = BIO_new(BIO_s_secmem())) == NULL) {
		why = "out of memory";
		goto out;
	}
	if (CMS_decrypt(ci, r->pkey, NULL, NULL, out, CMS_DEBUG_DECRYPT |
	    CMS_BINARY) != 1) {
		why = "the envelope does not open with this enclave's key";
		goto out;
	}
	if (BIO_get_mem_ptr(out, &bm) != 1 || bm == NULL ||
	    bm->length != GB_KMS_DATA_KEY_BYTES) {
		why = "the envelope does not hold a 32-byte key";
		goto out;
	}
	memcpy(key, bm->data, GB_KMS_DATA_KEY_BYTES);
	rc = 0;
out:
	if (rc != 0)
		set_err(err, "kms_envelope", why);
	ERR_clear_error();
	BIO_free(out);
	CMS_ContentInfo_free(ci);
	return rc;
}

void
gb_kms_result_free(struct gb_kms_result *r)
{
	if (r == NULL)
		return;
	OPENSSL_cleanse(r->data_key, sizeof r->data_key);
	free(r->blob);
	r->blob = NULL;
	r->blob_len = 0;
}

/* The answer's base64 member name, decoded into a new buffer of at most
 * max bytes; *out NULL if the member is absent or null. Returns 0, or
 * GB_EINVAL when present but not base64 within max. */
static int
b64_member(json_t *j, const char *name, size_t max, uint8_t **out,
    size_t *len)
{
	json_t *v = json_object_get(j, name);
	const char *s = json_string_value(v);

	*out = NULL;
	*len = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (s == NULL || json_string_length(v) == 0)
		return GB_EINVAL;
	return gb_base64_decode_alloc(s, json_string_length(v), max, out,
	    len) == 0 ? 0 : GB_EINVAL;
}

/* KMS's error name (after any "namespace#") to our reason code. */
static const char *
error_code(const char *type)
{
	static const struct {
		const char *type, *code;
	} map[] = {
		{ "AccessDeniedException", "kms_access_denied" },
		{ "ExpiredTokenException", "kms_expired_token" },
		{ "UnrecognizedClientException", "kms_bad_credentials" },
		{ "InvalidSignatureException", "kms_bad_credentials" },
		{ "IncompleteSignature", "kms_bad_credentials" },
		{ "InvalidClientTokenId", "kms_bad_credentials" },
		{ "SignatureDoesNotMatch", "kms_bad_credentials" },
		{ "InvalidCiphertextException", "kms_invalid_ciphertext" },
		{ "IncorrectKeyException", "kms_incorrect_key" },
		{ "DisabledException", "kms_key_unusable" },
		{ "KMSInvalidStateException", "kms_key_unusable" },
		{ "NotFoundException", "kms_key_unusable" },
		{ "KeyUnavailableException", "kms_key_unusable" },
	};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(type, map[i].type) == 0)
			return map[i].code;
	return "kms_error";
}

/* Printable ASCII of s, at most n bytes, into out (for messages). */
static void
printable(char *out, size_t outlen, const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && s[i] != '\0' && k + 1 < outlen; i++)
		out[k++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[k] = '\0';
}

int
gb_kms_parse_response(long status, const char *body, size_t len,
    const char *op, const struct gb_kms_attested *att,
    struct gb_kms_result *out, struct gb_kms_error *err)
{
	json_t *j = gb_json_loadb(body, len, 0, NULL);
	uint8_t *env = NULL, *plain = NULL, *blob = NULL;
	size_t env_len, plain_len = 0, blob_len;
	struct gb_kms_result r = { .blob = NULL };
	bool gdk = strcmp(op, "GenerateDataKey") == 0;
	int rc = GB_EINVAL;

	if (status < 200 || status > 299) {
		const char *type = json_string_value(json_object_get(j,
		    "__type"));
		const char *msg = json_string_value(json_object_get(j,
		    "message"));
		char t[80], m[200];

		if (msg == NULL)        /* some errors spell it Message */
			msg = json_string_value(json_object_get(j, "Message"));
		if (type != NULL && strchr(type, '#') != NULL)
			type = strchr(type, '#') + 1;
		printable(t, sizeof t, type ? type : "", 79);
		printable(m, sizeof m, msg ? msg : "", 199);
		/* An error in the query protocol's XML (moto answers
		 * authentication failures so): <Code>Name</Code>. */
		if (j == NULL && type == NULL && len < GB_KMS_RESPONSE_MAX_BYTES &&
		    (type = strstr(body, "<Code>")) != NULL) {
			type += strlen("<Code>");
			printable(t, sizeof t, type, strcspn(type, "<"));
		}
		snprintf(err->code, sizeof err->code, "%s", t[0] ?
		    error_code(t) : "kms_error");
		snprintf(err->message, sizeof err->message, "KMS %s answered "
		    "HTTP %ld %s%s%s", op, status, t[0] ? t : "(no error type)",
		    m[0] ? ": " : "", m);
		rc = GB_EIO;
		goto out;
	}
	if (!json_is_object(j)) {
		set_err(err, "kms_bad_response", "the answer is not a JSON "
		    "object");
		goto out;
	}
	if (b64_member(j, "CiphertextForRecipient", GB_KMS_ENVELOPE_MAX_BYTES,
	    &env, &env_len) != 0 || b64_member(j, "Plaintext",
	    GB_KMS_DATA_KEY_BYTES, &plain, &plain_len) != 0 ||
	    b64_member(j, "CiphertextBlob", GB_KMS_BLOB_MAX_BYTES, &blob,
	    &blob_len) != 0) {
		set_err(err, "kms_bad_response", "a member of the answer is "
		    "not base64 within its limit");
		goto out;
	}
	if (gdk && blob == NULL) {
		set_err(err, "kms_bad_response", "GenerateDataKey answered "
		    "without a CiphertextBlob");
		goto out;
	}
	if (att != NULL) {
		/* The key may come from the envelope only: a Plaintext beside
		 * a Recipient is not what KMS does, and is not used. */
		if (env == NULL || plain != NULL) {
			set_err(err, "kms_bad_response", plain ? "the answer "
			    "has a Plaintext although a Recipient was sent" :
			    "the answer has no CiphertextForRecipient");
			goto out;
		}
		if (gb_kms_open_envelope(att->key, env, env_len, r.data_key,
		    err) != 0)
			goto out;
	} else {
		if (plain == NULL || plain_len != GB_KMS_DATA_KEY_BYTES) {
			set_err(err, "kms_bad_response", "the answer has no "
			    "32-byte Plaintext");
			goto out;
		}
		memcpy(r.data_key, plain, GB_KMS_DATA_KEY_BYTES);
	}
	if (gdk) {
		r.blob = blob;
		r.blob_len = blob_len;
		blob = NULL;
	}
	*out = r;
	memset(&r, 0, sizeof r);
	rc = 0;
out:
	OPENSSL_cleanse(&r, sizeof r);
	if (plain != NULL)
		OPENSSL_clear_free(plain, plain_len);
	free(env);
	free(blob);
	json_decref(j);
	return rc;
}

/* The JSON body of a request (a new string), or NULL. */
static char *
request_body(const char *key_id, const uint8_t *blob, size_t blob_len,
    const char *const *context, const struct gb_kms_attested *att)
{
	json_t *j = json_pack("{s:s}", "KeyId", key_id), *ctx;
	char *b64 = NULL, *s = NULL;

	if (j == NULL)
		return NULL;
	if (blob != NULL) {
		if (gb_base64_encode_alloc(blob, blob_len, &b64) != 0 ||
		    json_object_set_new(j, "CiphertextBlob", json_string(b64)))
			goto out;
		free(b64);
		b64 = NULL;
	} else if (json_object_set_new(j, "KeySpec", json_string("AES_256"))) {
		goto out;
	}
	if (context != NULL) {
		if ((ctx = json_object()) == NULL ||
		    json_object_set_new(j, "EncryptionContext", ctx) != 0)
			goto out;
		for (const char *const *p = context; p[0] && p[1]; p += 2)
			if (json_object_set_new(ctx, p[0], json_string(p[1])))
				goto out;
	}
	if (att != NULL) {
		if (gb_base64_encode_alloc(att->doc, att->doc_len, &b64) != 0 ||
		    json_object_set_new(j, "Recipient", json_pack("{s:s, s:s}",
		    "KeyEncryptionAlgorithm", "RSAES_OAEP_SHA_256",
		    "AttestationDocument", b64)) != 0)
			goto out;
	}
	s = json_dumps(j, JSON_COMPACT);
out:
	free(b64);
	json_decref(j);
	return s;
}

static int
call(const struct gb_kms_endpoint *ep, const struct gb_kms_creds *c,
    const char *op, const char *key_id, const uint8_t *blob, size_t blob_len,
    const char *const *context, const struct gb_kms_attested *att,
    struct gb_kms_result *out, struct gb_kms_error *err)
{
	char target[64], sigv4[96], *token = NULL, *body = NULL, *resp = NULL;
	const char *headers[4];
	struct gb_kms_http h = { .method = "POST", .url = ep->url,
	    .via = ep->via, .ca_file = ep->ca_file, .sigv4 = sigv4,
	    .creds = c, .max = GB_KMS_RESPONSE_MAX_BYTES };
	size_t resp_len = 0, tlen;
	long status = 0;
	unsigned n = 0;
	int rc = GB_ENOMEM;

	if (strlen(key_id) == 0 || strlen(key_id) > GB_KMS_ARN_MAX ||
	    strlen(ep->region) == 0 || strlen(ep->region) > 32 ||
	    strchr(ep->region, ':') != NULL) {
		set_err(err, "kms_internal", "bad key id or region");
		return GB_EINVAL;
	}
	snprintf(target, sizeof target, "X-Amz-Target: TrentService.%s", op);
	snprintf(sigv4, sizeof sigv4, "aws:amz:%s:kms", ep->region);
	headers[n++] = "Content-Type: application/x-amz-json-1.1";
	headers[n++] = target;
	if (c->token[0] != '\0') {
		/* Signed with the rest (libcurl signs every header given). */
		tlen = strlen("X-Amz-Security-Token: ") + strlen(c->token) + 1;
		if ((token = malloc(tlen)) == NULL) {
			set_err(err, "kms_internal", "out of memory");
			goto out;
		}
		snprintf(token, tlen, "X-Amz-Security-Token: %s", c->token);
		headers[n++] = token;
	}
	headers[n] = NULL;
	h.headers = headers;
	if ((body = request_body(key_id, blob, blob_len, context, att)) ==
	    NULL) {
		set_err(err, "kms_internal", "out of memory");
		goto out;
	}
	h.body = body;
	h.body_len = strlen(body);
	if ((rc = gb_kms_http_exchange(&h, &status, &resp, &resp_len, err))
	    != 0)
		goto out;
	rc = gb_kms_parse_response(status, resp, resp_len, op, att, out, err);
out:
	if (token != NULL)
		OPENSSL_clear_free(token, tlen);
	if (resp != NULL)
		OPENSSL_clear_free(resp, resp_len);
	free(body);
	return rc;
}

int
gb_kms_generate_data_key(const struct gb_kms_endpoint *ep,
    const struct gb_kms_creds *c, const char *key_id,
    const char *const *context, const struct gb_kms_attested *att,
    struct gb_kms_result *out, struct gb_kms_error *err)
{
	return call(ep, c, "GenerateDataKey", key_id, NULL, 0, context, att,
	    out, err);
}

int
gb_kms_decrypt(const struct gb_kms_endpoint *ep,
    const struct gb_kms_creds *c, const char *key_id, const uint8_t *blob,
    size_t blob_len, const char *const *context,
    const struct gb_kms_attested *att, struct gb_kms_result *out,
    struct gb_kms_error *err)
{
	if (blob == NULL || blob_len == 0 || blob_len > GB_KMS_BLOB_MAX_BYTES) {
		set_err(err, "kms_invalid_ciphertext", "the CiphertextBlob is "
		    "empty or larger than 6144 bytes");
		return GB_EINVAL;
	}
	return call(ep, c, "Decrypt", key_id, blob, blob_len, context, att,
	    out, err);
}

/* A string member of at most max bytes, printable ASCII, non-empty (or
 * empty when may_be_empty), copied to out. */
static bool
copy_member(json_t *j, const char *name, char *out, size_t max,
    bool may_be_empty)
{
	json_t *v = json_object_get(j, name);
	const char *s = json_string_value(v);
	size_t n;

	if (s == NULL)
		return may_be_empty && v == NULL;
	n = json_string_length(v);
	if (n > max || (n == 0 && !may_be_empty))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

int
gb_kms_creds_parse(const char *json, size_t len, struct gb_kms_creds *out)
{
	json_t *j = gb_json_loadb(json, len, 0, NULL);
	const char *code = json_string_value(json_object_get(j, "Code"));
	const char *exp = json_string_value(json_object_get(j, "Expiration"));
	struct gb_kms_creds c;
	int rc = GB_EINVAL;

	memset(&c, 0, sizeof c);
	if (!json_is_object(j) || (json_object_get(j, "Code") != NULL &&
	    (code == NULL || strcmp(code, "Success") != 0)))
		goto out;
	if (!copy_member(j, "AccessKeyId", c.access_key_id, GB_KMS_KEY_ID_MAX,
	    false) || !copy_member(j, "SecretAccessKey", c.secret,
	    GB_KMS_SECRET_MAX, false) || !copy_member(j, "Token", c.token,
	    GB_KMS_TOKEN_MAX, true))
		goto out;
	if (json_object_get(j, "Expiration") != NULL && (exp == NULL ||
	    gb_time_parse_rfc3339(exp, &c.expires_ms) != 0))
		goto out;
	*out = c;
	rc = 0;
out:
	OPENSSL_cleanse(&c, sizeof c);
	/* jansson's copies of the secret are freed unwiped; the caller
	 * wipes its text. */
	json_decref(j);
	return rc;
}

void
gb_kms_creds_wipe(struct gb_kms_creds *c)
{
	if (c != NULL)
		OPENSSL_cleanse(c, sizeof *c);
}
