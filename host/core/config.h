/* capsid's configuration: every CAPSID_* environment variable, read once at
 * a program's edge (the CLI's main, capsidd's, the shim's, the monitor's
 * entry) into one struct that is passed down. No library below reads the
 * environment. README.md's table lists every variable with its default. */
#ifndef CAPSID_CONFIG_H
#define CAPSID_CONFIG_H

#include <limits.h>
#include <stdbool.h>

#include "error.h"
#include "net.h"
#include "smb.h"

#define CAPSID_DEFAULT_ROOT "/var/lib/capsid"

/* How a front end hears what the library notices but does not fail on
 * (the accelerator chosen, ...): the front end prints, the library never. */
typedef void (*capsid_notice_fn)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Registry pulls. */
struct capsid_registry_settings {
	const char *ca_file;	/* CAPSID_REGISTRY_CA: a PEM bundle trusted besides the system's */
	const char *insecure;	/* CAPSID_INSECURE_REGISTRIES: HOST[:PORT],... over plain HTTP */
	const char *mirror;	/* CAPSID_REGISTRY_MIRROR: https://HOST[:PORT] serving docker.io */
	unsigned stall_seconds; /* CAPSID_REGISTRY_STALL_TIMEOUT: 1-3600, 0: the default (30) */
};

/* CAPSID_WARM_STANDBY_POOL's bound: ready clones kept per machine. */
#define CONFIG_STANDBY_POOL_MAX 64

struct capsid_config {
	char root[PATH_MAX]; /* --root, CAPSID_ROOT, default CAPSID_DEFAULT_ROOT */
	capsid_notice_fn on_notice; /* may be NULL */
	const char *accel;   /* --accel: auto (NULL), kvm, tcg */
	bool quiet_accel;    /* CAPSID_QUIET_ACCEL: no warning when TCG is chosen */

	/* The monitor and its VM. */
	const char *runtime;	      /* CAPSID_RUNTIME: builtin (default), crun, runc */
	const char *guest_dir;	      /* CAPSID_GUEST_DIR, NULL: next to the program */
	const char *qemu;	      /* CAPSID_QEMU, NULL: qemu-system-x86_64 from PATH */
	const char *vmm;	      /* CAPSID_VMM (--vmm): qemu (default) or libvirt */
	const char *libvirt_uri;      /* CAPSID_LIBVIRT_URI (--libvirt-uri), NULL: qemu:///system */
	unsigned boot_timeout_ms;     /* CAPSID_BOOT_TIMEOUT_MS */
	unsigned stop_timeout_ms;     /* CAPSID_STOP_TIMEOUT_MS */
	unsigned backoff_base_ms;     /* CAPSID_BACKOFF_BASE_MS */
	unsigned backoff_max_ms;      /* CAPSID_BACKOFF_MAX_MS */
	unsigned memory_overhead_mib; /* CAPSID_MEMORY_OVERHEAD_MIB */
	unsigned tb_size_mib;	      /* CAPSID_TB_SIZE_MIB */
	bool memfd_ram;		      /* CAPSID_MEMFD_RAM */
	bool warm_start;	      /* CAPSID_WARM_START */
	bool warm_standby;	      /* CAPSID_WARM_STANDBY (with warm_start) */
	unsigned warm_standby_idle_s; /* CAPSID_WARM_STANDBY_IDLE_S */
	unsigned warm_standby_pool;   /* CAPSID_WARM_STANDBY_POOL: ready clones per machine */

	/* Confinement and bounds (vmm/jail.h, the monitor). */
	bool confine;		      /* CAPSID_CONFINE (--no-confine sets it to 0) */
	const char *jail_uids;	      /* CAPSID_JAIL_UIDS: FIRST-LAST, NULL: the default range */
	unsigned vmm_overhead_mib;    /* CAPSID_JAIL_VMM_OVERHEAD_MIB, 0: the measured default */
	unsigned log_max_bytes;	      /* CAPSID_LOG_MAX_BYTES per container log, 0: no cap */
	unsigned log_max_files;	      /* CAPSID_LOG_MAX_FILES: the current one and rotated ones */
	unsigned max_execs;	      /* CAPSID_MAX_EXECS at once per group, 0: the most the monitor has */

	struct net_settings net; /* over <root>/networks/config.json (net.h) */
	struct smb_settings smb; /* the embedded SMB service, azureFile servers (smb.h) */
	struct capsid_registry_settings registry;

	/* Volumes and images. */
	unsigned gitrepo_timeout_s; /* CAPSID_GITREPO_TIMEOUT_S */
};

/* Fill cfg from the environment. root and accel, when not NULL, are the
 * command line's (--root, --accel) and win. A variable with a value that
 * does not parse is an error naming it. The strings point into the
 * environment: cfg lives as long as the process's environment. */
int capsid_config_from_env(struct capsid_config *cfg, const char *root, const char *accel,
			   struct capsid_error *err);

#endif
