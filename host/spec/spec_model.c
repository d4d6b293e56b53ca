/* The spec structs: serialisation back to ACI JSON, freeing (with secrets
 * wiped), and the group resource rule. */
#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec.h"
#include "spec_internal.h"

const char *spec_restart_policy_name(enum spec_restart_policy p)
{
	switch (p) {
	case SPEC_RESTART_ALWAYS:
		return "Always";
	case SPEC_RESTART_ON_FAILURE:
		return "OnFailure";
	case SPEC_RESTART_NEVER:
		return "Never";
	}
	return "Always";
}

/* ceil() of a sum of decimal fractions: 10 x 0.1 adds up to 0.9999999999999999
 * in binary floating point and 0.1+0.2 to 0.30000000000000004, so allow a
 * millionth below the integer (a byte of memory, a micro-CPU) for the noise. */
unsigned spec_ceil_sum(double x)
{
	if (!(x > SPEC_CEIL_SLACK))
		return 0;
	if (x >= 4e9)
		return 4000000000u;
	return (unsigned)ceil(x - SPEC_CEIL_SLACK);
}

unsigned spec_group_vcpus(const struct spec_group *g)
{
	double sum = 0;
	for (size_t i = 0; g && i < g->n_containers; i++)
		sum += g->containers[i].requests.cpu;
	unsigned n = spec_ceil_sum(sum);
	return n ? n : 1;
}

unsigned spec_group_memory_mib(const struct spec_group *g)
{
	double sum = 0;
	for (size_t i = 0; g && i < g->n_containers; i++)
		sum += g->containers[i].requests.memory_gb;
	unsigned n = spec_ceil_sum(sum * 1024);
	return n ? n : 1;
}

void spec_sanitize(char *out, size_t size, const char *s)
{
	static const size_t max_in = 64;
	size_t o = 0, i = 0;
	if (size == 0)
		return;
	/* Keep room for one escape (4), "..." (3) and the NUL. */
	for (; s[i] && i < max_in && o + 8 < size; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", ch);
		else
			out[o++] = (char)ch;
	}
	if (s[i] && o + 3 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o < size ? o : size - 1] = '\0';
}

void spec_wipe_secure_values(struct json_object *obj)
{
	if (json_object_is_type(obj, json_type_array)) {
		size_t n = json_object_array_length(obj);
		for (size_t i = 0; i < n; i++)
			spec_wipe_secure_values(json_object_array_get_idx(obj, i));
		return;
	}
	if (!json_object_is_type(obj, json_type_object))
		return;
	struct json_object_iterator it = json_object_iter_begin(obj), end = json_object_iter_end(obj);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		struct json_object *v = json_object_iter_peek_value(&it);
		if (json_object_is_type(v, json_type_string) &&
		    !strcmp(json_object_iter_peek_name(&it), "secureValue"))
			/* json-c owns this buffer and frees it next; the cast only
			 * lets us clear it first. */
			explicit_bzero((char *)json_object_get_string(v),
				       (size_t)json_object_get_string_len(v));
		else
			spec_wipe_secure_values(v);
	}
}

/* ---- serialisation ------------------------------------------------------ */

/* Attach child to an object (key) or array (key NULL); a NULL child means an
 * allocation failed, remembered in *ok so the caller checks once. */
static struct json_object *put(struct json_object *parent, const char *key, struct json_object *child,
			       bool *ok)
{
	if (!child || !parent) {
		*ok = false;
		json_object_put(child);
		return NULL;
	}
	int rc = key ? json_object_object_add(parent, key, child) : json_object_array_add(parent, child);
	if (rc < 0) {
		*ok = false;
		json_object_put(child);
		return NULL;
	}
	return child;
}

static void put_resources(struct json_object *parent, const char *key, const struct spec_resources *r,
			  bool *ok)
{
	struct json_object *o = put(parent, key, json_object_new_object(), ok);
	if (r->cpu > 0)
		put(o, "cpu", json_object_new_double(r->cpu), ok);
	if (r->memory_gb > 0)
		put(o, "memoryInGB", json_object_new_double(r->memory_gb), ok);
}

static void put_env(struct json_object *arr, const struct spec_env *e, enum spec_json_mode mode, bool *ok)
{
	struct json_object *o = put(arr, NULL, json_object_new_object(), ok);
	put(o, "name", json_object_new_string(e->name), ok);
	if (!e->value) /* a secure value already dropped by an earlier redaction */
		return;
	if (!e->secure)
		put(o, "value", json_object_new_string(e->value), ok);
	else if (mode == SPEC_WITH_SECRETS)
		put(o, "secureValue", json_object_new_string(e->value), ok);
}

static void put_container(struct json_object *arr, const struct spec_container *ct, enum spec_json_mode mode,
			  bool *ok)
{
	struct json_object *o = put(arr, NULL, json_object_new_object(), ok);
	put(o, "name", json_object_new_string(ct->name), ok);
	struct json_object *props = put(o, "properties", json_object_new_object(), ok);
	put(props, "image", json_object_new_string(ct->image), ok);
	if (ct->n_command) {
		struct json_object *cmd = put(props, "command", json_object_new_array(), ok);
		for (size_t i = 0; i < ct->n_command; i++)
			put(cmd, NULL, json_object_new_string(ct->command[i]), ok);
	}
	if (ct->n_env) {
		struct json_object *env = put(props, "environmentVariables", json_object_new_array(), ok);
		for (size_t i = 0; i < ct->n_env; i++)
			put_env(env, &ct->env[i], mode, ok);
	}
	struct json_object *res = put(props, "resources", json_object_new_object(), ok);
	put_resources(res, "requests", &ct->requests, ok);
	if (ct->limits.cpu > 0 || ct->limits.memory_gb > 0)
		put_resources(res, "limits", &ct->limits, ok);
}

struct json_object *spec_to_json(const struct spec_group *g, enum spec_json_mode mode)
{
	if (!g)
		return NULL;
	bool ok = true;
	_cleanup_json_ struct json_object *doc = json_object_new_object();
	if (g->api_version)
		put(doc, "apiVersion", json_object_new_string(g->api_version), &ok);
	put(doc, "name", json_object_new_string(g->name), &ok);
	if (g->location)
		put(doc, "location", json_object_new_string(g->location), &ok);
	if (g->n_tags) {
		struct json_object *tags = put(doc, "tags", json_object_new_object(), &ok);
		for (size_t i = 0; i < g->n_tags; i++)
			put(tags, g->tags[i].key, json_object_new_string(g->tags[i].value), &ok);
	}
	struct json_object *props = put(doc, "properties", json_object_new_object(), &ok);
	put(props, "osType", json_object_new_string(g->os_type ? g->os_type : "Linux"), &ok);
	put(props, "restartPolicy", json_object_new_string(spec_restart_policy_name(g->restart_policy)), &ok);
	struct json_object *cts = put(props, "containers", json_object_new_array(), &ok);
	for (size_t i = 0; i < g->n_containers; i++)
		put_container(cts, &g->containers[i], mode, &ok);
	if (!ok) {
		if (mode == SPEC_WITH_SECRETS)
			spec_wipe_secure_values(doc);
		return NULL;
	}
	return TAKE_PTR(doc);
}

/* ---- freeing ------------------------------------------------------------ */

static void container_free(struct spec_container *ct)
{
	free(ct->name);
	free(ct->image);
	for (size_t i = 0; i < ct->n_command; i++)
		free(ct->command[i]);
	free(ct->command);
	for (size_t i = 0; i < ct->n_env; i++) {
		struct spec_env *e = &ct->env[i];
		if (e->secure && e->value)
			explicit_bzero(e->value, strlen(e->value));
		free(e->name);
		free(e->value);
	}
	free(ct->env);
}

void spec_free(struct spec_group *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_containers; i++)
		container_free(&g->containers[i]);
	free(g->containers);
	for (size_t i = 0; i < g->n_tags; i++) {
		free(g->tags[i].key);
		free(g->tags[i].value);
	}
	free(g->tags);
	free(g->api_version);
	free(g->name);
	free(g->location);
	free(g->os_type);
	free(g);
}

void spec_warnings_free(struct spec_warnings *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++)
		free(w->items[i]);
	free(w->items);
	*w = (struct spec_warnings){0};
}
