/* containerd-shim-capsid-v2: containerd's runtime v2 shim for capsid
 * (runtime type io.containerd.capsid.v2).
 *
 *   start   find the pod's shim or start one (daemonised, its own session),
 *           print its ttrpc address for containerd
 *   delete  clean up after a shim that died: the task's group, its rootfs
 *           mount; print a DeleteResponse
 *   (none)  never run by hand: `start` forks the serving shim
 *
 * One shim serves a pod: containers annotated with containerd CRI's
 * io.kubernetes.cri.sandbox-id share the sandbox's shim and socket. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "github.com/containerd/containerd/runtime/v2/task/shim.pb-c.h"
#include "shim.h"
#include "util.h"

#define ANNOT_TYPE    "io.kubernetes.cri.container-type"
#define ANNOT_SANDBOX "io.kubernetes.cri.sandbox-id"

static int usage(void)
{
	fprintf(stderr,
		"usage: containerd-shim-capsid-v2 -namespace NS -address ADDR -publish-binary BIN -id ID "
		"[-bundle DIR] [-debug] start|delete\n"
		"containerd runs this program (runtime io.containerd.capsid.v2); see capsid's README\n");
	return 2;
}

/* Go's flag syntax: -name value, --name value, -name=value. */
static int parse(int argc, char **argv, struct shim_opts *o, const char **action)
{
	*action = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-') {
			if (*action)
				return -EINVAL;
			*action = a;
			continue;
		}
		a += a[1] == '-' ? 2 : 1;
		const char *eq = strchr(a, '=');
		size_t n = eq ? (size_t)(eq - a) : strlen(a);
		if (n == 5 && strncmp(a, "debug", 5) == 0) {
			o->debug = true;
			continue;
		}
		const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!val)
			return -EINVAL;
		if (n == 9 && strncmp(a, "namespace", n) == 0)
			o->ns = val;
		else if (n == 7 && strncmp(a, "address", n) == 0)
			o->address = val;
		else if (n == 14 && strncmp(a, "publish-binary", n) == 0)
			o->publish_binary = val;
		else if (n == 2 && strncmp(a, "id", n) == 0)
			o->id = val;
		else if (n == 6 && strncmp(a, "bundle", n) == 0)
			o->bundle = val;
		else if (n == 6 && strncmp(a, "socket", n) == 0)
			; /* containerd never passes it; runc's shim accepts it */
		else
			return -EINVAL;
	}
	return 0;
}

/* The pod this container belongs to: its sandbox's id, or its own. */
static char *group_key(const char *bundle, const char *id)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	_cleanup_json_ struct json_object *cfg = json_object_from_file(path);
	struct json_object *ann = NULL, *type = NULL, *sb = NULL;
	if (cfg && json_object_object_get_ex(cfg, "annotations", &ann) &&
	    json_object_object_get_ex(ann, ANNOT_TYPE, &type) &&
	    strcmp(json_object_get_string(type), "container") == 0 &&
	    json_object_object_get_ex(ann, ANNOT_SANDBOX, &sb) && json_object_get_string(sb)[0])
		return strdup(json_object_get_string(sb));
	return strdup(id);
}

/* <dir of containerd's socket>/s/<hash of address, namespace, pod>: under
 * the containerd instance's own run directory, short enough for sun_path. */
static int socket_path(const struct shim_opts *o, const char *key, char *out, size_t size)
{
	_cleanup_free_ char *dir = strdup(o->address);
	if (!dir)
		return -ENOMEM;
	char *slash = strrchr(dir, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	uint64_t h = 0xcbf29ce484222325ull;
	const char *parts[] = {o->address, "\n", o->ns, "\n", key};
	for (size_t i = 0; i < 5; i++)
		for (const char *p = parts[i]; *p; p++)
			h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	if ((size_t)snprintf(out, size, "%s/s", dir) >= size)
		return -ENAMETOOLONG;
	if (mkdir(out, 0711) < 0 && errno != EEXIST)
		return -errno;
	if ((size_t)snprintf(out, size, "%s/s/capsid-%016llx", dir, (unsigned long long)h) >=
	    sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

static void write_address(const char *bundle, const char *addr)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/address", bundle);
	util_write_file_atomic(path, addr, strlen(addr), 0600);
}

struct conn_arg {
	struct shim *s;
	int fd;
};

static void *conn_thread(void *arg)
{
	struct conn_arg *c = arg;
	struct capsid_error err = {0};
	if (ttrpc_serve_conn(c->fd, shim_task_methods, shim_n_task_methods, c->s, &err) < 0 && c->s->o.debug)
		shim_log("connection: %s", err.msg);
	close(c->fd);
	free(c);
	return NULL;
}

static int serve(struct shim *s, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			shim_log("accept: %s", strerror(errno));
			return 1;
		}
		struct conn_arg *c = malloc(sizeof(*c));
		pthread_t t;
		if (!c) {
			close(fd);
			continue;
		}
		*c = (struct conn_arg){s, fd};
		if (pthread_create(&t, NULL, conn_thread, c) != 0) {
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
}

static int cmd_start(struct shim_opts *o)
{
	char cwd[PATH_MAX];
	if (!o->bundle)
		o->bundle = getcwd(cwd, sizeof(cwd));
	_cleanup_free_ char *key = o->bundle ? group_key(o->bundle, o->id) : NULL;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int r = key ? socket_path(o, key, path, sizeof(path)) : -ENOMEM;
	if (r < 0) {
		fprintf(stderr, "containerd-shim-capsid-v2: the shim's socket under %s: %s\n", o->address,
			strerror(-r));
		return 1;
	}
	char addr[sizeof(path) + 8];
	snprintf(addr, sizeof(addr), "unix://%s", path);
	/* The pod's shim runs already: this container is served there. */
	int probe = util_unix_connect(path, SOCK_STREAM);
	if (probe >= 0) {
		close(probe);
		write_address(o->bundle, addr);
		printf("%s", addr);
		return 0;
	}
	unlink(path);
	struct shim s = {.o = *o};
	struct capsid_error err = {0};
	if (shim_options_apply(0, &err) < 0) {
		fprintf(stderr, "containerd-shim-capsid-v2: %s\n", err.msg);
		return 1;
	}
	/* The accelerator: the CLI's --accel, here CAPSID_ACCEL. */
	const char *accel = getenv("CAPSID_ACCEL");
	if (accel && (!accel[0] || strcmp(accel, "auto") == 0))
		accel = NULL;
	if (accel && strcmp(accel, "kvm") != 0 && strcmp(accel, "tcg") != 0) {
		fprintf(stderr, "containerd-shim-capsid-v2: CAPSID_ACCEL=%.32s: must be auto, kvm or tcg\n",
			accel);
		return 1;
	}
	if (capsid_config_from_env(&s.cfg, NULL, accel, &err) < 0) {
		fprintf(stderr, "containerd-shim-capsid-v2: %s\n", err.msg);
		return 1;
	}
	/* For `delete` after a dead shim, which gets no options. */
	char rootfile[PATH_MAX];
	snprintf(rootfile, sizeof(rootfile), "%s/capsid-root", o->bundle);
	util_write_file_atomic(rootfile, s.cfg.root, strlen(s.cfg.root), 0600);
	int lfd = util_unix_listen(path, SOCK_STREAM, 64);
	if (lfd < 0) {
		fprintf(stderr, "containerd-shim-capsid-v2: listen on %s: %s\n", path, strerror(-lfd));
		return 1;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "containerd-shim-capsid-v2: fork: %s\n", strerror(errno));
		unlink(path);
		return 1;
	}
	if (pid > 0) {
		write_address(o->bundle, addr);
		printf("%s", addr);
		return 0;
	}
	/* The serving shim: its own session, containerd's log FIFO as stderr
	 * (when containerd reads it), nothing on the start command's pipes. */
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	char logp[PATH_MAX];
	snprintf(logp, sizeof(logp), "%s/log", o->bundle);
	int logfd = open(logp, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (logfd >= 0)
		util_set_nonblock(logfd, 0);
	dup2(null, 0);
	dup2(null, 1);
	dup2(logfd >= 0 ? logfd : null, 2);
	if (null > 2)
		close(null);
	if (logfd > 2)
		close(logfd);
	snprintf(s.socket_path, sizeof(s.socket_path), "%s", path);
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.changed, NULL);
	_exit(serve(&s, lfd));
}

/* The monitor of a group whose shim died: killed, so that its VM goes
 * with it (QEMU dies with its monitor) within containerd's few seconds for
 * `delete`, which then only removes what is left on disk. The pid is
 * checked to be that group's monitor before the signal. */
static void kill_monitor(const struct capsid_config *cfg, const char *group)
{
	char path[PATH_MAX + 96];
	_cleanup_free_ char *buf = NULL, *cmd = NULL;
	size_t len = 0, clen = 0;
	snprintf(path, sizeof(path), "%s/groups/%s/monitor.pid", cfg->root, group);
	if (util_read_file_at(AT_FDCWD, path, 64, &buf, &len) < 0)
		return;
	long pid = strtol(buf, NULL, 10);
	if (pid <= 1)
		return;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if (util_read_file_at(AT_FDCWD, path, 8192, &cmd, &clen) < 0)
		return;
	bool is_monitor = false, names_group = false;
	for (size_t i = 0; i < clen; i += strlen(cmd + i) + 1) {
		is_monitor |= strcmp(cmd + i, "__monitor") == 0;
		names_group |= strcmp(cmd + i, group) == 0;
	}
	if (!is_monitor || !names_group)
		return;
	kill((pid_t)pid, SIGKILL);
	for (int i = 0; i < 100 && util_pid_running((pid_t)pid); i++)
		usleep(20 * 1000);
}

static int cmd_delete(struct shim_opts *o)
{
	char cwd[PATH_MAX];
	if (!o->bundle)
		o->bundle = getcwd(cwd, sizeof(cwd));
	struct capsid_config cfg;
	struct capsid_error err = {0};
	/* The state root the task's shim used (its runtime options may have
	 * named one), else the environment's. */
	char rootfile[PATH_MAX];
	_cleanup_free_ char *root = NULL;
	size_t rlen;
	snprintf(rootfile, sizeof(rootfile), "%s/capsid-root", o->bundle ? o->bundle : ".");
	if (util_read_file_at(AT_FDCWD, rootfile, PATH_MAX - 1, &root, &rlen) < 0 || !root[0]) {
		free(root);
		root = NULL;
	}
	if (capsid_config_from_env(&cfg, root, NULL, &err) < 0) {
		fprintf(stderr, "containerd-shim-capsid-v2: %s\n", err.msg);
		return 1;
	}
	if (o->bundle)
		shim_rootfs_release(o->bundle);
	/* The dead shim's socket, unless another container's shim still
	 * serves on it (a pod's). */
	_cleanup_free_ char *key = o->bundle ? group_key(o->bundle, o->id) : NULL;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	if (key && socket_path(o, key, path, sizeof(path)) == 0) {
		int probe = util_unix_connect(path, SOCK_STREAM);
		if (probe >= 0)
			close(probe);
		else
			unlink(path);
	}
	char group[64];
	shim_group_name(o->ns, o->id, group);
	kill_monitor(&cfg, group);
	int r = capsid_group_delete(&cfg, group, &err);
	if (r < 0 && r != -ENOENT)
		fprintf(stderr, "containerd-shim-capsid-v2: delete group %s: %s\n", group, err.msg);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	ts.seconds = now.tv_sec;
	ts.nanos = (int32_t)now.tv_nsec;
	Containerd__Task__V2__DeleteResponse out = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	out.exit_status = 128 + SIGKILL;
	out.exited_at = &ts;
	uint8_t buf[64];
	size_t n = containerd__task__v2__delete_response__pack(&out, buf);
	return util_write_all(1, buf, n) < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct shim_opts o = {.publish_binary = "containerd"};
	const char *action;
	if (parse(argc, argv, &o, &action) < 0 || !action)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	if (!o.ns || !o.ns[0] || !o.id || !o.id[0] || !o.address || !o.address[0]) {
		fprintf(stderr, "containerd-shim-capsid-v2: -namespace, -id and -address are required\n");
		return 2;
	}
	if (strcmp(action, "start") == 0)
		return cmd_start(&o);
	if (strcmp(action, "delete") == 0)
		return cmd_delete(&o);
	return usage();
}
