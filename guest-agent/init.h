/* Guest boot, run first by the agent as PID 1 on the initramfs: move onto
 * a real (tmpfs) root, mount the kernel filesystems, set up the console,
 * load modules, prepare the containers' cgroups (controllers, the parent
 * cgroup, the builtin runtime's device filter), set the hostname from the
 * kernel command line and bring up loopback. */
#ifndef AGENT_INIT_H
#define AGENT_INIT_H

#include "error.h"

struct agent;

/* Fills a->console_fd, a->kmsg_fd, a->kernel and a->dev_filter_fd. Errors are fatal only
 * when the agent cannot work at all (no /proc, no /dev...). */
int init_boot(struct agent *a, struct capsid_error *err);

/* Last step before power-off: flush file systems. */
void init_teardown(struct agent *a);

#endif
