/*
 * EIF measurement (gb/eif.h) on malformed images: truncation at every
 * length, section sizes that overflow or point past the end, offsets out
 * of order, unknown section types, trailing bytes, an empty file; and the
 * PCRs of the synthetic image against SHA-384 computed here directly.
 */
#define _GNU_SOURCE             /* memfd_create */
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "gb/eif.h"
#include "gb/err.h"
#include "test.h"

static uint8_t img[1024];
static size_t img_len;

static void
synthetic(void)
{
	struct gb_eif_part rd[2] = { { "BOOTRAMDISK", 11 }, { "APPRAMDISK", 10 } };
	char path[] = "/tmp/gb-eif-XXXXXX";
	FILE *f;
	int fd = mkstemp(path);

	close(fd);
	if (gb_eif_build(path, (struct gb_eif_part){ "KERNEL", 6 },
	    (struct gb_eif_part){ "console=ttyS0", 13 },
	    (struct gb_eif_part){ "{}", 2 }, rd, 2,
	    (struct gb_eif_part){ NULL, 0 }) != 0 ||
	    (f = fopen(path, "rb")) == NULL)
		exit(2);
	img_len = fread(img, 1, sizeof img, f);
	fclose(f);
	unlink(path);
}

/* Measures bytes through a memory file. */
static int
measure(const uint8_t *p, size_t n, struct gb_eif *e)
{
	int fd = memfd_create("eif", 0), rc;

	if (fd < 0 || (n > 0 && write(fd, p, n) != (ssize_t)n) ||
	    lseek(fd, 0, SEEK_SET) != 0)
		exit(2);
	rc = gb_eif_measure_fd(fd, e);
	close(fd);
	gb_eif_free(e);
	return rc;
}

static void
extend_of(const char *s, uint8_t out[48])
{
	uint8_t md[48];

	EVP_Digest(s, strlen(s), md, NULL, EVP_sha384(), NULL);
	gb_eif_extend(md, out);
}

TEST(synthetic_image)
{
	uint8_t want[48], z[96] = { 0 }, md[48];
	struct gb_eif e;

	synthetic();
	ASSERT_EQ(img_len, 650);
	ASSERT_EQ(measure(img, img_len, &e), 0);
	ASSERT(e.crc_ok && e.crc_computed == 0xac0e49e8u);
	ASSERT_EQ(e.nsections, 5);
	ASSERT_EQ(e.sections[3].offset, 605);
	extend_of("KERNELconsole=ttyS0BOOTRAMDISKAPPRAMDISK", want);
	ASSERT(memcmp(e.pcr0, want, 48) == 0);
	extend_of("KERNELconsole=ttyS0BOOTRAMDISK", want);
	ASSERT(memcmp(e.pcr1, want, 48) == 0);
	extend_of("APPRAMDISK", want);
	ASSERT(memcmp(e.pcr2, want, 48) == 0);
	/* extend() itself: SHA384(48 zeros || digest). */
	EVP_Digest("x", 1, z + 48, NULL, EVP_sha384(), NULL);
	EVP_Digest(z, 96, md, NULL, EVP_sha384(), NULL);
	extend_of("x", want);
	ASSERT(memcmp(md, want, 48) == 0);
	ASSERT(!e.is_signed);
}

TEST(truncated_at_every_length)
{
	struct gb_eif e;

	synthetic();
	for (size_t n = 0; n < img_len; n++) {
		int rc = measure(img, n, &e);

		if (rc != GB_EINVAL || e.error[0] == '\0')
			FAIL_AT("%zu bytes: rc %d, \"%s\"", n, rc, e.error);
	}
	ASSERT_EQ(measure(img, img_len, &e), 0);
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

TEST(malformed_headers)
{
	static const struct {
		size_t at;                      /* where to write */
		uint64_t v;
		int width;                      /* 8 or 2 bytes */
		const char *words;
	} cases[] = {
		{ 284 + 8 * 3, UINT64_MAX - 10, 8, "says" },    /* sizes[3] */
		{ 605 + 4, UINT64_MAX - 10, 8, "says" },        /* section hdr */
		{ 28 + 8 * 2, 700, 8, "offset" },               /* offsets[2] */
		{ 26, 33, 2, "sections" },                      /* num_sections */
		{ 26, 0, 2, "sections" },
		{ 26, 4, 2, "follow" },         /* a section left unlisted */
		{ 628, 7, 2, "unknown type" },  /* last section's type */
		{ 628, 0, 2, "unknown type" },
		{ 0, 0x2e656967, 2, "magic" },
	};
	uint8_t bad[1024];
	struct gb_eif e;

	synthetic();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memcpy(bad, img, img_len);
		if (cases[i].width == 8) {
			put64(bad + cases[i].at, cases[i].v);
		} else {
			bad[cases[i].at] = (uint8_t)(cases[i].v >> 8);
			bad[cases[i].at + 1] = (uint8_t)cases[i].v;
		}
		if (measure(bad, img_len, &e) != GB_EINVAL ||
		    strstr(e.error, cases[i].words) == NULL)
			FAIL_AT("case %zu: \"%s\" lacks \"%s\"", i, e.error,
			    cases[i].words);
	}
	/* Both sizes agree and overflow the file: it ends inside. */
	memcpy(bad, img, img_len);
	put64(bad + 284 + 8 * 4, 1u << 30);
	put64(bad + 628 + 4, 1u << 30);
	ASSERT_EQ(measure(bad, img_len, &e), GB_EINVAL);
	ASSERT(strstr(e.error, "ends inside") != NULL);
	/* Trailing bytes. */
	memcpy(bad, img, img_len);
	bad[img_len] = 0;
	ASSERT_EQ(measure(bad, img_len + 1, &e), GB_EINVAL);
	ASSERT(strstr(e.error, "follow") != NULL);
	/* A changed byte of data: CRC mismatch, not an error. */
	memcpy(bad, img, img_len);
	bad[640] ^= 1;
	ASSERT_EQ(measure(bad, img_len, &e), 0);
	ASSERT(!e.crc_ok);
}

TEST_MAIN(
	T(synthetic_image),
	T(truncated_at_every_length),
	T(malformed_headers),
)
