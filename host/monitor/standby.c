/* Warm start's ready clone (opt-in: CAPSID_WARM_STANDBY=1 with
 * CAPSID_WARM_START=1; docs/ARCHITECTURE.md "Warm start"). A restore from
 * the template is most of a warm start's cost before the guest does any
 * work for the group: spawning QEMU, loading the state, and the restored
 * agent's first steps (all of it translated afresh under TCG). A standby
 * does that ahead of time: a process per ready clone, up to
 * CAPSID_WARM_STANDBY_POOL of them per machine (runtime, vCPUs, memory),
 * each holding the lock of its slot <root>/standby/<runtime>-<vcpus>-<memory>.<slot>/,
 * that
 *
 *   - restores a clone of the template with placeholder disks, on a tap
 *     of its own that is on no bridge and down (it can reach nothing),
 *   - connects to the agent channel, reads HELLO and negotiates,
 *   - listens on claim.sock (SOCK_SEQPACKET): a CLI creating a group of
 *     that machine sends {group, accel, runtime, guestDir, env} with the
 *     spec pipe and the ready pipe (SCM_RIGHTS), as it would give them to
 *     a monitor it forks. The standby answers "ok" and exec's that
 *     group's monitor with `--adopt`: QEMU stays its child, the agent
 *     channel stays open.
 *
 * The monitor then takes the clone (monitor_standby_adopt): the standby
 * tap becomes the group's tap (renamed, enslaved, with the group's rules
 * in place first), the group's images replace the placeholders over QMP
 * (the guest has never read them), the sockets and console move into the
 * group directory, and IDENTITY gives the guest its clock, entropy and
 * name as after any restore. Anything that does not fit ends the clone
 * and the group restores or boots as it would have. The group then starts
 * a ready clone for every free slot of its machine. A claiming CLI tries
 * the slots from one its pid picks, so that a burst of creates spreads
 * over the pool. A clone nobody claims ends after standby_idle_s,
 * one whose state root is removed within STANDBY_CHECK_MS;
 * `capsid standby stop` (and `capsid system stop`) ends them all. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "frame.h"
#include "monitor.h"
#include "proto.h"
#include "spec.h"
#include "util.h"

#define STANDBY_HELLO_WAIT_MS 3000
/* A ready clone is background work: it yields the CPU to running groups
 * (under TCG its restore would slow the start of the group that just
 * made it). The group that claims it gets the claimer's priority back. */
#define STANDBY_NICE 10
#define STANDBY_CLAIM_MAX     (256 * 1024)
/* The agent channel's fd in the exec'd monitor (after spec 3 and ready 4). */
#define STANDBY_AGENT_FD 5
#define STANDBY_OUT_FD	 6

int monitor_standby_dir(const char *root, const char *runtime, unsigned vcpus, unsigned memory_mib,
			unsigned slot, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/standby/%s-%u-%u.%u", root, runtime, vcpus, memory_mib, slot);
	/* Its sockets live in it: keep them within sun_path. */
	if (n < 0 || (size_t)n + sizeof("/agent.4194304.sock") > GROUP_SOCKET_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* QEMU unlinks a listening socket's path when it exits, by the path it
 * bound: a clone's sockets carry its standby's pid (which the exec'd
 * monitor keeps), so that the QEMU of a group that took one never removes
 * those of the next ready clone. */
static int clone_file(char *out, size_t len, const char *dir, const char *what, pid_t standby, const char *ext)
{
	int n = snprintf(out, len, "%s/%s.%d.%s", dir, what, (int)standby, ext);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int join(char *out, size_t len, const char *dir, const char *leaf)
{
	int n = snprintf(out, len, "%s/%s", dir, leaf);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int standby_paths(const char *root, const struct monitor_options *opts, unsigned vcpus,
			 unsigned memory_mib, unsigned slot, struct group_paths *p)
{
	*p = (struct group_paths){0};
	if (monitor_standby_dir(root, opts->runtime, vcpus, memory_mib, slot, p->dir, sizeof(p->dir)) < 0)
		return -ENAMETOOLONG;
	snprintf(p->root, sizeof(p->root), "%s", root);
	snprintf(p->name, sizeof(p->name), "standby");
	pid_t self = getpid();
	if (join(p->lock, sizeof(p->lock), p->dir, "lock") < 0 ||
	    join(p->pid, sizeof(p->pid), p->dir, "standby.pid") < 0 ||
	    join(p->control, sizeof(p->control), p->dir, "claim.sock") < 0 ||
	    clone_file(p->agent, sizeof(p->agent), p->dir, "agent", self, "sock") < 0 ||
	    clone_file(p->qmp, sizeof(p->qmp), p->dir, "qmp", self, "sock") < 0 ||
	    clone_file(p->console, sizeof(p->console), p->dir, "console", self, "log") < 0 ||
	    join(p->monitor_log, sizeof(p->monitor_log), p->dir, "standby.log") < 0)
		return -ENAMETOOLONG;
	return 0;
}

int monitor_adopt_parse(const char *s, struct monitor_adopt *out)
{
	*out = (struct monitor_adopt){.agent_fd = -1, .out_fd = -1};
	int pid, fd, out_fd, used = 0;
	if (sscanf(s, "qemu=%d,agent=%d,out=%d,tap=%15[^,],key=%19[^,],dir=%n", &pid, &fd, &out_fd, out->tap, out->key,
		   &used) != 5 ||
	    !used || pid <= 1 || fd < 3 || out_fd < -1 || out_fd == fd || (out_fd >= 0 && out_fd < 3) || !s[used] ||
	    strlen(s + used) >= sizeof(out->dir))
		return -EINVAL;
	out->qemu_pid = pid;
	out->agent_fd = fd;
	out->out_fd = out_fd;
	snprintf(out->dir, sizeof(out->dir), "%s", s + used);
	return 0;
}

/* ---- the standby process ------------------------------------------------ */

struct standby {
	const struct monitor_options *opts;
	struct group_paths paths;
	int log_fd;
	pid_t qemu_pid;
	int agent_fd; /* negotiated: handed to the claiming group's monitor */
	int out_fd;   /* QEMU's stdout and stderr (drained into the log, then handed over too) */
	uint64_t out_dropped;
	struct template_files tpl;
	const char *root;
	unsigned vcpus, memory_mib;
	char tap[16];
	char jail_owner[128];
	int listen_fd;
};

/* The restored agent says HELLO to a host that connects after the restore
 * (the template hung up before its save); should it have been frozen
 * before noticing, it needs a hang-up first (template.c): a new connection
 * every STANDBY_HELLO_WAIT_MS until the boot deadline, which a pool's
 * clones restored all at once at low priority need. Returns the connected
 * channel with the HELLO readable. */
static int agent_hello_pending(struct standby *s)
{
	uint64_t deadline = util_now_ms() + s->opts->boot_timeout_ms;
	while (util_now_ms() < deadline) {
		int fd = monitor_agent_connect(s->paths.agent);
		if (fd < 0)
			return fd;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r;
		do
			r = poll(&p, 1, STANDBY_HELLO_WAIT_MS);
		while (r < 0 && errno == EINTR);
		if (r == 1 && !(p.revents & (POLLHUP | POLLERR)))
			return fd;
		close(fd);
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

/* HELLO and NEGOTIATE now, so that the group's monitor starts with
 * IDENTITY. One frame at a time (frame_read_blocking reads no further): the
 * channel goes on to the monitor with nothing of it consumed. */
static int negotiate(struct standby *s, int fd, struct capsid_error *err)
{
	struct timeval tv = {.tv_sec = 10};
	if (fcntl(fd, F_SETFL, 0) < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return capsid_error_errno(err, errno, "agent channel");
	struct frame f;
	_cleanup_free_ uint8_t *hello = NULL;
	int rc = frame_read_blocking(fd, CAPSID_FRAME_MAX_BODY, &f, &hello);
	if (rc < 0 || f.type != CAPSID_MSG_HELLO)
		return capsid_error_set(err, EPROTO, "the restored agent did not say HELLO");
	_cleanup_json_ struct json_object *body = frame_body_json(&f);
	char why[PATH_MAX + 64];
	int version = monitor_agent_hello_version(s->opts, body, why, sizeof(why));
	if (version < 0)
		return capsid_error_set(err, EPROTO, "%s", why);
	_cleanup_json_ struct json_object *neg = json_object_new_object();
	json_object_object_add(neg, "version", json_object_new_int(version));
	if ((rc = frame_write_json_blocking(fd, CAPSID_MSG_NEGOTIATE, 1, neg)) < 0)
		return capsid_error_errno(err, -rc, "send NEGOTIATE");
	for (;;) {
		_cleanup_free_ uint8_t *data = NULL;
		if ((rc = frame_read_blocking(fd, CAPSID_FRAME_MAX_BODY, &f, &data)) < 0)
			return capsid_error_errno(err, -rc, "read the answer to NEGOTIATE");
		if (f.id == 1 && f.type == CAPSID_MSG_RESPONSE)
			break;
		if (f.id == 1 && f.type == CAPSID_MSG_ERROR)
			return capsid_error_set(err, EPROTO, "the agent refused NEGOTIATE");
		/* Anything else before the answer (a log record) is the clone's own. */
	}
	tv.tv_sec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ? capsid_error_errno(err, errno, "agent channel") : 0;
}

static int listen_claims(const char *path)
{
	return util_unix_listen(path, SOCK_SEQPACKET, 4);
}

/* The clone as it is when nobody has claimed it: placeholders, the standby tap. */
static int standby_boot(struct standby *s, struct capsid_error *err)
{
	struct template_env env = {.opts = s->opts, .root = s->root, .log_fd = s->log_fd, .jail_owner = s->jail_owner};
	int rc = net_standby_tap_create(getpid(), s->tap, err);
	if (rc < 0)
		return rc;
	struct monitor_vm_files files;
	struct vmm_config cfg;
	monitor_vm_config(s->opts, &s->paths, s->vcpus, s->memory_mib, &files, &cfg);
	cfg.nics[0] = (struct vmm_nic){.tap = s->tap, .mac = MONITOR_TEMPLATE_MAC};
	cfg.n_nics = 1;
	if (template_clone_config(&env, &s->tpl, &cfg) <= 0)
		return capsid_error_set(err, ENOENT, "no template for this machine");
	unlink(s->paths.agent);
	unlink(s->paths.qmp);
	int log = open(s->paths.console, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (log >= 0)
		close(log);
	struct vmm_jail jail;
	if ((rc = monitor_jail_apply(s->opts, s->root, s->jail_owner, &cfg, &jail, err)) < 0)
		return rc;
	/* Its output through a pipe, as a group's QEMU: capped in standby.log,
	 * and the adopting monitor's to drain into its own log. */
	int out_w = monitor_bounds_pipe(&s->out_fd);
	rc = vmm_spawn(&cfg, out_w >= 0 ? out_w : s->log_fd, &s->qemu_pid, err);
	if (out_w >= 0)
		close(out_w);
	if (rc < 0 || (rc = template_load(&env, &s->tpl, s->paths.qmp, err)) < 0)
		return rc;
	s->agent_fd = agent_hello_pending(s);
	if (s->agent_fd < 0)
		return capsid_error_errno(err, -s->agent_fd, "no HELLO from the restored agent");
	if ((rc = negotiate(s, s->agent_fd, err)) < 0)
		return rc;
	s->listen_fd = listen_claims(s->paths.control);
	if (s->listen_fd < 0)
		return capsid_error_errno(err, -s->listen_fd, "listen on %s", s->paths.control);
	return 0;
}

static void standby_end(struct standby *s)
{
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	unlink(s->paths.control);
	if (s->agent_fd >= 0)
		close(s->agent_fd);
	if (s->out_fd >= 0)
		close(s->out_fd);
	if (s->qemu_pid > 0)
		vmm_terminate(s->qemu_pid, s->paths.qmp, 1000);
	if (s->tap[0])
		net_standby_tap_delete(s->tap);
	unlink(s->paths.agent);
	unlink(s->paths.qmp);
	unlink(s->paths.console);
	unlink(s->paths.pid);
	if (s->opts->confine) {
		jail_cgroup_remove(s->root, s->jail_owner);
		jail_uid_release(s->root, s->jail_owner);
	}
}

struct claim {
	const char *group, *accel, *runtime, *guest_dir;
	char **env;
	int nice;
	int spec_fd, ready_fd;
};

static const char *claim_string(struct json_object *doc, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(doc, key, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : NULL;
}

/* Why this clone cannot serve the claim, or NULL. */
static const char *claim_mismatch(const struct standby *s, const struct claim *c)
{
	if (!c->group || !group_name_valid(c->group))
		return "group: not a valid group name";
	if (!c->accel || strcmp(c->accel, vmm_accel_name(s->opts->accel)) != 0)
		return "accel: the ready clone runs under another accelerator";
	if (!c->runtime || strcmp(c->runtime, s->opts->runtime) != 0)
		return "runtime: the ready clone has another runtime";
	if (!c->guest_dir || strcmp(c->guest_dir, s->opts->guest_dir) != 0)
		return "guestDir: the ready clone has another guest image";
	if (c->spec_fd < 0 || c->ready_fd < 0)
		return "the claim carries no spec and ready descriptors";
	return NULL;
}

static int recv_claim(int conn, char *buf, size_t len, int fds[2])
{
	struct iovec iov = {.iov_base = buf, .iov_len = len - 1};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
	ssize_t n;
	do
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -errno : -EPIPE;
	buf[n] = '\0';
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && i < 2; i++)
			memcpy(&fds[i], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		for (size_t i = 2; i < k; i++) {
			int extra;
			memcpy(&extra, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(extra);
		}
	}
	return (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ? -EMSGSIZE : 0;
}

/* The exec'd monitor's descriptors: spec 3, ready 4, agent channel
 * STANDBY_AGENT_FD, QEMU's output STANDBY_OUT_FD (when there is one), open
 * across exec. All go high first: a source may sit on another's target. */
static int place_fds(const int from[4])
{
	int high[4];
	static const int target[4] = {3, 4, STANDBY_AGENT_FD, STANDBY_OUT_FD};
	for (int i = 0; i < 4; i++)
		if (from[i] >= 0 && (high[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 16)) < 0)
			return -errno;
	for (int i = 0; i < 4; i++)
		if (from[i] >= 0 && dup2(high[i], target[i]) < 0)
			return -errno;
	return 0;
}

/* Become the claiming group's monitor. Returns only on failure. */
static void exec_monitor(struct standby *s, const struct claim *c)
{
	char adopt[PATH_MAX + 128];
	snprintf(adopt, sizeof(adopt), "qemu=%d,agent=%d,out=%d,tap=%s,key=%s,dir=%s", (int)s->qemu_pid,
		 STANDBY_AGENT_FD, s->out_fd >= 0 ? STANDBY_OUT_FD : -1, s->tap, s->tpl.key, s->paths.dir);
	const char *argv[] = {"capsid",	   "--root",	s->root,     "__monitor",   c->group, "--accel",
			      c->accel,	   "--runtime", c->runtime,  "--guest-dir", c->guest_dir, "--adopt",
			      adopt,	   NULL};
	monitor_log_fd(s->log_fd, "standby: claimed by group %s", c->group);
	/* The monitor runs as the CLI's child would: at its priority. */
	setpriority(PRIO_PROCESS, 0, c->nice);
	int fds[4] = {c->spec_fd, c->ready_fd, s->agent_fd, s->out_fd};
	int rc = place_fds(fds);
	if (rc == 0)
		execve("/proc/self/exe", (char *const *)argv, c->env);
	/* The log may be one of the descriptors replaced: say it on stderr's null. */
	rc = rc < 0 ? rc : -errno;
	dprintf(2, "standby: exec the monitor of %s: %s\n", c->group, strerror(-rc));
}

/* One claim: 1 when it did not fit (answered "no: ..."), -1 on failure. */
static int serve_claim(struct standby *s)
{
	_cleanup_close_ int conn = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return 1;
	_cleanup_free_ char *buf = malloc(STANDBY_CLAIM_MAX);
	int fds[2] = {-1, -1};
	if (!buf || recv_claim(conn, buf, STANDBY_CLAIM_MAX, fds) < 0) {
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return 1;
	}
	_cleanup_json_ struct json_object *doc = json_tokener_parse(buf);
	struct claim c = {.spec_fd = fds[0], .ready_fd = fds[1]};
	struct json_object *env = NULL;
	if (doc) {
		c.group = claim_string(doc, "group");
		c.accel = claim_string(doc, "accel");
		c.runtime = claim_string(doc, "runtime");
		c.guest_dir = claim_string(doc, "guestDir");
		json_object_object_get_ex(doc, "env", &env);
		struct json_object *nice;
		if (json_object_object_get_ex(doc, "nice", &nice) && json_object_is_type(nice, json_type_int))
			c.nice = json_object_get_int(nice);
	}
	size_t n_env = env && json_object_is_type(env, json_type_array) ? json_object_array_length(env) : 0;
	_cleanup_free_ char **envp = calloc(n_env + 1, sizeof(*envp));
	for (size_t i = 0; envp && i < n_env; i++)
		envp[i] = (char *)json_object_get_string(json_object_array_get_idx(env, i));
	c.env = envp;
	const char *why = !doc ? "the claim is not JSON" : !envp ? "out of memory" : claim_mismatch(s, &c);
	if (why) {
		char reply[256];
		int n = snprintf(reply, sizeof(reply), "no: %s\n", why);
		send(conn, reply, (size_t)n, MSG_NOSIGNAL);
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return 1;
	}
	/* From "ok" on the group is ours: nobody else may claim this clone. */
	close(s->listen_fd);
	s->listen_fd = -1;
	unlink(s->paths.control);
	if (send(conn, "ok\n", 3, MSG_NOSIGNAL) != 3)
		return -1;
	exec_monitor(s, &c);
	return -1;
}

/* The lock we hold is still the file at its path: the state root was not
 * removed from under us. */
static bool standby_root_present(const struct standby *s, int lock)
{
	struct stat held, now;
	return fstat(lock, &held) == 0 && stat(s->paths.lock, &now) == 0 && held.st_ino == now.st_ino &&
	       held.st_dev == now.st_dev;
}

#define STANDBY_CHECK_MS 2000

static void standby_loop(struct standby *s, int signal_fd, int lock)
{
	uint64_t idle_until = util_now_ms() + (uint64_t)s->opts->standby_idle_s * 1000;
	for (;;) {
		struct pollfd fds[3] = {{.fd = signal_fd, .events = POLLIN},
					{.fd = s->listen_fd, .events = POLLIN},
					{.fd = s->out_fd, .events = POLLIN}};
		uint64_t now = util_now_ms();
		if (now >= idle_until) {
			monitor_log_fd(s->log_fd, "standby: not claimed for %u s: ending", s->opts->standby_idle_s);
			return;
		}
		if (!standby_root_present(s, lock)) {
			monitor_log_fd(s->log_fd, "standby: the state root was removed: ending");
			return;
		}
		uint64_t wait = idle_until - now < STANDBY_CHECK_MS ? idle_until - now : STANDBY_CHECK_MS;
		int r = poll(fds, 3, (int)wait);
		if (r < 0 && errno != EINTR)
			return;
		if (fds[0].revents) {
			struct signalfd_siginfo si;
			while (read(signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo != SIGCHLD) {
					monitor_log_fd(s->log_fd, "standby: signal %u: ending", si.ssi_signo);
					return;
				}
				if (waitpid(s->qemu_pid, NULL, WNOHANG) == s->qemu_pid) {
					monitor_log_fd(s->log_fd, "standby: QEMU exited");
					s->qemu_pid = 0;
					return;
				}
			}
		}
		if (fds[2].revents && s->out_fd >= 0)
			monitor_bounds_drain_fd(&s->out_fd, s->log_fd, s->opts->log_max_bytes, &s->out_dropped);
		if (fds[1].revents && serve_claim(s) < 0)
			return;
	}
}

int monitor_standby_main(const char *root, const struct monitor_options *opts, unsigned vcpus,
			 unsigned memory_mib)
{
	struct standby s = {.opts = opts,
			    .root = root,
			    .vcpus = vcpus,
			    .memory_mib = memory_mib,
			    .log_fd = -1,
			    .agent_fd = -1,
			    .out_fd = -1,
			    .listen_fd = -1};
	_cleanup_close_ int lock = -1;
	for (unsigned slot = 0; lock < 0; slot++) {
		if (slot >= (opts->standby_pool ? opts->standby_pool : 1))
			return 0; /* this machine has all its ready clones */
		if (standby_paths(root, opts, vcpus, memory_mib, slot, &s.paths) < 0 ||
		    util_mkdir_p(s.paths.dir, 0700) < 0)
			return 2;
		lock = open(s.paths.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (lock < 0)
			return 2;
		if (flock(lock, LOCK_EX | LOCK_NB) < 0) {
			if (errno != EWOULDBLOCK)
				return 2;
			close(lock);
			lock = -1; /* that slot has its clone */
		}
	}
	if (monitor_jail_standby_owner(s.paths.dir, s.jail_owner, sizeof(s.jail_owner)) < 0)
		return 2;
	s.log_fd = open(s.paths.monitor_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	_cleanup_close_ int signal_fd = monitor_process_setup(s.paths.pid);
	setpriority(PRIO_PROCESS, 0, STANDBY_NICE);
	/* Taps of standbys that were killed (their QEMU died with them). */
	net_standby_tap_prune();

	struct capsid_error err = {0};
	uint64_t t0 = util_now_ms();
	int rc = signal_fd < 0 ? capsid_error_errno(&err, errno, "signalfd") : standby_boot(&s, &err);
	if (rc < 0) {
		monitor_log_fd(s.log_fd, "standby: %s", err.msg);
	} else {
		monitor_log_fd(s.log_fd, "standby: ready clone of template %s up in %llu ms (QEMU pid %d, tap %s)",
			    s.tpl.key, (unsigned long long)(util_now_ms() - t0), (int)s.qemu_pid, s.tap);
		standby_loop(&s, signal_fd, lock);
	}
	standby_end(&s);
	if (s.log_fd >= 0)
		close(s.log_fd);
	return rc < 0 ? 1 : 0;
}

/* ---- in a group's monitor --------------------------------------------- */

/* The slots of a machine whose lock nobody holds. */
static unsigned free_slots(const struct monitor_options *opts, const char *root, unsigned vcpus,
			   unsigned memory_mib)
{
	unsigned n = 0, pool = opts->standby_pool ? opts->standby_pool : 1;
	for (unsigned slot = 0; slot < pool; slot++) {
		char dir[PATH_MAX], lock[PATH_MAX + 8];
		if (monitor_standby_dir(root, opts->runtime, vcpus, memory_mib, slot, dir, sizeof(dir)) < 0)
			return 0;
		snprintf(lock, sizeof(lock), "%s/lock", dir);
		_cleanup_close_ int fd = open(lock, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) == 0)
			n++;
	}
	return n;
}

void monitor_standby_after_start(struct monitor *m)
{
	if (!m->opts->warm || !m->opts->standby || !m->warm.restored || m->warm.standby_asked)
		return;
	for (size_t i = 0; i < m->n_containers; i++)
		if (!m->containers[i].running && !m->containers[i].exited)
			return;
	m->warm.standby_asked = true;
	unsigned group_vcpus = spec_group_vcpus(m->spec),
		 group_memory = spec_group_memory_mib(m->spec) + m->opts->memory_overhead_mib;
	/* A group that took a ready clone frees one slot: one standby fills
	 * it. A group that found none restored its own clone: a standby for
	 * every free slot (one that finds no slot left ends at once). */
	unsigned n = free_slots(m->opts, m->paths->root, group_vcpus, group_memory);
	if (m->opts->adopt && n > 1)
		n = 1;
	if (!n)
		return;
	char vcpus[16], memory[16];
	snprintf(vcpus, sizeof(vcpus), "%u", group_vcpus);
	snprintf(memory, sizeof(memory), "%u", group_memory);
	const char *argv[] = {"capsid",	       "--root",      m->paths->root,	  "__standby",
			      "--accel",       vmm_accel_name(m->opts->accel), "--runtime", m->opts->runtime,
			      "--guest-dir",   m->opts->guest_dir, "--vcpus", vcpus,
			      "--memory-mib",  memory,	      NULL};
	pid_t child = fork();
	if (child < 0)
		return;
	if (child == 0) {
		/* Detached like a monitor: its own session, adopted by init. */
		setsid();
		for (unsigned i = 0; i < n; i++) {
			if (fork() != 0)
				continue;
			int null = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (null < 0 || chdir("/") < 0)
				_exit(127);
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			sigset_t none;
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			execv("/proc/self/exe", (char *const *)argv);
			_exit(127);
		}
		_exit(0);
	}
	waitpid(child, NULL, 0);
}

/* QEMU's threads at the monitor's priority (the standby ran them lower). */
static void renice_qemu(pid_t qemu)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)qemu);
	DIR *d = opendir(path);
	if (!d)
		return;
	int nice = getpriority(PRIO_PROCESS, 0);
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			setpriority(PRIO_PROCESS, (id_t)atoi(e->d_name), nice);
	closedir(d);
}

static int adopt_fail(struct monitor *m, const char *why)
{
	monitor_log(m, "warm start: not using the ready clone: %s", why);
	return -1;
}

/* The clone's QEMU sockets and console, from the standby directory into the group's. */
static int move_into_group(struct monitor *m, char *why, size_t len)
{
	static const char *const what[] = {"agent", "qmp", "console"}, *const ext[] = {"sock", "sock", "log"};
	const char *dest[] = {m->paths->agent, m->paths->qmp, m->paths->console};
	for (size_t i = 0; i < ARRAY_SIZE(what); i++) {
		char from[PATH_MAX + 32];
		if (clone_file(from, sizeof(from), m->warm.adopt->dir, what[i], getpid(), ext[i]) < 0 ||
		    rename(from, dest[i]) < 0) {
			snprintf(why, len, "move %s into the group directory: %s", from, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The group's images in the slots it uses: the same serials as in the
 * clone's placeholders, so that the guest finds them where they are. */
static void use_slot_serials(struct monitor *m)
{
	for (size_t i = 0; i < m->n_disks; i++) {
		for (size_t c = 0; c < m->n_containers; c++)
			if (strcmp(m->containers[c].image_serial, m->serials[i]) == 0)
				snprintf(m->containers[c].image_serial, sizeof(m->containers[c].image_serial), "%s",
					 m->warm.tpl.slots[i]);
		snprintf(m->serials[i], sizeof(m->serials[i]), "%s", m->warm.tpl.slots[i]);
	}
}

int monitor_standby_adopt(struct monitor *m, const struct vmm_config *cfg)
{
	const struct monitor_adopt *a = m->warm.adopt;
	uint64_t t0 = util_now_ms();
	if (strcmp(a->key, m->warm.tpl.key) != 0)
		return adopt_fail(m, "it is a clone of another template");
	if (!m->warm.tap_adopted)
		return adopt_fail(m, "the group's network did not take its tap");
	for (size_t i = m->n_disks; i < cfg->n_disks; i++)
		if (strcmp(cfg->disks[i].path, m->warm.tpl.placeholder) != 0)
			return adopt_fail(m, "the group has volume disks");
	char why[PATH_MAX + 128];
	if (move_into_group(m, why, sizeof(why)) < 0)
		return adopt_fail(m, why);
	for (size_t i = 0; i < m->n_disks; i++) {
		struct capsid_error err = {0};
		if (vmm_replace_disk(m->paths->qmp, i, cfg->disks[i].path, &err) < 0)
			return adopt_fail(m, err.msg);
	}
	struct capsid_error jerr = {0};
	if (monitor_jail_adopt(m, cfg, &jerr) < 0)
		return adopt_fail(m, jerr.msg);
	use_slot_serials(m);
	renice_qemu(a->qemu_pid);
	m->vm.qemu_pid = a->qemu_pid;
	if (a->out_fd >= 0) { /* its output from now on into this monitor's log, capped */
		if (m->qemu_out_fd >= 0)
			close(m->qemu_out_fd);
		m->qemu_out_fd = a->out_fd;
		m->qemu_out_dropped = 0;
	}
	if (monitor_agent_attach(m, a->agent_fd) < 0)
		return adopt_fail(m, "out of memory");
	m->warm.restored = true;
	monitor_log(m, "warm start: adopted the ready clone of template %s (QEMU pid %d) in %llu ms", m->warm.tpl.key,
		    (int)a->qemu_pid, (unsigned long long)(util_now_ms() - t0));
	return 0;
}

void monitor_standby_discard(struct monitor *m)
{
	const struct monitor_adopt *a = m->warm.adopt;
	if (!a)
		return;
	char qmp[PATH_MAX + 32];
	/* The QMP socket may have moved into the group directory already. */
	bool moved = clone_file(qmp, sizeof(qmp), a->dir, "qmp", getpid(), "sock") < 0 || access(qmp, F_OK) < 0;
	vmm_terminate(a->qemu_pid, moved ? m->paths->qmp : qmp, 1000);
	if (!moved) {
		char path[PATH_MAX + 32];
		unlink(qmp);
		if (clone_file(path, sizeof(path), a->dir, "agent", getpid(), "sock") == 0)
			unlink(path);
		if (clone_file(path, sizeof(path), a->dir, "console", getpid(), "log") == 0)
			unlink(path);
	}
	if (m->agent.fd != a->agent_fd)
		close(a->agent_fd);
	if (a->out_fd >= 0 && m->qemu_out_fd != a->out_fd)
		close(a->out_fd);
	if (!m->warm.tap_adopted)
		net_standby_tap_delete(a->tap);
	m->warm.adopt = NULL;
}
