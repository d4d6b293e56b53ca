#include "seccomp.h"

#include <errno.h>
#include <json-c/json.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>

#include "cleanup.h"

/* {"read", 0}, ... from the kernel headers' asm/unistd_64.h (CMake makes it). */
static const struct {
	const char *name;
	int nr;
} syscalls[] = {
#include "builtin_syscalls.inc"
};

#define X32_SYSCALL_BIT 0x40000000u

static int syscall_nr(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(syscalls); i++)
		if (!strcmp(syscalls[i].name, name))
			return syscalls[i].nr;
	return -1;
}

static int action_of(struct json_object *rule, const char *what, const char *action, uint32_t *out,
		     struct capsid_error *err)
{
	struct json_object *v;
	uint32_t errno_ret = EPERM;
	if (json_object_object_get_ex(rule, "errnoRet", &v) && json_object_is_type(v, json_type_int)) {
		int64_t e = json_object_get_int64(v);
		if (e < 0 || e > 4095)
			return capsid_error_set(err, EINVAL, "linux.seccomp: %s errnoRet out of range", what);
		errno_ret = (uint32_t)e;
	}
	if (!action)
		return capsid_error_set(err, EINVAL, "linux.seccomp: %s has no action", what);
	if (!strcmp(action, "SCMP_ACT_ALLOW"))
		*out = SECCOMP_RET_ALLOW;
	else if (!strcmp(action, "SCMP_ACT_ERRNO"))
		*out = SECCOMP_RET_ERRNO | (errno_ret & SECCOMP_RET_DATA);
	else if (!strcmp(action, "SCMP_ACT_KILL") || !strcmp(action, "SCMP_ACT_KILL_THREAD"))
		*out = SECCOMP_RET_KILL_THREAD;
	else if (!strcmp(action, "SCMP_ACT_KILL_PROCESS"))
		*out = SECCOMP_RET_KILL_PROCESS;
	else if (!strcmp(action, "SCMP_ACT_TRAP"))
		*out = SECCOMP_RET_TRAP;
	else if (!strcmp(action, "SCMP_ACT_LOG"))
		*out = SECCOMP_RET_LOG;
	else
		return capsid_error_set(err, ENOTSUP, "linux.seccomp: %s: action %.40s is not supported",
					what, action);
	return 0;
}

static int emit(struct builtin_seccomp *s, struct sock_filter insn, struct capsid_error *err)
{
	if (s->n == BUILTIN_SECCOMP_MAX_INSNS)
		return capsid_error_set(err, E2BIG, "linux.seccomp: more than %d filter instructions",
					BUILTIN_SECCOMP_MAX_INSNS);
	s->insns[s->n++] = insn;
	return 0;
}

int builtin_seccomp_build(struct json_object *profile, struct builtin_seccomp *out, struct capsid_error *err)
{
	memset(out, 0, sizeof(*out));
	struct json_object *v;
	uint32_t def;
	const char *def_action =
	    json_object_object_get_ex(profile, "defaultAction", &v) ? json_object_get_string(v) : NULL;
	/* defaultErrnoRet is the default action's errnoRet. */
	struct json_object *def_rule = json_object_new_object();
	if (json_object_object_get_ex(profile, "defaultErrnoRet", &v))
		json_object_object_add(def_rule, "errnoRet", json_object_get(v));
	int rc = action_of(def_rule, "defaultAction", def_action, &def, err);
	json_object_put(def_rule);
	if (rc < 0)
		return rc;
	/* The architecture, then the call number (x32 calls are refused). */
	struct sock_filter head[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	for (size_t i = 0; i < ARRAY_SIZE(head); i++)
		if ((rc = emit(out, head[i], err)) < 0)
			return rc;
	struct json_object *rules = NULL;
	json_object_object_get_ex(profile, "syscalls", &rules);
	for (size_t i = 0;
	     rules && json_object_is_type(rules, json_type_array) && i < json_object_array_length(rules);
	     i++) {
		struct json_object *rule = json_object_array_get_idx(rules, i), *names = NULL, *args = NULL;
		char what[48];
		snprintf(what, sizeof(what), "syscalls[%zu]", i);
		if (json_object_object_get_ex(rule, "args", &args) && args &&
		    json_object_is_type(args, json_type_array) && json_object_array_length(args))
			return capsid_error_set(
			    err, ENOTSUP,
			    "linux.seccomp: %s: argument conditions are not supported by the "
			    "builtin runtime (crun and runc apply them)",
			    what);
		uint32_t action;
		const char *a =
		    json_object_object_get_ex(rule, "action", &v) ? json_object_get_string(v) : NULL;
		if ((rc = action_of(rule, what, a, &action, err)) < 0)
			return rc;
		if (!json_object_object_get_ex(rule, "names", &names) &&
		    !json_object_object_get_ex(rule, "name", &names))
			return capsid_error_set(err, EINVAL, "linux.seccomp: %s has no names", what);
		size_t n = json_object_is_type(names, json_type_array) ? json_object_array_length(names) : 1;
		for (size_t k = 0; k < n; k++) {
			struct json_object *nm = json_object_is_type(names, json_type_array)
						     ? json_object_array_get_idx(names, k)
						     : names;
			int nr = json_object_is_type(nm, json_type_string)
				     ? syscall_nr(json_object_get_string(nm))
				     : -1;
			if (nr < 0)
				continue; /* not a call of this kernel */
			if ((rc = emit(
				 out,
				 (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1),
				 err)) < 0 ||
			    (rc = emit(out, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action), err)) < 0)
				return rc;
		}
	}
	if ((rc = emit(out, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, def), err)) < 0)
		return rc;
	out->set = true;
	return 0;
}

int builtin_seccomp_install(const struct builtin_seccomp *s, struct capsid_error *err)
{
	if (!s->set)
		return 0;
	struct sock_fprog prog = {.len = (unsigned short)s->n, .filter = (struct sock_filter *)s->insns};
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return capsid_error_errno(err, errno, "install the seccomp filter");
	return 0;
}
