/* The lifecycle of groups: create, start, stop, restart, delete, and the
 * monitor's release (system stop). Each is a request to the group's
 * monitor, or starts one. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capsid.h"
#include "cleanup.h"
#include "core_internal.h"
#include "frame.h"
#include "group.h"
#include "image.h"
#include "jail.h"
#include "launch.h"
#include "net.h"
#include "spec.h"
#include "util.h"

#define MONITOR_EXIT_WAIT_MS 30000

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Remove what a group made on the host: its network attachment (tap,
 * address, published ports, DNS name, rules) and its directory. */
static int remove_group(const struct capsid_config *c, const struct group_paths *p, struct capsid_error *err)
{
	struct net_config cfg;
	int rc = net_config_load(p->root, &c->net, &cfg, err);
	if (rc >= 0)
		rc = net_detach(&cfg, p->name, err);
	if (rc < 0)
		return rc;
	rc = util_rm_rf(p->dir);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "remove %s", p->dir);
	return 0;
}

/* Every image resolves in the store (the monitor boots from the same
 * store; a ref that is not there fails here, naming the container's field). */
static int check_images(const struct capsid_config *cfg, const struct spec_group *spec, struct capsid_error *err)
{
	struct image_store *store = NULL;
	int rc = image_store_open(cfg->root, &store, err);
	for (size_t i = 0; rc >= 0 && i < spec_group_all_containers(spec); i++) {
		struct image_info *info = NULL;
		rc = image_resolve(store, spec_group_container_at(spec, i)->image, &info, err);
		char path[64];
		spec_container_path(spec, i, path, sizeof(path));
		if (rc < 0)
			capsid_error_prefix(err, "%s.properties.image", path);
		image_info_free(info);
	}
	image_store_close(store);
	return rc;
}

static void report_warnings(const struct group_paths *p, const struct capsid_create_opts *o)
{
	if (!o->on_warning)
		return;
	_cleanup_json_ struct json_object *doc = NULL;
	struct capsid_error err = {0};
	if (core_request(p, CAPSID_CTL_STATUS, "{}", &doc, &err) < 0)
		return;
	struct json_object *props = core_get(doc, "properties", NULL);
	struct json_object *containers = core_get(props, "containers", NULL);
	for (size_t i = 0; i <= (containers ? json_object_array_length(containers) : 0); i++) {
		bool group = !containers || i == json_object_array_length(containers);
		struct json_object *c = group ? NULL : json_object_array_get_idx(containers, i);
		struct json_object *name = core_get(c, "name", NULL);
		struct json_object *events = group ? core_get(core_get(props, "instanceView", NULL), "events", NULL)
						   : core_get(core_get(c, "properties", "instanceView"), "events", NULL);
		for (size_t k = 0; events && k < json_object_array_length(events); k++) {
			struct json_object *e = json_object_array_get_idx(events, k);
			struct json_object *type = core_get(e, "type", NULL), *en = core_get(e, "name", NULL),
					   *msg = core_get(e, "message", NULL);
			if (type && en && msg && !strcmp(json_object_get_string(type), "Warning"))
				o->on_warning(o->ud, name ? json_object_get_string(name) : NULL,
					      json_object_get_string(en), json_object_get_string(msg));
		}
		if (group)
			break;
	}
}

int capsid_group_create(const struct capsid_config *cfg, const struct capsid_create_opts *o,
			struct capsid_error *err)
{
	const struct spec_group *spec = o->spec;
	unsigned long long began_ms = util_wall_ms(); /* usage counts from here, pulls included */
	struct group_paths paths;
	int rc = group_paths_init(cfg->root, spec->name, &paths, err);
	if (rc < 0)
		return rc;
	struct stat st;
	if (stat(paths.dir, &st) == 0)
		return capsid_error_set(err, EEXIST, "group %s already exists (delete it first, or choose another name)",
					paths.name);
	if ((rc = capsid_group_pull(cfg, spec, o->pull, err)) < 0 || (rc = check_images(cfg, spec, err)) < 0)
		return rc;
	char groups[PATH_MAX + 8];
	snprintf(groups, sizeof(groups), "%s/groups", cfg->root);
	if (util_mkdir_p(groups, 0711) < 0)
		return capsid_error_errno(err, errno, "create %s", groups);
	if (mkdir(paths.dir, 0700) < 0) {
		if (errno == EEXIST)
			return capsid_error_set(err, EEXIST,
						"group %s already exists (delete it first, or choose another name)",
						paths.name);
		return capsid_error_errno(err, errno, "create %s", paths.dir);
	}
	_cleanup_json_ struct json_object *redacted = spec_to_json(spec, SPEC_REDACT);
	struct json_object *full = spec_to_json(spec, SPEC_WITH_SECRETS);
	struct launch_opts lo = {.runtime = o->runtime,
				 .vcpus = spec_group_vcpus(spec),
				 .memory_mib = spec_group_memory_mib(spec),
				 .usage_since_ms = began_ms};
	size_t len;
	const char *s = redacted ? json_object_to_json_string_length(redacted, JSON_C_TO_STRING_PRETTY, &len) : NULL;
	rc = s && full ? util_write_file_atomic(paths.spec, s, len, 0640) : -ENOMEM;
	if (rc < 0) {
		spec_json_wipe_secrets(full);
		json_object_put(full);
		struct capsid_error cleanup = {0};
		remove_group(cfg, &paths, &cleanup);
		return capsid_error_errno(err, -rc, "write %s", paths.spec);
	}
	s = json_object_to_json_string_length(full, JSON_C_TO_STRING_PLAIN, &len);
	rc = launch_monitor(cfg, &paths, s, len, &lo, err);
	explicit_bzero((char *)s, len);
	spec_json_wipe_secrets(full);
	json_object_put(full);
	if (rc < 0) {
		core_wait_monitor_gone(&paths, 10000);
		struct capsid_error cleanup = {0};
		remove_group(cfg, &paths, &cleanup);
		capsid_error_prefix(err, "create group %s", paths.name);
		return rc;
	}
	report_warnings(&paths, o);
	return 0;
}

/* ---- secure values that live only in a monitor ----------------------------- */

int capsid_group_memory_only(const struct capsid_config *cfg, const char *name, const char **what,
			     struct capsid_error *err)
{
	*what = NULL;
	_cleanup_spec_ struct spec_group *spec = NULL;
	int rc = core_stored_spec(cfg, name, &spec, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < spec_group_all_containers(spec); i++)
		for (size_t j = 0; j < spec_group_container_at(spec, i)->n_env; j++)
			if (spec_group_container_at(spec, i)->env[j].secure)
				*what = "secure environment variables";
	for (size_t i = 0; i < spec->n_volumes; i++)
		if (spec_volume_secrets(&spec->volumes[i]))
			*what = "volume secrets (storage account keys, secret volumes)";
	return 0;
}

/* ---- lifecycle ---------------------------------------------------------------- */

/* A group whose monitor is gone boots again with a new one, from its stored
 * spec, unless that had secure values: those lived only in the dead monitor. */
static int start_new_monitor(const struct capsid_config *cfg, const struct group_paths *p, struct capsid_error *err)
{
	const char *what = NULL;
	int rc = capsid_group_memory_only(cfg, p->name, &what, err);
	if (rc < 0)
		return rc;
	if (what)
		return capsid_error_set(err, EPERM,
					"group %s has %s, which capsid keeps only in its monitor's memory; that "
					"monitor is gone, so delete the group and create it again",
					p->name, what);
	_cleanup_free_ char *text = NULL;
	if (util_read_file_at(AT_FDCWD, p->spec, 1u << 20, &text, NULL) < 0)
		return capsid_error_set(err, EIO, "group %s: cannot read %s", p->name, p->spec);
	_cleanup_free_ char *state = NULL;
	_cleanup_json_ struct json_object *st = NULL;
	const char *runtime = NULL, *vmm = NULL, *uri = NULL;
	if (util_read_file_at(AT_FDCWD, p->state, 16u << 20, &state, NULL) == 0 && (st = json_tokener_parse(state))) {
		struct json_object *ext = core_get(st, "capsid", NULL);
		struct json_object *rt = core_get(ext, "runtime", NULL), *vm = core_get(ext, "vmm", NULL),
				   *u = core_get(ext, "libvirtUri", NULL);
		runtime = rt ? json_object_get_string(rt) : NULL;
		vmm = vm ? json_object_get_string(vm) : NULL;
		uri = u ? json_object_get_string(u) : NULL;
	}
	struct launch_opts lo = {.runtime = runtime, .vmm = vmm, .libvirt_uri = uri};
	rc = launch_monitor(cfg, p, text, strlen(text), &lo, err);
	return rc < 0 ? capsid_error_prefix(err, "start group %s", p->name) : 0;
}

/* start and restart: a request to the live monitor, or a new monitor for
 * a group whose monitor is gone. */
static int boot_request(const struct capsid_config *cfg, const char *name, uint16_t type, const char *verb,
			struct capsid_error *err)
{
	struct group_paths p;
	int rc = core_open_group(cfg, name, &p, err);
	if (rc < 0)
		return rc;
	if (group_monitor_alive(&p) <= 0)
		return start_new_monitor(cfg, &p, err);
	rc = core_request(&p, type, "{}", NULL, err);
	return rc < 0 ? capsid_error_prefix(err, "%s %s", verb, p.name) : 0;
}

int capsid_group_start(const struct capsid_config *cfg, const char *name, struct capsid_error *err)
{
	return boot_request(cfg, name, CAPSID_CTL_START, "start", err);
}

int capsid_group_stop(const struct capsid_config *cfg, const char *name, struct capsid_error *err)
{
	struct group_paths p;
	int rc = core_open_group(cfg, name, &p, err);
	if (rc < 0 || group_monitor_alive(&p) <= 0)
		return rc; /* nothing runs without a monitor */
	rc = core_request(&p, CAPSID_CTL_STOP, "{}", NULL, err);
	return rc < 0 ? capsid_error_prefix(err, "stop %s", p.name) : 0;
}

int capsid_group_restart(const struct capsid_config *cfg, const char *name, struct capsid_error *err)
{
	return boot_request(cfg, name, CAPSID_CTL_RESTART, "restart", err);
}

/* Ask the monitor to stop the VM and exit; wait until it has, ending it if
 * it will not go (QEMU follows it: PDEATHSIG) when kill is set. */
static int end_monitor(const struct group_paths *p, bool kill_if_stuck, struct capsid_error *err)
{
	_cleanup_free_ char *pidtext = NULL;
	pid_t pid = util_read_file_at(AT_FDCWD, p->pid, 64, &pidtext, NULL) == 0 ? atoi(pidtext) : 0;
	if (group_monitor_alive(p) <= 0)
		return 0;
	struct capsid_error ignored = {0};
	core_request(p, CAPSID_CTL_EXIT, "{}", NULL, &ignored);
	if (core_wait_monitor_gone(p, MONITOR_EXIT_WAIT_MS) < 0) {
		if (!kill_if_stuck || pid <= 1)
			return capsid_error_set(err, ETIMEDOUT, "group %s: its monitor (pid %d) does not exit",
						p->name, (int)pid);
		kill(pid, SIGKILL);
		if (core_wait_monitor_gone(p, 10000) < 0)
			return capsid_error_set(err, ETIMEDOUT, "group %s: its monitor does not exit", p->name);
	}
	/* The lock goes a moment before the process: wait for that too. */
	for (int i = 0; pid > 1 && util_pid_running(pid) && i < 250; i++)
		sleep_ms(20);
	return 0;
}

int capsid_group_release(const struct capsid_config *cfg, const char *name, struct capsid_error *err)
{
	struct group_paths p;
	int rc = core_open_group(cfg, name, &p, err);
	return rc < 0 ? rc : end_monitor(&p, false, err);
}

int capsid_group_delete(const struct capsid_config *cfg, const char *name, struct capsid_error *err)
{
	struct group_paths p;
	int rc = core_open_group(cfg, name, &p, err);
	if (rc < 0 || (rc = end_monitor(&p, true, err)) < 0)
		return rc;
	_cleanup_close_ int lock = group_lock(&p);
	if (lock < 0 && lock != -ENOENT)
		return capsid_error_errno(err, -lock, "group %s: cannot take its lock", p.name);
	rc = remove_group(cfg, &p, err);
	if (rc < 0)
		return capsid_error_prefix(err, "delete %s", p.name);
	/* What a killed monitor could not release (vmm/jail.h). */
	jail_cgroup_remove(p.root, p.name);
	jail_uid_release(p.root, p.name);
	return 0;
}

/* ---- requests to a monitor ------------------------------------------------------ */

int core_wait_monitor_gone(const struct group_paths *p, unsigned timeout_ms)
{
	uint64_t deadline = util_now_ms() + timeout_ms;
	for (;;) {
		int alive = group_monitor_alive(p);
		if (alive <= 0)
			return alive;
		if (util_now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(20);
	}
}
