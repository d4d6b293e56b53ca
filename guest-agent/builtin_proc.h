/* The last steps of a container process, in the process itself: its
 * terminal, limits, user, capabilities, working directory and program. */
#ifndef AGENT_BUILTIN_PROC_H
#define AGENT_BUILTIN_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "builtin_spec.h"
#include "error.h"

/* Turn the calling process into the spec's process and execve it. Returns
 * only on failure. console_fd: a socket connected to the console socket
 * (terminal processes: the pty master is sent there), else -1. */
int bproc_exec(const struct bspec_process *p, int console_fd, bool bind_console, struct capsid_error *err);

/* The process's program: args[0] itself when it has a slash, else the
 * first executable of that name in the process's PATH (or the default
 * PATH). Returns 0 with out filled, -errno otherwise. Exposed for tests. */
int bproc_find_program(const struct bspec_process *p, char *out, size_t len);

#endif
