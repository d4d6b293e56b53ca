/* containerd-shim-capsid-v2's internals: one shim process per pod (or per
 * container outside a pod), serving containerd's task service over ttrpc and
 * running each task as a capsid group through libcapsid. */
#ifndef CAPSID_SHIM_H
#define CAPSID_SHIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "capsid.h"
#include "ttrpc.h"

struct json_object;

/* The flags containerd gives every shim command. */
struct shim_opts {
	const char *ns;		    /* -namespace */
	const char *address;	    /* -address: containerd's gRPC socket */
	const char *publish_binary; /* -publish-binary: containerd, for `publish` */
	const char *id;		    /* -id */
	const char *bundle;	    /* -bundle, else the working directory */
	bool debug;
};

enum shim_status { SHIM_CREATED = 1, SHIM_RUNNING = 2, SHIM_STOPPED = 3 };

/* A process of a task: its init (exec_id NULL) or an exec. */
struct shim_proc {
	char *exec_id;
	char *stdin_path, *stdout_path, *stderr_path;
	bool terminal;
	enum shim_status status;
	uint32_t exit_status;
	struct timespec exited_at;
	char **argv; /* an exec's command */
	size_t argc;
	bool thread_started;
	struct shim_stdin *in; /* the stdin relay, while the process runs */
	pthread_t thread;
	/* The init's stdin and terminal (shim_attach.c). */
	struct capsid_attach *att;
	pthread_t in_thread;
	bool in_thread_started;
	bool stdin_closed; /* CloseIO came (it may come before Start) */
	struct shim_task *task;
	struct shim_proc *next;
};

enum shim_pod_role { SHIM_POD_NONE, SHIM_POD_SANDBOX, SHIM_POD_MEMBER };

struct shim_task {
	struct shim *shim;
	enum shim_pod_role pod_role; /* from the CRI plugin's annotations (shim_pod.c) */
	char container[64];	     /* its container in the group: "task", or a member's name */
	char *id, *bundle;
	char group[64];		 /* the capsid group that runs it */
	char *rootfs;		 /* where its snapshot is mounted; NULL: not mounted */
	char *image_ref;	 /* the capsid image made of that rootfs */
	struct json_object *oci; /* the bundle's config.json */
	struct shim_proc init;
	struct shim_proc *execs;
	struct shim_task *next;
};

struct shim {
	struct shim_opts o;
	struct capsid_config cfg;
	pthread_mutex_t lock; /* tasks and every proc's status */
	pthread_cond_t changed;
	struct shim_task *tasks;
	char socket_path[108]; /* removed when the shim exits */
};

/* ---- shim_task.c: the task service ---- */
extern const struct ttrpc_method shim_task_methods[];
extern const size_t shim_n_task_methods;
/* The capsid group a task of namespace ns runs in (deterministic, so that
 * `delete` finds it after the shim died). */
void shim_group_name(const char *ns, const char *id, char out[64]);

/* ---- shim_rootfs.c: containerd's snapshot mounts to a capsid image ---- */
/* Mounts the mounts at <bundle>/rootfs and makes (or finds cached) the
 * image the guest boots from; *ref (caller frees) names it. */
int shim_rootfs_prepare(struct shim *s, struct shim_task *t, void *const *mounts, size_t n_mounts,
			struct capsid_error *err);
/* Unmounts <bundle>/rootfs if mounted. */
void shim_rootfs_release(const char *bundle);

/* ---- shim_spec.c: the task's OCI config as a capsid group ---- */
struct spec_group;
/* Reads <bundle>/config.json into t->oci. */
int shim_spec_load(struct shim_task *t, struct capsid_error *err);
/* The group of one container that runs t: its image, process args and
 * environment, CPU and memory limits. */
int shim_spec_build(const struct shim_task *t, struct spec_group **out, struct capsid_error *err);
/* An exec's process (the OCI process JSON containerd sends). */
int shim_spec_exec_args(const uint8_t *json, size_t len, char ***argv, size_t *argc, bool *terminal,
			struct capsid_error *err);

/* ---- shim_pod.c: a pod's tasks in one group ---- */
/* From the OCI annotations: the task's role, its container name, and a
 * member's group (its sandbox's). Call once t->oci is loaded. */
int shim_pod_classify(struct shim *s, struct shim_task *t, struct capsid_error *err);
/* shim_spec_build's hook: the container's name; a sandbox's slots tag and
 * size from the sandbox annotations. */
void shim_pod_adjust_spec(const struct shim_task *t, struct json_object *doc, struct json_object *container,
			  struct json_object *requests);
/* A member's Start: its container added to the sandbox's running group. */
int shim_pod_join(struct shim *s, struct shim_task *t, struct capsid_error *err);
/* A member's output relayed (lo's on_line) until its container ended:
 * returns its exit code, or -errno. */
int shim_pod_follow(struct shim *s, const struct shim_task *t, struct capsid_logs_opts *lo, struct capsid_error *err);

/* ---- shim_options.c: containerd's runtime options ---- */
/* Reads the Any on fd (start's stdin) and applies its ConfigPath's
 * CAPSID_* settings to the environment. No options: nothing to do. */
int shim_options_apply(int fd, struct capsid_error *err);

/* ---- shim_stats.c ---- */
/* A StatsResponse for the task whose monitor is monitor_pid: its VM's CPU
 * time and resident memory as io.containerd.cgroups.v2.Metrics. */
int shim_stats(long monitor_pid, uint8_t **out, size_t *out_len, struct capsid_error *err);

/* ---- shim_io.c: an exec's stdin ---- */
struct shim_stdin;
/* Opens the FIFO at path without waiting for its writer; *read_fd (the
 * caller's) gets what is written to it, then end of file. */
int shim_stdin_open(const char *path, struct shim_stdin **out, int *read_fd);
/* Ends the input now (CloseIO). */
void shim_stdin_close(struct shim_stdin *in);
void shim_stdin_free(struct shim_stdin *in);

/* ---- shim_attach.c: the init's stdin and terminal ---- */
/* After the init started: attaches to its container when it has a stdin
 * FIFO or a terminal, and relays the FIFO into it. Failures are logged
 * (the task runs on without input). */
void shim_attach_start(struct shim *s, struct shim_proc *p);
/* The init ended: stops the relay and the session. */
void shim_attach_end(struct shim *s, struct shim_proc *p);
/* ResizePty of the init; the caller holds s->lock. */
void shim_attach_resize(struct shim_proc *p, unsigned rows, unsigned cols);

/* ---- shim_events.c: events to containerd ---- */
/* Publishes a protobuf-c event (type e.g. "containerd.events.TaskExit") on
 * topic ("/tasks/exit") through `containerd publish`. Failures are logged. */
void shim_publish(struct shim *s, const char *topic, const char *type, const void *msg);

/* stderr lines (containerd copies them into its log). */
void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
