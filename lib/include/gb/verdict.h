/*
 * The verifier's signed verdict, checked offline (docs/verdict.md): a
 * compact JWS (EdDSA) whose claims bind the verdict to one request (the
 * document's exact bytes and fields, the result, the nonce), and a C2SP
 * tlog-proof@v1 receipt for the release it names.
 *
 * The verifier builds its claims and receipts with the same functions a
 * client checks them with, so the two cannot drift apart.
 */
#ifndef GB_VERDICT_H
#define GB_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gb/attest.h"
#include "gb/ed25519.h"
#include "gb/merkle.h"
#include "gb/tlog_policy.h"

/* A whole compact JWS. Claims are about 2 KiB with 32 PCRs of 64 bytes;
 * 64 KiB refuses only junk. */
#define GB_VERDICT_JWS_MAX_BYTES 65536

/* A whole tlog-proof text: the leaf (a signed statement of at most 64 KiB
 * in base64 plus its armored signature, about 110 KiB), base64 again in
 * the extra line, the proof lines and the checkpoint note. */
#define GB_TLOG_PROOF_MAX_BYTES 262144

/* How far iat may be ahead of the checker's clock, in seconds. */
#define GB_VERDICT_SKEW_S 60

/* "kid": the first 8 bytes of SHA-256 of the raw public key, in hex. */
#define GB_VERDICT_KID_BYTES 17     /* 16 hex digits and a NUL */
void gb_verdict_kid(const uint8_t pub[GB_ED25519_PUB_BYTES],
    char kid[GB_VERDICT_KID_BYTES]);

/*
 * The `glassbox.document` claim for the document bytes buf[0..len): its
 * "sha256" always, and when d (parsed from those same bytes) is not NULL,
 * module_id, timestamp, digest, the registers (pcrs; for a NitroTPM
 * document "kind": "nitrotpm" and nitrotpm_pcrs instead), public_key_sha256,
 * user_data_sha256 and nonce. Returns a new reference, or NULL if out of
 * memory.
 */
json_t *gb_verdict_document_claim(const uint8_t *buf, size_t len,
    const struct gb_doc *d);

/* Lower-case hex SHA-256 of buf as a new JSON string (NULL: no memory). */
json_t *gb_verdict_sha256_hex(const uint8_t *buf, size_t len);

/*
 * Writes a tlog-proof@v1 text: the entry (its exact bytes) in the extra
 * line, the index, the n inclusion proof hashes and the checkpoint note as
 * served. Returns 0 and a new string in *out (from malloc()), GB_EINVAL if
 * the note is empty or does not end in a newline, GB_ENOMEM.
 */
int gb_tlog_proof_format(const void *entry, size_t entry_len, uint64_t index,
    const uint8_t (*proof)[GB_HASH_BYTES], size_t n, const char *note,
    size_t note_len, char **out);

/* What a client holds and pins. Pointers are borrowed. */
struct gb_verdict_input {
	const char *jws;            /* the compact JWS */
	size_t jws_len;
	const char *tlog_proof;     /* NULL: none given */
	size_t tlog_proof_len;
	const uint8_t *doc;         /* the raw COSE_Sign1 the client sent */
	size_t doc_len;
	const uint8_t *result;      /* NULL: no result was sent */
	size_t result_len;
	const uint8_t *nonce;       /* NULL: do not check eat_nonce */
	size_t nonce_len;
	const uint8_t *verdict_pub; /* pinned raw Ed25519 key, 32 bytes */
	const char *verdict_kid;    /* its kid; NULL: derived from the key */
	const char *log_vkey;       /* pinned C2SP verifier key of the log */
	int64_t now_s;              /* the checker's time, s since 1970 */
	const char *at;             /* the time the client asked: "now" (also
	                             * NULL), "document", ms digits or RFC 3339 */
	const struct gb_tlog_policy *policy;  /* NULL: no quorum required;
	                             * else the receipt's checkpoint must
	                             * satisfy it (step 5, below_quorum) */
};

#define GB_VERDICT_REASON_MAX 32
#define GB_VERDICT_CLAIM_MAX 64
#define GB_VERDICT_MESSAGE_MAX 320

/* The answer. reason is "ok" when valid; claim is set (else "") only with
 * "verdict_mismatch". claims is the verdict's claim set (a new reference,
 * the caller's to json_decref()) once its signature verified, else NULL. */
struct gb_verdict_outcome {
	bool valid;
	char reason[GB_VERDICT_REASON_MAX];
	char claim[GB_VERDICT_CLAIM_MAX];
	char message[GB_VERDICT_MESSAGE_MAX];
	json_t *claims;
	/* With a policy, once a receipt's checkpoint was evaluated: which
	 * witnesses' cosignatures verified and whether the quorum holds
	 * (names borrowed from the policy). */
	bool quorum_checked;
	struct gb_tlog_policy_result quorum;
};

/*
 * Checks a verdict in docs/verdict.md's order: bad_verdict,
 * bad_verdict_signature, verdict_mismatch, verdict_expired, bad_proof,
 * below_quorum (only with in->policy), verdict_mismatch naming glassbox.at or glassbox.freshness (the verdict
 * answers another question than in->at), then the verdict's own status
 * (valid only when "affirming"; a contraindicated verdict is refused with
 * its own reason code). The document's chain is not checked again (the
 * verdict says it was); its bytes are hashed and parsed.
 *
 * Returns 0 with *out filled whether the verdict passed or not; GB_EINVAL if
 * the pinned keys cannot be used (verdict_pub NULL, log_vkey not a C2SP
 * verifier key) or in->at is not a time gb_time_parse_at() reads, at or
 * after 1970; GB_ENOMEM. *out is always initialized, and out->claims,
 * when not NULL, is the caller's to json_decref() whatever the return.
 */
int gb_verdict_check(const struct gb_verdict_input *in,
    struct gb_verdict_outcome *out);

#endif /* GB_VERDICT_H */
