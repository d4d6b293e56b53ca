/* Which jail each of a group's VMMs gets (vmm/jail.h; on unless
 * CAPSID_CONFINE=0): the group's uid (allocated on the first boot,
 * released when the group is deleted), its cgroup with the limits of its
 * machine, /dev/kvm only under KVM, and for warm start's RAM files the
 * shared gid that may open them. A template is built in the cgroup and as
 * the uid of the group that needs it; a ready clone has the standby's own
 * and is handed both when a group adopts it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor.h"
#include "util.h"

/* QEMU's threads: main loop, RCU, vCPUs, up to 64 block I/O workers. */
#define MONITOR_JAIL_PIDS 256

static void limits_of(const struct monitor_options *opts, const struct vmm_config *cfg, struct jail_limits *l)
{
	/* A vCPU thread can take a whole CPU; QEMU's main loop and I/O one more. */
	*l = (struct jail_limits){
	    .cpu_percent = (cfg->vcpus + 1) * 100,
	    .memory_bytes = ((uint64_t)cfg->memory_mib + opts->vmm_overhead_mib) << 20,
	    .pids = MONITOR_JAIL_PIDS,
	};
}

/* Warm start's RAM file must exist before QEMU starts (the jail shows the
 * file, not its directory) and be writable by the shared gid: QEMU 7.2
 * opens a memory-backend-file read-write even for a private mapping. */
static int ram_file_ready(const char *path, gid_t gid, struct capsid_error *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0660);
	if (fd < 0)
		return capsid_error_errno(err, errno, "jail: RAM file %s", path);
	int rc = fchown(fd, 0, gid) < 0 || fchmod(fd, 0660) < 0 ? -errno : 0;
	close(fd);
	return rc < 0 ? capsid_error_errno(err, rc, "jail: RAM file %s: owner", path) : 0;
}

int monitor_jail_apply(const struct monitor_options *opts, const char *root, const char *owner,
		       struct vmm_config *cfg, struct vmm_jail *j, struct capsid_error *err)
{
	cfg->jail = NULL;
	if (!opts->confine)
		return 0;
	*j = (struct vmm_jail){.root = root, .kvm = cfg->accel == VMM_ACCEL_KVM, .has_cgroup = true};
	uid_t uid;
	int rc = jail_uid_get(root, &opts->uids, owner, &uid, err);
	if (rc < 0)
		return rc;
	j->uid = uid;
	j->gid = (gid_t)uid;
	if (cfg->ram_file) {
		j->shared_gid = (gid_t)opts->uids.first;
		if ((rc = ram_file_ready(cfg->ram_file, j->shared_gid, err)) < 0)
			return rc;
	}
	struct jail_limits l;
	limits_of(opts, cfg, &l);
	if ((rc = jail_cgroup_create(root, owner, &l, &j->cgroup, err)) < 0)
		return rc;
	cfg->jail = j;
	return 0;
}

int monitor_jail_standby_owner(const char *standby_dir, char *out, size_t len)
{
	const char *base = strrchr(standby_dir, '/');
	int n = snprintf(out, len, "standby-%s", base ? base + 1 : standby_dir);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int monitor_jail_adopt(struct monitor *m, const struct vmm_config *cfg, struct capsid_error *err)
{
	if (!m->opts->confine)
		return 0;
	char from[128];
	if (monitor_jail_standby_owner(m->warm.adopt->dir, from, sizeof(from)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "jail: standby directory name too long");
	int rc = jail_uid_transfer(m->paths->root, from, m->paths->name, err);
	if (rc < 0)
		return rc;
	struct jail_limits l;
	struct jail_cgroup cg;
	limits_of(m->opts, cfg, &l);
	if ((rc = jail_cgroup_create(m->paths->root, m->paths->name, &l, &cg, err)) < 0 ||
	    (rc = jail_cgroup_attach(&cg, m->warm.adopt->qemu_pid, err)) < 0)
		return rc;
	jail_cgroup_remove(m->paths->root, from);
	return 0;
}

void monitor_jail_vm_gone(struct monitor *m)
{
	if (m->opts->confine)
		jail_cgroup_remove(m->paths->root, m->paths->name);
}

void monitor_jail_release(struct monitor *m)
{
	if (!m->opts->confine)
		return;
	jail_cgroup_remove(m->paths->root, m->paths->name);
	jail_uid_release(m->paths->root, m->paths->name);
}
