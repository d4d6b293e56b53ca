/* Opening paths of a container's tree as if its root were "/": the image
 * is the tenant's, and its symlinks must not lead outside it. */
#ifndef AGENT_INROOT_H
#define AGENT_INROOT_H

#include <stdint.h>

/* openat2(rootfd, path, flags | O_CLOEXEC) with RESOLVE_IN_ROOT,
 * RESOLVE_NO_MAGICLINKS and the extra RESOLVE_* bits given; retries EINTR.
 * Returns the fd or -errno. */
int inroot_open(int rootfd, const char *path, int flags, uint64_t extra_resolve);

#endif
