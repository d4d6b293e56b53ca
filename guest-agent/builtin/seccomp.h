/* The builtin runtime's seccomp: an OCI linux.seccomp profile (the agent's
 * default one or the spec's, guest-agent/security.c) compiled into a
 * classic BPF filter for x86-64: a call of another architecture, or an
 * x32 call, is killed; each named call returns its rule's action; the rest
 * the default action. Actions: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO (errnoRet,
 * default EPERM), SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD,
 * SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_LOG. A rule's argument
 * conditions (common/seccomp_args.h) must all hold for it to apply; each
 * 64-bit comparison is made on the two 32-bit halves. The first rule that
 * applies to a call decides. Names this kernel's table does not know are
 * skipped, as runc does. */
#ifndef BUILTIN_SECCOMP_H
#define BUILTIN_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct json_object;

#define BUILTIN_SECCOMP_MAX_INSNS BPF_MAXINSNS /* the kernel's limit, 4096 */

struct builtin_seccomp {
	bool set;
	struct sock_filter insns[BUILTIN_SECCOMP_MAX_INSNS];
	size_t n;
};

int builtin_seccomp_build(struct json_object *profile, struct builtin_seccomp *out, struct capsid_error *err);
/* Install it on the calling thread (no_new_privs or CAP_SYS_ADMIN needed). */
int builtin_seccomp_install(const struct builtin_seccomp *s, struct capsid_error *err);

#endif
