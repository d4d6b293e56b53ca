/* The hypervisor layer: accelerator detection, the QEMU microvm command
 * line, process launch and teardown. Knows nothing of containers. */
#ifndef CAPSID_VMM_H
#define CAPSID_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

enum vmm_accel {
	VMM_ACCEL_AUTO = 0,
	VMM_ACCEL_KVM,
	VMM_ACCEL_TCG,
};

/* Parse "kvm", "tcg" or "auto" (NULL = auto). Returns -EINVAL otherwise. */
int vmm_accel_parse(const char *s, enum vmm_accel *out);
const char *vmm_accel_name(enum vmm_accel a);

/* KVM only when hardware virtualisation is really usable: vmx/svm in
 * cpuinfo_path's flags and /dev/kvm opens. `why` receives the reason for a
 * TCG fallback (empty when KVM was chosen or forced). */
enum vmm_accel vmm_accel_detect(enum vmm_accel requested, const char *cpuinfo_path, const char *kvm_path,
				char *why, size_t why_len);

/* The host's TSC frequency in kHz from cpuinfo_path ("cpu MHz" of a CPU
 * with constant_tsc), 0 when unknown. Under TCG the guest reads the host's
 * TSC, and a guest kernel that must calibrate it against an emulated PIT
 * hangs in about one boot out of three (measured: 5 of 16 boots stuck
 * after "tsc: Marking TSC unstable"); telling it the frequency avoids that. */
unsigned long vmm_host_tsc_khz(const char *cpuinfo_path);

/* Who runs QEMU: capsid itself (vmm_spawn) or libvirt (vmm_libvirt.h). */
enum vmm_backend {
	VMM_BACKEND_QEMU = 0,
	VMM_BACKEND_LIBVIRT,
};

/* Parse "qemu" or "libvirt" (NULL = qemu). Returns -EINVAL otherwise. */
int vmm_backend_parse(const char *s, enum vmm_backend *out);
const char *vmm_backend_name(enum vmm_backend b);

#define VMM_MAX_DISKS 16
#define VMM_MAX_NICS 4
/* QEMU's emulated local APIC counts at 1 GHz before its divider (its
 * current-count register is read from the virtual clock in nanoseconds). */
#define VMM_QEMU_APIC_TIMER_KHZ 1000000u

struct vmm_disk {
	const char *path;
	const char *serial; /* how the guest finds it: /sys/block/vdX/serial */
	const char *format; /* "raw" or "qcow2" */
	bool readonly;
};

struct vmm_nic {
	const char *tap;  /* host tap interface name */
	const char *mac;  /* "52:54:00:..." */
};

struct vmm_jail;

struct vmm_config {
	const char *qemu;    /* binary, default "qemu-system-x86_64" from PATH */
	const char *kernel;  /* vmlinuz */
	const char *initrd;  /* initrd.img */
	const char *cmdline; /* kernel command line */
	unsigned long tsc_khz; /* TCG: passed to the guest as tsc_early_khz, 0 = let it calibrate */
	unsigned vcpus;
	unsigned memory_mib;
	enum vmm_accel accel; /* resolved: KVM or TCG */
	unsigned tb_size_mib; /* TCG translation cache, 0 = QEMU default */
	/* microvm without ACPI (a guest kernel built without it, e.g.
	 * images/kernel): QEMU lists the virtio-mmio devices on the kernel
	 * command line itself, and the guest ends QEMU by rebooting. */
	bool no_acpi;
	/* Guest RAM from a memfd (shmem, 4 KiB pages) instead of anonymous
	 * memory that QEMU madvises for transparent huge pages: an idle guest
	 * then costs the pages it touched, not every 2 MiB region it touched. */
	bool memfd_ram;
	/* Guest RAM open to the host's kernel samepage merging (KSM), which
	 * merges equal pages across guests: off unless asked for, since a
	 * page shared with another tenant's guest is a side channel (QEMU's
	 * own default is on). KSM itself runs only where the host turned it
	 * on (/sys/kernel/mm/ksm/run), and merges private anonymous pages
	 * only: a memfd's are shared, so the monitor leaves memfd_ram off. */
	bool mem_merge;
	/* Warm start (host/monitor/template.c): guest RAM in a file
	 * (memory-backend-file; takes precedence over memfd_ram).
	 * ram_file_shared: share=on, the template writes its RAM into the file
	 * so a saved state can leave it out (x-ignore-shared); off: a clone
	 * maps the template's file copy-on-write. incoming: start paused with
	 * `-incoming defer`, waiting for vmm_restore_state(). */
	const char *ram_file;
	bool ram_file_shared;
	bool incoming;
	/* virtio-balloon with free-page-reporting: the guest hands memory it
	 * freed (the initramfs image after unpacking, boot-time buffers) back
	 * to the host. Needs CONFIG_VIRTIO_BALLOON in the guest kernel. */
	bool free_page_reporting;
	/* Under TCG, give the guest kernel the local APIC timer's rate
	 * (lapic_timer_khz, a kernel that takes it: see qemu.c). */
	bool apic_timer_rate;
	const char *agent_socket; /* chardev socket path for the agent port */
	const char *qmp_socket;
	const char *console_log; /* guest serial console file, or NULL */
	struct vmm_disk disks[VMM_MAX_DISKS];
	size_t n_disks;
	struct vmm_nic nics[VMM_MAX_NICS];
	size_t n_nics;
	/* Confinement (vmm/jail.h): NULL runs QEMU as its caller (root). With a
	 * jail QEMU gets its sockets, disks, console and taps as descriptors,
	 * runs -sandbox on, in namespaces and a cgroup, as the jail's uid. */
	const struct vmm_jail *jail;
};

/* Build the QEMU argv (NULL-terminated, caller frees with strv_free or
 * holds it in a _cleanup_strv_ variable). */
int vmm_build_argv(const struct vmm_config *cfg, char ***out, struct capsid_error *err);

/* Start QEMU. The child gets PR_SET_PDEATHSIG(SIGKILL) so it can never
 * outlive the process that launched it; stdout/stderr go to log_fd. */
int vmm_spawn(const struct vmm_config *cfg, int log_fd, pid_t *pid_out, struct capsid_error *err);

/* Warm start (vmm/migrate.c). Save the device state of a VM whose RAM is
 * in a shared ram_file: pauses it, migrates to path with x-ignore-shared
 * (the RAM stays in its file), waits for completion. The VM stays paused. */
int vmm_save_state(const char *qmp_socket, const char *path, unsigned timeout_ms, struct capsid_error *err);
/* Load path into a VM started with incoming=true, then let it run. */
int vmm_restore_state(const char *qmp_socket, const char *path, unsigned timeout_ms, struct capsid_error *err);

/* Node name of disk i's format node on the QEMU command line. */
#define VMM_DISK_NODE "disk%zu-fmt"

/* Point disk `slot` of a running VM (a read-only raw disk) at the file at
 * path instead (vmm/blockswap.c). The guest sees the same device and reads
 * the new file from then on: only for a disk the guest has not read yet
 * (it would keep cached blocks of the old file). Once per slot. */
int vmm_replace_disk(const char *qmp_socket, size_t slot, const char *path, struct capsid_error *err);
/* The same, any number of times per slot: replacement number gen (0 the
 * first) gets fd set and node names of its own. */
int vmm_replace_disk_gen(const char *qmp_socket, size_t slot, unsigned gen, const char *path,
			 struct capsid_error *err);

/* Once the guest kernel runs, have the host reclaim the pages of QEMU pid's
 * mappings of these files (the -kernel and -initrd it keeps for a reset
 * that -no-reboot turns into an exit): vmm/reclaim.c. Returns the bytes
 * advised (0 when nothing is mapped) or -errno. */
long vmm_release_files(pid_t pid, const char *const *paths, size_t n_paths, struct capsid_error *err);

/* Ask QEMU to quit over QMP (best effort), then SIGKILL after grace_ms.
 * Reaps the child. Returns 0 once the process is gone. */
int vmm_terminate(pid_t pid, const char *qmp_socket, unsigned grace_ms);

#endif
