/* Warm start by VM templating (opt-in: CAPSID_WARM_START=1, see
 * docs/ARCHITECTURE.md "Warm start"). A template guest boots once to the
 * agent's HELLO with no tenant data (placeholder disks, a throwaway tap, no
 * network configuration, no volumes, hostname "template"); its RAM is in a
 * file (share=on) and QEMU saves only the device state. A group then starts
 * as a clone: the same machine with the template's RAM file mapped
 * copy-on-write, the group's own disks at the placeholders' slots and its
 * own tap, loaded from the saved state; the monitor then sends IDENTITY
 * (clock, entropy, hostname) before NETWORK, VOLUMES and the containers.
 *
 * Layout: <root>/templates/<key>/{ram,state,placeholder,meta.json,lock},
 * key = a hash of everything the saved state depends on (guest image,
 * QEMU binary, vCPUs, memory, TCG cache, accelerator, devices). meta.json
 * is written last: a template without it is incomplete and is rebuilt. The
 * first monitor that needs a template builds it under an flock; others
 * wait on the lock and reuse it. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "frame.h"
#include "monitor.h"
#include "proto.h"
#include "util.h"

/* The guest reads a virtio-blk disk's capacity once, at probe: the
 * placeholder must be at least as large as any disk a clone puts in its
 * slot. Sparse, so it costs nothing. */
#define TEMPLATE_PLACEHOLDER_BYTES (64ull << 30)
#define TEMPLATE_CMDLINE	   "console=ttyS0 quiet panic=-1 capsid.hostname=template"
#define TEMPLATE_ENTROPY_BYTES	   64
/* A restored agent that has not said HELLO by then is given a new connection. */
#define TEMPLATE_HELLO_RETRY_MS	    3000
#define TEMPLATE_RECONNECT_PAUSE_MS 1000

/* FNV-1a 64: names a template directory; not a security boundary (the
 * templates directory is root's, like the rest of the state root). */
static void fnv(uint64_t *h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		*h ^= p[i];
		*h *= 0x100000001b3ull;
	}
}

static void fnv_str(uint64_t *h, const char *s)
{
	fnv(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

static void fnv_file_id(uint64_t *h, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		memset(&st, 0, sizeof(st));
	fnv(h, &st.st_size, sizeof(st.st_size));
	fnv(h, &st.st_mtim, sizeof(st.st_mtim));
	fnv(h, &st.st_ino, sizeof(st.st_ino));
}

/* The QEMU binary as exec finds it, for the key: a QEMU upgrade must not
 * load a state saved by the old one. */
static void fnv_qemu(uint64_t *h, const char *qemu)
{
	const char *name = qemu ? qemu : "qemu-system-x86_64";
	fnv_str(h, name);
	if (strchr(name, '/')) {
		fnv_file_id(h, name);
		return;
	}
	const char *path = getenv("PATH");
	_cleanup_free_ char *dirs = strdup(path ? path : "/usr/bin:/bin");
	char *save = NULL;
	for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
		char full[PATH_MAX];
		snprintf(full, sizeof(full), "%s/%s", d, name);
		if (access(full, X_OK) == 0) {
			fnv_file_id(h, full);
			return;
		}
	}
}

static uint64_t template_key(const struct template_env *env, const struct vmm_config *cfg)
{
	uint64_t h = 0xcbf29ce484222325ull;
	char path[PATH_MAX];
	_cleanup_free_ char *manifest = NULL;
	snprintf(path, sizeof(path), "%s/manifest.json", env->opts->guest_dir);
	if (util_read_file_at(AT_FDCWD, path, 64 * 1024, &manifest, NULL) == 0)
		fnv_str(&h, manifest);
	fnv_str(&h, TEMPLATE_CMDLINE);
	fnv_file_id(&h, cfg->kernel);
	fnv_file_id(&h, cfg->initrd);
	fnv_qemu(&h, cfg->qemu);
	unsigned v[] = {cfg->vcpus,
			cfg->memory_mib,
			(unsigned)cfg->accel,
			cfg->tb_size_mib,
			(unsigned)cfg->no_acpi,
			(unsigned)cfg->free_page_reporting,
			(unsigned)cfg->apic_timer_rate,
			(unsigned)cfg->tsc_khz,
			MONITOR_WARM_SLOTS,
			(unsigned)(cfg->console_log != NULL)};
	fnv(&h, v, sizeof(v));
	return h;
}

/* Wait for the agent's HELLO on the template's channel (the guest booted
 * and its agent is ready), then hang up. */
static int wait_hello(const char *sock, uint64_t deadline, struct capsid_error *err)
{
	_cleanup_close_ int fd = -1;
	for (;;) {
		fd = util_unix_connect(sock, SOCK_STREAM | SOCK_NONBLOCK);
		if (fd >= 0)
			break;
		if (fd == -ENAMETOOLONG || fd == -EMFILE || fd == -ENFILE)
			return capsid_error_errno(err, -fd, "agent channel %s", sock);
		if (util_now_ms() >= deadline)
			return capsid_error_set(err, ETIMEDOUT, "template: no agent channel at %s", sock);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	struct frame_reader *r = frame_reader_new(CAPSID_FRAME_MAX_BODY);
	if (!r)
		return capsid_error_errno(err, ENOMEM, "template agent %s", sock);
	int rc = -ETIMEDOUT;
	for (;;) {
		struct frame f;
		int got = frame_reader_next(r, &f);
		if (got == 1 && f.type == CAPSID_MSG_HELLO) {
			rc = 0;
			break;
		}
		if (got < 0 || got == 1) {
			rc = -EPROTO; /* the template guest said something else first */
			break;
		}
		uint64_t now = util_now_ms();
		if (now >= deadline)
			break;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		int n = frame_reader_fill(r, fd);
		if (n < 0 && n != -ENOBUFS) {
			rc = n;
			break;
		}
	}
	frame_reader_free(r);
	if (rc < 0)
		return capsid_error_errno(err, rc, "template: waiting for the agent's HELLO");
	return 0;
}

/* template_ensure bounds the directory's length, so these always fit. */
static void template_file(const struct template_files *t, const char *leaf, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", t->dir, leaf);
	if (n < 0 || (size_t)n >= len)
		buf[0] = '\0';
}

/* The template's machine: the group's cold configuration (same machine,
 * same device set) with nothing of the group in it. */
static void template_config(const struct template_files *w, const struct vmm_config *cold, struct vmm_config *t,
			    char *agent, char *qmp, char *console, char *tap)
{
	*t = *cold;
	t->ram_file = w->ram;
	t->ram_file_shared = true;
	t->memfd_ram = false;
	t->incoming = false;
	t->cmdline = TEMPLATE_CMDLINE;
	template_file(w, "agent.sock", agent, GROUP_SOCKET_PATH_MAX);
	template_file(w, "qmp.sock", qmp, GROUP_SOCKET_PATH_MAX);
	template_file(w, "console.log", console, PATH_MAX);
	t->agent_socket = agent;
	t->qmp_socket = qmp;
	t->console_log = cold->console_log ? console : NULL;
	for (size_t i = 0; i < MONITOR_WARM_SLOTS; i++)
		t->disks[i] = (struct vmm_disk){.path = w->placeholder,
						.serial = w->slots[i],
						.format = "raw",
						.readonly = true};
	t->n_disks = MONITOR_WARM_SLOTS;
	/* A tap of its own that QEMU creates and removes: on no bridge, so
	 * the template can send nothing anywhere. Device state (MAC,
	 * negotiated features) is what a clone inherits; the backend is not. */
	snprintf(tap, 16, "ctpl%d", (int)getpid());
	t->nics[0] = (struct vmm_nic){.tap = tap, .mac = MONITOR_TEMPLATE_MAC};
	t->n_nics = 1;
}

static int template_build(const struct template_env *env, const struct template_files *w,
			  const struct vmm_config *cold, struct capsid_error *err)
{
	char agent[GROUP_SOCKET_PATH_MAX], qmp[GROUP_SOCKET_PATH_MAX], console[PATH_MAX], tap[16];
	char state_tmp[PATH_MAX + 8];
	struct vmm_config t;
	template_config(w, cold, &t, agent, qmp, console, tap);
	int n = snprintf(state_tmp, sizeof(state_tmp), "%s.tmp", w->state);
	if (n < 0 || (size_t)n >= sizeof(state_tmp))
		return capsid_error_set(err, ENAMETOOLONG, "template state path %s: too long", w->state);
	unlink(w->ram);
	unlink(w->state);
	unlink(state_tmp);
	unlink(agent);
	unlink(qmp);
	_cleanup_close_ int ph = open(w->placeholder, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (ph < 0 || ftruncate(ph, (off_t)TEMPLATE_PLACEHOLDER_BYTES) < 0)
		return capsid_error_errno(err, errno, "template: placeholder disk %s", w->placeholder);

	uint64_t t0 = util_now_ms();
	pid_t pid = 0;
	struct vmm_jail jail;
	int rc = monitor_jail_apply(env->opts, env->root, env->jail_owner, &t, &jail, err);
	if (rc == 0)
		rc = vmm_spawn(&t, env->log_fd, &pid, err);
	if (rc < 0)
		return capsid_error_prefix(err, "template");
	rc = wait_hello(agent, t0 + env->opts->boot_timeout_ms, err);
	if (rc == 0) {
		/* Let the agent see the host hang up before the freeze: a clone
		 * then starts with the port closed and says HELLO to its host. */
		struct timespec ts = {0, 500 * 1000 * 1000};
		nanosleep(&ts, NULL);
		rc = vmm_save_state(qmp, state_tmp, 60000, err);
	}
	vmm_terminate(pid, qmp, 2000);
	unlink(agent);
	unlink(qmp);
	if (rc == 0 && rename(state_tmp, w->state) < 0)
		rc = capsid_error_errno(err, errno, "template: rename %s", state_tmp);
	if (rc < 0) {
		unlink(state_tmp);
		unlink(w->ram);
		return rc;
	}
	struct stat st = {0};
	stat(w->state, &st);
	_cleanup_json_ struct json_object *meta = json_object_new_object();
	json_object_object_add(meta, "key", json_object_new_string(w->key));
	json_object_object_add(meta, "guestDir", json_object_new_string(env->opts->guest_dir));
	json_object_object_add(meta, "vcpus", json_object_new_int((int)t.vcpus));
	json_object_object_add(meta, "memoryMiB", json_object_new_int((int)t.memory_mib));
	json_object_object_add(meta, "tbSizeMiB", json_object_new_int((int)t.tb_size_mib));
	json_object_object_add(meta, "accel", json_object_new_string(vmm_accel_name(t.accel)));
	json_object_object_add(meta, "diskSlots", json_object_new_int(MONITOR_WARM_SLOTS));
	json_object_object_add(meta, "stateBytes", json_object_new_int64((int64_t)st.st_size));
	json_object_object_add(meta, "buildMs", json_object_new_int64((int64_t)(util_now_ms() - t0)));
	char now[40];
	util_now_rfc3339(now);
	json_object_object_add(meta, "created", json_object_new_string(now));
	char path[PATH_MAX];
	template_file(w, "meta.json", path, sizeof(path));
	size_t len;
	const char *s = json_object_to_json_string_length(meta, JSON_C_TO_STRING_PRETTY, &len);
	rc = util_write_file_atomic(path, s, len, 0600);
	if (rc < 0)
		return capsid_error_errno(err, rc, "template: write %s", path);
	monitor_log_fd(env->log_fd, "warm start: built template %s in %llu ms (state %lld bytes)", w->key,
		    (unsigned long long)(util_now_ms() - t0), (long long)st.st_size);
	return 0;
}

/* Find or build the template for cold's machine; fills w's paths. */
static int template_ensure(const struct template_env *env, struct template_files *w, const struct vmm_config *cold,
			   struct capsid_error *err)
{
	snprintf(w->key, sizeof(w->key), "%016llx", (unsigned long long)template_key(env, cold));
	int n = snprintf(w->dir, sizeof(w->dir), "%s/templates/%s", env->root, w->key);
	/* The QEMU sockets live in the directory too: keep them in sun_path. */
	if (n < 0 || (size_t)n + sizeof("/agent.sock") > GROUP_SOCKET_PATH_MAX)
		return capsid_error_set(err, ENAMETOOLONG, "template directory %s: path too long", w->dir);
	template_file(w, "ram", w->ram, sizeof(w->ram));
	template_file(w, "state", w->state, sizeof(w->state));
	template_file(w, "placeholder", w->placeholder, sizeof(w->placeholder));
	for (size_t i = 0; i < MONITOR_WARM_SLOTS; i++)
		snprintf(w->slots[i], sizeof(w->slots[i]), "slot%zu", i);
	if (util_mkdir_p(w->dir, 0700) < 0)
		return capsid_error_errno(err, errno, "create %s", w->dir);
	char path[PATH_MAX];
	template_file(w, "lock", path, sizeof(path));
	_cleanup_close_ int lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0)
		return capsid_error_errno(err, errno, "open %s", path);
	/* Concurrent monitors: one builds, the others wait here and reuse it. */
	while (flock(lock, LOCK_EX) < 0)
		if (errno != EINTR)
			return capsid_error_errno(err, errno, "lock %s", path);
	template_file(w, "meta.json", path, sizeof(path));
	if (access(path, F_OK) == 0 && access(w->ram, R_OK) == 0 && access(w->state, R_OK) == 0)
		return 0;
	return template_build(env, w, cold, err);
}

int template_clone_config(const struct template_env *env, struct template_files *t, struct vmm_config *cfg)
{
	const char *why = NULL;
	if (cfg->n_disks > MONITOR_WARM_SLOTS)
		why = "more disks than the template's slots";
	for (size_t i = 0; !why && i < cfg->n_disks; i++)
		if (!cfg->disks[i].readonly ||
		    (cfg->disks[i].format && strcmp(cfg->disks[i].format, "raw") != 0))
			why = "a writable or qcow2 disk (capsidDisk) cannot take a read-only placeholder's "
			      "slot";
	if (!why && cfg->n_nics != 1)
		why = "the template has exactly one NIC";
	if (why) {
		monitor_log_fd(env->log_fd, "warm start: booting cold: %s", why);
		return 0;
	}
	struct capsid_error err = {0};
	if (template_ensure(env, t, cfg, &err) < 0) {
		monitor_log_fd(env->log_fd, "warm start: booting cold: %s", err.msg);
		return 0;
	}
	cfg->ram_file = t->ram;
	cfg->ram_file_shared = false; /* copy-on-write: the template's file never changes */
	cfg->memfd_ram = false;
	cfg->incoming = true;
	cfg->cmdline = TEMPLATE_CMDLINE;
	/* Disks keep their serials (the guest reads a serial from the device
	 * each time, not from the saved state); unused slots get the
	 * placeholder. */
	for (size_t i = cfg->n_disks; i < MONITOR_WARM_SLOTS; i++)
		cfg->disks[i] = (struct vmm_disk){.path = t->placeholder,
						  .serial = t->slots[i],
						  .format = "raw",
						  .readonly = true};
	cfg->n_disks = MONITOR_WARM_SLOTS;
	return 1;
}

int template_load(const struct template_env *env, const struct template_files *t, const char *qmp,
		  struct capsid_error *err)
{
	uint64_t t0 = util_now_ms();
	int rc = vmm_restore_state(qmp, t->state, 30000, err);
	if (rc < 0)
		return rc;
	monitor_log_fd(env->log_fd, "warm start: restored from template %s in %llu ms", t->key,
		       (unsigned long long)(util_now_ms() - t0));
	return 0;
}

/* ---- in a group's monitor --------------------------------------------- */

static struct template_env monitor_env(const struct monitor *m)
{
	return (struct template_env){
	    .opts = m->opts, .root = m->paths->root, .log_fd = m->log_fd, .jail_owner = m->jail_owner};
}

int monitor_template_apply(struct monitor *m, struct vmm_config *cfg)
{
	m->warm.restored = false;
	if (!m->opts->warm || m->warm.cold_once)
		return 0;
	struct template_env env = monitor_env(m);
	return template_clone_config(&env, &m->warm.tpl, cfg);
}

int monitor_template_restore(struct monitor *m, struct capsid_error *err)
{
	struct template_env env = monitor_env(m);
	int rc = template_load(&env, &m->warm.tpl, m->paths->qmp, err);
	if (rc < 0)
		return rc;
	m->warm.restored = true;
	m->warm.hello_by = util_now_ms() + TEMPLATE_HELLO_RETRY_MS;
	return 0;
}

/* The template hangs up and waits 0.5 s before its save so that its agent
 * has seen the host go: a clone's agent then sees the new host as a new
 * session and says HELLO. Should an agent have been frozen before noticing,
 * it would take the clone's host for the old one and stay silent: hang up,
 * pause long enough for it to notice, and connect again. */
uint64_t monitor_template_next_timer(const struct monitor *m)
{
	return m->vm.fsm.state == VM_BOOTING && m->warm.restored && m->agent.fd >= 0 ? m->warm.hello_by : UINT64_MAX;
}

void monitor_template_timers(struct monitor *m, uint64_t now)
{
	if (monitor_template_next_timer(m) > now)
		return;
	monitor_log(m, "warm start: no HELLO from the restored agent: reconnecting");
	monitor_agent_close(m, NULL);
	m->agent.retry_at = now + TEMPLATE_RECONNECT_PAUSE_MS;
	m->warm.hello_by = m->agent.retry_at + TEMPLATE_HELLO_RETRY_MS;
}

static void base64_encode(const uint8_t *in, size_t len, char *out)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
}

int monitor_template_send_identity(struct monitor *m)
{
	uint8_t rnd[TEMPLATE_ENTROPY_BYTES];
	char b64[(TEMPLATE_ENTROPY_BYTES + 2) / 3 * 4 + 1];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	base64_encode(rnd, sizeof(rnd), b64);
	explicit_bzero(rnd, sizeof(rnd));
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct json_object *body = json_object_new_object();
	json_object_object_add(
	    body, "timeNs", json_object_new_int64((int64_t)now.tv_sec * 1000000000 + (int64_t)now.tv_nsec));
	json_object_object_add(body, "entropy", json_object_new_string(b64));
	json_object_object_add(body, "hostname", json_object_new_string(m->paths->name));
	explicit_bzero(b64, sizeof(b64));
	struct pending_req req = {.kind = REQ_IDENTITY};
	return monitor_agent_request(m, CAPSID_MSG_IDENTITY, body, &req);
}
