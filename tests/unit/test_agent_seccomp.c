/* The builtin runtime's seccomp compiler (builtin/seccomp.c) checked by
 * the kernel: each filter is installed in a forked child (no_new_privs,
 * so no privilege needed) which then makes real system calls and reports
 * what the filter decided. Argument conditions are compared on all 64
 * bits (values on both sides of each 32-bit half, unsigned), several
 * conditions must all hold, a rule whose conditions fail lets the next
 * rule (or the default) decide; bad conditions are refused with their
 * field path. */

#include <errno.h>
#include <json-c/json.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builtin/seccomp.h"
#include "cleanup.h"
#include "security.h"
#include "testlib.h"

#define DENIED 99 /* the errnoRet of the rules under test */

static struct builtin_seccomp filter;

static int build(const char *json, struct capsid_error *err)
{
	_cleanup_json_ struct json_object *p = json_tokener_parse(json);
	if (!p) {
		fprintf(stderr, "not JSON: %s\n", json);
		return -EINVAL;
	}
	return builtin_seccomp_build(p, &filter, err);
}

/* Run fn in a child under the filter built from json; fn returns how many
 * of its calls came out wrong. Returns that count (-1: the child died). */
static int under_filter(const char *json, int (*fn)(const void *), const void *arg)
{
	struct capsid_error err = {0};
	if (build(json, &err) < 0) {
		fprintf(stderr, "build: %s\n", err.msg);
		return -1;
	}
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    builtin_seccomp_install(&filter, &err) < 0) {
			fprintf(stderr, "install: %s\n", err.msg);
			_exit(100);
		}
		int wrong = fn(arg);
		_exit(wrong > 99 ? 99 : wrong);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st) == 100 ? -1 : WEXITSTATUS(st);
}

/* The call's outcome: 0 allowed, else the errno the filter returned. */
static long outcome(long rc)
{
	return rc < 0 ? errno : 0;
}

/* personality(0xffffffff) only asks for the persona; the rule refuses it
 * only for exactly that 64-bit value (the kernel reads 32 bits: a value
 * with a high bit set is the same query, and must pass). */
static int personality_calls(const void *arg)
{
	(void)arg;
	int wrong = 0;
	wrong += outcome(syscall(SYS_personality, 0xffffffffUL)) != DENIED;
	wrong += outcome(syscall(SYS_personality, 0x1ffffffffUL)) != 0;
	wrong += outcome(syscall(SYS_personality, (unsigned long)PER_LINUX)) != 0;
	wrong += outcome(getpid()) != 0;
	return wrong;
}

static void test_personality_arg0(void)
{
	CHECK(under_filter("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"personality\"],"
			   "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":99,\"args\":[{\"index\":0,\"value\":"
			   "4294967295,\"op\":\"SCMP_CMP_EQ\"}]}]}",
			   personality_calls, NULL) == 0);
}

/* socket() refused for AF_INET6 only, whatever else its arguments say. */
static int socket_calls(const void *arg)
{
	(void)arg;
	int wrong = 0;
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	wrong += !(fd < 0 && errno == EAFNOSUPPORT);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	wrong += fd < 0;
	close(fd);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	wrong += fd < 0;
	close(fd);
	return wrong;
}

static void test_socket_family(void)
{
	CHECK(
	    under_filter("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"socket\"],"
			 "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":97,\"args\":[{\"index\":0,\"value\":10,"
			 "\"op\":\"SCMP_CMP_EQ\"}]}]}",
			 socket_calls, NULL) == 0);
}

/* Every operator against values around a 64-bit constant: getpid ignores
 * its arguments, but the filter sees them (argument 3 here). */
struct op_case {
	const char *op;
	uint64_t value, value_two;
};

static bool holds(const struct op_case *c, uint64_t a)
{
	if (!strcmp(c->op, "SCMP_CMP_NE"))
		return a != c->value;
	if (!strcmp(c->op, "SCMP_CMP_LT"))
		return a < c->value;
	if (!strcmp(c->op, "SCMP_CMP_LE"))
		return a <= c->value;
	if (!strcmp(c->op, "SCMP_CMP_EQ"))
		return a == c->value;
	if (!strcmp(c->op, "SCMP_CMP_GE"))
		return a >= c->value;
	if (!strcmp(c->op, "SCMP_CMP_GT"))
		return a > c->value;
	return (a & c->value) == c->value_two; /* SCMP_CMP_MASKED_EQ */
}

static const uint64_t probes[] = {
    0,
    1,
    0x7fffffff,
    0x80000000,
    0xffffffff,
    0x100000000,
    0x17fffffff,
    0x180000000,
    0x180000001,
    0x1ffffffff,
    0x200000000,
    0x280000000,
    0x7fffffffffffffff,
    0x8000000000000000,
    0x8000000080000000,
    0xffffffff00000000,
    0xfffffffffffffffe,
    0xffffffffffffffff,
};

static int op_calls(const void *arg)
{
	const struct op_case *c = arg;
	int wrong = 0;
	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		long got = outcome(syscall(SYS_getpid, 0, 0, 0, probes[i]));
		if (got != (holds(c, probes[i]) ? DENIED : 0)) {
			fprintf(stderr, "%s %#llx: argument %#llx gave %ld\n", c->op,
				(unsigned long long)c->value, (unsigned long long)probes[i], got);
			wrong++;
		}
	}
	return wrong;
}

static void test_operators(void)
{
	static const char *const ops[] = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",
					  "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT"};
	static const uint64_t values[] = {0,	       0x80000000,	   0x180000000,
					  0x17fffffff, 0xffffffffffffffff, 0x8000000000000000};
	for (size_t o = 0; o < ARRAY_SIZE(ops); o++)
		for (size_t v = 0; v < ARRAY_SIZE(values); v++) {
			struct op_case c = {.op = ops[o], .value = values[v]};
			char json[512];
			snprintf(
			    json, sizeof(json),
			    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpid\"],"
			    "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":99,\"args\":[{\"index\":3,\"value\":%"
			    "llu,"
			    "\"op\":\"%s\"}]}]}",
			    (unsigned long long)c.value, c.op);
			CHECK(under_filter(json, op_calls, &c) == 0);
		}
	/* MASKED_EQ: value is the mask, valueTwo what the masked argument must be. */
	static const struct op_case masked[] = {
	    {"SCMP_CMP_MASKED_EQ", 0x80000000, 0x80000000},
	    {"SCMP_CMP_MASKED_EQ", 0xffffffff00000000, 0x100000000},
	    {"SCMP_CMP_MASKED_EQ", 0x8000000080000000, 0x8000000000000000},
	    {"SCMP_CMP_MASKED_EQ", 0xffffffffffffffff, 0xfffffffffffffffe},
	    {"SCMP_CMP_MASKED_EQ", 0x1, 0x0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(masked); i++) {
		char json[512];
		snprintf(
		    json, sizeof(json),
		    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpid\"],"
		    "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":99,\"args\":[{\"index\":3,\"value\":%llu,"
		    "\"valueTwo\":%llu,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}",
		    (unsigned long long)masked[i].value, (unsigned long long)masked[i].value_two);
		CHECK(under_filter(json, op_calls, &masked[i]) == 0);
	}
}

/* Two conditions must both hold; a rule whose conditions fail lets the
 * next one for the same call decide, then the default (ERRNO 98 here);
 * calls after such a rule are still matched by number. */
static int rules_calls(const void *arg)
{
	(void)arg;
	int wrong = 0;
	wrong += outcome(syscall(SYS_getpid, 5, 7)) != DENIED;
	wrong += outcome(syscall(SYS_getpid, 5, 8)) != 13;
	wrong += outcome(syscall(SYS_getpid, 6, 7)) != 13;
	wrong += outcome(syscall(SYS_getppid, 5, 7)) != 0;
	wrong += outcome(syscall(SYS_gettid, 1)) != 98;
	wrong += outcome(syscall(SYS_gettid, 0x100000000UL)) != 0;
	return wrong;
}

static void test_rule_order(void)
{
	CHECK(under_filter("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":98,\"syscalls\":["
			   "{\"names\":[\"exit_group\",\"exit\"],\"action\":\"SCMP_ACT_ALLOW\"},"
			   "{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":99,\"args\":["
			   "{\"index\":0,\"value\":5,\"op\":\"SCMP_CMP_EQ\"},{\"index\":1,\"value\":7,\"op\":"
			   "\"SCMP_CMP_EQ\"}]},"
			   "{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13},"
			   "{\"names\":[\"gettid\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
			   "\"value\":4294967295,\"op\":\"SCMP_CMP_GT\"}]},"
			   "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
			   rules_calls, NULL) == 0);
}

/* A conditional rule naming many calls: the jumps to its conditions are
 * longer than a conditional jump's 255 instructions. */
static int many_names_calls(const void *arg)
{
	(void)arg;
	return (outcome(syscall(SYS_getpid, 1)) != DENIED) + (outcome(syscall(SYS_getpid, 2)) != 0) +
	       (outcome(syscall(SYS_getppid, 1)) != 0);
}

static void test_long_rule(void)
{
	char json[16384];
	size_t n = (size_t)snprintf(json, sizeof(json),
				    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"action\":"
				    "\"SCMP_ACT_ERRNO\",\"errnoRet\":99,\"args\":[{\"index\":0,\"value\":1,"
				    "\"op\":\"SCMP_CMP_EQ\"}],\"names\":[");
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "\"uname\",");
	snprintf(json + n, sizeof(json) - n, "\"getpid\"]}]}");
	CHECK(under_filter(json, many_names_calls, NULL) == 0);
	CHECK(filter.n > 600);
}

static void expect_refused(const char *args, const char *needle)
{
	char json[1024];
	snprintf(json, sizeof(json),
		 "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpid\"],\"action\":"
		 "\"SCMP_ACT_ALLOW\"},{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":%s}]}",
		 args);
	struct capsid_error err = {0};
	CHECK(build(json, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, needle);
}

static void test_bad_conditions(void)
{
	expect_refused("[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_SOON\"}]",
		       "linux.seccomp: syscalls[1].args[0].op: \"SCMP_CMP_SOON\" is unknown");
	expect_refused("[{\"index\":0,\"value\":1}]", "linux.seccomp: syscalls[1].args[0].op: missing");
	expect_refused("[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]",
		       "syscalls[1].args[0].index: 6 is not an argument (0 to 5)");
	expect_refused("[{\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]", "syscalls[1].args[0].index: missing");
	expect_refused("[{\"index\":0,\"value\":-1,\"op\":\"SCMP_CMP_EQ\"}]",
		       "syscalls[1].args[0].value: not a whole number from 0 to 18446744073709551615");
	expect_refused("[{\"index\":0,\"value\":1.5,\"op\":\"SCMP_CMP_EQ\"}]",
		       "syscalls[1].args[0].value: not a whole");
	expect_refused("[{\"index\":0,\"value\":\"1\",\"op\":\"SCMP_CMP_EQ\"}]",
		       "syscalls[1].args[0].value: not a whole");
	expect_refused("[{\"index\":0,\"value\":1,\"valueTwo\":-2,\"op\":\"SCMP_CMP_MASKED_EQ\"}]",
		       "syscalls[1].args[0].valueTwo: not a whole");
	expect_refused("[{\"index\":1,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},{\"index\":1,\"value\":2,\"op\":"
		       "\"SCMP_CMP_EQ\"}]",
		       "syscalls[1].args[1].index: argument 1 has a condition already in this rule");
	expect_refused("{\"index\":0}", "syscalls[1].args: not an array");
	expect_refused("[1]", "syscalls[1].args[0]: not an object");
	expect_refused("[{},{},{},{},{},{},{}]", "syscalls[1].args: 7 conditions, at most 6");
	/* The largest value is a value. */
	struct capsid_error err = {0};
	CHECK_OK(
	    build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"socket\"],\"action\":"
		  "\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":18446744073709551615,\"op\":"
		  "\"SCMP_CMP_EQ\"}]}]}",
		  &err),
	    &err);
}

/* CREATE's security.seccomp is checked by the agent for every runtime. */
static void test_agent_refuses(void)
{
	_cleanup_json_ struct json_object *body = json_tokener_parse(
	    "{\"security\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
	    "[\"kill\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":9,\"value\":1,\"op\":"
	    "\"SCMP_CMP_EQ\"}]}]}}}");
	struct security_params sp;
	struct capsid_error err = {0};
	CHECK(security_parse(body, &sp, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "security.seccomp: syscalls[0].args[0].index: 9 is not an argument");
}

int main(void)
{
	RUN_TEST(test_agent_refuses);
	RUN_TEST(test_bad_conditions);
	RUN_TEST(test_personality_arg0);
	RUN_TEST(test_socket_family);
	RUN_TEST(test_operators);
	RUN_TEST(test_rule_order);
	RUN_TEST(test_long_rule);
	TEST_EXIT();
}
