#include "oci.h"

#include <json-c/json.h>
#include <string.h>

#include "cleanup.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The default set of Docker, containerd's CRI and ACI, so images that drop
 * privileges (nginx, postgres: setuid/setgid/chown) run as they do there.
 * Not CAP_SYS_ADMIN, CAP_NET_ADMIN or CAP_SYS_MODULE: inside the VM the
 * containers of a group stay unprivileged towards each other and the agent. */
static const char *const default_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",	       "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",	       "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",	   "CAP_AUDIT_WRITE",
};

static const char *const masked_paths[] = {
    "/proc/acpi",	"/proc/asound",	     "/proc/kcore",	  "/proc/keys",	   "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static void add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

static struct json_object *str_array(const char *const *v, size_t n)
{
	struct json_object *a = json_object_new_array_ext((int)n);
	for (size_t i = 0; a && i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static bool env_has(struct json_object *env, const char *key)
{
	size_t klen = strlen(key);
	for (size_t i = 0; env && i < json_object_array_length(env); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(env, i));
		if (strncmp(s, key, klen) == 0 && s[klen] == '=')
			return true;
	}
	return false;
}

struct json_object *oci_process_new(const struct oci_process_params *p)
{
	const struct request_process *rp = p->proc;
	_cleanup_json_ struct json_object *proc = json_object_new_object();
	if (!proc)
		return NULL;
	json_object_object_add(proc, "terminal", json_object_new_boolean(rp->tty));
	if (rp->tty && rp->rows && rp->cols) {
		struct json_object *size = json_object_new_object();
		json_object_object_add(size, "height", json_object_new_int((int)rp->rows));
		json_object_object_add(size, "width", json_object_new_int((int)rp->cols));
		json_object_object_add(proc, "consoleSize", size);
	}

	struct json_object *user = json_object_new_object();
	json_object_object_add(user, "uid", json_object_new_int64(p->user->uid));
	json_object_object_add(user, "gid", json_object_new_int64(p->user->gid));
	if (p->user->n_groups) {
		struct json_object *g = json_object_new_array();
		for (size_t i = 0; i < p->user->n_groups; i++)
			json_object_array_add(g, json_object_new_int64(p->user->groups[i]));
		json_object_object_add(user, "additionalGids", g);
	}
	json_object_object_add(proc, "user", user);

	json_object_object_add(proc, "args", json_object_get(rp->args));

	struct json_object *env = json_object_new_array();
	if (!env_has(rp->env, "PATH"))
		json_object_array_add(env, json_object_new_string(DEFAULT_PATH));
	if (rp->tty && !env_has(rp->env, "TERM"))
		json_object_array_add(env, json_object_new_string("TERM=xterm"));
	for (size_t i = 0; rp->env && i < json_object_array_length(rp->env); i++)
		json_object_array_add(env, json_object_get(json_object_array_get_idx(rp->env, i)));
	json_object_object_add(proc, "env", env);

	add_str(proc, "cwd", rp->cwd);

	struct json_object *caps = json_object_new_object();
	static const char *const sets[] = {"bounding", "effective", "permitted", "ambient"};
	for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
		json_object_object_add(caps, sets[i], str_array(default_caps, ARRAY_SIZE(default_caps)));
	json_object_object_add(proc, "capabilities", caps);

	struct json_object *rl = json_object_new_object();
	add_str(rl, "type", "RLIMIT_NOFILE");
	json_object_object_add(rl, "hard", json_object_new_int(1024));
	json_object_object_add(rl, "soft", json_object_new_int(1024));
	struct json_object *rlimits = json_object_new_array();
	json_object_array_add(rlimits, rl);
	json_object_object_add(proc, "rlimits", rlimits);

	json_object_object_add(proc, "noNewPrivileges", json_object_new_boolean(0));
	return TAKE_PTR(proc);
}

static void add_mount(struct json_object *mounts, const char *dest, const char *type, const char *src,
		      const char *const *opts, size_t n_opts)
{
	struct json_object *m = json_object_new_object();
	add_str(m, "destination", dest);
	add_str(m, "type", type);
	add_str(m, "source", src);
	if (n_opts)
		json_object_object_add(m, "options", str_array(opts, n_opts));
	json_object_array_add(mounts, m);
}

static struct json_object *default_mounts(const struct oci_config_params *p)
{
	static const char *const dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k"};
	static const char *const pts[] = {"nosuid",	   "noexec",	"newinstance",
					  "ptmxmode=0666", "mode=0620", "gid=5"};
	static const char *const shm[] = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"};
	static const char *const mq[] = {"nosuid", "noexec", "nodev"};
	static const char *const sys[] = {"nosuid", "noexec", "nodev", "ro"};
	static const char *const cg[] = {"nosuid", "noexec", "nodev", "relatime", "ro"};
	static const char *const bind[] = {"rbind", "rprivate", "rw"};
	struct json_object *mounts = json_object_new_array();
	add_mount(mounts, "/proc", "proc", "proc", NULL, 0);
	add_mount(mounts, "/dev", "tmpfs", "tmpfs", dev, ARRAY_SIZE(dev));
	add_mount(mounts, "/dev/pts", "devpts", "devpts", pts, ARRAY_SIZE(pts));
	add_mount(mounts, "/dev/shm", "tmpfs", "shm", shm, ARRAY_SIZE(shm));
	add_mount(mounts, "/dev/mqueue", "mqueue", "mqueue", mq, ARRAY_SIZE(mq));
	add_mount(mounts, "/sys", "sysfs", "sysfs", sys, ARRAY_SIZE(sys));
	add_mount(mounts, "/sys/fs/cgroup", "cgroup", "cgroup", cg, ARRAY_SIZE(cg));
	if (p->hosts_file)
		add_mount(mounts, "/etc/hosts", "bind", p->hosts_file, bind, ARRAY_SIZE(bind));
	if (p->resolv_file)
		add_mount(mounts, "/etc/resolv.conf", "bind", p->resolv_file, bind, ARRAY_SIZE(bind));
	if (p->hostname_file)
		add_mount(mounts, "/etc/hostname", "bind", p->hostname_file, bind, ARRAY_SIZE(bind));
	/* Volumes: no device nodes or setuid binaries through a volume. */
	static const char *const vol_rw[] = {"rbind", "rprivate", "nosuid", "nodev"};
	static const char *const vol_ro[] = {"rbind", "rprivate", "nosuid", "nodev", "ro"};
	for (size_t i = 0; i < p->n_mounts; i++) {
		const struct oci_mount *v = &p->mounts[i];
		if (v->read_only)
			add_mount(mounts, v->destination, "bind", v->source, vol_ro, ARRAY_SIZE(vol_ro));
		else
			add_mount(mounts, v->destination, "bind", v->source, vol_rw, ARRAY_SIZE(vol_rw));
	}
	return mounts;
}

static struct json_object *resources(const struct request_resources *r)
{
	struct json_object *res = json_object_new_object();
	/* Deny all devices; the runtimes add the standard safe set (null, zero,
	 * full, tty, random, urandom, ptmx, pts). */
	struct json_object *dev = json_object_new_object();
	json_object_object_add(dev, "allow", json_object_new_boolean(0));
	add_str(dev, "access", "rwm");
	struct json_object *devices = json_object_new_array();
	json_object_array_add(devices, dev);
	json_object_object_add(res, "devices", devices);
	if (!r)
		return res;
	if (r->memory_bytes > 0) {
		struct json_object *mem = json_object_new_object();
		json_object_object_add(mem, "limit", json_object_new_int64(r->memory_bytes));
		json_object_object_add(res, "memory", mem);
	}
	if (r->cpu_shares > 0 || r->cpu_quota_us > 0 || r->cpu_period_us > 0) {
		struct json_object *cpu = json_object_new_object();
		if (r->cpu_shares > 0)
			json_object_object_add(cpu, "shares", json_object_new_int64(r->cpu_shares));
		if (r->cpu_quota_us > 0)
			json_object_object_add(cpu, "quota", json_object_new_int64(r->cpu_quota_us));
		if (r->cpu_period_us > 0)
			json_object_object_add(cpu, "period", json_object_new_int64(r->cpu_period_us));
		json_object_object_add(res, "cpu", cpu);
	}
	return res;
}

struct json_object *oci_config_new(const struct oci_config_params *p)
{
	_cleanup_json_ struct json_object *cfg = json_object_new_object();
	struct json_object *proc = oci_process_new(&p->process);
	if (!cfg || !proc) {
		json_object_put(proc);
		return NULL;
	}
	add_str(cfg, "ociVersion", "1.0.2");
	json_object_object_add(cfg, "process", proc);

	struct json_object *root = json_object_new_object();
	add_str(root, "path", p->rootfs);
	json_object_object_add(root, "readonly", json_object_new_boolean(0));
	json_object_object_add(cfg, "root", root);
	add_str(cfg, "hostname", p->hostname);
	json_object_object_add(cfg, "mounts", default_mounts(p));

	struct json_object *linux_ = json_object_new_object();
	struct json_object *ns = json_object_new_array();
	/* No "network": the group's containers share the guest's stack. A
	 * cgroup namespace makes /sys/fs/cgroup the container's own cgroup, so
	 * runtimes that size themselves from memory.max / cpu.max (JVM, Go,
	 * .NET) see their limits rather than the guest's root. */
	static const char *const namespaces[] = {"pid", "ipc", "uts", "mount", "cgroup"};
	for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++) {
		struct json_object *n = json_object_new_object();
		add_str(n, "type", namespaces[i]);
		json_object_array_add(ns, n);
	}
	json_object_object_add(linux_, "namespaces", ns);
	add_str(linux_, "cgroupsPath", p->cgroups_path);
	/* The default personality, explicitly: crun runs without ASLR
	 * (runtime.c) and this gives the container's process its ASLR back. */
	struct json_object *persona = json_object_new_object();
	add_str(persona, "domain", "LINUX");
	json_object_object_add(linux_, "personality", persona);
	json_object_object_add(linux_, "resources", resources(p->res));
	json_object_object_add(linux_, "maskedPaths", str_array(masked_paths, ARRAY_SIZE(masked_paths)));
	json_object_object_add(linux_, "readonlyPaths",
			       str_array(readonly_paths, ARRAY_SIZE(readonly_paths)));
	json_object_object_add(cfg, "linux", linux_);
	return TAKE_PTR(cfg);
}
