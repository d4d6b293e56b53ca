/* libcapsid: the operations on container groups that every front end
 * shares. The CLI, capsidd (REST) and containerd-shim-capsid-v2 are thin
 * clients of this library, and of nothing of each other.
 *
 * Each group lives under cfg->root and has a monitor process of its own,
 * which outlives the caller: a front end that dies loses nothing. Every
 * call takes the configuration its front end read once at its edge
 * (capsid_config_from_env), never prints and never exits: a failure returns
 * -errno and fills the error with words that name the field, the group or
 * the cause. Documents (show, list, export) are json-c trees in ACI's shape;
 * the caller frees them (json_object_put). */
#ifndef CAPSID_CORE_H
#define CAPSID_CORE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"
#include "registry.h"

struct json_object;
struct spec_group;

/* A Warning event of a group (container NULL: the group's own). */
typedef void (*capsid_warning_fn)(void *ud, const char *container, const char *name, const char *message);

/* ---- images from registries ---------------------------------------------- */

/* How create pulls a group's images: policy "missing" (NULL: the default),
 * "always" or "never"; callbacks (each may be NULL) around each pull, its
 * progress as registry.h reports it, and the image store's warnings. */
struct capsid_pull_opts {
	const char *policy;
	void (*on_start)(void *ud, const char *image);
	registry_progress_fn progress; /* gets ud */
	void (*on_end)(void *ud, const char *image);
	void (*on_store_warning)(void *ud, const char *msg);
	void *ud;
};

/* Pull the images of a group that the store lacks (or all of them), with
 * its imageRegistryCredentials; errors name the container's image field
 * and give the registry's reason. Nothing half-stored is left. */
int capsid_group_pull(const struct capsid_config *cfg, const struct spec_group *spec,
		      const struct capsid_pull_opts *opts, struct capsid_error *err);
/* The registry client's settings from the configuration. */
void capsid_registry_config(const struct capsid_config *cfg, struct registry_config *out);

/* ---- lifecycle ------------------------------------------------------------ */

struct capsid_create_opts {
	const struct spec_group *spec; /* validated (spec_parse*, spec_from_json) */
	const char *runtime;	       /* NULL: cfg->runtime */
	const struct capsid_pull_opts *pull; /* NULL: pull what is missing, quietly */
	/* Called for every Warning event recorded before the create returned
	 * (a container that failed to start did so by then). May be NULL. */
	capsid_warning_fn on_warning;
	void *ud;
};

/* Create a group and start its monitor; return once its VM is up and its
 * containers have started or failed to. Missing images are pulled first
 * (opts->pull). The images are resolved here, once
 * (to their manifest digests, which the monitor boots from). A group that
 * cannot be created leaves nothing behind. */
int capsid_group_create(const struct capsid_config *cfg, const struct capsid_create_opts *opts,
			struct capsid_error *err);

/* Boot a stopped or ended group again (with a new monitor when its old one
 * is gone, unless the group had secure values: they lived only there). */
int capsid_group_start(const struct capsid_config *cfg, const char *name, struct capsid_error *err);
/* Stop every container and the VM; the group, its logs and state stay. */
int capsid_group_stop(const struct capsid_config *cfg, const char *name, struct capsid_error *err);
/* Restart every container (the group must be running). */
int capsid_group_restart(const struct capsid_config *cfg, const char *name, struct capsid_error *err);
/* Stop the group if it runs, then remove everything it made on the host. */
int capsid_group_delete(const struct capsid_config *cfg, const char *name, struct capsid_error *err);
/* Stop the group's VM and end its monitor, keeping the group (Stopped, with
 * its logs): what `capsid system stop` does to every group. */
int capsid_group_release(const struct capsid_config *cfg, const char *name, struct capsid_error *err);
/* What of the group lives only in its monitor's memory (*what NULL: nothing;
 * else "secure environment variables", ...): such a group cannot boot again
 * once its monitor is gone. */
int capsid_group_memory_only(const struct capsid_config *cfg, const char *name, const char **what,
			     struct capsid_error *err);

/* ---- reading ------------------------------------------------------------- */

/* The group's document: its spec (secure values redacted) with ACI's
 * instance view, made truthful when its monitor died. -ENOENT: no such group. */
int capsid_group_show(const struct capsid_config *cfg, const char *name, struct json_object **out,
		      struct capsid_error *err);
/* The names of every group, sorted (free with capsid_names_free). */
int capsid_group_list(const struct capsid_config *cfg, char ***names, size_t *n, struct capsid_error *err);
void capsid_names_free(char **names, size_t n);
/* The group as a spec that create accepts (ACI's export: secure values,
 * storage account keys and secret contents left out). */
int capsid_group_export(const struct capsid_config *cfg, const char *name, struct json_object **out,
			struct capsid_error *err);

/* ---- logs ---------------------------------------------------------------- */

/* One record of a container's log, as the CRI log format keeps it. */
struct capsid_log_line {
	const char *container;
	const char *time; /* RFC 3339 with nanoseconds, UTC */
	bool is_stderr;
	bool partial; /* the line goes on in the next record: no newline here */
	const char *text;
	size_t len;
};

struct capsid_logs_opts {
	const char *container; /* NULL: every container, merged by time */
	long tail;	       /* the last N lines of each, -1: all */
	bool follow;	       /* then live, until the group ends or *stop */
	bool events;	       /* with follow: Warning events too (on_warning) */
	volatile sig_atomic_t *stop;
	void (*on_line)(void *ud, const struct capsid_log_line *line);
	capsid_warning_fn on_warning;
	void *ud;
};

/* Replay a group's logs (from its files, so also when nothing runs), and
 * with follow go on live. *exit_code (may be NULL) gets the group's exit
 * code when it ended while followed: the first non-zero container exit
 * code in spec order, a container that never started counting as 128. */
int capsid_group_logs(const struct capsid_config *cfg, const char *name, const struct capsid_logs_opts *opts,
		      int *exit_code, struct capsid_error *err);

/* ---- exec ---------------------------------------------------------------- */

struct capsid_exec_opts {
	const char *container; /* NULL: the group's first */
	char *const *argv;     /* the command, argc words */
	size_t argc;
	bool tty;		 /* a terminal, rows x cols */
	unsigned rows, cols;
	int in_fd;		 /* -1: no standard input (a terminal stays open) */
	int out_fd, err_fd;	 /* with a terminal, everything goes to out_fd */
	int tty_fd;		 /* the caller's terminal, whose size follows; -1: none */
	/* Set to non-zero by the caller (SIGWINCH): the size of tty_fd is
	 * sent again. May be NULL. */
	volatile sig_atomic_t *resized;
};

/* Run a command in a running container and relay its streams until it
 * exits; *exit_code gets its exit code (128 + signal when killed). */
int capsid_group_exec(const struct capsid_config *cfg, const char *name, const struct capsid_exec_opts *opts,
		      int *exit_code, struct capsid_error *err);

/* ---- pods: containers added to a running group ------------------------- */

/* A group whose tag "capsid.pod-slots" is N (1..CAPSID_POD_SLOTS_MAX) boots
 * with N spare read-only disk slots: the VM has no disk hot-plug, so at most
 * N containers can be added while it runs (a removed one frees its slot). */
#define CAPSID_POD_SLOTS_TAG "capsid.pod-slots"
#define CAPSID_POD_SLOTS_MAX 4

/* Add container (an object in ACI's container shape; its image must be in
 * the image store; no volume mounts) to the running group and start it
 * there: its own rootfs, cgroup and limits inside the group's VM. Answers
 * once it runs or has ended (its state and exit code: capsid_group_show). */
int capsid_group_add_container(const struct capsid_config *cfg, const char *name, struct json_object *container,
			       struct capsid_error *err);
/* Forget an added container that has ended (waits a moment for the guest
 * to finish deleting it): its slot is free again. */
int capsid_group_remove_container(const struct capsid_config *cfg, const char *name, const char *container,
				  struct capsid_error *err);
/* Send sig to a container's main process (any container of a running group). */
int capsid_group_signal_container(const struct capsid_config *cfg, const char *name, const char *container,
				  int sig, struct capsid_error *err);
/* ---- stats (group_stats.c) ------------------------------------------------ */

#define CAPSID_STATS_MAX_CONTAINERS 80

/* One sample of a running group's counters, read from its guest: per
 * container cumulative CPU time, memory, block I/O; the guest's network
 * (its containers share one stack). Counters the guest could not read
 * are -1. */
struct capsid_container_sample {
	char name[64];
	long long cpu_usec;	      /* CPU time used since the container started */
	long long memory_bytes;	      /* cgroup memory.current */
	long long working_set_bytes;  /* memory.current less inactive file pages */
	long long io_read_bytes, io_write_bytes;
};

struct capsid_group_sample {
	unsigned long long time_ns; /* host CLOCK_MONOTONIC when the answer arrived */
	long long rx_bytes, tx_bytes;
	struct capsid_container_sample containers[CAPSID_STATS_MAX_CONTAINERS];
	size_t n_containers;
};

/* -ESRCH (err set) when the group's VM is not running. */
int capsid_group_sample(const struct capsid_config *cfg, const char *name, struct capsid_group_sample *out,
			struct capsid_error *err);

/* ---- metrics (group_metrics.c) ------------------------------------------- */

/* The Prometheus text exposition (format 0.0.4) of every group of the
 * root: per group and per container, ACI's metrics and capsid's own (see
 * docs/ARCHITECTURE.md "Metrics"). A struct capsid_metrics keeps the
 * previous render's samples for per-second rates; one per server. */
struct capsid_metrics;
struct capsid_metrics *capsid_metrics_new(void);
void capsid_metrics_free(struct capsid_metrics *m);
/* *text (free it) holds *len bytes. */
int capsid_metrics_render(const struct capsid_config *cfg, struct capsid_metrics *m, char **text, size_t *len,
			  struct capsid_error *err);

/* ---- usage (group_usage.c) ----------------------------------------------- */

/* A group's metered usage from a time on (docs/ARCHITECTURE.md "Metering"). */
struct capsid_usage {
	char group[64];
	double seconds;	     /* its VM was allocated this long */
	double vcpu_seconds; /* seconds x vCPUs */
	double gib_seconds;  /* seconds x memory requests in GiB */
	unsigned long long first_ms, last_ms; /* the first and last metered instants (Unix ms) */
};
/* Every group with usage since since_ms (Unix ms, 0: all), sorted by name;
 * free *out. Deleted groups keep theirs. */
int capsid_usage_totals(const struct capsid_config *cfg, unsigned long long since_ms, struct capsid_usage **out,
			size_t *n, struct capsid_error *err);

/* ---- a chosen set of groups' metrics (metrics_tenant.c) ------------------ */

/* The exposition of the named groups only (names that are no group have
 * no series; at most 256 groups): a front end that serves several
 * tenants renders each one's own, with an m of its own per tenant (m
 * keeps the named groups' samples only). */
int capsid_metrics_render_groups(const struct capsid_config *cfg, struct capsid_metrics *m,
				 const char *const *names, size_t n, char **text, size_t *len,
				 struct capsid_error *err);
/* Keep m's samples (the base of the next render's rates) in a file, and
 * read them back (a missing file: none). A render in a process of its
 * own loads before and saves after. */
int capsid_metrics_save(const struct capsid_metrics *m, const char *path, struct capsid_error *err);
int capsid_metrics_load(struct capsid_metrics *m, const char *path, struct capsid_error *err);

/* ---- a container's own stdin and terminal (group_attach.c) -------------- */

/* A container whose spec has properties.stdin (an open standard input) or
 * .tty (a terminal in the guest) takes input for its running process
 * through an attach session; its output is in its logs (capsid_group_logs
 * with follow; a terminal's unterminated line comes as a partial line). */
struct capsid_attach;
/* Attach to the current run of a running container. */
int capsid_group_attach(const struct capsid_config *cfg, const char *name, const char *container,
			struct capsid_attach **out, struct capsid_error *err);
/* Input for the process: 0, or -EPIPE once the monitor is gone. Input
 * after the run ended is dropped. Safe from several threads. */
int capsid_attach_write(struct capsid_attach *a, const void *data, size_t len);
/* End of input: the process reads end of file (on a terminal: the EOF
 * character). */
int capsid_attach_close_stdin(struct capsid_attach *a);
/* The terminal's size (a container without tty: ignored). */
int capsid_attach_resize(struct capsid_attach *a, unsigned rows, unsigned cols);
/* Waits up to timeout_ms (-1: for ever) for the end of the run attached
 * to: 1 with *exit_code, 0 on timeout, -errno. */
int capsid_attach_wait(struct capsid_attach *a, int timeout_ms, int *exit_code);
void capsid_attach_free(struct capsid_attach *a);

#endif
