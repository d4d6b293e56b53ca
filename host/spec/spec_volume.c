/* The volume fields of the group model:
 *
 *   properties.volumes[{name, azureFile{shareName, storageAccountName,
 *                                       storageAccountKey, readOnly}
 *                             | emptyDir{}
 *                             | secret{FILENAME: base64, ...}
 *                             | gitRepo{repository, directory, revision}
 *                             | capsidDisk{volumeName, readOnly}}]
 *   properties.containers[].properties.volumeMounts[{name, mountPath, readOnly}]
 *
 * Rules: exactly one kind per volume, unique volume names, every mount names
 * a volume, mountPath absolute without ':' (and without '.'/'..'
 * components, which would only confuse the guest's bind mounts), no
 * duplicate mountPath within a container.
 *
 * storageAccountKey and secret contents are secrets like secureValue: they
 * never appear in messages, are left out by SPEC_REDACT, and are wiped when
 * freed. Each kind's fields are in a file of its own (spec_volume_kinds.h);
 * this file reads the list, picks the kind, and reads volumeMounts. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec.h"
#include "spec_internal.h"
#include "spec_volume_kinds.h"

#define MOUNT_PATH_MAX 4096

/* Indexed by kind, in the order the spec's fields are read. */
static const struct spec_volume_kind_ops *const kinds[] = {
    [SPEC_VOLUME_AZURE_FILE] = &spec_volume_azure_file_ops, [SPEC_VOLUME_EMPTY_DIR] = &spec_volume_empty_dir_ops,
    [SPEC_VOLUME_SECRET] = &spec_volume_secret_ops,	    [SPEC_VOLUME_GIT_REPO] = &spec_volume_git_repo_ops,
    [SPEC_VOLUME_CAPSID_DISK] = &spec_volume_capsid_disk_ops,
};

const char *spec_volume_kind_name(enum spec_volume_kind k)
{
	return (size_t)k < ARRAY_SIZE(kinds) ? kinds[k]->key : "unknown";
}

const char *spec_volume_secrets(const struct spec_volume *vol)
{
	return (size_t)vol->kind < ARRAY_SIZE(kinds) ? kinds[vol->kind]->secrets : NULL;
}

const struct spec_volume *spec_group_volume(const struct spec_group *g, const char *name)
{
	for (size_t i = 0; g && name && i < g->n_volumes; i++)
		if (!strcmp(g->volumes[i].name, name))
			return &g->volumes[i];
	return NULL;
}

/* ---- small checks --------------------------------------------------------- */

int spec_volume_bool(struct spec_vctx *c, struct json_object *v, const char *path, bool *dst)
{
	if (!json_object_is_type(v, json_type_boolean))
		return spec_type_error(c, path, "a boolean", v);
	*dst = json_object_get_boolean(v);
	return 0;
}

bool spec_volume_has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

/* ---- volumeMounts --------------------------------------------------------- */

/* Absolute, no ':' (the runtime's volume syntax), no '.'/'..' components,
 * not "/" itself. *out gets the normalised form. */
static int parse_mount_path(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume_mount *m = target;
	const char *s;
	int rc = spec_get_string(c, v, path, &s);
	if (rc < 0)
		return rc;
	if (s[0] != '/')
		return capsid_error_set(c->err, EINVAL, "%s: must be an absolute path", path);
	if (strchr(s, ':'))
		return capsid_error_set(c->err, EINVAL, "%s: must not contain ':'", path);
	if (spec_volume_has_control(s) || strlen(s) > MOUNT_PATH_MAX)
		return capsid_error_set(c->err, EINVAL,
					"%s: must be at most %d characters without control characters", path,
					MOUNT_PATH_MAX);
	m->mount_path = malloc(strlen(s) + 1);
	if (!m->mount_path)
		return spec_nomem(c);
	size_t o = 0;
	for (const char *p = s; *p;) {
		p += strspn(p, "/");
		size_t len = strcspn(p, "/");
		if (!len)
			break;
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return capsid_error_set(c->err, EINVAL, "%s: must not contain '.' or '..' components",
						path);
		m->mount_path[o++] = '/';
		memcpy(m->mount_path + o, p, len);
		o += len;
		p += len;
	}
	m->mount_path[o] = '\0';
	if (o == 0)
		return capsid_error_set(c->err, EINVAL, "%s: must not be \"/\"", path);
	return 0;
}

static int parse_mount_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_parse_dns_label(c, v, path, &((struct spec_volume_mount *)target)->name);
}

static int parse_mount_read_only(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_volume_bool(c, v, path, &((struct spec_volume_mount *)target)->read_only);
}

static const struct spec_field mount_fields[] = {
    {"name", parse_mount_name, true},
    {"mountPath", parse_mount_path, true},
    {"readOnly", parse_mount_read_only, false},
};

int spec_parse_volume_mounts(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_container *ct = target;
	if (!json_object_is_type(v, json_type_array))
		return spec_type_error(c, path, "an array", v);
	size_t n = json_object_array_length(v);
	if (n > SPEC_MAX_MOUNTS)
		return capsid_error_set(c->err, EINVAL, "%s: at most %d volume mounts are allowed, not %zu",
					path, SPEC_MAX_MOUNTS, n);
	if (n == 0)
		return 0;
	ct->mounts = calloc(n, sizeof(*ct->mounts));
	if (!ct->mounts)
		return spec_nomem(c);
	ct->n_mounts = n;
	for (size_t i = 0; i < n; i++) {
		char p[SPEC_PATH_SZ];
		spec_path_index(p, path, i);
		struct spec_volume_mount *m = &ct->mounts[i];
		int rc = spec_parse_object(c, json_object_array_get_idx(v, i), p, mount_fields,
					   ARRAY_SIZE(mount_fields), m);
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(ct->mounts[j].mount_path, m->mount_path)) {
				char q[80];
				spec_sanitize(q, sizeof(q), m->mount_path);
				return capsid_error_set(c->err, EINVAL,
							"%s.mountPath: duplicate mount path \"%s\" (also "
							"volumeMounts[%zu])",
							p, q, j);
			}
	}
	return 0;
}

/* ---- volumes -------------------------------------------------------------- */

static int parse_volume_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_parse_dns_label(c, v, path, &((struct spec_volume *)target)->name);
}


/* Which kind the object is. emptyDir counts even as null (YAML "emptyDir:"
 * with nothing after it); the others must have content. */
static int volume_kind(struct spec_vctx *c, struct json_object *obj, const char *path, struct spec_volume *vol)
{
	if (!json_object_is_type(obj, json_type_object))
		return spec_type_error(c, path, "an object", obj);
	size_t found = 0;
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		struct json_object *val = NULL;
		if (!spec_object_has(obj, kinds[k]->key, &val))
			continue;
		if (!val && k != SPEC_VOLUME_EMPTY_DIR)
			continue;
		vol->kind = (enum spec_volume_kind)k;
		found++;
	}
	if (found != 1)
		return capsid_error_set(c->err, EINVAL,
					"%s: exactly one of azureFile, emptyDir, secret, gitRepo or capsidDisk "
					"must be set%s",
					path, found ? "" : " (none is)");
	return 0;
}

int spec_parse_volumes(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_group *g = target;
	if (!json_object_is_type(v, json_type_array))
		return spec_type_error(c, path, "an array", v);
	size_t n = json_object_array_length(v);
	if (n > SPEC_MAX_VOLUMES)
		return capsid_error_set(c->err, EINVAL, "%s: at most %d volumes are allowed, not %zu", path,
					SPEC_MAX_VOLUMES, n);
	if (n == 0)
		return 0;
	g->volumes = calloc(n, sizeof(*g->volumes));
	if (!g->volumes)
		return spec_nomem(c);
	/* "name", then every kind's object. */
	struct spec_field volume_fields[1 + ARRAY_SIZE(kinds)] = {{"name", parse_volume_name, true}};
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
		volume_fields[1 + k] = (struct spec_field){kinds[k]->key, kinds[k]->parse, false};
	for (size_t i = 0; i < n; i++) {
		char p[SPEC_PATH_SZ];
		spec_path_index(p, path, i);
		struct json_object *item = json_object_array_get_idx(v, i);
		struct spec_volume *vol = &g->volumes[i];
		/* Counted before parsing, so spec_free sees every kind's fields. */
		g->n_volumes = i + 1;
		int rc = volume_kind(c, item, p, vol);
		if (rc < 0)
			return rc;
		rc = spec_parse_object(c, item, p, volume_fields, ARRAY_SIZE(volume_fields), vol);
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(g->volumes[j].name, vol->name))
				return capsid_error_set(c->err, EINVAL, "%s.name: duplicate volume name \"%s\"",
							p, vol->name);
	}
	return 0;
}

int spec_check_volumes(struct spec_vctx *c, const struct spec_group *g, const char *path)
{
	for (size_t i = 0; i < g->n_containers; i++) {
		const struct spec_container *ct = &g->containers[i];
		for (size_t k = 0; k < ct->n_mounts; k++)
			if (!spec_group_volume(g, ct->mounts[k].name))
				return capsid_error_set(c->err, EINVAL,
							"%s.containers[%zu].properties.volumeMounts[%zu].name: "
							"no volume named \"%s\" in %s.volumes",
							path, i, k, ct->mounts[k].name, path);
	}
	return 0;
}

/* ---- serialisation -------------------------------------------------------- */

#define put spec_json_put

static void put_volume(struct json_object *arr, const struct spec_volume *vol, enum spec_json_mode mode,
		       bool *ok)
{
	struct json_object *o = put(arr, NULL, json_object_new_object(), ok);
	put(o, "name", json_object_new_string(vol->name), ok);
	struct json_object *k = put(o, spec_volume_kind_name(vol->kind), json_object_new_object(), ok);
	if ((size_t)vol->kind < ARRAY_SIZE(kinds))
		kinds[vol->kind]->to_json(k, vol, mode, ok);
}

void spec_put_volumes(struct json_object *props, const struct spec_group *g, enum spec_json_mode mode,
		      bool *ok)
{
	if (!g->n_volumes)
		return;
	struct json_object *arr = put(props, "volumes", json_object_new_array(), ok);
	for (size_t i = 0; i < g->n_volumes; i++)
		put_volume(arr, &g->volumes[i], mode, ok);
}

void spec_put_volume_mounts(struct json_object *props, const struct spec_container *ct, bool *ok)
{
	if (!ct->n_mounts)
		return;
	struct json_object *arr = put(props, "volumeMounts", json_object_new_array(), ok);
	for (size_t i = 0; i < ct->n_mounts; i++) {
		struct json_object *o = put(arr, NULL, json_object_new_object(), ok);
		put(o, "name", json_object_new_string(ct->mounts[i].name), ok);
		put(o, "mountPath", json_object_new_string(ct->mounts[i].mount_path), ok);
		put(o, "readOnly", json_object_new_boolean(ct->mounts[i].read_only), ok);
	}
}

/* ---- freeing -------------------------------------------------------------- */

void spec_volume_free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void spec_volumes_free(struct spec_group *g)
{
	for (size_t i = 0; i < g->n_volumes; i++) {
		struct spec_volume *vol = &g->volumes[i];
		free(vol->name);
		if ((size_t)vol->kind < ARRAY_SIZE(kinds))
			kinds[vol->kind]->free(vol);
	}
	free(g->volumes);
	g->volumes = NULL;
	g->n_volumes = 0;
}

void spec_volume_mounts_free(struct spec_container *ct)
{
	for (size_t i = 0; i < ct->n_mounts; i++) {
		free(ct->mounts[i].name);
		free(ct->mounts[i].mount_path);
	}
	free(ct->mounts);
}
