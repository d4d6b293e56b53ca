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

/* Runs in a child of the agent with stdio in place; returns the exit status.
 * dev_filter_fd is the device filter the agent loaded at boot (close-on-
 * exec: no container process keeps it), which run attaches to the
 * container's cgroup; with -1 (or anything but a device program) run
 * loads its own. */
int builtin_main(int argc, char *const argv[], int dev_filter_fd);

#endif
