/*
 * A simulated Nitro Secure Module, behind the same transport as /dev/nsm
 * (gb/nsm.h): it decodes CBOR requests and answers CBOR responses, so the
 * enclave's code path is the same with either. Attestation documents come
 * from the minting module, in the real layout, under a 4-level chain kept in
 * a state directory (gb_mint_chain_load()), so a verifier can be pointed at
 * its root (STATE/level0.der).
 *
 * PCRs 0..15 are locked from the start (as after boot); 16..31 can be
 * extended (new = SHA-384(old || data)) and locked. Documents carry PCRs
 * 0..15 and every PCR from 16 that was extended or locked.
 *
 * The boot PCRs are set as the Nitro hypervisor sets them, so that every
 * KMS condition key (kms:RecipientAttestation:PCR0..4, 8) can be rehearsed:
 * PCR0..2 from the image, PCR3 from the parent's IAM role ARN, PCR4 from
 * its instance ID (both SHA-384(48 zero bytes || the text), the AWS Nitro
 * Enclaves User Guide, "Where to get an enclave's measurements"), PCR8
 * from the signing certificate of a signed image (SHA-384(48 zero bytes ||
 * SHA-384(DER)), aws-nitro-enclaves-image-format's certificate hasher).
 * In debug mode PCR0, 1, 2 and 8 read as zeros; PCR3 and 4 stay (real
 * debug-mode documents carry PCR3/4 and a zero PCR8: ../shared/vectors).
 * With an instance ID, the module id is "ID-enc..." like the real one.
 */
#ifndef GB_NSM_SIM_H
#define GB_NSM_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "gb/attest.h"
#include "gb/nsm.h"

/* Longest IAM role ARN (IAM: 2048 characters) and instance ID the
 * simulator takes. */
#define GB_NSM_SIM_ROLE_ARN_MAX 2048
#define GB_NSM_SIM_INSTANCE_ID_MAX 19   /* "i-" and 17 hex digits */

struct gb_nsm_sim_opts {
	const uint8_t (*boot_pcrs)[48]; /* PCR0, PCR1, PCR2, or NULL: zeros */
	bool debug_mode;                /* PCR0..2 and 8 read as zeros */
	const char *iam_role_arn;       /* PCR3, or NULL: zeros */
	const char *instance_id;        /* PCR4 ("i-" + 8 or 17 hex), or NULL */
	struct gb_span signing_cert;    /* PCR8: DER, or ptr NULL: zeros */
	const uint8_t *pcr8;            /* or PCR8 itself (48 bytes, e.g. from
					 * gb_eif_measure_file()), or NULL */
};

struct gb_nsm_sim;

/* Returns 0 or a negative enum gb_err (GB_EINVAL: a role ARN that is not
 * "arn:...:iam::ACCOUNT:role/...", an instance ID that is not one, both
 * signing_cert and pcr8, or a signing_cert that is not one DER
 * certificate); *renewed: a new root was made. */
int gb_nsm_sim_open(const char *state_dir, const struct gb_nsm_sim_opts *o,
    struct gb_nsm_sim **out, bool *renewed);
void gb_nsm_sim_close(struct gb_nsm_sim *s);

/* The transport to hand to the gb_nsm calls. */
struct gb_nsm gb_nsm_sim_transport(struct gb_nsm_sim *s);

/* PCR3/PCR4 of a role ARN or instance ID: SHA-384(48 zero bytes || s). */
void gb_nsm_pcr_of_text(const char *s, uint8_t out[48]);
/* PCR8 of a signing certificate: SHA-384(48 zero bytes || SHA-384(der)). */
void gb_nsm_pcr_of_cert(const uint8_t *der, size_t len, uint8_t out[48]);

/* The root certificate (DER) and module id of the simulated NSM. */
struct gb_span gb_nsm_sim_root(const struct gb_nsm_sim *s);
const char *gb_nsm_sim_module_id(const struct gb_nsm_sim *s);

#endif /* GB_NSM_SIM_H */
