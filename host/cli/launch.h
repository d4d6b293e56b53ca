/* Starting a group's monitor: a detached process (double fork, new
 * session) that outlives the CLI. The spec, with its secure values, goes
 * through a pipe and never touches the disk. */
#ifndef CAPSID_LAUNCH_H
#define CAPSID_LAUNCH_H

#include <stddef.h>

#include "cli.h"
#include "group.h"

struct json_object;

struct launch_opts {
	const char *runtime; /* NULL: $CAPSID_RUNTIME or "builtin" */
	/* The group's machine, for warm start's ready clone; 0: do not look for one. */
	unsigned vcpus, memory_mib;
};

/* Start the monitor and wait until its VM is up (or it reports why not). */
int launch_monitor(struct cli_ctx *ctx, const struct group_paths *paths, const char *spec_json, size_t len,
		   const struct launch_opts *opts, struct capsid_error *err);

/* Wait for the monitor lock to be free (the monitor has exited). */
int launch_wait_monitor_gone(const struct group_paths *paths, unsigned timeout_ms);

/* Send one request to a live monitor and wait for its answer; *reply gets
 * the RESPONSE body (may be NULL). -EREMOTEIO with err set on ERROR. */
int launch_request(const struct group_paths *paths, unsigned short type, const char *body,
		   struct json_object **reply, struct capsid_error *err);

#endif
