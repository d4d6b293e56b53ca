/* Container lifecycle requests (CREATE, START, EXEC, SIGNAL, DELETE) and
 * the completion of the runtime jobs they start. Each handler returns its
 * answer (reply.h), or REPLY_DEFERRED when it started a job: the job keeps
 * `to` (which the handler pointed at the container or stream it is about)
 * and lifecycle_job_done answers it through reply_send. Each request is so
 * answered exactly once. */
#ifndef AGENT_LIFECYCLE_H
#define AGENT_LIFECYCLE_H

#include <stdint.h>

#include "agent.h"
#include "reply.h"

struct json_object;

struct reply lifecycle_create(struct agent *a, struct reply_to *to, struct json_object *body);
struct reply lifecycle_start(struct agent *a, struct reply_to *to, struct json_object *body);
struct reply lifecycle_exec(struct agent *a, struct reply_to *to, struct json_object *body);
struct reply lifecycle_signal(struct agent *a, struct reply_to *to, struct json_object *body);
struct reply lifecycle_delete(struct agent *a, struct reply_to *to, struct json_object *body);

/* A job was reaped: finish what it was for and answer its request. The job
 * is destroyed by the caller afterwards. */
void lifecycle_job_done(struct agent *a, struct job *j);

/* Forget a container (its runtime state and files are already gone). */
void lifecycle_forget(struct agent *a, struct container *c);

#endif
