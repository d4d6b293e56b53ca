/* The monitor's edge: `capsid __monitor NAME` (a group's monitor, started
 * by libcapsid's launch) and `capsid __standby` (warm start's ready clone).
 * Their options come from the command line their launcher wrote and from
 * the configuration this process read at its start. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "group.h"
#include "jail.h"
#include "monitor.h"
#include "vmm.h"

/* The arguments of the hidden `__monitor NAME` and `__standby` commands. */
struct monitor_args {
	const char *accel, *runtime, *guest, *adopt, *vmm, *libvirt_uri;
	unsigned vcpus, memory_mib;
	unsigned long long usage_since_ms;
};

static int parse_monitor_args(struct cli_ctx *ctx, int argc, char **argv, int first, struct monitor_args *a,
			      struct monitor_options *opts)
{
	*a = (struct monitor_args){.runtime = "builtin"};
	for (int i = first; i + 1 < argc; i += 2) {
		const char *v = argv[i + 1];
		if (strcmp(argv[i], "--accel") == 0)
			a->accel = v;
		else if (strcmp(argv[i], "--runtime") == 0)
			a->runtime = v;
		else if (strcmp(argv[i], "--guest-dir") == 0)
			a->guest = v;
		else if (strcmp(argv[i], "--vmm") == 0)
			a->vmm = v;
		else if (strcmp(argv[i], "--libvirt-uri") == 0)
			a->libvirt_uri = v;
		else if (strcmp(argv[i], "--adopt") == 0)
			a->adopt = v;
		else if (strcmp(argv[i], "--vcpus") == 0)
			a->vcpus = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(argv[i], "--memory-mib") == 0)
			a->memory_mib = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(argv[i], "--usage-since-ms") == 0)
			a->usage_since_ms = strtoull(v, NULL, 10);
		else
			return -EINVAL;
	}
	const struct capsid_config *cfg = ctx->cfg;
	*opts = (struct monitor_options){
		.runtime = a->runtime,
		.guest_dir = a->guest,
		.boot_timeout_ms = cfg->boot_timeout_ms,
		.stop_timeout_ms = cfg->stop_timeout_ms,
		.backoff_base_ms = cfg->backoff_base_ms,
		.backoff_max_ms = cfg->backoff_max_ms,
		.memory_overhead_mib = cfg->memory_overhead_mib,
		.tb_size_mib = cfg->tb_size_mib,
		.memfd_ram = cfg->memfd_ram,
		.warm = cfg->warm_start,
		.standby = cfg->warm_standby,
		.standby_idle_s = cfg->warm_standby_idle_s,
		.standby_pool = cfg->warm_standby_pool,
		.qemu = cfg->qemu,
		.net = &cfg->net,
		.smb = &cfg->smb,
		.gitrepo_timeout_s = cfg->gitrepo_timeout_s,
		.confine = cfg->confine,
		.log_max_bytes = cfg->log_max_bytes,
		.log_max_files = cfg->log_max_files,
		.max_execs = cfg->max_execs && cfg->max_execs <= MONITOR_MAX_EXECS ? cfg->max_execs : MONITOR_MAX_EXECS,
		.vmm_overhead_mib = cfg->vmm_overhead_mib ? cfg->vmm_overhead_mib : MONITOR_JAIL_VMM_OVERHEAD_MIB,
		.usage_since_ms = a->usage_since_ms,
	};
	struct capsid_error err = {0};
	if (jail_range_parse(cfg->jail_uids, &opts->uids, &err) < 0)
		return -EINVAL;
	enum vmm_accel accel;
	if (!a->guest || vmm_accel_parse(a->accel, &accel) < 0 || accel == VMM_ACCEL_AUTO)
		return -EINVAL;
	opts->accel = accel;
	if (vmm_backend_parse(a->vmm, &opts->vmm) < 0)
		return -EINVAL;
	opts->libvirt_uri = a->libvirt_uri;
	/* Warm start restores QEMU by hand (QMP, files): a libvirt group boots cold. */
	if (opts->vmm == VMM_BACKEND_LIBVIRT)
		opts->warm = opts->standby = false;
	return 0;
}

int cli_cmd_monitor(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;
	struct monitor_args a;
	struct monitor_options opts;
	struct monitor_adopt adopt;
	struct group_paths paths;
	struct capsid_error err = {0};
	if (!name || parse_monitor_args(ctx, argc, argv, 2, &a, &opts) < 0 ||
	    group_paths_init(ctx->root, name, &paths, &err) < 0)
		return 2;
	if (a.adopt) {
		if (monitor_adopt_parse(a.adopt, &adopt) < 0)
			return 2;
		/* Inherited across the exec: none of what this monitor starts gets them. */
		fcntl(adopt.agent_fd, F_SETFD, FD_CLOEXEC);
		if (adopt.out_fd >= 0)
			fcntl(adopt.out_fd, F_SETFD, FD_CLOEXEC);
		opts.adopt = &adopt;
	}
	if (monitor_caps_drop(&err) < 0) {
		fprintf(stderr, "capsid __monitor: %s\n", err.msg);
		return 1;
	}
	return monitor_main(&paths, &opts, 3, 4);
}

int cli_cmd_standby_main(struct cli_ctx *ctx, int argc, char **argv)
{
	struct monitor_args a;
	struct monitor_options opts;
	if (parse_monitor_args(ctx, argc, argv, 1, &a, &opts) < 0 || !a.vcpus || !a.memory_mib || !opts.standby)
		return 2;
	struct capsid_error err = {0};
	if (monitor_caps_drop(&err) < 0) {
		fprintf(stderr, "capsid __standby: %s\n", err.msg);
		return 1;
	}
	return monitor_standby_main(ctx->root, &opts, a.vcpus, a.memory_mib);
}
