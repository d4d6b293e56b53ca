/* Attach to a container's own stdin and terminal: one control connection
 * per session (CAPSID_CTL_ATTACH_STDIN); the monitor relays STDIN,
 * STDIN_CLOSE and RESIZE to the run attached to and sends EXIT when that
 * run ends. */
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "capsid.h"
#include "cleanup.h"
#include "core_internal.h"
#include "frame.h"
#include "group.h"

#define ATTACH_ID 1

struct capsid_attach {
	int fd;
	pthread_mutex_t lock; /* one frame at a time on fd */
	bool ended;
	int exit_code;
};

int capsid_group_attach(const struct capsid_config *cfg, const char *name, const char *container,
			struct capsid_attach **out, struct capsid_error *err)
{
	*out = NULL;
	if (!container || !*container)
		return capsid_error_set(err, EINVAL, "attach: a container is required");
	struct group_paths p;
	int rc = group_paths_init(cfg->root, name, &p, err);
	if (rc < 0)
		return rc;
	if (group_monitor_alive(&p) <= 0)
		return capsid_error_set(err, ESRCH, "attach: group %s is not running", p.name);
	_cleanup_close_ int fd = group_connect(&p, err);
	if (fd < 0)
		return fd;
	_cleanup_json_ struct json_object *req = json_object_new_object();
	json_object_object_add(req, "container", json_object_new_string(container));
	if (frame_write_json_blocking(fd, CAPSID_CTL_ATTACH_STDIN, ATTACH_ID, req) < 0)
		return capsid_error_set(err, EPIPE, "attach: cannot reach the monitor of %s", p.name);
	struct frame f;
	_cleanup_free_ uint8_t *body = NULL;
	if (frame_read_blocking(fd, CAPSID_FRAME_MAX_BODY, &f, &body) < 0)
		return capsid_error_set(err, EPIPE, "attach: the monitor closed the session");
	if (f.type != CAPSID_MSG_RESPONSE) {
		_cleanup_json_ struct json_object *m = frame_body_json(&f);
		struct json_object *e = core_get(m, "error", NULL);
		return capsid_error_set(err, EREMOTEIO, "%s", e ? json_object_get_string(e) : "attach: refused");
	}
	struct capsid_attach *a = calloc(1, sizeof(*a));
	if (!a)
		return capsid_error_set(err, ENOMEM, "out of memory");
	a->fd = TAKE_FD(fd);
	pthread_mutex_init(&a->lock, NULL);
	*out = a;
	return 0;
}

static int send_frame(struct capsid_attach *a, uint16_t type, const void *data, size_t len)
{
	pthread_mutex_lock(&a->lock);
	int rc = frame_write_blocking(a->fd, type, ATTACH_ID, data, len);
	pthread_mutex_unlock(&a->lock);
	return rc < 0 ? -EPIPE : 0;
}

int capsid_attach_write(struct capsid_attach *a, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		size_t n = len < CAPSID_FRAME_DATA_CHUNK ? len : CAPSID_FRAME_DATA_CHUNK;
		int rc = send_frame(a, CAPSID_MSG_STDIN, p, n);
		if (rc < 0)
			return rc;
		p += n;
		len -= n;
	}
	return 0;
}

int capsid_attach_close_stdin(struct capsid_attach *a)
{
	return send_frame(a, CAPSID_MSG_STDIN_CLOSE, NULL, 0);
}

int capsid_attach_resize(struct capsid_attach *a, unsigned rows, unsigned cols)
{
	if (rows == 0 || cols == 0 || rows > 65535 || cols > 65535)
		return -EINVAL;
	_cleanup_json_ struct json_object *o = json_object_new_object();
	json_object_object_add(o, "rows", json_object_new_int((int)rows));
	json_object_object_add(o, "cols", json_object_new_int((int)cols));
	pthread_mutex_lock(&a->lock);
	int rc = frame_write_json_blocking(a->fd, CAPSID_MSG_RESIZE, ATTACH_ID, o);
	pthread_mutex_unlock(&a->lock);
	return rc < 0 ? -EPIPE : 0;
}

int capsid_attach_wait(struct capsid_attach *a, int timeout_ms, int *exit_code)
{
	while (!a->ended) {
		struct pollfd p = {.fd = a->fd, .events = POLLIN};
		int r = poll(&p, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return 0;
		struct frame f;
		_cleanup_free_ uint8_t *body = NULL;
		if (frame_read_blocking(a->fd, CAPSID_FRAME_MAX_BODY, &f, &body) < 0)
			return -EPIPE;
		if (f.type != CAPSID_MSG_EXIT)
			continue;
		_cleanup_json_ struct json_object *m = frame_body_json(&f);
		struct json_object *code = core_get(m, "exitCode", NULL);
		a->exit_code = code ? json_object_get_int(code) : 255;
		a->ended = true;
	}
	*exit_code = a->exit_code;
	return 1;
}

void capsid_attach_free(struct capsid_attach *a)
{
	if (!a)
		return;
	close(a->fd);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
