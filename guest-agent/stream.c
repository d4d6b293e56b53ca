#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "channel.h"
#include "cleanup.h"
#include "proto.h"
#include "util.h"

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

int stream_create(struct agent *a, uint32_t id, const char *container, bool main, bool tty, bool open_stdin,
		  struct runtime_stdio *child, struct stream **out, struct capsid_error *err)
{
	*child = (struct runtime_stdio){-1, -1, -1};
	size_t count = 0;
	for (struct stream *s = a->streams; s; s = s->next)
		count++;
	if (count >= AGENT_MAX_STREAMS)
		return capsid_error_set(err, EMFILE, "too many streams (%d)", AGENT_MAX_STREAMS);
	if (agent_stream(a, id))
		return capsid_error_set(err, EEXIST, "stream %u is in use", id);
	struct stream *s = calloc(1, sizeof(*s));
	if (!s)
		return capsid_error_errno(err, ENOMEM, "stream");
	s->id = id;
	snprintf(s->container, sizeof(s->container), "%s", container);
	s->main = main;
	s->tty = tty;
	s->out_fd = s->err_fd = s->in_fd = -1;
	if (!tty) {
		int o[2], e[2], i[2] = {-1, -1};
		if (pipe2(o, O_CLOEXEC) < 0) {
			free(s);
			return capsid_error_errno(err, errno, "pipe");
		}
		if (pipe2(e, O_CLOEXEC) < 0) {
			int saved = errno;
			close(o[0]);
			close(o[1]);
			free(s);
			return capsid_error_errno(err, saved, "pipe");
		}
		if (open_stdin && pipe2(i, O_CLOEXEC) < 0) {
			int saved = errno;
			close(o[0]);
			close(o[1]);
			close(e[0]);
			close(e[1]);
			free(s);
			return capsid_error_errno(err, saved, "pipe");
		}
		s->out_fd = o[0];
		s->err_fd = e[0];
		s->in_fd = i[1];
		*child = (struct runtime_stdio){i[0], o[1], e[1]};
		util_set_nonblock(s->out_fd, 1);
		util_set_nonblock(s->err_fd, 1);
		if (s->in_fd >= 0)
			util_set_nonblock(s->in_fd, 1);
	}
	s->next = a->streams;
	a->streams = s;
	*out = s;
	return 0;
}

void stream_close_child_ends(struct runtime_stdio *child)
{
	close_fd(&child->in);
	close_fd(&child->out);
	close_fd(&child->err);
}

void stream_attach_pty(struct stream *s, int master, unsigned rows, unsigned cols)
{
	close_fd(&s->out_fd);
	s->out_fd = master;
	util_set_nonblock(master, 1);
	if (rows && cols)
		stream_resize(s, rows, cols);
}

void stream_destroy(struct agent *a, struct stream *s)
{
	for (struct stream **p = &a->streams; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	close_fd(&s->out_fd);
	close_fd(&s->err_fd);
	close_fd(&s->in_fd);
	free(s->in_buf.data);
	free(s);
}

void stream_start_forwarding(struct agent *a, struct stream *s)
{
	(void)a;
	s->forwarding = true;
}

void stream_set_pid(struct agent *a, struct stream *s, pid_t pid, uint64_t mark)
{
	s->pid = pid;
	int st;
	if (reaped_take(&a->reaped, pid, mark, &st))
		stream_exited(a, s, st);
}

void stream_exited(struct agent *a, struct stream *s, int wstatus)
{
	if (s->exited)
		return;
	s->exited = true;
	s->wstatus = wstatus;
	s->exited_ms = util_now_ms();
	util_now_rfc3339(s->finished_at);
	/* Nobody reads the stdin any more. */
	if (!s->tty)
		close_fd(&s->in_fd);
	free(s->in_buf.data);
	s->in_buf = (struct bytebuf){0};
	char what[64];
	runtime_describe_status(wstatus, what, sizeof(what));
	log_debug(a, "stream %u (%s%s) %s", s->id, s->container, s->main ? "" : " exec", what);
}

/* Read one chunk. Returns 1 when data was sent, 0 when nothing is
 * available, -1 at end of file (fd closed). */
static int read_chunk(struct agent *a, struct stream *s, int *fd, uint16_t type)
{
	uint8_t buf[CAPSID_FRAME_DATA_CHUNK];
	ssize_t n = read(*fd, buf, sizeof(buf));
	if (n > 0) {
		int rc = channel_send(a->ch, type, s->id, buf, (size_t)n);
		if (rc < 0)
			log_error(a, "stream %u: %zd bytes of output lost: %s", s->id, n, strerror(-rc));
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	/* EOF; a pty master reads EIO once every slave is closed. */
	close_fd(fd);
	return -1;
}

void stream_on_output(struct agent *a, struct stream *s, bool is_stderr)
{
	int *fd = is_stderr ? &s->err_fd : &s->out_fd;
	if (*fd < 0)
		return;
	read_chunk(a, s, fd, is_stderr ? CAPSID_MSG_STDERR : CAPSID_MSG_STDOUT);
}

static int stdin_fd(const struct stream *s)
{
	return s->tty ? s->out_fd : s->in_fd;
}

void stream_on_stdin_writable(struct agent *a, struct stream *s)
{
	int fd = stdin_fd(s);
	struct bytebuf *b = &s->in_buf;
	while (fd >= 0 && b->len > 0) {
		ssize_t n = write(fd, b->data, b->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			/* The reader is gone: drop what is left. */
			log_debug(a, "stream %u: stdin: %s", s->id, strerror(errno));
			b->len = 0;
			if (!s->tty)
				close_fd(&s->in_fd);
			return;
		}
		memmove(b->data, b->data + n, b->len - (size_t)n);
		b->len -= (size_t)n;
	}
	if (b->len == 0 && s->in_close_requested) {
		s->in_close_requested = false;
		if (s->tty) {
			/* Closing a pty master hangs the terminal up; end of input on a
			 * terminal is the EOF character instead. */
			static const char eof = 4; /* ^D, VEOF by default */
			if (s->out_fd >= 0 && write(s->out_fd, &eof, 1) < 0)
				log_debug(a, "stream %u: send EOF: %s", s->id, strerror(errno));
		} else {
			close_fd(&s->in_fd);
		}
	}
}

int stream_stdin(struct agent *a, struct stream *s, const void *data, size_t len)
{
	if (stdin_fd(s) < 0 || s->exited || s->in_close_requested)
		return -EPIPE;
	struct bytebuf *b = &s->in_buf;
	if (len > AGENT_STDIN_MAX - b->len)
		return -ENOBUFS;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len)
			cap *= 2;
		uint8_t *nd = realloc(b->data, cap);
		if (!nd)
			return -ENOMEM;
		b->data = nd;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	stream_on_stdin_writable(a, s);
	return 0;
}

void stream_stdin_close(struct agent *a, struct stream *s)
{
	if (stdin_fd(s) < 0)
		return;
	s->in_close_requested = true;
	stream_on_stdin_writable(a, s);
}

int stream_resize(struct stream *s, unsigned rows, unsigned cols)
{
	if (!s->tty || s->out_fd < 0)
		return -ENOTTY;
	struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
	if (ioctl(s->out_fd, TIOCSWINSZ, &ws) < 0)
		return -errno;
	return 0;
}

uint64_t stream_deadline(const struct stream *s)
{
	if (!s->exited || s->exit_sent || !s->forwarding)
		return 0;
	return s->exited_ms + AGENT_DRAIN_MS;
}

int stream_exit_code(int wstatus, int *signal)
{
	*signal = 0;
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus)) {
		*signal = WTERMSIG(wstatus);
		return 128 + *signal;
	}
	return 255;
}

bool stream_try_finish(struct agent *a, struct stream *s)
{
	if (!s->exited || !s->forwarding || !a->negotiated)
		return false;
	bool drained = s->out_fd < 0 && s->err_fd < 0;
	if (!drained) {
		if (util_now_ms() < s->exited_ms + AGENT_DRAIN_MS)
			return false;
		/* Something still holds the pipes (a daemonized grandchild): take
		 * what was written and stop waiting for end of file. */
		while (s->out_fd >= 0 && read_chunk(a, s, &s->out_fd, CAPSID_MSG_STDOUT) > 0)
			;
		while (s->err_fd >= 0 && read_chunk(a, s, &s->err_fd, CAPSID_MSG_STDERR) > 0)
			;
		close_fd(&s->out_fd);
		close_fd(&s->err_fd);
	}
	int sig;
	int code = stream_exit_code(s->wstatus, &sig);
	_cleanup_json_ struct json_object *o = json_object_new_object();
	if (!o)
		return false;
	json_object_object_add(o, "exitCode", json_object_new_int(code));
	json_object_object_add(o, "signal", json_object_new_int(sig));
	json_object_object_add(o, "finishedAt", json_object_new_string(s->finished_at));
	if (channel_send_json(a->ch, CAPSID_MSG_EXIT, s->id, o) < 0)
		return false; /* queue full: try again on the next round */
	s->exit_sent = true;
	return true;
}
