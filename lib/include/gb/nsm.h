/*
 * The Nitro Secure Module protocol (../shared/specs/NSM.md): CBOR requests
 * and responses in serde's externally tagged form, over a transport that is
 * the /dev/nsm ioctl in an enclave, the simulator elsewhere, or whatever a
 * test supplies.
 */
#ifndef GB_NSM_H
#define GB_NSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_NSM_IOCTL 0xC0200A00u       /* _IOWR(0x0A, 0, 32 bytes) */
#define GB_NSM_REQUEST_MAX 4096        /* the driver refuses more */
#define GB_NSM_RESPONSE_MAX 12288      /* the largest response buffer */
/* An Attestation request's fields, as AWS bounds them (aws-nitro-enclaves-
 * nsm-api docs/attestation_process.md): public_key 1..1024 bytes (the DER
 * of an RSA-4096 key, which a KMS Recipient uses, is about 550), user_data
 * and nonce 0..512. */
#define GB_NSM_PUBLIC_KEY_MAX 1024
#define GB_NSM_USER_FIELD_MAX 512      /* user_data, nonce */
#define GB_NSM_PCR_MAX 32

/* The NSM's error codes, and ours (transport and decoding). */
enum gb_nsm_status {
	GB_NSM_SUCCESS = 0,
	GB_NSM_INVALID_ARGUMENT,
	GB_NSM_INVALID_INDEX,
	GB_NSM_INVALID_RESPONSE,
	GB_NSM_READ_ONLY_INDEX,
	GB_NSM_INVALID_OPERATION,
	GB_NSM_BUFFER_TOO_SMALL,
	GB_NSM_INPUT_TOO_LARGE,
	GB_NSM_INTERNAL_ERROR,
	GB_NSM_E_TRANSPORT,         /* the device or transport failed */
	GB_NSM_E_DECODE,            /* the response is not what NSM.md says */
	GB_NSM_E_MISMATCH,          /* a response to another request */
	GB_NSM__COUNT
};

/* "InvalidArgument", ... as the NSM spells them (ours: "Transport",
 * "Decode", "Mismatch"), and a sentence for people. */
const char *gb_nsm_status_name(enum gb_nsm_status s);
const char *gb_nsm_status_text(enum gb_nsm_status s);
/* The status named by an NSM error string, or -1. */
int gb_nsm_status_parse(const char *name, size_t len);

/* Moves one request to the NSM and its response back. resp has room for
 * *resp_len bytes; on return *resp_len is the response's length. Returns 0
 * or -1 (errno set) if the transport failed. */
typedef int (*gb_nsm_xfer)(void *ctx, const uint8_t *req, size_t req_len,
    uint8_t *resp, size_t *resp_len);

struct gb_nsm {
	gb_nsm_xfer xfer;
	void *ctx;
};

/* Opens /dev/nsm (path: NULL for it) as the transport. Returns 0 or -1. */
int gb_nsm_open_dev(const char *path, struct gb_nsm *out);
void gb_nsm_close_dev(struct gb_nsm *n);

/* The ioctl transport on an open file descriptor (ctx: the fd, cast). */
int gb_nsm_dev_xfer(void *ctx, const uint8_t *req, size_t req_len,
    uint8_t *resp, size_t *resp_len);

/* Requests, encoded exactly as serde_cbor does (NSM.md). Each returns the
 * length written to out (at most GB_NSM_REQUEST_MAX) or 0 on error; for an
 * attestation, a field out of its bounds (above) is an error, and so is an
 * empty public_key (NULL asks for none). */
size_t gb_nsm_enc_attestation(uint8_t *out, const uint8_t *user_data,
    size_t ud_len, const uint8_t *nonce, size_t nonce_len,
    const uint8_t *public_key, size_t pk_len);
size_t gb_nsm_enc_describe_pcr(uint8_t *out, unsigned index);
size_t gb_nsm_enc_extend_pcr(uint8_t *out, unsigned index,
    const uint8_t *data, size_t len);
size_t gb_nsm_enc_lock_pcr(uint8_t *out, unsigned index);
size_t gb_nsm_enc_lock_pcrs(uint8_t *out, unsigned range);
size_t gb_nsm_enc_simple(uint8_t *out, const char *name); /* DescribeNSM, GetRandom */

/* A decoded response. Byte fields point into the response buffer. */
struct gb_nsm_response {
	enum gb_nsm_status status;          /* SUCCESS, or the Error code */
	char kind[16];                      /* "Attestation", "DescribePCR", ... */
	const uint8_t *document;            /* Attestation */
	size_t document_len;
	bool lock;                          /* DescribePCR */
	const uint8_t *data;                /* DescribePCR, ExtendPCR */
	size_t data_len;
	const uint8_t *random;              /* GetRandom */
	size_t random_len;
	struct {                            /* DescribeNSM */
		uint16_t major, minor, patch, max_pcrs;
		char module_id[129];
		char digest[16];
		uint16_t locked[GB_NSM_PCR_MAX];
		unsigned nlocked;
	} nsm;
};

/* Decodes a response: keys in any order, definite or indefinite maps, no
 * trailing bytes. Returns SUCCESS, the NSM's error (out->status too) or
 * GB_NSM_E_DECODE. */
enum gb_nsm_status gb_nsm_decode(const uint8_t *resp, size_t len,
    struct gb_nsm_response *out);

/*
 * The calls: one request, one response, checked to be the answer to that
 * request. The response buffer is the caller's (GB_NSM_RESPONSE_MAX bytes);
 * out points into it.
 */
enum gb_nsm_status gb_nsm_call(const struct gb_nsm *n, const uint8_t *req,
    size_t req_len, const char *want_kind, uint8_t *buf,
    struct gb_nsm_response *out);
/* Attestation: a field too large is GB_NSM_INPUT_TOO_LARGE, an empty
 * public_key GB_NSM_INVALID_ARGUMENT, both without a call to the NSM. */
enum gb_nsm_status gb_nsm_attestation(const struct gb_nsm *n,
    const uint8_t *user_data, size_t ud_len, const uint8_t *nonce,
    size_t nonce_len, const uint8_t *public_key, size_t pk_len,
    uint8_t *buf, struct gb_nsm_response *out);

#endif /* GB_NSM_H */
