#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

/* How long delete waits for the killed processes to leave the cgroup. */
#define DESTROY_WAIT_MS 5000

/* What containers get, for every runtime: the controllers the agent
 * enables in the root and in its parent cgroup at boot, and builtin in
 * every directory of a cgroupsPath that is not the container's own. */
static const char *const delegated_controllers[] = {"cpu", "memory", "pids"};

unsigned long builtin_cgroup_weight_of_shares(unsigned long shares)
{
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static int write_at(int dirfd, const char *file, const char *value)
{
	_cleanup_close_ int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return util_write_all(fd, value, strlen(value));
}

/* The device policy of Docker and containerd's CRI: any device node may be
 * created (CAP_MKNOD is in the default set), only these may be opened. */
static const struct dev_rule {
	int type;	  /* BPF_DEVCG_DEV_CHAR / _BLOCK */
	int major, minor; /* -1: any */
	int access;	  /* BPF_DEVCG_ACC_* */
} dev_rules[] = {
    {BPF_DEVCG_DEV_CHAR, -1, -1, BPF_DEVCG_ACC_MKNOD},
    {BPF_DEVCG_DEV_BLOCK, -1, -1, BPF_DEVCG_ACC_MKNOD},
#define RWM (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)
    {BPF_DEVCG_DEV_CHAR, 1, 3, RWM},	/* null */
    {BPF_DEVCG_DEV_CHAR, 1, 5, RWM},	/* zero */
    {BPF_DEVCG_DEV_CHAR, 1, 7, RWM},	/* full */
    {BPF_DEVCG_DEV_CHAR, 1, 8, RWM},	/* random */
    {BPF_DEVCG_DEV_CHAR, 1, 9, RWM},	/* urandom */
    {BPF_DEVCG_DEV_CHAR, 5, 0, RWM},	/* tty */
    {BPF_DEVCG_DEV_CHAR, 5, 1, RWM},	/* console */
    {BPF_DEVCG_DEV_CHAR, 5, 2, RWM},	/* ptmx */
    {BPF_DEVCG_DEV_CHAR, 136, -1, RWM}, /* pts */
#undef RWM
};

#define INSN(c, d, s, o, i)                                                                                  \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

/* r2 = access, r3 = type, r4 = major, r5 = minor; per rule a block that
 * returns 1 when it matches, else falls through to the next; 0 at the end. */
static size_t build_dev_filter(struct bpf_insn *p, size_t max)
{
	size_t n = 0;
	p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0); /* access_type */
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0);
	p[n++] = INSN(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_3, 0, 0, 0xffff);
	p[n++] = INSN(BPF_ALU64 | BPF_RSH | BPF_K, BPF_REG_2, 0, 0, 16);
	p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0);
	p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0);
	for (size_t r = 0; r < ARRAY_SIZE(dev_rules); r++) {
		const struct dev_rule *d = &dev_rules[r];
		short len = (short)(6 + (d->major >= 0) + (d->minor >= 0));
		if (n + (size_t)len + 2 > max)
			return 0;
		short left = len; /* jumps skip the rest of this block */
		p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_3, 0, --left, d->type);
		p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_0, BPF_REG_2, 0, 0);
		p[n++] = INSN(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_0, 0, 0, ~d->access);
		left -= 2;
		p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, --left, 0);
		if (d->major >= 0)
			p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, --left, d->major);
		if (d->minor >= 0)
			p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, --left, d->minor);
		p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
		p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
	p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return n;
}

int builtin_cgroup_load_dev_filter(struct capsid_error *err)
{
	struct bpf_insn prog[160];
	size_t n = build_dev_filter(prog, ARRAY_SIZE(prog));
	if (!n)
		return capsid_error_set(err, E2BIG, "device filter too long");
	char log[512] = "";
	union bpf_attr load = {0};
	load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	load.insns = (uint64_t)(uintptr_t)prog;
	load.insn_cnt = (uint32_t)n;
	load.license = (uint64_t)(uintptr_t) "Apache-2.0";
	/* The kernel makes every BPF fd close-on-exec (bpf_prog_new_fd). */
	int pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load));
	if (pfd >= 0)
		return pfd;
	int saved = errno;
	/* Again with the verifier's log, for the message only (a log of a
	 * program that loads would fill any small buffer). */
	load.log_buf = (uint64_t)(uintptr_t)log;
	load.log_size = sizeof(log);
	load.log_level = 1;
	int again = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load));
	if (again >= 0)
		close(again);
	log[sizeof(log) - 1] = '\0';
	return capsid_error_errno(err, saved, "load the device filter (%.200s)", log);
}

/* Whether fd is a device program (not a closed fd, not whatever took its
 * number since). */
static bool is_dev_program(int fd)
{
	if (fd < 0)
		return false;
	struct bpf_prog_info info = {0};
	union bpf_attr a = {0};
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uint64_t)(uintptr_t)&info;
	return syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)) == 0 &&
	       info.type == BPF_PROG_TYPE_CGROUP_DEVICE;
}

/* Attach the agent's program when it handed one over, else one loaded
 * here (builtin on its own: the agent's boot could not load it, a test). */
static int attach_dev_filter(int cgfd, int dev_filter_fd, struct capsid_error *err)
{
	_cleanup_close_ int own = -1;
	int prog = dev_filter_fd;
	if (!is_dev_program(prog)) {
		own = builtin_cgroup_load_dev_filter(err);
		if (own < 0)
			return own;
		prog = own;
	}
	union bpf_attr at = {0};
	at.target_fd = (uint32_t)cgfd;
	at.attach_bpf_fd = (uint32_t)prog;
	at.attach_type = BPF_CGROUP_DEVICE;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &at, sizeof(at)) < 0)
		return capsid_error_errno(err, errno, "attach the device filter");
	return 0;
}

/* Whether word is one of the names of list (subtree_control: "cpu memory"). */
static bool has_word(const char *list, const char *word)
{
	size_t len = strlen(word);
	for (const char *p = list + strspn(list, " \n"); *p; p += strspn(p, " \n")) {
		size_t n = strcspn(p, " \n");
		if (n == len && strncmp(p, word, n) == 0)
			return true;
		p += n;
	}
	return false;
}

int builtin_cgroup_delegate(int dirfd, struct capsid_error *err)
{
	/* Read first: a write takes the cgroup mutex and walks every cgroup
	 * below, even when it changes nothing, and a parent is set up once. */
	_cleanup_free_ char *enabled = NULL;
	if (util_read_file_at(dirfd, "cgroup.subtree_control", 4096, &enabled, NULL) < 0)
		enabled = NULL;
	int rc = 0;
	for (size_t i = 0; i < ARRAY_SIZE(delegated_controllers); i++) {
		const char *name = delegated_controllers[i];
		if (enabled && has_word(enabled, name))
			continue;
		char op[16];
		snprintf(op, sizeof(op), "+%s", name);
		/* Each on its own: a controller the kernel lacks must not hide the others. */
		int w = write_at(dirfd, "cgroup.subtree_control", op);
		if (w < 0 && rc == 0)
			rc = capsid_error_errno(err, -w, "enable the %s controller", name);
	}
	return rc;
}

/* mkdir of one cgroup (one that exists is fine); with delegate, its
 * children get the controllers. */
static int make_dir(const char *path, bool delegate, struct capsid_error *err)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return capsid_error_errno(err, errno, "mkdir %s", path);
	if (!delegate)
		return 0;
	_cleanup_close_ int dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir >= 0)
		builtin_cgroup_delegate(dir, NULL);
	return 0;
}

/* mkdir -p of cgroup (below BUILTIN_CGROUP_ROOT), enabling the controllers for
 * the children on the way down (cgroup v2 only delegates what the parent
 * enables), in the last directory too with delegate_last. */
static int make_cgroup(const char *cgroup, bool delegate_last, struct capsid_error *err)
{
	char path[PATH_MAX];
	if (cgroup[0] != '/')
		return capsid_error_set(err, EINVAL, "cgroup path %.64s: not absolute", cgroup);
	if (snprintf(path, sizeof(path), BUILTIN_CGROUP_ROOT "%s", cgroup) >= (int)sizeof(path))
		return capsid_error_set(err, ENAMETOOLONG, "cgroup path too long");
	for (char *p = path + strlen(BUILTIN_CGROUP_ROOT) + 1;; p++) {
		if (*p && *p != '/')
			continue;
		bool last = !*p;
		*p = '\0';
		int rc = make_dir(path, !last || delegate_last, err);
		if (rc < 0 || last)
			return rc;
		*p = '/';
	}
}

int builtin_cgroup_make_parent(const char *cgroup, struct capsid_error *err)
{
	return make_cgroup(cgroup, true, err);
}

int builtin_cgroup_prepare(const struct builtin_spec *s, int dev_filter_fd, struct capsid_error *err)
{
	int rc = make_cgroup(s->cgroups_path, false, err);
	if (rc < 0)
		return rc;
	char path[PATH_MAX], v[64];
	snprintf(path, sizeof(path), BUILTIN_CGROUP_ROOT "%s", s->cgroups_path);
	_cleanup_close_ int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return capsid_error_errno(err, errno, "open %s", path);
	if (s->memory_limit > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)s->memory_limit);
		if ((rc = write_at(dir, "memory.max", v)) < 0)
			return capsid_error_errno(err, -rc, "memory.max");
		/* Like runc/crun without a swap limit on cgroup v2: no swap beyond it. */
		write_at(dir, "memory.swap.max", "0");
	}
	if (s->cpu_shares) {
		snprintf(v, sizeof(v), "%lu", builtin_cgroup_weight_of_shares(s->cpu_shares));
		if ((rc = write_at(dir, "cpu.weight", v)) < 0)
			return capsid_error_errno(err, -rc, "cpu.weight");
	}
	if (s->cpu_quota > 0 || s->cpu_period) {
		char quota[24] = "max";
		if (s->cpu_quota > 0)
			snprintf(quota, sizeof(quota), "%lld", (long long)s->cpu_quota);
		snprintf(v, sizeof(v), "%s %llu", quota,
			 (unsigned long long)(s->cpu_period ? s->cpu_period : 100000));
		if ((rc = write_at(dir, "cpu.max", v)) < 0)
			return capsid_error_errno(err, -rc, "cpu.max");
	}
	rc = attach_dev_filter(dir, dev_filter_fd, err);
	if (rc < 0)
		return rc;
	return TAKE_FD(dir);
}

int builtin_cgroup_open(const char *cgroups_path, struct capsid_error *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), BUILTIN_CGROUP_ROOT "%s", cgroups_path);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return capsid_error_errno(err, errno, "open %s", path);
	return fd;
}

static bool populated(int dir)
{
	_cleanup_free_ char *ev = NULL;
	if (util_read_file_at(dir, "cgroup.events", 4096, &ev, NULL) < 0)
		return false;
	return strstr(ev, "populated 1") != NULL;
}

int builtin_cgroup_destroy(const char *cgroups_path, struct capsid_error *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), BUILTIN_CGROUP_ROOT "%s", cgroups_path);
	_cleanup_close_ int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return errno == ENOENT ? 0 : capsid_error_errno(err, errno, "open %s", path);
	int rc = write_at(dir, "cgroup.kill", "1");
	if (rc < 0)
		return capsid_error_errno(err, -rc, "kill the processes of %s", cgroups_path);
	/* Exited processes leave the cgroup before their parent reaps them, so
	 * this does not wait for the agent. */
	uint64_t deadline = util_now_ms() + DESTROY_WAIT_MS;
	while (populated(dir)) {
		if (util_now_ms() >= deadline)
			return capsid_error_set(err, EBUSY, "processes of %s do not exit", cgroups_path);
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (rmdir(path) < 0 && errno != ENOENT)
		return capsid_error_errno(err, errno, "rmdir %s", path);
	return 0;
}

bool builtin_cgroup_has(const char *cgroups_path, pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	_cleanup_free_ char *s = NULL;
	if (util_read_file_at(AT_FDCWD, path, 4096, &s, NULL) < 0)
		return false;
	/* cgroup v2: one line "0::PATH" */
	const char *p = strstr(s, "0::");
	if (!p)
		return false;
	p += 3;
	size_t n = strcspn(p, "\n");
	return n == strlen(cgroups_path) && strncmp(p, cgroups_path, n) == 0;
}
