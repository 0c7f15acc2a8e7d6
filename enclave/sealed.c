/*
 * The sealed signer key (sealed.h). The blob, which holds nothing secret:
 *
 *   {"format": "glassbox-sealed-v1", "kms_key": ARN,
 *    "ciphertext_blob": base64 (KMS's, for Decrypt),
 *    "nonce": base64 (12 bytes), "sealed_seed": base64 (32 + 16-byte tag),
 *    "public_key": hex (the Ed25519 key)}
 *
 * sealed_seed = AES-256-GCM(data key, nonce, seed, AAD), AAD =
 * "glassbox-sealed-v1" 0x00 ARN 0x00 public key (32 bytes), so a blob
 * moved to another key ARN or given another public key does not open. The
 * data key is asked of KMS with the EncryptionContext {"glassbox":
 * "signer-seal-v1"} and a Recipient: the enclave's attestation with a
 * fresh RSA key in public_key, so KMS answers with the data key in a CMS
 * envelope only this process can open. The ARN used is always --kms-key
 * (it is part of the measured image); the blob's ARN must equal it.
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/ed25519.h"
#include "gb/err.h"
#include "gb/fileio.h"
#include "gb/kms.h"
#include "gb/nsm.h"
#include "enclave.h"
#include "sealed.h"

#define SEALED_FORMAT "glassbox-sealed-v1"
#define SEALED_NONCE_BYTES 12
#define SEALED_TAG_BYTES 16
/* A blob is about 1 KiB (a CiphertextBlob is at most 6144 bytes). */
#define SEALED_MAX_BYTES 16384
/* Credentials from the parent: the JSON of four short strings and a
 * session token. */
#define SEALED_CREDS_MAX_BYTES 16384

static const char *const seal_context[] = { "glassbox", "signer-seal-v1",
    NULL };

/* Secrets of one start-up, on a locked page, wiped when done. */
struct secrets {
	struct gb_kms_creds creds;
	struct gb_kms_result kms;
};

/* What failed, for the one line printed. */
struct why {
	char code[40];
	char message[400];
};

static void __attribute__((format(printf, 3, 4)))
fail(struct why *w, const char *code, const char *fmt, ...)
{
	va_list ap;

	snprintf(w->code, sizeof w->code, "%s", code);
	va_start(ap, fmt);
	vsnprintf(w->message, sizeof w->message, fmt, ap);
	va_end(ap);
}

static void
fail_kms(struct why *w, const struct gb_kms_error *e)
{
	fail(w, e->code, "%s", e->message);
}

int
sealed_option(struct sealed_opts *o, int c, const char *arg)
{
	const char *why;
	char *end;
	unsigned long n;

	switch (c) {
	case 0x100: o->kms_key = arg; return 0;
	case 0x101: o->endpoint = arg; return 0;
	case 0x102: o->region = arg; return 0;
	case 0x103: o->ca_file = arg; return 0;
	case 0x104:
	case 0x105:
		if (gb_listen_parse(arg, c == 0x104 ? &o->proxy : &o->parent,
		    &why) != 0) {
			fprintf(stderr, "glassbox-enclave: --%s %s: %s\n",
			    c == 0x104 ? "kms-proxy" : "parent", arg, why);
			return -1;
		}
		if (c == 0x104) {
			o->have_proxy = true;
			o->proxy_text = arg;
		} else {
			o->have_parent = true;
			o->parent_text = arg;
		}
		return 0;
	case 0x106: o->sealed = arg; return 0;
	case 0x107: o->allow_new_key = true; return 0;
	case 0x108: o->require_sealed = true; return 0;
	case 0x10a: o->previous_key = arg; return 0;
	case 0x109:
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (*arg < '0' || *arg > '9' || *end != '\0' || errno != 0 ||
		    n < GB_KMS_RSA_BITS_MIN || n > GB_KMS_RSA_BITS_MAX) {
			fprintf(stderr, "glassbox-enclave: --kms-rsa-bits is "
			    "2048..4096\n");
			return -1;
		}
		o->rsa_bits = (unsigned)n;
		return 0;
	default:
		return -1;
	}
}

/*
 * A KMS key ARN, arn:PARTITION:kms:REGION:ACCOUNT:key/ID, and nothing
 * else: never an alias (alias/NAME or an alias ARN) nor a bare key id.
 * Those resolve in the account of whoever calls KMS, and the caller's
 * credentials come from the parent: a parent that hands over credentials
 * of its own account, where the alias names a key it can use freely,
 * would see the data key that seals the signer key. An alias ARN pins the
 * account but can be pointed at another key by kms:UpdateAlias. The key
 * ARN names one key, whose policy decides. Puts its region in out.
 */
static bool
key_arn(const char *arn, char *out, size_t outlen, bool *china)
{
	static const char *const parts[] = { "aws", "aws-cn", "aws-us-gov" };
	const char *p, *region, *account, *id;
	size_t n;
	bool known = false;

	if (strncmp(arn, "arn:", 4) != 0)
		return false;
	p = arn + 4;
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		n = strlen(parts[i]);
		if (strncmp(p, parts[i], n) == 0 && p[n] == ':') {
			*china = i == 1;
			p += n + 1;
			known = true;
			break;
		}
	}
	if (!known || strncmp(p, "kms:", 4) != 0)
		return false;
	region = p + 4;
	n = strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-");
	if (n == 0 || n >= outlen || region[n] != ':')
		return false;
	account = region + n + 1;
	if (strspn(account, "0123456789") != 12 || account[12] != ':' ||
	    strncmp(account + 13, "key/", 4) != 0)
		return false;
	id = account + 17;
	n = strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-");
	if (n == 0 || id[n] != '\0')
		return false;
	memcpy(out, region, (size_t)(strchr(region, ':') - region));
	out[strchr(region, ':') - region] = '\0';
	return true;
}

int
sealed_check(struct sealed_opts *o)
{
	static char region[40], url[128];
	char prev_region[40];
	bool china = false, prev_china = false;

	if (o->kms_key == NULL) {
		if (o->sealed || o->endpoint || o->region || o->ca_file ||
		    o->have_proxy || o->have_parent || o->allow_new_key ||
		    o->require_sealed || o->rsa_bits || o->previous_key) {
			fprintf(stderr, "glassbox-enclave: the KMS and sealed "
			    "key options need --kms-key\n");
			return -1;
		}
		return 0;
	}
	if (strlen(o->kms_key) > GB_KMS_ARN_MAX || o->sealed == NULL ||
	    !o->have_parent) {
		fprintf(stderr, "glassbox-enclave: --kms-key needs --sealed "
		    "and --parent (the credentials)\n");
		return -1;
	}
	if (o->previous_key != NULL && (strcmp(o->previous_key, o->kms_key) ==
	    0 || strlen(o->previous_key) > GB_KMS_ARN_MAX)) {
		fprintf(stderr, "glassbox-enclave: --previous-kms-key must name "
		    "another key than --kms-key\n");
		return -1;
	}
	if (strcmp(o->sealed, "parent") != 0 && o->sealed[0] != '/' &&
	    o->sealed[0] != '.') {
		fprintf(stderr, "glassbox-enclave: --sealed is \"parent\" or a "
		    "file path (starting with / or .)\n");
		return -1;
	}
	if (!key_arn(o->kms_key, region, sizeof region, &china) ||
	    (o->previous_key != NULL && !key_arn(o->previous_key, prev_region,
	    sizeof prev_region, &prev_china))) {
		fprintf(stderr, "glassbox-enclave: --kms-key and "
		    "--previous-kms-key are KMS key ARNs "
		    "(arn:aws:kms:REGION:ACCOUNT:key/ID), never an alias or "
		    "a bare key id: those resolve in the account of the "
		    "credentials the parent hands over\n");
		return -1;
	}
	if (o->region != NULL && strcmp(o->region, region) != 0) {
		fprintf(stderr, "glassbox-enclave: --kms-region %s is not the "
		    "key ARN's region %s\n", o->region, region);
		return -1;
	}
	o->region = region;
	if (o->endpoint == NULL) {
		snprintf(url, sizeof url, "https://kms.%s.amazonaws.com%s",
		    o->region, china ? ".cn" : "");
		o->endpoint = url;
	}
	if (strncmp(o->endpoint, "https://", 8) != 0) {
		fprintf(stderr, "glassbox-enclave: --kms-endpoint must be "
		    "https://\n");
		return -1;
	}
	if (o->rsa_bits == 0)
		o->rsa_bits = GB_KMS_RSA_BITS_DEFAULT;
	return 0;
}

/* GET or PUT on the parent's service. *status and a new body. */
static int
parent_call(const struct sealed_opts *o, const char *method,
    const char *path, const char *body, long *status, char **resp,
    size_t *resp_len, size_t max, struct why *w)
{
	static const char *const json_type[] = {
	    "Content-Type: application/json", NULL };
	char url[160];
	struct gb_kms_error e;
	struct gb_kms_http h = { .method = method, .url = url,
	    .headers = body ? json_type : NULL, .body = body,
	    .body_len = body ? strlen(body) : 0, .via = &o->parent, .max = max };

	snprintf(url, sizeof url, "http://parent%s", path);
	if (gb_kms_http_exchange(&h, status, resp, resp_len, &e) != 0) {
		fail(w, "parent_unreachable", "the parent at %s: %s",
		    o->parent_text, e.message);
		return -1;
	}
	return 0;
}

/* Credentials from the parent (refresh: ask it to go to IMDS again). */
static int
get_creds(const struct sealed_opts *o, bool refresh, struct gb_kms_creds *c,
    struct why *w)
{
	char *resp = NULL;
	size_t len = 0;
	long st = 0;
	int rc = -1;

	if (parent_call(o, "GET", refresh ? "/credentials?refresh=1" :
	    "/credentials", NULL, &st, &resp, &len, SEALED_CREDS_MAX_BYTES, w)
	    != 0)
		return -1;
	if (st != 200)
		fail(w, "no_credentials", "the parent's /credentials answered "
		    "HTTP %ld (is glassbox-parent --credentials running, and "
		    "does the instance have a role?)", st);
	else if (gb_kms_creds_parse(resp, len, c) != 0)
		fail(w, "no_credentials", "the parent's credentials are not "
		    "{AccessKeyId, SecretAccessKey, Token, Expiration}");
	else
		rc = 0;
	OPENSSL_clear_free(resp, len);
	return rc;
}

/* The blob's text (a new string), or NULL with *missing when there is
 * none. */
static int
load_blob(const struct sealed_opts *o, char **out, bool *missing,
    struct why *w)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	long st = 0;
	int rc;

	*out = NULL;
	*missing = false;
	if (strcmp(o->sealed, "parent") == 0) {
		if (parent_call(o, "GET", "/sealed", NULL, &st, (char **)&buf,
		    &len, SEALED_MAX_BYTES, w) != 0)
			return -1;
		if (st == 404) {
			free(buf);
			*missing = true;
			return 0;
		}
		if (st != 200) {
			free(buf);
			fail(w, "sealed_unavailable", "the parent's /sealed "
			    "answered HTTP %ld", st);
			return -1;
		}
		*out = (char *)buf;
		return 0;
	}
	rc = gb_read_file(o->sealed, SEALED_MAX_BYTES, &buf, &len);
	if (rc == 0) {
		*out = (char *)buf;
		return 0;
	}
	if (rc == GB_EIO && errno == ENOENT) {
		*missing = true;
		return 0;
	}
	fail(w, "sealed_unavailable", "%s: %s", o->sealed, rc == GB_ETOOBIG ?
	    "larger than 16384 bytes" : strerror(errno));
	return -1;
}

static int
store_blob(const struct sealed_opts *o, const char *text, struct why *w)
{
	char *resp = NULL;
	size_t len = 0;
	long st = 0;

	if (strcmp(o->sealed, "parent") == 0) {
		if (parent_call(o, "POST", "/sealed", text, &st, &resp, &len,
		    4096, w) != 0)
			return -1;
		free(resp);
		if (st != 200 && st != 201 && st != 204) {
			fail(w, "sealed_store_failed", "the parent's POST /sealed "
			    "answered HTTP %ld", st);
			return -1;
		}
		return 0;
	}
	if (gb_write_file_atomic(o->sealed, text, strlen(text), 0644, 0) != 0) {
		fail(w, "sealed_store_failed", "%s: %s", o->sealed,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* The attestation with the recipient's public key (a new buffer). */
static int
attest_recipient(struct enclave *e, const struct gb_kms_recipient *r,
    uint8_t **doc, size_t *doc_len, struct why *w)
{
	static uint8_t buf[GB_NSM_RESPONSE_MAX];     /* under nsm_mu */
	struct gb_nsm_response resp;
	enum gb_nsm_status st;
	const uint8_t *spki;
	size_t spki_len;
	int rc = -1;

	spki = gb_kms_recipient_spki(r, &spki_len);
	pthread_mutex_lock(&e->nsm_mu);
	st = gb_nsm_attestation(&e->nsm, NULL, 0, NULL, 0, spki, spki_len, buf,
	    &resp);
	if (st == GB_NSM_SUCCESS) {
		if ((*doc = malloc(resp.document_len)) != NULL) {
			memcpy(*doc, resp.document, resp.document_len);
			*doc_len = resp.document_len;
			rc = 0;
		} else {
			st = GB_NSM_INTERNAL_ERROR;
		}
	}
	pthread_mutex_unlock(&e->nsm_mu);
	if (rc != 0)
		fail(w, "nsm_error", "the NSM refused the attestation for KMS: "
		    "%s (%s)", gb_nsm_status_name(st), gb_nsm_status_text(st));
	return rc;
}

/*
 * One KMS call with a fresh recipient key and attestation; on expired or
 * unknown credentials, new ones from the parent and one more try.
 */
static int
kms_call(struct enclave *e, const struct sealed_opts *o, const char *key,
    struct secrets *s, const uint8_t *blob, size_t blob_len, struct why *w)
{
	struct gb_kms_recipient *r = NULL;
	struct gb_kms_endpoint ep = { o->endpoint, o->region, o->ca_file,
	    o->have_proxy ? &o->proxy : NULL };
	struct gb_kms_attested att = { NULL, NULL, 0 };
	struct gb_kms_error ke;
	uint8_t *doc = NULL;
	int rc = -1;

	if (gb_kms_recipient_new(o->rsa_bits, &r) != 0) {
		fail(w, "kms_internal", "cannot make the RSA recipient key");
		goto out;
	}
	if (attest_recipient(e, r, &doc, &att.doc_len, w) != 0)
		goto out;
	att.key = r;
	att.doc = doc;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (get_creds(o, attempt > 0, &s->creds, w) != 0)
			goto out;
		rc = blob ? gb_kms_decrypt(&ep, &s->creds, key, blob, blob_len,
		    seal_context, &att, &s->kms, &ke) :
		    gb_kms_generate_data_key(&ep, &s->creds, key, seal_context,
		    &att, &s->kms, &ke);
		gb_kms_creds_wipe(&s->creds);
		if (rc == 0)
			break;
		fail_kms(w, &ke);
		rc = -1;
		if (attempt > 0 || (strcmp(ke.code, "kms_expired_token") != 0 &&
		    strcmp(ke.code, "kms_bad_credentials") != 0))
			break;
		fprintf(stderr, "glassbox-enclave: KMS refused the credentials "
		    "(%s): asking the parent for fresh ones\n", ke.code);
	}
out:
	free(doc);
	gb_kms_recipient_free(r);
	return rc;
}

static void
aad_of(const char *arn, const uint8_t pub[32], uint8_t *aad, size_t *len)
{
	size_t n = 0, l = strlen(arn);

	memcpy(aad, SEALED_FORMAT, sizeof SEALED_FORMAT);   /* with its NUL */
	n += sizeof SEALED_FORMAT;
	memcpy(aad + n, arn, l + 1);
	n += l + 1;
	memcpy(aad + n, pub, 32);
	*len = n + 32;
}

/* AES-256-GCM, one shot; enc: in is the seed, out ciphertext || tag;
 * otherwise the reverse. Returns 0 or -1 (tag mismatch included). */
static int
gcm(bool enc, const uint8_t key[32], const uint8_t nonce[12],
    const uint8_t *aad, size_t aad_len, const uint8_t *in, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t tag[SEALED_TAG_BYTES];
	int n, rc = -1;

	if (c == NULL || EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key,
	    nonce, enc) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
		goto out;
	if (!enc) {
		memcpy(tag, in + GB_ED25519_SEED_BYTES, sizeof tag);
		if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, sizeof tag,
		    tag) != 1)
			goto out;
	}
	if (EVP_CipherUpdate(c, out, &n, in, GB_ED25519_SEED_BYTES) != 1 ||
	    EVP_CipherFinal_ex(c, out + n, &n) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, sizeof tag,
	    out + GB_ED25519_SEED_BYTES) != 1)
		goto out;
	rc = 0;
out:
	if (rc != 0 && !enc)
		OPENSSL_cleanse(out, GB_ED25519_SEED_BYTES);
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/* A base64 member decoded to exactly want bytes (want 0: 1..max). */
static uint8_t *
b64_exact(json_t *j, const char *name, size_t want, size_t max, size_t *len)
{
	const char *s = json_string_value(json_object_get(j, name));
	uint8_t *out = NULL;

	if (s == NULL || gb_base64_decode_alloc(s, strlen(s), want ? want : max,
	    &out, len) != 0 || (want && *len != want) || *len == 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Opens a blob: the seed into e->seed and the key into e->pub;
 * *previous: it was sealed under --previous-kms-key. */
static int
unseal(struct enclave *e, const struct sealed_opts *o, struct secrets *s,
    const char *text, bool *previous, struct why *w)
{
	json_t *j = gb_json_loadb(text, strlen(text), 0, NULL);
	const char *fmt = json_string_value(json_object_get(j, "format"));
	const char *arn = json_string_value(json_object_get(j, "kms_key"));
	const char *pub_hex = json_string_value(json_object_get(j,
	    "public_key"));
	uint8_t *blob = NULL, *nonce = NULL, *sealed = NULL, pub[32], chk[32];
	uint8_t aad[sizeof SEALED_FORMAT + GB_KMS_ARN_MAX + 1 + 32];
	size_t blob_len = 0, nonce_len, sealed_len, aad_len;
	int rc = -1;

	if (!json_is_object(j) || fmt == NULL ||
	    strcmp(fmt, SEALED_FORMAT) != 0 || arn == NULL ||
	    strlen(arn) > GB_KMS_ARN_MAX || pub_hex == NULL ||
	    gb_hex_decode(pub_hex, strlen(pub_hex), pub, sizeof pub) != 0 ||
	    (blob = b64_exact(j, "ciphertext_blob", 0, GB_KMS_BLOB_MAX_BYTES,
	    &blob_len)) == NULL ||
	    (nonce = b64_exact(j, "nonce", SEALED_NONCE_BYTES, 0, &nonce_len))
	    == NULL || (sealed = b64_exact(j, "sealed_seed",
	    GB_ED25519_SEED_BYTES + SEALED_TAG_BYTES, 0, &sealed_len)) ==
	    NULL) {
		fail(w, "sealed_malformed", "the sealed blob is not a %s "
		    "object with kms_key, ciphertext_blob, nonce (12 bytes), "
		    "sealed_seed (48 bytes) and public_key (32 bytes)",
		    SEALED_FORMAT);
		goto out;
	}
	/* The key is one this image names, not the blob's say. */
	*previous = o->previous_key != NULL && strcmp(arn, o->previous_key) ==
	    0;
	if (strcmp(arn, o->kms_key) != 0 && !*previous) {
		fail(w, "sealed_wrong_key", "the blob was sealed under %.200s, "
		    "not --kms-key%s", arn, o->previous_key ? " or "
		    "--previous-kms-key" : "");
		goto out;
	}
	if (kms_call(e, o, arn, s, blob, blob_len, w) != 0)
		goto out;
	aad_of(arn, pub, aad, &aad_len);
	if (gcm(false, s->kms.data_key, nonce, aad, aad_len, sealed, e->seed)
	    != 0 || gb_ed25519_public(e->seed, chk) != 0 ||
	    CRYPTO_memcmp(chk, pub, sizeof pub) != 0) {
		OPENSSL_cleanse(e->seed, GB_ED25519_SEED_BYTES);
		fail(w, "sealed_corrupt", "the sealed seed does not open with "
		    "the data key (the blob was altered, or belongs to "
		    "another key)");
		goto out;
	}
	memcpy(e->pub, pub, sizeof pub);
	rc = 0;
out:
	gb_kms_result_free(&s->kms);
	free(blob);
	free(nonce);
	free(sealed);
	json_decref(j);
	return rc;
}

/* The seed (a new one when fresh, else e->seed as it is) sealed under a
 * new data key of --kms-key; the blob's text (new) in *text. */
static int
seal(struct enclave *e, const struct sealed_opts *o, struct secrets *s,
    bool fresh, char **text, struct why *w)
{
	uint8_t nonce[SEALED_NONCE_BYTES], sealed[GB_ED25519_SEED_BYTES +
	    SEALED_TAG_BYTES];
	uint8_t aad[sizeof SEALED_FORMAT + GB_KMS_ARN_MAX + 1 + 32];
	char *b_blob = NULL, *b_nonce = NULL, *b_sealed = NULL, pub_hex[65];
	size_t aad_len;
	json_t *j = NULL;
	int rc = -1;

	*text = NULL;
	if (kms_call(e, o, o->kms_key, s, NULL, 0, w) != 0)
		goto out;
	if ((fresh && (gb_ed25519_generate(e->seed) != 0 ||
	    gb_ed25519_public(e->seed, e->pub) != 0)) ||
	    RAND_bytes(nonce, sizeof nonce) != 1) {
		fail(w, "internal", "cannot make the key");
		goto out;
	}
	aad_of(o->kms_key, e->pub, aad, &aad_len);
	if (gcm(true, s->kms.data_key, nonce, aad, aad_len, e->seed, sealed)
	    != 0) {
		fail(w, "internal", "cannot seal the key");
		goto out;
	}
	gb_hex_encode(pub_hex, e->pub, sizeof e->pub);
	if (gb_base64_encode_alloc(s->kms.blob, s->kms.blob_len, &b_blob) ||
	    gb_base64_encode_alloc(nonce, sizeof nonce, &b_nonce) ||
	    gb_base64_encode_alloc(sealed, sizeof sealed, &b_sealed) ||
	    (j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "format",
	    SEALED_FORMAT, "kms_key", o->kms_key, "ciphertext_blob", b_blob,
	    "nonce", b_nonce, "sealed_seed", b_sealed, "public_key", pub_hex))
	    == NULL || (*text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)) ==
	    NULL) {
		fail(w, "internal", "out of memory");
		goto out;
	}
	rc = 0;
out:
	gb_kms_result_free(&s->kms);
	free(b_blob);
	free(b_nonce);
	free(b_sealed);
	json_decref(j);
	return rc;
}

int
sealed_key_init(struct enclave *e, const struct sealed_opts *o)
{
	struct secrets *s;
	struct why w = { "", "" };
	char *text = NULL, *fresh = NULL;
	bool missing = false, previous = false;
	int rc = -1;

	s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED) {
		fprintf(stderr, "glassbox-enclave: sealed key: internal: no "
		    "memory\n");
		return -1;
	}
	(void)mlock(s, sizeof *s);
	(void)madvise(s, sizeof *s, MADV_DONTDUMP);
	if (load_blob(o, &text, &missing, &w) != 0)
		goto out;
	if (!missing) {
		if (unseal(e, o, s, text, &previous, &w) == 0 && !previous) {
			e->key_source = "sealed";
			e->sealed_blob = text;
			text = NULL;
			rc = 0;
			goto out;
		}
		if (previous && w.code[0] == '\0') {
			/* Rotation: the same seed, sealed again under
			 * --kms-key; the parent keeps the old blob. */
			if (seal(e, o, s, false, &fresh, &w) != 0 ||
			    store_blob(o, fresh, &w) != 0) {
				OPENSSL_cleanse(e->seed, GB_ED25519_SEED_BYTES);
				goto out;
			}
			fprintf(stderr, "glassbox-enclave: the sealed key was "
			    "sealed again under --kms-key (it was under "
			    "--previous-kms-key)\n");
			e->key_source = "resealed";
			e->sealed_blob = fresh;
			fresh = NULL;
			rc = 0;
			goto out;
		}
		if (!o->allow_new_key)
			goto out;
		/* Said, and then replaced: the operator asked for it. */
		fprintf(stderr, "glassbox-enclave: sealed key: %s: %s; "
		    "--allow-new-key: making a new key\n", w.code, w.message);
	} else if (o->require_sealed) {
		fail(&w, "sealed_missing", "there is no sealed blob at %s and "
		    "--require-sealed is given", o->sealed);
		goto out;
	}
	if (seal(e, o, s, true, &fresh, &w) != 0 || store_blob(o, fresh, &w) !=
	    0) {
		OPENSSL_cleanse(e->seed, GB_ED25519_SEED_BYTES);
		goto out;
	}
	e->key_source = "new-sealed";
	e->sealed_blob = fresh;
	fresh = NULL;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "glassbox-enclave: sealed key: %s: %s\n", w.code,
		    w.message);
	OPENSSL_cleanse(s, sizeof *s);
	munmap(s, sizeof *s);
	free(text);
	free(fresh);
	return rc;
}
