/* Answers to the host's requests. A request handler returns a struct reply:
 * the RESPONSE body, the cause of an ERROR, or that a runtime job answers
 * later. reply_send is the one place that sends RESPONSE and ERROR frames;
 * it also makes every error's prefix ("create web: ", "exec in web: ",
 * "resize stream 5: ", "CREATE: ") from what the request is about, so a
 * handler only says what went wrong. A job keeps its request's struct
 * reply_to and completes through reply_send too. */
#ifndef AGENT_REPLY_H
#define AGENT_REPLY_H

#include <stdint.h>

#include "error.h"
#include "proto.h"

struct agent;
struct json_object;

/* Room for a container name (AGENT_NAME_MAX) and its NUL. */
#define REPLY_NAME_MAX 64
/* An error's whole text, prefix included. */
#define REPLY_TEXT_MAX CAPSID_AGENT_ERROR_MAX

enum reply_status {
	REPLY_OK,	/* RESPONSE with body */
	REPLY_ERROR,	/* ERROR with the prefix and error */
	REPLY_DEFERRED, /* a job (or the shutdown) answers later */
};

struct reply {
	enum reply_status status;
	struct json_object *body;   /* REPLY_OK: owned, NULL for {} */
	char error[REPLY_TEXT_MAX]; /* REPLY_ERROR: the cause, without the prefix */
};

/* What the answer is about: it chooses the error prefix. */
enum reply_subject {
	REPLY_ABOUT_INPUT,     /* the host's input as such (a malformed frame): no prefix */
	REPLY_ABOUT_FRAME,     /* the frame (protocol state, its body): "CREATE: " */
	REPLY_ABOUT_REQUEST,   /* the request before it named a target: "create: " */
	REPLY_ABOUT_CONTAINER, /* "create web: ", "exec in web: " */
	REPLY_ABOUT_STREAM,    /* "resize stream 5: " */
};

/* The request an answer goes to. */
struct reply_to {
	uint32_t id;
	uint16_t type; /* the request's frame type */
	enum reply_subject subject;
	char container[REPLY_NAME_MAX];
	uint32_t stream;
};

struct reply_to reply_to_frame(uint32_t id, uint16_t type);
/* Once the request named its target, errors name it. */
void reply_about_container(struct reply_to *to, const char *name);
void reply_about_stream(struct reply_to *to, uint32_t stream);

/* Results. */
struct reply reply_ok(struct json_object *body);
struct reply reply_deferred(void);
struct reply reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The message of err (from a parser or a module) as the cause. */
struct reply reply_failed(const struct capsid_error *err);

/* The error text as sent: prefix and cause. */
void reply_format_error(const struct reply_to *to, const char *cause, char *out, size_t len);

/* Send r to `to` (nothing for REPLY_DEFERRED). Consumes r->body. */
void reply_send(struct agent *a, const struct reply_to *to, struct reply *r);

#endif
