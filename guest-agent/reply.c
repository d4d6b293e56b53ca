#include "reply.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "channel.h"
#include "cleanup.h"
#include "frame.h"
#include "proto.h"

_Static_assert(REPLY_NAME_MAX == AGENT_NAME_MAX + 1, "a container name fits a reply_to");

/* The verb an error names a request by; exec errors say where they ran. */
static const char *request_verb(uint16_t type, enum reply_subject subject)
{
	switch (type) {
	case CAPSID_MSG_NEGOTIATE:
		return "negotiate";
	case CAPSID_MSG_CREATE:
		return "create";
	case CAPSID_MSG_START:
		return "start";
	case CAPSID_MSG_EXEC:
		return subject == REPLY_ABOUT_CONTAINER ? "exec in" : "exec";
	case CAPSID_MSG_SIGNAL:
		return "signal";
	case CAPSID_MSG_DELETE:
		return "delete";
	case CAPSID_MSG_SHUTDOWN:
		return "shutdown";
	case CAPSID_MSG_RESIZE:
		return "resize";
	case CAPSID_MSG_STATS:
		return "stats";
	case CAPSID_MSG_NETWORK:
		return "network";
	case CAPSID_MSG_VOLUMES:
		return "volumes";
	case CAPSID_MSG_IDENTITY:
		return "identity";
	default:
		return frame_type_name(type);
	}
}

struct reply_to reply_to_frame(uint32_t id, uint16_t type)
{
	return (struct reply_to){.id = id, .type = type, .subject = REPLY_ABOUT_FRAME};
}

void reply_about_container(struct reply_to *to, const char *name)
{
	to->subject = REPLY_ABOUT_CONTAINER;
	snprintf(to->container, sizeof(to->container), "%s", name);
}

void reply_about_stream(struct reply_to *to, uint32_t stream)
{
	to->subject = REPLY_ABOUT_STREAM;
	to->stream = stream;
}

struct reply reply_ok(struct json_object *body)
{
	return (struct reply){.status = REPLY_OK, .body = body};
}

struct reply reply_deferred(void)
{
	return (struct reply){.status = REPLY_DEFERRED};
}

struct reply reply_error(const char *fmt, ...)
{
	struct reply r = {.status = REPLY_ERROR};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r.error, sizeof(r.error), fmt, ap);
	va_end(ap);
	return r;
}

struct reply reply_failed(const struct capsid_error *err)
{
	if (!err->msg[0])
		return reply_error("%s", strerror(err->code ? err->code : EIO));
	return reply_error("%s", err->msg);
}

void reply_format_error(const struct reply_to *to, const char *cause, char *out, size_t len)
{
	const char *verb = request_verb(to->type, to->subject);
	switch (to->subject) {
	case REPLY_ABOUT_INPUT:
		snprintf(out, len, "%s", cause);
		break;
	case REPLY_ABOUT_FRAME:
		snprintf(out, len, "%s: %s", frame_type_name(to->type), cause);
		break;
	case REPLY_ABOUT_REQUEST:
		snprintf(out, len, "%s: %s", verb, cause);
		break;
	case REPLY_ABOUT_CONTAINER:
		snprintf(out, len, "%s %s: %s", verb, to->container, cause);
		break;
	case REPLY_ABOUT_STREAM:
		snprintf(out, len, "%s stream %u: %s", verb, to->stream, cause);
		break;
	}
}

void reply_send(struct agent *a, const struct reply_to *to, struct reply *r)
{
	if (r->status == REPLY_DEFERRED)
		return;
	if (r->status == REPLY_OK) {
		_cleanup_json_ struct json_object *body = r->body ? r->body : json_object_new_object();
		r->body = NULL;
		int rc = body ? channel_send_json(a->ch, CAPSID_MSG_RESPONSE, to->id, body) : -ENOMEM;
		if (rc < 0)
			log_error(a, "answer to request %u lost: %s", to->id, strerror(-rc));
		return;
	}
	char msg[REPLY_TEXT_MAX];
	reply_format_error(to, r->error, msg, sizeof(msg));
	log_info(a, "request %u failed: %s", to->id, msg);
	_cleanup_json_ struct json_object *o = json_object_new_object();
	if (o)
		json_object_object_add(o, "error", json_object_new_string(msg));
	int rc = o ? channel_send_json(a->ch, CAPSID_MSG_ERROR, to->id, o) : -ENOMEM;
	if (rc < 0)
		log_error(a, "error answer to request %u lost: %s", to->id, strerror(-rc));
}
