/* The builtin runtime's pure parts, without a VM: it reads exactly what
 * oci_config.c writes, refuses what it cannot apply (naming the field),
 * finds programs like execvp, converts cpu shares like crun, and keeps
 * mount points inside the container's root whatever the image's symlinks
 * say. */

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin_cgroup.h"
#include "builtin_mount.h"
#include "builtin_proc.h"
#include "builtin_spec.h"
#include "oci_config.h"
#include "testlib.h"

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

static const struct bspec_mount *find_mount(const struct bspec *s, const char *dest)
{
	for (size_t i = 0; i < s->n_mounts; i++)
		if (strcmp(s->mounts[i].destination, dest) == 0)
			return &s->mounts[i];
	return NULL;
}

static void test_reads_the_agents_config(void)
{
	struct json_object *cfg = agent_config();
	static struct bspec s;
	struct capsid_error err = {0};
	CHECK(bspec_parse_config(cfg, &s, &err) == 0);
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
	CHECK(s.process.caps[BSPEC_BOUNDING] & (UINT64_C(1) << CAP_NET_BIND_SERVICE));
	CHECK(!(s.process.caps[BSPEC_BOUNDING] & (UINT64_C(1) << CAP_SYS_ADMIN)));
	CHECK(s.process.n_rlimits == 1 && s.process.rlimits[0].resource == RLIMIT_NOFILE &&
	      s.process.rlimits[0].limit.rlim_cur == 1024);
	bool kcore = false, sys = false;
	for (size_t i = 0; i < s.n_masked; i++)
		kcore |= strcmp(s.masked[i], "/proc/kcore") == 0;
	for (size_t i = 0; i < s.n_readonly; i++)
		sys |= strcmp(s.readonly[i], "/proc/sys") == 0;
	CHECK(kcore && sys);

	const struct bspec_mount *m = find_mount(&s, "/sys");
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
	static struct bspec s;
	struct capsid_error err = {0};
	CHECK(bspec_parse_config(cfg, &s, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, needle);
	json_object_put(cfg);
}

static void test_refuses_what_it_cannot_apply(void)
{
	expect_refused("linux.seccomp", "{\"defaultAction\":\"SCMP_ACT_ALLOW\"}", "seccomp");
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
	struct bspec_process p = {.args = {"tool", NULL}, .env = {path_env, NULL}};
	CHECK(bproc_find_program(&p, out, sizeof(out)) == 0 && strcmp(out, bin) == 0);
	p.args[0] = "missing";
	CHECK(bproc_find_program(&p, out, sizeof(out)) == -ENOENT);
	chmod(bin, 0644);
	p.args[0] = "tool";
	CHECK(bproc_find_program(&p, out, sizeof(out)) == -EACCES);
	p.args[0] = "/abs/path";
	CHECK(bproc_find_program(&p, out, sizeof(out)) == 0 && strcmp(out, "/abs/path") == 0);
	unlink(bin);
	rmdir(dir);
}

static void test_shares_to_weight(void)
{
	/* crun's and runc's conversion: 2 -> 1, 1024 -> 39, 262144 -> 10000 */
	CHECK(bcgroup_weight_of_shares(2) == 1);
	CHECK(bcgroup_weight_of_shares(1024) == 39);
	CHECK(bcgroup_weight_of_shares(262144) == 10000);
	CHECK(bcgroup_weight_of_shares(0) == 1);
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
	int fd = bmount_make_in_root(rootfd, "/etc/hosts", true);
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
	fd = bmount_make_in_root(rootfd, "/up/newdir", false);
	CHECK(fd >= 0);
	snprintf(p, sizeof(p), "%s/up/newdir", root);
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
	snprintf(p, sizeof(p), "%s/newdir", outside);
	CHECK(stat(p, &st) < 0);
	if (fd >= 0)
		close(fd);

	fd = bmount_make_in_root(rootfd, "/a/b/c", false);
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

int main(void)
{
	RUN_TEST(test_reads_the_agents_config);
	RUN_TEST(test_refuses_what_it_cannot_apply);
	RUN_TEST(test_program_lookup);
	RUN_TEST(test_shares_to_weight);
	RUN_TEST(test_mount_points_stay_in_root);
	TEST_EXIT();
}
