/*
 * libFuzzer target for the EIF parser (gb_eif_measure_fd): the input is a
 * whole image file, through a memory file. An image that measures is also
 * described (gb_eif_describe: the metadata's flattening, the signing
 * certificate's fields), so the corpus's signed images with nitro-cli
 * metadata reach the COSE check and the JSON writer.
 */
#define _GNU_SOURCE             /* memfd_create */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gb/eif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gb_eif e;
	char *text, note[200];
	size_t len;
	int fd = memfd_create("eif", 0);

	if (fd < 0)
		return 0;
	if (size == 0 || write(fd, data, size) == (ssize_t)size) {
		(void)lseek(fd, 0, SEEK_SET);
		if (gb_eif_measure_fd(fd, &e) == 0 &&
		    gb_eif_describe(&e, &text, &len, note, sizeof note) == 0)
			free(text);
		gb_eif_free(&e);
	}
	close(fd);
	return 0;
}
