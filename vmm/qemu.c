#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "qmp.h"
#include "util.h"
#include "proto.h"
#include "vmm.h"
#include "vmm_internal.h"

struct argv_builder {
	char **v;
	size_t n, cap;
	int failed;
};

static void argv_add(struct argv_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void argv_add(struct argv_builder *b, const char *fmt, ...)
{
	if (b->failed)
		return;
	if (b->n + 2 > b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 64;
		char **nv = realloc(b->v, ncap * sizeof(*nv));
		if (!nv) {
			b->failed = 1;
			return;
		}
		b->v = nv;
		b->cap = ncap;
	}
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&b->v[b->n], fmt, ap);
	va_end(ap);
	if (r < 0) {
		b->failed = 1;
		return;
	}
	b->v[++b->n] = NULL;
}

static void argv_builder_drop(struct argv_builder *b)
{
	strv_free(b->v);
}

/* QEMU option values separate sub-options with ',', written ',,' inside a value. */
static char *qemu_escape(const char *s)
{
	size_t extra = 0;
	for (const char *p = s; *p; p++)
		extra += *p == ',';
	char *out = malloc(strlen(s) + extra + 1);
	if (!out)
		return NULL;
	char *o = out;
	for (const char *p = s; *p; p++) {
		*o++ = *p;
		if (*p == ',')
			*o++ = ',';
	}
	*o = '\0';
	return out;
}

static int valid_token(const char *s)
{
	/* serials, tap names and MACs become bare QEMU sub-option values */
	if (!s || !*s || strlen(s) > 20)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_' || *p == ':' || *p == '.'))
			return 0;
	return 1;
}

/* The guest kernel's command line: cfg's, with what the accelerator and
 * the machine need (both VMM backends boot with it). */
int vmm_guest_cmdline(const struct vmm_config *cfg, char *buf, size_t len)
{
	/* Under TCG the guest's boot-time timer checks run in emulated time:
	 * calibrating the local APIC timer and verifying the IO-APIC timer
	 * cost about 0.3 s of each boot (measured, tests/bench/levers.sh). A
	 * kernel that takes the timer's rate from the command line (the
	 * minimal kernel, images/kernel/patches/0003) is given QEMU's: its
	 * emulated local APIC counts at 1 GHz. It then needs neither the
	 * calibration nor the PIT, whose 55 ms one-shot reach woke an idle
	 * guest ~38 times a second. A KVM guest skips both by itself
	 * (TSC-deadline timer). */
	char tcg_args[128] = "";
	if (cfg->accel == VMM_ACCEL_TCG) {
		if (cfg->tsc_khz)
			snprintf(tcg_args, sizeof(tcg_args), " tsc=reliable tsc_early_khz=%lu", cfg->tsc_khz);
		if (cfg->apic_timer_rate)
			snprintf(tcg_args + strlen(tcg_args), sizeof(tcg_args) - strlen(tcg_args),
				 " lapic_timer_khz=%u no_timer_check", VMM_QEMU_APIC_TIMER_KHZ);
	}
	int n = snprintf(buf, len, "%s%s%s", cfg->cmdline ? cfg->cmdline : "", tcg_args,
			 cfg->no_acpi ? " reboot=t" : "");
	return n < 0 || (size_t)n >= len ? -E2BIG : 0;
}

int vmm_build_argv(const struct vmm_config *cfg, char ***out, struct capsid_error *err)
{
	return vmm_build_argv_plan(cfg, NULL, out, err);
}

/* With a plan (a jailed VMM, jail_spawn.c), what QEMU would open by path
 * comes as descriptors: the listening sockets as chardev fds, disks and the
 * console as fd sets (-add-fd, the host path as the set's opaque: `ps`
 * still shows what QEMU serves), taps as netdev fds; and QEMU's own
 * seccomp filter is on. */
int vmm_build_argv_plan(const struct vmm_config *cfg, const struct vmm_fd_plan *plan, char ***out,
			struct capsid_error *err)
{
	if (!cfg->kernel || !cfg->initrd || !cfg->agent_socket || !cfg->qmp_socket)
		return capsid_error_set(err, EINVAL, "vm config: kernel, initrd, agent and qmp sockets are required");
	if (cfg->vcpus == 0 || cfg->vcpus > 64)
		return capsid_error_set(err, EINVAL, "vm config: vcpus %u out of range 1..64", cfg->vcpus);
	if (cfg->memory_mib < 64 || cfg->memory_mib > 262144)
		return capsid_error_set(err, EINVAL, "vm config: memory %u MiB out of range", cfg->memory_mib);
	if (cfg->accel != VMM_ACCEL_KVM && cfg->accel != VMM_ACCEL_TCG)
		return capsid_error_set(err, EINVAL, "vm config: accelerator must be resolved to kvm or tcg");
	if (cfg->n_disks > VMM_MAX_DISKS || cfg->n_nics > VMM_MAX_NICS)
		return capsid_error_set(err, E2BIG, "vm config: too many devices");

	_cleanup_free_ char *kernel = qemu_escape(cfg->kernel);
	_cleanup_free_ char *initrd = qemu_escape(cfg->initrd);
	_cleanup_free_ char *agent = qemu_escape(cfg->agent_socket);
	_cleanup_free_ char *qmp = qemu_escape(cfg->qmp_socket);
	_cleanup_free_ char *console = cfg->console_log ? qemu_escape(cfg->console_log) : NULL;
	_cleanup_free_ char *ram_file = cfg->ram_file ? qemu_escape(cfg->ram_file) : NULL;
	if (!kernel || !initrd || !agent || !qmp || (cfg->console_log && !console) || (cfg->ram_file && !ram_file))
		return capsid_error_errno(err, ENOMEM, "vm config: paths");

	_cleanup_(argv_builder_drop) struct argv_builder b = {0};
	argv_add(&b, "%s", cfg->qemu ? cfg->qemu : "qemu-system-x86_64");
	/* microvm: no PCI, no firmware; virtio-mmio devices are described to
	 * the guest by ACPI, which also lets the agent's power-off end QEMU. */
	argv_add(&b, "-M");
	argv_add(&b, "microvm,rtc=on,isa-serial=%s%s", cfg->console_log ? "on" : "off", cfg->no_acpi ? ",acpi=off" : "");
	argv_add(&b, "-machine");
	argv_add(&b, "mem-merge=%s", cfg->mem_merge ? "on" : "off");
	argv_add(&b, "-accel");
	if (cfg->accel == VMM_ACCEL_KVM)
		argv_add(&b, "kvm");
	else if (cfg->tb_size_mib)
		argv_add(&b, "tcg,thread=multi,tb-size=%u", cfg->tb_size_mib);
	else
		argv_add(&b, "tcg,thread=multi");
	argv_add(&b, "-cpu");
	argv_add(&b, cfg->accel == VMM_ACCEL_KVM ? "host" : "max");
	argv_add(&b, "-smp");
	argv_add(&b, "%u", cfg->vcpus);
	argv_add(&b, "-m");
	argv_add(&b, "%uM", cfg->memory_mib);
	if (cfg->ram_file) {
		argv_add(&b, "-object");
		argv_add(&b, "memory-backend-file,id=ram0,size=%uM,mem-path=%s,share=%s", cfg->memory_mib, ram_file,
			 cfg->ram_file_shared ? "on" : "off");
		argv_add(&b, "-machine");
		argv_add(&b, "memory-backend=ram0");
	} else if (cfg->memfd_ram) {
		argv_add(&b, "-object");
		argv_add(&b, "memory-backend-memfd,id=ram0,size=%uM", cfg->memory_mib);
		argv_add(&b, "-machine");
		argv_add(&b, "memory-backend=ram0");
	}
	argv_add(&b, "-nodefaults");
	argv_add(&b, "-no-user-config");
	argv_add(&b, "-display");
	argv_add(&b, "none");
	argv_add(&b, "-no-reboot");
	if (plan) {
		argv_add(&b, "-sandbox");
		argv_add(&b, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
		if (cfg->console_log) {
			argv_add(&b, "-add-fd");
			argv_add(&b, "fd=%d,set=%d,opaque=console:%s", plan->console_fd, plan->console_fd, console);
		}
		for (size_t i = 0; i < cfg->n_disks; i++) {
			_cleanup_free_ char *path = qemu_escape(cfg->disks[i].path);
			argv_add(&b, "-add-fd");
			argv_add(&b, "fd=%d,set=%d,opaque=disk:%s", plan->disk_fd[i], plan->disk_fd[i],
				 path ? path : "");
			if (plan->disk_ro_fd[i]) {
				argv_add(&b, "-add-fd");
				argv_add(&b, "fd=%d,set=%d", plan->disk_ro_fd[i], plan->disk_fd[i]);
			}
		}
	}
	argv_add(&b, "-kernel");
	argv_add(&b, "%s", kernel);
	argv_add(&b, "-initrd");
	argv_add(&b, "%s", initrd);
	char append[1024];
	if (vmm_guest_cmdline(cfg, append, sizeof(append)) < 0)
		return capsid_error_set(err, E2BIG, "vm config: kernel command line too long");
	argv_add(&b, "-append");
	argv_add(&b, "%s", append);
	if (cfg->console_log) {
		argv_add(&b, "-serial");
		if (plan)
			argv_add(&b, "file:/dev/fdset/%d", plan->console_fd);
		else
			argv_add(&b, "file:%s", console);
	}
	argv_add(&b, "-device");
	argv_add(&b, "virtio-serial-device");
	argv_add(&b, "-chardev");
	if (plan)
		argv_add(&b, "socket,id=agent,fd=%d,server=on,wait=off", plan->agent_fd);
	else
		argv_add(&b, "socket,id=agent,path=%s,server=on,wait=off", agent);
	argv_add(&b, "-device");
	argv_add(&b, "virtserialport,chardev=agent,name=%s", CAPSID_AGENT_PORT_NAME);
	if (cfg->free_page_reporting) {
		argv_add(&b, "-device");
		argv_add(&b, "virtio-balloon-device,free-page-reporting=on");
	}
	if (plan) {
		argv_add(&b, "-chardev");
		argv_add(&b, "socket,id=qmp,fd=%d,server=on,wait=off", plan->qmp_fd);
		argv_add(&b, "-mon");
		argv_add(&b, "chardev=qmp,mode=control");
	} else {
		argv_add(&b, "-qmp");
		argv_add(&b, "unix:%s,server=on,wait=off", qmp);
	}
	for (size_t i = 0; i < cfg->n_disks; i++) {
		const struct vmm_disk *d = &cfg->disks[i];
		if (!valid_token(d->serial))
			return capsid_error_set(err, EINVAL, "vm config: disk %zu: invalid serial", i);
		_cleanup_free_ char *path = qemu_escape(d->path);
		if (!path)
			return capsid_error_errno(err, ENOMEM, "vm config: disk %zu", i);
		/* The format node is named (VMM_DISK_NODE) so that a running VM's
		 * disk can be pointed at another file (vmm_replace_disk). */
		char fdset[32];
		if (plan)
			snprintf(fdset, sizeof(fdset), "/dev/fdset/%d", plan->disk_fd[i]);
		argv_add(&b, "-drive");
		argv_add(&b,
			 "file=%s,if=none,id=disk%zu,node-name=" VMM_DISK_NODE
			 ",format=%s,readonly=%s,cache=none,aio=threads",
			 plan ? fdset : path, i, i, d->format ? d->format : "raw", d->readonly ? "on" : "off");
		argv_add(&b, "-device");
		argv_add(&b, "virtio-blk-device,drive=disk%zu,serial=%s", i, d->serial);
	}
	for (size_t i = 0; i < cfg->n_nics; i++) {
		const struct vmm_nic *n = &cfg->nics[i];
		if (!valid_token(n->tap) || !valid_token(n->mac))
			return capsid_error_set(err, EINVAL, "vm config: nic %zu: invalid tap name or MAC", i);
		argv_add(&b, "-netdev");
		if (plan)
			argv_add(&b, "tap,id=net%zu,fd=%d", i, plan->nic_fd[i]);
		else
			argv_add(&b, "tap,id=net%zu,ifname=%s,script=no,downscript=no", i, n->tap);
		argv_add(&b, "-device");
		argv_add(&b, "virtio-net-device,netdev=net%zu,mac=%s", i, n->mac);
	}
	if (cfg->incoming) {
		argv_add(&b, "-incoming");
		argv_add(&b, "defer");
	}
	if (b.failed)
		return capsid_error_errno(err, ENOMEM, "vm config: QEMU's arguments");
	*out = TAKE_PTR(b.v);
	return 0;
}

int vmm_spawn(const struct vmm_config *cfg, int log_fd, pid_t *pid_out, struct capsid_error *err)
{
	if (cfg->jail)
		return vmm_spawn_jailed(cfg, log_fd, pid_out, err);
	_cleanup_strv_ char **argv = NULL;
	int rc = vmm_build_argv(cfg, &argv, err);
	if (rc < 0)
		return rc;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return capsid_error_errno(err, errno, "fork qemu");
	if (pid == 0) {
		/* QEMU must never outlive its monitor: a SIGKILLed monitor takes its VM with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null >= 0)
			dup2(null, 0);
		if (log_fd >= 0) {
			dup2(log_fd, 1);
			dup2(log_fd, 2);
		}
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		setpgid(0, 0);
		execvp(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	*pid_out = pid;
	return 0;
}

static int wait_exit(pid_t pid, unsigned timeout_ms)
{
	uint64_t deadline = util_now_ms() + timeout_ms;
	for (;;) {
		pid_t r = waitpid(pid, NULL, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return 0;
		if (util_now_ms() >= deadline)
			return -ETIMEDOUT;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int vmm_terminate(pid_t pid, const char *qmp_socket, unsigned grace_ms)
{
	if (pid <= 0)
		return 0;
	if (wait_exit(pid, 0) == 0)
		return 0;
	if (qmp_socket && qmp_quit(qmp_socket, 1000) == 0 && wait_exit(pid, grace_ms) == 0)
		return 0;
	kill(pid, SIGKILL);
	return wait_exit(pid, 5000);
}
