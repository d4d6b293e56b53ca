/* Guest boot, run first by the agent as PID 1 on the initramfs: move onto
 * a real (tmpfs) root, mount the kernel filesystems, set up the console,
 * load modules, enable cgroup controllers, set the hostname from the
 * kernel command line and bring up loopback. */
#ifndef AGENT_INIT_H
#define AGENT_INIT_H

#include "error.h"

struct agent;

/* Fills a->console_fd, a->kmsg_fd and a->kernel. Errors are fatal only
 * when the agent cannot work at all (no /proc, no /dev...). */
int init_boot(struct agent *a, struct capsid_error *err);

/* Last step before power-off: flush file systems. */
void init_teardown(struct agent *a);

#endif
