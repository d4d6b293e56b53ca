#include "dispatch.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "cleanup.h"
#include "container.h"
#include "identity.h"
#include "lifecycle.h"
#include "process.h"
#include "request.h"
#include "runtime.h"
#include "shutdown.h"
#include "volume.h"

#define AGENT_VERSION "capsid-agent 0.1"

void dispatch_hello(struct agent *a)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	if (!o)
		return;
	json_object_object_add(o, "min", json_object_new_int(CAPSID_PROTO_VERSION_MIN));
	json_object_object_add(o, "max", json_object_new_int(CAPSID_PROTO_VERSION_MAX));
	json_object_object_add(o, "agent", json_object_new_string(AGENT_VERSION));
	json_object_object_add(o, "kernel", json_object_new_string(a->kernel));
	struct json_object *rt = json_object_new_array();
	static const char *const runtimes[] = {"builtin", "crun", "runc"};
	for (size_t i = 0; i < ARRAY_SIZE(runtimes); i++)
		if (runtime_present(runtimes[i]))
			json_object_array_add(rt, json_object_new_string(runtimes[i]));
	json_object_object_add(o, "runtimes", rt);
	channel_send_json(a->ch, CAPSID_MSG_HELLO, 0, o);
}

static void negotiate(struct agent *a, uint32_t id, struct json_object *body)
{
	struct capsid_error err = {0};
	unsigned v;
	if (request_parse_negotiate(body, &v, &err) < 0) {
		agent_respond_error(a, id, "negotiate: %s", err.msg);
		return;
	}
	a->negotiated = true;
	a->version = v;
	struct json_object *o = json_object_new_object();
	if (o)
		json_object_object_add(o, "version", json_object_new_int((int)v));
	agent_respond(a, id, o);
}

static void resize(struct agent *a, uint32_t id, struct json_object *body)
{
	struct capsid_error err = {0};
	struct request_resize req;
	if (request_parse_resize(body, &req, &err) < 0) {
		agent_respond_error(a, id, "resize: %s", err.msg);
		return;
	}
	struct stream *s = agent_stream(a, req.stream);
	if (!s) {
		agent_respond_error(a, id, "resize: no stream %u", req.stream);
		return;
	}
	if (!s->tty) {
		agent_respond_error(a, id, "resize: stream %u has no tty", req.stream);
		return;
	}
	if (s->out_fd < 0) {
		/* Not attached yet (exec in progress): remember for the attach. */
		s->rows = req.rows;
		s->cols = req.cols;
		agent_respond(a, id, NULL);
		return;
	}
	int rc = stream_resize(s, req.rows, req.cols);
	if (rc < 0)
		agent_respond_error(a, id, "resize stream %u: %s", req.stream, strerror(-rc));
	else
		agent_respond(a, id, NULL);
}

static void stats(struct agent *a, uint32_t id)
{
	struct json_object *o = json_object_new_object();
	struct json_object *c = container_stats(a);
	if (!o || !c) {
		json_object_put(o);
		json_object_put(c);
		agent_respond_error(a, id, "stats: out of memory");
		return;
	}
	json_object_object_add(o, "containers", c);
	agent_respond(a, id, o);
}

static void stdin_data(struct agent *a, const struct frame *f)
{
	struct stream *s = agent_stream(a, f->id);
	if (!s) {
		log_debug(a, "stdin for unknown stream %u dropped", f->id);
		return;
	}
	if (f->type == CAPSID_MSG_STDIN_CLOSE) {
		stream_stdin_close(a, s);
		return;
	}
	int rc = stream_stdin(a, s, f->body, f->length);
	if (rc == -ENOBUFS)
		log_warn(a, "stream %u: stdin buffer full, %u bytes dropped", f->id, f->length);
	else if (rc < 0 && rc != -EPIPE)
		log_warn(a, "stream %u: stdin: %s", f->id, strerror(-rc));
}

static void identity(struct agent *a, uint32_t id, struct json_object *body)
{
	struct capsid_error err = {0};
	struct request_identity req;
	int rc = request_parse_identity(body, &req, &err);
	if (rc >= 0)
		rc = identity_apply(&req, &err);
	explicit_bzero(req.entropy, sizeof(req.entropy));
	if (rc < 0)
		agent_respond_error(a, id, "identity: %s", err.msg);
	else
		agent_respond(a, id, NULL);
}

static void volumes(struct agent *a, uint32_t id, struct json_object *body)
{
	struct capsid_error err = {0};
	struct request_volume v[REQUEST_MAX_VOLUMES];
	size_t n = 0;
	if (request_parse_volumes(body, v, &n, &err) < 0 || volume_define(a, v, n, &err) < 0)
		agent_respond_error(a, id, "volumes: %s", err.msg);
	else
		agent_respond(a, id, NULL);
}

void dispatch_frame(struct agent *a, const struct frame *f)
{
	if (f->type == CAPSID_MSG_STDIN || f->type == CAPSID_MSG_STDIN_CLOSE) {
		if (a->negotiated)
			stdin_data(a, f);
		return;
	}
	bool request = f->type >= CAPSID_MSG_NEGOTIATE && f->type <= CAPSID_MSG_IDENTITY;
	if (!request) {
		agent_respond_error(a, f->id, "unexpected frame type %s from the host",
				    frame_type_name(f->type));
		return;
	}
	_cleanup_json_ struct json_object *body = frame_body_json(f);
	if (!body) {
		agent_respond_error(a, f->id, "%s: the body is not a JSON object", frame_type_name(f->type));
		return;
	}
	if (f->type == CAPSID_MSG_NEGOTIATE) {
		negotiate(a, f->id, body);
		return;
	}
	if (!a->negotiated) {
		agent_respond_error(a, f->id,
				    "%s: protocol version not negotiated yet (send NEGOTIATE first)",
				    frame_type_name(f->type));
		return;
	}
	if (a->shutdown.active && f->type != CAPSID_MSG_STATS) {
		agent_respond_error(a, f->id, "%s: the guest is shutting down", frame_type_name(f->type));
		return;
	}
	switch (f->type) {
	case CAPSID_MSG_CREATE:
		lifecycle_create(a, f->id, body);
		break;
	case CAPSID_MSG_START:
		lifecycle_start(a, f->id, body);
		break;
	case CAPSID_MSG_EXEC:
		lifecycle_exec(a, f->id, body);
		break;
	case CAPSID_MSG_SIGNAL:
		lifecycle_signal(a, f->id, body);
		break;
	case CAPSID_MSG_DELETE:
		lifecycle_delete(a, f->id, body);
		break;
	case CAPSID_MSG_SHUTDOWN:
		shutdown_begin(a, f->id, body);
		break;
	case CAPSID_MSG_RESIZE:
		resize(a, f->id, body);
		break;
	case CAPSID_MSG_STATS:
		stats(a, f->id);
		break;
	case CAPSID_MSG_NETWORK: {
		struct capsid_error err = {0};
		if (agent_net_configure(body, &a->net, &err) < 0)
			agent_respond_error(a, f->id, "network: %s", err.msg);
		else
			agent_respond(a, f->id, NULL);
		break;
	}
	case CAPSID_MSG_VOLUMES:
		volumes(a, f->id, body);
		break;
	case CAPSID_MSG_IDENTITY:
		identity(a, f->id, body);
		break;
	default:
		agent_respond_error(a, f->id, "unexpected frame type %s from the host",
				    frame_type_name(f->type));
		break;
	}
}
