/* Bounded JSON parsing and the image config's run fields (OCI image spec
 * "config": Entrypoint, Cmd, Env, WorkingDir, User; "rootfs.diff_ids"). */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "image_internal.h"

#define JSON_MAX_DEPTH	  32
#define CONFIG_MAX_ITEMS  4096
#define CONFIG_MAX_STRING (64u << 10)

int image_json_parse(const char *buf, size_t len, const char *what, struct json_object **out,
		     struct capsid_error *err)
{
	if (len > INT_MAX)
		return capsid_error_set(err, EFBIG, "%s: too large", what);
	struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (!tok)
		return capsid_error_set(err, ENOMEM, "out of memory");
	struct json_object *obj = json_tokener_parse_ex(tok, buf, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!obj || jerr != json_tokener_success) {
		json_object_put(obj);
		return capsid_error_set(err, EINVAL, "%s: invalid JSON: %s", what,
					jerr == json_tokener_continue ? "unexpected end"
								      : json_tokener_error_desc(jerr));
	}
	for (; end < len; end++)
		if (!isspace((unsigned char)buf[end])) {
			json_object_put(obj);
			return capsid_error_set(err, EINVAL, "%s: invalid JSON: trailing data", what);
		}
	*out = obj;
	return 0;
}

void image_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* A JSON array of strings (or null / absent: empty) into a string vector. */
static int strv_from_json(struct json_object *arr, const char *field, char ***out, size_t *n_out,
			  struct capsid_error *err)
{
	*out = NULL;
	*n_out = 0;
	if (!arr)
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return capsid_error_set(err, EINVAL, "config.%s: must be an array of strings", field);
	size_t n = json_object_array_length(arr);
	if (n > CONFIG_MAX_ITEMS)
		return capsid_error_set(err, E2BIG, "config.%s: more than %d items", field, CONFIG_MAX_ITEMS);
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return capsid_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(s, json_type_string) ||
		    (size_t)json_object_get_string_len(s) > CONFIG_MAX_STRING ||
		    strlen(json_object_get_string(s)) != (size_t)json_object_get_string_len(s)) {
			image_strv_free(v, i);
			return capsid_error_set(
			    err, EINVAL, "config.%s[%zu]: must be a string without NUL bytes", field, i);
		}
		if (!(v[i] = strdup(json_object_get_string(s)))) {
			image_strv_free(v, i);
			return capsid_error_set(err, ENOMEM, "out of memory");
		}
	}
	*out = v;
	*n_out = n;
	return 0;
}

static int optional_string(struct json_object *cfg, const char *field, char **out, struct capsid_error *err)
{
	struct json_object *v;
	*out = NULL;
	if (!cfg || !json_object_object_get_ex(cfg, field, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) > CONFIG_MAX_STRING)
		return capsid_error_set(err, EINVAL, "config.%s: must be a string", field);
	const char *s = json_object_get_string(v);
	if (!*s)
		return 0;
	if (!(*out = strdup(s)))
		return capsid_error_set(err, ENOMEM, "out of memory");
	return 0;
}

static struct json_object *member(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	if (obj && json_object_is_type(obj, json_type_object))
		json_object_object_get_ex(obj, key, &v);
	return v;
}

int image_config_parse(const char *json, size_t len, struct image_info *info, char ***diff_ids,
		       size_t *n_diff_ids, struct capsid_error *err)
{
	_cleanup_json_ struct json_object *root = NULL;
	int rc = image_json_parse(json, len, "image config", &root, err);
	if (rc < 0)
		return rc;
	if (!json_object_is_type(root, json_type_object))
		return capsid_error_set(err, EINVAL, "image config: not a JSON object");
	struct json_object *cfg = member(root, "config");
	if (cfg && !json_object_is_type(cfg, json_type_object))
		return capsid_error_set(err, EINVAL, "image config: config: not an object");

	if ((rc = strv_from_json(member(cfg, "Entrypoint"), "Entrypoint", &info->entrypoint,
				 &info->n_entrypoint, err)) < 0 ||
	    (rc = strv_from_json(member(cfg, "Cmd"), "Cmd", &info->cmd, &info->n_cmd, err)) < 0 ||
	    (rc = strv_from_json(member(cfg, "Env"), "Env", &info->env, &info->n_env, err)) < 0 ||
	    (rc = optional_string(cfg, "WorkingDir", &info->working_dir, err)) < 0 ||
	    (rc = optional_string(cfg, "User", &info->user, err)) < 0)
		return capsid_error_prefix(err, "image config");
	for (size_t i = 0; i < info->n_env; i++)
		if (!strchr(info->env[i], '=') || info->env[i][0] == '=')
			return capsid_error_set(err, EINVAL, "image config: config.Env[%zu]: not KEY=VALUE",
						i);
	if (!diff_ids)
		return 0;

	struct json_object *rootfs = member(root, "rootfs");
	struct json_object *ids = member(rootfs, "diff_ids");
	struct json_object *type = member(rootfs, "type");
	if (!type || strcmp(json_object_get_string(type), "layers") != 0)
		return capsid_error_set(err, EINVAL, "image config: rootfs.type: must be \"layers\"");
	rc = strv_from_json(ids, "diff_ids", diff_ids, n_diff_ids, err);
	if (rc < 0)
		return capsid_error_prefix(err, "image config: rootfs");
	for (size_t i = 0; i < *n_diff_ids; i++)
		if (!image_digest_valid((*diff_ids)[i]))
			return capsid_error_set(err, EINVAL,
						"image config: rootfs.diff_ids[%zu]: not a sha256 digest", i);
	return 0;
}

int image_config_diff_ids(const char *json, size_t len, char ***diff_ids, size_t *n, struct capsid_error *err)
{
	struct image_info scratch = {0};
	*diff_ids = NULL;
	*n = 0;
	int rc = image_config_parse(json, len, &scratch, diff_ids, n, err);
	image_strv_free(scratch.entrypoint, scratch.n_entrypoint);
	image_strv_free(scratch.cmd, scratch.n_cmd);
	image_strv_free(scratch.env, scratch.n_env);
	free(scratch.working_dir);
	free(scratch.user);
	if (rc < 0) {
		image_strv_free(*diff_ids, *n);
		*diff_ids = NULL;
		*n = 0;
	}
	return rc;
}
