/* The metrics of a chosen set of groups (a tenant's, for capsidd), and
 * the base of their per-second rates kept in a file between renders, so
 * that a render in a short-lived process still has the previous one's
 * samples. The file is ours but read as untrusted: sizes, counts and
 * names are checked, and a bad file is as good as none (rates are 0 once). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "capsid.h"
#include "cleanup.h"
#include "metrics_internal.h"
#include "util.h"

#define STATE_MAX_BYTES (16u << 20)

int capsid_metrics_render_groups(const struct capsid_config *cfg, struct capsid_metrics *m,
				 const char *const *names, size_t n, char **text, size_t *len,
				 struct capsid_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (!util_name_valid(names[i]))
			return capsid_error_set(err, EINVAL, "'%.64s' is not a group name", names[i]);
	/* m keeps the named groups' samples only: a group gone from the set
	 * (deleted, or no longer the tenant's) leaves no base behind. */
	for (size_t i = 0; i < METRICS_MAX_GROUPS; i++) {
		bool named = false;
		for (size_t k = 0; k < n && !named; k++)
			named = !strcmp(m->prev[i].name, names[k]);
		if (!named)
			m->prev[i].used = false;
	}
	return metrics_render_names(cfg, m, names, n, text, len, err);
}

static void add_int(struct json_object *o, const char *key, long long v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

int capsid_metrics_save(const struct capsid_metrics *m, const char *path, struct capsid_error *err)
{
	_cleanup_json_ struct json_object *doc = json_object_new_object();
	struct json_object *groups = json_object_new_array();
	json_object_object_add(doc, "groups", groups);
	for (size_t i = 0; i < METRICS_MAX_GROUPS; i++) {
		const struct metrics_prev *p = &m->prev[i];
		if (!p->used)
			continue;
		struct json_object *g = json_object_new_object(), *cs = json_object_new_array();
		json_object_object_add(g, "name", json_object_new_string(p->name));
		add_int(g, "timeNs", (long long)p->sample.time_ns);
		add_int(g, "rx", p->sample.rx_bytes);
		add_int(g, "tx", p->sample.tx_bytes);
		for (size_t k = 0; k < p->sample.n_containers; k++) {
			const struct capsid_container_sample *s = &p->sample.containers[k];
			struct json_object *c = json_object_new_object();
			json_object_object_add(c, "name", json_object_new_string(s->name));
			add_int(c, "cpu", s->cpu_usec);
			add_int(c, "mem", s->memory_bytes);
			add_int(c, "ws", s->working_set_bytes);
			add_int(c, "rd", s->io_read_bytes);
			add_int(c, "wr", s->io_write_bytes);
			json_object_array_add(cs, c);
		}
		json_object_object_add(g, "containers", cs);
		json_object_array_add(groups, g);
	}
	size_t len = 0;
	const char *text = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN, &len);
	int rc = text ? util_write_file_atomic(path, text, len, 0600) : -ENOMEM;
	if (rc < 0)
		return capsid_error_errno(err, -rc, "write %s", path);
	return 0;
}

static long long num(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	return json_object_get_int64(v);
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int capsid_metrics_load(struct capsid_metrics *m, const char *path, struct capsid_error *err)
{
	memset(m, 0, sizeof(*m));
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int rc = util_read_file_at(AT_FDCWD, path, STATE_MAX_BYTES, &text, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return capsid_error_errno(err, -rc, "read %s", path);
	_cleanup_json_ struct json_object *doc = json_tokener_parse(text);
	struct json_object *groups = NULL;
	if (!doc || !json_object_object_get_ex(doc, "groups", &groups) ||
	    !json_object_is_type(groups, json_type_array))
		return capsid_error_set(err, EINVAL, "%s is not a metrics state file", path);
	size_t used = 0;
	for (size_t i = 0; i < json_object_array_length(groups) && used < METRICS_MAX_GROUPS; i++) {
		struct json_object *g = json_object_array_get_idx(groups, i), *cs = NULL;
		const char *name = str(g, "name");
		long long t = num(g, "timeNs");
		if (!name || !util_name_valid(name) || t <= 0 ||
		    !json_object_object_get_ex(g, "containers", &cs) ||
		    !json_object_is_type(cs, json_type_array))
			continue;
		struct metrics_prev *p = &m->prev[used++];
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->used = true;
		p->sample.time_ns = (unsigned long long)t;
		p->sample.rx_bytes = num(g, "rx");
		p->sample.tx_bytes = num(g, "tx");
		for (size_t k = 0;
		     k < json_object_array_length(cs) && p->sample.n_containers < CAPSID_STATS_MAX_CONTAINERS;
		     k++) {
			struct json_object *c = json_object_array_get_idx(cs, k);
			const char *cn = str(c, "name");
			if (!cn || !util_name_valid(cn))
				continue;
			struct capsid_container_sample *s = &p->sample.containers[p->sample.n_containers++];
			snprintf(s->name, sizeof(s->name), "%s", cn);
			s->cpu_usec = num(c, "cpu");
			s->memory_bytes = num(c, "mem");
			s->working_set_bytes = num(c, "ws");
			s->io_read_bytes = num(c, "rd");
			s->io_write_bytes = num(c, "wr");
		}
	}
	return 0;
}
