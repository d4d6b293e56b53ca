/* What group_metrics.c and metrics_tenant.c share: the previous render's
 * samples (the base of per-second rates) and rendering a list of groups. */
#ifndef CAPSID_METRICS_INTERNAL_H
#define CAPSID_METRICS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "capsid.h"

#define METRICS_MAX_GROUPS 256

struct metrics_prev {
	char name[64];
	struct capsid_group_sample sample;
	bool used;
};

struct capsid_metrics {
	struct metrics_prev prev[METRICS_MAX_GROUPS];
};

/* The exposition of the named groups (at most METRICS_MAX_GROUPS; names
 * that are no group have no series). */
int metrics_render_names(const struct capsid_config *cfg, struct capsid_metrics *m, const char *const *names,
			 size_t n, char **text, size_t *len, struct capsid_error *err);

#endif
