#include "builtin.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "mount.h"
#include "proc.h"
#include "spec.h"
#include "util.h"

/* Per container: "PID CGROUPS_PATH\n", written once its init runs. */
#define STATE_DIR      "/run/capsid/builtin"
#define SPEC_MAX_BYTES (1u << 20)

struct options {
	const char *verb, *bundle, *process, *pid_file, *console, *name, *signal;
	bool detach, force;
};

static int usage(const char *why)
{
	fprintf(stderr, "builtin: %s\n", why);
	return 2;
}

static int parse_args(int argc, char *const argv[], struct options *o)
{
	*o = (struct options){0};
	if (argc < 2)
		return -EINVAL;
	o->verb = argv[1];
	int i = 2;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		const char **value = strcmp(a, "--bundle") == 0	    ? &o->bundle
				     : strcmp(a, "--process") == 0  ? &o->process
				     : strcmp(a, "--pid-file") == 0 ? &o->pid_file
								    : NULL;
		if (value) {
			if (++i >= argc)
				return -EINVAL;
			*value = argv[i];
		} else if (strncmp(a, "--console-socket=", 17) == 0) {
			o->console = a + 17;
		} else if (strcmp(a, "--detach") == 0) {
			o->detach = true;
		} else if (strcmp(a, "--force") == 0) {
			o->force = true;
		} else {
			return -EINVAL;
		}
	}
	if (i >= argc)
		return -EINVAL;
	o->name = argv[i++];
	if (i < argc)
		o->signal = argv[i++];
	if (i < argc || !*o->name || strchr(o->name, '/') || strlen(o->name) > NAME_MAX)
		return -EINVAL;
	return 0;
}

static int state_path(char out[PATH_MAX], const char *name)
{
	int n = snprintf(out, PATH_MAX, STATE_DIR "/%s", name);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* The container's compiled seccomp filter, kept beside its state at its
 * start for its execs (an exec would otherwise parse config.json and
 * compile the profile again, ~0.1 s under TCG): the instructions, none
 * for a container without a filter. */
static int filter_path(char out[PATH_MAX], const char *name)
{
	int n = snprintf(out, PATH_MAX, STATE_DIR "/%s.bpf", name);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static int filter_write(const char *name, const struct builtin_seccomp *f)
{
	char path[PATH_MAX];
	if (filter_path(path, name) < 0)
		return -ENAMETOOLONG;
	return util_write_file_atomic(path, (const char *)f->insns, f->set ? f->n * sizeof(f->insns[0]) : 0,
				      0600);
}

static int filter_read(const char *name, struct builtin_seccomp *f, struct capsid_error *err)
{
	char path[PATH_MAX];
	if (filter_path(path, name) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "container name too long");
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return capsid_error_errno(err, errno, "the seccomp filter of %s", name);
	ssize_t got = read(fd, f->insns, sizeof(f->insns));
	if (got < 0 || got % (ssize_t)sizeof(f->insns[0]))
		return capsid_error_set(err, EINVAL, "the seccomp filter of %s is damaged", name);
	f->n = (size_t)got / sizeof(f->insns[0]);
	f->set = f->n > 0;
	return 0;
}

static int state_read(const char *name, pid_t *pid, char cgroup[PATH_MAX])
{
	char path[PATH_MAX];
	if (state_path(path, name) < 0)
		return -ENAMETOOLONG;
	_cleanup_free_ char *s = NULL;
	int rc = util_read_file_at(AT_FDCWD, path, PATH_MAX + 32, &s, NULL);
	if (rc < 0)
		return rc;
	int p;
	if (sscanf(s, "%d %4095s", &p, cgroup) != 2 || p <= 1)
		return -EINVAL;
	*pid = p;
	return 0;
}

static int state_write(const char *name, pid_t pid, const char *cgroup)
{
	char path[PATH_MAX], text[PATH_MAX + 32];
	if (state_path(path, name) < 0)
		return -ENAMETOOLONG;
	int rc = util_mkdir_p(STATE_DIR, 0700);
	if (rc < 0)
		return rc;
	int n = snprintf(text, sizeof(text), "%d %s\n", (int)pid, cgroup);
	return util_write_file_atomic(path, text, (size_t)n, 0600);
}

/* pid file relative to a directory opened before any setns: an exec'd
 * launcher sits in the container's mount namespace when it writes it. */
static int write_pid_file(int dirfd, const char *leaf, pid_t pid)
{
	char text[24];
	int n = snprintf(text, sizeof(text), "%d", (int)pid);
	return util_write_file_atomic_at(dirfd, leaf, text, (size_t)n, 0644);
}

static int open_pid_dir(const char *pid_file, const char **leaf)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(pid_file, '/');
	if (!slash || strlen(pid_file) >= PATH_MAX)
		return -EINVAL;
	size_t n = (size_t)(slash - pid_file);
	memcpy(dir, pid_file, n ? n : 1);
	dir[n ? n : 1] = '\0';
	*leaf = slash + 1;
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int connect_console(const char *path)
{
	return util_unix_connect(path, SOCK_STREAM);
}

/* A terminal process's console socket, connected (*out stays -1 otherwise). */
static int console_for(const struct options *o, bool terminal, int *out, struct capsid_error *err)
{
	if (!terminal)
		return 0;
	if (!o->console)
		return capsid_error_set(err, EINVAL, "process.terminal needs --console-socket");
	*out = connect_console(o->console);
	if (*out < 0)
		return capsid_error_errno(err, -*out, "connect to %s", o->console);
	return 0;
}

static struct json_object *read_json(const char *path, struct capsid_error *err)
{
	_cleanup_free_ char *text = NULL;
	int rc = util_read_file_at(AT_FDCWD, path, SPEC_MAX_BYTES, &text, NULL);
	if (rc < 0) {
		capsid_error_errno(err, -rc, "read %s", path);
		return NULL;
	}
	struct json_object *doc = json_tokener_parse(text);
	if (!doc)
		capsid_error_set(err, EINVAL, "%s: not JSON", path);
	return doc;
}

/* In the child: report why it failed on the error pipe and end. */
static void __attribute__((noreturn)) child_fail(int errfd, const struct capsid_error *err)
{
	util_write_all(errfd, err->msg, strlen(err->msg));
	_exit(1);
}

/* The launcher's wait for its child's execve: EOF on the close-on-exec
 * error pipe means it happened (the program may have ended since: that
 * is its exit, not a failed start); bytes are the reason it did not. */
static int wait_exec(int errfd, pid_t child, struct capsid_error *err)
{
	char msg[CAPSID_ERROR_MAX];
	size_t got = 0;
	for (;;) {
		ssize_t n = read(errfd, msg + got, sizeof(msg) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (got += (size_t)n) == sizeof(msg) - 1)
			break;
	}
	msg[got] = '\0';
	/* EOF: the program runs (or the process was killed before it could
	 * say why; its exit status then tells). */
	if (!got)
		return 0;
	waitpid(child, NULL, 0);
	return capsid_error_set(err, EIO, "%s", msg);
}

/* A child in new namespaces (flags: CLONE_NEW*) and, with cgroup_fd >= 0,
 * born inside that cgroup (CLONE_INTO_CGROUP): moving a process into a
 * cgroup afterwards waits for an RCU grace period, ~30 ms under TCG. It
 * returns like fork(). */
static pid_t clone_into(int flags, int cgroup_fd)
{
	struct clone_args args = {
	    .flags = (uint64_t)flags | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
	    .exit_signal = SIGCHLD,
	    .cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0,
	};
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* The container's init, in the child of clone_into; never returns. stdio:
 * what becomes its 0-2 (the agent's own run, builtin_run_inline), NULL
 * when they are that already (a launcher's child). */
static void __attribute__((noreturn))
init_child(const struct builtin_spec *s, int console, const int *stdio, int errfd)
{
	struct capsid_error cerr = {0};
	if (stdio && builtin_proc_child_setup(stdio, errfd) < 0) {
		capsid_error_errno(&cerr, errno, "stdio");
		child_fail(errfd, &cerr);
	}
	/* The cgroup namespace after the clone, so that its root is the
	 * container's cgroup. */
	if ((s->namespaces & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0) {
		capsid_error_errno(&cerr, errno, "cgroup namespace");
		child_fail(errfd, &cerr);
	}
	if (builtin_mount_setup(s, &cerr) < 0)
		child_fail(errfd, &cerr);
	if (s->hostname && (s->namespaces & CLONE_NEWUTS) &&
	    sethostname(s->hostname, strlen(s->hostname)) < 0) {
		capsid_error_errno(&cerr, errno, "sethostname");
		child_fail(errfd, &cerr);
	}
	builtin_proc_exec(&s->process, console, true, &cerr);
	child_fail(errfd, &cerr);
}

/* Clone the container's init into its cgroup; *errfd gets the read end of
 * its close-on-exec error pipe (see wait_exec). */
static pid_t spawn_init(const struct builtin_spec *s, int cgroup, int console, const int *stdio, int *errfd,
			struct capsid_error *err)
{
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0)
		return capsid_error_errno(err, errno, "pipe");
	pid_t child = clone_into(s->namespaces & ~CLONE_NEWCGROUP, cgroup);
	if (child == 0) {
		close(ep[0]);
		init_child(s, console, stdio, ep[1]);
	}
	int saved = errno;
	close(ep[1]);
	if (child < 0) {
		close(ep[0]);
		return capsid_error_errno(err, saved, "clone the container process");
	}
	*errfd = ep[0];
	return child;
}

/* Clone the container's init into its cgroup, wait until its program
 * runs, and record its pid. */
static int start_init(const struct options *o, const struct builtin_spec *s, int cgroup, int console,
		      int piddir, const char *leaf, struct capsid_error *err)
{
	int fd;
	pid_t child = spawn_init(s, cgroup, console, NULL, &fd, err);
	if (child < 0)
		return child;
	_cleanup_close_ int errfd = fd;
	int rc = wait_exec(errfd, child, err);
	if (rc < 0)
		return rc;
	if ((rc = state_write(o->name, child, s->cgroups_path)) < 0 ||
	    (rc = filter_write(o->name, &s->process.seccomp)) < 0 ||
	    (rc = write_pid_file(piddir, leaf, child)) < 0)
		return capsid_error_errno(err, -rc, "record the container's pid");
	return 0;
}

/* The bundle's config.json parsed; its strings point into *doc, which the
 * caller keeps while it uses them and then puts. */
static struct builtin_spec *load_config(const char *bundle, struct json_object **doc,
					struct capsid_error *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	*doc = read_json(path, err);
	if (!*doc)
		return NULL;
	struct builtin_spec *s = calloc(1, sizeof(*s));
	if (!s) {
		capsid_error_errno(err, ENOMEM, "spec");
		return NULL;
	}
	if (builtin_spec_parse_config(*doc, s, err) < 0) {
		capsid_error_prefix(err, "%s", path);
		free(s);
		return NULL;
	}
	return s;
}

int builtin_run_inline(const char *name, const char *bundle, int dev_filter_fd, const int stdio[3],
		       pid_t *pid, int *exec_fd, struct capsid_error *err)
{
	_cleanup_json_ struct json_object *doc = NULL;
	_cleanup_free_ struct builtin_spec *s = load_config(bundle, &doc, err);
	if (!s)
		return -EINVAL;
	if (s->process.terminal)
		return capsid_error_set(err, EINVAL, "process.terminal: a terminal needs the launcher");
	_cleanup_close_ int cgroup = builtin_cgroup_prepare(s, dev_filter_fd, err);
	if (cgroup < 0)
		return cgroup;
	int fd = -1;
	pid_t child = spawn_init(s, cgroup, -1, stdio, &fd, err);
	int rc = child < 0 ? (int)child : state_write(name, child, s->cgroups_path);
	if (rc == 0)
		rc = filter_write(name, &s->process.seccomp);
	if (child > 0 && rc < 0) {
		capsid_error_errno(err, -rc, "record the container's pid");
		close(fd);
	}
	if (rc < 0) {
		/* The cgroup kills the process, if there is one. */
		builtin_cgroup_destroy(s->cgroups_path, NULL);
		return rc;
	}
	*pid = child;
	*exec_fd = fd;
	return 0;
}

/* What `delete` removes: the container's cgroup (its processes killed),
 * then its state. One the runtime does not know is success. */
static int remove_container(const char *name, struct capsid_error *err)
{
	pid_t init;
	char cgroup[PATH_MAX], path[PATH_MAX];
	int rc = state_read(name, &init, cgroup);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return capsid_error_errno(err, -rc, "state of %s", name);
	rc = builtin_cgroup_destroy(cgroup, err);
	if (rc < 0)
		return rc;
	state_path(path, name);
	if (unlink(path) < 0 && errno != ENOENT)
		return capsid_error_errno(err, errno, "remove %s", path);
	filter_path(path, name);
	if (unlink(path) < 0 && errno != ENOENT)
		return capsid_error_errno(err, errno, "remove %s", path);
	return 0;
}

void builtin_run_inline_failed(const char *name)
{
	remove_container(name, NULL);
}

static int cmd_run(const struct options *o, int dev_filter_fd, struct capsid_error *err)
{
	if (!o->bundle || !o->pid_file || !o->detach)
		return capsid_error_set(err, EINVAL, "run needs --detach --bundle and --pid-file");
	_cleanup_json_ struct json_object *doc = NULL;
	_cleanup_free_ struct builtin_spec *s = load_config(o->bundle, &doc, err);
	if (!s)
		return -EINVAL;
	const char *leaf;
	_cleanup_close_ int piddir = open_pid_dir(o->pid_file, &leaf);
	if (piddir < 0)
		return capsid_error_errno(err, -piddir, "pid file %s", o->pid_file);
	_cleanup_close_ int console = -1;
	int rc = console_for(o, s->process.terminal, &console, err);
	if (rc < 0)
		return rc;
	_cleanup_close_ int cgroup = builtin_cgroup_prepare(s, dev_filter_fd, err);
	if (cgroup >= 0)
		rc = start_init(o, s, cgroup, console, piddir, leaf, err);
	/* Whatever it made goes with a failure: the cgroup kills the process. */
	if (cgroup < 0 || rc < 0) {
		builtin_cgroup_destroy(s->cgroups_path, NULL);
		return cgroup < 0 ? cgroup : rc;
	}
	return 0;
}

/* Join the ipc, uts, pid (for the child to come) and mount (last: it
 * changes our root) namespaces of pid. Its cgroup namespace is returned
 * as an fd for the child to join once it is inside the cgroup: a process
 * outside a cgroup namespace's root cannot be placed below it from within. */
static int join_namespaces(pid_t pid, struct capsid_error *err)
{
	static const struct {
		const char *name;
		int type;
	} ns[] = {{"cgroup", CLONE_NEWCGROUP},
		  {"ipc", CLONE_NEWIPC},
		  {"uts", CLONE_NEWUTS},
		  {"pid", CLONE_NEWPID},
		  {"mnt", CLONE_NEWNS}};
	int fds[ARRAY_SIZE(ns)], errs[ARRAY_SIZE(ns)];
	for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns[i].name);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		errs[i] = errno;
	}
	int rc = 0;
	for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
		if (rc == 0 && fds[i] < 0)
			rc = capsid_error_errno(err, errs[i], "open the %s namespace of %d", ns[i].name,
						(int)pid);
		else if (rc == 0 && i > 0 && setns(fds[i], ns[i].type) < 0)
			rc = capsid_error_errno(err, errno, "join the %s namespace", ns[i].name);
		if (fds[i] >= 0 && (i > 0 || rc < 0))
			close(fds[i]);
	}
	return rc < 0 ? rc : fds[0];
}

static int cmd_exec(const struct options *o, struct capsid_error *err)
{
	if (!o->process || !o->pid_file || !o->detach)
		return capsid_error_set(err, EINVAL, "exec needs --process, --detach and --pid-file");
	_cleanup_json_ struct json_object *doc = read_json(o->process, err);
	if (!doc)
		return -EINVAL;
	_cleanup_free_ struct builtin_spec_process *p = calloc(1, sizeof(*p));
	if (!p)
		return capsid_error_errno(err, ENOMEM, "process");
	int rc = builtin_spec_parse_process(doc, p, err);
	if (rc < 0)
		return capsid_error_prefix(err, "%s", o->process);
	pid_t init;
	char cgroup[PATH_MAX];
	if (state_read(o->name, &init, cgroup) < 0 || !builtin_cgroup_has(cgroup, init))
		return capsid_error_set(err, ESRCH, "container %s is not running", o->name);
	/* The container's seccomp filter, as crun and runc apply it to an exec. */
	if ((rc = filter_read(o->name, &p->seccomp, err)) < 0)
		return rc;
	const char *leaf;
	_cleanup_close_ int piddir = open_pid_dir(o->pid_file, &leaf);
	if (piddir < 0)
		return capsid_error_errno(err, -piddir, "pid file %s", o->pid_file);
	_cleanup_close_ int console = -1;
	if ((rc = console_for(o, p->terminal, &console, err)) < 0)
		return rc;
	_cleanup_close_ int cgfd = builtin_cgroup_open(cgroup, err);
	if (cgfd < 0)
		return cgfd;
	_cleanup_close_ int cgroup_ns = join_namespaces(init, err);
	if (cgroup_ns < 0)
		return cgroup_ns;
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0)
		return capsid_error_errno(err, errno, "pipe");
	pid_t child = clone_into(0, cgfd);
	if (child < 0)
		return capsid_error_errno(err, errno, "fork into the container");
	if (child == 0) {
		close(ep[0]);
		struct capsid_error cerr = {0};
		if (setns(cgroup_ns, CLONE_NEWCGROUP) < 0) {
			capsid_error_errno(&cerr, errno, "join the cgroup namespace");
			child_fail(ep[1], &cerr);
		}
		builtin_proc_exec(p, console, false, &cerr);
		child_fail(ep[1], &cerr);
	}
	close(ep[1]);
	_cleanup_close_ int errfd = ep[0];
	if ((rc = wait_exec(errfd, child, err)) < 0)
		return rc;
	if ((rc = write_pid_file(piddir, leaf, child)) < 0) {
		kill(child, SIGKILL);
		return capsid_error_errno(err, -rc, "write %s", o->pid_file);
	}
	return 0;
}

static int cmd_kill(const struct options *o, struct capsid_error *err)
{
	char *end;
	long sig = o->signal ? strtol(o->signal, &end, 10) : SIGTERM;
	if (o->signal && (*end || sig <= 0 || sig >= NSIG))
		return capsid_error_set(err, EINVAL, "kill: signal %.16s: not a number in 1..%d", o->signal,
					NSIG - 1);
	pid_t init;
	char cgroup[PATH_MAX];
	if (state_read(o->name, &init, cgroup) < 0 || !builtin_cgroup_has(cgroup, init))
		return capsid_error_set(err, ESRCH, "container %s is not running", o->name);
	if (kill(init, (int)sig) < 0)
		return capsid_error_errno(err, errno, "kill %s", o->name);
	return 0;
}

static int cmd_delete(const struct options *o, struct capsid_error *err)
{
	if (!o->force)
		return capsid_error_set(err, EINVAL, "delete needs --force");
	return remove_container(o->name, err);
}

int builtin_main(int argc, char *const argv[], int dev_filter_fd)
{
	struct options o;
	if (parse_args(argc, argv, &o) < 0)
		return usage("usage: run|exec|kill|delete [options] NAME");
	struct capsid_error err = {0};
	int rc;
	if (strcmp(o.verb, "run") == 0)
		rc = cmd_run(&o, dev_filter_fd, &err);
	else if (strcmp(o.verb, "exec") == 0)
		rc = cmd_exec(&o, &err);
	else if (strcmp(o.verb, "kill") == 0)
		rc = cmd_kill(&o, &err);
	else if (strcmp(o.verb, "delete") == 0)
		rc = cmd_delete(&o, &err);
	else
		return usage("unknown command");
	if (rc < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	return 0;
}
