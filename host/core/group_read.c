/* Reading groups: show (the state document, made truthful when the monitor
 * died), list, export, and logs (from the files, or followed live through
 * the monitor's control socket). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsid.h"
#include "cleanup.h"
#include "core_internal.h"
#include "frame.h"
#include "group.h"
#include "logfile.h"
#include "spec.h"
#include "util.h"
#include "view.h"

struct json_object *core_get(struct json_object *o, const char *a, const char *b)
{
	struct json_object *x = NULL, *y = NULL;
	if (!o || !json_object_object_get_ex(o, a, &x))
		return NULL;
	if (!b)
		return x;
	return json_object_object_get_ex(x, b, &y) ? y : NULL;
}

/* The VM cannot outlive its monitor (QEMU has PDEATHSIG), so a document
 * that still says Pending/Running with no monitor alive is rewritten. */
static bool fix_dead_monitor(struct json_object *doc)
{
	struct json_object *props = core_get(doc, "properties", NULL);
	struct json_object *iv = core_get(props, "instanceView", NULL);
	struct json_object *state = core_get(iv, "state", NULL);
	enum group_phase phase;
	if (!state || view_group_phase_parse(json_object_get_string(state), &phase) < 0 ||
	    !view_group_phase_active(phase))
		return false;
	char now[40];
	util_now_rfc3339(now);
	const char *why = "the group's monitor exited unexpectedly and its VM with it; `capsid start` boots it again";
	json_object_object_add(iv, "state", json_object_new_string("Failed"));
	json_object_object_add(iv, "detailStatus", json_object_new_string(why));
	struct json_object *events = core_get(iv, "events", NULL);
	if (events && json_object_is_type(events, json_type_array)) {
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "count", json_object_new_int(1));
		json_object_object_add(e, "firstTimestamp", json_object_new_string(now));
		json_object_object_add(e, "lastTimestamp", json_object_new_string(now));
		json_object_object_add(e, "name", json_object_new_string("MonitorLost"));
		json_object_object_add(e, "message", json_object_new_string(why));
		json_object_object_add(e, "type", json_object_new_string("Warning"));
		json_object_array_add(events, e);
	}
	for (size_t list = 0; list < 2; list++) {
		struct json_object *containers = core_get(props, list ? "initContainers" : "containers", NULL);
		for (size_t i = 0; containers && i < json_object_array_length(containers); i++) {
			struct json_object *civ = core_get(json_object_array_get_idx(containers, i), "properties", "instanceView");
			struct json_object *cur = core_get(civ, "currentState", NULL);
			struct json_object *cs = core_get(cur, "state", NULL);
			if (!cs || strcmp(json_object_get_string(cs), "Terminated") == 0)
				continue;
			struct json_object *prev = NULL;
			json_object_deep_copy(cur, &prev, NULL);
			json_object_object_add(civ, "previousState", prev);
			json_object_object_add(cur, "state", json_object_new_string("Terminated"));
			json_object_object_add(cur, "exitCode", json_object_new_int(137));
			json_object_object_add(cur, "finishTime", json_object_new_string(now));
			json_object_object_add(cur, "detailStatus", json_object_new_string("Killed: monitor lost"));
		}
	}
	return true;
}

int core_open_group(const struct capsid_config *cfg, const char *name, struct group_paths *p,
		    struct capsid_error *err)
{
	int rc = group_paths_init(cfg->root, name, p, err);
	if (rc < 0)
		return rc;
	struct stat st;
	if (stat(p->dir, &st) < 0)
		return capsid_error_set(err, ENOENT, "group %s not found", p->name);
	return 0;
}

int core_view_load(const struct group_paths *p, struct json_object **out, struct capsid_error *err)
{
	*out = NULL;
	struct stat st;
	if (stat(p->dir, &st) < 0)
		return capsid_error_set(err, ENOENT, "group %s not found", p->name);
	/* Take the lock while reading: a monitor starting right now is then
	 * either fully there or not yet there. */
	_cleanup_close_ int lock = group_lock(p);
	_cleanup_free_ char *text = NULL;
	int rc = util_read_file_at(AT_FDCWD, p->state, 16u << 20, &text, NULL);
	if (rc == -ENOENT) {
		/* Made by create, monitor not yet written its first state. */
		if (util_read_file_at(AT_FDCWD, p->spec, 1u << 20, &text, NULL) < 0)
			return capsid_error_set(err, ENOENT, "group %s has no state yet", p->name);
		struct json_object *doc = json_tokener_parse(text);
		if (!doc)
			return capsid_error_set(err, EINVAL, "group %s: %s is not JSON", p->name, p->spec);
		struct json_object *props = core_get(doc, "properties", NULL);
		if (props) {
			struct json_object *iv = json_object_new_object();
			json_object_object_add(iv, "state", json_object_new_string(lock >= 0 ? "Failed" : "Pending"));
			json_object_object_add(props, "instanceView", iv);
		}
		*out = doc;
		return 0;
	}
	if (rc < 0)
		return capsid_error_errno(err, -rc, "read %s", p->state);
	struct json_object *doc = json_tokener_parse(text);
	if (!doc)
		return capsid_error_set(err, EINVAL, "group %s: %s is not JSON", p->name, p->state);
	if (lock >= 0 && fix_dead_monitor(doc)) {
		size_t len;
		const char *s = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PRETTY, &len);
		util_write_file_atomic(p->state, s, len, 0640);
	}
	*out = doc;
	return 0;
}

int capsid_group_show(const struct capsid_config *cfg, const char *name, struct json_object **out,
		      struct capsid_error *err)
{
	struct group_paths p;
	*out = NULL;
	int rc = group_paths_init(cfg->root, name, &p, err);
	return rc < 0 ? rc : core_view_load(&p, out, err);
}

int capsid_group_list(const struct capsid_config *cfg, char ***names, size_t *n, struct capsid_error *err)
{
	int rc = group_list_names(cfg->root, names, n);
	return rc < 0 ? capsid_error_errno(err, -rc, "list %s/groups", cfg->root) : 0;
}

void capsid_names_free(char **names, size_t n)
{
	group_names_free(names, n);
}

/* ---- export -------------------------------------------------------------- */

int core_stored_spec(const struct capsid_config *cfg, const char *name, struct spec_group **out,
		     struct capsid_error *err)
{
	struct group_paths p;
	int rc = group_paths_init(cfg->root, name, &p, err);
	if (rc < 0)
		return rc;
	_cleanup_free_ char *text = NULL;
	rc = util_read_file_at(AT_FDCWD, p.spec, 1u << 20, &text, NULL);
	if (rc == -ENOENT)
		return capsid_error_set(err, ENOENT, "group %s not found", p.name);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "read %s", p.spec);
	/* It went through the validator when it was written: read back, it
	 * gives the same model. */
	rc = spec_parse_ex(text, strlen(text), SPEC_PARSE_REDACTED, out, NULL, err);
	return rc < 0 ? capsid_error_prefix(err, "group %s: stored spec", p.name) : 0;
}

int capsid_group_export(const struct capsid_config *cfg, const char *name, struct json_object **out,
			struct capsid_error *err)
{
	*out = NULL;
	_cleanup_spec_ struct spec_group *g = NULL;
	int rc = core_stored_spec(cfg, name, &g, err);
	if (rc < 0)
		return rc;
	struct json_object *doc = spec_to_json(g, SPEC_REDACT);
	if (!doc)
		return capsid_error_set(err, ENOMEM, "out of memory");
	/* A redacted secure variable is a name alone, which create refuses:
	 * ACI's export leaves such variables out. */
	for (size_t list = 0; list < 2; list++) {
		struct json_object *containers =
			core_get(core_get(doc, "properties", NULL), list ? "initContainers" : "containers", NULL);
		for (size_t i = 0; containers && i < json_object_array_length(containers); i++) {
			struct json_object *env = core_get(
				core_get(json_object_array_get_idx(containers, i), "properties", NULL),
				"environmentVariables", NULL);
			for (size_t k = env ? json_object_array_length(env) : 0; k-- > 0;)
				if (!core_get(json_object_array_get_idx(env, k), "value", NULL))
					json_object_array_del_idx(env, k, 1);
		}
	}
	*out = doc;
	return 0;
}

/* ---- logs ---------------------------------------------------------------- */

static int follow_live(const struct group_paths *p, const struct capsid_logs_opts *o, int *exit_code,
		       struct capsid_error *err)
{
	_cleanup_close_ int fd = group_connect(p, err);
	if (fd < 0)
		return fd;
	_cleanup_json_ struct json_object *req = json_object_new_object();
	json_object_object_add(req, "follow", json_object_new_boolean(1));
	json_object_object_add(req, "tail", json_object_new_int64(o->tail));
	json_object_object_add(req, "events", json_object_new_boolean(o->events));
	if (o->container) {
		struct json_object *arr = json_object_new_array();
		json_object_array_add(arr, json_object_new_string(o->container));
		json_object_object_add(req, "containers", arr);
	}
	int rc = frame_write_json_blocking(fd, CAPSID_CTL_ATTACH, 1, req);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "attach to %s", p->name);
	while (!o->stop || !*o->stop) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, 200);
		if (r < 0 && errno != EINTR)
			return capsid_error_errno(err, errno, "poll");
		if (r <= 0)
			continue;
		struct frame f;
		_cleanup_free_ uint8_t *body = NULL;
		rc = frame_read_blocking(fd, CAPSID_FRAME_MAX_BODY, &f, &body);
		if (rc == -EPIPE)
			return 0; /* the monitor went away */
		if (rc < 0)
			return capsid_error_errno(err, -rc, "read from the monitor of %s", p->name);
		_cleanup_json_ struct json_object *m = frame_body_json(&f);
		if (!m)
			continue;
		if (f.type == CAPSID_MSG_ERROR) {
			struct json_object *e = core_get(m, "error", NULL);
			return capsid_error_set(err, EREMOTEIO, "%s", e ? json_object_get_string(e) : "attach failed");
		}
		if (f.type == CAPSID_CTL_GROUP_END) {
			struct json_object *c = core_get(m, "exitCode", NULL);
			if (c && exit_code)
				*exit_code = json_object_get_int(c);
			return 0;
		}
		struct json_object *cn = core_get(m, "container", NULL);
		if (f.type == CAPSID_CTL_EVENT) {
			struct json_object *name = core_get(m, "name", NULL), *msg = core_get(m, "message", NULL);
			if (name && msg && o->on_warning)
				o->on_warning(o->ud, cn ? json_object_get_string(cn) : NULL, json_object_get_string(name),
					      json_object_get_string(msg));
			continue;
		}
		struct json_object *st = core_get(m, "stream", NULL), *line = core_get(m, "line", NULL),
				   *partial = core_get(m, "partial", NULL), *time = core_get(m, "time", NULL);
		if (f.type != CAPSID_CTL_LOGLINE || !cn || !st || !line || !o->on_line)
			continue;
		struct capsid_log_line l = {
		    .container = json_object_get_string(cn),
		    .time = time ? json_object_get_string(time) : "",
		    .is_stderr = !strcmp(json_object_get_string(st), "stderr"),
		    .partial = partial && json_object_get_boolean(partial),
		    .text = json_object_get_string(line),
		    .len = (size_t)json_object_get_string_len(line),
		};
		o->on_line(o->ud, &l);
	}
	return 0;
}

struct replay {
	const struct capsid_logs_opts *o;
	const char **names; /* per log file */
};

static void replay_record(size_t file, const struct log_record *rec, void *ud)
{
	struct replay *r = ud;
	struct capsid_log_line l = {
	    .container = r->names[file],
	    .time = rec->time,
	    .is_stderr = rec->stream == LOG_STDERR,
	    .partial = rec->partial,
	    .text = rec->content,
	    .len = rec->len,
	};
	if (r->o->on_line)
		r->o->on_line(r->o->ud, &l);
}

int capsid_group_logs(const struct capsid_config *cfg, const char *name, const struct capsid_logs_opts *o,
		      int *exit_code, struct capsid_error *err)
{
	if (exit_code)
		*exit_code = 0;
	struct group_paths p;
	_cleanup_json_ struct json_object *doc = NULL;
	int rc = group_paths_init(cfg->root, name, &p, err);
	if (rc < 0 || (rc = core_view_load(&p, &doc, err)) < 0)
		return rc;
	/* The group's containers, then its init containers. */
	struct json_object *props = core_get(doc, "properties", NULL);
	struct json_object *lists[2] = {core_get(props, "containers", NULL), core_get(props, "initContainers", NULL)};
	size_t nl[2] = {lists[0] ? json_object_array_length(lists[0]) : 0,
			lists[1] ? json_object_array_length(lists[1]) : 0};
	size_t nc = nl[0] + nl[1];
#define CONTAINER_AT(i) json_object_array_get_idx((i) < nl[0] ? lists[0] : lists[1], (i) < nl[0] ? (i) : (i) - nl[0])
	bool found = !o->container;
	for (size_t i = 0; o->container && i < nc; i++) {
		struct json_object *cn = core_get(CONTAINER_AT(i), "name", NULL);
		found = found || (cn && !strcmp(json_object_get_string(cn), o->container));
	}
	if (!found)
		return capsid_error_set(err, ENOENT, "group %s has no container %s", p.name, o->container);
	if (o->follow && group_monitor_alive(&p) > 0)
		return follow_live(&p, o, exit_code, err);
	/* Every container's records merged by time, as a live attach shows them. */
	_cleanup_free_ char(*paths)[PATH_MAX] = calloc(nc ? nc : 1, sizeof(*paths));
	_cleanup_free_ const char **files = calloc(nc ? nc : 1, sizeof(*files));
	_cleanup_free_ const char **names = calloc(nc ? nc : 1, sizeof(*names));
	if (!paths || !files || !names)
		return capsid_error_set(err, ENOMEM, "out of memory");
	size_t n = 0;
	for (size_t i = 0; i < nc; i++) {
		struct json_object *cn = core_get(CONTAINER_AT(i), "name", NULL);
		const char *cname = cn ? json_object_get_string(cn) : NULL;
		if (!cname || (o->container && strcmp(cname, o->container) != 0) ||
		    group_log_path(&p, cname, paths[n], sizeof(paths[n])) < 0)
			continue;
		files[n] = paths[n];
		names[n++] = cname;
	}
#undef CONTAINER_AT
	struct replay r = {o, names};
	if (log_read_merged(files, n, o->tail, replay_record, &r) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	return 0;
}
