/* STATS: what `capsid stats` and the metrics endpoint read from the guest.
 * {"containers": {NAME: {"cpuUsageUsec","memoryBytes","memoryWorkingSetBytes",
 *  "ioReadBytes","ioWriteBytes","pids"}}, "network": {"rxBytes","txBytes"}}
 * Counters are cumulative (the host computes rates); -1 when unreadable.
 * The group's containers share the guest's network stack: network is the
 * guest's, summed over its interfaces but loopback. */
#ifndef AGENT_STATS_H
#define AGENT_STATS_H

#include "agent.h"

struct json_object;

struct json_object *stats_collect(struct agent *a);

#endif
