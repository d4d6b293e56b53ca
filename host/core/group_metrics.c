/* The Prometheus text exposition of every group of a state root: ACI's
 * metrics (CPU usage, memory usage, network bytes received and
 * transmitted per second) per group and per container, from the guests'
 * counters (capsid_group_sample), and capsid's own (boot time, restarts,
 * start failures) from the instance views. Rates are taken between this
 * render and the previous one of the same struct capsid_metrics (0 on
 * the first); the cumulative counters are exported too, for rate(). */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsid.h"
#include "cleanup.h"
#include "core_internal.h"
#include "metrics_internal.h"
#include "util.h"

struct capsid_metrics *capsid_metrics_new(void)
{
	return calloc(1, sizeof(struct capsid_metrics));
}

void capsid_metrics_free(struct capsid_metrics *m)
{
	free(m);
}

struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static void emit(struct out *o, const char *fmt, ...)
{
	for (int attempt = 0; attempt < 2 && !o->failed; attempt++) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if (o->buf && o->len + (size_t)n < o->cap) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = (o->cap + (size_t)n + 1) * 2;
		char *b = realloc(o->buf, cap);
		if (!b) {
			o->failed = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

static const struct {
	const char *name, *type, *help;
} families[] = {
    {"capsid_group_up", "gauge", "1 while the group's VM runs"},
    {"capsid_group_info", "gauge", "the group's state (label state)"},
    {"capsid_group_cpu_usage_cores", "gauge", "CPU used by the group's containers, in cores (ACI CpuUsage)"},
    {"capsid_group_memory_working_set_bytes", "gauge",
     "memory working set of the group's containers (ACI MemoryUsage)"},
    {"capsid_group_network_received_bytes_per_second", "gauge", "ACI NetworkBytesReceivedPerSecond"},
    {"capsid_group_network_transmitted_bytes_per_second", "gauge", "ACI NetworkBytesTransmittedPerSecond"},
    {"capsid_group_network_received_bytes_total", "counter", "bytes the guest received"},
    {"capsid_group_network_transmitted_bytes_total", "counter", "bytes the guest sent"},
    {"capsid_group_boot_seconds", "gauge", "time from the VM's start to its agent being ready, last boot"},
    {"capsid_group_start_failures_total", "counter", "container creates and starts that failed in the guest"},
    {"capsid_container_cpu_usage_cores", "gauge", "CPU used by the container, in cores"},
    {"capsid_container_cpu_usage_seconds_total", "counter", "CPU time used by the container's current run"},
    {"capsid_container_memory_working_set_bytes", "gauge", "the container's memory working set"},
    {"capsid_container_block_read_bytes_total", "counter", "bytes the container read from block devices"},
    {"capsid_container_block_written_bytes_total", "counter", "bytes the container wrote to block devices"},
    {"capsid_container_restarts_total", "counter", "restarts of the container (restartCount)"},
};

struct series {
	const char *family;
	char labels[256];
	double value;
};

static struct metrics_prev *prev_of(struct capsid_metrics *m, const char *name)
{
	struct metrics_prev *free_slot = NULL;
	for (size_t i = 0; i < METRICS_MAX_GROUPS; i++) {
		if (m->prev[i].used && !strcmp(m->prev[i].name, name))
			return &m->prev[i];
		if (!m->prev[i].used && !free_slot)
			free_slot = &m->prev[i];
	}
	if (free_slot) {
		memset(free_slot, 0, sizeof(*free_slot));
		snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
	}
	return free_slot;
}

static double per_second(long long now, long long before, double dt)
{
	return dt > 0 && now >= 0 && before >= 0 && now >= before ? (double)(now - before) / dt : 0;
}

static struct json_object *get(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = NULL;
	if (!o || !json_object_object_get_ex(o, a, &v))
		return NULL;
	if (b && (!v || !json_object_object_get_ex(v, b, &v)))
		return NULL;
	return v;
}

/* Start failures: the containers' "Failed" events of a create or start, with their counts. */
static double start_failures(struct json_object *containers)
{
	double n = 0;
	for (size_t i = 0; containers && i < json_object_array_length(containers); i++) {
		struct json_object *ev =
		    get(get(json_object_array_get_idx(containers, i), "properties", "instanceView"), "events",
			NULL);
		for (size_t k = 0; ev && k < json_object_array_length(ev); k++) {
			struct json_object *e = json_object_array_get_idx(ev, k);
			const char *name = json_object_get_string(get(e, "name", NULL));
			const char *msg = json_object_get_string(get(e, "message", NULL));
			if (name && msg && !strcmp(name, "Failed") &&
			    (!strncmp(msg, "start failed", 12) || !strncmp(msg, "create failed", 13)))
				n += json_object_get_int(get(e, "count", NULL));
		}
	}
	return n;
}

/* One group's series. */
static size_t group_series(const struct capsid_config *cfg, struct capsid_metrics *m, const char *name,
			   struct series *s, size_t max)
{
	size_t n = 0;
#define ADD(fam, val, ...)                                                                                   \
	do {                                                                                                 \
		if (n < max) {                                                                               \
			s[n].family = fam;                                                                   \
			snprintf(s[n].labels, sizeof(s[n].labels), __VA_ARGS__);                             \
			s[n++].value = (val);                                                                \
		}                                                                                            \
	} while (0)
	struct capsid_error err = {0};
	_cleanup_json_ struct json_object *view = NULL;
	if (capsid_group_show(cfg, name, &view, &err) < 0)
		return 0;
	struct json_object *props = get(view, "properties", NULL);
	const char *state = json_object_get_string(get(props, "instanceView", "state"));
	struct capsid_group_sample now;
	bool up = capsid_group_sample(cfg, name, &now, &err) == 0;
	ADD("capsid_group_up", up ? 1 : 0, "group=\"%s\"", name);
	ADD("capsid_group_info", 1, "group=\"%s\",state=\"%s\"", name, state ? state : "Unknown");
	struct json_object *boot = get(view, "capsid", "bootMs");
	if (boot)
		ADD("capsid_group_boot_seconds", json_object_get_int64(boot) / 1000.0, "group=\"%s\"", name);
	struct json_object *lists[2] = {get(props, "containers", NULL), get(props, "initContainers", NULL)};
	ADD("capsid_group_start_failures_total", start_failures(lists[0]) + start_failures(lists[1]),
	    "group=\"%s\"", name);
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; lists[l] && i < json_object_array_length(lists[l]); i++) {
			struct json_object *c = json_object_array_get_idx(lists[l], i);
			const char *cn = json_object_get_string(get(c, "name", NULL));
			struct json_object *rc =
			    get(get(c, "properties", "instanceView"), "restartCount", NULL);
			if (cn && util_name_valid(cn))
				ADD("capsid_container_restarts_total", rc ? json_object_get_int(rc) : 0,
				    "group=\"%s\",container=\"%s\"", name, cn);
		}
	struct metrics_prev *p = prev_of(m, name);
	if (!up) {
		if (p)
			p->used = false;
		return n;
	}
	bool have_prev = p && p->used;
	double dt = have_prev ? (double)(now.time_ns - p->sample.time_ns) / 1e9 : 0;
	double cpu_sum = 0, ws_sum = 0;
	for (size_t i = 0; i < now.n_containers; i++) {
		const struct capsid_container_sample *c = &now.containers[i], *before = NULL;
		for (size_t k = 0; have_prev && k < p->sample.n_containers; k++)
			if (!strcmp(p->sample.containers[k].name, c->name))
				before = &p->sample.containers[k];
		double cores = before ? per_second(c->cpu_usec, before->cpu_usec, dt) / 1e6 : 0;
		cpu_sum += cores;
		ws_sum += c->working_set_bytes > 0 ? (double)c->working_set_bytes : 0;
		ADD("capsid_container_cpu_usage_cores", cores, "group=\"%s\",container=\"%s\"", name,
		    c->name);
		ADD("capsid_container_cpu_usage_seconds_total", c->cpu_usec >= 0 ? c->cpu_usec / 1e6 : 0,
		    "group=\"%s\",container=\"%s\"", name, c->name);
		ADD("capsid_container_memory_working_set_bytes", (double)c->working_set_bytes,
		    "group=\"%s\",container=\"%s\"", name, c->name);
		if (c->io_read_bytes >= 0)
			ADD("capsid_container_block_read_bytes_total", (double)c->io_read_bytes,
			    "group=\"%s\",container=\"%s\"", name, c->name);
		if (c->io_write_bytes >= 0)
			ADD("capsid_container_block_written_bytes_total", (double)c->io_write_bytes,
			    "group=\"%s\",container=\"%s\"", name, c->name);
	}
	ADD("capsid_group_cpu_usage_cores", cpu_sum, "group=\"%s\"", name);
	ADD("capsid_group_memory_working_set_bytes", ws_sum, "group=\"%s\"", name);
	ADD("capsid_group_network_received_bytes_per_second",
	    have_prev ? per_second(now.rx_bytes, p->sample.rx_bytes, dt) : 0, "group=\"%s\"", name);
	ADD("capsid_group_network_transmitted_bytes_per_second",
	    have_prev ? per_second(now.tx_bytes, p->sample.tx_bytes, dt) : 0, "group=\"%s\"", name);
	ADD("capsid_group_network_received_bytes_total", (double)now.rx_bytes, "group=\"%s\"", name);
	ADD("capsid_group_network_transmitted_bytes_total", (double)now.tx_bytes, "group=\"%s\"", name);
	if (p) {
		p->sample = now;
		p->used = true;
	}
#undef ADD
	return n;
}

int capsid_metrics_render(const struct capsid_config *cfg, struct capsid_metrics *m, char **text, size_t *len,
			  struct capsid_error *err)
{
	*text = NULL;
	*len = 0;
	char **names = NULL;
	size_t n = 0;
	int rc = capsid_group_list(cfg, &names, &n, err);
	if (rc < 0)
		return rc;
	rc = metrics_render_names(cfg, m, (const char *const *)names, n, text, len, err);
	capsid_names_free(names, n);
	return rc;
}

int metrics_render_names(const struct capsid_config *cfg, struct capsid_metrics *m, const char *const *names,
			 size_t n, char **text, size_t *len, struct capsid_error *err)
{
	*text = NULL;
	*len = 0;
	size_t max = 32 + 8 * CAPSID_STATS_MAX_CONTAINERS;
	size_t groups = n < METRICS_MAX_GROUPS ? n : METRICS_MAX_GROUPS;
	_cleanup_free_ struct series *all = calloc(groups * max + 1, sizeof(*all));
	size_t total = 0;
	for (size_t i = 0; all && i < groups; i++)
		total += group_series(cfg, m, names[i], all + total, max);
	if (!all)
		return capsid_error_set(err, ENOMEM, "out of memory");
	struct out o = {0};
	for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
		emit(&o, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help, families[f].name,
		     families[f].type);
		for (size_t i = 0; i < total; i++)
			if (!strcmp(all[i].family, families[f].name))
				emit(&o, "%s{%s} %.6g\n", all[i].family, all[i].labels, all[i].value);
	}
	if (o.failed) {
		free(o.buf);
		return capsid_error_set(err, ENOMEM, "out of memory");
	}
	*text = o.buf;
	*len = o.len;
	return 0;
}
