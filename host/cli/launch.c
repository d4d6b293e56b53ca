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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "frame.h"
#include "monitor.h"
#include "util.h"
#include "vmm.h"

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
	pid_t child = fork();
	if (child < 0) {
		rc = capsid_error_errno(err, errno, "fork");
		close(spec_pipe[0]);
		close(spec_pipe[1]);
		close(ready_pipe[0]);
		close(ready_pipe[1]);
		return rc;
	}
	if (child == 0) {
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

int cli_cmd_monitor(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;
	const char *accel = NULL, *runtime = "builtin", *guest = NULL;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--accel") == 0)
			accel = argv[i + 1];
		else if (strcmp(argv[i], "--runtime") == 0)
			runtime = argv[i + 1];
		else if (strcmp(argv[i], "--guest-dir") == 0)
			guest = argv[i + 1];
	}
	struct group_paths paths;
	struct capsid_error err = {0};
	if (!name || !guest || group_paths_init(ctx->root, name, &paths, &err) < 0)
		return 2;
	struct monitor_options opts = {
		.runtime = runtime,
		.guest_dir = guest,
		.boot_timeout_ms = env_uint("CAPSID_BOOT_TIMEOUT_MS", 120000),
		.stop_timeout_ms = env_uint("CAPSID_STOP_TIMEOUT_MS", 10000),
		.backoff_base_ms = env_uint("CAPSID_BACKOFF_BASE_MS", 1000),
		.backoff_max_ms = env_uint("CAPSID_BACKOFF_MAX_MS", 300000),
		.memory_overhead_mib = env_uint("CAPSID_MEMORY_OVERHEAD_MIB", 128),
		.tb_size_mib = env_uint("CAPSID_TB_SIZE_MIB", 12),
		.memfd_ram = env_uint("CAPSID_MEMFD_RAM", 1) != 0,
		.warm = env_uint("CAPSID_WARM_START", 0) != 0,
		.qemu = getenv("CAPSID_QEMU") && *getenv("CAPSID_QEMU") ? getenv("CAPSID_QEMU") : NULL,
	};
	enum vmm_accel a;
	if (vmm_accel_parse(accel, &a) < 0 || a == VMM_ACCEL_AUTO)
		return 2;
	opts.accel = a;
	return monitor_main(&paths, &opts, 3, 4);
}
