#include "channel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "proto.h"
#include "util.h"

#define PORTS_DIR "/sys/class/virtio-ports"

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

struct channel {
	int fd;
	bool connected;
	bool ever_connected;
	struct frame_reader *in;
	struct frame_writer *out;
};

/* The name attribute is set when the host announces the port, shortly after
 * the device itself appears: both are polled. */
static int find_port(char *dev, size_t len)
{
	_cleanup_(closedirp) DIR *d = opendir(PORTS_DIR);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), PORTS_DIR "/%s/name", e->d_name);
		_cleanup_free_ char *name = NULL;
		if (util_read_file_at(AT_FDCWD, path, 256, &name, NULL) < 0)
			continue;
		name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, CAPSID_AGENT_PORT_NAME) == 0) {
			if ((size_t)snprintf(dev, len, "/dev/%s", e->d_name) >= len)
				return -ENAMETOOLONG;
			return 0;
		}
	}
	return -ENOENT;
}

static int channel_new(struct channel **out, int fd)
{
	struct channel *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->fd = fd;
	ch->in = frame_reader_new(CAPSID_FRAME_MAX_BODY);
	ch->out = frame_writer_new(AGENT_OUT_QUEUE_MAX);
	if (!ch->in || !ch->out) {
		ch->fd = -1;
		channel_free(ch);
		return -ENOMEM;
	}
	/* SIGIO tells us when the host connects or disconnects. */
	if (fcntl(fd, F_SETOWN, getpid()) == 0) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			fcntl(fd, F_SETFL, fl | O_ASYNC | O_NONBLOCK);
	}
	util_set_nonblock(fd, 1);
	channel_refresh(ch);
	*out = ch;
	return 0;
}

int channel_open(struct channel **out, unsigned timeout_ms, struct capsid_error *err)
{
	uint64_t deadline = util_now_ms() + timeout_ms;
	char dev[PATH_MAX];
	for (;;) {
		int rc = find_port(dev, sizeof(dev));
		if (rc == 0) {
			int fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
			if (fd >= 0) {
				rc = channel_new(out, fd);
				if (rc < 0) {
					close(fd);
					return capsid_error_errno(err, -rc, "channel");
				}
				return 0;
			}
			rc = -errno;
			if (rc != -ENOENT && rc != -ENXIO)
				return capsid_error_errno(err, -rc, "open %s", dev);
		}
		if (util_now_ms() >= deadline)
			return capsid_error_set(err, ENODEV,
						"virtio-serial port %s did not appear within %u ms",
						CAPSID_AGENT_PORT_NAME, timeout_ms);
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int channel_open_path(struct channel **out, const char *path, struct capsid_error *err)
{
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return capsid_error_errno(err, errno, "open %s", path);
	int rc = channel_open_fd(out, fd);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "channel");
	return 0;
}

int channel_open_fd(struct channel **out, int fd)
{
	int rc = channel_new(out, fd);
	if (rc < 0)
		close(fd);
	return rc;
}

void channel_free(struct channel *ch)
{
	if (!ch)
		return;
	if (ch->fd >= 0)
		close(ch->fd);
	frame_reader_free(ch->in);
	frame_writer_free(ch->out);
	free(ch);
}

int channel_fd(const struct channel *ch)
{
	return ch->fd;
}

bool channel_connected(const struct channel *ch)
{
	return ch->connected;
}

int channel_refresh(struct channel *ch)
{
	struct pollfd p = {.fd = ch->fd, .events = POLLIN};
	int n;
	do
		n = poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	/* virtio_console reports POLLHUP while no host is connected (and
	 * POLLIN too, since a read would not block: it returns end of file). */
	bool now = n >= 0 && !(p.revents & (POLLHUP | POLLERR | POLLNVAL));
	bool new_session = now && !ch->connected;
	ch->connected = now;
	if (new_session) {
		bool reconnect = ch->ever_connected;
		ch->ever_connected = true;
		return reconnect ? 1 : 0;
	}
	return 0;
}

short channel_poll_events(const struct channel *ch)
{
	if (!ch->connected)
		return 0;
	short ev = POLLIN;
	if (frame_writer_pending(ch->out) > 0)
		ev |= POLLOUT;
	return ev;
}

/* Read what is available: >0 when bytes arrived, 0 when none (or the host
 * went away: marked disconnected). */
static int channel_read(struct channel *ch)
{
	int rc = frame_reader_fill(ch->in, ch->fd);
	if (rc == -EPIPE || rc == -EIO || rc == -ENODEV) {
		/* The port reads end-of-file while no host is connected. */
		ch->connected = false;
		return 0;
	}
	if (rc == -ENOBUFS)
		return 0; /* frames are waiting to be taken first */
	return rc;
}

int channel_serve(struct channel *ch, unsigned max_reads, channel_frame_fn fn, void *ctx)
{
	for (unsigned reads = 0;; reads++) {
		struct frame f;
		int got;
		while ((got = frame_reader_next(ch->in, &f)) == 1)
			fn(ctx, &f);
		if (got < 0)
			return got;
		/* Stop only here, after the frames the last read completed. */
		if (reads == max_reads || channel_read(ch) <= 0)
			return 0;
	}
}

int channel_resync(struct channel *ch)
{
	struct frame_reader *fresh = frame_reader_new(CAPSID_FRAME_MAX_BODY);
	if (!fresh)
		return -ENOMEM;
	frame_reader_free(ch->in);
	ch->in = fresh;
	/* Whatever the host already sent belongs to the bad frame. */
	uint8_t sink[4096];
	while (read(ch->fd, sink, sizeof(sink)) > 0)
		;
	return 0;
}

int channel_send(struct channel *ch, uint16_t type, uint32_t id, const void *body, size_t len)
{
	return frame_writer_queue(ch->out, type, id, body, len);
}

int channel_send_json(struct channel *ch, uint16_t type, uint32_t id, struct json_object *body)
{
	return frame_writer_queue_json(ch->out, type, id, body);
}

size_t channel_pending(const struct channel *ch)
{
	return frame_writer_pending(ch->out);
}

void channel_discard_output(struct channel *ch)
{
	struct frame_writer *fresh = frame_writer_new(AGENT_OUT_QUEUE_MAX);
	if (!fresh)
		return;
	frame_writer_free(ch->out);
	ch->out = fresh;
}

int channel_flush(struct channel *ch)
{
	if (!ch->connected || frame_writer_pending(ch->out) == 0)
		return 0;
	int rc = frame_writer_flush(ch->out, ch->fd);
	if (rc == -EPIPE || rc == -ENODEV) {
		ch->connected = false;
		return 0;
	}
	return rc < 0 ? rc : 0;
}

int channel_flush_blocking(struct channel *ch, unsigned timeout_ms)
{
	uint64_t deadline = util_now_ms() + timeout_ms;
	while (frame_writer_pending(ch->out) > 0) {
		uint64_t now = util_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		channel_refresh(ch);
		if (ch->connected) {
			int rc = frame_writer_flush(ch->out, ch->fd);
			if (rc < 0 && rc != -EAGAIN)
				return rc;
			if (rc == 1)
				break;
		}
		struct pollfd p = {.fd = ch->fd, .events = POLLOUT};
		int wait = (int)(deadline - now);
		poll(&p, 1, wait > 20 ? 20 : wait);
	}
	return 0;
}
