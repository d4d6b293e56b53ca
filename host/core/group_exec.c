/* exec: a command in a running container, its streams relayed between the
 * caller's descriptors and the monitor (which relays them to the agent). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "capsid.h"
#include "cleanup.h"
#include "core_internal.h"
#include "frame.h"
#include "group.h"
#include "util.h"

/* The spec's first container: the default target, as ACI's exec has it. */
static struct json_object *first_container(const struct group_paths *p)
{
	_cleanup_free_ char *text = NULL;
	if (util_read_file_at(AT_FDCWD, p->spec, 1u << 20, &text, NULL) < 0)
		return NULL;
	_cleanup_json_ struct json_object *doc = json_tokener_parse(text);
	struct json_object *containers = core_get(core_get(doc, "properties", NULL), "containers", NULL);
	if (!containers || json_object_array_length(containers) == 0)
		return NULL;
	struct json_object *name = core_get(json_object_array_get_idx(containers, 0), "name", NULL);
	return name ? json_object_get(name) : NULL;
}

static void send_resize(int fd, uint32_t id, int tty_fd)
{
	struct winsize ws;
	if (ioctl(tty_fd, TIOCGWINSZ, &ws) < 0)
		return;
	_cleanup_json_ struct json_object *o = json_object_new_object();
	json_object_object_add(o, "rows", json_object_new_int(ws.ws_row));
	json_object_object_add(o, "cols", json_object_new_int(ws.ws_col));
	frame_write_json_blocking(fd, CAPSID_MSG_RESIZE, id, o);
}

static int relay(int fd, const struct capsid_exec_opts *o, int *exit_code, struct capsid_error *err)
{
	const uint32_t id = 1;
	bool stdin_open = o->in_fd >= 0;
	/* A terminal stays open without input: closing it would hang it up. */
	if (!stdin_open && !o->tty)
		frame_write_blocking(fd, CAPSID_MSG_STDIN_CLOSE, id, NULL, 0);
	for (;;) {
		if (o->resized && *o->resized) {
			*o->resized = 0;
			if (o->tty_fd >= 0)
				send_resize(fd, id, o->tty_fd);
		}
		struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = o->in_fd, .events = POLLIN}};
		int r = poll(pfd, stdin_open ? 2 : 1, -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return capsid_error_errno(err, errno, "exec: poll");
		}
		if (stdin_open && pfd[1].revents) {
			char buf[CAPSID_FRAME_DATA_CHUNK];
			ssize_t n = read(o->in_fd, buf, sizeof(buf));
			if (n > 0) {
				frame_write_blocking(fd, CAPSID_MSG_STDIN, id, buf, (size_t)n);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				stdin_open = false;
				if (!o->tty)
					frame_write_blocking(fd, CAPSID_MSG_STDIN_CLOSE, id, NULL, 0);
			}
		}
		if (!pfd[0].revents)
			continue;
		struct frame f;
		_cleanup_free_ uint8_t *body = NULL;
		if (frame_read_blocking(fd, CAPSID_FRAME_MAX_BODY, &f, &body) < 0)
			return capsid_error_set(err, EPIPE, "exec: the monitor closed the session");
		if (f.type == CAPSID_MSG_STDOUT) {
			util_write_all(o->out_fd, f.body, f.length);
		} else if (f.type == CAPSID_MSG_STDERR) {
			util_write_all(o->err_fd, f.body, f.length);
		} else if (f.type == CAPSID_MSG_EXIT) {
			_cleanup_json_ struct json_object *m = frame_body_json(&f);
			struct json_object *code = core_get(m, "exitCode", NULL);
			*exit_code = code ? json_object_get_int(code) & 0xff : 255;
			return 0;
		}
	}
}

int capsid_group_exec(const struct capsid_config *cfg, const char *name, const struct capsid_exec_opts *o,
		      int *exit_code, struct capsid_error *err)
{
	*exit_code = 255;
	if (!o->argc || !o->argv || !o->argv[0])
		return capsid_error_set(err, EINVAL, "exec: a command is required");
	struct group_paths p;
	int rc = group_paths_init(cfg->root, name, &p, err);
	if (rc < 0)
		return rc;
	if (group_monitor_alive(&p) <= 0)
		return capsid_error_set(err, ESRCH, "exec: group %s is not running", p.name);
	_cleanup_json_ struct json_object *cname = o->container ? json_object_new_string(o->container)
							       : first_container(&p);
	if (!cname)
		return capsid_error_set(err, ENOENT, "exec: group %s not found", p.name);
	_cleanup_close_ int fd = group_connect(&p, err);
	if (fd < 0)
		return fd;
	_cleanup_json_ struct json_object *req = json_object_new_object();
	json_object_object_add(req, "container", json_object_get(cname));
	struct json_object *args = json_object_new_array();
	for (size_t i = 0; i < o->argc; i++)
		json_object_array_add(args, json_object_new_string(o->argv[i]));
	json_object_object_add(req, "args", args);
	json_object_object_add(req, "tty", json_object_new_boolean(o->tty));
	json_object_object_add(req, "rows", json_object_new_int(o->rows ? (int)o->rows : 24));
	json_object_object_add(req, "cols", json_object_new_int(o->cols ? (int)o->cols : 80));
	if (frame_write_json_blocking(fd, CAPSID_CTL_EXEC, 1, req) < 0)
		return capsid_error_set(err, EPIPE, "exec: cannot reach the monitor of %s", p.name);
	struct frame f;
	_cleanup_free_ uint8_t *body = NULL;
	if (frame_read_blocking(fd, CAPSID_FRAME_MAX_BODY, &f, &body) < 0)
		return capsid_error_set(err, EPIPE, "exec: the monitor closed the session");
	if (f.type == CAPSID_MSG_ERROR) {
		_cleanup_json_ struct json_object *m = frame_body_json(&f);
		struct json_object *e = core_get(m, "error", NULL);
		return capsid_error_set(err, EREMOTEIO, "exec: %s", e ? json_object_get_string(e) : "failed");
	}
	return relay(fd, o, exit_code, err);
}
