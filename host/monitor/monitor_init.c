/* Init containers (properties.initContainers): after the agent is ready,
 * each runs to completion, one after another in spec order, before the
 * group's containers start; each boot of the VM runs them again.
 *
 * They are ordinary mcontainers placed after the group's containers in
 * m->containers (c->init), so logs, exec, events and the agent's
 * CREATE/START/EXIT path serve them unchanged; what differs is decided
 * here: a container waiting for an earlier one is "held"; an init
 * container that exits 0 lets the next one (or the group's containers)
 * start and never restarts; one that fails restarts under the restart
 * policy with back-off (Always, OnFailure), or under Never fails the
 * group: the held containers never start and the VM goes. */
#include <json-c/json.h>
#include <string.h>

#include "monitor.h"
#include "spec.h"
#include "util.h"

const struct spec_container *monitor_spec_container(const struct monitor *m, size_t i)
{
	return spec_group_container_at(m->spec, i);
}

static void start_held(struct monitor *m)
{
	size_t n = m->spec->n_containers;
	/* The next init container, else every held container of the group. */
	for (size_t i = n; i < m->n_containers; i++)
		if (m->containers[i].held) {
			m->containers[i].held = false;
			monitor_start_container(m, i);
			return;
		}
	for (size_t i = 0; i < n; i++)
		if (m->containers[i].held) {
			m->containers[i].held = false;
			monitor_start_container(m, i);
		}
}

void monitor_start_all(struct monitor *m)
{
	if (m->vm.spawned_ms) /* the boot's length, for the metrics (capsid_group_boot_seconds) */
		m->vm.last_boot_ms = (unsigned)(util_now_ms() - m->vm.spawned_ms);
	for (size_t i = 0; i < m->n_containers; i++)
		m->containers[i].held = true; /* start_held lets the first ones go */
	if (m->spec->n_init_containers)
		monitor_log(m, "%zu init container(s) run first", m->spec->n_init_containers);
	start_held(m);
}

bool monitor_init_ended(struct monitor *m, struct mcontainer *c, int exit_code)
{
	if (!c->init || m->vm.fsm.state != VM_READY)
		return false;
	if (exit_code == 0) {
		c->exited = true;
		c->backoff_step = 0;
		monitor_log(m, "init container %s completed", c->view->name);
		start_held(m);
		return true;
	}
	if (m->spec->restart_policy != SPEC_RESTART_NEVER)
		return false; /* restarted with back-off, as a container would be */
	c->exited = true;
	for (size_t i = 0; i < m->n_containers; i++)
		if (m->containers[i].held) {
			m->containers[i].held = false;
			m->containers[i].exited = true;
		}
	monitor_event(m, NULL, "Failed", "Warning",
		      "init container %s failed with exit code %d: the containers do not start",
		      c->view->name, exit_code);
	return true;
}

void monitor_init_describe(const struct monitor *m, struct json_object *props)
{
	struct json_object *inits = NULL;
	if (!json_object_object_get_ex(props, "initContainers", &inits) ||
	    !json_object_is_type(inits, json_type_array))
		return;
	size_t n = m->spec->n_containers;
	for (size_t j = 0; j < json_object_array_length(inits) && n + j < m->n_containers; j++) {
		struct json_object *cp = NULL;
		if (json_object_object_get_ex(json_object_array_get_idx(inits, j), "properties", &cp))
			json_object_object_add(cp, "instanceView",
					       view_container_to_json(m->containers[n + j].view));
	}
}

void monitor_init_restore(struct monitor *m, struct json_object *props)
{
	struct json_object *inits = NULL;
	if (!json_object_object_get_ex(props, "initContainers", &inits) ||
	    !json_object_is_type(inits, json_type_array))
		return;
	size_t n = m->spec->n_containers;
	for (size_t j = 0; j < json_object_array_length(inits) && n + j < m->n_containers; j++) {
		struct json_object *cp, *civ;
		if (json_object_object_get_ex(json_object_array_get_idx(inits, j), "properties", &cp) &&
		    json_object_object_get_ex(cp, "instanceView", &civ))
			view_container_from_json(m->containers[n + j].view, civ);
	}
}
