/*
 * A minimal test harness: assertions that print both sides, and a table of
 * named tests per program. A failed assertion reports and returns from the
 * test; main() runs all tests (or those named on the command line) and exits
 * non-zero if any failed.
 */
#ifndef GB_TEST_H
#define GB_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int gb_test_failed;

#define FAIL_AT(...) do {                                               \
	fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                 \
	fprintf(stderr, __VA_ARGS__);                                   \
	fprintf(stderr, "\n");                                          \
	gb_test_failed = 1;                                             \
} while (0)

#define ASSERT(c) do {                                                  \
	if (!(c)) { FAIL_AT("assertion failed: %s", #c); return; }      \
} while (0)

#define ASSERT_EQ(a, b) do {                                            \
	long long a_ = (long long)(a), b_ = (long long)(b);             \
	if (a_ != b_) {                                                 \
		FAIL_AT("%s == %s: %lld != %lld", #a, #b, a_, b_);      \
		return;                                                 \
	}                                                               \
} while (0)

#define ASSERT_STR_EQ(a, b) do {                                        \
	const char *a_ = (a), *b_ = (b);                                \
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {          \
		FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b,           \
		    a_ ? a_ : "(null)", b_ ? b_ : "(null)");            \
		return;                                                 \
	}                                                               \
} while (0)

/* Compares reason codes by name, which reads better in failures. */
#define ASSERT_REASON(got, want) do {                                   \
	enum gb_reason g_ = (got), w_ = (want);                         \
	if (g_ != w_) {                                                 \
		FAIL_AT("%s: got %s, want %s", #got, gb_reason_code(g_),\
		    gb_reason_code(w_));                                \
		return;                                                 \
	}                                                               \
} while (0)

struct gb_test {
	const char *name;
	void (*fn)(void);
};

#define TEST(name) static void name(void)

int gb_test_main(int argc, char **argv, const struct gb_test *tests,
    size_t n);

#define TEST_MAIN(...)                                                  \
	int main(int argc, char **argv) {                               \
		static const struct gb_test t_[] = { __VA_ARGS__ };     \
		return gb_test_main(argc, argv, t_,                     \
		    sizeof t_ / sizeof t_[0]);                          \
	}

#define T(name) { #name, name }

/* The shared vectors folder (../shared/vectors), from the build. */
#ifndef GB_VECTORS_DIR
#define GB_VECTORS_DIR "../shared/vectors"
#endif

/* Reads a whole file into a new buffer; aborts the program on failure,
 * since a missing vector is a broken setup, not a test result. */
unsigned char *gb_test_read(const char *path, size_t *len);

#endif /* GB_TEST_H */
