/*
 * EIF measuring speed: a 1 GiB synthetic image (8 MiB kernel, 64 MiB boot
 * ramdisk, the rest an application ramdisk) is measured, and the wall time
 * compared with sha384sum over the same file in the same run (both after a
 * first read, so both come from the page cache). Target: at most 1.2 x.
 * usage: bench_eif [MiB]   (default 1024)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gb/eif.h"

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
	size_t total = mib << 20, k = 8 << 20, r0 = 64 << 20;
	char path[] = "/tmp/glassbox-bench-XXXXXX.eif", cmd[256];
	struct gb_eif_part rd[2];
	struct gb_eif e;
	uint8_t *buf;
	double t, tsum = 1e9, teif = 1e9;
	int fd;

	if (total < k + r0 + (1 << 20) || (buf = malloc(total)) == NULL ||
	    (fd = mkstemps(path, 4)) < 0)
		return 2;
	close(fd);
	for (size_t i = 0; i < total; i++)      /* not all zeros */
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	rd[0] = (struct gb_eif_part){ buf + k, r0 };
	rd[1] = (struct gb_eif_part){ buf + k + r0, total - k - r0 };
	if (gb_eif_build(path, (struct gb_eif_part){ buf, k },
	    (struct gb_eif_part){ "console=ttyS0", 13 },
	    (struct gb_eif_part){ "{}", 2 }, rd, 2,
	    (struct gb_eif_part){ NULL, 0 }) != 0)
		return 2;
	free(buf);
	snprintf(cmd, sizeof cmd, "sha384sum %s > /dev/null", path);
	for (int round = 0; round < 3; round++) {   /* best of 3 each */
		t = now();
		if (system(cmd) != 0)
			return 2;
		t = now() - t;
		tsum = t < tsum ? t : tsum;
		t = now();
		if (gb_eif_measure_file(path, &e) != 0 || !e.crc_ok)
			return 3;
		t = now() - t;
		gb_eif_free(&e);
		teif = t < teif ? t : teif;
	}
	unlink(path);
	printf("%zu MiB image: sha384sum %.2f s, glassbox eif measure %.2f s "
	    "(PCR0/1/2 and CRC); ratio %.2f (target <= 1.2)\n", mib, tsum,
	    teif, teif / tsum);
	return 0;
}
