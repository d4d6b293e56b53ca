/* Pods: containerd's CRI plugin runs a pod as a sandbox task and then
 * container tasks, annotated io.kubernetes.cri.container-type (sandbox /
 * container) and io.kubernetes.cri.sandbox-id. The sandbox's task creates
 * the pod's group with spare disk slots (capsid.pod-slots) and the
 * sandbox's CPU and memory annotations as the VM's size; a container task
 * joins that group (capsid_group_add_container) as a container of its own
 * (own rootfs, cgroup and limits in the guest); its Kill signals it, its
 * Delete removes it and frees its slot; the sandbox's Delete deletes the
 * group and so the VM. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "shim.h"
#include "spec.h"
#include "util.h"

#define ANN_TYPE	   "io.kubernetes.cri.container-type"
#define ANN_SANDBOX	   "io.kubernetes.cri.sandbox-id"
#define ANN_CPU_QUOTA	   "io.kubernetes.cri.sandbox-cpu-quota"
#define ANN_CPU_PERIOD	   "io.kubernetes.cri.sandbox-cpu-period"
#define ANN_MEMORY	   "io.kubernetes.cri.sandbox-memory"
#define POD_WATCH_MS	   200
/* After the container ended: its last lines reach the follower first. */
#define POD_DRAIN_MS 500

static const char *annotation(const struct shim_task *t, const char *key)
{
	struct json_object *a, *v;
	if (!t->oci || !json_object_object_get_ex(t->oci, "annotations", &a) ||
	    !json_object_object_get_ex(a, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int shim_pod_classify(struct shim *s, struct shim_task *t, struct capsid_error *err)
{
	const char *type = annotation(t, ANN_TYPE), *sandbox = annotation(t, ANN_SANDBOX);
	snprintf(t->container, sizeof(t->container), "task");
	if (!type)
		return 0;
	if (strcmp(type, "sandbox") == 0) {
		t->pod_role = SHIM_POD_SANDBOX;
		return 0;
	}
	if (strcmp(type, "container") != 0)
		return capsid_error_set(err, EINVAL, "annotation " ANN_TYPE ": \"%s\" is neither sandbox nor container",
					type);
	if (!sandbox || !*sandbox)
		return capsid_error_set(err, EINVAL, "annotation " ANN_SANDBOX " is required for a container");
	t->pod_role = SHIM_POD_MEMBER;
	shim_group_name(s->o.ns, sandbox, t->group);
	/* A container name in the group: the task id's first characters and a
	 * hash of the whole (ACI names: lowercase letters, digits, '-'). */
	uint64_t h = 0xcbf29ce484222325ull;
	for (const char *p = t->id; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	char head[17] = {0};
	size_t n = 0;
	for (const char *p = t->id; *p && n < 16; p++) {
		char c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			head[n++] = c;
	}
	snprintf(t->container, sizeof(t->container), "c-%s-%08x", head, (unsigned)(h & 0xffffffffu));
	return 0;
}

static int64_t ann_int(const struct shim_task *t, const char *key)
{
	const char *v = annotation(t, key);
	if (!v)
		return 0;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	return errno || end == v || *end || n < 0 ? 0 : n;
}

void shim_pod_adjust_spec(const struct shim_task *t, struct json_object *doc, struct json_object *container,
			  struct json_object *requests)
{
	json_object_object_add(container, "name", json_object_new_string(t->container));
	if (t->pod_role != SHIM_POD_SANDBOX)
		return;
	struct json_object *tags = json_object_new_object();
	json_object_object_add(tags, CAPSID_POD_SLOTS_TAG, json_object_new_string("4"));
	json_object_object_add(doc, "tags", tags);
	int64_t quota = ann_int(t, ANN_CPU_QUOTA), period = ann_int(t, ANN_CPU_PERIOD), mem = ann_int(t, ANN_MEMORY);
	if (quota > 0 && period > 0)
		json_object_object_add(requests, "cpu", json_object_new_double((double)((quota + period - 1) / period)));
	if (mem > 0)
		json_object_object_add(requests, "memoryInGB",
				       json_object_new_double((double)(mem < (128ll << 20) ? (128ll << 20) : mem) /
							      (1024.0 * 1024 * 1024)));
}

int shim_pod_join(struct shim *s, struct shim_task *t, struct capsid_error *err)
{
	_cleanup_(spec_freep) struct spec_group *spec = NULL;
	int rc = shim_spec_build(t, &spec, err);
	if (rc < 0)
		return rc;
	_cleanup_json_ struct json_object *doc = spec_to_json(spec, SPEC_WITH_SECRETS);
	struct json_object *props, *cs;
	if (!doc || !json_object_object_get_ex(doc, "properties", &props) ||
	    !json_object_object_get_ex(props, "containers", &cs))
		return capsid_error_set(err, ENOMEM, "out of memory");
	rc = capsid_group_add_container(&s->cfg, t->group, json_object_array_get_idx(cs, 0), err);
	spec_json_wipe_secrets(doc);
	return rc < 0 ? capsid_error_prefix(err, "start task %s in pod group %s", t->id, t->group) : 0;
}

/* The container's state in the group: 1 ended (*code set), 0 not yet, -1 gone. */
static int member_state(struct shim *s, const struct shim_task *t, int *code)
{
	struct capsid_error err = {0};
	_cleanup_json_ struct json_object *doc = NULL;
	if (capsid_group_show(&s->cfg, t->group, &doc, &err) < 0)
		return -1;
	struct json_object *props, *cs, *gv, *st;
	if (!json_object_object_get_ex(doc, "properties", &props) ||
	    !json_object_object_get_ex(props, "containers", &cs))
		return -1;
	for (size_t i = 0; i < json_object_array_length(cs); i++) {
		struct json_object *c = json_object_array_get_idx(cs, i), *n, *cp, *iv, *cur, *state, *ec;
		if (!json_object_object_get_ex(c, "name", &n) || strcmp(json_object_get_string(n), t->container) != 0)
			continue;
		if (!json_object_object_get_ex(c, "properties", &cp) ||
		    !json_object_object_get_ex(cp, "instanceView", &iv) ||
		    !json_object_object_get_ex(iv, "currentState", &cur) ||
		    !json_object_object_get_ex(cur, "state", &state))
			return 0;
		if (strcmp(json_object_get_string(state), "Terminated") != 0)
			return 0;
		*code = json_object_object_get_ex(cur, "exitCode", &ec) ? json_object_get_int(ec) : 255;
		return 1;
	}
	/* Not in the group: a group that ended without it. */
	if (json_object_object_get_ex(props, "instanceView", &gv) && json_object_object_get_ex(gv, "state", &st))
		return -1;
	return -1;
}

struct member_watch {
	struct shim *s;
	const struct shim_task *t;
	volatile sig_atomic_t stop;
	int code;
};

static void *watch_thread(void *arg)
{
	struct member_watch *w = arg;
	for (;;) {
		int rc = member_state(w->s, w->t, &w->code);
		if (rc != 0) {
			if (rc < 0)
				w->code = 137;
			nanosleep(&(struct timespec){.tv_nsec = POD_DRAIN_MS * 1000000L}, NULL);
			w->stop = 1;
			return NULL;
		}
		nanosleep(&(struct timespec){.tv_nsec = POD_WATCH_MS * 1000000L}, NULL);
	}
}

int shim_pod_follow(struct shim *s, const struct shim_task *t, struct capsid_logs_opts *lo, struct capsid_error *err)
{
	struct member_watch w = {.s = s, .t = t, .code = 255};
	pthread_t th;
	if (pthread_create(&th, NULL, watch_thread, &w) != 0)
		return capsid_error_set(err, EAGAIN, "start a thread");
	lo->container = t->container;
	lo->stop = &w.stop;
	int ignored;
	int rc = capsid_group_logs(&s->cfg, t->group, lo, &ignored, err);
	w.stop = 1;
	pthread_join(th, NULL);
	return rc < 0 ? rc : w.code;
}
