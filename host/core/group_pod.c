/* Pods: a container added to a running group and removed from it again
 * (the monitor's side: host/monitor/monitor_pod.c). */
#include <errno.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "capsid.h"
#include "cleanup.h"
#include "core_internal.h"
#include "frame.h"
#include "group.h"
#include "proto.h"
#include "spec.h"

/* The container removed only once the agent has deleted it (its image
 * released): an ended container's delete is under way for a moment. */
#define POD_REMOVE_WAIT_MS 10000
/* An added container's start is waited for at most this long (a slow
 * machine under TCG); past it the add answers anyway. */
#define POD_START_WAIT_MS 60000

static int open_live(const struct capsid_config *cfg, const char *name, struct group_paths *p,
		     struct capsid_error *err)
{
	int rc = core_open_group(cfg, name, p, err);
	if (rc < 0)
		return rc;
	if (group_monitor_alive(p) <= 0)
		return capsid_error_set(err, ESRCH, "group %s is not running (its monitor is gone)", p->name);
	return 0;
}

int capsid_group_add_container(const struct capsid_config *cfg, const char *name, struct json_object *container,
			       struct capsid_error *err)
{
	if (!container || !json_object_is_type(container, json_type_object))
		return capsid_error_set(err, EINVAL, "container: an object (ACI's container) is required");
	struct group_paths p;
	int rc = open_live(cfg, name, &p, err);
	if (rc < 0)
		return rc;
	_cleanup_json_ struct json_object *body = json_object_new_object();
	json_object_object_add(body, "container", json_object_get(container));
	rc = core_request(&p, CAPSID_CTL_POD_ADD, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN), NULL,
			  err);
	if (rc < 0)
		return capsid_error_prefix(err, "add a container to %s", p.name);
	/* Answer once it runs or has ended (as create does for its containers). */
	struct json_object *n = core_get(container, "name", NULL);
	const char *cname = n ? json_object_get_string(n) : "";
	for (unsigned waited = 0; waited < POD_START_WAIT_MS; waited += 100) {
		_cleanup_json_ struct json_object *doc = NULL;
		struct capsid_error e = {0};
		if (capsid_group_show(cfg, name, &doc, &e) < 0)
			break;
		struct json_object *cs = core_get(doc, "properties", "containers");
		for (size_t i = 0; cs && i < json_object_array_length(cs); i++) {
			struct json_object *c = json_object_array_get_idx(cs, i), *cn = core_get(c, "name", NULL);
			if (!cn || strcmp(json_object_get_string(cn), cname) != 0)
				continue;
			struct json_object *st = core_get(core_get(core_get(c, "properties", "instanceView"),
								   "currentState", NULL),
							  "state", NULL);
			const char *state = st ? json_object_get_string(st) : "";
			if (strcmp(state, "Running") == 0 || strcmp(state, "Terminated") == 0)
				return 0;
		}
		nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
	}
	return 0; /* still starting: its state tells the rest */
}

static int name_request(const struct capsid_config *cfg, const char *name, unsigned short type,
			const char *container, int sig, struct capsid_error *err)
{
	if (!container || !*container)
		return capsid_error_set(err, EINVAL, "container: a name is required");
	struct group_paths p;
	int rc = open_live(cfg, name, &p, err);
	if (rc < 0)
		return rc;
	_cleanup_json_ struct json_object *body = json_object_new_object();
	json_object_object_add(body, "container", json_object_new_string(container));
	if (sig)
		json_object_object_add(body, "signal", json_object_new_int(sig));
	return core_request(&p, type, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN), NULL, err);
}

int capsid_group_remove_container(const struct capsid_config *cfg, const char *name, const char *container,
				  struct capsid_error *err)
{
	for (unsigned waited = 0;; waited += 100) {
		struct capsid_error e = {0};
		int rc = name_request(cfg, name, CAPSID_CTL_POD_REMOVE, container, 0, &e);
		if (rc == 0)
			return 0;
		if (rc != -EREMOTEIO || !strstr(e.msg, "has not ended yet") || waited >= POD_REMOVE_WAIT_MS) {
			*err = e;
			return capsid_error_prefix(err, "remove container %s from %s", container, name);
		}
		nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
	}
}

int capsid_group_signal_container(const struct capsid_config *cfg, const char *name, const char *container,
				  int sig, struct capsid_error *err)
{
	if (sig < 1 || sig > 64)
		return capsid_error_set(err, EINVAL, "signal %d: not a signal number", sig);
	int rc = name_request(cfg, name, CAPSID_CTL_POD_SIGNAL, container, sig, err);
	return rc < 0 ? capsid_error_prefix(err, "signal container %s of %s", container, name) : 0;
}
