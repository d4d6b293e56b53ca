/* Shared between the files of libcapsid (host/core); not part of its API. */
#ifndef CAPSID_CORE_INTERNAL_H
#define CAPSID_CORE_INTERNAL_H

#include <stddef.h>

#include "capsid.h"
#include "group.h"

struct json_object;

/* o[a] or o[a][b]; NULL when absent (o may be NULL). */
struct json_object *core_get(struct json_object *o, const char *a, const char *b);

/* The group's stored spec (secure values redacted), as the model. */
struct spec_group;
int core_stored_spec(const struct capsid_config *cfg, const char *name, struct spec_group **out,
		     struct capsid_error *err);

/* The paths of an existing group; -ENOENT ("group NAME not found") when
 * there is none. */
int core_open_group(const struct capsid_config *cfg, const char *name, struct group_paths *p,
		    struct capsid_error *err);
/* The group's state document (see capsid_group_show). */
int core_view_load(const struct group_paths *p, struct json_object **out, struct capsid_error *err);

/* Send one request to a live monitor and wait for its answer; *reply gets
 * the RESPONSE body (may be NULL). -EREMOTEIO with err set on ERROR. */
int core_request(const struct group_paths *p, unsigned short type, const char *body, struct json_object **reply,
		 struct capsid_error *err);

/* Wait for the monitor lock to be free (the monitor has exited): 0, or
 * -ETIMEDOUT. */
int core_wait_monitor_gone(const struct group_paths *p, unsigned timeout_ms);

#endif
