/*
 * glassbox-enclave: the state the request handlers share, and the handler
 * itself (api.c), apart from main.c so that tests/fuzz/fuzz_http.c can
 * serve real requests with it.
 */
#ifndef GB_ENCLAVE_H
#define GB_ENCLAVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "gb/ed25519.h"
#include "gb/httpd.h"
#include "gb/nsm.h"
#include "gb/nsm_sim.h"

/* The reasons a request is refused with, as its problem JSON's "reason"
 * and the label of glassbox_enclave_refusals_total (api.c's table). */
enum enclave_refusal {
	ENCLAVE_R_BAD_REQUEST,
	ENCLAVE_R_UNKNOWN_FIELD,
	ENCLAVE_R_METHOD_NOT_ALLOWED,
	ENCLAVE_R_NOT_FOUND,
	ENCLAVE_R_NSM_ERROR,
	ENCLAVE_R_INTERNAL,
	ENCLAVE_R_NO_MEMORY,
	ENCLAVE_R_NOT_SEALED,
	ENCLAVE_R__COUNT
};

/* Counters since start, for GET /metrics (zero-initialised with the struct;
 * updated by every server thread). */
struct enclave_counters {
	atomic_uint_fast64_t signs;             /* signatures made */
	atomic_uint_fast64_t attestations;      /* documents the NSM issued */
	atomic_uint_fast64_t refusals[ENCLAVE_R__COUNT];
};

struct enclave {
	struct gb_nsm nsm;
	struct gb_nsm_sim *sim;
	pthread_mutex_t nsm_mu;         /* one NSM request at a time */
	uint8_t *seed;                  /* locked page, wiped on exit */
	uint8_t pub[GB_ED25519_PUB_BYTES];
	char pub_hex[2 * GB_ED25519_PUB_BYTES + 1];
	char module_id[129];
	const char *nsm_kind;
	/* The signer key's origin: "ephemeral" (new at this start, as
	 * before), "sealed" (opened from the sealed blob), "new-sealed"
	 * (first start: made and sealed) or "resealed" (opened from a blob of
	 * --previous-kms-key and sealed under --kms-key); static strings. */
	const char *key_source;
	char *sealed_blob;              /* its blob's JSON (malloc), or NULL */
	struct enclave_counters count;
};

/* Serves one request (a gb_http_handler; arg is the struct enclave). */
void enclave_handle(void *arg, const struct gb_http_req *q,
    struct gb_http_resp *r);

#endif /* GB_ENCLAVE_H */
