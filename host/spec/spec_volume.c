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
 * freed. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec.h"
#include "spec_internal.h"

#define KEY_MAX	       512
#define REPOSITORY_MAX 4096
#define REVISION_MAX   255
#define MOUNT_PATH_MAX 4096
#define FILE_NAME_MAX  255

static const char *const kind_keys[] = {
    [SPEC_VOLUME_AZURE_FILE] = "azureFile", [SPEC_VOLUME_EMPTY_DIR] = "emptyDir",
    [SPEC_VOLUME_SECRET] = "secret",	     [SPEC_VOLUME_GIT_REPO] = "gitRepo",
    [SPEC_VOLUME_CAPSID_DISK] = "capsidDisk",
};

const char *spec_volume_kind_name(enum spec_volume_kind k)
{
	return (size_t)k < ARRAY_SIZE(kind_keys) ? kind_keys[k] : "unknown";
}

const struct spec_volume *spec_group_volume(const struct spec_group *g, const char *name)
{
	for (size_t i = 0; g && name && i < g->n_volumes; i++)
		if (!strcmp(g->volumes[i].name, name))
			return &g->volumes[i];
	return NULL;
}

/* ---- small checks --------------------------------------------------------- */

static int parse_bool(struct spec_vctx *c, struct json_object *v, const char *path, bool *dst)
{
	if (!json_object_is_type(v, json_type_boolean))
		return spec_type_error(c, path, "a boolean", v);
	*dst = json_object_get_boolean(v);
	return 0;
}

static bool has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

static bool all_of(const char *s, const char *set)
{
	return strspn(s, set) == strlen(s);
}

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"

/* Strict base64 (RFC 4648, standard alphabet, padded). Whitespace is
 * dropped first (YAML block scalars, `base64`'s line wrapping), so *canon
 * is what the guest decodes. Returns the decoded size, or -1. */
static long base64_canonical(const char *s, char **canon)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t len = strlen(s), n = 0;
	char *out = malloc(len + 1);
	if (!out)
		return -2;
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", s[i]))
			out[n++] = s[i];
	out[n] = '\0';
	size_t pad = 0;
	while (pad < 2 && pad < n && out[n - 1 - pad] == '=')
		pad++;
	bool ok = n % 4 == 0;
	for (size_t i = 0; ok && i < n - pad; i++)
		ok = out[i] && strchr(alphabet, out[i]);
	if (!ok) {
		explicit_bzero(out, n);
		free(out);
		return -1;
	}
	*canon = out;
	return (long)(n / 4 * 3 - pad);
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
	if (has_control(s) || strlen(s) > MOUNT_PATH_MAX)
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
	return parse_bool(c, v, path, &((struct spec_volume_mount *)target)->read_only);
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

/* ---- azureFile ------------------------------------------------------------ */

static int parse_share_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume *vol = target;
	int rc = spec_dup_string(c, v, path, &vol->azure_file.share_name);
	if (rc < 0)
		return rc;
	const char *s = vol->azure_file.share_name;
	size_t len = strlen(s);
	/* Azure Files: 3-63 lowercase letters, digits and single hyphens,
	 * starting and ending with a letter or digit. */
	if (len < 3 || len > 63 || !all_of(s, LOWER_DIGITS "-") || s[0] == '-' || s[len - 1] == '-' ||
	    strstr(s, "--")) {
		char q[80];
		spec_sanitize(q, sizeof(q), s);
		return capsid_error_set(c->err, EINVAL,
					"%s: \"%s\" is not a valid share name: use 3-63 lowercase letters, "
					"digits or single '-', starting and ending with a letter or digit",
					path, q);
	}
	return 0;
}

static int parse_account_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume *vol = target;
	int rc = spec_dup_string(c, v, path, &vol->azure_file.account_name);
	if (rc < 0)
		return rc;
	const char *s = vol->azure_file.account_name;
	size_t len = strlen(s);
	if (len < 3 || len > 24 || !all_of(s, LOWER_DIGITS)) {
		char q[80];
		spec_sanitize(q, sizeof(q), s);
		return capsid_error_set(
		    c->err, EINVAL,
		    "%s: \"%s\" is not a valid storage account name: use 3-24 lowercase letters or digits", path,
		    q);
	}
	return 0;
}

/* The key reaches the cifs mount options in the guest: printable ASCII
 * without spaces or ',' (the option separator). Never echoed. */
static int parse_account_key(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume *vol = target;
	int rc = spec_dup_string(c, v, path, &vol->azure_file.account_key);
	if (rc < 0)
		return rc;
	const char *s = vol->azure_file.account_key;
	size_t len = strlen(s);
	bool ok = len >= 1 && len <= KEY_MAX;
	for (size_t i = 0; ok && i < len; i++)
		ok = s[i] > ' ' && s[i] < 0x7f && s[i] != ',';
	if (!ok)
		return capsid_error_set(c->err, EINVAL,
					"%s: must be 1-%d printable characters without spaces or ','", path,
					KEY_MAX);
	return 0;
}

static int parse_azure_read_only(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return parse_bool(c, v, path, &((struct spec_volume *)target)->azure_file.read_only);
}

static const struct spec_field azure_file_fields[] = {
    {"shareName", parse_share_name, true},
    {"storageAccountName", parse_account_name, true},
    {"storageAccountKey", parse_account_key, false}, /* required unless read back redacted */
    {"readOnly", parse_azure_read_only, false},
};

static int parse_azure_file(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume *vol = target;
	int rc = spec_parse_object(c, v, path, azure_file_fields, ARRAY_SIZE(azure_file_fields), vol);
	if (rc < 0)
		return rc;
	if (!vol->azure_file.account_key && !(c->flags & SPEC_PARSE_REDACTED))
		return capsid_error_set(c->err, EINVAL, "%s.storageAccountKey: is required", path);
	return 0;
}

/* ---- emptyDir, secret --------------------------------------------------- */

static int parse_empty_dir(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	/* No keys of its own (ACI's emptyDir is `{}`): anything inside warns. */
	return spec_parse_object(c, v, path, NULL, 0, target);
}

static int parse_secret(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume *vol = target;
	if (!json_object_is_type(v, json_type_object))
		return spec_type_error(c, path, "an object of file names to base64 contents", v);
	size_t n = (size_t)json_object_object_length(v);
	if (n == 0)
		return capsid_error_set(c->err, EINVAL, "%s: must contain at least one file", path);
	if (n > SPEC_MAX_SECRET_FILES)
		return capsid_error_set(c->err, EINVAL, "%s: at most %d files are allowed, not %zu", path,
					SPEC_MAX_SECRET_FILES, n);
	vol->secret.files = calloc(n, sizeof(*vol->secret.files));
	if (!vol->secret.files)
		return spec_nomem(c);
	size_t total = 0;
	struct json_object_iterator it = json_object_iter_begin(v), end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *name = json_object_iter_peek_name(&it);
		struct json_object *val = json_object_iter_peek_value(&it);
		char q[80], p[SPEC_PATH_SZ];
		spec_sanitize(q, sizeof(q), name);
		spec_path_key(p, path, q);
		struct spec_secret_file *f = &vol->secret.files[vol->secret.n_files++];
		size_t len = strlen(name);
		if (len == 0 || len > FILE_NAME_MAX || strchr(name, '/') || !strcmp(name, ".") ||
		    !strcmp(name, "..") || has_control(name))
			return capsid_error_set(c->err, EINVAL,
						"%s: the file name must be 1-%d characters, without '/' or "
						"control characters, and not \".\" or \"..\"",
						p, FILE_NAME_MAX);
		if (!(f->name = strdup(name)))
			return spec_nomem(c);
		if (!val && (c->flags & SPEC_PARSE_REDACTED))
			continue; /* the content was dropped on purpose */
		if (!json_object_is_type(val, json_type_string))
			return spec_type_error(c, p, "a base64 string", val);
		long size = base64_canonical(json_object_get_string(val), &f->data);
		if (size == -2)
			return spec_nomem(c);
		if (size < 0)
			return capsid_error_set(c->err, EINVAL, "%s: must be base64 (RFC 4648, padded)", p);
		f->size = (size_t)size;
		total += f->size;
		if (total > SPEC_MAX_SECRET_BYTES)
			return capsid_error_set(c->err, EINVAL, "%s: the files add up to more than %u bytes",
						path, SPEC_MAX_SECRET_BYTES);
	}
	return 0;
}

/* ---- gitRepo -------------------------------------------------------------- */

/* An absolute local path or a URL of a transport that only fetches: never
 * git's ext:: or fd:: helpers (which run commands), never an option. */
static int parse_repository(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	static const char *const schemes[] = {"https://", "http://", "git://", "ssh://", "file://"};
	struct spec_volume *vol = target;
	int rc = spec_dup_string(c, v, path, &vol->git_repo.repository);
	if (rc < 0)
		return rc;
	const char *s = vol->git_repo.repository;
	bool ok = s[0] == '/';
	for (size_t i = 0; !ok && i < ARRAY_SIZE(schemes); i++)
		ok = !strncmp(s, schemes[i], strlen(schemes[i])) && s[strlen(schemes[i])];
	if (!ok || strlen(s) > REPOSITORY_MAX || has_control(s) || strchr(s, ' ')) {
		char q[80];
		spec_sanitize(q, sizeof(q), s);
		return capsid_error_set(c->err, EINVAL,
					"%s: \"%s\" must be an absolute local path or an https://, http://, "
					"git://, ssh:// or file:// URL",
					path, q);
	}
	return 0;
}

static int parse_git_directory(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume *vol = target;
	int rc = spec_dup_string(c, v, path, &vol->git_repo.directory);
	if (rc < 0)
		return rc;
	const char *s = vol->git_repo.directory;
	bool ok = s[0] && s[0] != '/' && !has_control(s) && strlen(s) <= FILE_NAME_MAX;
	for (const char *p = s; ok && *p;) {
		size_t len = strcspn(p, "/");
		ok = !(len == 2 && p[0] == '.' && p[1] == '.');
		p += len + (p[len] == '/');
	}
	if (!ok)
		return capsid_error_set(c->err, EINVAL,
					"%s: must be a relative path of at most %d characters without '..' "
					"components",
					path, FILE_NAME_MAX);
	return 0;
}

static int parse_revision(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_volume *vol = target;
	int rc = spec_dup_string(c, v, path, &vol->git_repo.revision);
	if (rc < 0)
		return rc;
	const char *s = vol->git_repo.revision;
	size_t len = strlen(s);
	bool ok = len >= 1 && len <= REVISION_MAX && s[0] != '-' && !has_control(s) && !strchr(s, ' ');
	if (!ok)
		return capsid_error_set(c->err, EINVAL,
					"%s: must be a commit, branch or tag (1-%d characters, no spaces, not "
					"starting with '-')",
					path, REVISION_MAX);
	return 0;
}

static const struct spec_field git_repo_fields[] = {
    {"repository", parse_repository, true},
    {"directory", parse_git_directory, false},
    {"revision", parse_revision, false},
};

static int parse_git_repo(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_parse_object(c, v, path, git_repo_fields, ARRAY_SIZE(git_repo_fields), target);
}

/* ---- capsidDisk ----------------------------------------------------------- */

static int parse_disk_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_parse_dns_label(c, v, path, &((struct spec_volume *)target)->disk.volume_name);
}

static int parse_disk_read_only(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return parse_bool(c, v, path, &((struct spec_volume *)target)->disk.read_only);
}

static const struct spec_field disk_fields[] = {
    {"volumeName", parse_disk_name, true},
    {"readOnly", parse_disk_read_only, false},
};

static int parse_capsid_disk(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_parse_object(c, v, path, disk_fields, ARRAY_SIZE(disk_fields), target);
}

/* ---- volumes -------------------------------------------------------------- */

static int parse_volume_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_parse_dns_label(c, v, path, &((struct spec_volume *)target)->name);
}

static const struct spec_field volume_fields[] = {
    {"name", parse_volume_name, true},
    {"azureFile", parse_azure_file, false},
    {"emptyDir", parse_empty_dir, false},
    {"secret", parse_secret, false},
    {"gitRepo", parse_git_repo, false},
    {"capsidDisk", parse_capsid_disk, false},
};

/* Which kind the object is. emptyDir counts even as null (YAML "emptyDir:"
 * with nothing after it); the others must have content. */
static int volume_kind(struct spec_vctx *c, struct json_object *obj, const char *path, struct spec_volume *vol)
{
	if (!json_object_is_type(obj, json_type_object))
		return spec_type_error(c, path, "an object", obj);
	size_t found = 0;
	for (size_t k = 0; k < ARRAY_SIZE(kind_keys); k++) {
		struct json_object *val = NULL;
		if (!spec_object_has(obj, kind_keys[k], &val))
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
	switch (vol->kind) {
	case SPEC_VOLUME_AZURE_FILE:
		put(k, "shareName", json_object_new_string(vol->azure_file.share_name), ok);
		put(k, "storageAccountName", json_object_new_string(vol->azure_file.account_name), ok);
		if (mode == SPEC_WITH_SECRETS && vol->azure_file.account_key)
			put(k, "storageAccountKey", json_object_new_string(vol->azure_file.account_key), ok);
		put(k, "readOnly", json_object_new_boolean(vol->azure_file.read_only), ok);
		break;
	case SPEC_VOLUME_EMPTY_DIR:
		break;
	case SPEC_VOLUME_SECRET:
		for (size_t i = 0; i < vol->secret.n_files; i++) {
			const struct spec_secret_file *f = &vol->secret.files[i];
			if (mode == SPEC_WITH_SECRETS && f->data)
				put(k, f->name, json_object_new_string(f->data), ok);
			else if (k && json_object_object_add(k, f->name, NULL) < 0)
				*ok = false;
		}
		break;
	case SPEC_VOLUME_GIT_REPO:
		put(k, "repository", json_object_new_string(vol->git_repo.repository), ok);
		if (vol->git_repo.directory)
			put(k, "directory", json_object_new_string(vol->git_repo.directory), ok);
		if (vol->git_repo.revision)
			put(k, "revision", json_object_new_string(vol->git_repo.revision), ok);
		break;
	case SPEC_VOLUME_CAPSID_DISK:
		put(k, "volumeName", json_object_new_string(vol->disk.volume_name), ok);
		put(k, "readOnly", json_object_new_boolean(vol->disk.read_only), ok);
		break;
	}
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

static void free_secret(char *s)
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
		switch (vol->kind) {
		case SPEC_VOLUME_AZURE_FILE:
			free(vol->azure_file.share_name);
			free(vol->azure_file.account_name);
			free_secret(vol->azure_file.account_key);
			break;
		case SPEC_VOLUME_EMPTY_DIR:
			break;
		case SPEC_VOLUME_SECRET:
			for (size_t k = 0; k < vol->secret.n_files; k++) {
				free(vol->secret.files[k].name);
				free_secret(vol->secret.files[k].data);
			}
			free(vol->secret.files);
			break;
		case SPEC_VOLUME_GIT_REPO:
			free(vol->git_repo.repository);
			free(vol->git_repo.directory);
			free(vol->git_repo.revision);
			break;
		case SPEC_VOLUME_CAPSID_DISK:
			free(vol->disk.volume_name);
			break;
		}
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
