/* Minimal unit-test helpers: each test binary runs its cases, prints one
 * line per failure, and exits non-zero if any check failed. */
#ifndef CAPSID_TESTLIB_H
#define CAPSID_TESTLIB_H

#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;
static int test_skips;

/* A case that cannot run here (not root, a kernel feature missing): said on
 * stderr, and the binary then exits TEST_SKIP_CODE (ctest's
 * SKIP_RETURN_CODE, which a test that can skip sets in its CMakeLists)
 * unless a check failed, so that ctest reports the test skipped instead of
 * passed. */
#define TEST_SKIP_CODE 77
#define TEST_SKIP(...)                                                                                       \
	do {                                                                                                 \
		test_skips++;                                                                                \
		fprintf(stderr, "SKIP ");                                                                    \
		fprintf(stderr, __VA_ARGS__);                                                                \
		fputc('\n', stderr);                                                                         \
	} while (0)

#define CHECK(cond)                                                                      \
	do {                                                                             \
		test_checks++;                                                           \
		if (!(cond)) {                                                           \
			test_failures++;                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                        \
	} while (0)

/* A call that returns 0 or -errno with a struct capsid_error: on failure
 * the error's words are printed too. */
#define CHECK_OK(call, err)                                                              \
	do {                                                                             \
		test_checks++;                                                           \
		int _rc = (call);                                                        \
		if (_rc != 0) {                                                          \
			test_failures++;                                                 \
			fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #call, \
				_rc, (err)->msg);                                        \
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

#define TEST_EXIT()                                                                                          \
	do {                                                                                                 \
		fprintf(stderr, "%d checks, %d failed, %d skipped\n", test_checks, test_failures,            \
			test_skips);                                                                         \
		return test_failures ? 1 : test_skips ? TEST_SKIP_CODE : 0;                                  \
	} while (0)

#endif
