/*
 * Minting attestation documents in exactly the layout of the real NSM, signed
 * by a local P-384 chain shaped like AWS's: root -> regional (pathLen 2) ->
 * zonal (pathLen 1) -> instance (pathLen 0) -> leaf (not a CA). It is the core
 * of the NSM simulator and the way tests make documents of every kind,
 * including defective ones (the GB_MINT_* flags and raw field overrides).
 * The chain's subjects name the "Glassbox NSM simulator", never AWS.
 */
#ifndef GB_MINT_H
#define GB_MINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gb/attest.h"

/* Deliberate defects, for tests. */
enum {
	GB_MINT_ZONAL_NOT_CA = 1 << 0,      /* zonal CA with CA:FALSE */
	GB_MINT_PATHLEN_VIOLATION = 1 << 1, /* regional CA with pathLen 0 */
	GB_MINT_LEAF_IS_CA = 1 << 2,        /* leaf with CA:TRUE */
	GB_MINT_BROKEN_LINK = 1 << 3,       /* zonal signed by a stranger */
	GB_MINT_INSTANCE_NO_CERTSIGN = 1 << 4, /* instance CA without keyCertSign */
	GB_MINT_UNKNOWN_CRITICAL = 1 << 5,  /* instance CA: unknown critical ext */
	GB_MINT_LEAF_WRONG_ISSUER = 1 << 6, /* leaf names the zonal CA as issuer */
	GB_MINT_LEAF_WRONG_AKID = 1 << 7,   /* leaf's AKID is the zonal CA's */
	GB_MINT_NAME_CONSTRAINED = 1 << 8,  /* zonal CA: DNS names in example.com */
	GB_MINT_NAME_CONSTRAINED_OK = 1 << 9, /* zonal CA: in glassbox-sim */
	GB_MINT_LEAF_OTHER_NAME = 1 << 10,  /* leaf CN in example.org */
};

struct gb_mint_chain_opts {
	int64_t now_ms;             /* 0: the clock; validity is around it */
	int64_t leaf_not_before_ms; /* 0: now - 60 s */
	int64_t leaf_not_after_ms;  /* 0: now + 3 h, as the NSM's leaves */
	unsigned flags;             /* GB_MINT_* */
	/* The leaf's keyUsage, in OpenSSL's configuration syntax (e.g.
	 * "critical,cRLSign"); NULL: "critical,digitalSignature,
	 * nonRepudiation", the NSM's; "": no keyUsage extension at all. */
	const char *leaf_key_usage;
};

struct gb_mint_chain;

/* Makes a new chain with fresh keys. Returns 0 or GB_ENOMEM / GB_ECRYPTO. */
int gb_mint_chain_new(const struct gb_mint_chain_opts *o,
    struct gb_mint_chain **out);
void gb_mint_chain_free(struct gb_mint_chain *c);

/* Replaces the leaf with a new one (new key) under the same CAs; only the
 * leaf flags, times and keyUsage of o count. Returns 0 or GB_ECRYPTO. */
int gb_mint_chain_new_leaf(struct gb_mint_chain *c,
    const struct gb_mint_chain_opts *o);

/*
 * Keeps a chain in a directory (created mode 0700): level0..4.key (PEM,
 * mode 0600), level0..4.der, module_id. Loading re-issues the leaf when it
 * has less than 10 minutes left, and makes a whole new chain (a new root)
 * if a CA would expire within an hour or the directory holds none.
 * *renewed says a new root was made. Return 0 or a negative enum gb_err.
 */
int gb_mint_chain_save(const struct gb_mint_chain *c, const char *dir);
int gb_mint_chain_load(const char *dir, struct gb_mint_chain **out,
    bool *renewed);

/* The module id documents of this chain carry. Borrowed. */
const char *gb_mint_chain_module_id(const struct gb_mint_chain *c);

/* DER of level 0 (root) .. 3 (instance CA), 4 (leaf). Borrowed. */
struct gb_span gb_mint_chain_cert(const struct gb_mint_chain *c, int level);

/* Payload keys, for overrides. */
enum gb_mint_field {
	GB_MF_MODULE_ID, GB_MF_DIGEST, GB_MF_TIMESTAMP, GB_MF_PCRS,
	GB_MF_CERTIFICATE, GB_MF_CABUNDLE, GB_MF_PUBLIC_KEY, GB_MF_USER_DATA,
	GB_MF_NONCE, GB_MF__COUNT
};

struct gb_mint_doc {
	const char *module_id;      /* NULL: "i-0123456789abcdef0-enc..." */
	int64_t timestamp_ms;       /* 0: now */
	unsigned pcr_count;         /* 0: 16 (PCR0..15, 48 bytes each) */
	const uint8_t (*pcrs)[48];  /* pcr_count values, or NULL for zeros */
	struct gb_span public_key;  /* ptr NULL: CBOR null */
	struct gb_span user_data;
	struct gb_span nonce;
	bool definite_map;          /* payload map 0xa9 (before mid-2025) */
	/* For tests: raw CBOR to put as a field's value, fields to leave out
	 * (bit per enum gb_mint_field), raw key/value pairs to append. */
	struct gb_span raw[GB_MF__COUNT];
	unsigned omit;
	struct gb_span extra;
	unsigned extra_pairs;
};

/* Issues a document. Returns 0 and a new buffer (*out, from malloc()). */
int gb_mint_document(struct gb_mint_chain *c, const struct gb_mint_doc *d,
    uint8_t **out, size_t *out_len);

/* Wraps a payload into a COSE_Sign1 signed by the chain's leaf, in the NSM's
 * layout (untagged, protected {1: -35}, unprotected {}). */
int gb_mint_sign(struct gb_mint_chain *c, const uint8_t *payload,
    size_t payload_len, uint8_t **out, size_t *out_len);

#endif /* GB_MINT_H */
