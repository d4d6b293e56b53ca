/* The builtin runtime's parts, without a VM: it reads exactly what
 * oci.c writes, refuses what it cannot apply (naming the field),
 * finds programs like execvp, converts cpu shares like crun, and keeps
 * mount points inside the container's root whatever the image's symlinks
 * say. As root, in a cgroup2 of its own mount namespace: the parent cgroup
 * made once, and every container cgroup gets the device filter, the
 * agent's preloaded program when it is handed over, its own otherwise. */

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/seccomp.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builtin/cgroup.h"
#include "builtin/mount.h"
#include "builtin/proc.h"
#include "builtin/spec.h"
#include "cleanup.h"
#include "oci.h"
#include "testlib.h"
#include "util.h"

static struct json_object *agent_config(void)
{
	static struct json_object *args, *env;
	args = json_tokener_parse("[\"/bin/sh\",\"-c\",\"echo hi\"]");
	env = json_tokener_parse("[\"A=b\"]");
	struct request_process proc = {
	    .args = args, .env = env, .cwd = "/srv", .tty = true, .rows = 24, .cols = 80};
	struct user_ids user = {.uid = 1000, .gid = 1000, .groups = {2000}, .n_groups = 1};
	struct request_resources res = {
	    .memory_bytes = 64 << 20, .cpu_shares = 512, .cpu_quota_us = 50000, .cpu_period_us = 100000};
	struct oci_mount vol = {.source = "/run/capsid/volumes/v", .destination = "/data", .read_only = true};
	struct oci_config_params p = {
	    .process = {.proc = &proc, .user = &user},
	    .rootfs = "/run/capsid/containers/web/rootfs",
	    .hostname = "grp",
	    .cgroups_path = "/capsid/web",
	    .res = &res,
	    .hosts_file = "/b/hosts",
	    .resolv_file = "/b/resolv.conf",
	    .mounts = &vol,
	    .n_mounts = 1,
	};
	struct json_object *cfg = oci_config_new(&p);
	json_object_put(args);
	json_object_put(env);
	return cfg;
}

static const struct builtin_spec_mount *find_mount(const struct builtin_spec *s, const char *dest)
{
	for (size_t i = 0; i < s->n_mounts; i++)
		if (strcmp(s->mounts[i].destination, dest) == 0)
			return &s->mounts[i];
	return NULL;
}

static void test_reads_the_agents_config(void)
{
	struct json_object *cfg = agent_config();
	static struct builtin_spec s;
	struct capsid_error err = {0};
	CHECK(builtin_spec_parse_config(cfg, &s, &err) == 0);
	if (err.msg[0])
		fprintf(stderr, "  %s\n", err.msg);
	CHECK(strcmp(s.root, "/run/capsid/containers/web/rootfs") == 0 && !s.root_readonly);
	CHECK(strcmp(s.hostname, "grp") == 0 && strcmp(s.cgroups_path, "/capsid/web") == 0);
	CHECK(s.namespaces == (CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWCGROUP));
	CHECK(s.memory_limit == 64 << 20 && s.cpu_shares == 512 && s.cpu_quota == 50000 &&
	      s.cpu_period == 100000);
	CHECK(s.process.uid == 1000 && s.process.gid == 1000 && s.process.n_groups == 1 &&
	      s.process.groups[0] == 2000);
	CHECK(s.process.terminal && s.process.rows == 24 && s.process.cols == 80);
	CHECK(strcmp(s.process.args[0], "/bin/sh") == 0 && s.process.args[3] == NULL);
	CHECK(strcmp(s.process.cwd, "/srv") == 0);
	CHECK(s.process.caps[BUILTIN_SPEC_BOUNDING] & (UINT64_C(1) << CAP_NET_BIND_SERVICE));
	CHECK(!(s.process.caps[BUILTIN_SPEC_BOUNDING] & (UINT64_C(1) << CAP_SYS_ADMIN)));
	CHECK(s.process.n_rlimits == 1 && s.process.rlimits[0].resource == RLIMIT_NOFILE &&
	      s.process.rlimits[0].limit.rlim_cur == 1024);
	bool kcore = false, sys = false;
	for (size_t i = 0; i < s.n_masked; i++)
		kcore |= strcmp(s.masked[i], "/proc/kcore") == 0;
	for (size_t i = 0; i < s.n_readonly; i++)
		sys |= strcmp(s.readonly[i], "/proc/sys") == 0;
	CHECK(kcore && sys);

	const struct builtin_spec_mount *m = find_mount(&s, "/sys");
	CHECK(m && strcmp(m->type, "sysfs") == 0 && (m->flags & MS_RDONLY) && (m->flags & MS_NOEXEC) &&
	      !m->bind);
	m = find_mount(&s, "/dev");
	CHECK(m && strstr(m->data, "mode=755") && strstr(m->data, "size=65536k") &&
	      (m->flags & MS_STRICTATIME));
	m = find_mount(&s, "/etc/hosts");
	CHECK(m && m->bind && (m->flags & MS_REC) && m->propagation == (MS_PRIVATE | MS_REC) &&
	      !(m->flags & MS_RDONLY));
	m = find_mount(&s, "/data");
	CHECK(m && m->bind && (m->flags & MS_RDONLY) && (m->flags & MS_NOSUID) && (m->flags & MS_NODEV));
	json_object_put(cfg);
}

/* Replace the value at a dotted path of cfg by the JSON text v. */
static void set(struct json_object *cfg, const char *path, const char *v)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	char *last = strrchr(buf, '.');
	struct json_object *o = cfg;
	if (last) {
		*last++ = '\0';
		char *save = NULL;
		for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
			json_object_object_get_ex(o, k, &o);
	} else {
		last = buf;
	}
	json_object_object_add(o, last, json_tokener_parse(v));
}

static void expect_refused(const char *path, const char *value, const char *needle)
{
	struct json_object *cfg = agent_config();
	set(cfg, path, value);
	static struct builtin_spec s;
	struct capsid_error err = {0};
	CHECK(builtin_spec_parse_config(cfg, &s, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, needle);
	json_object_put(cfg);
}

/* A profile becomes a filter: the architecture and x32 checks, two
 * instructions per named call known to the kernel, the default last. */
static void test_seccomp_filter(void)
{
	struct json_object *cfg = agent_config();
	set(cfg, "linux.seccomp",
	    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,\"syscalls\":[{\"names\":[\"read\","
	    "\"write\",\"no_such_call\"],\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"mkdir\"],"
	    "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}");
	static struct builtin_spec s;
	struct capsid_error err = {0};
	CHECK(builtin_spec_parse_config(cfg, &s, &err) == 0);
	const struct builtin_seccomp *f = &s.process.seccomp;
	CHECK(f->set && f->n == 6 + 2 * 3 + 1);
	/* read (0) allowed, mkdir (83) EACCES, the rest EPERM. */
	CHECK(f->insns[6].k == 0 && f->insns[7].k == SECCOMP_RET_ALLOW);
	CHECK(f->insns[10].k == 83 && f->insns[11].k == (SECCOMP_RET_ERRNO | 13));
	CHECK(f->insns[12].k == (SECCOMP_RET_ERRNO | 1));
	json_object_put(cfg);
}

static void test_refuses_what_it_cannot_apply(void)
{
	expect_refused("linux.seccomp",
		       "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"socket\"],"
		       "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":16,\"op\":\"SCMP_CMP_IS\"}]}]}",
		       "linux.seccomp: syscalls[0].args[0].op: \"SCMP_CMP_IS\" is unknown");
	expect_refused("linux.seccomp", "{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}", "SCMP_ACT_NOTIFY is not supported");
	expect_refused("linux.sysctl", "{\"net.ipv4.ip_forward\":\"1\"}", "sysctl");
	expect_refused("linux.namespaces", "[{\"type\":\"network\"}]", "linux.namespaces[0].type");
	expect_refused("linux.namespaces", "[{\"type\":\"pid\"}]", "mount namespace");
	expect_refused("linux.namespaces", "[{\"type\":\"mount\",\"path\":\"/proc/1/ns/mnt\"}]", "path");
	expect_refused("linux.resources.devices", "[{\"allow\":true,\"access\":\"rwm\"}]", "devices[0]");
	expect_refused("linux.cgroupsPath", "\"/capsid/../escape\"", "cgroupsPath");
	expect_refused("linux.personality", "{\"domain\":\"LINUX32\"}", "personality");
	expect_refused("process.capabilities", "{\"bounding\":[\"CAP_NOPE\"]}", "CAP_NOPE");
	expect_refused("process.rlimits", "[{\"type\":\"RLIMIT_NOPE\",\"soft\":1,\"hard\":1}]",
		       "rlimits[0].type");
	expect_refused("process.args", "[]", "process.args");
	expect_refused("process.cwd", "\"relative\"", "process.cwd");
	expect_refused("process.user", "{\"uid\":-1,\"gid\":0}", "process.user.uid");
	expect_refused("root.path", "\"rootfs\"", "root.path");
	expect_refused("mounts", "[{\"destination\":\"relative\",\"type\":\"tmpfs\",\"source\":\"t\"}]",
		       "mounts[0].destination");
	expect_refused("mounts", "[{\"destination\":\"/x\"}]", "mounts[0]");
}

static void test_program_lookup(void)
{
	char dir[] = "/tmp/capsid-bt-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char bin[PATH_MAX], path_env[PATH_MAX + 8], out[PATH_MAX];
	snprintf(bin, sizeof(bin), "%s/tool", dir);
	int fd = open(bin, O_CREAT | O_WRONLY | O_CLOEXEC, 0755);
	CHECK(fd >= 0);
	close(fd);
	snprintf(path_env, sizeof(path_env), "PATH=/nonexistent:%s", dir);
	struct builtin_spec_process p = {.args = {"tool", NULL}, .env = {path_env, NULL}};
	CHECK(builtin_proc_find_program(&p, out, sizeof(out)) == 0 && strcmp(out, bin) == 0);
	p.args[0] = "missing";
	CHECK(builtin_proc_find_program(&p, out, sizeof(out)) == -ENOENT);
	chmod(bin, 0644);
	p.args[0] = "tool";
	CHECK(builtin_proc_find_program(&p, out, sizeof(out)) == -EACCES);
	p.args[0] = "/abs/path";
	CHECK(builtin_proc_find_program(&p, out, sizeof(out)) == 0 && strcmp(out, "/abs/path") == 0);
	unlink(bin);
	rmdir(dir);
}

static void test_shares_to_weight(void)
{
	/* crun's and runc's conversion: 2 -> 1, 1024 -> 39, 262144 -> 10000 */
	CHECK(builtin_cgroup_weight_of_shares(2) == 1);
	CHECK(builtin_cgroup_weight_of_shares(1024) == 39);
	CHECK(builtin_cgroup_weight_of_shares(262144) == 10000);
	CHECK(builtin_cgroup_weight_of_shares(0) == 1);
}

/* An image whose /etc/hosts is an absolute symlink to a host path, and
 * whose /etc is a symlink upwards: mount points must still land inside. */
static void test_mount_points_stay_in_root(void)
{
	char top[] = "/tmp/capsid-root-XXXXXX";
	CHECK(mkdtemp(top) != NULL);
	char root[256], outside[256], p[PATH_MAX];
	snprintf(root, sizeof(root), "%s/root", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	CHECK(mkdir(root, 0755) == 0 && mkdir(outside, 0755) == 0);
	snprintf(p, sizeof(p), "%s/etc", root);
	CHECK(mkdir(p, 0755) == 0);
	char target[PATH_MAX + 16];
	snprintf(target, sizeof(target), "%s/hosts-target", outside);
	snprintf(p, sizeof(p), "%s/etc/hosts", root);
	CHECK(symlink(target, p) == 0);
	snprintf(p, sizeof(p), "%s/up", root);
	CHECK(symlink("../outside", p) == 0);

	int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(rootfd >= 0);
	int fd = builtin_mount_make_in_root(rootfd, "/etc/hosts", true);
	CHECK(fd >= 0);
	struct stat st, want;
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode));
	snprintf(p, sizeof(p), "%s/etc/hosts", root);
	CHECK(lstat(p, &want) == 0 && S_ISREG(want.st_mode) && st.st_ino == want.st_ino);
	CHECK(access(target, F_OK) < 0); /* nothing created outside */
	if (fd >= 0)
		close(fd);

	/* Inside the root "../outside" is /outside, which does not exist: the
	 * dangling link becomes a directory of the root. */
	fd = builtin_mount_make_in_root(rootfd, "/up/newdir", false);
	CHECK(fd >= 0);
	snprintf(p, sizeof(p), "%s/up/newdir", root);
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
	snprintf(p, sizeof(p), "%s/newdir", outside);
	CHECK(stat(p, &st) < 0);
	if (fd >= 0)
		close(fd);

	fd = builtin_mount_make_in_root(rootfd, "/a/b/c", false);
	CHECK(fd >= 0);
	snprintf(p, sizeof(p), "%s/a/b/c", root);
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	if (fd >= 0)
		close(fd);
	close(rootfd);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	CHECK(system(cmd) == 0);
}

/* A cgroup2 hierarchy on /sys/fs/cgroup, for this process only (the
 * host's may be elsewhere or hybrid); the test's cgroups go in a parent of
 * their own, removed at the end. */
static bool cgroup_ready;
static char test_parent[64];

static bool enter_cgroup2(void)
{
	if (geteuid() != 0) {
		TEST_SKIP("cgroup tests: need root (cgroup2, BPF)");
		return false;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		TEST_SKIP("cgroup tests: mount cgroup2: %s", strerror(errno));
		return false;
	}
	snprintf(test_parent, sizeof(test_parent), "/capsid-unit-%d", (int)getpid());
	return true;
}

static int bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static uint32_t prog_id(int fd)
{
	struct bpf_prog_info info = {0};
	union bpf_attr a = {0};
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uint64_t)(uintptr_t)&info;
	return bpf(BPF_OBJ_GET_INFO_BY_FD, &a) == 0 ? info.id : 0;
}

/* How many device programs the cgroup has; *id: the first one's. */
static int attached(int cgfd, uint32_t *id)
{
	uint32_t ids[4] = {0};
	union bpf_attr a = {0};
	a.query.target_fd = (uint32_t)cgfd;
	a.query.attach_type = BPF_CGROUP_DEVICE;
	a.query.prog_ids = (uint64_t)(uintptr_t)ids;
	a.query.prog_cnt = ARRAY_SIZE(ids);
	if (bpf(BPF_PROG_QUERY, &a) < 0)
		return -errno;
	*id = ids[0];
	return (int)a.query.prog_cnt;
}

static bool opens(const char *node)
{
	int fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

/* In a child moved into the cgroup: the policy of integration.agent's
 * isolation check. 0: a node of /dev/kmsg (1:11, outside the policy)
 * could be made but not opened, /dev/null opens; else which step
 * disagreed. */
static int device_policy_in(int cgfd, const char *dir)
{
	pid_t pid = fork();
	if (pid == 0) {
		int procs = openat(cgfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
		if (procs < 0 || write(procs, "0", 1) != 1)
			_exit(10);
		char node[PATH_MAX];
		snprintf(node, sizeof(node), "%s/kmsg-%d", dir, (int)getpid());
		if (mknod(node, S_IFCHR | 0600, makedev(1, 11)) < 0)
			_exit(11);
		bool denied = !opens(node) && errno == EPERM;
		unlink(node);
		_exit(!denied ? 12 : !opens("/dev/null") ? 13 : 0);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Whether the controller list (cgroup.subtree_control) names " name ". */
static bool has_name(const char *list, const char *name)
{
	char padded[4096 + 2];
	snprintf(padded, sizeof(padded), " %s", list);
	for (char *p = padded; *p; p++)
		if (*p == '\n')
			*p = ' ';
	strncat(padded, " ", sizeof(padded) - strlen(padded) - 1);
	return strstr(padded, name) != NULL;
}

static void test_parent_cgroup_made_once(void)
{
	if (!cgroup_ready)
		return;
	struct capsid_error err = {0};
	CHECK(builtin_cgroup_make_parent(test_parent, &err) == 0);
	CHECK(builtin_cgroup_make_parent(test_parent, &err) == 0); /* made already: fine */
	CHECK(builtin_cgroup_make_parent("relative", &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "not absolute");
	/* The controllers the root delegates reach the parent's children. */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cgroup.subtree_control", test_parent);
	_cleanup_free_ char *root = NULL, *mine = NULL;
	CHECK(util_read_file_at(AT_FDCWD, "/sys/fs/cgroup/cgroup.subtree_control", 4096, &root, NULL) >= 0);
	CHECK(util_read_file_at(AT_FDCWD, path, 4096, &mine, NULL) >= 0);
	static const char *const ctl[] = {" cpu ", " memory ", " pids "};
	for (size_t i = 0; root && mine && i < ARRAY_SIZE(ctl); i++)
		CHECK(!has_name(root, ctl[i]) || has_name(mine, ctl[i]));
}

/* A container's cgroup as builtin run makes it, with filter_fd handed over. */
static void expect_filtered(const char *leaf, int filter_fd, uint32_t want_id, bool same)
{
	static struct builtin_spec s;
	char cg[128];
	snprintf(cg, sizeof(cg), "%s/%s", test_parent, leaf);
	s.cgroups_path = cg;
	struct capsid_error err = {0};
	int cgfd = builtin_cgroup_prepare(&s, filter_fd, &err);
	CHECK(cgfd >= 0);
	if (cgfd < 0) {
		fprintf(stderr, "  %s: %s\n", leaf, err.msg);
		builtin_cgroup_destroy(cg, NULL);
		return;
	}
	uint32_t id = 0;
	CHECK(attached(cgfd, &id) == 1);
	CHECK(same ? id == want_id : id != want_id);
	/* Only where a node of /dev/kmsg opens without the filter can its
	 * denial show that the filter does it. */
	if (opens("/dev/kmsg"))
		CHECK(device_policy_in(cgfd, "/tmp") == 0);
	else
		TEST_SKIP("device policy in %s: /dev/kmsg does not open here", leaf);
	close(cgfd);
	CHECK(builtin_cgroup_destroy(cg, &err) == 0);
}

static void test_device_filter_preloaded_or_own(void)
{
	if (!cgroup_ready)
		return;
	struct capsid_error err = {0};
	int prog = builtin_cgroup_load_dev_filter(&err);
	if (prog < 0 && err.code == EPERM) {
		TEST_SKIP("device filter: %s", err.msg);
		return;
	}
	CHECK(prog >= 0);
	if (prog < 0)
		return;
	CHECK(fcntl(prog, F_GETFD) & FD_CLOEXEC); /* no container process keeps it */
	uint32_t id = prog_id(prog);
	CHECK(id != 0);
	expect_filtered("preloaded", prog, id, true);
	/* Without the agent's program (none, or its fd closed and the number
	 * taken by another file since): its own. */
	expect_filtered("own", -1, id, false);
	int gone = dup(prog);
	close(gone);
	expect_filtered("closed", gone, id, false);
	close(prog);
	/* A parent that nobody made is made on the way. */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/missing", test_parent);
	CHECK(builtin_cgroup_destroy(path, &err) == 0);
	expect_filtered("missing/ct", -1, 0, false);
	CHECK(builtin_cgroup_destroy(path, &err) == 0);
}

int main(void)
{
	RUN_TEST(test_reads_the_agents_config);
	RUN_TEST(test_seccomp_filter);
	RUN_TEST(test_refuses_what_it_cannot_apply);
	RUN_TEST(test_program_lookup);
	RUN_TEST(test_shares_to_weight);
	RUN_TEST(test_mount_points_stay_in_root);
	cgroup_ready = enter_cgroup2();
	RUN_TEST(test_parent_cgroup_made_once);
	RUN_TEST(test_device_filter_preloaded_or_own);
	if (cgroup_ready)
		builtin_cgroup_destroy(test_parent, NULL);
	TEST_EXIT();
}
