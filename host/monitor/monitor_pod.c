/* Pods: containers added to a running group, as containerd's CRI plugin
 * adds a pod's containers one by one to its sandbox. The VM has no disk
 * hot-plug, so a group whose tag capsid.pod-slots asks for N (1..4) boots
 * with N spare read-only disks, sparse placeholders with the serials
 * pod0..; adding a container points a free slot at its image over QMP
 * (vmm_replace_disk_gen), appends it to the spec, the instance view and the
 * containers, and has the agent create and start it (the agent finds its
 * image by the slot's serial). Removing an added container that has ended
 * (the agent deleted it and released its image mount) frees its slot. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "image.h"
#include "logfile.h"
#include "monitor.h"
#include "proto.h"
#include "spec.h"
#include "util.h"

#define POD_SLOTS_TAG "capsid.pod-slots"
/* The guest reads a disk's capacity once, at probe: the placeholder is at
 * least as large as any image a slot takes. Sparse, so it costs nothing. */
#define POD_PLACEHOLDER_BYTES (64ull << 30)

int monitor_pod_prepare(struct monitor *m, struct capsid_error *err)
{
	const char *v = NULL;
	for (size_t i = 0; i < m->spec->n_tags; i++)
		if (strcmp(m->spec->tags[i].key, POD_SLOTS_TAG) == 0)
			v = m->spec->tags[i].value;
	if (!v)
		return 0;
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n < 1 || n > MONITOR_POD_SLOTS)
		return capsid_error_set(err, EINVAL, "tags." POD_SLOTS_TAG ": \"%s\" is not a number of slots from 1 to %d",
					v, MONITOR_POD_SLOTS);
	m->pod.n_slots = n;
	for (size_t i = 0; i < n; i++)
		snprintf(m->pod.serials[i], sizeof(m->pod.serials[i]), "pod%zu", i);
	if ((size_t)snprintf(m->pod.placeholder, sizeof(m->pod.placeholder), "%s/pod-placeholder", m->paths->dir) >=
	    sizeof(m->pod.placeholder))
		return capsid_error_set(err, ENAMETOOLONG, "%s: path too long", m->paths->dir);
	return 0;
}

static size_t find_container(const struct monitor *m, const char *name)
{
	for (size_t i = 0; i < m->n_containers; i++)
		if (strcmp(m->containers[i].view->name, name) == 0)
			return i;
	return SIZE_MAX;
}

static size_t find_slot(const struct monitor *m, const char *name)
{
	for (size_t s = 0; s < m->pod.n_slots; s++)
		if (strcmp(m->pod.holder[s], name) == 0)
			return s;
	return SIZE_MAX;
}

int monitor_pod_boot_disks(struct monitor *m, struct vmm_config *cfg, struct capsid_error *err)
{
	if (!m->pod.n_slots)
		return 0;
	if (cfg->n_disks + m->pod.n_slots > VMM_MAX_DISKS)
		return capsid_error_set(err, E2BIG, "pod slots: more than %d disks", VMM_MAX_DISKS);
	if (access(m->pod.placeholder, R_OK) < 0) {
		_cleanup_close_ int fd = open(m->pod.placeholder, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0 || ftruncate(fd, (off_t)POD_PLACEHOLDER_BYTES) < 0)
			return capsid_error_errno(err, errno, "create %s", m->pod.placeholder);
	}
	m->pod.first_disk = cfg->n_disks;
	for (size_t s = 0; s < m->pod.n_slots; s++) {
		const char *path = m->pod.placeholder;
		size_t i = m->pod.holder[s][0] ? find_container(m, m->pod.holder[s]) : SIZE_MAX;
		if (i != SIZE_MAX)
			path = m->images[i]->disk_path; /* a reboot: the slot's container boots from its image */
		m->pod.gen[s] = 0;
		cfg->disks[cfg->n_disks++] =
			(struct vmm_disk){.path = path, .serial = m->pod.serials[s], .format = "raw", .readonly = true};
	}
	return 0;
}

/* Every array indexed by container grows by one; the view pointers follow. */
static int grow(struct monitor *m)
{
	size_t n = m->n_containers + 1;
	struct mcontainer *c = realloc(m->containers, n * sizeof(*c));
	if (!c)
		return -ENOMEM;
	m->containers = c;
	struct view_container *v = realloc(m->view.containers, n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->view.containers = v;
	struct image_info **im = realloc(m->images, n * sizeof(*im));
	if (!im)
		return -ENOMEM;
	m->images = im;
	struct spec_container *sc = realloc(m->spec->containers, n * sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	m->spec->containers = sc;
	for (size_t i = 0; i < m->n_containers; i++)
		m->containers[i].view = &m->view.containers[i];
	return 0;
}

static int pod_add(struct monitor *m, struct json_object *body, struct capsid_error *err)
{
	if (!m->pod.n_slots)
		return capsid_error_set(err, ENOTSUP,
					"group %s has no spare disk slots for added containers (create it with the tag "
					POD_SLOTS_TAG ")",
					m->paths->name);
	if (m->spec->n_init_containers)
		return capsid_error_set(err, ENOTSUP,
					"group %s has init containers: containers are not added to such a group",
					m->paths->name);
	if (m->vm.fsm.state != VM_READY)
		return capsid_error_set(err, EBUSY, "group %s is not running: containers are added to a running VM",
					m->paths->name);
	struct json_object *cj = NULL;
	if (!json_object_object_get_ex(body, "container", &cj) || !json_object_is_type(cj, json_type_object))
		return capsid_error_set(err, EINVAL, "container: an object (ACI's container) is required");
	/* The spec module validates it as the only container of a group. */
	_cleanup_json_ struct json_object *doc = json_object_new_object();
	struct json_object *props = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	json_object_array_add(arr, json_object_get(cj));
	json_object_object_add(props, "osType", json_object_new_string("Linux"));
	json_object_object_add(props, "restartPolicy", json_object_new_string("Never"));
	json_object_object_add(props, "containers", arr);
	json_object_object_add(doc, "name", json_object_new_string(m->paths->name));
	json_object_object_add(doc, "properties", props);
	_cleanup_spec_ struct spec_group *g = NULL;
	int rc = spec_from_json(doc, &g, NULL, err);
	if (rc < 0)
		return capsid_error_prefix(err, "container");
	if (g->n_volumes || g->containers[0].n_mounts)
		return capsid_error_set(err, ENOTSUP, "container: volume mounts are not supported in an added container");
	const char *name = g->containers[0].name;
	if (find_container(m, name) != SIZE_MAX)
		return capsid_error_set(err, EEXIST, "container %s: group %s already has a container of that name", name,
					m->paths->name);
	size_t slot = find_slot(m, "");
	if (slot == SIZE_MAX)
		return capsid_error_set(err, ENOSPC,
					"group %s: all %zu spare disk slots are in use (at most %d containers can be "
					"added to a running group: its VM has no disk hot-plug)",
					m->paths->name, m->pod.n_slots, MONITOR_POD_SLOTS);
	struct image_info *img = NULL;
	struct image_store *store = NULL;
	rc = image_store_open(m->paths->root, &store, err);
	if (rc < 0)
		return rc;
	rc = image_resolve(store, g->containers[0].image, &img, err);
	image_store_close(store);
	if (rc < 0)
		return capsid_error_prefix(err, "container %s: image", name);
	size_t n = m->n_containers;
	char logpath[PATH_MAX];
	struct log_writer *log = NULL;
	if (group_log_path(m->paths, name, logpath, sizeof(logpath)) < 0)
		rc = capsid_error_set(err, ENAMETOOLONG, "log path too long");
	else if ((rc = log_writer_open(logpath, &log)) < 0)
		capsid_error_errno(err, -rc, "open %s", logpath);
	else if ((rc = vmm_replace_disk_gen(m->paths->qmp, m->pod.first_disk + slot, m->pod.gen[slot], img->disk_path,
					    err)) < 0)
		capsid_error_prefix(err, "container %s: disk slot %zu", name, slot);
	else if ((rc = grow(m)) < 0)
		capsid_error_errno(err, -rc, "out of memory");
	if (rc < 0) {
		log_writer_close(log);
		image_info_free(img);
		return rc;
	}
	m->pod.gen[slot]++;
	log_writer_set_limits(log, m->opts->log_max_bytes, m->opts->log_max_files);
	/* The redacted document the view and show are made of. */
	struct json_object *red = spec_to_json(g, SPEC_REDACT), *rprops, *rcs, *mprops, *mcs;
	if (red && json_object_object_get_ex(red, "properties", &rprops) &&
	    json_object_object_get_ex(rprops, "containers", &rcs) &&
	    json_object_object_get_ex(m->spec_redacted, "properties", &mprops) &&
	    json_object_object_get_ex(mprops, "containers", &mcs))
		json_object_array_add(mcs, json_object_get(json_object_array_get_idx(rcs, 0)));
	json_object_put(red);
	/* The container moves from g into the group's spec. */
	m->spec->containers[n] = g->containers[0];
	g->n_containers = 0;
	m->spec->n_containers = n + 1;
	m->images[n] = img;
	m->view.containers[n] = (struct view_container){0};
	snprintf(m->view.containers[n].name, sizeof(m->view.containers[n].name), "%s", name);
	m->containers[n] = (struct mcontainer){.view = &m->view.containers[n], .index = n, .log = log};
	snprintf(m->containers[n].image_serial, sizeof(m->containers[n].image_serial), "%s", m->pod.serials[slot]);
	m->n_containers = m->view.n_containers = n + 1;
	snprintf(m->pod.holder[slot], sizeof(m->pod.holder[slot]), "%s", name);
	monitor_log(m, "pod: container %s added in slot %zu (%s)", name, slot, img->disk_path);
	monitor_start_container(m, n);
	monitor_update_phase(m);
	monitor_save_state(m);
	return 0;
}

static const char *container_arg(struct json_object *body, struct capsid_error *err)
{
	struct json_object *v;
	if (!json_object_object_get_ex(body, "container", &v) || !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0 || json_object_get_string_len(v) > 63) {
		capsid_error_set(err, EINVAL, "container: a container name is required");
		return NULL;
	}
	return json_object_get_string(v);
}

static bool has_pending(const struct monitor *m, size_t i)
{
	for (size_t k = 0; k < m->agent.n_pending; k++)
		if ((m->agent.pending[k].kind == REQ_CREATE || m->agent.pending[k].kind == REQ_START ||
		     m->agent.pending[k].kind == REQ_DELETE) &&
		    m->agent.pending[k].container == i)
			return true;
	return false;
}

static int pod_remove(struct monitor *m, struct json_object *body, struct capsid_error *err)
{
	const char *name = container_arg(body, err);
	if (!name)
		return -EINVAL;
	size_t i = find_container(m, name), slot = find_slot(m, name);
	if (i == SIZE_MAX)
		return capsid_error_set(err, ENOENT, "container %s not found in group %s", name, m->paths->name);
	if (slot == SIZE_MAX)
		return capsid_error_set(err, EPERM,
					"container %s was not added to the running group: it goes with the group", name);
	struct mcontainer *c = &m->containers[i];
	if (c->running || c->created || has_pending(m, i))
		return capsid_error_set(err, EBUSY, "container %s has not ended yet: signal it first", name);
	log_writer_close(c->log);
	image_info_free(m->images[i]);
	struct spec_group one = {.containers = malloc(sizeof(struct spec_container)), .n_containers = 1};
	if (one.containers) {
		one.containers[0] = m->spec->containers[i];
		struct spec_group *g = calloc(1, sizeof(*g));
		if (g) {
			*g = one;
			spec_free(g);
		} else {
			free(one.containers);
		}
	}
	size_t tail = m->n_containers - i - 1;
	memmove(&m->containers[i], &m->containers[i + 1], tail * sizeof(m->containers[0]));
	memmove(&m->view.containers[i], &m->view.containers[i + 1], tail * sizeof(m->view.containers[0]));
	memmove(&m->images[i], &m->images[i + 1], tail * sizeof(m->images[0]));
	memmove(&m->spec->containers[i], &m->spec->containers[i + 1], tail * sizeof(m->spec->containers[0]));
	m->n_containers--;
	m->view.n_containers--;
	m->spec->n_containers--;
	for (size_t k = 0; k < m->n_containers; k++) {
		m->containers[k].view = &m->view.containers[k];
		m->containers[k].index = k;
	}
	for (size_t k = 0; k < m->agent.n_pending; k++)
		if (m->agent.pending[k].kind != REQ_EXEC && m->agent.pending[k].kind != REQ_RELAY &&
		    m->agent.pending[k].container > i && m->agent.pending[k].container != SIZE_MAX)
			m->agent.pending[k].container--;
	struct json_object *mprops, *mcs;
	if (json_object_object_get_ex(m->spec_redacted, "properties", &mprops) &&
	    json_object_object_get_ex(mprops, "containers", &mcs))
		json_object_array_del_idx(mcs, i, 1);
	m->pod.holder[slot][0] = '\0';
	monitor_log(m, "pod: container %s removed, slot %zu free", name, slot);
	monitor_update_phase(m);
	monitor_save_state(m);
	return 0;
}

static int pod_signal(struct monitor *m, struct json_object *body, struct capsid_error *err)
{
	const char *name = container_arg(body, err);
	if (!name)
		return -EINVAL;
	struct json_object *sv;
	int sig = json_object_object_get_ex(body, "signal", &sv) ? json_object_get_int(sv) : 0;
	if (sig < 1 || sig > 64)
		return capsid_error_set(err, EINVAL, "signal: a signal number from 1 to 64 is required");
	size_t i = find_container(m, name);
	if (i == SIZE_MAX)
		return capsid_error_set(err, ENOENT, "container %s not found in group %s", name, m->paths->name);
	struct mcontainer *c = &m->containers[i];
	if (!c->running || !c->stream)
		return capsid_error_set(err, ESRCH, "container %s is not running", name);
	struct json_object *b = json_object_new_object();
	json_object_object_add(b, "stream", json_object_new_int64(c->stream));
	json_object_object_add(b, "signal", json_object_new_int(sig));
	struct pending_req req = {.kind = REQ_IGNORE};
	if (monitor_agent_request(m, CAPSID_MSG_SIGNAL, b, &req) < 0)
		return capsid_error_set(err, EIO, "cannot reach the agent");
	return 0;
}

int monitor_pod_request(struct monitor *m, uint16_t type, struct json_object *body, struct json_object **reply,
			struct capsid_error *err)
{
	int rc;
	switch (type) {
	case CAPSID_CTL_POD_ADD:
		rc = pod_add(m, body, err);
		break;
	case CAPSID_CTL_POD_REMOVE:
		rc = pod_remove(m, body, err);
		break;
	case CAPSID_CTL_POD_SIGNAL:
		rc = pod_signal(m, body, err);
		break;
	default:
		return capsid_error_set(err, EINVAL, "not a pod request");
	}
	if (rc < 0)
		return rc;
	*reply = json_object_new_object();
	return 0;
}
