/* Liveness and readiness probes, the host's part: the spec's probes go to
 * the agent in each CREATE (guest-agent/probe.h runs them, with no round
 * trip per probe), and what the agent reports back (PROBE frames: a probe
 * failed, the container is being killed, readiness changed) becomes events
 * (`Unhealthy`, `Killing`, merged with counts) and the container's "ready"
 * in the instance view. A liveness kill ends the run like any exit: the
 * restart policy applies. Every PROBE frame is hostile input. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "frame.h"
#include "monitor.h"
#include "spec.h"

/* Bytes of a guest's probe message kept in an event. */
#define PROBE_MESSAGE_MAX 512

static struct json_object *probe_json(const struct spec_probe *p)
{
	struct json_object *o = json_object_new_object();
	if (p->kind == SPEC_PROBE_EXEC) {
		struct json_object *argv = json_object_new_array();
		for (size_t i = 0; i < p->n_exec_command; i++)
			json_object_array_add(argv, json_object_new_string(p->exec_command[i]));
		json_object_object_add(o, "exec", argv);
	} else {
		struct json_object *h = json_object_new_object();
		json_object_object_add(h, "path", json_object_new_string(p->http_path ? p->http_path : "/"));
		json_object_object_add(h, "port", json_object_new_int((int)p->http_port));
		struct json_object *hs = json_object_new_array();
		for (size_t i = 0; i < p->n_http_headers; i++) {
			struct json_object *x = json_object_new_object();
			json_object_object_add(x, "name", json_object_new_string(p->http_headers[i].name));
			json_object_object_add(x, "value", json_object_new_string(p->http_headers[i].value));
			json_object_array_add(hs, x);
		}
		json_object_object_add(h, "headers", hs);
		json_object_object_add(o, "httpGet", h);
	}
	json_object_object_add(o, "initialDelaySeconds", json_object_new_int((int)p->initial_delay_s));
	json_object_object_add(o, "periodSeconds", json_object_new_int((int)p->period_s));
	json_object_object_add(o, "timeoutSeconds", json_object_new_int((int)p->timeout_s));
	json_object_object_add(o, "failureThreshold", json_object_new_int((int)p->failure_threshold));
	json_object_object_add(o, "successThreshold", json_object_new_int((int)p->success_threshold));
	return o;
}

struct json_object *monitor_probe_body(struct mcontainer *c, const struct spec_container *sc)
{
	/* Each run starts not ready until its readiness probe succeeds. */
	c->view->ready = sc->readiness_probe ? VIEW_READY_NO : VIEW_READY_NONE;
	if (!sc->liveness_probe && !sc->readiness_probe)
		return NULL;
	struct json_object *o = json_object_new_object();
	if (sc->liveness_probe)
		json_object_object_add(o, "liveness", probe_json(sc->liveness_probe));
	if (sc->readiness_probe)
		json_object_object_add(o, "readiness", probe_json(sc->readiness_probe));
	return o;
}

static const char *str_field(struct json_object *o, const char *key, size_t max)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) > max)
		return NULL;
	return json_object_get_string(v);
}

void monitor_probe_frame(struct monitor *m, const struct frame *f)
{
	_cleanup_json_ struct json_object *body = frame_body_json(f);
	const char *name = body ? str_field(body, "container", 63) : NULL;
	const char *probe = body ? str_field(body, "probe", 16) : NULL;
	const char *event = body ? str_field(body, "event", 16) : NULL;
	struct json_object *mv = NULL;
	bool has_msg = body && json_object_object_get_ex(body, "message", &mv);
	const char *msg = has_msg ? str_field(body, "message", CAPSID_AGENT_ERROR_MAX) : "";
	bool liveness = probe && !strcmp(probe, "liveness");
	if (!name || !probe || !event || !msg || (!liveness && strcmp(probe, "readiness"))) {
		monitor_agent_close(m, "agent sent an invalid PROBE");
		return;
	}
	struct mcontainer *c = NULL;
	for (size_t i = 0; i < m->n_containers && !c; i++)
		if (!strcmp(m->containers[i].view->name, name))
			c = &m->containers[i];
	if (!c || !c->running)
		return; /* late news of a run that ended */
	char text[PROBE_MESSAGE_MAX];
	size_t i = 0;
	for (; msg[i] && i + 1 < sizeof(text); i++)
		text[i] = (msg[i] >= 0x20 && msg[i] < 0x7f) ? msg[i] : '?';
	text[i] = '\0';
	if (!strcmp(event, "unhealthy")) {
		monitor_event(m, c, "Unhealthy", "Warning", "%s", text);
	} else if (!strcmp(event, "killing") && liveness) {
		monitor_log(m, "container %s failed its liveness probe: killed", name);
		monitor_event(m, c, "Killing", "Normal", "%s", text);
		if (c->view->ready == VIEW_READY_YES)
			c->view->ready = VIEW_READY_NO;
	} else if ((!strcmp(event, "ready") || !strcmp(event, "notReady")) && !liveness) {
		c->view->ready = !strcmp(event, "ready") ? VIEW_READY_YES : VIEW_READY_NO;
		monitor_log(m, "container %s %s", name, event);
	} else {
		monitor_agent_close(m, "agent sent an invalid PROBE");
		return;
	}
	monitor_save_state(m);
}
