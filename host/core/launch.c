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
#include "core_internal.h"
#include "frame.h"
#include "monitor.h"
#include <sys/stat.h>
#include "util.h"
#include "vmm.h"

extern char **environ;

static int resolve_accel(const struct capsid_config *cfg, const char **out, struct capsid_error *err)
{
	enum vmm_accel req;
	if (vmm_accel_parse(cfg->accel, &req) < 0)
		return capsid_error_set(err, EINVAL, "--accel %s: must be auto, kvm or tcg", cfg->accel);
	char why[256];
	enum vmm_accel a = vmm_accel_detect(req, NULL, NULL, why, sizeof(why));
	if (a == VMM_ACCEL_TCG && req == VMM_ACCEL_AUTO && !cfg->quiet_accel && cfg->on_notice)
		cfg->on_notice("using TCG software emulation: %s", why);
	*out = vmm_accel_name(a);
	return 0;
}

/* The guest's boot files: CAPSID_GUEST_DIR, else share/capsid/guest beside
 * the program's bin/ (the build tree and the install tree share a layout). */
int core_guest_dir(const struct capsid_config *cfg, char *out, size_t len, struct capsid_error *err)
{
	if (cfg->guest_dir) {
		snprintf(out, len, "%s", cfg->guest_dir);
		return 0;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return capsid_error_errno(err, errno, "readlink /proc/self/exe");
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, len, "%s/../share/capsid/guest", exe);
	char probe[PATH_MAX + 16];
	snprintf(probe, sizeof(probe), "%s/vmlinuz", out);
	struct stat st;
	if (stat(probe, &st) < 0)
		return capsid_error_set(err, ENOENT,
					"guest image not found at %s (build it with `cmake --build build`, or set "
					"CAPSID_GUEST_DIR)",
					out);
	return 0;
}

/* The `capsid` program, which runs monitors (`capsid __monitor`): this
 * very program when it is capsid, else the capsid beside it (capsidd and
 * the containerd shim are installed next to it). */
static int capsid_program(char *out, size_t len, struct capsid_error *err)
{
	ssize_t n = readlink("/proc/self/exe", out, len - 1);
	if (n < 0)
		return capsid_error_errno(err, errno, "readlink /proc/self/exe");
	out[n] = '\0';
	char *slash = strrchr(out, '/');
	if (slash && strcmp(slash + 1, "capsid") != 0 && (size_t)(slash - out) + sizeof("/capsid") <= len)
		memcpy(slash, "/capsid", sizeof("/capsid"));
	return 0;
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
static int claim_standby_slot(const char *dir, const char *claim, int spec_fd, int ready_fd)
{
	char sock[PATH_MAX + 16];
	snprintf(sock, sizeof(sock), "%s/claim.sock", dir);
	_cleanup_close_ int fd = util_unix_connect(sock, SOCK_SEQPACKET);
	if (fd < 0)
		return 0;
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send_claim(fd, claim, spec_fd, ready_fd) < 0)
		return 0;
	char reply[256];
	ssize_t got = recv(fd, reply, sizeof(reply) - 1, 0);
	return got >= 3 && memcmp(reply, "ok\n", 3) == 0;
}

static int claim_standby(const struct capsid_config *cfg, const struct group_paths *paths,
			 const struct launch_opts *opts, const char *accel, const char *runtime,
			 const char *guest, int spec_fd, int ready_fd)
{
	if (!opts || !opts->vcpus || !cfg->warm_standby)
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
	const char *text = json_object_to_json_string_ext(claim, JSON_C_TO_STRING_PLAIN);
	/* From a slot this process's pid picks: concurrent creates spread over the pool. */
	unsigned pool = cfg->warm_standby_pool ? cfg->warm_standby_pool : 1,
		 first = (unsigned)getpid() % pool;
	for (unsigned i = 0; i < pool; i++) {
		char dir[PATH_MAX];
		if (monitor_standby_dir(cfg->root, runtime, opts->vcpus,
					opts->memory_mib + cfg->memory_overhead_mib, (first + i) % pool, dir,
					sizeof(dir)) < 0)
			return 0;
		if (claim_standby_slot(dir, text, spec_fd, ready_fd))
			return 1;
	}
	return 0;
}

/* The state root's own choice of VM backend, <root>/vmm.json
 * ({"vmm": "qemu"|"libvirt", "libvirtUri": "..."}), below --vmm and
 * CAPSID_VMM (--libvirt-uri, CAPSID_LIBVIRT_URI). A missing file says
 * nothing; a file that does not parse is an error naming it. */
static int root_vmm(const struct capsid_config *cfg, char vmm[16], char uri[1025], struct capsid_error *err)
{
	vmm[0] = uri[0] = '\0';
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/vmm.json", cfg->root);
	_cleanup_free_ char *text = NULL;
	int rc = util_read_file_at(AT_FDCWD, path, 64 * 1024, &text, NULL);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return capsid_error_errno(err, -rc, "read %s", path);
	_cleanup_json_ struct json_object *doc = json_tokener_parse(text);
	if (!doc || !json_object_is_type(doc, json_type_object))
		return capsid_error_set(err, EINVAL, "%s: not a JSON object", path);
	struct json_object *v = core_get(doc, "vmm", NULL), *u = core_get(doc, "libvirtUri", NULL);
	if (v && (!json_object_is_type(v, json_type_string) ||
		  snprintf(vmm, 16, "%s", json_object_get_string(v)) >= 16))
		return capsid_error_set(err, EINVAL, "%s: vmm must be \"qemu\" or \"libvirt\"", path);
	if (u && (!json_object_is_type(u, json_type_string) ||
		  snprintf(uri, 1025, "%s", json_object_get_string(u)) >= 1025))
		return capsid_error_set(err, EINVAL, "%s: libvirtUri must be a string of at most 1024 bytes", path);
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

int launch_monitor(const struct capsid_config *cfg, const struct group_paths *paths, const char *spec_json,
		   size_t len, const struct launch_opts *opts, struct capsid_error *err)
{
	const char *accel = NULL;
	int rc = resolve_accel(cfg, &accel, err);
	if (rc < 0)
		return rc;
	char guest[PATH_MAX], program[PATH_MAX];
	if ((rc = core_guest_dir(cfg, guest, sizeof(guest), err)) < 0 ||
	    (rc = capsid_program(program, sizeof(program), err)) < 0)
		return rc;
	if (!cfg->confine && cfg->on_notice)
		cfg->on_notice("confinement is off (CAPSID_CONFINE=0 or --no-confine): QEMU runs as root, unsandboxed");
	const char *runtime = opts && opts->runtime ? opts->runtime : cfg->runtime;
	char root_vmm_name[16], root_uri[1025];
	if ((rc = root_vmm(cfg, root_vmm_name, root_uri, err)) < 0)
		return rc;
	const char *vmm = opts && opts->vmm ? opts->vmm
			  : cfg->vmm		 ? cfg->vmm
			  : root_vmm_name[0]	 ? root_vmm_name
						 : "qemu";
	const char *uri = opts && opts->libvirt_uri ? opts->libvirt_uri
			  : cfg->libvirt_uri		 ? cfg->libvirt_uri
			  : root_uri[0]			 ? root_uri
							 : NULL;
	enum vmm_backend backend;
	if (vmm_backend_parse(vmm, &backend) < 0)
		return capsid_error_set(err, EINVAL,
					"vmm %.32s (--vmm, CAPSID_VMM or <root>/vmm.json): must be qemu or libvirt", vmm);
	if (uri && (!*uri || strlen(uri) > 1024 || strchr(uri, '\n')))
		return capsid_error_set(err, EINVAL,
					"libvirt URI (--libvirt-uri, CAPSID_LIBVIRT_URI or <root>/vmm.json): must be "
					"1-1024 bytes, one line");
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
	/* A ready clone is a QEMU capsid started: not for a libvirt group. */
	bool claimed = backend == VMM_BACKEND_QEMU &&
		       claim_standby(cfg, paths, opts, accel, runtime, guest, spec_pipe[0], ready_pipe[1]);
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
		char since[24];
		snprintf(since, sizeof(since), "%llu", opts ? opts->usage_since_ms : 0ull);
		const char *argv[] = {"capsid",	 "--root",	paths->root, "__monitor", paths->name, "--accel",
				      accel,	 "--runtime",	runtime,     "--guest-dir", guest,     "--usage-since-ms",
				      since,	 "--vmm",	vmm,	     uri ? "--libvirt-uri" : NULL, uri, NULL};
		execv(program, (char *const *)argv);
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

int core_request(const struct group_paths *paths, unsigned short type, const char *body, struct json_object **reply,
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

