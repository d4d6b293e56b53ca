/* The cgroup (v2) a builtin container lives in: its limits and a device
 * filter (an eBPF program, the only device control cgroup v2 has). */
#ifndef AGENT_BUILTIN_CGROUP_H
#define AGENT_BUILTIN_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

/* Where the guest's cgroup2 hierarchy is mounted. */
#define BUILTIN_CGROUP_ROOT "/sys/fs/cgroup"

/* Enable the controllers containers get (cpu, memory, pids: the one list,
 * for the root at boot too) for the children of the cgroup directory
 * dirfd, each on its own so that one the kernel lacks does not hide the
 * others; those already enabled are left alone. Returns 0 or the first
 * failure, naming the controller. */
int builtin_cgroup_delegate(int dirfd, struct capsid_error *err);

/* mkdir -p of a cgroup (a path under /sys/fs/cgroup) that will hold
 * containers, delegating the controllers in each directory, itself
 * included. The agent makes its parent of containers at boot: the first
 * container does not pay for it. */
int builtin_cgroup_make_parent(const char *cgroup, struct capsid_error *err);

/* Load the device filter (BPF_PROG_LOAD, the verifier's pass). Returns the
 * program's fd, close-on-exec: the agent loads it once at boot and hands
 * it to every launcher. */
int builtin_cgroup_load_dev_filter(struct capsid_error *err);

/* Create the container's cgroup (cgroupsPath under /sys/fs/cgroup; the
 * parents that are missing, with the controllers) with its limits and the
 * device filter dev_filter_fd attached, or one loaded here when that is
 * not a device program (-1, a closed fd); returns its directory fd, for
 * clone3(CLONE_INTO_CGROUP). */
int builtin_cgroup_prepare(const struct builtin_spec *s, int dev_filter_fd, struct capsid_error *err);
/* The directory fd of an existing container cgroup. */
int builtin_cgroup_open(const char *cgroups_path, struct capsid_error *err);
/* Kill every process of the cgroup, wait until it is empty and remove it.
 * A cgroup that does not exist is no error. */
int builtin_cgroup_destroy(const char *cgroups_path, struct capsid_error *err);
/* Whether pid lives in the cgroup (its init has not been replaced by an
 * unrelated process reusing the pid). */
bool builtin_cgroup_has(const char *cgroups_path, pid_t pid);

/* cpu.weight for OCI cpu shares (the conversion crun and runc use). */
unsigned long builtin_cgroup_weight_of_shares(unsigned long shares);

#endif
