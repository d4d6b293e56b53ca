/* The container's filesystem view, set up by its init process in its new
 * mount namespace: the spec's mounts, device nodes, masked and read-only
 * paths, then pivot_root into the root. Every path inside the root is
 * resolved with openat2(RESOLVE_IN_ROOT): an image's symlinks cannot point
 * a mount outside its root. */
#ifndef AGENT_BUILTIN_MOUNT_H
#define AGENT_BUILTIN_MOUNT_H

#include <stdbool.h>

#include "error.h"
#include "spec.h"

/* Called in the container's mount namespace, before pivot; on success the
 * process's root and cwd are the container's root. */
int builtin_mount_setup(const struct builtin_spec *s, struct capsid_error *err);

/* Open `path` inside the directory tree rootfd (O_PATH), as if rootfd
 * were "/". Exposed for the unit test. */
int builtin_mount_open_in_root(int rootfd, const char *path, int flags);

/* Create what is missing of `path` inside rootfd (directories; the last
 * component a directory or, with as_file, an empty file) and open it
 * O_PATH. A last component that is a dangling symlink is replaced. */
int builtin_mount_make_in_root(int rootfd, const char *path, bool as_file);

#endif
