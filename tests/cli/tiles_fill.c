/*
 * tiles_fill DB N: grows the registry's log to N entries with filler leaves
 * ({"n":I,"type":"filler"}), appended raw (gb__registry_append_raw: no
 * rules, no signatures), so that the tiles test can reach full tiles and
 * higher levels in seconds. A test tool only: such a log fails its audit.
 *
 * tiles_fill --path LEVEL N WIDTH: prints gb_registry_tile_path()'s path
 * (LEVEL -1: entries), for indexes no test log reaches.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb/registry.h"
#include "reg_int.h"

#define BATCH 4096

int
main(int argc, char **argv)
{
	static char bufs[BATCH][48];
	const char *batch[BATCH];
	struct gb_registry *r;
	struct gb_reg_error e = { "", "" };
	uint64_t size, want;

	if (argc == 5 && strcmp(argv[1], "--path") == 0) {
		char path[256];

		if (gb_registry_tile_path(atoi(argv[2]), strtoull(argv[3], NULL,
		    10), (unsigned)atoi(argv[4]), path, sizeof path) != 0)
			return 1;
		puts(path);
		return 0;
	}
	if (argc != 3 || (want = strtoull(argv[2], NULL, 10)) == 0) {
		fprintf(stderr, "usage: tiles_fill DB N\n");
		return 2;
	}
	if (gb_registry_open(argv[1], true, &r, &e) != 0 ||
	    gb_registry_size(r, &size) != 0) {
		fprintf(stderr, "tiles_fill: %s: %s\n", e.code, e.message);
		return 1;
	}
	while (size < want) {
		size_t n = want - size < BATCH ? (size_t)(want - size) : BATCH;

		for (size_t i = 0; i < n; i++) {
			snprintf(bufs[i], sizeof bufs[i], "{\"n\":%" PRIu64
			    ",\"type\":\"filler\"}", size + i);
			batch[i] = bufs[i];
		}
		if (gb__registry_append_raw(r, batch, n, &e) != 0) {
			fprintf(stderr, "tiles_fill: %s: %s\n", e.code,
			    e.message);
			return 1;
		}
		size += n;
	}
	gb_registry_close(r);
	return 0;
}
