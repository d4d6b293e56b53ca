/* `capsid stats` and the metrics endpoint: a CTL_STATS from a client
 * becomes one STATS request to the agent whose answer goes back to that
 * client as it came (REQ_RELAY). The guest's text is the client's to bound
 * and check (host/core/group_stats.c); the monitor only passes it on. */
#include <json-c/json.h>
#include <string.h>

#include "monitor.h"

void monitor_stats_request(struct monitor *m, struct ctl_client *c, uint32_t id)
{
	static const char not_running[] = "{\"error\":\"the group's VM is not running\"}";
	static const char busy[] = "{\"error\":\"the agent cannot take a request now\"}";
	if (m->vm.fsm.state != VM_READY) {
		monitor_control_send(m, c, CAPSID_MSG_ERROR, id, not_running, strlen(not_running));
		return;
	}
	struct pending_req req = {.kind = REQ_RELAY, .client = c, .client_id = id};
	if (monitor_agent_request(m, CAPSID_MSG_STATS, json_object_new_object(), &req) < 0)
		monitor_control_send(m, c, CAPSID_MSG_ERROR, id, busy, strlen(busy));
}
