#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builtin/builtin.h"
#include "builtin/proc.h"
#include "cleanup.h"
#include "util.h"

#define MAX_ARGS 32

const char *runtime_binary(const char *runtime)
{
	if (strcmp(runtime, "runc") == 0)
		return "/usr/sbin/runc";
	if (strcmp(runtime, "crun") == 0)
		return "/usr/bin/crun";
	return NULL;
}

/* The agent's own runtime (builtin/): forked, not executed. */
static bool runtime_is_builtin(const char *runtime)
{
	return strcmp(runtime, "builtin") == 0;
}

bool runtime_present(const char *runtime)
{
	if (runtime_is_builtin(runtime))
		return true;
	const char *bin = runtime_binary(runtime);
	return bin && access(bin, X_OK) == 0;
}

/* In the child between fork and exec: only async-signal-safe calls.
 *
 * crun runs without address-space randomisation: under TCG a translated
 * block belongs to a guest virtual address, so crun and its libraries at
 * new random addresses on every invocation are translated anew each time
 * (and fill the 16 MiB translation cache, which then flushes). At fixed
 * addresses the next crun reuses them: `crun run` took 0.29-0.32 s against
 * 0.36-0.40 s (tests/bench, this machine). The container's own processes
 * are randomised again: config.json sets the Linux personality, which crun
 * applies before it executes the container's process. runc does not
 * apply it, so runc keeps ASLR. */
static void __attribute__((noreturn)) exec_child(const char *bin, bool fixed_layout, char *const argv[],
						 int in, int out, int err, int dev_filter_fd)
{
	if (fixed_layout)
		personality(ADDR_NO_RANDOMIZE);
	/* An executed runtime gets nothing above 2; the builtin launcher keeps
	 * the agent's device filter at its number (close-on-exec: no process
	 * of the container keeps it). */
	const int stdio[3] = {in, out, err};
	if (builtin_proc_child_setup(stdio, bin ? -1 : dev_filter_fd) < 0)
		_exit(126);
	if (!bin) {
		int argc = 0;
		while (argv[argc])
			argc++;
		_exit(builtin_main(argc, argv, dev_filter_fd));
	}
	static char env_path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	static char env_home[] = "HOME=/";
	char *const envp[] = {env_path, env_home, NULL};
	execve(bin, argv, envp);
	_exit(127);
}

static int spawn(struct agent *a, const char *bin, const char *runtime, const char *const *args, int in,
		 int out, int err, pid_t *pid)
{
	char *argv[MAX_ARGS + 2];
	size_t n = 0;
	argv[n++] = (char *)runtime;
	for (size_t i = 0; args[i]; i++) {
		if (n > MAX_ARGS)
			return -E2BIG;
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	pid_t p = fork();
	if (p < 0)
		return -errno;
	if (p == 0)
		exec_child(bin, strcmp(runtime, "crun") == 0, argv, in, out, err, a->dev_filter_fd);
	*pid = p;
	return 0;
}

int runtime_job_start(struct agent *a, enum job_kind kind, const char *runtime, const char *const *args,
		      const struct runtime_stdio *io, struct job **out, struct capsid_error *err)
{
	const char *bin = runtime_binary(runtime);
	if (!bin && !runtime_is_builtin(runtime))
		return capsid_error_set(err, EINVAL, "unknown runtime %s", runtime);
	size_t jobs = 0;
	for (struct job *j = a->jobs; j; j = j->next)
		jobs++;
	if (jobs >= AGENT_MAX_JOBS)
		return capsid_error_set(err, EAGAIN, "%zu runtime commands already running: retry later",
					jobs);
	_cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return capsid_error_errno(err, errno, "open /dev/null");
	int errpipe[2] = {-1, -1};
	bool need_pipe = !io || io->out < 0 || io->err < 0;
	if (need_pipe && pipe2(errpipe, O_CLOEXEC) < 0)
		return capsid_error_errno(err, errno, "pipe");
	int in = io && io->in >= 0 ? io->in : null;
	int o = io && io->out >= 0 ? io->out : errpipe[1];
	int e = io && io->err >= 0 ? io->err : errpipe[1];

	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		if (need_pipe) {
			close(errpipe[0]);
			close(errpipe[1]);
		}
		return capsid_error_errno(err, ENOMEM, "job");
	}
	j->kind = kind;
	j->reaped_mark = reaped_mark(&a->reaped);
	j->err_fd = need_pipe ? errpipe[0] : -1;
	j->console_fd = -1;
	int rc = spawn(a, bin, runtime, args, in, o, e, &j->pid);
	if (need_pipe)
		close(errpipe[1]);
	if (rc < 0) {
		runtime_job_free(j);
		return capsid_error_errno(err, -rc, "start %s", runtime);
	}
	if (j->err_fd >= 0)
		util_set_nonblock(j->err_fd, 1);
	j->next = a->jobs;
	a->jobs = j;
	*out = j;
	return 0;
}

struct job *runtime_job_inline(struct agent *a, pid_t pid, int exec_fd, uint64_t reaped_mark)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->kind = JOB_RUN;
	j->inline_run = true;
	j->pid = pid;
	j->reaped_mark = reaped_mark;
	j->err_fd = exec_fd;
	j->console_fd = -1;
	util_set_nonblock(exec_fd, 1);
	j->next = a->jobs;
	a->jobs = j;
	return j;
}

int runtime_run_sync(struct agent *a, const char *runtime, const char *const *args, unsigned timeout_ms)
{
	const char *bin = runtime_binary(runtime);
	if (!bin && !runtime_is_builtin(runtime))
		return -EINVAL;
	_cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return -errno;
	int log = a->console_fd >= 0 ? a->console_fd : null;
	pid_t pid;
	int rc = spawn(a, bin, runtime, args, null, log, log, &pid);
	if (rc < 0)
		return rc;
	uint64_t deadline = util_now_ms() + timeout_ms;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (util_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -ETIMEDOUT;
		}
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static void append_printable(char *out, size_t len, size_t *used, const char *src, size_t n)
{
	for (size_t i = 0; i < n && *used + 1 < len; i++) {
		unsigned char c = (unsigned char)src[i];
		out[(*used)++] = (c == '\n' || c == '\t') ? ' ' : (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[*used] = '\0';
}

void runtime_job_error(struct job *j, int fallback_fd, char *out, size_t len)
{
	char buf[AGENT_ERRTEXT_MAX];
	size_t n = j->err_len;
	memcpy(buf, j->err, n);
	if (fallback_fd >= 0) {
		/* Only the runtime can have written there: the process never ran. */
		while (n < sizeof(buf)) {
			ssize_t r = read(fallback_fd, buf + n, sizeof(buf) - n);
			if (r <= 0)
				break;
			n += (size_t)r;
		}
	}
	size_t used = 0;
	out[0] = '\0';
	/* Runtimes prefix errors with their own log decoration; keep it short. */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	append_printable(out, len, &used, buf, n);
	if (used == 0)
		snprintf(out, len, "no error output");
}

void runtime_job_read_err(struct job *j)
{
	while (j->err_fd >= 0) {
		char buf[1024];
		ssize_t n = read(j->err_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(j->err_fd);
			j->err_fd = -1;
			return;
		}
		size_t room = sizeof(j->err) - j->err_len;
		size_t take = (size_t)n < room ? (size_t)n : room;
		memcpy(j->err + j->err_len, buf, take);
		j->err_len += take;
	}
}

void runtime_job_destroy(struct agent *a, struct job *j)
{
	for (struct job **p = &a->jobs; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	runtime_job_free(j);
}

void runtime_job_free(struct job *j)
{
	if (!j)
		return;
	if (j->err_fd >= 0)
		close(j->err_fd);
	if (j->console_fd >= 0)
		close(j->console_fd);
	if (j->console_path[0])
		unlink(j->console_path);
	free(j);
}

int runtime_console_listen(const char *path, struct capsid_error *err)
{
	int fd = util_unix_listen(path, SOCK_STREAM | SOCK_NONBLOCK, 1);
	if (fd < 0)
		return capsid_error_errno(err, -fd, "console socket %s", path);
	return fd;
}

int runtime_console_take(int listen_fd)
{
	_cleanup_close_ int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* The runtime sends one message with the master fd; wait briefly for it
	 * (it was connected, so it is on its way). */
	struct pollfd p = {.fd = conn, .events = POLLIN};
	if (poll(&p, 1, 5000) <= 0)
		return -ETIMEDOUT;
	char data[256];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	ssize_t n;
	do
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EBADMSG;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	if (msg.msg_flags & MSG_CTRUNC) {
		close(fd);
		return -EBADMSG;
	}
	return fd;
}

int runtime_read_pid(const char *path, pid_t *pid)
{
	_cleanup_free_ char *s = NULL;
	int rc = util_read_file_at(AT_FDCWD, path, 64, &s, NULL);
	if (rc < 0)
		return rc;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || v <= 1 || v > (1 << 22))
		return -EINVAL;
	*pid = (pid_t)v;
	return 0;
}

void runtime_describe_status(int wstatus, char *out, size_t len)
{
	if (WIFEXITED(wstatus))
		snprintf(out, len, "exited with status %d", WEXITSTATUS(wstatus));
	else if (WIFSIGNALED(wstatus))
		snprintf(out, len, "killed by signal %d", WTERMSIG(wstatus));
	else
		snprintf(out, len, "stopped");
}
