/*
 * Minting documents (see gb/mint.h). Certificates are made with OpenSSL's
 * X509 builder; CBOR is written with libcbor's encoders into a growable
 * buffer, in the key order and encodings the NSM uses (serde_cbor: shortest
 * integers, definite strings, all nine keys present, null for absent values).
 */
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "gb/codec.h"
#include "gb/err.h"
#include "gb/mint.h"
#include "gb/timefmt.h"
#include "p384_int.h"

#define LEVELS 5   /* root, regional, zonal, instance, leaf */

struct gb_mint_chain {
	EVP_PKEY *key[LEVELS];
	X509 *cert[LEVELS];
	uint8_t *der[LEVELS];           /* from OPENSSL_malloc() via i2d */
	size_t der_len[LEVELS];
	char module_id[64];
	int64_t now_ms;                 /* validity is around it */
};

static const char *const level_cn[LEVELS] = {
	"glassbox-sim.nitro-enclaves",
	"us-east-1.glassbox-sim.nitro-enclaves",
	"zone-a.us-east-1.glassbox-sim.nitro-enclaves",
	"instance.zone-a.us-east-1.glassbox-sim.nitro-enclaves",
	"i-0123456789abcdef0-enc0123456789abcdef.us-east-1.glassbox-sim",
};

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

static int
set_time(ASN1_TIME *t, int64_t ms)
{
	return ASN1_TIME_set(t, (time_t)(ms / 1000)) != NULL;
}

/* Adds a critical extension of a private OID nobody knows (value NULL). */
static int
add_unknown_critical(X509 *cert)
{
	static const unsigned char null_der[] = { 0x05, 0x00 };
	ASN1_OCTET_STRING *val = ASN1_OCTET_STRING_new();
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.55555.1.1", 1);
	X509_EXTENSION *ext = NULL;
	int ok;

	ok = val != NULL && oid != NULL &&
	    ASN1_OCTET_STRING_set(val, null_der, sizeof null_der) &&
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, val)) != NULL &&
	    X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	ASN1_OBJECT_free(oid);
	ASN1_OCTET_STRING_free(val);
	return ok;
}

/* What one certificate of the chain is made of. */
struct cert_spec {
	const char *bc, *ku;            /* basicConstraints, keyUsage ("":
	                                 * none) */
	const char *nc;                 /* nameConstraints, or NULL */
	const char *cn;                 /* NULL: level_cn[level] */
	X509 *name_from, *akid_from;    /* if not the issuer: wrong links */
	bool unknown_critical;
};

static X509 *
make_cert(int level, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
    int64_t nb_ms, int64_t na_ms, const struct cert_spec *sp)
{
	X509 *x = X509_new();
	X509 *named = sp->name_from != NULL ? sp->name_from : issuer;
	X509 *akid = sp->akid_from != NULL ? sp->akid_from : issuer;
	X509 *ctx = issuer != NULL ? issuer : x;
	X509_NAME *name = NULL;
	BIGNUM *serial = NULL;
	int ok;

	if (x == NULL)
		return NULL;
	name = X509_NAME_new();
	serial = BN_new();
	ok = name != NULL && serial != NULL &&
	    X509_set_version(x, X509_VERSION_3) &&
	    BN_rand(serial, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) &&
	    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) != NULL &&
	    X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC,
	    (const unsigned char *)"US", -1, -1, 0) &&
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"Glassbox NSM simulator", -1, -1, 0) &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)(sp->cn != NULL ? sp->cn : level_cn[level]),
	    -1, -1, 0) &&
	    X509_set_subject_name(x, name) &&
	    X509_set_issuer_name(x, named != NULL ?
	    X509_get_subject_name(named) : name) &&
	    set_time(X509_getm_notBefore(x), nb_ms) &&
	    set_time(X509_getm_notAfter(x), na_ms) &&
	    X509_set_pubkey(x, key) &&
	    add_ext(x, ctx, NID_basic_constraints, sp->bc) &&
	    (sp->ku[0] == '\0' || add_ext(x, ctx, NID_key_usage, sp->ku)) &&
	    add_ext(x, ctx, NID_subject_key_identifier, "hash") &&
	    (akid == NULL || add_ext(x, akid, NID_authority_key_identifier,
	    "keyid:always")) &&
	    (sp->nc == NULL || add_ext(x, x, NID_name_constraints, sp->nc)) &&
	    (!sp->unknown_critical || add_unknown_critical(x)) &&
	    X509_sign(x, issuer_key, EVP_sha384()) > 0;
	X509_NAME_free(name);
	BN_free(serial);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

void
gb_mint_chain_free(struct gb_mint_chain *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < LEVELS; i++) {
		EVP_PKEY_free(c->key[i]);
		X509_free(c->cert[i]);
		OPENSSL_free(c->der[i]);
	}
	free(c);
}

/* (Re)makes level i: a fresh key, and its certificate signed by signer. */
static int
mint_level(struct gb_mint_chain *c, int i, EVP_PKEY *signer, int64_t nb,
    int64_t na, const struct cert_spec *sp)
{
	int n;

	EVP_PKEY_free(c->key[i]);
	X509_free(c->cert[i]);
	OPENSSL_free(c->der[i]);
	c->cert[i] = NULL;
	c->der[i] = NULL;
	if ((c->key[i] = EVP_EC_gen("P-384")) == NULL)
		return GB_ECRYPTO;
	if (signer == NULL)                     /* self-signed */
		signer = c->key[i];
	c->cert[i] = make_cert(i, c->key[i], i == 0 ? NULL : c->cert[i - 1],
	    signer, nb, na, sp);
	if (c->cert[i] == NULL || (n = i2d_X509(c->cert[i], &c->der[i])) <= 0)
		return GB_ECRYPTO;
	c->der_len[i] = (size_t)n;
	return 0;
}

int
gb_mint_chain_new_leaf(struct gb_mint_chain *c,
    const struct gb_mint_chain_opts *o)
{
	static const struct gb_mint_chain_opts defaults;
	const int64_t hour = 3600 * 1000LL;
	struct cert_spec sp = { .bc = "critical,CA:FALSE",
	    .ku = "critical,digitalSignature,nonRepudiation" };
	int err;

	if (o == NULL)
		o = &defaults;
	if (o->leaf_key_usage != NULL)
		sp.ku = o->leaf_key_usage;
	if (o->flags & GB_MINT_LEAF_IS_CA)
		sp.bc = "critical,CA:TRUE";
	if (o->flags & GB_MINT_LEAF_WRONG_ISSUER)
		sp.name_from = c->cert[2];
	if (o->flags & GB_MINT_LEAF_WRONG_AKID)
		sp.akid_from = c->cert[2];
	if (o->flags & GB_MINT_LEAF_OTHER_NAME)
		sp.cn = "i-0123456789abcdef0-enc0123456789abcdef.example.org";
	err = mint_level(c, 4, c->key[3],
	    o->leaf_not_before_ms != 0 ? o->leaf_not_before_ms :
	    c->now_ms - 60000,
	    o->leaf_not_after_ms != 0 ? o->leaf_not_after_ms :
	    c->now_ms + 3 * hour, &sp);
	ERR_clear_error();
	return err;
}

int
gb_mint_chain_new(const struct gb_mint_chain_opts *o,
    struct gb_mint_chain **out)
{
	static const struct gb_mint_chain_opts defaults;
	const int64_t hour = 3600 * 1000LL, day = 24 * hour;
	struct gb_mint_chain *c;
	EVP_PKEY *stranger = NULL;
	int64_t now, nb[LEVELS - 1], na[LEVELS - 1];
	struct cert_spec sp[LEVELS - 1] = {
		{ .bc = "critical,CA:TRUE",
		  .ku = "critical,keyCertSign,cRLSign" },
		{ .bc = "critical,CA:TRUE,pathlen:2",
		  .ku = "critical,digitalSignature,keyCertSign,cRLSign" },
		{ .bc = "critical,CA:TRUE,pathlen:1",
		  .ku = "critical,digitalSignature,keyCertSign,cRLSign" },
		{ .bc = "critical,CA:TRUE,pathlen:0",
		  .ku = "critical,keyCertSign" },
	};
	uint64_t id[2];
	int err = GB_ECRYPTO;

	if (o == NULL)
		o = &defaults;
	if ((c = calloc(1, sizeof *c)) == NULL)
		return GB_ENOMEM;
	now = c->now_ms = o->now_ms != 0 ? o->now_ms : gb_time_now_ms();
	nb[0] = now - 365 * day, na[0] = now + 30 * 365 * day;
	nb[1] = now - day, na[1] = now + 20 * day;
	nb[2] = now - day, na[2] = now + 6 * day;
	nb[3] = now - hour, na[3] = now + day;
	if (o->flags & GB_MINT_ZONAL_NOT_CA)
		sp[2].bc = "critical,CA:FALSE";
	if (o->flags & GB_MINT_PATHLEN_VIOLATION)
		sp[1].bc = "critical,CA:TRUE,pathlen:0";
	if (o->flags & GB_MINT_INSTANCE_NO_CERTSIGN)
		sp[3].ku = "critical,digitalSignature";
	sp[3].unknown_critical = o->flags & GB_MINT_UNKNOWN_CRITICAL;
	if (o->flags & GB_MINT_NAME_CONSTRAINED)
		sp[2].nc = "critical,permitted;DNS:example.com";
	if (o->flags & GB_MINT_NAME_CONSTRAINED_OK)
		sp[2].nc = "critical,permitted;DNS:glassbox-sim";
	if ((o->flags & GB_MINT_BROKEN_LINK) &&
	    (stranger = EVP_EC_gen("P-384")) == NULL)
		goto out;

	for (int i = 0; i < LEVELS - 1; i++)
		if (mint_level(c, i, i == 2 && stranger != NULL ? stranger :
		    i == 0 ? NULL : c->key[i - 1], nb[i], na[i], &sp[i]) != 0)
			goto out;
	if (gb_mint_chain_new_leaf(c, o) != 0)
		goto out;
	/* Real module ids: "i-" + 17 hex digits (the instance) + "-enc" + 16. */
	if (RAND_bytes((unsigned char *)id, sizeof id) != 1)
		goto out;
	snprintf(c->module_id, sizeof c->module_id, "i-%017llx-enc%016llx",
	    (unsigned long long)(id[0] & 0xfffffffffffffffULL),
	    (unsigned long long)id[1]);
	*out = c;
	c = NULL;
	err = 0;
out:
	EVP_PKEY_free(stranger);
	gb_mint_chain_free(c);
	ERR_clear_error();
	return err;
}

const char *
gb_mint_chain_module_id(const struct gb_mint_chain *c)
{
	return c->module_id;
}

static int
write_file(const char *path, const void *p, size_t n, mode_t mode)
{
	char tmp[4200];
	int fd, ok;

	/* Written aside and renamed: a crash leaves the old file or the new. */
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return GB_EINVAL;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode)) < 0)
		return GB_EIO;
	ok = write(fd, p, n) == (ssize_t)n && fsync(fd) == 0;
	ok = close(fd) == 0 && ok && rename(tmp, path) == 0;
	if (!ok)
		unlink(tmp);
	return ok ? 0 : GB_EIO;
}

int
gb_mint_chain_save(const struct gb_mint_chain *c, const char *dir)
{
	char path[4096];
	int err = 0;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return GB_EIO;
	for (int i = 0; i < LEVELS && err == 0; i++) {
		BIO *b = BIO_new(BIO_s_mem());
		char *pem;
		long n;

		if (b == NULL || !PEM_write_bio_PrivateKey(b, c->key[i], NULL,
		    NULL, 0, NULL, NULL) || (n = BIO_get_mem_data(b, &pem)) <= 0)
			err = GB_ECRYPTO;
		snprintf(path, sizeof path, "%s/level%d.key", dir, i);
		if (err == 0)
			err = write_file(path, pem, (size_t)n, 0600);
		BIO_free(b);
		snprintf(path, sizeof path, "%s/level%d.der", dir, i);
		if (err == 0)
			err = write_file(path, c->der[i], c->der_len[i], 0644);
	}
	snprintf(path, sizeof path, "%s/module_id", dir);
	if (err == 0)
		err = write_file(path, c->module_id, strlen(c->module_id), 0644);
	ERR_clear_error();
	return err;
}

/* Seconds from now to the certificate's notAfter (negative if past). */
static int64_t
secs_left(X509 *x)
{
	int days = 0, secs = 0;

	if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)))
		return -1;
	return (int64_t)days * 86400 + secs;
}

static int
load_level(struct gb_mint_chain *c, const char *dir, int i)
{
	char path[4096];
	const unsigned char *p;
	uint8_t *der;
	size_t len;
	FILE *f;

	snprintf(path, sizeof path, "%s/level%d.key", dir, i);
	if ((f = fopen(path, "r")) == NULL)
		return GB_ENOENT;
	c->key[i] = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	snprintf(path, sizeof path, "%s/level%d.der", dir, i);
	if (c->key[i] == NULL || gb_read_file(path, 4096, &der, &len) != 0)
		return GB_EINVAL;
	p = der;
	c->cert[i] = d2i_X509(NULL, &p, (long)len);
	if (c->cert[i] == NULL || (c->der[i] = OPENSSL_malloc(len)) == NULL) {
		free(der);
		return GB_EINVAL;
	}
	memcpy(c->der[i], der, len);
	c->der_len[i] = len;
	free(der);
	return 0;
}

int
gb_mint_chain_load(const char *dir, struct gb_mint_chain **out, bool *renewed)
{
	struct gb_mint_chain *c = calloc(1, sizeof *c);
	char path[4096];
	uint8_t *id = NULL;
	size_t len;
	int err = 0;

	*out = NULL;
	*renewed = false;
	if (c == NULL)
		return GB_ENOMEM;
	for (int i = 0; i < LEVELS && err == 0; i++)
		err = load_level(c, dir, i);
	snprintf(path, sizeof path, "%s/module_id", dir);
	if (err == 0 && gb_read_file(path, sizeof c->module_id - 1, &id,
	    &len) == 0) {
		memcpy(c->module_id, id, len);
		c->module_id[len] = '\0';
		free(id);
	} else if (err == 0) {
		err = GB_EINVAL;
	}
	for (int i = 0; i < LEVELS - 1 && err == 0; i++)
		if (secs_left(c->cert[i]) < 3600)
			err = GB_ENOENT;        /* a CA is about to expire */
	if (err == GB_ENOENT) {
		/* Nothing usable here: a new chain, and a new root. */
		gb_mint_chain_free(c);
		if ((err = gb_mint_chain_new(NULL, &c)) != 0)
			return err;
		*renewed = true;
	} else if (err != 0) {
		gb_mint_chain_free(c);
		ERR_clear_error();
		return err;
	} else if (secs_left(c->cert[4]) < 600) {
		c->now_ms = gb_time_now_ms();
		if ((err = gb_mint_chain_new_leaf(c, NULL)) != 0) {
			gb_mint_chain_free(c);
			return err;
		}
	}
	if ((err = gb_mint_chain_save(c, dir)) != 0) {
		gb_mint_chain_free(c);
		return err;
	}
	ERR_clear_error();
	*out = c;
	return 0;
}

struct gb_span
gb_mint_chain_cert(const struct gb_mint_chain *c, int level)
{
	if (level < 0 || level >= LEVELS)
		return (struct gb_span){ NULL, 0 };
	return (struct gb_span){ c->der[level], c->der_len[level] };
}

/* A growable output buffer; a failed allocation is sticky. */
struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void
put(struct wbuf *b, const void *data, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

/* Writes a head produced by one of libcbor's cbor_encode_* functions, which
 * return the bytes written (at most 9), or 0 if the buffer was too small. */
#define PUT_HEAD(b, fn, v) do {                                         \
	unsigned char h_[9];                                            \
	size_t n_ = fn((v), h_, sizeof h_);                             \
	if (n_ == 0 || n_ > sizeof h_)                                  \
		(b)->oom = true;                                        \
	else                                                            \
		put((b), h_, n_);                                       \
} while (0)

static void
put_bytes(struct wbuf *b, const uint8_t *p, size_t n)
{
	PUT_HEAD(b, cbor_encode_bytestring_start, n);
	put(b, p, n);
}

static void
put_text(struct wbuf *b, const char *s)
{
	PUT_HEAD(b, cbor_encode_string_start, strlen(s));
	put(b, s, strlen(s));
}

static void
put_null(struct wbuf *b)
{
	static const uint8_t null = 0xf6;

	put(b, &null, 1);
}

static void
put_opt(struct wbuf *b, struct gb_span s)
{
	if (s.ptr == NULL)
		put_null(b);
	else
		put_bytes(b, s.ptr, s.len);
}

static const char *const field_key[GB_MF__COUNT] = {
	"module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle",
	"public_key", "user_data", "nonce",
};

static void
put_field(struct wbuf *b, struct gb_mint_chain *c, const struct gb_mint_doc *d,
    enum gb_mint_field f)
{
	static const uint8_t zeros[48];
	unsigned npcr = d->pcr_count ? d->pcr_count : 16;

	if (d->raw[f].ptr != NULL) {
		put(b, d->raw[f].ptr, d->raw[f].len);
		return;
	}
	switch (f) {
	case GB_MF_MODULE_ID:
		put_text(b, d->module_id != NULL ? d->module_id : c->module_id);
		break;
	case GB_MF_DIGEST:
		put_text(b, "SHA384");
		break;
	case GB_MF_TIMESTAMP:
		PUT_HEAD(b, cbor_encode_uint, (uint64_t)(d->timestamp_ms != 0 ?
		    d->timestamp_ms : gb_time_now_ms()));
		break;
	case GB_MF_PCRS:
		PUT_HEAD(b, cbor_encode_map_start, npcr);
		for (unsigned i = 0; i < npcr; i++) {
			PUT_HEAD(b, cbor_encode_uint, i);
			put_bytes(b, d->pcrs != NULL ? d->pcrs[i] : zeros, 48);
		}
		break;
	case GB_MF_CERTIFICATE:
		put_bytes(b, c->der[4], c->der_len[4]);
		break;
	case GB_MF_CABUNDLE:
		PUT_HEAD(b, cbor_encode_array_start, 4);
		for (int i = 0; i < 4; i++)
			put_bytes(b, c->der[i], c->der_len[i]);
		break;
	case GB_MF_PUBLIC_KEY:
		put_opt(b, d->public_key);
		break;
	case GB_MF_USER_DATA:
		put_opt(b, d->user_data);
		break;
	case GB_MF_NONCE:
		put_opt(b, d->nonce);
		break;
	default:
		break;
	}
}

int
gb_mint_document(struct gb_mint_chain *c, const struct gb_mint_doc *d,
    uint8_t **out, size_t *out_len)
{
	struct wbuf b = { 0 };
	unsigned npairs = d->extra_pairs;
	int err;

	for (int f = 0; f < GB_MF__COUNT; f++)
		if (!(d->omit & (1u << f)))
			npairs++;
	if (d->definite_map) {
		PUT_HEAD(&b, cbor_encode_map_start, npairs);
	} else {
		unsigned char h = 0xbf;

		put(&b, &h, 1);
	}
	for (int f = 0; f < GB_MF__COUNT; f++) {
		if (d->omit & (1u << f))
			continue;
		put_text(&b, field_key[f]);
		put_field(&b, c, d, (enum gb_mint_field)f);
	}
	put(&b, d->extra.ptr, d->extra.len);
	if (!d->definite_map) {
		unsigned char brk = 0xff;

		put(&b, &brk, 1);
	}
	if (b.oom) {
		free(b.p);
		return GB_ENOMEM;
	}
	err = gb_mint_sign(c, b.p, b.len, out, out_len);
	free(b.p);
	return err;
}

int
gb_mint_sign(struct gb_mint_chain *c, const uint8_t *payload,
    size_t payload_len, uint8_t **out, size_t *out_len)
{
	static const uint8_t prot[] = { 0xa1, 0x01, 0x38, 0x22 };
	static const uint8_t sig1[] = { 0x84, 0x6a, 'S', 'i', 'g', 'n', 'a',
	    't', 'u', 'r', 'e', '1' };
	struct wbuf tbs = { 0 }, doc = { 0 };
	unsigned char der[128], raw[96];
	size_t derlen = sizeof der;
	EVP_MD_CTX *md = NULL;
	uint8_t empty = 0x40, arr = 0x84, unprot = 0xa0;
	int err = GB_ECRYPTO;

	put(&tbs, sig1, sizeof sig1);
	put_bytes(&tbs, prot, sizeof prot);
	put(&tbs, &empty, 1);
	put_bytes(&tbs, payload, payload_len);
	if (tbs.oom) {
		err = GB_ENOMEM;
		goto out;
	}
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, c->key[4]) != 1 ||
	    EVP_DigestSign(md, der, &derlen, tbs.p, tbs.len) != 1 ||
	    gb__p384_sig_from_der(der, derlen, raw) != 0)
		goto out;
	put(&doc, &arr, 1);
	put_bytes(&doc, prot, sizeof prot);
	put(&doc, &unprot, 1);
	put_bytes(&doc, payload, payload_len);
	put_bytes(&doc, raw, sizeof raw);
	if (doc.oom) {
		err = GB_ENOMEM;
		goto out;
	}
	*out = doc.p;
	*out_len = doc.len;
	doc.p = NULL;
	err = 0;
out:
	EVP_MD_CTX_free(md);
	free(tbs.p);
	free(doc.p);
	ERR_clear_error();
	return err;
}
