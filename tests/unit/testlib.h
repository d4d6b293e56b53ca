/* Minimal unit-test helpers: each test binary runs its cases, prints one
 * line per failure, and exits non-zero if any check failed. */
#ifndef CAPSID_TESTLIB_H
#define CAPSID_TESTLIB_H

#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		test_checks++;                                                           \
		if (!(cond)) {                                                           \
			test_failures++;                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                        \
	} while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                  \
	do {                                                                             \
		test_checks++;                                                           \
		const char *_h = (hay);                                                  \
		if (!_h || !strstr(_h, (needle))) {                                      \
			test_failures++;                                                 \
			fprintf(stderr, "%s:%d: expected \"%s\" in \"%s\"\n", __FILE__, __LINE__, \
				(needle), _h ? _h : "(null)");                           \
		}                                                                        \
	} while (0)

#define RUN_TEST(fn)                                                                     \
	do {                                                                             \
		int _before = test_failures;                                             \
		fn();                                                                    \
		fprintf(stderr, "%s %s\n", test_failures == _before ? "ok  " : "FAIL", #fn); \
	} while (0)

#define TEST_EXIT()                                                                      \
	do {                                                                             \
		fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures);   \
		return test_failures ? 1 : 0;                                            \
	} while (0)

#endif
