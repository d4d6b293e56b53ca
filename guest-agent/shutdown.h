/* SHUTDOWN: SIGTERM every process, SIGKILL what is left after the timeout,
 * let the EXIT frames out, delete the containers, unmount, answer, flush
 * the channel and power off. It runs inside the event loop so output and
 * exits keep flowing to the host while the processes stop. */
#ifndef AGENT_SHUTDOWN_H
#define AGENT_SHUTDOWN_H

#include <stdint.h>

#include "agent.h"
#include "reply.h"

struct json_object;

/* SHUTDOWN request: REPLY_DEFERRED once begun (the answer comes right
 * before the power-off). */
struct reply shutdown_begin(struct agent *a, const struct reply_to *to, struct json_object *body);
/* Advance (called every loop round); powers off when done. */
void shutdown_step(struct agent *a);
/* Next time shutdown_step must run, 0 for none. */
uint64_t shutdown_deadline(const struct agent *a);

#endif
