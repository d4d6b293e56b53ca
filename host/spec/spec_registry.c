/* properties.imageRegistryCredentials[{server, username, password}]: ACI's
 * shape. The credentials a create uses to pull the group's images; the
 * password is a secret like secureValue: never in messages, left out by
 * SPEC_REDACT (so never in `show` or the stored spec), wiped when freed.
 * Rules: server, username and password present (a redacted spec may lack
 * the password), printable, bounded; servers unique in the group. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec.h"
#include "spec_internal.h"

#define SERVER_MAX   253
#define USERNAME_MAX 256
#define PASSWORD_MAX 8192

static bool printable_no_space(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int parse_server(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_registry_credential *rc = target;
	const char *s;
	int r = spec_get_string(c, v, path, &s);
	if (r < 0)
		return r;
	if (!*s || strlen(s) > SERVER_MAX || !printable_no_space(s))
		return capsid_error_set(c->err, EINVAL,
					"%s: must be a registry host name (1-%d characters, no spaces)", path,
					SERVER_MAX);
	return (rc->server = strdup(s)) ? 0 : spec_nomem(c);
}

static int parse_username(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_registry_credential *rc = target;
	const char *s;
	int r = spec_get_string(c, v, path, &s);
	if (r < 0)
		return r;
	if (!*s || strlen(s) > USERNAME_MAX || strchr(s, ':') || !printable_no_space(s))
		return capsid_error_set(c->err, EINVAL, "%s: must be 1-%d characters without spaces or ':'",
					path, USERNAME_MAX);
	return (rc->username = strdup(s)) ? 0 : spec_nomem(c);
}

/* The value never appears in a message. */
static int parse_password(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_registry_credential *rc = target;
	const char *s;
	int r = spec_get_string(c, v, path, &s);
	if (r < 0)
		return r;
	size_t n = strlen(s);
	bool ctl = false;
	for (size_t i = 0; i < n; i++)
		ctl |= (unsigned char)s[i] < 0x20 || s[i] == 0x7f;
	if (!n || n > PASSWORD_MAX || ctl)
		return capsid_error_set(c->err, EINVAL,
					"%s: must be 1-%d characters without control characters", path,
					PASSWORD_MAX);
	return (rc->password = strdup(s)) ? 0 : spec_nomem(c);
}

static const struct spec_field credential_fields[] = {
    {"server", parse_server, true},
    {"username", parse_username, true},
    {"password", parse_password, false}, /* required below unless redacted */
};

int spec_parse_registry_credentials(struct spec_vctx *c, struct json_object *v, const char *path,
				    void *target)
{
	struct spec_group *g = target;
	if (!json_object_is_type(v, json_type_array))
		return spec_type_error(c, path, "an array", v);
	size_t n = json_object_array_length(v);
	if (n > SPEC_MAX_REGISTRY_CREDENTIALS)
		return capsid_error_set(c->err, EINVAL, "%s: at most %d entries are allowed, not %zu", path,
					SPEC_MAX_REGISTRY_CREDENTIALS, n);
	g->registry_credentials = calloc(n ? n : 1, sizeof(*g->registry_credentials));
	if (!g->registry_credentials)
		return spec_nomem(c);
	for (size_t i = 0; i < n; i++) {
		char p[SPEC_PATH_SZ];
		spec_path_index(p, path, i);
		struct spec_registry_credential *rc = &g->registry_credentials[i];
		g->n_registry_credentials++;
		struct json_object *item = json_object_array_get_idx(v, i);
		if (!json_object_is_type(item, json_type_object))
			return spec_type_error(c, p, "an object", item);
		int r = spec_parse_object(c, item, p, credential_fields, ARRAY_SIZE(credential_fields), rc);
		if (r < 0)
			return r;
		if (!rc->password && !(c->flags & SPEC_PARSE_REDACTED))
			return capsid_error_set(c->err, EINVAL, "%s.password: required", p);
		for (size_t j = 0; j < i; j++)
			if (!strcasecmp(g->registry_credentials[j].server, rc->server)) {
				char s[80];
				spec_sanitize(s, sizeof(s), rc->server);
				return capsid_error_set(c->err, EINVAL, "%s.server: %s is listed twice", p,
							s);
			}
	}
	return 0;
}

void spec_put_registry_credentials(struct json_object *props, const struct spec_group *g,
				   enum spec_json_mode mode, bool *ok)
{
	if (!g->n_registry_credentials)
		return;
	struct json_object *arr =
	    spec_json_put(props, "imageRegistryCredentials", json_object_new_array(), ok);
	for (size_t i = 0; arr && i < g->n_registry_credentials; i++) {
		const struct spec_registry_credential *rc = &g->registry_credentials[i];
		struct json_object *o = spec_json_put(arr, NULL, json_object_new_object(), ok);
		if (!o)
			continue;
		spec_json_put(o, "server", json_object_new_string(rc->server), ok);
		spec_json_put(o, "username", json_object_new_string(rc->username), ok);
		if (mode == SPEC_WITH_SECRETS && rc->password)
			spec_json_put(o, "password", json_object_new_string(rc->password), ok);
	}
}

void spec_registry_credentials_free(struct spec_group *g)
{
	for (size_t i = 0; i < g->n_registry_credentials; i++) {
		struct spec_registry_credential *rc = &g->registry_credentials[i];
		if (rc->password)
			explicit_bzero(rc->password, strlen(rc->password));
		free(rc->server);
		free(rc->username);
		free(rc->password);
	}
	free(g->registry_credentials);
	g->registry_credentials = NULL;
	g->n_registry_credentials = 0;
}
