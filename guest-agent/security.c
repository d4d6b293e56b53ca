#include "security.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "builtin/spec.h"
#include "cleanup.h"
#include "seccomp_args.h"
#include "util.h"

/* The default seccomp profile: the system calls Docker's default profile
 * allows to every container (its allowlist, without its argument filters:
 * clone's namespace flags, personality and socket families are not
 * narrowed), as capsid's own table; everything else fails with EPERM. */
static const char *const default_allowed[] = {
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "arch_prctl",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "clock_getres",
    "clock_gettime",
    "clock_nanosleep",
    "clone",
    "clone3",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchownat",
    "fcntl",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstatfs",
    "fsync",
    "ftruncate",
    "futex",
    "futex_waitv",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getgroups",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresuid",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "gettid",
    "gettimeofday",
    "getuid",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "modify_ldt",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedsend",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pause",
    "personality",
    "pidfd_getfd",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recvfrom",
    "recvmmsg",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "sendfile",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsuid",
    "setgid",
    "setgroups",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setresgid",
    "setresuid",
    "setreuid",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_tid_address",
    "setuid",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "socket",
    "socketpair",
    "splice",
    "stat",
    "statfs",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_settime",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_settime",
    "times",
    "tkill",
    "truncate",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "write",
    "writev",
};

/* Further calls Docker's profile allows when the container has a capability. */
static const struct {
	const char *cap;
	const char *names[12];
} cap_allowed[] = {
    {"CAP_SYS_ADMIN",
     {"bpf", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie", "mount",
      "move_mount", "open_tree", "perf_event_open", "quotactl"}},
    {"CAP_SYS_ADMIN",
     {"setdomainname", "sethostname", "setns", "syslog", "umount2", "unshare", "pivot_root"}},
    {"CAP_SYS_BOOT", {"reboot"}},
    {"CAP_SYS_CHROOT", {"chroot"}},
    {"CAP_SYS_MODULE", {"delete_module", "init_module", "finit_module"}},
    {"CAP_SYS_PACCT", {"acct"}},
    {"CAP_SYS_PTRACE",
     {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"}},
    {"CAP_SYS_RAWIO", {"iopl", "ioperm"}},
    {"CAP_SYS_TIME", {"settimeofday", "clock_settime", "clock_adjtime"}},
    {"CAP_SYS_TTY_CONFIG", {"vhangup"}},
    {"CAP_SYS_NICE", {"get_mempolicy", "mbind", "set_mempolicy"}},
    {"CAP_SYSLOG", {"syslog"}},
    {"CAP_BPF", {"bpf"}},
    {"CAP_PERFMON", {"perf_event_open"}},
};

static int bool_field(struct json_object *o, const char *key, bool *out, struct capsid_error *err)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return capsid_error_set(err, EINVAL, "security.%s: not a boolean", key);
	*out = json_object_get_boolean(v);
	return 0;
}

static bool cap_known(const char *s)
{
	return builtin_spec_cap_number(s) >= 0;
}

static int caps_field(struct json_object *o, const char *key, struct json_object **out,
		      struct capsid_error *err)
{
	struct json_object *v;
	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > 64)
		return capsid_error_set(err, EINVAL, "security.%s: not an array of at most 64", key);
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(v, i));
		if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string) ||
		    (strcmp(s, "ALL") && !cap_known(s)))
			return capsid_error_set(
			    err, EINVAL, "security.%s[%zu]: not a capability (CAP_...) or ALL", key, i);
	}
	*out = v;
	return 0;
}

int security_parse(struct json_object *body, struct security_params *out, struct capsid_error *err)
{
	memset(out, 0, sizeof(*out));
	struct json_object *o;
	if (!json_object_object_get_ex(body, "security", &o) || !o)
		return 0;
	if (!json_object_is_type(o, json_type_object))
		return capsid_error_set(err, EINVAL, "security: not an object");
	out->given = true;
	int rc = bool_field(o, "privileged", &out->privileged, err);
	if (rc >= 0)
		rc = bool_field(o, "noNewPrivileges", &out->no_new_privileges, err);
	if (rc >= 0)
		rc = caps_field(o, "capAdd", &out->cap_add, err);
	if (rc >= 0)
		rc = caps_field(o, "capDrop", &out->cap_drop, err);
	if (rc < 0)
		return rc;
	struct json_object *v;
	if (json_object_object_get_ex(o, "seccomp", &v) && v) {
		if (!json_object_is_type(v, json_type_object))
			return capsid_error_set(err, EINVAL, "security.seccomp: not an object");
		/* Argument conditions mean the same under every runtime. */
		struct json_object *rules = NULL;
		json_object_object_get_ex(v, "syscalls", &rules);
		for (size_t i = 0;
		     json_object_is_type(rules, json_type_array) && i < json_object_array_length(rules);
		     i++) {
			char what[48];
			snprintf(what, sizeof(what), "syscalls[%zu]", i);
			struct seccomp_args_cond conds[SECCOMP_ARGS_MAX];
			size_t n;
			if (seccomp_args_read(json_object_array_get_idx(rules, i), what, conds, &n, err) < 0)
				return capsid_error_prefix(err, "security.seccomp");
		}
		out->seccomp = v;
	}
	return 0;
}

static bool in_list(struct json_object *arr, const char *s)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), s))
			return true;
	return false;
}

static bool has_string(struct json_object *arr, const char *s)
{
	return in_list(arr, s);
}

/* The container's capability set: the default one (what the config
 * holds), all when privileged; drop (ALL empties it) then add. */
static struct json_object *cap_set(struct json_object *defaults, const struct security_params *s)
{
	struct json_object *set = json_object_new_array();
	if (s->privileged || in_list(s->cap_add, "ALL")) {
		const char *name;
		for (int i = 0; (name = builtin_spec_cap_name(i)); i++)
			json_object_array_add(set, json_object_new_string(name));
		return set;
	}
	bool drop_all = in_list(s->cap_drop, "ALL");
	for (size_t i = 0; !drop_all && defaults && i < json_object_array_length(defaults); i++) {
		const char *c = json_object_get_string(json_object_array_get_idx(defaults, i));
		if (!in_list(s->cap_drop, c))
			json_object_array_add(set, json_object_new_string(c));
	}
	for (size_t i = 0; s->cap_add && i < json_object_array_length(s->cap_add); i++) {
		const char *c = json_object_get_string(json_object_array_get_idx(s->cap_add, i));
		if (!has_string(set, c))
			json_object_array_add(set, json_object_new_string(c));
	}
	return set;
}

static struct json_object *default_profile(struct json_object *caps)
{
	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "defaultAction", json_object_new_string("SCMP_ACT_ERRNO"));
	json_object_object_add(p, "defaultErrnoRet", json_object_new_int(1));
	struct json_object *arch = json_object_new_array();
	json_object_array_add(arch, json_object_new_string("SCMP_ARCH_X86_64"));
	json_object_object_add(p, "architectures", arch);
	struct json_object *names = json_object_new_array();
	for (size_t i = 0; i < ARRAY_SIZE(default_allowed); i++)
		json_object_array_add(names, json_object_new_string(default_allowed[i]));
	for (size_t i = 0; i < ARRAY_SIZE(cap_allowed); i++) {
		if (!in_list(caps, cap_allowed[i].cap))
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(cap_allowed[i].names) && cap_allowed[i].names[k]; k++)
			if (!has_string(names, cap_allowed[i].names[k]))
				json_object_array_add(names, json_object_new_string(cap_allowed[i].names[k]));
	}
	struct json_object *rule = json_object_new_object();
	json_object_object_add(rule, "names", names);
	json_object_object_add(rule, "action", json_object_new_string("SCMP_ACT_ALLOW"));
	struct json_object *rules = json_object_new_array();
	json_object_array_add(rules, rule);
	json_object_object_add(p, "syscalls", rules);
	return p;
}

int security_apply(struct json_object *config, const struct security_params *s, const char *runtime,
		   struct capsid_error *err)
{
	struct json_object *proc = NULL, *linux_ = NULL, *caps = NULL;
	json_object_object_get_ex(config, "process", &proc);
	json_object_object_get_ex(config, "linux", &linux_);
	if (proc)
		json_object_object_get_ex(proc, "capabilities", &caps);
	if (!proc || !linux_ || !caps)
		return capsid_error_set(err, EINVAL, "config.json: no process, linux or capabilities");
	struct json_object *defaults = NULL;
	json_object_object_get_ex(caps, "bounding", &defaults);
	_cleanup_json_ struct json_object *set = cap_set(defaults, s);
	static const char *const sets[] = {"bounding", "effective", "permitted", "ambient"};
	if (s->given)
		for (size_t i = 0; i < ARRAY_SIZE(sets); i++) {
			struct json_object *copy = NULL;
			json_object_deep_copy(set, &copy, NULL);
			json_object_object_add(caps, sets[i], copy);
		}
	json_object_object_add(proc, "noNewPrivileges",
			       json_object_new_boolean(s->no_new_privileges && !s->privileged));
	if (s->privileged) {
		/* Inside the guest only: the VM stays the boundary. */
		json_object_object_add(linux_, "maskedPaths", json_object_new_array());
		json_object_object_add(linux_, "readonlyPaths", json_object_new_array());
	}
	/* Every runtime applies it: crun and runc through libseccomp, the
	 * builtin one as its own BPF filter (builtin/seccomp.c). */
	(void)runtime;
	(void)err;
	if (s->seccomp)
		json_object_object_add(linux_, "seccomp", json_object_get(s->seccomp));
	else if (!s->privileged)
		json_object_object_add(linux_, "seccomp", default_profile(set));
	return 0;
}

static struct json_object *read_config(const char *path, struct capsid_error *err)
{
	_cleanup_free_ char *text = NULL;
	int rc = util_read_file_at(AT_FDCWD, path, SECURITY_CONFIG_MAX, &text, NULL);
	if (rc < 0) {
		capsid_error_errno(err, -rc, "read %s", path);
		return NULL;
	}
	struct json_object *cfg = json_tokener_parse(text);
	if (!cfg || !json_object_is_type(cfg, json_type_object)) {
		json_object_put(cfg);
		capsid_error_set(err, EINVAL, "%s: not a JSON object", path);
		return NULL;
	}
	return cfg;
}

int security_exec(struct json_object *proc, const char *config_path, bool keep_user, struct capsid_error *err)
{
	_cleanup_json_ struct json_object *cfg = read_config(config_path, err);
	struct json_object *cproc = NULL;
	if (!cfg)
		return -EINVAL;
	if (!json_object_object_get_ex(cfg, "process", &cproc) ||
	    !json_object_is_type(cproc, json_type_object))
		return capsid_error_set(err, EINVAL, "%s: no process", config_path);
	static const char *const keys[] = {"capabilities", "noNewPrivileges", "user"};
	for (size_t i = 0; i < ARRAY_SIZE(keys) - (keep_user ? 1 : 0); i++) {
		struct json_object *v;
		if (json_object_object_get_ex(cproc, keys[i], &v) && v)
			json_object_object_add(proc, keys[i], json_object_get(v));
	}
	return 0;
}

int security_filter(const char *config_path, struct builtin_seccomp *out, struct capsid_error *err)
{
	out->set = false;
	_cleanup_json_ struct json_object *cfg = read_config(config_path, err);
	if (!cfg)
		return -EINVAL;
	struct json_object *linux_ = NULL, *profile = NULL;
	if (!json_object_object_get_ex(cfg, "linux", &linux_) || !linux_ ||
	    !json_object_object_get_ex(linux_, "seccomp", &profile) || !profile)
		return 0;
	return builtin_seccomp_build(profile, out, err);
}
