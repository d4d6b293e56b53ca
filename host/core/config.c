/* Every CAPSID_* variable, read once (config.h). */
#include "config.h"
#include "vmm.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

static const char *env_str(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static int env_uint(const char *name, unsigned def, unsigned *out, struct capsid_error *err)
{
	const char *v = env_str(name);
	*out = def;
	if (!v)
		return 0;
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, 10);
	if (*end || errno || x > UINT_MAX || v[0] == '-')
		return capsid_error_set(err, EINVAL, "%s=%.32s: must be a whole number", name, v);
	*out = (unsigned)x;
	return 0;
}

static int env_bool(const char *name, bool def, bool *out, struct capsid_error *err)
{
	unsigned x;
	int rc = env_uint(name, def, &x, err);
	if (rc < 0)
		return capsid_error_set(err, EINVAL, "%s=%.32s: must be 0 or 1", name, getenv(name));
	*out = x != 0;
	return 0;
}

int capsid_config_from_env(struct capsid_config *cfg, const char *root, const char *accel,
			   struct capsid_error *err)
{
	*cfg = (struct capsid_config){0};
	if (!root)
		root = env_str("CAPSID_ROOT");
	if (!root)
		root = CAPSID_DEFAULT_ROOT;
	if (root[0] != '/')
		return capsid_error_set(err, EINVAL, "state root %.64s: must be an absolute path", root);
	if (snprintf(cfg->root, sizeof(cfg->root), "%s", root) >= (int)sizeof(cfg->root))
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	cfg->accel = accel;
	cfg->runtime = env_str("CAPSID_RUNTIME");
	if (!cfg->runtime)
		cfg->runtime = "builtin";
	cfg->guest_dir = env_str("CAPSID_GUEST_DIR");
	cfg->qemu = env_str("CAPSID_QEMU");
	cfg->vmm = env_str("CAPSID_VMM");
	cfg->libvirt_uri = env_str("CAPSID_LIBVIRT_URI");
	cfg->jail_uids = env_str("CAPSID_JAIL_UIDS");
	cfg->net = (struct net_settings){
		.publish_address = getenv("CAPSID_PUBLISH_ADDRESS"),
		.dns_zone = env_str("CAPSID_DNS_ZONE"),
		.default_subnet = env_str("CAPSID_DEFAULT_SUBNET"),
		.dns_port = env_str("CAPSID_DNS_PORT"),
		.dns_exe = env_str("CAPSID_DNS_EXE"),
	};
	cfg->smb = (struct smb_settings){
		.smbd = env_str("CAPSID_SMBD"),
		.smbpasswd = env_str("CAPSID_SMBPASSWD"),
		.suffix = env_str("CAPSID_SMB_SUFFIX"),
		.addresses = env_str("CAPSID_SMB_ADDRESSES"),
	};
	cfg->registry = (struct capsid_registry_settings){
		.ca_file = env_str("CAPSID_REGISTRY_CA"),
		.insecure = env_str("CAPSID_INSECURE_REGISTRIES"),
		.mirror = env_str("CAPSID_REGISTRY_MIRROR"),
	};
	int rc;
	if ((rc = env_bool("CAPSID_QUIET_ACCEL", false, &cfg->quiet_accel, err)) < 0 ||
	    (rc = env_uint("CAPSID_BOOT_TIMEOUT_MS", 120000, &cfg->boot_timeout_ms, err)) < 0 ||
	    (rc = env_uint("CAPSID_STOP_TIMEOUT_MS", 10000, &cfg->stop_timeout_ms, err)) < 0 ||
	    (rc = env_uint("CAPSID_BACKOFF_BASE_MS", 1000, &cfg->backoff_base_ms, err)) < 0 ||
	    (rc = env_uint("CAPSID_BACKOFF_MAX_MS", 300000, &cfg->backoff_max_ms, err)) < 0 ||
	    (rc = env_uint("CAPSID_MEMORY_OVERHEAD_MIB", 128, &cfg->memory_overhead_mib, err)) < 0 ||
	    (rc = env_uint("CAPSID_TB_SIZE_MIB", 12, &cfg->tb_size_mib, err)) < 0 ||
	    (rc = env_bool("CAPSID_MEMFD_RAM", true, &cfg->memfd_ram, err)) < 0 ||
	    (rc = env_bool("CAPSID_WARM_START", false, &cfg->warm_start, err)) < 0 ||
	    (rc = env_bool("CAPSID_WARM_STANDBY", false, &cfg->warm_standby, err)) < 0 ||
	    (rc = env_uint("CAPSID_WARM_STANDBY_IDLE_S", 600, &cfg->warm_standby_idle_s, err)) < 0 ||
	    (rc = env_uint("CAPSID_WARM_STANDBY_POOL", 1, &cfg->warm_standby_pool, err)) < 0 ||
	    (rc = env_uint("CAPSID_SMBD_TIMEOUT_MS", 0, &cfg->smb.start_timeout_ms, err)) < 0 ||
	    (rc = env_uint("CAPSID_GITREPO_TIMEOUT_S", 0, &cfg->gitrepo_timeout_s, err)) < 0 ||
	    (rc = env_uint("CAPSID_REGISTRY_STALL_TIMEOUT", 0, &cfg->registry.stall_seconds, err)) < 0 ||
	    (rc = env_bool("CAPSID_CONFINE", true, &cfg->confine, err)) < 0 ||
	    (rc = env_uint("CAPSID_JAIL_VMM_OVERHEAD_MIB", 0, &cfg->vmm_overhead_mib, err)) < 0 ||
	    /* The kubelet's containerLogMaxSize and containerLogMaxFiles defaults. */
	    (rc = env_uint("CAPSID_LOG_MAX_BYTES", 10u << 20, &cfg->log_max_bytes, err)) < 0 ||
	    (rc = env_uint("CAPSID_LOG_MAX_FILES", 5, &cfg->log_max_files, err)) < 0 ||
	    (rc = env_uint("CAPSID_MAX_EXECS", 0, &cfg->max_execs, err)) < 0)
		return rc;
	if (cfg->registry.stall_seconds > 3600)
		return capsid_error_set(err, EINVAL, "CAPSID_REGISTRY_STALL_TIMEOUT=%u: must be 1-3600 seconds",
					cfg->registry.stall_seconds);
	if (cfg->warm_standby_pool < 1 || cfg->warm_standby_pool > CONFIG_STANDBY_POOL_MAX)
		return capsid_error_set(err, EINVAL,
					"CAPSID_WARM_STANDBY_POOL=%u: must be 1-%u ready clones per machine",
					cfg->warm_standby_pool, CONFIG_STANDBY_POOL_MAX);
	cfg->warm_standby = cfg->warm_start && cfg->warm_standby;
	if (strcmp(cfg->runtime, "builtin") && strcmp(cfg->runtime, "crun") && strcmp(cfg->runtime, "runc"))
		return capsid_error_set(err, EINVAL, "CAPSID_RUNTIME=%.32s: must be builtin, crun or runc",
					cfg->runtime);
	enum vmm_backend backend;
	if (vmm_backend_parse(cfg->vmm, &backend) < 0)
		return capsid_error_set(err, EINVAL, "CAPSID_VMM=%.32s: must be qemu or libvirt", cfg->vmm);
	return 0;
}
