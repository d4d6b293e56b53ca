#include "seccomp.h"

#include <errno.h>
#include <json-c/json.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "cleanup.h"
#include "seccomp_args.h"

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

/* A rule's conditions are emitted before the place a failed one jumps to
 * is known: FAIL marks such a jump, patched by cond_block_end. */
#define FAIL	       (-1)
#define COND_MAX_JUMPS (SECCOMP_ARGS_MAX * 2)

struct cond_block {
	size_t jumps[COND_MAX_JUMPS]; /* instruction index; jt when jt[] */
	bool jt[COND_MAX_JUMPS];
	size_t n;
};

static int load(struct builtin_seccomp *s, uint32_t offset, struct capsid_error *err)
{
	return emit(s, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset), err);
}

static int jump(struct builtin_seccomp *s, struct cond_block *b, uint16_t op, uint32_t k, int jt, int jf,
		struct capsid_error *err)
{
	for (int i = 0; i < 2; i++)
		if ((i ? jf : jt) == FAIL) {
			b->jumps[b->n] = s->n;
			b->jt[b->n++] = !i;
		}
	struct sock_filter insn =
	    BPF_JUMP(BPF_JMP | op | BPF_K, k, (uint8_t)(jt == FAIL ? 0 : jt), (uint8_t)(jf == FAIL ? 0 : jf));
	return emit(s, insn, err);
}

/* Code that falls through when the condition holds and jumps to FAIL when
 * not. classic BPF compares 32 bits, unsigned: a 64-bit argument is two
 * halves (little-endian: the low one first in seccomp_data), the high
 * half deciding unless equal. */
static int emit_cond(struct builtin_seccomp *s, struct cond_block *b, const struct seccomp_args_cond *c,
		     struct capsid_error *err)
{
	uint32_t lo = (uint32_t)(offsetof(struct seccomp_data, args) + 8 * c->index), hi = lo + 4;
	uint32_t vh = (uint32_t)(c->value >> 32), vl = (uint32_t)c->value;
	int rc = load(s, hi, err);
	switch (c->op) {
	case SECCOMP_ARGS_EQ:
		if (rc >= 0 && (rc = jump(s, b, BPF_JEQ, vh, 0, FAIL, err)) >= 0 &&
		    (rc = load(s, lo, err)) >= 0)
			rc = jump(s, b, BPF_JEQ, vl, 0, FAIL, err);
		break;
	case SECCOMP_ARGS_NE: /* either half differs */
		if (rc >= 0 && (rc = jump(s, b, BPF_JEQ, vh, 0, 2, err)) >= 0 && (rc = load(s, lo, err)) >= 0)
			rc = jump(s, b, BPF_JEQ, vl, FAIL, 0, err);
		break;
	case SECCOMP_ARGS_GT:
	case SECCOMP_ARGS_GE: /* high above: holds; high below: fails; equal: the low half decides */
		if (rc >= 0 && (rc = jump(s, b, BPF_JGT, vh, 3, 0, err)) >= 0 &&
		    (rc = jump(s, b, BPF_JEQ, vh, 0, FAIL, err)) >= 0 && (rc = load(s, lo, err)) >= 0)
			rc = jump(s, b, c->op == SECCOMP_ARGS_GT ? BPF_JGT : BPF_JGE, vl, 0, FAIL, err);
		break;
	case SECCOMP_ARGS_LT:
	case SECCOMP_ARGS_LE: /* high above: fails; high below: holds; equal: the low half decides */
		if (rc >= 0 && (rc = jump(s, b, BPF_JGT, vh, FAIL, 0, err)) >= 0 &&
		    (rc = jump(s, b, BPF_JEQ, vh, 0, 2, err)) >= 0 && (rc = load(s, lo, err)) >= 0)
			rc = jump(s, b, c->op == SECCOMP_ARGS_LT ? BPF_JGE : BPF_JGT, vl, FAIL, 0, err);
		break;
	case SECCOMP_ARGS_MASKED_EQ: { /* (arg & value) == valueTwo, each half */
		uint32_t dh = (uint32_t)(c->value_two >> 32), dl = (uint32_t)c->value_two;
		if (rc >= 0 &&
		    (rc = emit(s, (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, vh), err)) >= 0 &&
		    (rc = jump(s, b, BPF_JEQ, dh, 0, FAIL, err)) >= 0 && (rc = load(s, lo, err)) >= 0 &&
		    (rc = emit(s, (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, vl), err)) >= 0)
			rc = jump(s, b, BPF_JEQ, dl, 0, FAIL, err);
		break;
	}
	}
	return rc;
}

/* Point the block's FAIL jumps at the instruction s->n. */
static void cond_block_end(struct builtin_seccomp *s, const struct cond_block *b)
{
	for (size_t i = 0; i < b->n; i++) {
		/* At most 6 conditions of 6 instructions and the action: < 255. */
		uint8_t off = (uint8_t)(s->n - b->jumps[i] - 1);
		if (b->jt[i])
			s->insns[b->jumps[i]].jt = off;
		else
			s->insns[b->jumps[i]].jf = off;
	}
}

static int rule_names(struct json_object *rule, const char *what, struct json_object **names,
		      struct capsid_error *err)
{
	if (!json_object_object_get_ex(rule, "names", names) &&
	    !json_object_object_get_ex(rule, "name", names))
		return capsid_error_set(err, EINVAL, "linux.seccomp: %s has no names", what);
	if (!*names ||
	    (!json_object_is_type(*names, json_type_array) && !json_object_is_type(*names, json_type_string)))
		return capsid_error_set(err, EINVAL, "linux.seccomp: %s.names: not an array of names", what);
	return 0;
}

/* The number of the rule's k-th name, -1 when this kernel has no such call. */
static int rule_nr(struct json_object *names, size_t k)
{
	struct json_object *nm =
	    json_object_is_type(names, json_type_array) ? json_object_array_get_idx(names, k) : names;
	return json_object_is_type(nm, json_type_string) ? syscall_nr(json_object_get_string(nm)) : -1;
}

/* One rule. Without conditions: per known name, its number then the
 * action. With them: per name a jump to the conditions, which end in the
 * action; a condition that fails (or no name) goes on with the next rule,
 * the call's number loaded again. The first rule that matches decides. */
static int emit_rule(struct builtin_seccomp *s, struct json_object *rule, size_t i, struct capsid_error *err)
{
	char what[48];
	snprintf(what, sizeof(what), "syscalls[%zu]", i);
	struct json_object *v, *names = NULL;
	uint32_t action;
	const char *a = json_object_object_get_ex(rule, "action", &v) ? json_object_get_string(v) : NULL;
	int rc = action_of(rule, what, a, &action, err);
	if (rc >= 0)
		rc = rule_names(rule, what, &names, err);
	struct seccomp_args_cond conds[SECCOMP_ARGS_MAX];
	size_t n_conds;
	if (rc >= 0 && (rc = seccomp_args_read(rule, what, conds, &n_conds, err)) < 0)
		capsid_error_prefix(err, "linux.seccomp");
	if (rc < 0)
		return rc;
	size_t n = json_object_is_type(names, json_type_array) ? json_object_array_length(names) : 1;
	const struct sock_filter ret = BPF_STMT(BPF_RET | BPF_K, action);
	if (!n_conds) {
		for (size_t k = 0; k < n && rc >= 0; k++) {
			int nr = rule_nr(names, k);
			if (nr >= 0 && (rc = emit(s,
						  (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
									       (uint32_t)nr, 0, 1),
						  err)) >= 0)
				rc = emit(s, ret, err);
		}
		return rc;
	}
	size_t first = s->n;
	for (size_t k = 0; k < n && rc >= 0; k++) {
		int nr = rule_nr(names, k);
		if (nr >= 0 &&
		    (rc = emit(s, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1),
			       err)) >= 0)
			rc = emit(s, (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 0),
				  err); /* to the conditions */
	}
	if (rc < 0 || s->n == first)
		return rc; /* none of its calls is one of this kernel */
	size_t skip = s->n;
	if ((rc = emit(s, (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 0), err)) < 0) /* no name matched */
		return rc;
	size_t conds_at = s->n;
	for (size_t k = first + 1; k < skip; k += 2)
		s->insns[k].k = (uint32_t)(conds_at - k - 1);
	struct cond_block b = {0};
	for (size_t c = 0; c < n_conds && rc >= 0; c++)
		rc = emit_cond(s, &b, &conds[c], err);
	if (rc >= 0)
		rc = emit(s, ret, err);
	if (rc < 0)
		return rc;
	cond_block_end(s, &b);
	s->insns[skip].k = (uint32_t)(s->n - skip - 1);
	return load(s, offsetof(struct seccomp_data, nr), err);
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
	if (json_object_object_get_ex(profile, "syscalls", &rules) && rules &&
	    !json_object_is_type(rules, json_type_array))
		return capsid_error_set(err, EINVAL, "linux.seccomp: syscalls: not an array");
	for (size_t i = 0; rules && i < json_object_array_length(rules); i++) {
		struct json_object *rule = json_object_array_get_idx(rules, i);
		if (!rule || !json_object_is_type(rule, json_type_object))
			return capsid_error_set(err, EINVAL, "linux.seccomp: syscalls[%zu]: not an object",
						i);
		if ((rc = emit_rule(out, rule, i, err)) < 0)
			return rc;
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
