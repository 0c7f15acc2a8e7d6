/*
 * Policy over a cryptographically valid document: what the caller asks of it
 * beyond authenticity. The order (debug mode, freshness, nonce, kind,
 * expected PCRs) is the documented check order.
 */
#include <string.h>

#include "gb/attest.h"

enum gb_reason
gb_policy_check(const struct gb_policy *p, const struct gb_doc *doc,
    struct gb_result *res)
{
	int64_t ts = (int64_t)doc->timestamp_ms;

	if (!p->allow_debug && gb_doc_is_debug(doc))
		return gb_result_set(res, GB_R_DEBUG_MODE,
		    "PCR0, PCR1 and PCR2 are all zero: a debug-mode enclave");
	if (p->check_freshness) {
		if (ts < p->now_ms - p->max_age_ms)
			return gb_result_set(res, GB_R_STALE,
			    "the document is %lld ms old, more than %lld ms",
			    (long long)(p->now_ms - ts),
			    (long long)p->max_age_ms);
		if (ts > p->now_ms + p->max_skew_ms)
			return gb_result_set(res, GB_R_FUTURE,
			    "the document is %lld ms ahead of the clock, more "
			    "than the %lld ms allowed", (long long)(ts - p->now_ms),
			    (long long)p->max_skew_ms);
	}
	if (p->nonce != NULL &&
	    (doc->nonce.ptr == NULL || doc->nonce.len != p->nonce_len ||
	    memcmp(doc->nonce.ptr, p->nonce, p->nonce_len) != 0))
		return gb_result_set(res, GB_R_NONCE_MISMATCH,
		    doc->nonce.ptr == NULL ? "the document carries no nonce" :
		    "the document's nonce is not the expected one");
	/* An enclave's PCRs and an instance's TPM registers share indices,
	 * not meaning: a value expected of one is never met by the other. */
	if (p->check_kind && doc->kind != p->kind)
		return gb_result_set(res, GB_R_UNKNOWN_MEASUREMENT,
		    "the document is %s's (%s), not %s's as expected",
		    doc->kind == GB_DOC_NITROTPM ? "an instance NitroTPM" :
		    "an enclave", gb_doc_pcrs_key(doc->kind),
		    p->kind == GB_DOC_NITROTPM ? "an instance NitroTPM" :
		    "an enclave");
	for (size_t i = 0; i < p->expect_count; i++) {
		const struct gb_expect_pcr *e = &p->expect[i];
		const struct gb_span *v = e->index < GB_PCR_MAX_COUNT ?
		    &doc->pcrs[e->index] : NULL;

		if (v == NULL || v->ptr == NULL || v->len != e->len ||
		    memcmp(v->ptr, e->value, e->len) != 0)
			return gb_result_set(res, GB_R_UNKNOWN_MEASUREMENT,
			    "%sPCR%u is not the expected value",
			    doc->kind == GB_DOC_NITROTPM ? "NitroTPM " : "",
			    e->index);
	}
	return gb_result_set(res, GB_R_OK, "valid");
}
