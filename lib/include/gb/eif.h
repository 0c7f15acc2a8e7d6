/*
 * Enclave Image Files (../shared/specs/EIF.md): measuring PCR0/1/2/8 from
 * the file itself, in one streaming pass (the file is never loaded whole),
 * with the hashing spread over two threads; and building small synthetic
 * images for tests and demos.
 */
#ifndef GB_EIF_H
#define GB_EIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_EIF_HEADER_BYTES 548
#define GB_EIF_SECTION_HEADER_BYTES 12
#define GB_EIF_MAX_SECTIONS 32
#define GB_EIF_METADATA_MAX (1 << 20)   /* bytes of the metadata JSON */
#define GB_EIF_SIGNATURE_MAX (1 << 20)  /* bytes of the signature section */

enum gb_eif_section {
	GB_EIF_INVALID = 0, GB_EIF_KERNEL = 1, GB_EIF_CMDLINE = 2,
	GB_EIF_RAMDISK = 3, GB_EIF_SIGNATURE = 4, GB_EIF_METADATA = 5,
};

struct gb_eif {
	uint16_t version, flags;
	uint64_t default_mem, default_cpus;
	unsigned nsections;
	struct {
		uint16_t type, flags;
		uint64_t offset, size;          /* of the section header, data */
	} sections[GB_EIF_MAX_SECTIONS];
	uint32_t crc_stored, crc_computed;
	bool crc_ok;
	uint8_t pcr0[48], pcr1[48], pcr2[48], pcr8[48];
	bool is_signed;                         /* PCR8 set */
	char *metadata;                         /* JSON text or NULL (malloc) */
	size_t metadata_len;
	char error[200];                        /* why it was refused */
};

/*
 * Measures the image read from fd (to its end). Returns 0, or GB_EINVAL
 * (a malformed image: out->error says what), GB_EIO, GB_ENOMEM. A CRC
 * mismatch is not an error here: crc_ok says it, and the caller decides.
 */
int gb_eif_measure_fd(int fd, struct gb_eif *out);
int gb_eif_measure_file(const char *path, struct gb_eif *out);
void gb_eif_free(struct gb_eif *e);

/* extend(x) = SHA384(48 zero bytes || SHA384(x)) for a digest of x. */
void gb_eif_extend(const uint8_t digest[48], uint8_t out[48]);

/* A synthetic (not bootable) image: kernel, cmdline, metadata, ramdisks in
 * that order, then an optional signature section. Returns 0 or an error. */
struct gb_eif_part {
	const void *data;
	size_t len;
};
int gb_eif_build(const char *path, struct gb_eif_part kernel,
    struct gb_eif_part cmdline, struct gb_eif_part metadata,
    const struct gb_eif_part *ramdisks, size_t nramdisks,
    struct gb_eif_part signature);

/* The signature section for a signing certificate (PEM) and key: a CBOR
 * array of one {signing_certificate, signature} map whose byte fields are
 * arrays of integers, the signature a COSE_Sign1 (ES384) over
 * {register_index: 0, register_value: PCR0}. out from malloc(). */
int gb_eif_signature_section(const char *cert_pem, const char *key_pem,
    const uint8_t pcr0[48], uint8_t **out, size_t *out_len);

#endif /* GB_EIF_H */
