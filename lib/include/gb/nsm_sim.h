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
 */
#ifndef GB_NSM_SIM_H
#define GB_NSM_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "gb/attest.h"
#include "gb/nsm.h"

struct gb_nsm_sim_opts {
	const uint8_t (*boot_pcrs)[48]; /* PCR0, PCR1, PCR2, or NULL: zeros */
	bool debug_mode;                /* PCR0..2 read as zeros */
};

struct gb_nsm_sim;

/* Returns 0 or a negative enum gb_err; *renewed: a new root was made. */
int gb_nsm_sim_open(const char *state_dir, const struct gb_nsm_sim_opts *o,
    struct gb_nsm_sim **out, bool *renewed);
void gb_nsm_sim_close(struct gb_nsm_sim *s);

/* The transport to hand to the gb_nsm calls. */
struct gb_nsm gb_nsm_sim_transport(struct gb_nsm_sim *s);

/* The root certificate (DER) and module id of the simulated NSM. */
struct gb_span gb_nsm_sim_root(const struct gb_nsm_sim *s);
const char *gb_nsm_sim_module_id(const struct gb_nsm_sim *s);

#endif /* GB_NSM_SIM_H */
