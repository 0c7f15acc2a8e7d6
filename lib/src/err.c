/*
 * Names and sentences for error codes and reason codes. The reason codes are
 * a public, stable vocabulary: never rename one, only add.
 */
#include <string.h>

#include "gb/err.h"

const char *
gb_strerror(int err)
{
	switch (err) {
	case GB_OK:      return "success";
	case GB_ENOMEM:  return "out of memory";
	case GB_EINVAL:  return "invalid argument";
	case GB_EIO:     return "input/output error";
	case GB_ETOOBIG: return "input too large";
	case GB_ECRYPTO: return "cryptographic library failure";
	case GB_ENOENT:  return "not found";
	}
	return "unknown error";
}

static const struct {
	const char *code;
	const char *text;
} reasons[GB_R__COUNT] = {
	[GB_R_OK] = { "ok", "the document is valid" },
	[GB_R_MALFORMED] = { "malformed",
	    "the document is not a well-formed CBOR COSE_Sign1 attestation document" },
	[GB_R_BAD_HEADER] = { "bad_header",
	    "the COSE headers are not {1: -35} (ES384) protected and {} unprotected" },
	[GB_R_BAD_FIELD] = { "bad_field",
	    "a payload field is missing, of the wrong type or out of range" },
	[GB_R_UNTRUSTED_ROOT] = { "untrusted_root",
	    "the certificate bundle does not start with the pinned root certificate" },
	[GB_R_BAD_CHAIN] = { "bad_chain",
	    "the certificate chain does not verify (signature, issuer or CA constraint)" },
	[GB_R_CERT_EXPIRED] = { "cert_expired",
	    "a certificate in the chain had expired at the verification time" },
	[GB_R_CERT_NOT_YET_VALID] = { "cert_not_yet_valid",
	    "a certificate in the chain was not yet valid at the verification time" },
	[GB_R_BAD_SIGNATURE] = { "bad_signature",
	    "the COSE signature does not verify with the enclave certificate's key" },
	[GB_R_DEBUG_MODE] = { "debug_mode",
	    "the enclave runs in debug mode (PCR0, PCR1 and PCR2 are zero)" },
	[GB_R_STALE] = { "stale",
	    "the document is older than the allowed age" },
	[GB_R_FUTURE] = { "future",
	    "the document's timestamp is ahead of the clock beyond the allowed skew" },
	[GB_R_NONCE_MISMATCH] = { "nonce_mismatch",
	    "the document's nonce is not the expected one" },
	[GB_R_NONCE_UNKNOWN] = { "nonce_unknown",
	    "the nonce was not issued by this verifier, has expired or was already used" },
	[GB_R_UNKNOWN_MEASUREMENT] = { "unknown_measurement",
	    "no published release has these PCR values" },
	[GB_R_REVOKED] = { "revoked",
	    "the matching release has been revoked" },
	[GB_R_BAD_RESULT_SIGNATURE] = { "bad_result_signature",
	    "the result's signature does not verify with the document's public key" },
	[GB_R_NO_PUBLIC_KEY] = { "no_public_key",
	    "the document carries no usable public key to check the result with" },
	[GB_R_RESULT_NOT_BOUND] = { "result_not_bound",
	    "the document's user_data is not the SHA-256 of the result, so the document says nothing about it" },
	[GB_R_WRONG_SIGNER] = { "wrong_signer",
	    "the result was signed by a key other than the one its release names (signer_key)" },
};

const char *
gb_reason_code(enum gb_reason r)
{
	if ((unsigned)r >= GB_R__COUNT)
		return NULL;
	return reasons[r].code;
}

const char *
gb_reason_text(enum gb_reason r)
{
	if ((unsigned)r >= GB_R__COUNT)
		return "unknown reason";
	return reasons[r].text;
}

int
gb_reason_parse(const char *code, enum gb_reason *out)
{
	for (int i = 0; i < GB_R__COUNT; i++) {
		if (strcmp(code, reasons[i].code) == 0) {
			*out = (enum gb_reason)i;
			return 0;
		}
	}
	return GB_EINVAL;
}
