/* The instance view of a group, shaped like ACI's: group state, each
 * container's currentState/previousState/restartCount, and events merged by
 * (name, message) with count and first/last timestamps. Pure data: the
 * monitor updates it, and it serialises to the state file. */
#ifndef CAPSID_VIEW_H
#define CAPSID_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "proto.h"

struct json_object;

enum group_phase {
	GROUP_PENDING,
	GROUP_RUNNING,
	GROUP_SUCCEEDED,
	GROUP_FAILED,
	GROUP_STOPPED,
};

enum container_phase {
	CONTAINER_WAITING,
	CONTAINER_RUNNING,
	CONTAINER_TERMINATED,
};

#define VIEW_MAX_EVENTS 32
#define VIEW_TIME_LEN 40
/* Event messages and detail statuses are kept whole: an agent's error
 * (CAPSID_AGENT_ERROR_MAX) with the monitor's prefix fits. */
#define VIEW_MESSAGE_MAX (CAPSID_AGENT_ERROR_MAX + 96)

struct view_event {
	char name[32];
	char type[16]; /* Normal | Warning */
	char message[VIEW_MESSAGE_MAX];
	unsigned count;
	char first[VIEW_TIME_LEN];
	char last[VIEW_TIME_LEN];
};

struct view_events {
	struct view_event items[VIEW_MAX_EVENTS];
	size_t n;
};

struct view_container_state {
	enum container_phase phase;
	int exit_code; /* valid when phase == CONTAINER_TERMINATED */
	char start_time[VIEW_TIME_LEN];
	char finish_time[VIEW_TIME_LEN];
	char detail[VIEW_MESSAGE_MAX];
};

enum view_readiness { VIEW_READY_NONE, VIEW_READY_NO, VIEW_READY_YES };

struct view_container {
	char name[64];
	unsigned restart_count;
	struct view_container_state current;
	struct view_container_state previous;
	bool has_previous;
	struct view_events events;
	enum view_readiness ready; /* shown as "ready" when the container has a readiness probe */
};

struct group_view {
	enum group_phase phase;
	char detail[VIEW_MESSAGE_MAX];
	struct view_container *containers;
	size_t n_containers;
	struct view_events events;
};

const char *view_group_phase_name(enum group_phase p);
const char *view_container_phase_name(enum container_phase p);
int view_group_phase_parse(const char *s, enum group_phase *out);
bool view_group_phase_active(enum group_phase p); /* Pending or Running */

/* Record (or merge into) an event; timestamps are taken now. */
void view_event_add(struct view_events *ev, const char *name, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Move current to previous and set a new current state. */
void view_container_transition(struct view_container *c, enum container_phase phase, int exit_code,
			       const char *detail);

struct json_object *view_container_to_json(const struct view_container *c);
struct json_object *view_events_to_json(const struct view_events *ev);
/* Restore the parts of a view that must survive a monitor restart
 * (restartCount, events, states) from a state file's JSON; unknown or
 * malformed parts are ignored. */
void view_container_from_json(struct view_container *c, struct json_object *instance_view);
void view_events_from_json(struct view_events *ev, struct json_object *arr);

#endif
