/* The per-group monitor (the conmon / shim-v2 pattern): one process per
 * group that owns QEMU and the agent channel, persists logs and state,
 * applies the restart policy and serves thin clients over a control socket.
 * It outlives the CLI that started it and lives until the group is deleted.
 *
 * The monitor is single-threaded: one poll() loop over the agent channel,
 * the control socket and its clients, and a signalfd for SIGCHLD/SIGTERM. */
#ifndef CAPSID_MONITOR_H
#define CAPSID_MONITOR_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "group.h"
#include "jail.h"
#include "net.h"
#include "template.h"
#include "view.h"
#include "vm_fsm.h"
#include "vmm.h"

struct vmm_domain; /* vmm_libvirt.h */

struct smb_settings;

struct spec_group;
struct image_info;
struct log_writer;
struct frame_reader;
struct frame_writer;
struct json_object;
struct pollfd;
struct ctl_client;
struct monitor;

struct monitor_options {
	enum vmm_accel accel;     /* resolved */
	const char *runtime;      /* "builtin", "crun" or "runc" */
	const char *guest_dir;    /* vmlinuz, initrd.img */
	const char *qemu;         /* QEMU binary ($CAPSID_QEMU), NULL: qemu-system-x86_64 from PATH */
	unsigned boot_timeout_ms; /* HELLO must arrive by then */
	unsigned stop_timeout_ms; /* grace for containers on stop */
	unsigned backoff_base_ms; /* restart back-off: base * 2^n, capped */
	unsigned backoff_max_ms;
	unsigned memory_overhead_mib;
	unsigned tb_size_mib;
	bool memfd_ram; /* guest RAM from a memfd (CAPSID_MEMFD_RAM, default on) */
	bool ksm;       /* guest RAM open to the host's KSM (CAPSID_KSM, default off) */
	bool warm;      /* warm start from a VM template (CAPSID_WARM_START=1, opt-in; template.c) */
	bool standby;   /* with warm: keep a ready clone per machine (CAPSID_WARM_STANDBY=1; standby.c) */
	unsigned standby_idle_s;             /* a ready clone nobody claims ends after this */
	unsigned standby_pool;		     /* ready clones kept per machine (CAPSID_WARM_STANDBY_POOL) */
	const struct monitor_adopt *adopt;   /* this monitor starts on a ready clone (standby.c) */
	const struct net_settings *net;      /* the edge's network settings (NULL: the file's) */
	const struct smb_settings *smb;      /* the edge's SMB settings (NULL: the defaults) */
	unsigned gitrepo_timeout_s;          /* a gitRepo clone's bound (0: the default) */
	bool confine;                        /* jail every QEMU (CAPSID_CONFINE, default on; monitor_jail.c) */
	struct jail_range uids;              /* CAPSID_JAIL_UIDS */
	unsigned vmm_overhead_mib;           /* memory.max = guest RAM + this (CAPSID_JAIL_VMM_OVERHEAD_MIB) */
	unsigned log_max_bytes;              /* per container log file (CAPSID_LOG_MAX_BYTES, 0 = no cap) */
	unsigned log_max_files;              /* the current one and rotated ones (CAPSID_LOG_MAX_FILES) */
	unsigned max_execs;                  /* execs running at once per group (CAPSID_MAX_EXECS, <= MONITOR_MAX_EXECS) */
	enum vmm_backend vmm;                /* who runs QEMU (--vmm); libvirt: monitor_libvirt.c */
	const char *libvirt_uri;             /* --libvirt-uri, NULL: VMM_LIBVIRT_DEFAULT_URI */
	unsigned long long usage_since_ms;   /* the create began then (wall ms): its usage counts from it; 0: now */
};

/* A ready clone handed to a new group's monitor (`__monitor --adopt`):
 * its QEMU (a child of this very process: the standby exec'd the monitor),
 * the connected agent channel, negotiated (HELLO read, NEGOTIATE done), the standby
 * tap QEMU holds, the template it was restored from, and the standby
 * directory its sockets and console live in until the group takes them. */
struct monitor_adopt {
	pid_t qemu_pid;
	int agent_fd; /* negotiated: HELLO and NEGOTIATE are done */
	int out_fd;   /* the read end of its QEMU's stdout and stderr (monitor_bounds.c) */
	char tap[16];
	char key[20];
	char dir[PATH_MAX];
};
int monitor_adopt_parse(const char *s, struct monitor_adopt *out);

/* Entry point of `capsid __monitor`: spec_fd carries the full spec JSON
 * (with secure values, never written to disk); ready_fd gets one line, "ok"
 * once the VM is up or "error: ..." — then the monitor cleans up and exits.
 * Returns the process exit code. */
int monitor_main(const struct group_paths *paths, const struct monitor_options *opts, int spec_fd, int ready_fd);

/* ---- internal, shared by monitor*.c ---- */

struct mcontainer {
	struct view_container *view;
	const struct spec_group *spec_group;
	size_t index;
	char image_serial[16];
	struct log_writer *log;
	uint32_t stream;       /* stream id of the current run, 0 when none */
	bool created;          /* exists in the guest (needs DELETE before re-CREATE) */
	bool running;
	bool exited;           /* terminated and not scheduled to restart */
	uint64_t restart_at;   /* monotonic ms, 0 when no restart is scheduled */
	unsigned backoff_step;
	uint64_t started_at;   /* monotonic ms of the last start */
	bool init;             /* an init container (monitor_init.c): after the group's containers */
	bool held;             /* waits for the init containers before it (monitor_init.c) */
};

enum req_kind {
	REQ_NEGOTIATE,
	REQ_IDENTITY, /* warm start: a restored guest's fresh identity */
	REQ_NETWORK,
	REQ_VOLUMES,
	REQ_CREATE,
	REQ_START,
	REQ_DELETE,
	REQ_SHUTDOWN,
	REQ_EXEC,    /* relayed for a control client */
	REQ_RELAY,   /* answer relayed verbatim to a control client */
	REQ_IGNORE,
};

struct pending_req {
	uint32_t id;
	enum req_kind kind;
	size_t container;
	struct ctl_client *client;
	uint32_t client_id;
	uint32_t stream;
};

struct exec_relay {
	uint32_t stream;     /* agent-side stream */
	struct ctl_client *client;
	uint32_t client_id;  /* client-side id */
};

/* What a volume needs on the host while the VM runs (monitor_volume.c and
 * its kinds, volume_kinds.h). */
struct monitor_volume {
	char serial[16];	   /* disk-backed volumes: the guest finds the disk by it */
	char disk_path[PATH_MAX];  /* "" when the volume has no disk */
	const char *format;	   /* "raw" (gitRepo erofs) or "qcow2" (capsidDisk) */
	bool readonly;
	int lock_fd;		   /* capsidDisk attach lock, or the hold on the embedded SMB service; -1 when none */
	char server[16];	   /* azureFile: the SMB server's address */
};

/* ---- warm start (template.c) ---- */
struct monitor_warm {
	struct template_files tpl; /* the template of the group's machine */
	bool restored;	/* the running VM is a clone: send IDENTITY after NEGOTIATE */
	bool cold_once; /* the next boot is cold (a restore just failed) */
	uint64_t hello_by; /* reconnect to the restored agent if no HELLO by then */
	bool standby_asked; /* this boot has asked for a ready clone for the next group */
	bool tap_adopted;   /* the group's tap was the ready clone's (net_attach_request.adopt_tap) */
	const struct monitor_adopt *adopt; /* the ready clone to start on, until the first boot */
};

/* Turn cfg (the group's cold-boot configuration, devices attached) into a
 * clone of the warm-start template, building the template on first need.
 * Returns 1 when cfg is now a clone (restore it after the spawn), 0 when
 * the group boots cold (warm start off, the group does not fit a template,
 * or the template failed: logged). */
int monitor_template_apply(struct monitor *m, struct vmm_config *cfg);
/* Load the template's state into the clone just spawned and let it run. */
int monitor_template_restore(struct monitor *m, struct capsid_error *err);
/* IDENTITY to a restored guest: host clock, entropy, the group's hostname. */
int monitor_template_send_identity(struct monitor *m);
/* The HELLO safety net of a restored guest (monitor_run_timers). */
uint64_t monitor_template_next_timer(const struct monitor *m);
void monitor_template_timers(struct monitor *m, uint64_t now);

/* ---- warm start's ready clone (standby.c) ---- */
/* Entry point of `capsid __standby`: restore a clone of the template of
 * this machine (runtime, vCPUs, memory), wait until its agent said HELLO,
 * and hand it to the first group that claims it (launch.c) by exec'ing
 * that group's monitor. Ends when idle for opts->standby_idle_s, on
 * SIGTERM, or when another ready clone of the machine exists. */
int monitor_standby_main(const char *root, const struct monitor_options *opts, unsigned vcpus,
			 unsigned memory_mib);
/* <root>/standby/<runtime>-<vcpus>-<memory>.<slot>: where the ready clone
 * of that slot of that machine lives (slots 0 to standby_pool - 1). */
int monitor_standby_dir(const char *root, const char *runtime, unsigned vcpus, unsigned memory_mib,
			unsigned slot, char *out, size_t len);
/* Once the group's containers started on a warm VM: start a ready clone
 * for the next group of this machine unless one exists. */
void monitor_standby_after_start(struct monitor *m);
/* Make the ready clone this group's VM (cfg: the clone configuration
 * monitor_template_apply made); 0 when it is, -1 (logged) when not. */
int monitor_standby_adopt(struct monitor *m, const struct vmm_config *cfg);
/* End a ready clone that was not adopted. */
void monitor_standby_discard(struct monitor *m);
/* ---- end warm start ---- */

#define MONITOR_MAX_PENDING 256
#define MONITOR_MAX_EXECS 64

/* The guest files a VM boots from. */
struct monitor_vm_files {
	char kernel[PATH_MAX], initrd[PATH_MAX], cmdline[512];
};

/* The VM lifecycle (vm_fsm.h: its state changes only in monitor_vm_event)
 * and the QEMU it runs. */
struct monitor_vm {
	struct vm_fsm fsm;
	pid_t qemu_pid;
	struct vmm_domain *domain; /* the libvirt backend's domain (monitor_libvirt.c), else NULL */
	uint64_t deadline;                  /* boot or stop deadline, monotonic ms */
	struct monitor_vm_files boot_files; /* of the running QEMU */
	uint64_t release_at;                /* when to release QEMU's mappings of them, 0 = done */
	char started_at[40];
	uint64_t spawned_ms;   /* monotonic ms when QEMU started (this boot) */
	unsigned last_boot_ms; /* QEMU's start to the agent's readiness, last boot; 0 before one */
	bool dispatching; /* in monitor_vm_event: events raised meanwhile wait in queue */
	struct {
		enum vm_event ev;
		bool has_why;
		char why[CAPSID_ERROR_MAX];
	} queue[8];
	size_t n_queued;
};

/* The agent channel (monitor_agent.c): the requests in flight, the execs relayed. */
struct monitor_chan {
	int fd;
	struct frame_reader *in;
	struct frame_writer *out;
	uint64_t retry_at; /* next connect attempt to agent.sock */
	uint32_t next_req_id;
	uint32_t next_stream;
	struct pending_req pending[MONITOR_MAX_PENDING];
	size_t n_pending;
	struct exec_relay execs[MONITOR_MAX_EXECS];
	size_t n_execs;
};

/* A client attached to a container's stdin and terminal (monitor_stdin.c):
 * its input goes to the run it attached to, never to a later one. */
#define MONITOR_MAX_STDIN_ATTACHES 16
struct stdin_attach {
	struct ctl_client *client;
	uint32_t client_id;
	uint32_t stream; /* the run's stream (a container's index may change: pods) */
};

/* The clients (monitor_control.c): the control socket, the creating CLI's
 * ready pipe, and who waits for a stop or a start. */
struct monitor_clients {
	int listen_fd;
	int ready_fd; /* create's CLI waits on it until the VM is up */
	struct ctl_client *clients;
	struct ctl_client *stop_waiters[16];
	uint32_t stop_waiter_ids[16];
	size_t n_stop_waiters;
	struct ctl_client *start_waiters[16]; /* answered once every container started */
	uint32_t start_waiter_ids[16];
	size_t n_start_waiters;
	struct stdin_attach attaches[MONITOR_MAX_STDIN_ATTACHES];
	size_t n_attaches;
};

/* The group's network (monitor_net.c). */
struct monitor_network {
	struct net_config cfg;
	struct net_attachment att; /* valid when attached */
	bool attached;
	bool unfinished; /* attached with tap_only: monitor_net_finish does the rest */
};

/* Pods (monitor_pod.c): spare read-only disk slots the VM boots with
 * (placeholders), each of which a container added to the running group
 * takes (the VM has no disk hot-plug). The group's tag capsid.pod-slots
 * asks for them. */
#define MONITOR_POD_SLOTS 4
struct monitor_pod {
	size_t n_slots;
	size_t first_disk;			/* the VM's disk index of slot 0 */
	char serials[MONITOR_POD_SLOTS][8];	/* pod0.. */
	char holder[MONITOR_POD_SLOTS][64];	/* the container in the slot, "" when free */
	unsigned gen[MONITOR_POD_SLOTS];	/* replacements of the slot in this QEMU */
	char placeholder[PATH_MAX];
};

/* One process per group: the group itself (spec, images, containers, the
 * instance view) and one member per concern. */
struct monitor {
	const struct group_paths *paths;
	const struct monitor_options *opts;
	int log_fd;
	int signal_fd;
	bool quit;

	struct spec_group *spec;           /* with secure values: memory only */
	struct json_object *spec_redacted; /* what goes to disk and `show` */
	struct image_info **images;        /* per container */
	char (*serials)[16];               /* per distinct image, in disk order */
	size_t n_disks;
	struct mcontainer *containers;
	size_t n_containers;
	struct group_view view;

	struct monitor_vm vm;
	struct monitor_chan agent;
	struct monitor_clients ctl;
	struct monitor_network net;
	struct monitor_volume *volumes; /* per spec volume, NULL before the first boot (monitor_volume.c) */
	struct monitor_warm warm;
	struct monitor_pod pod;
	const char *jail_owner;   /* whose uid and cgroup this monitor's QEMUs get (monitor_jail.c) */
	uint64_t bounds_at;       /* next check of console.log and monitor.log (monitor_bounds.c) */
	int qemu_out_fd;          /* QEMU's stdout and stderr, drained into the log; -1 */
	uint64_t qemu_out_dropped;
	struct {
		int fd;		   /* <root>/usage/<name>.log, -1 until the first boot */
		uint64_t from_ms;  /* wall ms the unwritten period began, 0 when not accounting */
		uint64_t next_tick; /* monotonic ms */
		bool began;	    /* the create's start was counted */
	} usage; /* monitor_usage.c */
};

void monitor_log(struct monitor *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A timestamped line to a monitor's or standby's log fd (-1: nowhere). */
void monitor_log_fd(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Record an event in the instance view, the group's (c NULL) or a
 * container's; a Warning also goes to the clients attached with events
 * (`capsid run` prints it as it happens). type: "Normal" or "Warning". */
void monitor_event(struct monitor *m, struct mcontainer *c, const char *name, const char *type,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void monitor_save_state(struct monitor *m);
void monitor_update_phase(struct monitor *m);
/* Feed ev to the VM's state machine (vm_fsm.h) and carry out its actions;
 * why: the reason of a failure event, or NULL. Events raised while an
 * event is handled wait their turn. Returns -EALREADY when ev does not
 * apply in the current state, the boot's error when ev asked for a boot
 * (VM_EV_MONITOR_START, VM_EV_START, VM_EV_RESTART) that failed (err has
 * it), 0 otherwise. */
int monitor_vm_event(struct monitor *m, enum vm_event ev, const char *why, struct capsid_error *err);
/* VM_ACT_BOOT: attach network and volumes, spawn QEMU (or take the ready
 * clone), restore it from the template; on failure nothing is left running. */
int monitor_boot_vm(struct monitor *m, struct capsid_error *err);
/* The machine of a group of these options (no disks, no NIC yet). */
void monitor_vm_config(const struct monitor_options *opts, const struct group_paths *paths, unsigned vcpus,
		       unsigned memory_mib, struct monitor_vm_files *files, struct vmm_config *cfg);
void monitor_report_ready(struct monitor *m, const char *error);
/* The guest is up: QEMU's copies of the kernel and initramfs go back to
 * the host (vmm_release_files), a little later, off the start's path. */
void monitor_release_boot_files_later(struct monitor *m);
void monitor_release_boot_files(struct monitor *m);
/* A monitor's or standby's process: its pid file written, SIGCHLD, SIGTERM,
 * SIGINT and SIGHUP blocked for the signalfd returned, SIGPIPE ignored. */
int monitor_process_setup(const char *pid_path);

/* monitor_agent.c */
int monitor_agent_send(struct monitor *m, uint16_t type, uint32_t id, struct json_object *body);
int monitor_agent_request(struct monitor *m, uint16_t type, struct json_object *body, struct pending_req *req);
void monitor_agent_readable(struct monitor *m);
void monitor_agent_close(struct monitor *m, const char *why);
/* Connect to the agent socket at path (non-blocking). Returns fd or -errno. */
int monitor_agent_connect(const char *path);
/* Use fd (connected to the agent socket) as the agent channel. */
int monitor_agent_attach(struct monitor *m, int fd);
/* The protocol version to speak with the agent whose HELLO body is body,
 * or -1 with why set (also when the guest lacks this group's runtime). */
int monitor_agent_hello_version(const struct monitor_options *opts, struct json_object *body, char *why,
				size_t len);
/* The channel was negotiated before this monitor had it (a ready clone):
 * continue as after NEGOTIATE's answer. */
void monitor_agent_negotiated(struct monitor *m);
void monitor_start_container(struct monitor *m, size_t i);
void monitor_run_timers(struct monitor *m, uint64_t now);
uint64_t monitor_next_timer(struct monitor *m);

/* monitor_libvirt.c: the VM as a libvirt domain (opts->vmm == VMM_BACKEND_LIBVIRT). */
int monitor_libvirt_boot(struct monitor *m, const struct vmm_config *cfg, struct capsid_error *err);
/* The domain ended by itself (called on SIGCHLD): true once. */
bool monitor_libvirt_ended(struct monitor *m);
/* Destroy the domain, if any. */
void monitor_libvirt_end(struct monitor *m);
/* capsid show's capsid.libvirtUri and capsid.domain. */
void monitor_libvirt_describe(struct monitor *m, struct json_object *ext);

/* monitor_init.c: m->containers holds the group's containers, then its
 * init containers (c->init). */
const struct spec_container *monitor_spec_container(const struct monitor *m, size_t i);
/* The agent is ready: the first init container starts, or every container. */
void monitor_start_all(struct monitor *m);
/* An init container's run ended with exit_code while the VM is Ready: true
 * when this decided what follows (the next one started, or the group
 * failed under Never), false when the restart policy applies as usual. */
bool monitor_init_ended(struct monitor *m, struct mcontainer *c, int exit_code);
/* Each initContainers[j].properties.instanceView of a view document, and back. */
void monitor_init_describe(const struct monitor *m, struct json_object *props);
void monitor_init_restore(struct monitor *m, struct json_object *props);

/* monitor_probe.c: CREATE's "probes" for a run of container c (NULL when
 * it has none; resets its readiness), and a PROBE frame from the agent. */
struct frame;
struct json_object *monitor_probe_body(struct mcontainer *c, const struct spec_container *sc);
void monitor_probe_frame(struct monitor *m, const struct frame *f);

/* monitor_security.c: the container's user (runAsUser/runAsGroup over the
 * image's, image_user may be NULL) and "security" into a CREATE body. */
void monitor_security_describe(struct json_object *body, const struct spec_container *sc, const char *image_user);

/* monitor_stats.c: CTL_STATS, answered with the agent's STATS (relayed; the
 * client bounds and checks it), or an error when the VM is not up. */
void monitor_stats_request(struct monitor *m, struct ctl_client *c, uint32_t id);

/* monitor_usage.c: per-second usage records while the VM is allocated. */
void monitor_usage_begin(struct monitor *m);
void monitor_usage_end(struct monitor *m);
uint64_t monitor_usage_next_timer(const struct monitor *m);
void monitor_usage_timers(struct monitor *m, uint64_t now);

/* monitor_net.c */
int monitor_net_attach(struct monitor *m, struct vmm_config *cfg, struct capsid_error *err);
/* The host half of a new attachment (or only the DNS responder): after QEMU started. */
int monitor_net_finish(struct monitor *m, struct capsid_error *err);
int monitor_net_configure_guest(struct monitor *m);
void monitor_net_describe(struct monitor *m, struct json_object *props, struct json_object *ext);

/* QEMU's memory beyond guest RAM under TCG (translation cache, binary,
 * libraries, device state): measured in docs/ARCHITECTURE.md "Confinement". */
#define MONITOR_JAIL_VMM_OVERHEAD_MIB 96

/* monitor_jail.c: cfg->jail for a QEMU of jail_owner's (NULL when
 * confinement is off); j holds it until the spawn. */
int monitor_jail_apply(const struct monitor_options *opts, const char *root, const char *owner,
		       struct vmm_config *cfg, struct vmm_jail *j, struct capsid_error *err);
/* The owner a ready clone's uid and cgroup are held under. */
int monitor_jail_standby_owner(const char *standby_dir, char *out, size_t len);
/* The ready clone's uid and QEMU become the group's. */
int monitor_jail_adopt(struct monitor *m, const struct vmm_config *cfg, struct capsid_error *err);
/* The group's QEMU is gone: its cgroup goes. */
void monitor_jail_vm_gone(struct monitor *m);
/* The monitor ends: the group's cgroup and uid go. */
void monitor_jail_release(struct monitor *m);

/* monitor_caps.c: the capabilities a monitor or standby keeps (a mask of
 * CAPS_BIT(CAP_...)), and dropping every other one (common/caps.h). */
uint64_t monitor_caps_kept(void);
int monitor_caps_drop(struct capsid_error *err);

/* monitor_bounds.c: console.log and monitor.log capped at log_max_bytes. */
uint64_t monitor_bounds_next_timer(const struct monitor *m);
void monitor_bounds_timers(struct monitor *m, uint64_t now);
/* The descriptor a QEMU about to start gets as stdout and stderr (the
 * caller closes it after the spawn), -1 on failure (use the log itself). */
int monitor_bounds_qemu_output(struct monitor *m);
/* A pipe for a QEMU's stdout and stderr: its read end (non-blocking) in
 * *read_fd, its write end returned (-1 on failure). */
int monitor_bounds_pipe(int *read_fd);
/* Drain *fd into log_fd while the log is under cap (0: none), counting
 * what is dropped in *dropped; at its end *fd is closed and set to -1. */
void monitor_bounds_drain_fd(int *fd, int log_fd, unsigned cap, uint64_t *dropped);
/* Readable: into the log while it is under the cap. */
void monitor_bounds_drain(struct monitor *m);

/* monitor_volume.c */
struct spec_container;
bool monitor_volumes_use_smb(const struct monitor *m);
int monitor_volumes_prepare(struct monitor *m, struct vmm_config *cfg, struct capsid_error *err);
void monitor_volumes_release(struct monitor *m);
int monitor_volumes_configure_guest(struct monitor *m);
struct json_object *monitor_volume_mounts(const struct spec_container *sc);

/* monitor_pod.c */
/* The spare slots the spec's tag asks for (at prepare; error on a bad value). */
int monitor_pod_prepare(struct monitor *m, struct capsid_error *err);
/* Append the slots to a boot's disks: placeholders, or the image of the container holding the slot. */
int monitor_pod_boot_disks(struct monitor *m, struct vmm_config *cfg, struct capsid_error *err);
/* Control requests CAPSID_CTL_POD_ADD, _REMOVE, _SIGNAL: 0 with *reply set, or -errno with err. */
int monitor_pod_request(struct monitor *m, uint16_t type, struct json_object *body, struct json_object **reply,
			struct capsid_error *err);

/* monitor_stdin.c: CAPSID_CTL_ATTACH_STDIN sessions */
void monitor_stdin_attach(struct monitor *m, struct ctl_client *c, uint32_t id, struct json_object *body);
/* STDIN, STDIN_CLOSE or RESIZE of an attach session: true when it was one. */
bool monitor_stdin_forward(struct monitor *m, struct ctl_client *c, const struct frame *f);
/* The run of this stream ended (0: every run, the agent is gone): its
 * sessions get EXIT and end. */
void monitor_stdin_run_ended(struct monitor *m, uint32_t stream, int exit_code);
void monitor_stdin_client_gone(struct monitor *m, struct ctl_client *c);

/* monitor_control.c */
int monitor_control_listen(struct monitor *m, struct capsid_error *err);
void monitor_control_accept(struct monitor *m);
void monitor_control_client_io(struct monitor *m, struct ctl_client *c, short revents);
void monitor_control_free_all(struct monitor *m);
void monitor_control_broadcast_log(struct monitor *m, size_t container, int stream, const char *time, bool partial,
				   const char *content, size_t len);
void monitor_control_broadcast_end(struct monitor *m);
/* A Warning event to the clients attached with "events" (container NULL:
 * the group's). */
void monitor_control_broadcast_event(struct monitor *m, const char *container, const char *name,
				     const char *message);
void monitor_control_stop_done(struct monitor *m);
void monitor_control_start_done(struct monitor *m, const char *error);
int monitor_control_send(struct monitor *m, struct ctl_client *c, uint16_t type, uint32_t id,
			 const void *body, size_t len);
int monitor_control_send_json(struct monitor *m, struct ctl_client *c, uint16_t type, uint32_t id,
			      struct json_object *obj);
size_t monitor_control_pollfds(struct monitor *m, struct pollfd *fds, struct ctl_client **owners, size_t max);
void monitor_control_reap(struct monitor *m);
struct json_object *monitor_instance_view(struct monitor *m);

#endif
