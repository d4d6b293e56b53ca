/* Running the OCI runtimes (crun, runc) without blocking the agent's loop:
 * a runtime command is a job; the loop collects its stderr and its exit
 * status (SIGCHLD) and then calls the job's completion. Also the
 * --console-socket protocol (a pty master passed with SCM_RIGHTS). */
#ifndef AGENT_RUNTIME_H
#define AGENT_RUNTIME_H

#include <stdbool.h>
#include <sys/types.h>

#include "agent.h"
#include "error.h"

/* Absolute path of a runtime binary, NULL for an unknown name. */
const char *runtime_binary(const char *runtime);
/* Whether this guest's initramfs has it (each runtime has its own). */
bool runtime_present(const char *runtime);

/* Start `runtime args...` as a job of the given kind. The job is added to
 * a->jobs and owns its stderr pipe. */
int runtime_job_start(struct agent *a, enum job_kind kind, const char *runtime, const char *const *args,
		      const struct runtime_stdio *io, struct job **out, struct capsid_error *err);

/* The job of the agent's own run of a container (builtin_run_inline): its
 * init pid and exec pipe (the job owns it); done at the pipe's EOF. */
struct job *runtime_job_inline(struct agent *a, pid_t pid, int exec_fd, uint64_t reaped_mark);

/* Run a runtime command to completion, blocking (shutdown only). Returns
 * its wait status or -errno. */
int runtime_run_sync(struct agent *a, const char *runtime, const char *const *args, unsigned timeout_ms);

/* The job's error text: its stderr, or `fallback_fd`'s pending bytes when
 * the command wrote into a stream's pipe instead; trimmed, printable. */
void runtime_job_error(struct job *j, int fallback_fd, char *out, size_t len);

/* Collect what the job wrote to its stderr (bounded; the rest is dropped). */
void runtime_job_read_err(struct job *j);
/* Remove from a->jobs and free. */
void runtime_job_destroy(struct agent *a, struct job *j);
void runtime_job_free(struct job *j);

/* A listening socket for --console-socket at path. */
int runtime_console_listen(const char *path, struct capsid_error *err);
/* Take a pty master sent on the listening socket, if one arrived. Returns
 * the fd, -EAGAIN when nothing is there yet, -errno on error. */
int runtime_console_take(int listen_fd);

/* Read a pid file written by --pid-file. */
int runtime_read_pid(const char *path, pid_t *pid);

/* Describe a wait status: "exited with status 3", "killed by signal 9". */
void runtime_describe_status(int wstatus, char *out, size_t len);

#endif
