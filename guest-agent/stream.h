/* Process stdio streams: the pipes (or pty) between the agent and a
 * container's init process or an exec, relayed to the host as
 * STDOUT/STDERR frames (stream id = the frame id), host STDIN written back,
 * and the one EXIT frame once the process is gone and its output drained. */
#ifndef AGENT_STREAM_H
#define AGENT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent.h"
#include "error.h"
#include "runtime.h"

/* Create a stream. Without a tty, pipes are made and their child ends
 * returned in *child (stdin is /dev/null unless open_stdin); with a tty
 * *child is all -1 and the pty master comes later (stream_attach_pty). */
int stream_create(struct agent *a, uint32_t id, const char *container, bool main, bool tty, bool open_stdin,
		  struct runtime_stdio *child, struct stream **out, struct capsid_error *err);
/* Close the agent's copies of the child ends once the runtime has them. */
void stream_close_child_ends(struct runtime_stdio *child);
void stream_attach_pty(struct stream *s, int master, unsigned rows, unsigned cols);

/* Remove from a->streams and free. */
void stream_destroy(struct agent *a, struct stream *s);

/* The request was answered: output frames may follow. */
void stream_start_forwarding(struct agent *a, struct stream *s);
/* The process's pid is known: takes its exit if it was reaped already
 * (after mark: the reaped_mark of the job that started it). */
void stream_set_pid(struct agent *a, struct stream *s, pid_t pid, uint64_t mark);
void stream_exited(struct agent *a, struct stream *s, int wstatus);

/* Poll handlers. */
void stream_on_output(struct agent *a, struct stream *s, bool is_stderr);
void stream_on_stdin_writable(struct agent *a, struct stream *s);

/* Host input. Returns -ENOBUFS when the stream's buffer is full,
 * -EPIPE when its stdin is closed or absent. */
int stream_stdin(struct agent *a, struct stream *s, const void *data, size_t len);
void stream_stdin_close(struct agent *a, struct stream *s);
int stream_resize(struct stream *s, unsigned rows, unsigned cols);

/* When the stream needs attention without I/O (drain timeout), in ms on
 * the monotonic clock; 0 for none. */
uint64_t stream_deadline(const struct stream *s);
/* Send EXIT if due. Returns true when the stream is finished (destroy it). */
bool stream_try_finish(struct agent *a, struct stream *s);

/* Exit code as the host sees it: the status, or 128+signal. */
int stream_exit_code(int wstatus, int *signal);

#endif
