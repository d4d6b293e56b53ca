/* `capsid usage`: the usage records of every group (host/monitor/usage.h)
 * summed per group from a time on: vCPU-seconds and GiB-seconds, as ACI
 * bills them (the group's vCPUs and memory requests, per second its VM was
 * allocated, from the start of its create, image pulls included). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsid.h"
#include "usage.h"

struct totals {
	struct capsid_usage *items;
	size_t n, cap;
	unsigned long long since_ms;
	bool failed;
};

static void add(const struct usage_record *r, void *ud)
{
	struct totals *t = ud;
	unsigned long long start = r->start_ms > t->since_ms ? r->start_ms : t->since_ms;
	if (r->end_ms <= start)
		return;
	double seconds = (double)(r->end_ms - start) / 1000.0;
	struct capsid_usage *u = NULL;
	for (size_t i = 0; i < t->n && !u; i++)
		if (!strcmp(t->items[i].group, r->group))
			u = &t->items[i];
	if (!u) {
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 16;
			struct capsid_usage *items = realloc(t->items, cap * sizeof(*items));
			if (!items) {
				t->failed = true;
				return;
			}
			t->items = items;
			t->cap = cap;
		}
		u = &t->items[t->n++];
		memset(u, 0, sizeof(*u));
		snprintf(u->group, sizeof(u->group), "%s", r->group);
		u->first_ms = start;
	}
	u->seconds += seconds;
	u->vcpu_seconds += seconds * r->vcpus;
	u->gib_seconds += seconds * r->memory_mib / 1024.0;
	if (start < u->first_ms)
		u->first_ms = start;
	if (r->end_ms > u->last_ms)
		u->last_ms = r->end_ms;
}

static int by_group(const void *a, const void *b)
{
	return strcmp(((const struct capsid_usage *)a)->group, ((const struct capsid_usage *)b)->group);
}

int capsid_usage_totals(const struct capsid_config *cfg, unsigned long long since_ms,
			struct capsid_usage **out, size_t *n, struct capsid_error *err)
{
	*out = NULL;
	*n = 0;
	struct totals t = {.since_ms = since_ms};
	int rc = usage_read_all(cfg->root, add, &t);
	if (rc < 0 || t.failed) {
		free(t.items);
		return rc < 0 ? capsid_error_errno(err, -rc, "read %s/usage", cfg->root)
			      : capsid_error_set(err, ENOMEM, "out of memory");
	}
	if (t.n)
		qsort(t.items, t.n, sizeof(*t.items), by_group);
	*out = t.items;
	*n = t.n;
	return 0;
}
