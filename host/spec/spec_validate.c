/* Validate a json-c tree against the ACI container-group model and build a
 * struct spec_group.
 *
 * Each object kind is a table of its known keys with a handler per key
 * (struct spec_field); spec_parse_object() reports missing required keys, warns
 * about unknown ones and calls the handlers in table order. Supporting a new
 * field (ipAddress, volumes, ports, ...) is one table line plus its handler.
 *
 * Messages start with the JSON path of the field. secureValue strings are
 * never copied into a message: only names, images and enum words are echoed,
 * and those through spec_sanitize(). */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "spec.h"
#include "spec_internal.h"
#include "util.h"

void spec_path_key(char out[SPEC_PATH_SZ], const char *parent, const char *key)
{
	if (snprintf(out, SPEC_PATH_SZ, "%s%s%s", parent, *parent ? "." : "", key) >= SPEC_PATH_SZ)
		out[SPEC_PATH_SZ - 1] = '\0';
}

void spec_path_index(char out[SPEC_PATH_SZ], const char *parent, size_t i)
{
	if (snprintf(out, SPEC_PATH_SZ, "%s[%zu]", parent, i) >= SPEC_PATH_SZ)
		out[SPEC_PATH_SZ - 1] = '\0';
}

int spec_nomem(struct spec_vctx *c)
{
	return capsid_error_set(c->err, ENOMEM, "out of memory");
}

__attribute__((format(printf, 2, 3))) static int warn_add(struct spec_vctx *c, const char *fmt, ...)
{
	if (c->warn.n >= SPEC_MAX_WARNINGS) {
		c->dropped++;
		return 0;
	}
	char **items = realloc(c->warn.items, (c->warn.n + 1) * sizeof(*items));
	if (!items)
		return spec_nomem(c);
	c->warn.items = items;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&items[c->warn.n], fmt, ap);
	va_end(ap);
	if (n < 0)
		return spec_nomem(c);
	c->warn.n++;
	return 0;
}

static const char *type_name(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_int:
	case json_type_double:
		return "a number";
	case json_type_string:
		return "a string";
	case json_type_array:
		return "an array";
	case json_type_object:
		return "an object";
	}
	return "unknown";
}

int spec_type_error(struct spec_vctx *c, const char *path, const char *want, struct json_object *v)
{
	json_type t = json_object_get_type(v);
	bool yaml_hint = !strcmp(want, "a string") &&
			 (t == json_type_int || t == json_type_double || t == json_type_boolean);
	return capsid_error_set(c->err, EINVAL, "%s: must be %s, not %s%s", path, want, type_name(v),
				yaml_hint ? " (quote it in YAML)" : "");
}

int spec_get_string(struct spec_vctx *c, struct json_object *v, const char *path, const char **out)
{
	if (!json_object_is_type(v, json_type_string))
		return spec_type_error(c, path, "a string", v);
	const char *s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return capsid_error_set(c->err, EINVAL, "%s: must not contain NUL characters", path);
	*out = s;
	return 0;
}

int spec_dup_string(struct spec_vctx *c, struct json_object *v, const char *path, char **dst)
{
	const char *s;
	int rc = spec_get_string(c, v, path, &s);
	if (rc < 0)
		return rc;
	*dst = strdup(s);
	return *dst ? 0 : spec_nomem(c);
}

/* Azure's deserializer takes a number written as a string ("1.5", and
 * Microsoft's examples write port: '80'); so does this one, strictly: the
 * whole string must be the number. */
int spec_get_number(struct spec_vctx *c, struct json_object *v, const char *path, double *out)
{
	if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
		*out = json_object_get_double(v);
		return 0;
	}
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		char *end = NULL;
		errno = 0;
		double d = *s && strchr("0123456789.+-", *s) ? strtod(s, &end) : 0;
		if (end && end != s && !*end && errno != ERANGE) {
			*out = d;
			return 0;
		}
	}
	return spec_type_error(c, path, "a number", v);
}

/* Azure's deserializer matches property names case-insensitively, and
 * Microsoft's own examples rely on it (memoryInGb, sharename): so does this
 * one. A key given twice in different cases is an error, not a guess. */
int spec_object_lookup(struct spec_vctx *c, struct json_object *obj, const char *path, const char *key,
		       struct json_object **out)
{
	*out = NULL;
	const char *found = NULL;
	struct json_object_iterator it = json_object_iter_begin(obj), end = json_object_iter_end(obj);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *name = json_object_iter_peek_name(&it);
		if (strcasecmp(name, key))
			continue;
		if (found) {
			char p[SPEC_PATH_SZ];
			spec_path_key(p, path, key);
			return capsid_error_set(c->err, EINVAL,
						"%s: given twice (property names are case-insensitive)", p);
		}
		found = name;
		*out = json_object_iter_peek_value(&it);
	}
	return 0;
}

bool spec_object_has(struct json_object *obj, const char *key, struct json_object **val)
{
	struct json_object_iterator it = json_object_iter_begin(obj), end = json_object_iter_end(obj);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
		if (!strcasecmp(json_object_iter_peek_name(&it), key)) {
			if (val)
				*val = json_object_iter_peek_value(&it);
			return true;
		}
	return false;
}

struct json_object *spec_object_get(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	return spec_object_has(obj, key, &v) ? v : NULL;
}

/* Warn about keys not in the table, then run the handlers in table order.
 * A JSON null counts as absent (YAML "key:" with nothing after it). */
int spec_parse_object(struct spec_vctx *c, struct json_object *obj, const char *path,
		      const struct spec_field *fields, size_t n_fields, void *target)
{
	if (!json_object_is_type(obj, json_type_object))
		return spec_type_error(c, path, "an object", obj);
	struct json_object_iterator it = json_object_iter_begin(obj), end = json_object_iter_end(obj);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		bool known = false;
		for (size_t i = 0; i < n_fields && !known; i++)
			known = !strcasecmp(fields[i].key, key);
		if (known)
			continue;
		char k[80], p[SPEC_PATH_SZ];
		spec_sanitize(k, sizeof(k), key);
		spec_path_key(p, path, k);
		int rc = warn_add(c, "%s: unknown field, ignored", p);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < n_fields; i++) {
		char p[SPEC_PATH_SZ];
		spec_path_key(p, path, fields[i].key);
		struct json_object *v = NULL;
		int rc = spec_object_lookup(c, obj, path, fields[i].key, &v);
		if (rc < 0)
			return rc;
		if (!v) {
			if (fields[i].required)
				return capsid_error_set(c->err, EINVAL, "%s: is required", p);
			continue;
		}
		if (fields[i].parse) {
			rc = fields[i].parse(c, v, p, target);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int name_error(struct spec_vctx *c, const char *path, const char *s)
{
	char q[80];
	spec_sanitize(q, sizeof(q), s);
	return capsid_error_set(c->err, EINVAL, "%s: \"%s\" is not a valid name: use %s", path, q, UTIL_NAME_RULE);
}

/* ACI names (groups, containers, volumes): util_name_valid's rule. */
int spec_parse_dns_label(struct spec_vctx *c, struct json_object *v, const char *path, char **dst)
{
	const char *s;
	int rc = spec_get_string(c, v, path, &s);
	if (rc < 0)
		return rc;
	if (!*s)
		return capsid_error_set(c->err, EINVAL, "%s: must not be empty", path);
	if (!util_name_valid(s))
		return name_error(c, path, s);
	*dst = strdup(s);
	return *dst ? 0 : spec_nomem(c);
}

/* ---- resources ---------------------------------------------------------- */

static int parse_bounded(struct spec_vctx *c, struct json_object *v, const char *path, double max,
			 double *dst)
{
	double d = 0;
	int rc = spec_get_number(c, v, path, &d);
	if (rc < 0)
		return rc;
	/* Written as !(a > b) so that NaN fails too. */
	if (!(d > 0))
		return capsid_error_set(c->err, EINVAL, "%s: must be greater than 0", path);
	if (!(d <= max))
		return capsid_error_set(c->err, EINVAL, "%s: must be at most %g", path, max);
	*dst = d;
	return 0;
}

static int parse_cpu(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return parse_bounded(c, v, path, SPEC_MAX_CPU, &((struct spec_resources *)target)->cpu);
}

static int parse_memory(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return parse_bounded(c, v, path, SPEC_MAX_MEMORY_GB, &((struct spec_resources *)target)->memory_gb);
}

static const struct spec_field request_fields[] = {
    {"cpu", parse_cpu, true},
    {"memoryInGB", parse_memory, true},
};

static const struct spec_field limit_fields[] = {
    {"cpu", parse_cpu, false},
    {"memoryInGB", parse_memory, false},
};

static int parse_requests(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_container *ct = target;
	return spec_parse_object(c, v, path, request_fields, ARRAY_SIZE(request_fields), &ct->requests);
}

static int parse_limits(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_container *ct = target;
	return spec_parse_object(c, v, path, limit_fields, ARRAY_SIZE(limit_fields), &ct->limits);
}

static const struct spec_field resources_fields[] = {
    {"requests", parse_requests, true},
    {"limits", parse_limits, false},
};

static int parse_resources(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_container *ct = target;
	int rc = spec_parse_object(c, v, path, resources_fields, ARRAY_SIZE(resources_fields), ct);
	if (rc < 0)
		return rc;
	if (ct->limits.cpu > 0 && ct->limits.cpu < ct->requests.cpu)
		return capsid_error_set(c->err, EINVAL, "%s.limits.cpu: must be at least the request (%g)",
					path, ct->requests.cpu);
	if (ct->limits.memory_gb > 0 && ct->limits.memory_gb < ct->requests.memory_gb)
		return capsid_error_set(c->err, EINVAL,
					"%s.limits.memoryInGB: must be at least the request (%g)", path,
					ct->requests.memory_gb);
	return 0;
}

/* ---- environment variables ---------------------------------------------- */

static int parse_env_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_env *e = target;
	int rc = spec_dup_string(c, v, path, &e->name);
	if (rc < 0)
		return rc;
	if (!*e->name)
		return capsid_error_set(c->err, EINVAL, "%s: must not be empty", path);
	if (strchr(e->name, '='))
		return capsid_error_set(c->err, EINVAL, "%s: must not contain '='", path);
	return 0;
}

static int parse_env_value(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_dup_string(c, v, path, &((struct spec_env *)target)->value);
}

static int parse_env_secure_value(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_env *e = target;
	e->secure = true; /* before the copy, so spec_free wipes it whatever happens */
	return spec_dup_string(c, v, path, &e->value);
}

static const struct spec_field env_fields[] = {
    {"name", parse_env_name, true},
    {"value", parse_env_value, false},
    {"secureValue", parse_env_secure_value, false},
};

static bool has_value(struct json_object *obj, const char *key)
{
	return spec_object_get(obj, key) != NULL;
}

int spec_parse_env_list(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_container *ct = target;
	if (!json_object_is_type(v, json_type_array))
		return spec_type_error(c, path, "an array", v);
	size_t n = json_object_array_length(v);
	if (n == 0)
		return 0;
	ct->env = calloc(n, sizeof(*ct->env));
	if (!ct->env)
		return spec_nomem(c);
	ct->n_env = n;
	/* A json-c object as a hash set keeps duplicate detection linear. */
	_cleanup_json_ struct json_object *seen = json_object_new_object();
	if (!seen)
		return spec_nomem(c);
	for (size_t i = 0; i < n; i++) {
		char p[SPEC_PATH_SZ];
		spec_path_index(p, path, i);
		struct json_object *item = json_object_array_get_idx(v, i);
		struct spec_env *e = &ct->env[i];
		if (!json_object_is_type(item, json_type_object))
			return spec_type_error(c, p, "an object", item);
		bool plain = has_value(item, "value"), secure = has_value(item, "secureValue");
		if (plain == secure && (plain || !(c->flags & SPEC_PARSE_REDACTED)))
			return capsid_error_set(c->err, EINVAL,
						"%s: exactly one of value or secureValue must be set", p);
		if (!plain && !secure)
			e->secure = true; /* redacted: the value was dropped on purpose */
		int rc = spec_parse_object(c, item, p, env_fields, ARRAY_SIZE(env_fields), e);
		if (rc < 0)
			return rc;
		if (json_object_object_get_ex(seen, e->name, NULL)) {
			char q[80];
			spec_sanitize(q, sizeof(q), e->name);
			return capsid_error_set(c->err, EINVAL, "%s.name: duplicate variable name \"%s\"", p,
						q);
		}
		if (json_object_object_add(seen, e->name, NULL) < 0)
			return spec_nomem(c);
	}
	return 0;
}

/* ---- containers --------------------------------------------------------- */

int spec_parse_image(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_container *ct = target;
	int rc = spec_dup_string(c, v, path, &ct->image);
	if (rc < 0)
		return rc;
	if (!*ct->image)
		return capsid_error_set(c->err, EINVAL, "%s: must not be empty", path);
	for (const unsigned char *p = (const unsigned char *)ct->image; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return capsid_error_set(
			    c->err, EINVAL, "%s: must not contain whitespace or control characters", path);
	return 0;
}

int spec_parse_command(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_container *ct = target;
	if (!json_object_is_type(v, json_type_array))
		return spec_type_error(c, path, "an array of strings", v);
	size_t n = json_object_array_length(v);
	if (n == 0)
		return capsid_error_set(c->err, EINVAL, "%s: must not be empty when given", path);
	ct->command = calloc(n, sizeof(*ct->command));
	if (!ct->command)
		return spec_nomem(c);
	ct->n_command = n;
	for (size_t i = 0; i < n; i++) {
		char p[SPEC_PATH_SZ];
		spec_path_index(p, path, i);
		int rc = spec_dup_string(c, json_object_array_get_idx(v, i), p, &ct->command[i]);
		if (rc < 0)
			return rc;
	}
	/* An empty program name only fails later, inside the guest. */
	if (!*ct->command[0])
		return capsid_error_set(c->err, EINVAL, "%s[0]: must not be empty", path);
	return 0;
}

static const struct spec_field container_properties_fields[] = {
    {"image", spec_parse_image, true},
    {"command", spec_parse_command, false},
    {"environmentVariables", spec_parse_env_list, false},
    {"resources", parse_resources, true},
    {"ports", spec_parse_container_ports, false},
    {"volumeMounts", spec_parse_volume_mounts, false},
    {"livenessProbe", spec_parse_liveness_probe, false},
    {"readinessProbe", spec_parse_readiness_probe, false},
    {"securityContext", spec_parse_security_context, false},
    {"stdin", spec_parse_stdin, false},
    {"tty", spec_parse_tty, false},
};

static int parse_container_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_parse_dns_label(c, v, path, &((struct spec_container *)target)->name);
}

static int parse_container_properties(struct spec_vctx *c, struct json_object *v, const char *path,
				      void *target)
{
	return spec_parse_object(c, v, path, container_properties_fields,
				 ARRAY_SIZE(container_properties_fields), target);
}

static const struct spec_field container_fields[] = {
    {"name", parse_container_name, true},
    {"properties", parse_container_properties, true},
};

static int parse_containers(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_group *g = target;
	if (!json_object_is_type(v, json_type_array))
		return spec_type_error(c, path, "an array", v);
	size_t n = json_object_array_length(v);
	if (n == 0)
		return capsid_error_set(c->err, EINVAL, "%s: must contain at least one container", path);
	if (n > SPEC_MAX_CONTAINERS)
		return capsid_error_set(c->err, EINVAL,
					"%s: at most %d containers are allowed in a group, not %zu", path,
					SPEC_MAX_CONTAINERS, n);
	g->containers = calloc(n, sizeof(*g->containers));
	if (!g->containers)
		return spec_nomem(c);
	g->n_containers = n;
	double cpu = 0, memory = 0;
	for (size_t i = 0; i < n; i++) {
		char p[SPEC_PATH_SZ];
		spec_path_index(p, path, i);
		struct spec_container *ct = &g->containers[i];
		int rc = spec_parse_object(c, json_object_array_get_idx(v, i), p, container_fields,
					   ARRAY_SIZE(container_fields), ct);
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(g->containers[j].name, ct->name))
				return capsid_error_set(
				    c->err, EINVAL, "%s.name: duplicate container name \"%s\"", p, ct->name);
		if ((rc = spec_check_container_ports(c, g, i, p)) < 0)
			return rc;
		cpu += ct->requests.cpu;
		memory += ct->requests.memory_gb;
	}
	if (cpu > SPEC_MAX_CPU + SPEC_CEIL_SLACK)
		return capsid_error_set(c->err, EINVAL,
					"%s: the container cpu requests add up to %g, more than %g", path,
					cpu, SPEC_MAX_CPU);
	if (memory > SPEC_MAX_MEMORY_GB + SPEC_CEIL_SLACK)
		return capsid_error_set(c->err, EINVAL,
					"%s: the container memoryInGB requests add up to %g, more than %g",
					path, memory, SPEC_MAX_MEMORY_GB);
	return 0;
}

/* ---- group -------------------------------------------------------------- */

static int parse_os_type(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_group *g = target;
	const char *s;
	int rc = spec_get_string(c, v, path, &s);
	if (rc < 0)
		return rc;
	if (!strcasecmp(s, "Windows"))
		return capsid_error_set(c->err, EINVAL,
					"%s: Windows containers are not supported (capsid runs Linux guests)",
					path);
	if (strcasecmp(s, "Linux")) {
		char q[80];
		spec_sanitize(q, sizeof(q), s);
		return capsid_error_set(c->err, EINVAL, "%s: unsupported value \"%s\" (allowed: Linux)", path,
					q);
	}
	g->os_type = strdup("Linux");
	return g->os_type ? 0 : spec_nomem(c);
}

static int parse_restart_policy(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	static const enum spec_restart_policy all[] = {SPEC_RESTART_ALWAYS, SPEC_RESTART_ON_FAILURE,
						       SPEC_RESTART_NEVER};
	struct spec_group *g = target;
	const char *s;
	int rc = spec_get_string(c, v, path, &s);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		if (!strcasecmp(s, spec_restart_policy_name(all[i]))) {
			g->restart_policy = all[i];
			return 0;
		}
	char q[80];
	spec_sanitize(q, sizeof(q), s);
	return capsid_error_set(c->err, EINVAL,
				"%s: unsupported value \"%s\" (allowed: Always, OnFailure, Never)", path, q);
}

static const struct spec_field group_properties_fields[] = {
    {"osType", parse_os_type, false},
    {"restartPolicy", parse_restart_policy, false},
    {"containers", parse_containers, true},
    /* after containers: the group's ports must be theirs */
    {"ipAddress", spec_parse_ip_address, false},
    {"dnsConfig", spec_parse_dns_config, false},
    {"subnetIds", spec_parse_subnet_ids, false},
    {"volumes", spec_parse_volumes, false},
    {"imageRegistryCredentials", spec_parse_registry_credentials, false},
    /* after containers and volumes: names are unique across both, mounts name volumes */
    {"initContainers", spec_parse_init_containers, false},
};

static int parse_group_properties(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	int rc = spec_parse_object(c, v, path, group_properties_fields, ARRAY_SIZE(group_properties_fields),
				   target);
	if (rc >= 0)
		rc = spec_check_network(c, target, path);
	return rc < 0 ? rc : spec_check_volumes(c, target, path);
}

/* A group is an ARM resource, and ARM resource names are case-insensitive:
 * Microsoft's examples name groups "myContainerGroup". The name is kept in
 * lowercase (as `capsid` commands look it up), with a warning. */
static int parse_group_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_group *g = target;
	const char *s;
	int rc = spec_get_string(c, v, path, &s);
	if (rc < 0)
		return rc;
	if (!*s)
		return capsid_error_set(c->err, EINVAL, "%s: must not be empty", path);
	if (!(g->name = strdup(s)))
		return spec_nomem(c);
	bool changed = false;
	for (char *p = g->name; *p; p++)
		if (*p >= 'A' && *p <= 'Z') {
			*p = (char)(*p - 'A' + 'a');
			changed = true;
		}
	if (!util_name_valid(g->name))
		return name_error(c, path, s);
	if (changed)
		return warn_add(c, "%s: group names are case-insensitive: \"%s\" is used as \"%s\"", path, s,
				g->name);
	return 0;
}

static const struct spec_field group_fields[] = {
    {"apiVersion", spec_parse_api_version, false}, {"name", parse_group_name, true},
    {"location", spec_parse_location, false},	   {"tags", spec_parse_tags, false},
    {"type", spec_parse_resource_type, false},	   {"identity", spec_parse_identity, false},
    {"properties", parse_group_properties, true},
};

static void warnings_append(struct spec_warnings *dst, struct spec_warnings *src)
{
	if (!dst || !src->n) {
		spec_warnings_free(src);
		return;
	}
	char **items = realloc(dst->items, (dst->n + src->n) * sizeof(*items));
	if (!items) {
		/* Warnings are advisory: losing them under ENOMEM beats failing. */
		spec_warnings_free(src);
		return;
	}
	memcpy(items + dst->n, src->items, src->n * sizeof(*items));
	dst->items = items;
	dst->n += src->n;
	free(src->items);
	*src = (struct spec_warnings){0};
}

int spec_from_json_ex(struct json_object *doc, unsigned flags, struct spec_group **out,
		      struct spec_warnings *warn, struct capsid_error *err)
{
	*out = NULL;
	if (!json_object_is_type(doc, json_type_object))
		return capsid_error_set(err, EINVAL, "the document must be an object, not %s",
					type_name(doc));
	struct spec_vctx c = {.flags = flags, .err = err};
	struct spec_group *g = calloc(1, sizeof(*g));
	if (!g)
		return spec_nomem(&c);
	int rc = spec_parse_object(&c, doc, "", group_fields, ARRAY_SIZE(group_fields), g);
	if (rc >= 0 && !g->os_type && !(g->os_type = strdup("Linux")))
		rc = spec_nomem(&c);
	if (rc >= 0 && c.dropped) {
		/* Past the cap, one summary line rather than an unbounded list. */
		c.warn.n--;
		free(c.warn.items[c.warn.n]);
		rc = warn_add(&c, "... and %zu more unknown fields, ignored", c.dropped + 1);
	}
	if (rc < 0) {
		spec_free(g);
		spec_warnings_free(&c.warn);
		return rc;
	}
	warnings_append(warn, &c.warn);
	*out = g;
	return 0;
}

int spec_from_json(struct json_object *doc, struct spec_group **out, struct spec_warnings *warn,
		   struct capsid_error *err)
{
	return spec_from_json_ex(doc, 0, out, warn, err);
}
