/* The monitor's control socket: thin clients (the CLI, later the REST
 * server and the containerd shim) ask for status, stop/start, attach to the
 * logs, and run exec sessions relayed to the agent. Client input is bounded
 * like guest input: frames are capped, and a client that stops reading is
 * dropped rather than allowed to grow the monitor's memory. */
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "frame.h"
#include "image.h"
#include "logfile.h"
#include "monitor.h"
#include "spec.h"
#include "util.h"

#define CLIENT_MAX_BODY (256u * 1024u)
#define CLIENT_OUT_QUEUE_MAX (64u << 20)
#define MAX_CLIENTS 64

struct ctl_client {
	int fd;
	struct frame_reader *in;
	struct frame_writer *out;
	bool attached;     /* receives live log lines */
	bool events;	   /* and Warning events */
	bool *containers;  /* which containers it follows */
	bool close_after_flush;
	bool dead;
	struct ctl_client *next;
};

int monitor_control_listen(struct monitor *m, struct capsid_error *err)
{
	int fd = util_unix_listen(m->paths->control, SOCK_STREAM | SOCK_NONBLOCK, 16);
	if (fd < 0)
		return capsid_error_errno(err, -fd, "listen on %s", m->paths->control);
	m->ctl.listen_fd = fd;
	return 0;
}

static void client_free(struct ctl_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	frame_reader_free(c->in);
	frame_writer_free(c->out);
	free(c->containers);
	free(c);
}

void monitor_control_accept(struct monitor *m)
{
	size_t count = 0;
	for (struct ctl_client *c = m->ctl.clients; c; c = c->next)
		count++;
	int fd = accept4(m->ctl.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (count >= MAX_CLIENTS) {
		close(fd);
		return;
	}
	struct ctl_client *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->in = frame_reader_new(CLIENT_MAX_BODY);
	c->out = frame_writer_new(CLIENT_OUT_QUEUE_MAX);
	c->containers = calloc(m->n_containers ? m->n_containers : 1, sizeof(bool));
	if (!c->in || !c->out || !c->containers) {
		client_free(c);
		return;
	}
	c->next = m->ctl.clients;
	m->ctl.clients = c;
}

int monitor_control_send(struct monitor *m, struct ctl_client *c, uint16_t type, uint32_t id, const void *body,
			 size_t len)
{
	(void)m;
	if (!c || c->dead)
		return -ENOTCONN;
	int rc = frame_writer_queue(c->out, type, id, body, len);
	if (rc == 0)
		rc = frame_writer_flush(c->out, c->fd);
	if (rc < 0) {
		c->dead = true; /* a client that does not read is dropped */
		return rc;
	}
	return 0;
}

int monitor_control_send_json(struct monitor *m, struct ctl_client *c, uint16_t type, uint32_t id,
			      struct json_object *obj)
{
	size_t len;
	const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
	int rc = monitor_control_send(m, c, type, id, s, len);
	json_object_put(obj);
	return rc;
}

static void send_error(struct monitor *m, struct ctl_client *c, uint32_t id, const char *msg)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	monitor_control_send_json(m, c, CAPSID_MSG_ERROR, id, o);
}

static struct json_object *log_line_json(const char *container, int stream, const char *time, bool partial,
					 const char *content, size_t len)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "container", json_object_new_string(container));
	json_object_object_add(o, "stream", json_object_new_string(stream == LOG_STDERR ? "stderr" : "stdout"));
	json_object_object_add(o, "time", json_object_new_string(time));
	json_object_object_add(o, "partial", json_object_new_boolean(partial));
	json_object_object_add(o, "line", json_object_new_string_len(content, (int)len));
	return o;
}

void monitor_control_broadcast_log(struct monitor *m, size_t container, int stream, const char *time, bool partial,
				   const char *content, size_t len)
{
	for (struct ctl_client *c = m->ctl.clients; c; c = c->next) {
		if (!c->attached || c->dead || !c->containers[container])
			continue;
		monitor_control_send_json(m, c, CAPSID_CTL_LOGLINE, 0,
					  log_line_json(m->containers[container].view->name, stream, time, partial,
							content, len));
	}
}

static struct json_object *event_json(const char *container, const char *name, const char *message,
				      const char *time)
{
	struct json_object *o = json_object_new_object();
	if (container)
		json_object_object_add(o, "container", json_object_new_string(container));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "message", json_object_new_string(message));
	json_object_object_add(o, "time", json_object_new_string(time));
	return o;
}

void monitor_control_broadcast_event(struct monitor *m, const char *container, const char *name,
				     const char *message)
{
	char now[VIEW_TIME_LEN];
	util_now_rfc3339(now);
	for (struct ctl_client *c = m->ctl.clients; c; c = c->next)
		if (c->attached && c->events && !c->dead)
			monitor_control_send_json(m, c, CAPSID_CTL_EVENT, 0,
						  event_json(container, name, message, now));
}

/* The Warning events recorded so far (the group's and its followed
 * containers'), oldest first: `run` attaches after `create` returned, and
 * a container that failed to start did so before. */
struct past_event {
	const char *container;
	const struct view_event *e;
};

static int past_event_cmp(const void *a, const void *b)
{
	return strcmp(((const struct past_event *)a)->e->last, ((const struct past_event *)b)->e->last);
}

static void replay_events(struct monitor *m, struct ctl_client *c)
{
	size_t cap = VIEW_MAX_EVENTS * (m->n_containers + 1), n = 0;
	_cleanup_free_ struct past_event *all = calloc(cap, sizeof(*all));
	if (!all) {
		monitor_log(m, "event replay for a client: out of memory");
		return;
	}
	for (size_t k = 0; k <= m->n_containers; k++) {
		bool group = k == m->n_containers;
		if (!group && !c->containers[k])
			continue;
		const struct view_events *ev = group ? &m->view.events : &m->containers[k].view->events;
		for (size_t i = 0; i < ev->n; i++)
			if (!strcmp(ev->items[i].type, "Warning"))
				all[n++] = (struct past_event){group ? NULL : m->containers[k].view->name,
							       &ev->items[i]};
	}
	qsort(all, n, sizeof(*all), past_event_cmp);
	for (size_t i = 0; i < n; i++)
		monitor_control_send_json(
		    m, c, CAPSID_CTL_EVENT, 0,
		    event_json(all[i].container, all[i].e->name, all[i].e->message, all[i].e->last));
}

static int group_exit_code(struct monitor *m)
{
	/* First non-zero exit code in container order, else 0. */
	for (size_t i = 0; i < m->n_containers; i++) {
		const struct view_container_state *s = &m->containers[i].view->current;
		if (s->phase == CONTAINER_TERMINATED && s->exit_code != 0)
			return s->exit_code;
	}
	return 0;
}

static void send_group_end(struct monitor *m, struct ctl_client *c)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string(view_group_phase_name(m->view.phase)));
	json_object_object_add(o, "exitCode", json_object_new_int(group_exit_code(m)));
	if (m->view.detail[0])
		json_object_object_add(o, "detail", json_object_new_string(m->view.detail));
	monitor_control_send_json(m, c, CAPSID_CTL_GROUP_END, 0, o);
	c->attached = false;
	c->close_after_flush = true;
}

void monitor_control_broadcast_end(struct monitor *m)
{
	for (struct ctl_client *c = m->ctl.clients; c; c = c->next)
		if (c->attached && !c->dead)
			send_group_end(m, c);
}

void monitor_control_stop_done(struct monitor *m)
{
	for (size_t i = 0; i < m->ctl.n_stop_waiters; i++) {
		struct ctl_client *c = m->ctl.stop_waiters[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "state", json_object_new_string(view_group_phase_name(m->view.phase)));
		monitor_control_send_json(m, c, CAPSID_MSG_RESPONSE, m->ctl.stop_waiter_ids[i], o);
	}
	m->ctl.n_stop_waiters = 0;
}

void monitor_control_start_done(struct monitor *m, const char *error)
{
	for (size_t i = 0; i < m->ctl.n_start_waiters; i++) {
		if (error)
			send_error(m, m->ctl.start_waiters[i], m->ctl.start_waiter_ids[i], error);
		else
			monitor_control_send_json(m, m->ctl.start_waiters[i], CAPSID_MSG_RESPONSE, m->ctl.start_waiter_ids[i],
						  json_object_new_object());
	}
	m->ctl.n_start_waiters = 0;
}

/* ---- attach: replay the logs merged by time, then follow ---- */

struct attach_replay {
	struct monitor *m;
	struct ctl_client *c;
	const size_t *index; /* file -> container */
};

static void replay_send(size_t file, const struct log_record *rec, void *ud)
{
	struct attach_replay *r = ud;
	monitor_control_send_json(r->m, r->c, CAPSID_CTL_LOGLINE, 0,
				  log_line_json(r->m->containers[r->index[file]].view->name, rec->stream, rec->time,
						rec->partial, rec->content, rec->len));
}

static void handle_attach(struct monitor *m, struct ctl_client *c, uint32_t id, struct json_object *body)
{
	struct json_object *v;
	long tail = -1;
	bool follow = false;
	if (json_object_object_get_ex(body, "tail", &v) && json_object_is_type(v, json_type_int))
		tail = (long)json_object_get_int64(v);
	if (json_object_object_get_ex(body, "follow", &v))
		follow = json_object_get_boolean(v);
	if (json_object_object_get_ex(body, "events", &v))
		c->events = json_object_get_boolean(v);
	bool any = false;
	if (json_object_object_get_ex(body, "containers", &v) && json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) > 0) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			const char *name = json_object_get_string(json_object_array_get_idx(v, i));
			bool found = false;
			for (size_t k = 0; name && k < m->n_containers; k++)
				if (strcmp(m->containers[k].view->name, name) == 0)
					c->containers[k] = found = true;
			if (!found) {
				char msg[160];
				snprintf(msg, sizeof(msg), "no container \"%.64s\" in group %s", name ? name : "",
					 m->paths->name);
				send_error(m, c, id, msg);
				return;
			}
			any = true;
		}
	}
	if (!any)
		for (size_t k = 0; k < m->n_containers; k++)
			c->containers[k] = true;

	/* Replay what was logged, merged by time, then (with follow) go live. */
	char(*paths)[PATH_MAX] = calloc(m->n_containers ? m->n_containers : 1, sizeof(*paths));
	const char **files = calloc(m->n_containers ? m->n_containers : 1, sizeof(*files));
	size_t *index = calloc(m->n_containers ? m->n_containers : 1, sizeof(*index));
	size_t n = 0;
	for (size_t k = 0; paths && files && index && k < m->n_containers; k++) {
		if (!c->containers[k] ||
		    group_log_path(m->paths, m->containers[k].view->name, paths[n], sizeof(paths[n])) < 0)
			continue;
		files[n] = paths[n];
		index[n++] = k;
	}
	struct attach_replay r = {.m = m, .c = c, .index = index};
	if (!paths || !files || !index || log_read_merged(files, n, tail, replay_send, &r) < 0)
		monitor_log(m, "log replay for a client: out of memory");
	free(paths);
	free(files);
	free(index);
	if (!follow) {
		monitor_control_send_json(m, c, CAPSID_MSG_RESPONSE, id, json_object_new_object());
		c->close_after_flush = true;
		return;
	}
	c->attached = true;
	if (c->events)
		replay_events(m, c);
	if (!view_group_phase_active(m->view.phase))
		send_group_end(m, c);
}

/* ---- exec relay ---- */

static struct exec_relay *client_exec(struct monitor *m, struct ctl_client *c, uint32_t id)
{
	for (size_t i = 0; i < m->agent.n_execs; i++)
		if (m->agent.execs[i].client == c && m->agent.execs[i].client_id == id)
			return &m->agent.execs[i];
	return NULL;
}

static void handle_exec(struct monitor *m, struct ctl_client *c, uint32_t id, struct json_object *body)
{
	struct json_object *v;
	const char *name = NULL;
	if (json_object_object_get_ex(body, "container", &v) && json_object_is_type(v, json_type_string))
		name = json_object_get_string(v);
	size_t k = 0;
	if (name) {
		for (k = 0; k < m->n_containers; k++)
			if (strcmp(m->containers[k].view->name, name) == 0)
				break;
	}
	if (k == m->n_containers) {
		send_error(m, c, id, "no such container in this group");
		return;
	}
	if (m->vm.fsm.state != VM_READY || !m->containers[k].running) {
		char msg[160];
		snprintf(msg, sizeof(msg), "container %s is not running", m->containers[k].view->name);
		send_error(m, c, id, msg);
		return;
	}
	struct json_object *args;
	if (!json_object_object_get_ex(body, "args", &args) || !json_object_is_type(args, json_type_array) ||
	    json_object_array_length(args) == 0) {
		send_error(m, c, id, "exec: args must be a non-empty array");
		return;
	}
	size_t running = m->agent.n_execs;
	for (size_t i = 0; i < m->agent.n_pending; i++)
		running += m->agent.pending[i].kind == REQ_EXEC;
	if (running >= m->opts->max_execs) {
		char msg[128];
		snprintf(msg, sizeof(msg), "exec: %zu execs already run in this group, the most at once (CAPSID_MAX_EXECS)",
			 running);
		send_error(m, c, id, msg);
		return;
	}
	uint32_t stream = m->agent.next_stream++;
	struct json_object *req = NULL;
	json_object_deep_copy(body, &req, NULL);
	if (!req) {
		send_error(m, c, id, "out of memory");
		return;
	}
	json_object_object_add(req, "container", json_object_new_string(m->containers[k].view->name));
	json_object_object_add(req, "stream", json_object_new_int64(stream));
	/* The container's own environment is the base of an exec's. */
	if (!json_object_object_get_ex(req, "env", NULL)) {
		const struct spec_container *sc = monitor_spec_container(m, k);
		struct json_object *env = json_object_new_array();
		for (size_t i = 0; i < m->images[k]->n_env; i++)
			json_object_array_add(env, json_object_new_string(m->images[k]->env[i]));
		for (size_t i = 0; i < sc->n_env; i++) {
			_cleanup_free_ char *kv = NULL;
			if (asprintf(&kv, "%s=%s", sc->env[i].name, sc->env[i].value ? sc->env[i].value : "") >= 0)
				json_object_array_add(env, json_object_new_string(kv));
		}
		json_object_object_add(req, "env", env);
	}
	struct pending_req p = {.kind = REQ_EXEC, .client = c, .client_id = id, .stream = stream};
	if (monitor_agent_request(m, CAPSID_MSG_EXEC, req, &p) < 0)
		send_error(m, c, id, "cannot reach the agent");
}

static void forward_to_exec(struct monitor *m, struct ctl_client *c, const struct frame *f)
{
	struct exec_relay *x = client_exec(m, c, f->id);
	if (!x)
		return;
	if (f->type == CAPSID_MSG_STDIN || f->type == CAPSID_MSG_STDIN_CLOSE) {
		if (m->agent.fd >= 0) {
			frame_writer_queue(m->agent.out, f->type, x->stream, f->body, f->length);
			frame_writer_flush(m->agent.out, m->agent.fd);
		}
		return;
	}
	_cleanup_json_ struct json_object *body = frame_body_json(f);
	if (!body)
		return;
	struct json_object *req = json_object_new_object();
	json_object_object_add(req, "stream", json_object_new_int64(x->stream));
	struct json_object *v;
	const char *keys[] = {"rows", "cols", "signal"};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (json_object_object_get_ex(body, keys[i], &v) && json_object_is_type(v, json_type_int))
			json_object_object_add(req, keys[i], json_object_new_int(json_object_get_int(v)));
	struct pending_req p = {.kind = REQ_IGNORE};
	monitor_agent_request(m, f->type, req, &p);
}

static void handle_request(struct monitor *m, struct ctl_client *c, const struct frame *f)
{
	if (f->type == CAPSID_MSG_STDIN || f->type == CAPSID_MSG_STDIN_CLOSE || f->type == CAPSID_MSG_RESIZE ||
	    f->type == CAPSID_MSG_SIGNAL) {
		if (!monitor_stdin_forward(m, c, f))
			forward_to_exec(m, c, f);
		return;
	}
	_cleanup_json_ struct json_object *body = frame_body_json(f);
	if (!body) {
		send_error(m, c, f->id, "request body is not a JSON object");
		return;
	}
	switch (f->type) {
	case CAPSID_CTL_STATUS:
		monitor_control_send_json(m, c, CAPSID_MSG_RESPONSE, f->id, monitor_instance_view(m));
		break;
	case CAPSID_CTL_STOP:
	case CAPSID_CTL_EXIT:
		if (m->ctl.n_stop_waiters == ARRAY_SIZE(m->ctl.stop_waiters)) {
			send_error(m, c, f->id, "too many clients waiting for a stop");
			break;
		}
		m->ctl.stop_waiters[m->ctl.n_stop_waiters] = c;
		m->ctl.stop_waiter_ids[m->ctl.n_stop_waiters++] = f->id;
		monitor_vm_event(m, f->type == CAPSID_CTL_EXIT ? VM_EV_DELETE : VM_EV_STOP, NULL, NULL);
		break;
	case CAPSID_CTL_START:
	case CAPSID_CTL_RESTART: {
		if (m->ctl.n_start_waiters == ARRAY_SIZE(m->ctl.start_waiters)) {
			send_error(m, c, f->id, "too many clients waiting for a start");
			break;
		}
		struct capsid_error err = {0};
		int rc = monitor_vm_event(m, f->type == CAPSID_CTL_RESTART ? VM_EV_RESTART : VM_EV_START, NULL, &err);
		if (rc == -EALREADY) {
			send_error(m, c, f->id, "the group is already running");
			break;
		}
		if (rc < 0) {
			send_error(m, c, f->id, err.msg);
			break;
		}
		/* Answered once every container has started (or failed to). */
		m->ctl.start_waiters[m->ctl.n_start_waiters] = c;
		m->ctl.start_waiter_ids[m->ctl.n_start_waiters++] = f->id;
		break;
	}
	case CAPSID_CTL_ATTACH:
		handle_attach(m, c, f->id, body);
		break;
	case CAPSID_CTL_EXEC:
		handle_exec(m, c, f->id, body);
		break;
	case CAPSID_CTL_ATTACH_STDIN:
		monitor_stdin_attach(m, c, f->id, body);
		break;
	case CAPSID_CTL_POD_ADD:
	case CAPSID_CTL_POD_REMOVE:
	case CAPSID_CTL_POD_SIGNAL: {
		struct capsid_error err = {0};
		struct json_object *reply = NULL;
		if (monitor_pod_request(m, f->type, body, &reply, &err) < 0)
			send_error(m, c, f->id, err.msg);
		else
			monitor_control_send_json(m, c, CAPSID_MSG_RESPONSE, f->id, reply);
		break;
	}
	case CAPSID_CTL_STATS:
		monitor_stats_request(m, c, f->id);
		break;
	default:
		send_error(m, c, f->id, "request type not accepted on the control socket");
		break;
	}
}

void monitor_control_client_io(struct monitor *m, struct ctl_client *c, short revents)
{
	if (c->dead)
		return;
	if (revents & POLLOUT) {
		if (frame_writer_flush(c->out, c->fd) < 0)
			c->dead = true;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		int rc = frame_reader_fill(c->in, c->fd);
		if (rc < 0 && rc != -ENOBUFS) {
			c->dead = true;
			return;
		}
		struct frame f;
		int got;
		while (!c->dead && (got = frame_reader_next(c->in, &f)) == 1)
			handle_request(m, c, &f);
		if (got < 0)
			c->dead = true;
	}
}

size_t monitor_control_pollfds(struct monitor *m, struct pollfd *fds, struct ctl_client **owners, size_t max)
{
	size_t n = 0;
	for (struct ctl_client *c = m->ctl.clients; c && n < max; c = c->next) {
		if (c->dead)
			continue;
		short ev = c->close_after_flush ? 0 : POLLIN;
		if (frame_writer_pending(c->out))
			ev |= POLLOUT;
		fds[n] = (struct pollfd){.fd = c->fd, .events = ev};
		owners[n++] = c;
	}
	return n;
}

static void client_detach_everything(struct monitor *m, struct ctl_client *c)
{
	monitor_stdin_client_gone(m, c);
	for (size_t i = 0; i < m->agent.n_pending; i++)
		if (m->agent.pending[i].client == c)
			m->agent.pending[i].kind = REQ_IGNORE, m->agent.pending[i].client = NULL;
	for (size_t i = 0; i < m->ctl.n_stop_waiters;)
		if (m->ctl.stop_waiters[i] == c) {
			m->ctl.stop_waiters[i] = m->ctl.stop_waiters[--m->ctl.n_stop_waiters];
			m->ctl.stop_waiter_ids[i] = m->ctl.stop_waiter_ids[m->ctl.n_stop_waiters];
		} else {
			i++;
		}
	for (size_t i = 0; i < m->ctl.n_start_waiters;)
		if (m->ctl.start_waiters[i] == c) {
			m->ctl.start_waiters[i] = m->ctl.start_waiters[--m->ctl.n_start_waiters];
			m->ctl.start_waiter_ids[i] = m->ctl.start_waiter_ids[m->ctl.n_start_waiters];
		} else {
			i++;
		}
	for (size_t i = 0; i < m->agent.n_execs;) {
		if (m->agent.execs[i].client != c) {
			i++;
			continue;
		}
		/* The terminal went away: end the session like a hang-up does. */
		if (m->agent.fd >= 0) {
			frame_writer_queue(m->agent.out, CAPSID_MSG_STDIN_CLOSE, m->agent.execs[i].stream, NULL, 0);
			struct json_object *sig = json_object_new_object();
			json_object_object_add(sig, "stream", json_object_new_int64(m->agent.execs[i].stream));
			json_object_object_add(sig, "signal", json_object_new_int(SIGHUP));
			struct pending_req p = {.kind = REQ_IGNORE};
			monitor_agent_request(m, CAPSID_MSG_SIGNAL, sig, &p);
		}
		m->agent.execs[i] = m->agent.execs[--m->agent.n_execs];
	}
}

void monitor_control_reap(struct monitor *m)
{
	struct ctl_client **pp = &m->ctl.clients;
	while (*pp) {
		struct ctl_client *c = *pp;
		bool drained = c->close_after_flush && frame_writer_pending(c->out) == 0 && !client_exec(m, c, 0);
		if (c->dead || drained) {
			*pp = c->next;
			client_detach_everything(m, c);
			client_free(c);
			continue;
		}
		pp = &c->next;
	}
}

void monitor_control_free_all(struct monitor *m)
{
	/* Last words to waiting clients before the monitor exits. */
	for (struct ctl_client *c = m->ctl.clients; c; c = c->next)
		if (!c->dead && frame_writer_pending(c->out))
			util_set_nonblock(c->fd, 0), frame_writer_flush(c->out, c->fd);
	while (m->ctl.clients) {
		struct ctl_client *c = m->ctl.clients;
		m->ctl.clients = c->next;
		client_free(c);
	}
}
