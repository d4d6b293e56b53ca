#include "view.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static const char *const group_phase_names[] = {
	[GROUP_PENDING] = "Pending",
	[GROUP_RUNNING] = "Running",
	[GROUP_SUCCEEDED] = "Succeeded",
	[GROUP_FAILED] = "Failed",
	[GROUP_STOPPED] = "Stopped",
};

static const char *const container_phase_names[] = {
	[CONTAINER_WAITING] = "Waiting",
	[CONTAINER_RUNNING] = "Running",
	[CONTAINER_TERMINATED] = "Terminated",
};

const char *view_group_phase_name(enum group_phase p)
{
	return p <= GROUP_STOPPED ? group_phase_names[p] : "Unknown";
}

const char *view_container_phase_name(enum container_phase p)
{
	return p <= CONTAINER_TERMINATED ? container_phase_names[p] : "Unknown";
}

int view_group_phase_parse(const char *s, enum group_phase *out)
{
	for (size_t i = 0; s && i <= GROUP_STOPPED; i++)
		if (strcmp(s, group_phase_names[i]) == 0) {
			*out = (enum group_phase)i;
			return 0;
		}
	return -1;
}

bool view_group_phase_active(enum group_phase p)
{
	return p == GROUP_PENDING || p == GROUP_RUNNING;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

void view_event_add(struct view_events *ev, const char *name, const char *type, const char *fmt, ...)
{
	char message[sizeof(ev->items[0].message)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	char now[VIEW_TIME_LEN];
	util_now_rfc3339(now);
	for (size_t i = 0; i < ev->n; i++) {
		struct view_event *e = &ev->items[i];
		if (strcmp(e->name, name) == 0 && strcmp(e->message, message) == 0) {
			e->count++;
			copy_str(e->last, sizeof(e->last), now);
			return;
		}
	}
	if (ev->n == VIEW_MAX_EVENTS) {
		/* Keep the newest: drop the oldest distinct event. */
		memmove(&ev->items[0], &ev->items[1], sizeof(ev->items[0]) * (VIEW_MAX_EVENTS - 1));
		ev->n--;
	}
	struct view_event *e = &ev->items[ev->n++];
	copy_str(e->name, sizeof(e->name), name);
	copy_str(e->type, sizeof(e->type), type);
	copy_str(e->message, sizeof(e->message), message);
	e->count = 1;
	copy_str(e->first, sizeof(e->first), now);
	copy_str(e->last, sizeof(e->last), now);
}

void view_container_transition(struct view_container *c, enum container_phase phase, int exit_code,
			       const char *detail)
{
	if (c->current.phase != CONTAINER_WAITING || c->current.start_time[0]) {
		c->previous = c->current;
		c->has_previous = true;
	}
	struct view_container_state *s = &c->current;
	memset(s, 0, sizeof(*s));
	s->phase = phase;
	copy_str(s->detail, sizeof(s->detail), detail);
	char now[VIEW_TIME_LEN];
	util_now_rfc3339(now);
	if (phase == CONTAINER_RUNNING) {
		copy_str(s->start_time, sizeof(s->start_time), now);
	} else if (phase == CONTAINER_TERMINATED) {
		s->exit_code = exit_code;
		/* A terminated state keeps the start time of the run it ends. */
		if (c->has_previous && c->previous.phase == CONTAINER_RUNNING)
			copy_str(s->start_time, sizeof(s->start_time), c->previous.start_time);
		copy_str(s->finish_time, sizeof(s->finish_time), now);
	}
}

static struct json_object *state_to_json(const struct view_container_state *s)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string(view_container_phase_name(s->phase)));
	if (s->start_time[0])
		json_object_object_add(o, "startTime", json_object_new_string(s->start_time));
	if (s->phase == CONTAINER_TERMINATED) {
		json_object_object_add(o, "exitCode", json_object_new_int(s->exit_code));
		json_object_object_add(o, "finishTime", json_object_new_string(s->finish_time));
	}
	json_object_object_add(o, "detailStatus", json_object_new_string(s->detail));
	return o;
}

struct json_object *view_events_to_json(const struct view_events *ev)
{
	struct json_object *arr = json_object_new_array();
	for (size_t i = 0; i < ev->n; i++) {
		const struct view_event *e = &ev->items[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "count", json_object_new_int((int)e->count));
		json_object_object_add(o, "firstTimestamp", json_object_new_string(e->first));
		json_object_object_add(o, "lastTimestamp", json_object_new_string(e->last));
		json_object_object_add(o, "name", json_object_new_string(e->name));
		json_object_object_add(o, "message", json_object_new_string(e->message));
		json_object_object_add(o, "type", json_object_new_string(e->type));
		json_object_array_add(arr, o);
	}
	return arr;
}

struct json_object *view_container_to_json(const struct view_container *c)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "restartCount", json_object_new_int((int)c->restart_count));
	json_object_object_add(o, "currentState", state_to_json(&c->current));
	if (c->has_previous)
		json_object_object_add(o, "previousState", state_to_json(&c->previous));
	json_object_object_add(o, "events", view_events_to_json(&c->events));
	if (c->ready != VIEW_READY_NONE)
		json_object_object_add(o, "ready", json_object_new_boolean(c->ready == VIEW_READY_YES));
	return o;
}

static const char *json_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static void state_from_json(struct view_container_state *s, struct json_object *o)
{
	const char *state = json_str(o, "state");
	for (int p = CONTAINER_WAITING; state && p <= CONTAINER_TERMINATED; p++)
		if (strcmp(state, container_phase_names[p]) == 0)
			s->phase = (enum container_phase)p;
	struct json_object *v;
	if (json_object_object_get_ex(o, "exitCode", &v) && json_object_is_type(v, json_type_int))
		s->exit_code = json_object_get_int(v);
	copy_str(s->start_time, sizeof(s->start_time), json_str(o, "startTime"));
	copy_str(s->finish_time, sizeof(s->finish_time), json_str(o, "finishTime"));
	copy_str(s->detail, sizeof(s->detail), json_str(o, "detailStatus"));
}

void view_events_from_json(struct view_events *ev, struct json_object *arr)
{
	ev->n = 0;
	if (!arr || !json_object_is_type(arr, json_type_array))
		return;
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n && ev->n < VIEW_MAX_EVENTS; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(o, json_type_object) || !json_str(o, "name"))
			continue;
		struct view_event *e = &ev->items[ev->n++];
		copy_str(e->name, sizeof(e->name), json_str(o, "name"));
		copy_str(e->type, sizeof(e->type), json_str(o, "type"));
		copy_str(e->message, sizeof(e->message), json_str(o, "message"));
		copy_str(e->first, sizeof(e->first), json_str(o, "firstTimestamp"));
		copy_str(e->last, sizeof(e->last), json_str(o, "lastTimestamp"));
		struct json_object *count;
		e->count = json_object_object_get_ex(o, "count", &count) ? (unsigned)json_object_get_int(count) : 1;
	}
}

void view_container_from_json(struct view_container *c, struct json_object *iv)
{
	if (!iv || !json_object_is_type(iv, json_type_object))
		return;
	struct json_object *v;
	if (json_object_object_get_ex(iv, "restartCount", &v) && json_object_is_type(v, json_type_int) &&
	    json_object_get_int(v) >= 0)
		c->restart_count = (unsigned)json_object_get_int(v);
	if (json_object_object_get_ex(iv, "currentState", &v) && json_object_is_type(v, json_type_object))
		state_from_json(&c->current, v);
	if (json_object_object_get_ex(iv, "previousState", &v) && json_object_is_type(v, json_type_object)) {
		state_from_json(&c->previous, v);
		c->has_previous = true;
	}
	if (json_object_object_get_ex(iv, "events", &v))
		view_events_from_json(&c->events, v);
}
