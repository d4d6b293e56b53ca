/* The last steps of a container process, in the process itself: its
 * terminal, limits, user, capabilities, working directory and program. */
#ifndef AGENT_BUILTIN_PROC_H
#define AGENT_BUILTIN_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

/* A new process of the agent's, before it runs a runtime or becomes a
 * container's init: signals unblocked and at their defaults (the agent
 * blocks SIGCHLD/SIGIO for its signalfd, and a mask is inherited), a
 * session of its own, stdio[0..2] as 0-2 (-1: /dev/null), every other
 * descriptor closed but keep (-1: none). Async-signal-safe. */
int builtin_proc_child_setup(const int stdio[3], int keep);

/* Turn the calling process into the spec's process and execve it. Returns
 * only on failure. console_fd: a socket connected to the console socket
 * (terminal processes: the pty master is sent there), else -1. */
int builtin_proc_exec(const struct builtin_spec_process *p, int console_fd, bool bind_console,
		      struct capsid_error *err);

/* The process's program: args[0] itself when it has a slash, else the
 * first executable of that name in the process's PATH (or the default
 * PATH). Returns 0 with out filled, -errno otherwise. Exposed for tests. */
int builtin_proc_find_program(const struct builtin_spec_process *p, char *out, size_t len);

#endif
