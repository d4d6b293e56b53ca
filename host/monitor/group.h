/* A group's directory under the state root and the facts every client of a
 * monitor needs: where things live, whether the monitor is alive (it holds
 * an exclusive flock on monitor.lock for its whole life), and how to reach
 * its control socket.
 *
 *   <root>/groups/<name>/spec.json     the spec, secure values redacted
 *   <root>/groups/<name>/state.json    the instance view (atomic writes)
 *   <root>/groups/<name>/monitor.lock  flock held by the live monitor
 *   <root>/groups/<name>/monitor.pid   its pid (informational)
 *   <root>/groups/<name>/control.sock  CLI <-> monitor frames
 *   <root>/groups/<name>/agent.sock    QEMU chardev for the agent port
 *   <root>/groups/<name>/qmp.sock      QEMU's QMP
 *   <root>/groups/<name>/console.log   guest serial console
 *   <root>/groups/<name>/monitor.log   the monitor's own diagnostics
 *   <root>/groups/<name>/logs/<c>.log  container output, CRI log format
 */
#ifndef CAPSID_GROUP_H
#define CAPSID_GROUP_H

#include <limits.h>
#include <stddef.h>

#include "error.h"

/* sun_path is 108 bytes: socket paths are checked against it up front. */
#define GROUP_SOCKET_PATH_MAX 108

struct group_paths {
	char root[PATH_MAX];
	char name[64];
	char dir[PATH_MAX];
	char spec[PATH_MAX];
	char state[PATH_MAX];
	char lock[PATH_MAX];
	char pid[PATH_MAX];
	char control[GROUP_SOCKET_PATH_MAX];
	char agent[GROUP_SOCKET_PATH_MAX];
	char qmp[GROUP_SOCKET_PATH_MAX];
	char console[PATH_MAX];
	char monitor_log[PATH_MAX];
	char logs_dir[PATH_MAX];
};

/* Validates the name (a DNS label) and that socket paths fit. */
int group_paths_init(const char *root, const char *name, struct group_paths *p, struct capsid_error *err);
int group_log_path(const struct group_paths *p, const char *container, char *out, size_t len);

/* 1 when a monitor holds the lock, 0 when none does, -errno on error. */
int group_monitor_alive(const struct group_paths *p);

/* Take the monitor lock (non-blocking). Returns the fd holding it, -EBUSY
 * when a live monitor has it. */
int group_lock(const struct group_paths *p);

/* Names of every group under root, sorted. */
int group_list_names(const char *root, char ***names, size_t *n);
void group_names_free(char **names, size_t n);

/* Connect to the monitor's control socket. */
int group_connect(const struct group_paths *p, struct capsid_error *err);

/* Whether s is a DNS label: 1-63 of [a-z0-9-], not starting or ending in '-'. */
int group_name_valid(const char *s);

#endif
