/* Serving one ttrpc connection: each request on a thread of its own (Wait
 * blocks for as long as a task runs), responses written whole under one
 * lock, the calls in flight bounded. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ttrpc.h"

/* Calls one connection may have in flight; beyond, RESOURCE_EXHAUSTED. */
#define TTRPC_MAX_INFLIGHT 64

struct conn {
	int fd;
	const struct ttrpc_method *methods;
	size_t n_methods;
	void *ctx;
	pthread_mutex_t lock; /* writes to fd, inflight */
	pthread_cond_t idle;
	unsigned inflight;
};

struct job {
	struct conn *c;
	uint32_t stream_id;
	uint8_t *msg;
	size_t len;
};

static void respond(struct conn *c, uint32_t stream_id, enum ttrpc_code code, const char *message,
		    const uint8_t *payload, size_t len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t n = 0;
	if (ttrpc_response_encode(code, message, payload, len, &buf, &n) < 0)
		return;
	pthread_mutex_lock(&c->lock);
	/* A peer that went away is seen by the reader; nothing to do here. */
	(void)ttrpc_write_message(c->fd, stream_id, TTRPC_TYPE_RESPONSE, buf, n);
	pthread_mutex_unlock(&c->lock);
}

static const struct ttrpc_method *lookup(const struct conn *c, const char *service, const char *method,
					 bool *service_known)
{
	*service_known = false;
	for (size_t i = 0; i < c->n_methods; i++) {
		if (strcmp(c->methods[i].service, service) != 0)
			continue;
		*service_known = true;
		if (strcmp(c->methods[i].method, method) == 0)
			return &c->methods[i];
	}
	return NULL;
}

static void run_job(struct job *j)
{
	struct conn *c = j->c;
	struct ttrpc_call call;
	struct capsid_error err = {0};
	int r = ttrpc_call_decode(j->msg, j->len, &call, &err);
	if (r < 0) {
		respond(c, j->stream_id, TTRPC_INVALID_ARGUMENT, err.msg, NULL, 0);
		return;
	}
	bool known = false;
	const struct ttrpc_method *m = lookup(c, call.service, call.method, &known);
	if (!m) {
		char msg[2 * TTRPC_MAX_NAME + 32];
		if (known)
			snprintf(msg, sizeof(msg), "method %s.%s is not implemented", call.service,
				 call.method);
		else
			snprintf(msg, sizeof(msg), "service %s is not implemented", call.service);
		respond(c, j->stream_id, TTRPC_UNIMPLEMENTED, msg, NULL, 0);
		ttrpc_call_clear(&call);
		return;
	}
	_cleanup_free_ uint8_t *out = NULL;
	size_t out_len = 0;
	r = m->fn(c->ctx, call.payload, call.payload_len, &out, &out_len, &err);
	if (r < 0)
		respond(c, j->stream_id, ttrpc_code_from_errno(r), err.msg[0] ? err.msg : strerror(-r), NULL,
			0);
	else
		respond(c, j->stream_id, TTRPC_OK, NULL, out, out_len);
	ttrpc_call_clear(&call);
}

static void *job_thread(void *arg)
{
	struct job *j = arg;
	struct conn *c = j->c;
	run_job(j);
	free(j->msg);
	free(j);
	pthread_mutex_lock(&c->lock);
	if (--c->inflight == 0)
		pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* 0: the call is on its way (or answered); -errno: stop serving. */
static int dispatch(struct conn *c, const struct ttrpc_header *h, uint8_t *msg)
{
	pthread_mutex_lock(&c->lock);
	bool full = c->inflight >= TTRPC_MAX_INFLIGHT;
	if (!full)
		c->inflight++;
	pthread_mutex_unlock(&c->lock);
	if (full) {
		free(msg);
		respond(c, h->stream_id, TTRPC_RESOURCE_EXHAUSTED, "too many calls in flight", NULL, 0);
		return 0;
	}
	struct job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t t;
	int r = -ENOMEM;
	if (j) {
		*j = (struct job){.c = c, .stream_id = h->stream_id, .msg = msg, .len = h->length};
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		r = -pthread_create(&t, &attr, job_thread, j);
		pthread_attr_destroy(&attr);
		if (r == 0)
			return 0;
	}
	free(j);
	free(msg);
	pthread_mutex_lock(&c->lock);
	if (--c->inflight == 0)
		pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
	respond(c, h->stream_id, TTRPC_RESOURCE_EXHAUSTED, "cannot start a thread for the call", NULL, 0);
	return 0;
}

int ttrpc_serve_conn(int fd, const struct ttrpc_method *methods, size_t n_methods, void *ctx,
		     struct capsid_error *err)
{
	struct capsid_error local = {0};
	if (!err)
		err = &local;
	struct conn c = {.fd = fd, .methods = methods, .n_methods = n_methods, .ctx = ctx};
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.idle, NULL);
	int r;
	for (;;) {
		struct ttrpc_header h;
		uint8_t *msg = NULL;
		r = ttrpc_read_message(fd, TTRPC_MAX_MESSAGE, &h, &msg, err);
		if (r == 0)
			break;
		if (r == -EMSGSIZE) {
			/* The payload is not read: answer, then end the connection. */
			if (h.type == TTRPC_TYPE_REQUEST)
				respond(&c, h.stream_id, TTRPC_RESOURCE_EXHAUSTED, err->msg, NULL, 0);
			break;
		}
		if (r < 0)
			break;
		if (h.type != TTRPC_TYPE_REQUEST) {
			free(msg);
			r = capsid_error_set(err, EPROTO,
					     "ttrpc: message type %u on stream %u is not a request", h.type,
					     h.stream_id);
			break;
		}
		if (h.stream_id % 2 == 0) {
			free(msg);
			respond(&c, h.stream_id, TTRPC_INVALID_ARGUMENT,
				"stream id must be odd for client streams", NULL, 0);
			continue;
		}
		r = dispatch(&c, &h, msg);
		if (r < 0)
			break;
	}
	pthread_mutex_lock(&c.lock);
	while (c.inflight)
		pthread_cond_wait(&c.idle, &c.lock);
	pthread_mutex_unlock(&c.lock);
	pthread_mutex_destroy(&c.lock);
	pthread_cond_destroy(&c.idle);
	return r < 0 ? r : 0;
}
