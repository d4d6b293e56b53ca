/* Container lifecycle requests (CREATE, START, EXEC, SIGNAL, DELETE) and
 * the completion of the runtime jobs they start. Each request is answered
 * exactly once: at once when it fails validation, else when its job ends. */
#ifndef AGENT_LIFECYCLE_H
#define AGENT_LIFECYCLE_H

#include <stdint.h>

#include "agent.h"

struct json_object;

void lifecycle_create(struct agent *a, uint32_t id, struct json_object *body);
void lifecycle_start(struct agent *a, uint32_t id, struct json_object *body);
void lifecycle_exec(struct agent *a, uint32_t id, struct json_object *body);
void lifecycle_signal(struct agent *a, uint32_t id, struct json_object *body);
void lifecycle_delete(struct agent *a, uint32_t id, struct json_object *body);

/* A job was reaped: finish what it was for, answer its request. The job is
 * destroyed by the caller afterwards. */
void lifecycle_job_done(struct agent *a, struct job *j);

/* Forget a container (its runtime state and files are already gone). */
void lifecycle_forget(struct agent *a, struct container *c);

#endif
