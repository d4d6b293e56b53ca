/* One sample of a running group's counters, from its guest through its
 * monitor (CTL_STATS, relayed STATS). The answer is the guest's words:
 * only known numeric fields are taken, each range-checked, container
 * names checked as names, their count capped. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "capsid.h"
#include "cleanup.h"
#include "core_internal.h"
#include "group.h"
#include "proto.h"
#include "util.h"

static long long counter(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	long long x = json_object_get_int64(v);
	return x < 0 ? -1 : x;
}

int capsid_group_sample(const struct capsid_config *cfg, const char *name, struct capsid_group_sample *out,
			struct capsid_error *err)
{
	memset(out, 0, sizeof(*out));
	struct group_paths p;
	int rc = group_paths_init(cfg->root, name, &p, err);
	if (rc < 0)
		return rc;
	if (group_monitor_alive(&p) <= 0)
		return capsid_error_set(err, ESRCH, "group %s is not running", p.name);
	_cleanup_json_ struct json_object *doc = NULL;
	rc = core_request(&p, CAPSID_CTL_STATS, "{}", &doc, err);
	if (rc == -EREMOTEIO)
		return capsid_error_set(err, ESRCH, "%s: %s", p.name, err->msg);
	if (rc < 0)
		return rc;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	out->time_ns = (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
	struct json_object *net = NULL, *containers = NULL;
	if (doc && json_object_is_type(doc, json_type_object)) {
		json_object_object_get_ex(doc, "network", &net);
		json_object_object_get_ex(doc, "containers", &containers);
	}
	out->rx_bytes = counter(net, "rxBytes");
	out->tx_bytes = counter(net, "txBytes");
	if (!containers || !json_object_is_type(containers, json_type_object))
		return 0;
	json_object_object_foreach(containers, cname, c)
	{
		if (out->n_containers == CAPSID_STATS_MAX_CONTAINERS || !group_name_valid(cname) ||
		    !json_object_is_type(c, json_type_object))
			continue;
		struct capsid_container_sample *s = &out->containers[out->n_containers++];
		snprintf(s->name, sizeof(s->name), "%s", cname);
		s->cpu_usec = counter(c, "cpuUsageUsec");
		s->memory_bytes = counter(c, "memoryBytes");
		s->working_set_bytes = counter(c, "memoryWorkingSetBytes");
		s->io_read_bytes = counter(c, "ioReadBytes");
		s->io_write_bytes = counter(c, "ioWriteBytes");
	}
	return 0;
}
