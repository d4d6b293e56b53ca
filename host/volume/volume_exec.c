/* See volume_exec.h. posix_spawn would do for most of it, but we need the
 * child's stdin fed from memory while its output is drained, so this is a
 * small fork/exec with a poll loop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "volume_exec.h"

static void keep(char *out, size_t out_len, size_t *used, const char *buf, size_t n)
{
	if (!out || out_len == 0)
		return;
	size_t room = out_len - 1 - *used;
	if (n > room)
		n = room;
	memcpy(out + *used, buf, n);
	*used += n;
	out[*used] = '\0';
}

int volume_run(const char *const argv[], const char *cwd, const void *input, size_t input_len, char *out,
	       size_t out_len)
{
	if (out && out_len)
		out[0] = '\0';
	int in_pipe[2] = {-1, -1}, out_pipe[2];
	if (input && pipe2(in_pipe, O_CLOEXEC) < 0)
		return -errno;
	_cleanup_close_ int in_r = in_pipe[0];
	_cleanup_close_ int in_w = in_pipe[1];
	if (pipe2(out_pipe, O_CLOEXEC) < 0)
		return -errno;
	_cleanup_close_ int out_r = out_pipe[0];
	_cleanup_close_ int out_w = out_pipe[1];
	_cleanup_close_ int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0)
		return -errno;
	_cleanup_child_ pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(input ? in_r : null_fd, 0) < 0 || dup2(out_w, 1) < 0 || dup2(out_w, 2) < 0)
			_exit(126);
		if (chdir(cwd ? cwd : "/") < 0)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(TAKE_FD(out_w));
	if (in_r >= 0)
		close(TAKE_FD(in_r));
	if (in_w >= 0 && input_len == 0)
		close(TAKE_FD(in_w));
	if (in_w >= 0)
		fcntl(in_w, F_SETFL, O_NONBLOCK);
	size_t sent = 0, used = 0;
	/* Our own SIGPIPE (a child that exits without reading its stdin) must
	 * not kill the caller. */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	sigaction(SIGPIPE, &ign, &old);
	while (out_r >= 0) {
		struct pollfd p[2] = {{.fd = out_r, .events = POLLIN}, {.fd = in_w, .events = POLLOUT}};
		if (poll(p, in_w >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (in_w >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = write(in_w, (const char *)input + sent, input_len - sent);
			if (n > 0)
				sent += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) || sent == input_len)
				close(TAKE_FD(in_w));
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[4096];
			ssize_t n = read(out_r, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				close(TAKE_FD(out_r));
			else
				keep(out, out_len, &used, buf, (size_t)n);
		}
	}
	sigaction(SIGPIPE, &old, NULL);
	int status;
	int rc = child_wait(&pid, &status);
	if (rc < 0)
		return rc;
	while (out && used > 0 && (out[used - 1] == '\n' || out[used - 1] == '\r'))
		out[--used] = '\0';
	if (WIFSIGNALED(status))
		return 256 + WTERMSIG(status);
	return WEXITSTATUS(status) == 127 && used == 0 ? -ENOENT : WEXITSTATUS(status);
}
