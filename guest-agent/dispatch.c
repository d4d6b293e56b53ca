#include "dispatch.h"
#include "stats.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "cleanup.h"
#include "container.h"
#include "identity.h"
#include "lifecycle.h"
#include "reply.h"
#include "request.h"
#include "runtime.h"
#include "shutdown.h"
#include "stream.h"
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

static struct reply negotiate(struct agent *a, struct json_object *body)
{
	struct capsid_error err = {0};
	unsigned v;
	if (request_parse_negotiate(body, &v, &err) < 0)
		return reply_failed(&err);
	a->negotiated = true;
	a->version = v;
	struct json_object *o = json_object_new_object();
	if (o)
		json_object_object_add(o, "version", json_object_new_int((int)v));
	return reply_ok(o);
}

static struct reply resize(struct agent *a, struct reply_to *to, struct json_object *body)
{
	struct capsid_error err = {0};
	struct request_resize req;
	if (request_parse_resize(body, &req, &err) < 0)
		return reply_failed(&err);
	struct stream *s = agent_stream(a, req.stream);
	if (!s)
		return reply_error("no stream %u", req.stream);
	if (!s->tty)
		return reply_error("stream %u has no tty", req.stream);
	if (s->out_fd < 0) {
		/* Not attached yet (exec in progress): remember for the attach. */
		s->rows = req.rows;
		s->cols = req.cols;
		return reply_ok(NULL);
	}
	reply_about_stream(to, req.stream);
	int rc = stream_resize(s, req.rows, req.cols);
	if (rc < 0)
		return reply_error("%s", strerror(-rc));
	return reply_ok(NULL);
}

static struct reply stats(struct agent *a)
{
	struct json_object *o = stats_collect(a);
	return o ? reply_ok(o) : reply_error("out of memory");
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

static struct reply identity(struct json_object *body)
{
	struct capsid_error err = {0};
	struct request_identity req;
	int rc = request_parse_identity(body, &req, &err);
	if (rc >= 0)
		rc = identity_apply(&req, &err);
	explicit_bzero(req.entropy, sizeof(req.entropy));
	return rc < 0 ? reply_failed(&err) : reply_ok(NULL);
}

static struct reply volumes(struct agent *a, struct json_object *body)
{
	struct capsid_error err = {0};
	struct request_volume v[REQUEST_MAX_VOLUMES];
	size_t n = 0;
	if (request_parse_volumes(body, v, &n, &err) < 0 || volume_define(a, v, n, &err) < 0)
		return reply_failed(&err);
	return reply_ok(NULL);
}

static struct reply network(struct agent *a, struct json_object *body)
{
	struct capsid_error err = {0};
	if (agent_net_configure(body, &a->net, &err) < 0)
		return reply_failed(&err);
	return reply_ok(NULL);
}

/* A request of a negotiated session: its handler's result. Errors name the
 * request ("create: ") until the handler names its target. */
static struct reply route(struct agent *a, const struct frame *f, struct reply_to *to,
			  struct json_object *body)
{
	to->subject = REPLY_ABOUT_REQUEST;
	switch (f->type) {
	case CAPSID_MSG_CREATE:
		return lifecycle_create(a, to, body);
	case CAPSID_MSG_START:
		return lifecycle_start(a, to, body);
	case CAPSID_MSG_EXEC:
		return lifecycle_exec(a, to, body);
	case CAPSID_MSG_SIGNAL:
		return lifecycle_signal(a, to, body);
	case CAPSID_MSG_DELETE:
		return lifecycle_delete(a, to, body);
	case CAPSID_MSG_SHUTDOWN:
		return shutdown_begin(a, to, body);
	case CAPSID_MSG_RESIZE:
		return resize(a, to, body);
	case CAPSID_MSG_STATS:
		return stats(a);
	case CAPSID_MSG_NETWORK:
		return network(a, body);
	case CAPSID_MSG_VOLUMES:
		return volumes(a, body);
	case CAPSID_MSG_IDENTITY:
		return identity(body);
	default:
		to->subject = REPLY_ABOUT_FRAME;
		return reply_error("unexpected frame type from the host");
	}
}

/* A frame that asks for an answer: the protocol's checks, then its handler. */
static struct reply request(struct agent *a, const struct frame *f, struct reply_to *to)
{
	if (f->id == 0)
		return reply_error("request id 0 is reserved");
	if (f->type < CAPSID_MSG_NEGOTIATE || f->type > CAPSID_MSG_IDENTITY)
		return reply_error("unexpected frame type from the host");
	_cleanup_json_ struct json_object *body = frame_body_json(f);
	if (!body)
		return reply_error("the body is not a JSON object");
	if (f->type == CAPSID_MSG_NEGOTIATE) {
		to->subject = REPLY_ABOUT_REQUEST;
		return negotiate(a, body);
	}
	if (!a->negotiated)
		return reply_error("protocol version not negotiated yet (send NEGOTIATE first)");
	if (a->shutdown.active && f->type != CAPSID_MSG_STATS)
		return reply_error("the guest is shutting down");
	return route(a, f, to, body);
}

void dispatch_frame(struct agent *a, const struct frame *f)
{
	if (f->type == CAPSID_MSG_STDIN || f->type == CAPSID_MSG_STDIN_CLOSE) {
		if (a->negotiated)
			stdin_data(a, f);
		return;
	}
	struct reply_to to = reply_to_frame(f->id, f->type);
	struct reply r = request(a, f, &to);
	reply_send(a, &to, &r);
}

void dispatch_malformed(struct agent *a, int rc)
{
	struct reply_to to = {.subject = REPLY_ABOUT_INPUT};
	struct reply r = reply_error("%s", rc == -EMSGSIZE ? "frame too large" : "malformed frame header");
	reply_send(a, &to, &r);
}
