/*
 * The test runner behind TEST_MAIN (see test.h).
 */
#include "test.h"

int gb_test_failed;

unsigned char *
gb_test_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	if ((buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

int
gb_test_main(int argc, char **argv, const struct gb_test *tests, size_t n)
{
	int failed = 0, ran = 0;

	for (size_t i = 0; i < n; i++) {
		int want = argc < 2;

		for (int a = 1; a < argc; a++)
			if (strcmp(argv[a], tests[i].name) == 0)
				want = 1;
		if (!want)
			continue;
		gb_test_failed = 0;
		tests[i].fn();
		ran++;
		printf("%s %s\n", gb_test_failed ? "FAIL" : "ok  ", tests[i].name);
		failed += gb_test_failed;
	}
	printf("%d passed, %d failed\n", ran - failed, failed);
	return failed ? 1 : 0;
}
