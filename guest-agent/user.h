/* Resolution of an image/exec "user" ("uid", "uid:gid", "name",
 * "name:group", ...) to numeric ids, read from the container's own
 * /etc/passwd and /etc/group. The rootfs is untrusted: its files are
 * opened with RESOLVE_IN_ROOT so a symlink cannot point outside it. */
#ifndef AGENT_USER_H
#define AGENT_USER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define USER_MAX_GROUPS 32

struct user_ids {
	uint32_t uid;
	uint32_t gid;
	uint32_t groups[USER_MAX_GROUPS]; /* supplementary groups from /etc/group */
	size_t n_groups;
};

/* rootfd: a directory fd of the container's root. spec NULL or "" is root
 * (0:0). Numeric ids need no entry; names must exist. */
int user_resolve(int rootfd, const char *spec, struct user_ids *out, struct capsid_error *err);

#endif
