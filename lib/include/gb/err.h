/*
 * Error codes and reason codes.
 *
 * Two different things fail in Glassbox and they are kept apart:
 *  - an operation can fail (out of memory, I/O, bad usage): functions return 0
 *    or a negative enum gb_err, and gb_strerror() names it;
 *  - a document can be rejected: that is not an error of the program but an
 *    answer, expressed as one enum gb_reason whose stable lower-case code
 *    (gb_reason_code()) the CLI, the HTTP API and the web page all share.
 */
#ifndef GB_ERR_H
#define GB_ERR_H

enum gb_err {
	GB_OK = 0,
	GB_ENOMEM = -1,   /* an allocation failed */
	GB_EINVAL = -2,   /* invalid argument or input */
	GB_EIO = -3,      /* reading or writing failed */
	GB_ETOOBIG = -4,  /* input larger than its limit */
	GB_ECRYPTO = -5,  /* a cryptographic library call failed */
	GB_ENOENT = -6,   /* no such file or entry */
};

/* Returns a static sentence for an enum gb_err value; never NULL. */
const char *gb_strerror(int err);

/*
 * Reasons, in the order the checks run (DESIGN.md "Reason codes"): the first
 * failing check names the reason, so the order is part of the contract.
 */
enum gb_reason {
	GB_R_OK = 0,
	GB_R_MALFORMED,
	GB_R_BAD_HEADER,
	GB_R_BAD_FIELD,
	GB_R_UNTRUSTED_ROOT,
	GB_R_BAD_CHAIN,
	GB_R_CERT_EXPIRED,
	GB_R_CERT_NOT_YET_VALID,
	GB_R_BAD_SIGNATURE,
	GB_R_DEBUG_MODE,
	GB_R_STALE,
	GB_R_FUTURE,
	GB_R_NONCE_MISMATCH,
	GB_R_NONCE_UNKNOWN,
	GB_R_UNKNOWN_MEASUREMENT,
	GB_R_REVOKED,
	GB_R_BAD_RESULT_SIGNATURE,
	GB_R_NO_PUBLIC_KEY,
	GB_R_RESULT_NOT_BOUND,
	GB_R_WRONG_SIGNER,      /* the release names another signer_key */
	GB_R__COUNT
};

/* "malformed", "bad_header", ...; "ok" for GB_R_OK; NULL if out of range. */
const char *gb_reason_code(enum gb_reason r);

/* A sentence describing the reason in general terms; never NULL. */
const char *gb_reason_text(enum gb_reason r);

/* Looks a code up; returns 0 and sets *out, or GB_EINVAL if unknown. */
int gb_reason_parse(const char *code, enum gb_reason *out);

#endif /* GB_ERR_H */
