/*
 * Nitro attestation documents: parsing, verification and policy.
 *
 * gb_doc_parse() decodes a COSE_Sign1 attestation document strictly (syntax
 * only). gb_verifier_verify() parses and then checks the certificate chain to
 * the pinned root and the COSE signature at a chosen time. gb_policy_check()
 * applies what the caller asks of a cryptographically valid document (debug
 * mode, freshness, nonce, expected PCRs). Each step answers with one enum
 * gb_reason, the first check that failed, in the order of DESIGN.md.
 */
#ifndef GB_ATTEST_H
#define GB_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gb/err.h"
#include "gb/limits.h"

/* A borrowed view of bytes. ptr == NULL means absent or CBOR null; an empty
 * byte string has ptr != NULL and len == 0. */
struct gb_span {
	const uint8_t *ptr;
	size_t len;
};

/*
 * What a document attests. The NSM of an enclave writes "pcrs" (the
 * enclave image's measurements); the NitroTPM of an EC2 instance writes
 * "nitrotpm_pcrs" (the instance's TPM registers, SHA-384 bank) in the same
 * COSE layout, signed by the same AWS chain. A document carries exactly
 * one of the two. The registers of either land in gb_doc.pcrs; kind says
 * which they are, and nothing may compare one kind's with the other's.
 */
enum gb_doc_kind {
	GB_DOC_ENCLAVE = 0,
	GB_DOC_NITROTPM = 1,
};

/* A NitroTPM document has every register of a TPM 2.0 PC Client platform,
 * PCR0..PCR23 (TCG PC Client Platform TPM Profile), each a SHA-384 value
 * (its digest is "SHA384"); all three real documents do. */
#define GB_NITROTPM_PCR_COUNT 24
#define GB_NITROTPM_PCR_BYTES 48

/* "enclave" or "nitrotpm": the word the CLI, the API and verdicts use. */
const char *gb_doc_kind_name(enum gb_doc_kind kind);

/* The payload key of the kind's registers: "pcrs" or "nitrotpm_pcrs". */
const char *gb_doc_pcrs_key(enum gb_doc_kind kind);

/* A parsed document. Every span points into the buffer given to
 * gb_doc_parse(), which must outlive the struct. */
struct gb_doc {
	bool tagged;                     /* wrapped in CBOR tag 18 */
	enum gb_doc_kind kind;           /* whose registers pcrs[] holds */
	struct gb_span protected_hdr;    /* content of the protected bstr */
	struct gb_span payload;          /* content of the payload bstr */
	struct gb_span signature;        /* raw r || s */
	struct gb_span module_id;        /* printable ASCII, not NUL-terminated */
	struct gb_span digest;           /* "SHA384" */
	uint64_t timestamp_ms;
	/* pcrs, or nitrotpm_pcrs for GB_DOC_NITROTPM; ptr NULL: index not
	 * present. */
	struct gb_span pcrs[GB_PCR_MAX_COUNT];
	unsigned pcr_count;
	struct gb_span certificate;      /* the leaf, DER */
	struct gb_span cabundle[GB_CABUNDLE_MAX_CERTS]; /* [0] is the root */
	unsigned cabundle_count;
	struct gb_span public_key;
	struct gb_span user_data;
	struct gb_span nonce;
};

/* Why a document was rejected: the reason and a sentence naming the detail
 * (which field, which certificate). */
#define GB_DETAIL_MAX_BYTES 200
struct gb_result {
	enum gb_reason reason;
	char detail[GB_DETAIL_MAX_BYTES];
};

/* Sets r and returns r->reason. detail is a printf format. */
enum gb_reason gb_result_set(struct gb_result *r, enum gb_reason reason,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Parses a document of len bytes. Returns GB_R_OK and fills *doc, or one of
 * GB_R_MALFORMED, GB_R_BAD_HEADER, GB_R_BAD_FIELD (also in res, when res is not
 * NULL) and leaves *doc unspecified. Never allocates.
 */
enum gb_reason gb_doc_parse(const uint8_t *buf, size_t len, struct gb_doc *doc,
    struct gb_result *res);

/* True if an enclave document's PCR0, PCR1 and PCR2 are present and all
 * their bytes are zero (a debug-mode enclave). Always false for a NitroTPM
 * document: its PCR0..2 measure AWS's firmware, and debug mode is an
 * enclave's. */
bool gb_doc_is_debug(const struct gb_doc *doc);

/* The verification time "the document's own timestamp". */
#define GB_AT_DOCUMENT INT64_MIN

/* Which verification caches a verifier uses (all by default). */
enum {
	GB_CACHE_CHAIN = 1 << 0,  /* verified CA chains (root .. instance CA) */
	GB_CACHE_LEAF = 1 << 1,   /* verified leaf certificates with their chain */
	GB_CACHE_DOC = 1 << 2,    /* whole documents verified before */
	GB_CACHE_ALL = 7,
};

struct gb_cache_stats {
	uint64_t hits[3];         /* chain, leaf, document */
	uint64_t misses[3];
};

/* A verifier holds the pinned root and the caches; it is safe to share between
 * threads. */
struct gb_verifier;

/* The built-in AWS Nitro Enclaves Root-G1 (DER) and its SHA-256. */
extern const uint8_t gb_aws_root_g1_der[];
extern const size_t gb_aws_root_g1_der_len;
extern const char gb_aws_root_g1_sha256[];

/*
 * Makes a verifier pinned to root_der (NULL: the built-in AWS root, whose
 * SHA-256 is checked against gb_aws_root_g1_sha256). The root is copied.
 * Returns 0 and a new verifier in *out (free with gb_verifier_free()), or
 * GB_EINVAL if the root is not one DER certificate, GB_ENOMEM, GB_ECRYPTO.
 */
int gb_verifier_new(const uint8_t *root_der, size_t root_len,
    struct gb_verifier **out);
void gb_verifier_free(struct gb_verifier *v);

/* Chooses the caches (GB_CACHE_* bits); existing entries are dropped. */
void gb_verifier_set_caches(struct gb_verifier *v, unsigned caches);
void gb_verifier_stats(struct gb_verifier *v, struct gb_cache_stats *out);

/* SHA-256 of the pinned root, 64 lower-case hex digits and a NUL. */
const char *gb_verifier_root_sha256(const struct gb_verifier *v);

/*
 * Parses and verifies a document at time at_ms (ms since the epoch, or
 * GB_AT_DOCUMENT for the document's own timestamp): syntax, root, chain,
 * validity times and COSE signature, in that order. Returns GB_R_OK, or the
 * first failing reason (also in res). *doc is filled whenever parsing
 * succeeded, so callers can show what a rejected document says.
 */
enum gb_reason gb_verifier_verify(struct gb_verifier *v, const uint8_t *buf,
    size_t len, int64_t at_ms, struct gb_doc *doc, struct gb_result *res);

/* What the caller asks of a document beyond its authenticity. */
struct gb_expect_pcr {
	unsigned index;
	uint8_t value[GB_PCR_MAX_BYTES];
	size_t len;
};

struct gb_policy {
	bool allow_debug;
	bool check_kind;          /* the document must be of kind ... */
	enum gb_doc_kind kind;
	bool check_freshness;     /* stale and future, against now_ms */
	int64_t now_ms;
	int64_t max_age_ms;       /* older than now_ms - max_age_ms: stale */
	int64_t max_skew_ms;      /* newer than now_ms + max_skew_ms: future */
	const uint8_t *nonce;     /* non-NULL: the document must carry it */
	size_t nonce_len;
	const struct gb_expect_pcr *expect;  /* each must match exactly */
	size_t expect_count;
};

/*
 * Applies the policy to a verified document, in the order debug mode,
 * freshness, nonce, kind, expected PCRs (the registers of the document's
 * kind). Returns GB_R_OK or the first failure; a document of another kind
 * than asked is GB_R_UNKNOWN_MEASUREMENT, like a register that differs.
 */
enum gb_reason gb_policy_check(const struct gb_policy *p,
    const struct gb_doc *doc, struct gb_result *res);

#endif /* GB_ATTEST_H */
