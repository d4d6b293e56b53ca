/* Attach sessions to a container's own stdin and terminal
 * (CAPSID_CTL_ATTACH_STDIN): a container whose spec asks for stdin or a tty
 * gets them from the agent at CREATE (a pipe, or a pty of its own devpts
 * instance); a control client attaches to the current run and its STDIN,
 * STDIN_CLOSE and RESIZE frames go to that run's stream, the way an exec's
 * do. Output is not part of the session: it goes to the container's log
 * like every run's (a tty's partial lines included, see monitor_agent.c),
 * so `logs --follow` is the other half. When the run ends every session
 * on it gets EXIT {"exitCode"}, so a later run (a restart) never receives
 * input meant for an earlier one. */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "frame.h"
#include "monitor.h"
#include "spec.h"
#include "util.h"

__attribute__((format(printf, 4, 5))) static void refuse(struct monitor *m, struct ctl_client *c, uint32_t id,
							  const char *fmt, ...)
{
	va_list ap;
	char msg[256];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	monitor_control_send_json(m, c, CAPSID_MSG_ERROR, id, o);
}

void monitor_stdin_attach(struct monitor *m, struct ctl_client *c, uint32_t id, struct json_object *body)
{
	struct json_object *v;
	const char *name = NULL;
	if (json_object_object_get_ex(body, "container", &v) && json_object_is_type(v, json_type_string))
		name = json_object_get_string(v);
	if (!name) {
		refuse(m, c, id, "attach: container must be a string");
		return;
	}
	size_t k;
	for (k = 0; k < m->n_containers; k++)
		if (strcmp(m->containers[k].view->name, name) == 0)
			break;
	if (k == m->n_containers) {
		refuse(m, c, id, "attach: no container %.64s in this group", name);
		return;
	}
	const struct spec_container *sc = monitor_spec_container(m, k);
	const struct mcontainer *mc = &m->containers[k];
	if (!sc->open_stdin && !sc->tty) {
		refuse(m, c, id, "attach: container %.64s has neither stdin nor tty in its spec", name);
		return;
	}
	/* stream is set from CREATE until the run's end: the agent has the
	 * stream, so input can be queued behind START. */
	if (m->vm.fsm.state != VM_READY || !mc->stream || mc->exited) {
		refuse(m, c, id, "attach: container %.64s is not running", name);
		return;
	}
	if (m->ctl.n_attaches == MONITOR_MAX_STDIN_ATTACHES) {
		refuse(m, c, id, "attach: too many clients attached to this group's stdin");
		return;
	}
	for (size_t i = 0; i < m->ctl.n_attaches; i++)
		if (m->ctl.attaches[i].client == c && m->ctl.attaches[i].client_id == id) {
			refuse(m, c, id, "attach: request id in use");
			return;
		}
	m->ctl.attaches[m->ctl.n_attaches++] =
		(struct stdin_attach){.client = c, .client_id = id, .stream = mc->stream};
	monitor_control_send_json(m, c, CAPSID_MSG_RESPONSE, id, json_object_new_object());
}

static struct stdin_attach *find(struct monitor *m, struct ctl_client *c, uint32_t id)
{
	for (size_t i = 0; i < m->ctl.n_attaches; i++)
		if (m->ctl.attaches[i].client == c && m->ctl.attaches[i].client_id == id)
			return &m->ctl.attaches[i];
	return NULL;
}

static int size_field(struct json_object *o, const char *key, int *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -EINVAL;
	int64_t x = json_object_get_int64(v);
	if (x < 1 || x > 65535)
		return -ERANGE;
	*out = (int)x;
	return 0;
}

bool monitor_stdin_forward(struct monitor *m, struct ctl_client *c, const struct frame *f)
{
	struct stdin_attach *a = find(m, c, f->id);
	if (!a)
		return false;
	size_t k;
	for (k = 0; k < m->n_containers; k++)
		if (m->containers[k].stream == a->stream)
			break;
	if (k == m->n_containers || m->agent.fd < 0)
		return true; /* the run is over: its EXIT is on the way */
	if (f->type == CAPSID_MSG_STDIN || f->type == CAPSID_MSG_STDIN_CLOSE) {
		frame_writer_queue(m->agent.out, f->type, a->stream, f->body, f->length);
		frame_writer_flush(m->agent.out, m->agent.fd);
		return true;
	}
	if (f->type != CAPSID_MSG_RESIZE || !monitor_spec_container(m, k)->tty)
		return true;
	_cleanup_json_ struct json_object *body = frame_body_json(f);
	int rows, cols;
	if (!body || size_field(body, "rows", &rows) < 0 || size_field(body, "cols", &cols) < 0)
		return true;
	struct json_object *req = json_object_new_object();
	json_object_object_add(req, "stream", json_object_new_int64(a->stream));
	json_object_object_add(req, "rows", json_object_new_int(rows));
	json_object_object_add(req, "cols", json_object_new_int(cols));
	struct pending_req p = {.kind = REQ_IGNORE};
	monitor_agent_request(m, CAPSID_MSG_RESIZE, req, &p);
	return true;
}

void monitor_stdin_run_ended(struct monitor *m, uint32_t stream, int exit_code)
{
	for (size_t i = 0; i < m->ctl.n_attaches;) {
		struct stdin_attach *a = &m->ctl.attaches[i];
		if (stream && a->stream != stream) {
			i++;
			continue;
		}
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "exitCode", json_object_new_int(exit_code));
		monitor_control_send_json(m, a->client, CAPSID_MSG_EXIT, a->client_id, o);
		*a = m->ctl.attaches[--m->ctl.n_attaches];
	}
}

void monitor_stdin_client_gone(struct monitor *m, struct ctl_client *c)
{
	for (size_t i = 0; i < m->ctl.n_attaches;)
		if (m->ctl.attaches[i].client == c)
			m->ctl.attaches[i] = m->ctl.attaches[--m->ctl.n_attaches];
		else
			i++;
}
