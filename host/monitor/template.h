/* Warm start's VM template (template.c) as a group's monitor and a
 * standby (standby.c) both use it: find or build the template of a
 * machine, turn a cold configuration into a clone of it, load the clone.
 * It needs the options, the state root and a log, nothing of a monitor. */
#ifndef CAPSID_TEMPLATE_H
#define CAPSID_TEMPLATE_H

#include <limits.h>

#include "error.h"
#include "vmm.h"

struct monitor_options;

/* Disk slots of a template: a clone with more disks boots cold. */
#define MONITOR_WARM_SLOTS   4
#define MONITOR_TEMPLATE_MAC "52:54:00:00:ca:fe"

/* A machine's template: <root>/templates/<key>/. */
struct template_files {
	char key[20];
	char dir[PATH_MAX];
	char ram[PATH_MAX + 16];
	char state[PATH_MAX + 16];
	char placeholder[PATH_MAX + 16];
	char slots[MONITOR_WARM_SLOTS][8]; /* serials of the placeholder disks */
};

/* What the template code needs of its user. */
struct template_env {
	const struct monitor_options *opts;
	const char *root; /* the state root: templates live under it */
	int log_fd;	  /* monitor_log_fd's; -1: no log */
	const char *jail_owner; /* whose uid and cgroup a template's QEMU gets (monitor_jail.c) */
};

/* Turn cfg (a cold-boot configuration, devices attached) into a clone of
 * its machine's template (t filled), building the template on first need.
 * Returns 1 when cfg is now a clone (load it after the spawn), 0 when it
 * boots cold (it does not fit a template, or the template failed: logged). */
int template_clone_config(const struct template_env *env, struct template_files *t, struct vmm_config *cfg);
/* Load t's state into the clone just spawned (its QMP socket qmp) and let it run. */
int template_load(const struct template_env *env, const struct template_files *t, const char *qmp,
		  struct capsid_error *err);

#endif
