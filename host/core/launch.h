/* Starting a group's monitor: a detached process (double fork, new
 * session) that outlives its caller. The spec, with its secure values, goes
 * through a pipe and never touches the disk. Internal to libcapsid. */
#ifndef CAPSID_LAUNCH_H
#define CAPSID_LAUNCH_H

#include <stddef.h>

#include "config.h"
#include "group.h"

struct json_object;

struct launch_opts {
	const char *runtime; /* NULL: the configuration's */
	/* The VM backend and libvirt's URI, kept per group (state.json's
	 * capsid.vmm, capsid.libvirtUri); NULL: the configuration's. */
	const char *vmm, *libvirt_uri;
	/* The group's machine, for warm start's ready clone; 0: do not look for one. */
	unsigned vcpus, memory_mib;
	/* Wall-clock ms when the create began (its usage starts there: image
	 * pulls included); 0: when the monitor starts. */
	unsigned long long usage_since_ms;
};

/* Start the monitor and wait until its VM is up (or it reports why not). */
int launch_monitor(const struct capsid_config *cfg, const struct group_paths *paths, const char *spec_json,
		   size_t len, const struct launch_opts *opts, struct capsid_error *err);

/* The directory of the guest's boot files (vmlinuz, initrd.img). */
int core_guest_dir(const struct capsid_config *cfg, char *out, size_t len, struct capsid_error *err);

#endif
