/* The agent's own OCI runtime ("builtin"), the default: it runs the bundles
 * the agent writes (config.json, exec process.json) with the same command
 * line contract as crun and runc, but as a fork of the agent instead of an
 * exec of another program. Under TCG a `crun run` cost 0.2-0.45 s, most of
 * it translating crun, its ten shared libraries and the dynamic loader anew
 * (the 16 MiB translation cache cannot hold them next to the kernel); the
 * same container set up by code that is already part of the running agent
 * takes 25-60 ms (tests/bench, BENCHMARKS.md). Kata's agent runs its
 * containers itself for the same reason (no runtime binary in the guest).
 *
 * Verbs (argv[0] is "builtin"):
 *   run --detach --bundle DIR --pid-file FILE [--console-socket SOCK] NAME
 *   exec --process FILE --detach --pid-file FILE [--console-socket SOCK] NAME
 *   kill NAME SIGNAL
 *   delete --force NAME
 * Like `crun run --detach`, run and exec return once the process executed
 * its program (or with the reason it could not, on stderr, exit status 1);
 * the process is then a child of the agent (PID 1 adopts it). */
#ifndef AGENT_BUILTIN_H
#define AGENT_BUILTIN_H

#include <sys/types.h>

#include "error.h"

/* Runs in a child of the agent with stdio in place; returns the exit status.
 * dev_filter_fd is the device filter the agent loaded at boot (close-on-
 * exec: no container process keeps it), which run attaches to the
 * container's cgroup; with -1 (or anything but a device program) run
 * loads its own. */
int builtin_main(int argc, char *const argv[], int dev_filter_fd);

/* `run` of a container without a terminal, done by the agent itself: the
 * launcher's work without the launcher (under TCG a fork of the agent and
 * then the launcher's fork of the container cost ~25 ms more than one
 * clone, and the launcher's exit and reaping came on top). The init gets
 * stdio[0..2] (-1: /dev/null) as 0-2; *pid is it, *exec_fd the read end of
 * its close-on-exec pipe: EOF once its program runs, bytes the reason it
 * did not (then call builtin_run_inline_failed). Its state is recorded as
 * `run` records it, so kill, exec and delete work the same. */
int builtin_run_inline(const char *name, const char *bundle, int dev_filter_fd, const int stdio[3],
		       pid_t *pid, int *exec_fd, struct capsid_error *err);
/* Remove the cgroup and state of an inline run whose program did not start. */
void builtin_run_inline_failed(const char *name);

#endif
