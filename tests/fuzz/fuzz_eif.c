/*
 * libFuzzer target for the EIF parser (gb_eif_measure_fd): the input is a
 * whole image file, through a memory file.
 */
#define _GNU_SOURCE             /* memfd_create */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gb/eif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gb_eif e;
	int fd = memfd_create("eif", 0);

	if (fd < 0)
		return 0;
	if (size == 0 || write(fd, data, size) == (ssize_t)size) {
		(void)lseek(fd, 0, SEEK_SET);
		(void)gb_eif_measure_fd(fd, &e);
		gb_eif_free(&e);
	}
	close(fd);
	return 0;
}
