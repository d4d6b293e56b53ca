/* Liveness and readiness probes, run by the agent inside the guest with no
 * round trip to the host per probe. CREATE's optional "probes" object:
 *
 *   {"liveness": P, "readiness": P}
 *   P = {"exec": [argv...]} | {"httpGet": {"path", "port", "headers": [{"name","value"}]}}
 *       + "initialDelaySeconds", "periodSeconds", "timeoutSeconds",
 *         "failureThreshold", "successThreshold"
 *
 * Each probe is a child of the agent: an exec probe joins the container's
 * namespaces and cgroup and takes its credentials, capability sets,
 * environment and no_new_privs (read from its init process) before it runs
 * the command; an HTTP probe GETs http://127.0.0.1:PORT/PATH (the group's
 * containers share the guest's network stack) and succeeds on 200-399.
 * Both are bounded by timeoutSeconds (then SIGKILLed).
 *
 * The host hears only what changes (CAPSID_MSG_PROBE, protocol 2):
 * {"container","probe":"liveness"|"readiness","event":E,"message"} with E
 * "unhealthy" (a probe failed), "killing" (liveness failed
 * failureThreshold times in a row: the agent SIGKILLs the container's init
 * process and stops probing it; its EXIT follows as for any exit), "ready"
 * or "notReady" (readiness changed). */
#ifndef AGENT_PROBE_H
#define AGENT_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent.h"
#include "error.h"

struct json_object;
struct probe_set;

/* The "probes" of a CREATE body (*out NULL when there are none). */
int probe_parse(struct json_object *body, struct probe_set **out, struct capsid_error *err);
/* Stop and free (a probe still running is killed). NULL-safe. */
void probe_free(struct probe_set *ps);

/* Start the probes that are due, finish those that ended or timed out.
 * Called once per loop round. */
void probe_tick(struct agent *a);
/* The next time probe_tick has something to do (monotonic ms), 0 when none. */
uint64_t probe_deadline(struct agent *a);
/* A child was reaped: true when it was a probe's (recorded for probe_tick). */
bool probe_reaped(struct agent *a, pid_t pid, int wstatus);

#endif
