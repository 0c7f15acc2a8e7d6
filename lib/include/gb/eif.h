/*
 * Enclave Image Files (../shared/specs/EIF.md): measuring PCR0/1/2/8 from
 * the file itself, in one streaming pass (the file is never loaded whole),
 * with the hashing spread over two threads; checking a signed image's
 * COSE_Sign1 over PCR0 with the certificate it carries; describing an image
 * as `nitro-cli describe-eif` does; and building small synthetic images for
 * tests and demos.
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
/* The describe-eif JSON: the metadata (at most 1 MiB) grows at most six
 * times when every byte is a control character written as \u00XX, plus
 * the measurements and the certificate's fields. */
#define GB_EIF_DESCRIBE_MAX_BYTES (8 << 20)

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
	/* Signed images: the signing certificate in DER (malloc), whether the
	 * COSE_Sign1 verifies with its key and signs {register_index: 0,
	 * register_value: PCR0} (nitro-cli's SignatureCheck), and if not, why. */
	uint8_t *cert_der;
	size_t cert_der_len;
	bool sig_ok;
	char sig_error[160];
	/* Sections whose size in the header's table differs from their own
	 * header's. Only the signature section may (nitro-cli sign-eif leaves
	 * its entry stale when it re-signs); any other is refused. */
	unsigned stale_sizes;
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
/* Releases what a measurement allocated; e may be all zeros. */
void gb_eif_free(struct gb_eif *e);

/*
 * What `nitro-cli describe-eif` prints for the measured image, byte for
 * byte as serde_json's to_string_pretty() writes it, final newline
 * included (docs/eif.md lists the rules). Metadata that nitro-cli could not
 * read into its EifIdentityInfo (a missing or mistyped field, a
 * CustomMetadata that is neither an object nor null, ...) is left out with
 * ImageName and ImageVersion, and note says why (NUL-terminated, "" when
 * the metadata was described or the image has no metadata section, as
 * EIF v3 images do). Returns 0 and a NUL-terminated *out
 * (malloc, the caller frees) of *out_len bytes, or GB_ENOMEM, or GB_EINVAL
 * past GB_EIF_DESCRIBE_MAX_BYTES; nothing is written to out on failure.
 */
int gb_eif_describe(const struct gb_eif *e, char **out, size_t *out_len,
    char *note, size_t note_len);

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
