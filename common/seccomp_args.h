/* The argument conditions of a seccomp profile's rule (OCI linux.seccomp,
 * Docker's profile JSON): "args": [{"index", "value", "valueTwo", "op"}],
 * read the same way by the host's spec validator and the guest's builtin
 * runtime. Values are unsigned 64-bit (a negative or fractional number is
 * refused); the comparisons are unsigned, as libseccomp's are;
 * SCMP_CMP_MASKED_EQ means (argument & value) == valueTwo. At most one
 * condition per argument in a rule: runc turns several on one argument
 * into alternatives, libseccomp (crun) into a conjunction, so a profile
 * that says it would mean different things under different runtimes. */
#ifndef CAPSID_SECCOMP_ARGS_H
#define CAPSID_SECCOMP_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct json_object;

#define SECCOMP_ARGS_MAX 6 /* a system call's arguments */

enum seccomp_args_op {
	SECCOMP_ARGS_NE,
	SECCOMP_ARGS_LT,
	SECCOMP_ARGS_LE,
	SECCOMP_ARGS_EQ,
	SECCOMP_ARGS_GE,
	SECCOMP_ARGS_GT,
	SECCOMP_ARGS_MASKED_EQ,
};

struct seccomp_args_cond {
	unsigned index; /* 0..5 */
	enum seccomp_args_op op;
	uint64_t value, value_two;
};

/* Read rule's "args" (absent, null or empty: *n = 0). Errors name the
 * field below `what` ("syscalls[3]" gives "syscalls[3].args[0].op: ..."). */
int seccomp_args_read(struct json_object *rule, const char *what,
		      struct seccomp_args_cond out[SECCOMP_ARGS_MAX], size_t *n, struct capsid_error *err);

#endif
