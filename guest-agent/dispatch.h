/* Frames from the host: protocol state (NEGOTIATE first), validation of
 * the frame type and body, and routing to the module that serves it. */
#ifndef AGENT_DISPATCH_H
#define AGENT_DISPATCH_H

#include "agent.h"
#include "frame.h"

void dispatch_frame(struct agent *a, const struct frame *f);

/* Queue HELLO (a new host session starts with it). */
void dispatch_hello(struct agent *a);

#endif
