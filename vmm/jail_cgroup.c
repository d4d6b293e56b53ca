/* A VMM's cgroup: <mount>/capsid.slice/<root key>-<owner>, the key a hash
 * of the state root (two roots on one host may both have a group "web").
 *
 * cgroup v2 where a v2 hierarchy offers cpu, memory and pids: /sys/fs/cgroup
 * itself (the unified layout) or /sys/fs/cgroup/unified (a hybrid layout
 * whose controllers are not bound to v1) (cpu.max, memory.max,
 * memory.swap.max, pids.max; the controllers enabled in the hierarchy
 * root's and the slice's cgroup.subtree_control). Otherwise v1, one
 * directory per controller under /sys/fs/cgroup/{cpu,memory,pids}
 * (cpu.cfs_quota_us, memory.limit_in_bytes, pids.max). Only the VMM goes
 * in: its monitor stays outside, so that a group at its limits can still
 * be stopped, logged and deleted. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "jail.h"
#include "util.h"

#define CGROUP_MOUNT "/sys/fs/cgroup"
#define SLICE	     "capsid.slice"
#define CPU_PERIOD_US 100000u

static const char *const v1_controllers[JAIL_CGROUP_MAX] = {"cpu", "memory", "pids"};

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

int jail_cgroup_v2_mount(const char *base, char *out, size_t len)
{
	static const char *const where[] = {"", "/unified"};
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		char path[PATH_MAX], list[1024];
		snprintf(path, sizeof(path), "%s%s/cgroup.controllers", base, where[i]);
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, list, sizeof(list) - 1);
		if (n <= 0)
			continue;
		list[n] = '\0';
		if (has_word(list, "cpu") && has_word(list, "memory") && has_word(list, "pids")) {
			int w = snprintf(out, len, "%s%s", base, where[i]);
			return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 1;
		}
	}
	return 0;
}

static int write_str(const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, value, strlen(value));
	return n < 0 ? -errno : 0;
}

static void cgroup_name(const char *root, const char *owner, char *out, size_t len)
{
	uint32_t h = 2166136261u;
	for (const char *p = root; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	snprintf(out, len, "%08x-%s", h, owner);
}

static int fill_dirs(const char *root, const char *owner, struct jail_cgroup *cg)
{
	char name[sizeof(cg->name)], v2[32]; /* /sys/fs/cgroup or .../unified */
	cgroup_name(root, owner, name, sizeof(name));
	*cg = (struct jail_cgroup){.v2 = jail_cgroup_v2_mount(CGROUP_MOUNT, v2, sizeof(v2)) == 1};
	memcpy(cg->name, name, sizeof(name));
	if (cg->v2) {
		snprintf(cg->dirs[0], sizeof(cg->dirs[0]), "%s/" SLICE "/%s", v2, name);
		cg->n_dirs = 1;
		return 0;
	}
	for (size_t i = 0; i < JAIL_CGROUP_MAX; i++)
		snprintf(cg->dirs[cg->n_dirs++], sizeof(cg->dirs[0]), CGROUP_MOUNT "/%s/" SLICE "/%s",
			 v1_controllers[i], name);
	return 0;
}

static int make_dir(const char *dir)
{
	return mkdir(dir, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

static int create_v2(const struct jail_cgroup *cg, const struct jail_limits *l, struct capsid_error *err)
{
	/* The hierarchy's root and the slice: dirs[0] less its last two parts. */
	const char *d = cg->dirs[0];
	char top[sizeof(cg->dirs[0])], slice[sizeof(cg->dirs[0])];
	snprintf(slice, sizeof(slice), "%s", d);
	*strrchr(slice, '/') = '\0';
	snprintf(top, sizeof(top), "%s", slice);
	*strrchr(top, '/') = '\0';
	/* Controllers must be enabled from the top down to the slice. */
	int rc = write_str(top, "cgroup.subtree_control", "+cpu +memory +pids");
	if (rc < 0)
		return capsid_error_errno(err, rc, "jail: enable cpu, memory, pids in %s", top);
	if ((rc = make_dir(slice)) < 0)
		return capsid_error_errno(err, rc, "jail: create %s", slice);
	if ((rc = write_str(slice, "cgroup.subtree_control", "+cpu +memory +pids")) < 0)
		return capsid_error_errno(err, rc, "jail: enable controllers in %s", slice);
	if ((rc = make_dir(d)) < 0)
		return capsid_error_errno(err, rc, "jail: create %s", d);
	char v[64];
	if (l->cpu_percent) {
		snprintf(v, sizeof(v), "%u %u", l->cpu_percent * (CPU_PERIOD_US / 100), CPU_PERIOD_US);
		if ((rc = write_str(d, "cpu.max", v)) < 0)
			return capsid_error_errno(err, rc, "jail: %s/cpu.max", d);
	}
	if (l->memory_bytes) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)l->memory_bytes);
		if ((rc = write_str(d, "memory.max", v)) < 0)
			return capsid_error_errno(err, rc, "jail: %s/memory.max", d);
		write_str(d, "memory.swap.max", "0"); /* absent without swap accounting */
	}
	if (l->pids) {
		snprintf(v, sizeof(v), "%u", l->pids);
		if ((rc = write_str(d, "pids.max", v)) < 0)
			return capsid_error_errno(err, rc, "jail: %s/pids.max", d);
	}
	return 0;
}

static int create_v1(const struct jail_cgroup *cg, const struct jail_limits *l, struct capsid_error *err)
{
	for (size_t i = 0; i < cg->n_dirs; i++) {
		char slice[PATH_MAX];
		snprintf(slice, sizeof(slice), CGROUP_MOUNT "/%s/" SLICE, v1_controllers[i]);
		int rc = make_dir(slice);
		if (rc == 0)
			rc = make_dir(cg->dirs[i]);
		if (rc < 0)
			return capsid_error_errno(err, rc, "jail: create %s (cgroup v1 %s controller)", cg->dirs[i],
						  v1_controllers[i]);
	}
	char v[64];
	int rc;
	if (l->cpu_percent) {
		snprintf(v, sizeof(v), "%u", CPU_PERIOD_US);
		if ((rc = write_str(cg->dirs[0], "cpu.cfs_period_us", v)) < 0)
			return capsid_error_errno(err, rc, "jail: %s/cpu.cfs_period_us", cg->dirs[0]);
		snprintf(v, sizeof(v), "%u", l->cpu_percent * (CPU_PERIOD_US / 100));
		if ((rc = write_str(cg->dirs[0], "cpu.cfs_quota_us", v)) < 0)
			return capsid_error_errno(err, rc, "jail: %s/cpu.cfs_quota_us", cg->dirs[0]);
	}
	if (l->memory_bytes) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)l->memory_bytes);
		if ((rc = write_str(cg->dirs[1], "memory.limit_in_bytes", v)) < 0)
			return capsid_error_errno(err, rc, "jail: %s/memory.limit_in_bytes", cg->dirs[1]);
		write_str(cg->dirs[1], "memory.memsw.limit_in_bytes", v); /* with swap accounting only */
	}
	if (l->pids) {
		snprintf(v, sizeof(v), "%u", l->pids);
		if ((rc = write_str(cg->dirs[2], "pids.max", v)) < 0)
			return capsid_error_errno(err, rc, "jail: %s/pids.max", cg->dirs[2]);
	}
	return 0;
}

int jail_cgroup_create(const char *root, const char *owner, const struct jail_limits *l, struct jail_cgroup *cg,
		       struct capsid_error *err)
{
	fill_dirs(root, owner, cg);
	return cg->v2 ? create_v2(cg, l, err) : create_v1(cg, l, err);
}

int jail_cgroup_attach(const struct jail_cgroup *cg, pid_t pid, struct capsid_error *err)
{
	char v[32];
	snprintf(v, sizeof(v), "%d", (int)pid);
	for (size_t i = 0; i < cg->n_dirs; i++) {
		int rc = write_str(cg->dirs[i], "cgroup.procs", v);
		if (rc < 0)
			return capsid_error_errno(err, rc, "jail: move %d into %s", (int)pid, cg->dirs[i]);
	}
	return 0;
}

int jail_cgroup_remove(const char *root, const char *owner)
{
	struct jail_cgroup cg;
	fill_dirs(root, owner, &cg);
	int rc = 0;
	for (size_t i = 0; i < cg.n_dirs; i++)
		if (rmdir(cg.dirs[i]) < 0 && errno != ENOENT)
			rc = -errno;
	return rc;
}
