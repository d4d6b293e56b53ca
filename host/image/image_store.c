/* The store: its directory, index of refs, lock, and lookups.
 *
 * index.json is only replaced atomically (write + rename), so readers
 * (resolve, list) take no lock; import and rm serialize on an flock of
 * images/.lock so two CLIs never lose each other's updates. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "image_internal.h"
#include "util.h"

int image_store_open(const char *state_root, struct image_store **out, struct capsid_error *err)
{
	_cleanup_free_ char *dir = NULL;
	if (asprintf(&dir, "%s/images", state_root) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	int rc = util_mkdir_p(dir, 0700);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "create image store %s", dir);
	struct image_store *s = calloc(1, sizeof(*s));
	if (!s)
		return capsid_error_set(err, ENOMEM, "out of memory");
	s->images_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	s->images_dir = realpath(dir, NULL);
	s->max_layer_bytes = IMAGE_DEFAULT_MAX_LAYER_BYTES;
	if (s->images_fd < 0 || !s->images_dir) {
		rc = capsid_error_errno(err, errno, "open image store %s", dir);
		image_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void image_store_close(struct image_store *s)
{
	if (!s)
		return;
	if (s->images_fd >= 0)
		close(s->images_fd);
	free(s->images_dir);
	free(s);
}

void image_store_set_warning_handler(struct image_store *s, image_warn_fn fn, void *ctx)
{
	s->warn = fn;
	s->warn_ctx = ctx;
}

void image_store_set_max_layer_bytes(struct image_store *s, uint64_t bytes)
{
	s->max_layer_bytes = bytes ? bytes : IMAGE_DEFAULT_MAX_LAYER_BYTES;
}

void image_warn(const struct image_store *s, const char *fmt, ...)
{
	if (!s->warn)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->warn(s->warn_ctx, msg);
}

int image_store_lock(struct image_store *s, int *lockfd, struct capsid_error *err)
{
	int fd = openat(s->images_fd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return capsid_error_errno(err, errno, "open %s/.lock", s->images_dir);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int rc = capsid_error_errno(err, errno, "lock %s/.lock", s->images_dir);
			close(fd);
			return rc;
		}
	}
	*lockfd = fd;
	return 0;
}

int image_index_load(struct image_store *s, struct json_object **refs_out, struct capsid_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int rc = util_read_file_at(s->images_fd, "index.json", IMAGE_MAX_INDEX, &buf, &len);
	if (rc == -ENOENT) {
		*refs_out = json_object_new_object();
		return *refs_out ? 0 : capsid_error_set(err, ENOMEM, "out of memory");
	}
	if (rc < 0)
		return capsid_error_errno(err, -rc, "read %s/index.json", s->images_dir);
	_cleanup_json_ struct json_object *root = NULL;
	char what[PATH_MAX + 16];
	snprintf(what, sizeof(what), "%s/index.json", s->images_dir);
	if ((rc = image_json_parse(buf, len, what, &root, err)) < 0)
		return rc;
	struct json_object *refs = NULL;
	if (!json_object_object_get_ex(root, "refs", &refs) || !json_object_is_type(refs, json_type_object))
		return capsid_error_set(err, EINVAL, "%s: refs: missing or not an object", what);
	json_object_object_foreach(refs, ref, digest)
	{
		if (!json_object_is_type(digest, json_type_string) ||
		    !image_digest_valid(json_object_get_string(digest)))
			return capsid_error_set(err, EINVAL, "%s: refs.%s: not a sha256 digest", what, ref);
	}
	*refs_out = json_object_get(refs);
	return 0;
}

int image_index_save(struct image_store *s, struct json_object *refs, struct capsid_error *err)
{
	_cleanup_json_ struct json_object *root = json_object_new_object();
	if (!root)
		return capsid_error_set(err, ENOMEM, "out of memory");
	json_object_object_add(root, "refs", json_object_get(refs));
	size_t len;
	const char *text = json_object_to_json_string_length(
	    root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (!text)
		return capsid_error_set(err, ENOMEM, "out of memory");
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/index.json", s->images_dir) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	int rc = util_write_file_atomic(path, text, len, 0600);
	return rc < 0 ? capsid_error_errno(err, -rc, "write %s", path) : 0;
}

static bool digest_referenced(struct json_object *refs, const char *hex)
{
	json_object_object_foreach(refs, ref, digest)
	{
		(void)ref;
		if (strcmp(json_object_get_string(digest) + 7, hex) == 0)
			return true;
	}
	return false;
}

static bool is_digest_hex(const char *name)
{
	char d[IMAGE_DIGEST_SIZE];
	return strlen(name) == 64 && snprintf(d, sizeof(d), "sha256:%s", name) == 71 && image_digest_valid(d);
}

int image_store_gc(struct image_store *s, struct json_object *refs, struct capsid_error *err)
{
	char **names = NULL;
	size_t n = 0;
	int rc = image_path_list_dir(s->images_fd, &names, &n);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "list %s", s->images_dir);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		bool stale = strncmp(names[i], ".tmp-", 5) == 0 ||
			     (is_digest_hex(names[i]) && !digest_referenced(refs, names[i]));
		if (stale && (rc = image_path_remove_at(s->images_fd, names[i])) < 0)
			capsid_error_errno(err, -rc, "remove %s/%s", s->images_dir, names[i]);
	}
	image_path_free_names(names, n);
	return rc;
}

int image_store_clean(struct image_store *s, struct capsid_error *err)
{
	_cleanup_json_ struct json_object *refs = NULL;
	int rc = image_index_load(s, &refs, err);
	return rc < 0 ? rc : image_store_gc(s, refs, err);
}

void image_info_free(struct image_info *i)
{
	if (!i)
		return;
	free(i->source);
	free(i->ref);
	free(i->digest);
	free(i->disk_path);
	image_strv_free(i->entrypoint, i->n_entrypoint);
	image_strv_free(i->cmd, i->n_cmd);
	image_strv_free(i->env, i->n_env);
	free(i->working_dir);
	free(i->user);
	free(i);
}

void image_list_free(struct image_info **list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		image_info_free(list[i]);
	free(list);
}

static int info_load(struct image_store *s, const char *ref, const char *digest, struct image_info **out,
		     struct capsid_error *err)
{
	const char *hex = digest + 7;
	struct image_info *info = calloc(1, sizeof(*info));
	if (!info)
		return capsid_error_set(err, ENOMEM, "out of memory");
	info->fstype = "erofs";
	int rc = 0;
	_cleanup_free_ char *cfg_path = NULL, *buf = NULL;
	size_t len = 0;
	struct stat st;
	if (!(info->ref = strdup(ref)) || !(info->digest = strdup(digest)) ||
	    asprintf(&info->disk_path, "%s/%s/rootfs.erofs", s->images_dir, hex) < 0 ||
	    asprintf(&cfg_path, "%s/config.json", hex) < 0) {
		info->disk_path = NULL;
		rc = capsid_error_set(err, ENOMEM, "out of memory");
	} else if ((rc = util_read_file_at(s->images_fd, cfg_path, IMAGE_MAX_JSON, &buf, &len)) < 0) {
		rc = capsid_error_errno(err, -rc, "image %s: read %s/%s", ref, s->images_dir, cfg_path);
	} else if ((rc = image_config_parse(buf, len, info, NULL, NULL, err)) < 0) {
		capsid_error_prefix(err, "image %s", ref);
	} else if (stat(info->disk_path, &st) < 0) {
		rc = capsid_error_errno(err, errno, "image %s: %s", ref, info->disk_path);
	} else {
		info->disk_size = (uint64_t)st.st_size;
		char src_path[80];
		snprintf(src_path, sizeof(src_path), "%.64s/sources.json", hex);
		_cleanup_free_ char *sbuf = NULL;
		size_t n;
		_cleanup_json_ struct json_object *map = NULL;
		struct json_object *v = NULL;
		if (util_read_file_at(s->images_fd, src_path, IMAGE_MAX_JSON, &sbuf, &n) == 0 &&
		    (map = json_tokener_parse(sbuf)) && json_object_is_type(map, json_type_object) &&
		    json_object_object_get_ex(map, ref, &v) && json_object_is_type(v, json_type_string))
			info->source = strdup(json_object_get_string(v)); /* NULL: shown as unknown */
	}
	if (rc < 0) {
		image_info_free(info);
		return rc;
	}
	*out = info;
	return 0;
}

int image_resolve(struct image_store *s, const char *ref, struct image_info **out, struct capsid_error *err)
{
	*out = NULL;
	_cleanup_json_ struct json_object *refs = NULL;
	int rc = image_index_load(s, &refs, err);
	if (rc < 0)
		return rc;
	if (image_digest_valid(ref)) {
		json_object_object_foreach(refs, r, digest)
		{
			if (strcmp(json_object_get_string(digest), ref) == 0)
				return info_load(s, r, ref, out, err);
		}
	} else {
		_cleanup_free_ char *norm = image_normalize_ref(ref);
		if (!norm)
			return capsid_error_set(err, EINVAL, "invalid image reference '%s'", ref);
		struct json_object *digest;
		if (json_object_object_get_ex(refs, norm, &digest))
			return info_load(s, norm, json_object_get_string(digest), out, err);
	}
	return capsid_error_set(
	    err, ENOENT,
	    "image %s not found: pull it with 'capsid image pull' or import it with 'capsid image import'",
	    ref);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int image_list(struct image_store *s, struct image_info ***out, size_t *n_out, struct capsid_error *err)
{
	*out = NULL;
	*n_out = 0;
	_cleanup_json_ struct json_object *refs = NULL;
	int rc = image_index_load(s, &refs, err);
	if (rc < 0)
		return rc;
	size_t n = (size_t)json_object_object_length(refs), k = 0;
	_cleanup_free_ char **keys = calloc(n + 1, sizeof(*keys));
	struct image_info **list = calloc(n + 1, sizeof(*list));
	if (!keys || !list) {
		free(list);
		return capsid_error_set(err, ENOMEM, "out of memory");
	}
	json_object_object_foreach(refs, key, unused)
	{
		(void)unused;
		keys[k++] = key;
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (size_t i = 0; i < n; i++) {
		struct json_object *digest;
		json_object_object_get_ex(refs, keys[i], &digest);
		if ((rc = info_load(s, keys[i], json_object_get_string(digest), &list[i], err)) < 0) {
			image_list_free(list, i);
			return rc;
		}
	}
	*out = list;
	*n_out = n;
	return 0;
}

int image_remove(struct image_store *s, const char *ref, struct capsid_error *err)
{
	_cleanup_free_ char *norm = image_normalize_ref(ref);
	if (!norm)
		return capsid_error_set(err, EINVAL, "invalid image reference '%s'", ref);
	_cleanup_close_ int lockfd = -1;
	int rc = image_store_lock(s, &lockfd, err);
	if (rc < 0)
		return rc;
	_cleanup_json_ struct json_object *refs = NULL;
	if ((rc = image_index_load(s, &refs, err)) < 0)
		return rc;
	if (!json_object_object_get_ex(refs, norm, NULL))
		return capsid_error_set(err, ENOENT, "image %s not found", ref);
	char hex[65];
	struct json_object *dj = NULL;
	json_object_object_get_ex(refs, norm, &dj);
	snprintf(hex, sizeof(hex), "%s", json_object_get_string(dj) + 7);
	json_object_object_del(refs, norm);
	if ((rc = image_index_save(s, refs, err)) < 0)
		return rc;
	/* The image's layers, then its files, go once nothing points at them. */
	if (!digest_referenced(refs, hex) && (rc = image_blob_gc_after_remove(s, refs, hex, err)) < 0)
		return rc;
	return image_store_gc(s, refs, err);
}
