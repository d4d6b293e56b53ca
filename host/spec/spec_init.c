/* properties.initContainers[]: ACI's InitContainerDefinition (name, and
 * properties image, command, environmentVariables, volumeMounts). They run
 * one after another, each to completion, before the group's containers
 * start, with the group's resources: they have no resources or ports of
 * their own. Parsed after containers and volumes, so that names are
 * checked across both lists and every mount against the volumes. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec.h"
#include "spec_internal.h"

static const struct spec_field init_properties_fields[] = {
    {"image", spec_parse_image, true},
    {"command", spec_parse_command, false},
    {"environmentVariables", spec_parse_env_list, false},
    {"volumeMounts", spec_parse_volume_mounts, false},
    {"securityContext", spec_parse_security_context, false},
};

static int parse_init_properties(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_parse_object(c, v, path, init_properties_fields, ARRAY_SIZE(init_properties_fields),
				 target);
}

static int parse_init_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_parse_dns_label(c, v, path, &((struct spec_container *)target)->name);
}

static const struct spec_field init_fields[] = {
    {"name", parse_init_name, true},
    {"properties", parse_init_properties, true},
};

static int check_init_container(struct spec_vctx *c, const struct spec_group *g, size_t i, const char *p)
{
	const struct spec_container *ct = &g->init_containers[i];
	for (size_t j = 0; j < g->n_containers; j++)
		if (!strcmp(g->containers[j].name, ct->name))
			return capsid_error_set(
			    c->err, EINVAL,
			    "%s.name: \"%s\" is already the name of properties.containers[%zu]", p, ct->name,
			    j);
	for (size_t j = 0; j < i; j++)
		if (!strcmp(g->init_containers[j].name, ct->name))
			return capsid_error_set(c->err, EINVAL,
						"%s.name: duplicate init container name \"%s\"", p, ct->name);
	for (size_t k = 0; k < ct->n_mounts; k++)
		if (!spec_group_volume(g, ct->mounts[k].name))
			return capsid_error_set(
			    c->err, EINVAL,
			    "%s.properties.volumeMounts[%zu].name: no volume named \"%s\" in "
			    "properties.volumes",
			    p, k, ct->mounts[k].name);
	return 0;
}

int spec_parse_init_containers(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_group *g = target;
	if (!json_object_is_type(v, json_type_array))
		return spec_type_error(c, path, "an array", v);
	size_t n = json_object_array_length(v);
	if (n == 0)
		return 0;
	if (n > SPEC_MAX_INIT_CONTAINERS)
		return capsid_error_set(c->err, EINVAL, "%s: at most %d init containers are allowed, not %zu",
					path, SPEC_MAX_INIT_CONTAINERS, n);
	g->init_containers = calloc(n, sizeof(*g->init_containers));
	if (!g->init_containers)
		return spec_nomem(c);
	g->n_init_containers = n;
	for (size_t i = 0; i < n; i++) {
		char p[SPEC_PATH_SZ];
		spec_path_index(p, path, i);
		int rc = spec_parse_object(c, json_object_array_get_idx(v, i), p, init_fields,
					   ARRAY_SIZE(init_fields), &g->init_containers[i]);
		if (rc >= 0)
			rc = check_init_container(c, g, i, p);
		if (rc < 0)
			return rc;
	}
	return 0;
}

#define put spec_json_put

void spec_put_init_containers(struct json_object *props, const struct spec_group *g, enum spec_json_mode mode,
			      bool *ok)
{
	if (!g->n_init_containers)
		return;
	struct json_object *arr = put(props, "initContainers", json_object_new_array(), ok);
	for (size_t i = 0; i < g->n_init_containers; i++) {
		const struct spec_container *ct = &g->init_containers[i];
		struct json_object *o = put(arr, NULL, json_object_new_object(), ok);
		put(o, "name", json_object_new_string(ct->name), ok);
		struct json_object *pr = put(o, "properties", json_object_new_object(), ok);
		put(pr, "image", json_object_new_string(ct->image), ok);
		if (ct->n_command) {
			struct json_object *cmd = put(pr, "command", json_object_new_array(), ok);
			for (size_t k = 0; k < ct->n_command; k++)
				put(cmd, NULL, json_object_new_string(ct->command[k]), ok);
		}
		if (ct->n_env) {
			struct json_object *env =
			    put(pr, "environmentVariables", json_object_new_array(), ok);
			for (size_t k = 0; k < ct->n_env; k++)
				spec_put_env(env, &ct->env[k], mode, ok);
		}
		spec_put_volume_mounts(pr, ct, ok);
		spec_put_security_context(pr, ct, ok);
	}
}

void spec_init_containers_free(struct spec_group *g)
{
	for (size_t i = 0; i < g->n_init_containers; i++)
		spec_container_free(&g->init_containers[i]);
	free(g->init_containers);
	g->init_containers = NULL;
	g->n_init_containers = 0;
}

size_t spec_group_all_containers(const struct spec_group *g)
{
	return g->n_containers + g->n_init_containers;
}

const struct spec_container *spec_group_container_at(const struct spec_group *g, size_t i)
{
	return i < g->n_containers ? &g->containers[i] : &g->init_containers[i - g->n_containers];
}

void spec_container_path(const struct spec_group *g, size_t i, char *out, size_t len)
{
	if (i < g->n_containers)
		snprintf(out, len, "properties.containers[%zu]", i);
	else
		snprintf(out, len, "properties.initContainers[%zu]", i - g->n_containers);
}
