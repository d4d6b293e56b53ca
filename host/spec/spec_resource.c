/* The ARM resource envelope of a container group: apiVersion, location,
 * tags, type and identity. capsid has no resource manager behind it, so
 * these are validated and shown back as given (type is implied, identity is
 * kept but no identity endpoint serves it). */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "spec.h"
#include "spec_internal.h"

#define TAGS_MAX	50 /* ARM limits on resource tags */
#define TAG_KEY_MAX	512
#define TAG_VALUE_MAX	256
#define IDENTITIES_MAX	64
#define IDENTITY_ID_MAX 1024

int spec_parse_api_version(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_dup_string(c, v, path, &((struct spec_group *)target)->api_version);
}

int spec_parse_location(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_dup_string(c, v, path, &((struct spec_group *)target)->location);
}

int spec_parse_tags(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_group *g = target;
	if (!json_object_is_type(v, json_type_object))
		return spec_type_error(c, path, "an object", v);
	size_t n = (size_t)json_object_object_length(v);
	if (n > TAGS_MAX)
		return capsid_error_set(c->err, EINVAL, "%s: at most %d tags are allowed, not %zu", path,
					TAGS_MAX, n);
	if (n == 0)
		return 0;
	g->tags = calloc(n, sizeof(*g->tags));
	if (!g->tags)
		return spec_nomem(c);
	struct json_object_iterator it = json_object_iter_begin(v), end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		char k[80], p[SPEC_PATH_SZ];
		spec_sanitize(k, sizeof(k), key);
		spec_path_key(p, path, k);
		struct spec_tag *t = &g->tags[g->n_tags++];
		if (!*key || strlen(key) > TAG_KEY_MAX)
			return capsid_error_set(c->err, EINVAL, "%s: tag names must be 1-%d characters", p,
						TAG_KEY_MAX);
		t->key = strdup(key);
		if (!t->key)
			return spec_nomem(c);
		int rc = spec_dup_string(c, json_object_iter_peek_value(&it), p, &t->value);
		if (rc < 0)
			return rc;
		if (strlen(t->value) > TAG_VALUE_MAX)
			return capsid_error_set(c->err, EINVAL, "%s: must be at most %d characters", p,
						TAG_VALUE_MAX);
	}
	return 0;
}

int spec_parse_resource_type(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	(void)target;
	const char *s;
	int rc = spec_get_string(c, v, path, &s);
	if (rc < 0)
		return rc;
	if (strcasecmp(s, SPEC_RESOURCE_TYPE)) {
		char q[80];
		spec_sanitize(q, sizeof(q), s);
		return capsid_error_set(c->err, EINVAL, "%s: \"%s\" is not a container group (allowed: %s)",
					path, q, SPEC_RESOURCE_TYPE);
	}
	return 0;
}

/* ---- identity ------------------------------------------------------------ */

static const char *const identity_types[] = {"SystemAssigned", "UserAssigned", "SystemAssigned, UserAssigned",
					     "None"};

static int parse_identity_type(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_identity *id = target;
	const char *s;
	int rc = spec_get_string(c, v, path, &s);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(identity_types); i++)
		if (!strcasecmp(s, identity_types[i])) {
			id->type = strdup(identity_types[i]);
			return id->type ? 0 : spec_nomem(c);
		}
	char q[80];
	spec_sanitize(q, sizeof(q), s);
	return capsid_error_set(c->err, EINVAL,
				"%s: unsupported value \"%s\" (allowed: SystemAssigned, UserAssigned, "
				"\"SystemAssigned, UserAssigned\", None)",
				path, q);
}

/* {"<resource id>": {}} as ARM writes it; the values (principalId and
 * clientId, set by Azure) are not kept. */
static int parse_user_assigned(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_identity *id = target;
	if (!json_object_is_type(v, json_type_object))
		return spec_type_error(c, path, "an object", v);
	size_t n = (size_t)json_object_object_length(v);
	if (n > IDENTITIES_MAX)
		return capsid_error_set(c->err, EINVAL, "%s: at most %d identities, not %zu", path,
					IDENTITIES_MAX, n);
	if (n == 0)
		return 0;
	id->user_assigned = calloc(n, sizeof(*id->user_assigned));
	if (!id->user_assigned)
		return spec_nomem(c);
	struct json_object_iterator it = json_object_iter_begin(v), end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		struct json_object *val = json_object_iter_peek_value(&it);
		char k[80], p[SPEC_PATH_SZ];
		spec_sanitize(k, sizeof(k), key);
		spec_path_key(p, path, k);
		if (!*key || strlen(key) > IDENTITY_ID_MAX)
			return capsid_error_set(c->err, EINVAL, "%s: identity ids must be 1-%d characters", p,
						IDENTITY_ID_MAX);
		if (val && !json_object_is_type(val, json_type_object))
			return spec_type_error(c, p, "an object", val);
		if (!(id->user_assigned[id->n_user_assigned++] = strdup(key)))
			return spec_nomem(c);
	}
	return 0;
}

static const struct spec_field identity_fields[] = {
    {"type", parse_identity_type, true},
    {"userAssignedIdentities", parse_user_assigned, false},
    {"principalId", NULL, false}, /* set by Azure, shown in exports */
    {"tenantId", NULL, false},
};

int spec_parse_identity(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_group *g = target;
	if (!(g->identity = calloc(1, sizeof(*g->identity))))
		return spec_nomem(c);
	int rc = spec_parse_object(c, v, path, identity_fields, ARRAY_SIZE(identity_fields), g->identity);
	if (rc < 0)
		return rc;
	bool user = strstr(g->identity->type, "UserAssigned") != NULL;
	if (user && !g->identity->n_user_assigned)
		return capsid_error_set(c->err, EINVAL, "%s.userAssignedIdentities: is required for %s", path,
					g->identity->type);
	if (!user && g->identity->n_user_assigned)
		return capsid_error_set(c->err, EINVAL, "%s.userAssignedIdentities: only for UserAssigned",
					path);
	return 0;
}

void spec_put_identity(struct json_object *doc, const struct spec_identity *id, bool *ok)
{
	if (!id)
		return;
	struct json_object *o = spec_json_put(doc, "identity", json_object_new_object(), ok);
	spec_json_put(o, "type", json_object_new_string(id->type), ok);
	if (!id->n_user_assigned)
		return;
	struct json_object *ua = spec_json_put(o, "userAssignedIdentities", json_object_new_object(), ok);
	for (size_t i = 0; i < id->n_user_assigned; i++)
		spec_json_put(ua, id->user_assigned[i], json_object_new_object(), ok);
}

void spec_identity_free(struct spec_identity *id)
{
	if (!id)
		return;
	for (size_t i = 0; i < id->n_user_assigned; i++)
		free(id->user_assigned[i]);
	free(id->user_assigned);
	free(id->type);
	free(id);
}
