#include "qmp.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

/* QMP replies are small; anything longer is not a reply we want. */
#define QMP_MAX_LINE (64 * 1024)

/* Read one newline-terminated JSON message, skipping asynchronous events. */
static int qmp_read_message(int fd, struct json_object **out, unsigned timeout_ms)
{
	char buf[QMP_MAX_LINE];
	size_t len = 0;
	uint64_t deadline = util_now_ms() + timeout_ms;
	for (;;) {
		char *nl = memchr(buf, '\n', len);
		if (nl) {
			*nl = '\0';
			struct json_object *obj = json_tokener_parse(buf);
			size_t consumed = (size_t)(nl - buf) + 1;
			memmove(buf, buf + consumed, len - consumed);
			len -= consumed;
			if (!obj || !json_object_is_type(obj, json_type_object)) {
				json_object_put(obj);
				return -EBADMSG;
			}
			if (json_object_object_get_ex(obj, "event", NULL)) {
				json_object_put(obj);
				continue;
			}
			*out = obj;
			return 0;
		}
		if (len == sizeof(buf))
			return -EMSGSIZE;
		uint64_t now = util_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n == 0)
			return -EPIPE;
		if (n > 0)
			len += (size_t)n;
	}
}

/* The command's first byte carries pass_fd (SCM_RIGHTS), as QMP's getfd
 * and add-fd want it. */
static int send_with_fd(int fd, const char *s, int pass_fd)
{
	struct iovec iov = {.iov_base = (void *)s, .iov_len = 1};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl = {0};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		return n < 0 ? -errno : -EIO;
	return util_send_all(fd, s + 1, strlen(s) - 1);
}

int qmp_execute(int fd, const char *command, struct json_object *args, struct json_object **reply,
		unsigned timeout_ms)
{
	return qmp_execute_fd(fd, command, args, -1, reply, timeout_ms);
}

int qmp_execute_fd(int fd, const char *command, struct json_object *args, int pass_fd, struct json_object **reply,
		   unsigned timeout_ms)
{
	_cleanup_json_ struct json_object *req = json_object_new_object();
	json_object_object_add(req, "execute", json_object_new_string(command));
	if (args)
		json_object_object_add(req, "arguments", json_object_get(args));
	const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	/* QEMU may be exiting: a write must fail, not kill the caller. */
	int rc = pass_fd >= 0 ? send_with_fd(fd, s, pass_fd) : util_send_all(fd, s, strlen(s));
	if (rc == 0)
		rc = util_send_all(fd, "\n", 1);
	if (rc < 0)
		return rc;
	_cleanup_json_ struct json_object *msg = NULL;
	rc = qmp_read_message(fd, &msg, timeout_ms);
	if (rc < 0)
		return rc;
	struct json_object *ret;
	if (!json_object_object_get_ex(msg, "return", &ret))
		return -EREMOTEIO;
	if (reply)
		*reply = json_object_get(ret);
	return 0;
}

int qmp_connect(const char *socket_path, unsigned timeout_ms)
{
	_cleanup_close_ int fd = util_unix_connect(socket_path, SOCK_STREAM);
	if (fd < 0)
		return fd;
	_cleanup_json_ struct json_object *greeting = NULL;
	int rc = qmp_read_message(fd, &greeting, timeout_ms);
	if (rc < 0)
		return rc;
	if (!json_object_object_get_ex(greeting, "QMP", NULL))
		return -EPROTO;
	rc = qmp_execute(fd, "qmp_capabilities", NULL, NULL, timeout_ms);
	if (rc < 0)
		return rc;
	return TAKE_FD(fd);
}

int qmp_quit(const char *socket_path, unsigned timeout_ms)
{
	_cleanup_close_ int fd = qmp_connect(socket_path, timeout_ms);
	if (fd < 0)
		return fd;
	int rc = qmp_execute(fd, "quit", NULL, NULL, timeout_ms);
	/* QEMU may close the socket before or after answering "quit". */
	return rc == -EPIPE ? 0 : rc;
}
