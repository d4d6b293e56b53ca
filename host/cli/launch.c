#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "frame.h"
#include "monitor.h"
#include "util.h"
#include "vmm.h"

extern char **environ;

static unsigned env_uint(const char *name, unsigned def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	unsigned long x = strtoul(v, &end, 10);
	return *end || x > UINT_MAX ? def : (unsigned)x;
}

static const char *runtime_default(void)
{
	const char *r = getenv("CAPSID_RUNTIME");
	return r && *r ? r : "builtin";
}

static int resolve_accel(struct cli_ctx *ctx, const char **out, struct capsid_error *err)
{
	enum vmm_accel req;
	if (vmm_accel_parse(ctx->accel, &req) < 0)
		return capsid_error_set(err, EINVAL, "--accel %s: must be auto, kvm or tcg", ctx->accel);
	char why[256];
	enum vmm_accel a = vmm_accel_detect(req, NULL, NULL, why, sizeof(why));
	if (a == VMM_ACCEL_TCG && req == VMM_ACCEL_AUTO && !getenv("CAPSID_QUIET_ACCEL"))
		cli_warn("using TCG software emulation: %s", why);
	*out = vmm_accel_name(a);
	return 0;
}

static unsigned memory_overhead_mib(void)
{
	return env_uint("CAPSID_MEMORY_OVERHEAD_MIB", 128);
}

static int send_claim(int fd, const char *body, int spec_fd, int ready_fd)
{
	struct iovec iov = {.iov_base = (void *)body, .iov_len = strlen(body)};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(2 * sizeof(int))];
	} ctl = {0};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	int fds[2] = {spec_fd, ready_fd};
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	return sendmsg(fd, &msg, MSG_NOSIGNAL) == (ssize_t)iov.iov_len ? 0 : -errno;
}

/* Warm start's ready clone (host/monitor/standby.c): hand the group to the
 * standby of its machine when one is up; it exec's the group's monitor
 * with this process's environment, as a fork would have. 1 when it took
 * the group (spec_fd and ready_fd are then its), 0 when the caller starts
 * the monitor itself. */
static int claim_standby(struct cli_ctx *ctx, const struct group_paths *paths, const struct launch_opts *opts,
			 const char *accel, const char *runtime, const char *guest, int spec_fd, int ready_fd)
{
	if (!opts || !opts->vcpus || !env_uint("CAPSID_WARM_START", 0) || !env_uint("CAPSID_WARM_STANDBY", 0))
		return 0;
	char dir[PATH_MAX];
	if (monitor_standby_dir(ctx->root, runtime, opts->vcpus, opts->memory_mib + memory_overhead_mib(), dir,
				sizeof(dir)) < 0)
		return 0;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/claim.sock", dir);
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path))
		return 0;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return 0;
	_cleanup_json_ struct json_object *claim = json_object_new_object();
	struct json_object *env = json_object_new_array();
	json_object_object_add(claim, "group", json_object_new_string(paths->name));
	json_object_object_add(claim, "accel", json_object_new_string(accel));
	json_object_object_add(claim, "runtime", json_object_new_string(runtime));
	json_object_object_add(claim, "guestDir", json_object_new_string(guest));
	json_object_object_add(claim, "nice", json_object_new_int(getpriority(PRIO_PROCESS, 0)));
	for (char **e = environ; *e; e++)
		json_object_array_add(env, json_object_new_string(*e));
	json_object_object_add(claim, "env", env);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send_claim(fd, json_object_to_json_string_ext(claim, JSON_C_TO_STRING_PLAIN), spec_fd, ready_fd) < 0)
		return 0;
	char reply[256];
	ssize_t got = recv(fd, reply, sizeof(reply) - 1, 0);
	return got >= 3 && memcmp(reply, "ok\n", 3) == 0;
}

/* Move fd to exactly `target` in the child, without clobbering the other. */
static void place_fd(int fd, int target)
{
	if (fd != target)
		dup2(fd, target);
	else
		fcntl(fd, F_SETFD, 0);
}

int launch_monitor(struct cli_ctx *ctx, const struct group_paths *paths, const char *spec_json, size_t len,
		   const struct launch_opts *opts, struct capsid_error *err)
{
	const char *accel = NULL;
	int rc = resolve_accel(ctx, &accel, err);
	if (rc < 0)
		return rc;
	char guest[PATH_MAX];
	rc = cli_guest_dir(guest, sizeof(guest), err);
	if (rc < 0)
		return rc;
	if (!env_uint("CAPSID_CONFINE", 1))
		cli_warn("confinement is off (CAPSID_CONFINE=0 or --no-confine): QEMU runs as root, unsandboxed");
	const char *runtime = opts && opts->runtime ? opts->runtime : runtime_default();
	if (strcmp(runtime, "builtin") != 0 && strcmp(runtime, "crun") != 0 && strcmp(runtime, "runc") != 0)
		return capsid_error_set(err, EINVAL, "runtime %s: must be builtin, crun or runc", runtime);

	int spec_pipe[2], ready_pipe[2];
	if (pipe2(spec_pipe, O_CLOEXEC) < 0)
		return capsid_error_errno(err, errno, "pipe");
	if (pipe2(ready_pipe, O_CLOEXEC) < 0) {
		close(spec_pipe[0]);
		close(spec_pipe[1]);
		return capsid_error_errno(err, errno, "pipe");
	}
	bool claimed = claim_standby(ctx, paths, opts, accel, runtime, guest, spec_pipe[0], ready_pipe[1]);
	pid_t child = claimed ? 0 : fork();
	if (child < 0) {
		rc = capsid_error_errno(err, errno, "fork");
		close(spec_pipe[0]);
		close(spec_pipe[1]);
		close(ready_pipe[0]);
		close(ready_pipe[1]);
		return rc;
	}
	if (!claimed && child == 0) {
		/* Detach: new session, then a grandchild that init adopts. */
		setsid();
		if (fork() != 0)
			_exit(0);
		int spec_fd = fcntl(spec_pipe[0], F_DUPFD_CLOEXEC, 10);
		int ready_fd = fcntl(ready_pipe[1], F_DUPFD_CLOEXEC, 10);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (spec_fd < 0 || ready_fd < 0 || null < 0 || chdir("/") < 0)
			_exit(127);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		place_fd(spec_fd, 3);
		place_fd(ready_fd, 4);
		signal(SIGINT, SIG_DFL);
		const char *argv[] = {"capsid",  "--root",  paths->root, "__monitor",   paths->name, "--accel",
				      accel,     "--runtime", runtime,   "--guest-dir", guest,       NULL};
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	close(spec_pipe[0]);
	close(ready_pipe[1]);
	if (!claimed)
		waitpid(child, NULL, 0);
	rc = util_write_all(spec_pipe[1], spec_json, len);
	close(spec_pipe[1]);
	_cleanup_close_ int ready = ready_pipe[0];
	char line[CAPSID_ERROR_MAX + 16];
	size_t got = 0;
	for (;;) {
		ssize_t n = read(ready, line + got, sizeof(line) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(line, '\n', got) || got == sizeof(line) - 1)
			break;
	}
	line[got] = '\0';
	char *nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	if (strcmp(line, "ok") == 0)
		return 0;
	if (strncmp(line, "error: ", 7) == 0)
		return capsid_error_set(err, EIO, "%s", line + 7);
	return capsid_error_set(err, EIO, "the monitor exited while starting (see %s)", paths->monitor_log);
}

int launch_wait_monitor_gone(const struct group_paths *paths, unsigned timeout_ms)
{
	uint64_t deadline = util_now_ms() + timeout_ms;
	for (;;) {
		int alive = group_monitor_alive(paths);
		if (alive <= 0)
			return alive;
		if (util_now_ms() >= deadline)
			return -ETIMEDOUT;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int launch_request(const struct group_paths *paths, unsigned short type, const char *body, struct json_object **reply,
		   struct capsid_error *err)
{
	if (reply)
		*reply = NULL;
	_cleanup_close_ int fd = group_connect(paths, err);
	if (fd < 0)
		return fd;
	int rc = frame_write_blocking(fd, type, 1, body, strlen(body));
	if (rc < 0)
		return capsid_error_errno(err, rc, "send to the monitor of %s", paths->name);
	for (;;) {
		struct frame f;
		_cleanup_free_ uint8_t *data = NULL;
		rc = frame_read_blocking(fd, CAPSID_FRAME_MAX_BODY, &f, &data);
		if (rc < 0)
			return capsid_error_errno(err, rc, "read from the monitor of %s", paths->name);
		if (f.id != 1 || (f.type != CAPSID_MSG_RESPONSE && f.type != CAPSID_MSG_ERROR))
			continue;
		_cleanup_json_ struct json_object *obj = frame_body_json(&f);
		if (f.type == CAPSID_MSG_ERROR) {
			struct json_object *e;
			const char *msg = obj && json_object_object_get_ex(obj, "error", &e) ? json_object_get_string(e)
											     : "request failed";
			return capsid_error_set(err, EREMOTEIO, "%s", msg);
		}
		if (reply)
			*reply = TAKE_PTR(obj);
		return 0;
	}
}

/* The arguments of the hidden `__monitor NAME` and `__standby` commands. */
struct monitor_args {
	const char *accel, *runtime, *guest, *adopt;
	unsigned vcpus, memory_mib;
};

static int parse_monitor_args(int argc, char **argv, int first, struct monitor_args *a,
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
		else if (strcmp(argv[i], "--adopt") == 0)
			a->adopt = v;
		else if (strcmp(argv[i], "--vcpus") == 0)
			a->vcpus = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(argv[i], "--memory-mib") == 0)
			a->memory_mib = (unsigned)strtoul(v, NULL, 10);
		else
			return -EINVAL;
	}
	bool warm = env_uint("CAPSID_WARM_START", 0) != 0;
	*opts = (struct monitor_options){
		.runtime = a->runtime,
		.guest_dir = a->guest,
		.boot_timeout_ms = env_uint("CAPSID_BOOT_TIMEOUT_MS", 120000),
		.stop_timeout_ms = env_uint("CAPSID_STOP_TIMEOUT_MS", 10000),
		.backoff_base_ms = env_uint("CAPSID_BACKOFF_BASE_MS", 1000),
		.backoff_max_ms = env_uint("CAPSID_BACKOFF_MAX_MS", 300000),
		.memory_overhead_mib = memory_overhead_mib(),
		.tb_size_mib = env_uint("CAPSID_TB_SIZE_MIB", 12),
		.memfd_ram = env_uint("CAPSID_MEMFD_RAM", 1) != 0,
		.warm = warm,
		.standby = warm && env_uint("CAPSID_WARM_STANDBY", 0) != 0,
		.standby_idle_s = env_uint("CAPSID_WARM_STANDBY_IDLE_S", 600),
		.qemu = getenv("CAPSID_QEMU") && *getenv("CAPSID_QEMU") ? getenv("CAPSID_QEMU") : NULL,
		.confine = env_uint("CAPSID_CONFINE", 1) != 0,
		/* The kubelet's containerLogMaxSize and containerLogMaxFiles defaults. */
		.log_max_bytes = env_uint("CAPSID_LOG_MAX_BYTES", 10u << 20),
		.log_max_files = env_uint("CAPSID_LOG_MAX_FILES", 5),
		.max_execs = env_uint("CAPSID_MAX_EXECS", MONITOR_MAX_EXECS),
		.vmm_overhead_mib = env_uint("CAPSID_JAIL_VMM_OVERHEAD_MIB", MONITOR_JAIL_VMM_OVERHEAD_MIB),
	};
	struct capsid_error err = {0};
	if (jail_range_parse(getenv("CAPSID_JAIL_UIDS"), &opts->uids, &err) < 0)
		return -EINVAL;
	if (opts->max_execs == 0 || opts->max_execs > MONITOR_MAX_EXECS)
		opts->max_execs = MONITOR_MAX_EXECS;
	enum vmm_accel accel;
	if (!a->guest || vmm_accel_parse(a->accel, &accel) < 0 || accel == VMM_ACCEL_AUTO)
		return -EINVAL;
	opts->accel = accel;
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
	if (!name || parse_monitor_args(argc, argv, 2, &a, &opts) < 0 ||
	    group_paths_init(ctx->root, name, &paths, &err) < 0)
		return 2;
	if (a.adopt) {
		if (monitor_adopt_parse(a.adopt, &adopt) < 0)
			return 2;
		opts.adopt = &adopt;
	}
	return monitor_main(&paths, &opts, 3, 4);
}

int cli_cmd_standby_main(struct cli_ctx *ctx, int argc, char **argv)
{
	struct monitor_args a;
	struct monitor_options opts;
	if (parse_monitor_args(argc, argv, 1, &a, &opts) < 0 || !a.vcpus || !a.memory_mib || !opts.standby)
		return 2;
	return monitor_standby_main(ctx->root, &opts, a.vcpus, a.memory_mib);
}
