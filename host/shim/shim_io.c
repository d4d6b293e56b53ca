/* An exec's standard input from containerd's FIFO. The client opens its
 * end only once it has something to write (ctr with an empty stdin never
 * does), so a blocking open would hang: the FIFO is opened without
 * blocking, and a thread copies what arrives into a pipe, which ends when
 * the writer closes its end, when containerd sends CloseIO (after what the
 * FIFO holds then), or when the process is gone. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "shim.h"
#include "util.h"

struct shim_stdin {
	int fifo, pipe_w, stop;
	pthread_t thread;
};

static void *relay(void *arg)
{
	struct shim_stdin *in = arg;
	char buf[16384];
	for (;;) {
		struct pollfd p[2] = {{in->fifo, POLLIN, 0}, {in->stop, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			/* CloseIO: what the client wrote before it still goes in. */
			ssize_t n;
			while ((n = read(in->fifo, buf, sizeof(buf))) > 0 && util_write_all(in->pipe_w, buf, (size_t)n) == 0)
				;
			break;
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t n = read(in->fifo, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break; /* the writer closed its end */
		if (util_write_all(in->pipe_w, buf, (size_t)n) < 0)
			break;
	}
	close(in->pipe_w);
	in->pipe_w = -1;
	return NULL;
}

int shim_stdin_open(const char *path, struct shim_stdin **out, int *read_fd)
{
	*out = NULL;
	*read_fd = -1;
	struct shim_stdin *in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	int p[2] = {-1, -1};
	in->fifo = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	in->stop = eventfd(0, EFD_CLOEXEC);
	int r = in->fifo < 0 || in->stop < 0 ? -errno : 0;
	if (r == 0 && pipe2(p, O_CLOEXEC) < 0)
		r = -errno;
	in->pipe_w = p[1];
	if (r == 0 && (r = -pthread_create(&in->thread, NULL, relay, in)) == 0) {
		*out = in;
		*read_fd = p[0];
		return 0;
	}
	if (in->fifo >= 0)
		close(in->fifo);
	if (in->stop >= 0)
		close(in->stop);
	if (p[0] >= 0)
		close(p[0]), close(p[1]);
	free(in);
	return r;
}

void shim_stdin_close(struct shim_stdin *in)
{
	if (!in)
		return;
	uint64_t one = 1;
	if (write(in->stop, &one, sizeof(one)) < 0) {
		/* an eventfd write fails only on overflow: it is signalled already */
	}
}

void shim_stdin_free(struct shim_stdin *in)
{
	if (!in)
		return;
	shim_stdin_close(in);
	pthread_join(in->thread, NULL);
	close(in->fifo);
	close(in->stop);
	free(in);
}
