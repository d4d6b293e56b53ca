/* A guest restored from a warm-start template (host/monitor/template.c)
 * starts as a copy of the template's memory: the clock stopped at the
 * template's save, the hostname "template", and the kernel CRNG in the same
 * state in every clone. The IDENTITY request gives it fresh ones. */
#ifndef AGENT_IDENTITY_H
#define AGENT_IDENTITY_H

#include "error.h"
#include "request.h"

/* Set CLOCK_REALTIME, mix the host's entropy into the kernel pool (credited)
 * and force a CRNG reseed, set the hostname. Returns 0 or -errno. */
int identity_apply(const struct request_identity *id, struct capsid_error *err);

#endif
