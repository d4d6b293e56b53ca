/* The cgroup (v2) a builtin container lives in: its limits and a device
 * filter (an eBPF program, the only device control cgroup v2 has). */
#ifndef AGENT_BUILTIN_CGROUP_H
#define AGENT_BUILTIN_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "builtin_spec.h"
#include "error.h"

/* Create the container's cgroup (cgroupsPath under /sys/fs/cgroup) with
 * its limits and the device filter; returns its directory fd, for
 * clone3(CLONE_INTO_CGROUP). */
int bcgroup_prepare(const struct bspec *s, struct capsid_error *err);
/* The directory fd of an existing container cgroup. */
int bcgroup_open(const char *cgroups_path, struct capsid_error *err);
/* Kill every process of the cgroup, wait until it is empty and remove it.
 * A cgroup that does not exist is no error. */
int bcgroup_destroy(const char *cgroups_path, struct capsid_error *err);
/* Whether pid lives in the cgroup (its init has not been replaced by an
 * unrelated process reusing the pid). */
bool bcgroup_has(const char *cgroups_path, pid_t pid);

/* cpu.weight for OCI cpu shares (the conversion crun and runc use). */
unsigned long bcgroup_weight_of_shares(unsigned long shares);

#endif
