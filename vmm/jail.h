/* The jail a VMM runs in (docs/ARCHITECTURE.md "Confinement"): a uid/gid
 * of its own, no capabilities, no_new_privs, a minimal environment, only
 * the descriptors it needs; mount (pivot_root into a tmpfs holding only
 * what it opens by path), pid, IPC, UTS, network and cgroup namespaces; a
 * cgroup of its own with CPU, memory and pids limits. QEMU's own seccomp
 * filter (-sandbox) is on its command line (qemu.c).
 *
 * Three parts:
 *   jail_ids.c     uids from a configured range, persisted under the state
 *                  root (<root>/jail/uids/<uid> names the owner), flock'd
 *   jail_cgroup.c  <cgroup>/capsid.slice/<root key>-<owner>: v2 when the
 *                  unified hierarchy has the controllers, else v1
 *   jail.c         the child between clone3 and exec
 * The monitor decides who gets what (host/monitor/monitor_jail.c); vmm_spawn
 * calls jail_exec in the child. Knows nothing of containers. */
#ifndef CAPSID_JAIL_H
#define CAPSID_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* ---- uids (jail_ids.c) ---- */

/* The range: CAPSID_JAIL_UIDS="FIRST-LAST" (read at the CLI edge), default
 * JAIL_UID_FIRST-JAIL_UID_LAST. The first uid is no VMM's: its number is
 * the gid that may open warm start's template RAM files (JAIL_SHARED). */
#define JAIL_UID_FIRST 1500000000u
#define JAIL_UID_LAST  1500065535u

struct jail_range {
	uid_t first, last;
};

/* Parse "FIRST-LAST" (NULL or "": the default). At least 2 uids, not 0. */
int jail_range_parse(const char *s, struct jail_range *out, struct capsid_error *err);

/* The uid of owner (a group name, or "standby-..." for a ready clone),
 * allocating the lowest free one. The same owner gets the same uid until
 * released. gid = uid. */
int jail_uid_get(const char *root, const struct jail_range *r, const char *owner, uid_t *out,
		 struct capsid_error *err);
/* Give from's uid to to (to's own, if any, is released): a ready clone
 * becomes a group's VM. */
int jail_uid_transfer(const char *root, const char *from, const char *to, struct capsid_error *err);
/* Release owner's uid; 0 when it had none. */
int jail_uid_release(const char *root, const char *owner);
/* The owner of uid, "" when free (for tests and `show`). */
int jail_uid_owner(const char *root, uid_t uid, char *out, size_t len);

/* ---- cgroups (jail_cgroup.c) ---- */

struct jail_limits {
	unsigned cpu_percent;   /* cpu.max quota in % of one CPU; 0 = none */
	uint64_t memory_bytes;  /* memory.max; 0 = none */
	unsigned pids;          /* pids.max; 0 = none */
};

#define JAIL_CGROUP_MAX 3 /* v1: cpu, memory, pids */

struct jail_cgroup {
	char name[128];                      /* <root key>-<owner> */
	char dirs[JAIL_CGROUP_MAX][256];     /* one (v2) or one per controller (v1) */
	size_t n_dirs;
	bool v2;
};

/* Which cgroup v2 hierarchy under base (/sys/fs/cgroup) offers cpu,
 * memory and pids: base itself (unified layout) or base/unified (hybrid
 * layout with no controller bound to v1); 1 with its path in out, 0 when
 * none does (then the v1 hierarchies are used). */
int jail_cgroup_v2_mount(const char *base, char *out, size_t len);
/* Create (or update) owner's cgroup under capsid.slice with limits. */
int jail_cgroup_create(const char *root, const char *owner, const struct jail_limits *l, struct jail_cgroup *cg,
		       struct capsid_error *err);
/* Move pid (all its threads) into cg. */
int jail_cgroup_attach(const struct jail_cgroup *cg, pid_t pid, struct capsid_error *err);
/* Remove owner's cgroup (empty once its VMM is gone); 0 when absent. */
int jail_cgroup_remove(const char *root, const char *owner);

/* ---- the child (jail.c) ---- */

/* A file the VMM opens by path: made visible at the same path in the jail. */
struct jail_file {
	const char *path;
	bool writable;
};

#define JAIL_MAX_FILES 8

struct vmm_jail {
	const char *root;    /* state root: <root>/jail/mnt is the mount point of the jail's root */
	uid_t uid;
	gid_t gid;
	gid_t shared_gid;    /* a supplementary group (template RAM files), 0 = none */
	bool kvm;            /* /dev/kvm in the jail's /dev */
	struct jail_cgroup cgroup;
	bool has_cgroup;
	struct jail_file files[JAIL_MAX_FILES];
	size_t n_files;
};

/* The mount point the jails' roots are mounted on (created if missing). */
int jail_mountpoint(const char *root, char *out, size_t len);

/* In the child of clone3(CLONE_NEWNS|NEWPID|NEWIPC|NEWUTS|NEWNET): join the
 * cgroup, build the root, pivot into it, drop every privilege, keep
 * descriptors 0..2+n_fds (already in place: the caller dup2'd them), and
 * exec binary with argv and a minimal environment. Returns only on
 * failure, with a message in err. */
int jail_exec(const struct vmm_jail *j, const char *binary, char *const argv[], int n_fds,
	      struct capsid_error *err);

/* The clone3 flags of a jailed child. */
uint64_t jail_clone_flags(void);

#endif
