/* The agent's state: one struct agent owned by main() and passed to every
 * module. The agent is PID 1 of the guest and single-threaded: one poll()
 * loop serves the host channel, the containers' stdio, the runtime commands
 * it runs (jobs) and SIGCHLD. Nothing here is global. */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "agent_net.h"
#include "reaped.h"
#include "reply.h"

/* Where the agent keeps its state in the guest. */
#define AGENT_RUN_DIR	     "/run/capsid"
#define AGENT_IMAGES_DIR     AGENT_RUN_DIR "/images"
#define AGENT_CONTAINERS_DIR AGENT_RUN_DIR "/containers"
#define AGENT_SOCK_DIR	     AGENT_RUN_DIR "/sock"
#define AGENT_CGROUP_PARENT  "/capsid"

#define AGENT_NAME_MAX	     63 /* container names are DNS labels */
#define AGENT_SERIAL_MAX     20 /* virtio-blk serials (QEMU limit) */
#define AGENT_MAX_CONTAINERS 64
#define AGENT_MAX_STREAMS    256
#define AGENT_MAX_JOBS	     32 /* runtime commands in flight */
/* Bytes of host stdin buffered per stream before more is refused. */
#define AGENT_STDIN_MAX (1u << 20)
/* Stop reading container output while this much waits for the host: the
 * processes then block on their pipes, so nothing is lost or unbounded. */
#define AGENT_OUT_HIGH_WATER (1u << 20)
/* Hard cap of the channel's output queue (control frames fit above the
 * high-water mark). */
#define AGENT_OUT_QUEUE_MAX (8u << 20)
/* After a process exits, wait this long for its pipes to reach EOF (a
 * grandchild may hold them) before sending EXIT anyway. */
#define AGENT_DRAIN_MS 2000
/* Runtime error text kept for an ERROR answer. */
#define AGENT_ERRTEXT_MAX 2048

struct channel;
struct agent_volume;
struct probe_set;
struct json_object;

/* Descriptors a runtime child gets as 0, 1, 2 (-1: /dev/null for 0, the
 * job's stderr pipe for 1 and 2). */
struct runtime_stdio {
	int in, out, err;
};

/* CREATE only prepares the bundle and the stream; START runs the runtime
 * once (`run --detach`): one runtime invocation per container instead of
 * create + start, about 0.2 s less under TCG (BENCHMARKS.md). */
enum container_state {
	CT_CREATED,  /* bundle and stream ready, waiting for START */
	CT_STARTING, /* runtime run in progress */
	CT_RUNNING,  /* started (its process may have exited since) */
	CT_DELETING, /* runtime delete in progress */
};

struct container {
	struct container *next;
	char name[AGENT_NAME_MAX + 1];
	char runtime[8];		   /* "builtin", "crun" or "runc" */
	char serial[AGENT_SERIAL_MAX + 1]; /* image disk it uses */
	enum container_state state;
	pid_t pid;		    /* its init process (the guest's pid namespace), 0 before it runs */
	uint32_t stream;	    /* stream id of the init process */
	bool busy;		    /* a runtime job for it is running */
	bool in_runtime;	    /* the runtime was asked to run it: delete goes through it */
	struct runtime_stdio child; /* the stream's child ends, kept until START hands them over */
	struct probe_set *probes;   /* its liveness and readiness probes, NULL when none (probe.h) */
};

struct bytebuf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* One process whose stdio the agent relays: a container's init process or
 * an exec. Frames for it carry `id`. */
struct stream {
	struct stream *next;
	uint32_t id;
	char container[AGENT_NAME_MAX + 1];
	bool main;	     /* the container's init process */
	bool tty;	     /* out_fd is a pty master (stdout and stderr merged) */
	bool forwarding;     /* the request was answered: output may flow */
	pid_t pid;	     /* 0 until known */
	int out_fd;	     /* stdout pipe read end, or the pty master */
	int err_fd;	     /* stderr pipe read end, -1 with a tty */
	int in_fd;	     /* stdin pipe write end or a dup of the pty master, -1 when none */
	unsigned rows, cols; /* initial tty size */
	struct bytebuf in_buf;
	bool in_close_requested; /* STDIN_CLOSE: close in_fd once in_buf is written */
	bool exited;
	int wstatus;
	uint64_t exited_ms;
	char finished_at[40];
	bool exit_sent;
};

enum job_kind {
	JOB_RUN,
	JOB_EXEC,
	JOB_KILL,
	JOB_DELETE,
};

/* A runtime command the agent waits for without blocking its loop. */
struct job {
	struct job *next;
	enum job_kind kind;
	pid_t pid;
	bool reaped;
	int wstatus;
	uint64_t reaped_mark; /* statuses recorded before it started are not its processes' */
	/* The agent's own `run` (builtin_run_inline): pid is the container's
	 * init, not a runtime command; done at EOF on err_fd, its exec pipe. */
	bool inline_run;
	struct reply_to req;  /* the request it answers when done */
	char container[AGENT_NAME_MAX + 1];
	uint32_t stream;
	int err_fd;	/* the command's stderr, -1 when it writes into a stream's pipe */
	int console_fd; /* listening --console-socket, -1 without a tty */
	char console_path[108];
	char err[AGENT_ERRTEXT_MAX];
	size_t err_len;
};

struct image_mount {
	struct image_mount *next;
	char serial[AGENT_SERIAL_MAX + 1];
	unsigned users;
};

struct shutdown_state {
	bool active;
	bool killed;
	struct reply_to req; /* answered once the guest is ready to power off */
	uint64_t term_deadline_ms; /* SIGKILL after this */
	uint64_t kill_deadline_ms; /* give up waiting after this */
};

struct agent {
	struct channel *ch;
	int sig_fd;
	int kmsg_fd;	/* -1 when unavailable */
	int console_fd; /* -1 when there is no console */
	bool pid1;	/* false when run on a host for debugging */
	bool negotiated;
	unsigned version; /* negotiated: 2 adds PROBE frames (probe.h) */
	char kernel[65];
	struct container *containers;
	struct stream *streams;
	struct job *jobs;
	struct image_mount *images;
	struct reaped_table reaped; /* statuses of children nobody claimed yet */
	struct shutdown_state shutdown;
	struct agent_net_config net;  /* from the host's NETWORK request; empty without one */
	struct agent_volume *volumes; /* from the host's VOLUMES request */
	bool cifs_ready;	      /* the SMB client modules are loaded */
	/* The builtin runtime's device filter program, loaded at boot and kept
	 * at this number for every launcher (runtime.c); -1: each loads its own. */
	int dev_filter_fd;
};

/* Lookups (NULL when absent). */
struct container *agent_container(struct agent *a, const char *name);
struct stream *agent_stream(struct agent *a, uint32_t id);

/* Power the guest off (never returns when PID 1). */
void agent_poweroff(struct agent *a, const char *why) __attribute__((noreturn));

#endif
