/* An image made from a directory tree that is already a container's root
 * filesystem: containerd's snapshot, mounted by the shim. No layers, no
 * blobs: the tree becomes the image's erofs disk, built once per ref (the
 * caller names the ref after the snapshot chain it came from, so a second
 * container of the same image boots from the cached disk). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "image_internal.h"
#include "util.h"

static const char dir_config[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{"
				 "\"type\":\"layers\",\"diff_ids\":[]}}";

/* Builds images/<hex> in workdir "out": config, a manifest naming the ref
 * (so each ref gets a digest of its own), the erofs disk. */
static int build(struct image_store *s, int workfd, const char *workdir, const char *dir, const char *ref,
		 char digest[IMAGE_DIGEST_SIZE], struct capsid_error *err)
{
	char cfg_digest[IMAGE_DIGEST_SIZE];
	int rc = image_sha256_buf(dir_config, strlen(dir_config), cfg_digest);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "hash the image config");
	_cleanup_free_ char *manifest = NULL;
	if (asprintf(
		&manifest,
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
		"\"size\":%zu},\"layers\":[],\"annotations\":{\"io.capsid.rootfs.ref\":\"%s\"}}",
		cfg_digest, strlen(dir_config), ref) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	if ((rc = image_sha256_buf(manifest, strlen(manifest), digest)) < 0)
		return capsid_error_errno(err, -rc, "hash the manifest");
	if (mkdirat(workfd, "out", 0755) < 0)
		return capsid_error_errno(err, errno, "mkdir %s/.tmp-*/out", s->images_dir);
	if ((rc = util_write_file_atomic_at(workfd, "out/config.json", dir_config, strlen(dir_config),
					    0644)) < 0 ||
	    (rc = util_write_file_atomic_at(workfd, "out/manifest.json", manifest, strlen(manifest), 0644)) <
		0)
		return capsid_error_errno(err, -rc, "write the image's config and manifest");
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/out/rootfs.erofs", workdir) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	return image_erofs_build(dir, path, digest, err);
}

int image_install_dir(struct image_store *s, const char *dir, const char *ref, const char *source,
		      char **out_digest, struct capsid_error *err)
{
	_cleanup_free_ char *norm = image_normalize_ref(ref);
	if (!norm)
		return capsid_error_set(err, EINVAL, "invalid image reference '%s'", ref);
	_cleanup_close_ int lockfd = -1;
	int rc = image_store_lock(s, &lockfd, err);
	if (rc < 0)
		return rc;
	_cleanup_json_ struct json_object *index = NULL;
	if ((rc = image_index_load(s, &index, err)) < 0)
		return rc;
	struct json_object *have;
	if (json_object_object_get_ex(index, norm, &have)) {
		char erofs[IMAGE_DIGEST_SIZE + 16];
		struct stat st;
		snprintf(erofs, sizeof(erofs), "%.64s/rootfs.erofs", json_object_get_string(have) + 7);
		if (fstatat(s->images_fd, erofs, &st, 0) == 0) {
			*out_digest = strdup(json_object_get_string(have));
			return *out_digest ? 0 : capsid_error_set(err, ENOMEM, "out of memory");
		}
	}
	char workdir[PATH_MAX];
	if ((size_t)snprintf(workdir, sizeof(workdir), "%s/.tmp-XXXXXX", s->images_dir) >= sizeof(workdir))
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	if (!mkdtemp(workdir))
		return capsid_error_errno(err, errno, "mkdtemp %s", workdir);
	_cleanup_close_ int workfd = open(workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char digest[IMAGE_DIGEST_SIZE];
	if (workfd < 0)
		rc = capsid_error_errno(err, errno, "open %s", workdir);
	else
		rc = build(s, workfd, workdir, dir, norm, digest, err);
	const char *hex = digest + 7;
	bool created = false;
	if (rc == 0) {
		image_path_remove_at(s->images_fd, hex);
		if (renameat(workfd, "out", s->images_fd, hex) < 0)
			rc = capsid_error_errno(err, errno, "install image %s", hex);
		created = rc == 0;
	}
	if (rc == 0 && source) {
		char path[80];
		snprintf(path, sizeof(path), "%.64s/sources.json", hex);
		_cleanup_json_ struct json_object *map = json_object_new_object();
		if (!map || json_object_object_add(map, norm, json_object_new_string(source)) < 0)
			rc = capsid_error_set(err, ENOMEM, "out of memory");
		const char *text =
		    rc == 0 ? json_object_to_json_string_ext(map, JSON_C_TO_STRING_PLAIN) : NULL;
		if (text &&
		    (rc = util_write_file_atomic_at(s->images_fd, path, text, strlen(text), 0600)) < 0)
			capsid_error_errno(err, -rc, "write %s/%s", s->images_dir, path);
	}
	if (rc == 0 && json_object_object_add(index, norm, json_object_new_string(digest)) < 0)
		rc = capsid_error_set(err, ENOMEM, "out of memory");
	if (rc == 0)
		rc = image_index_save(s, index, err);
	if (rc < 0 && created)
		image_path_remove_at(s->images_fd, hex);
	util_rm_rf(workdir);
	if (rc < 0)
		return rc;
	*out_digest = strdup(digest);
	return *out_digest ? 0 : capsid_error_set(err, ENOMEM, "out of memory");
}
