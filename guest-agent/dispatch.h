/* Frames from the host: protocol state (NEGOTIATE first), validation of
 * the frame type and body, and routing to the module that serves it. */
#ifndef AGENT_DISPATCH_H
#define AGENT_DISPATCH_H

#include "agent.h"
#include "frame.h"

/* Serve one frame; a request is answered through reply_send (at once, or
 * by the job it started). */
void dispatch_frame(struct agent *a, const struct frame *f);
/* Answer input that was not a frame (rc from channel_serve). */
void dispatch_malformed(struct agent *a, int rc);

/* Queue HELLO (a new host session starts with it). */
void dispatch_hello(struct agent *a);

#endif
