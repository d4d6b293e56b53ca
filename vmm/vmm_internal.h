/* Shared by the files of the hypervisor layer only. */
#ifndef CAPSID_VMM_INTERNAL_H
#define CAPSID_VMM_INTERNAL_H

#include "vmm.h"

/* Descriptor numbers a jailed QEMU finds its resources at (jail_spawn.c). */
struct vmm_fd_plan {
	int agent_fd, qmp_fd; /* listening sockets */
	int console_fd;       /* also its fd set's id */
	int disk_fd[VMM_MAX_DISKS];    /* also its fd set's id */
	int disk_ro_fd[VMM_MAX_DISKS]; /* a writable disk's read-only descriptor in that set, 0 = none */
	int nic_fd[VMM_MAX_NICS];
};

/* vmm_build_argv; with plan (not NULL) the jailed form. */
int vmm_build_argv_plan(const struct vmm_config *cfg, const struct vmm_fd_plan *plan, char ***out,
			struct capsid_error *err);
/* The guest kernel's command line for cfg (qemu.c): -E2BIG when it does not fit. */
int vmm_guest_cmdline(const struct vmm_config *cfg, char *buf, size_t len);
/* vmm_spawn of a cfg with a jail. */
int vmm_spawn_jailed(const struct vmm_config *cfg, int log_fd, pid_t *pid_out, struct capsid_error *err);

#endif
