/* Content-addressed blobs of pulled images: images/blobs/sha256/<hex>.
 *
 * A registry pull (host/registry) streams each blob into
 * blobs/sha256/.tmp-<hex>, verifies digest and size while it streams, and
 * commits it by rename; a blob that is there is complete and verified, so an
 * interrupted pull resumes with the blobs it has and images share layers.
 * Installing a pulled image links its manifest, config and layers into a
 * private OCI layout and runs the ordinary import on it (which checks every
 * digest again and flattens to erofs). All of this runs under the store lock.
 *
 * `image rm` removes the blobs of the removed image that no other image
 * lists; `image prune` removes every blob no image lists and the leftovers
 * of killed downloads. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "image_internal.h"
#include "util.h"

#define BLOB_DIR "blobs/sha256"

static int blob_dir(struct image_store *s, bool create, struct capsid_error *err)
{
	if (!create) {
		int fd = openat(s->images_fd, BLOB_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		return fd >= 0 || errno == ENOENT
			   ? (fd >= 0 ? fd : -ENOENT)
			   : capsid_error_errno(err, errno, "open %s/%s", s->images_dir, BLOB_DIR);
	}
	if ((mkdirat(s->images_fd, "blobs", 0700) < 0 && errno != EEXIST) ||
	    (mkdirat(s->images_fd, BLOB_DIR, 0700) < 0 && errno != EEXIST))
		return capsid_error_errno(err, errno, "create %s/%s", s->images_dir, BLOB_DIR);
	int fd = openat(s->images_fd, BLOB_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return capsid_error_errno(err, errno, "open %s/%s", s->images_dir, BLOB_DIR);
	return fd;
}

static int check_digest(const char *digest, struct capsid_error *err)
{
	char q[96];
	if (!digest || !image_digest_valid(digest))
		return capsid_error_set(err, EINVAL, "not a sha256 digest: %s",
					image_quote(digest ? digest : "", q, sizeof(q)));
	return 0;
}

int image_blob_present(struct image_store *s, const char *digest, uint64_t size)
{
	if (!image_digest_valid(digest))
		return 0;
	char path[96];
	snprintf(path, sizeof(path), BLOB_DIR "/%s", digest + 7);
	struct stat st;
	return fstatat(s->images_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	       (uint64_t)st.st_size == size;
}

int image_blob_create(struct image_store *s, const char *digest, int *fd_out, struct capsid_error *err)
{
	int rc = check_digest(digest, err);
	if (rc < 0)
		return rc;
	_cleanup_close_ int dirfd = blob_dir(s, true, err);
	if (dirfd < 0)
		return dirfd;
	char name[80];
	snprintf(name, sizeof(name), ".tmp-%s", digest + 7);
	unlinkat(dirfd, name, 0); /* a killed pull's leftover; we hold the lock */
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return capsid_error_errno(err, errno, "create blob %s", digest);
	*fd_out = fd;
	return 0;
}

int image_blob_open_partial(struct image_store *s, const char *digest, uint64_t max, int *fd_out,
			    uint64_t *size, struct capsid_error *err)
{
	int rc = check_digest(digest, err);
	if (rc < 0)
		return rc;
	char name[96];
	snprintf(name, sizeof(name), BLOB_DIR "/.tmp-%s", digest + 7);
	int fd = openat(s->images_fd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size < max) {
		*fd_out = fd;
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (fd >= 0)
		close(fd);
	return image_blob_create(s, digest, fd_out, err) < 0 ? -EIO : (*size = 0, 0);
}

void image_blob_discard(struct image_store *s, const char *digest)
{
	if (!image_digest_valid(digest))
		return;
	char name[96];
	snprintf(name, sizeof(name), BLOB_DIR "/.tmp-%s", digest + 7);
	unlinkat(s->images_fd, name, 0);
}

int image_blob_commit(struct image_store *s, const char *digest, int fd, struct capsid_error *err)
{
	int rc = check_digest(digest, err);
	if (rc < 0)
		return rc;
	char tmp[96], final[96];
	snprintf(tmp, sizeof(tmp), BLOB_DIR "/.tmp-%s", digest + 7);
	snprintf(final, sizeof(final), BLOB_DIR "/%s", digest + 7);
	if (fsync(fd) < 0 || renameat(s->images_fd, tmp, s->images_fd, final) < 0) {
		rc = capsid_error_errno(err, errno, "store blob %s", digest);
		unlinkat(s->images_fd, tmp, 0);
		return rc;
	}
	return 0;
}

int image_blob_write(struct image_store *s, const char *digest, const void *data, size_t len,
		     struct capsid_error *err)
{
	char actual[IMAGE_DIGEST_SIZE];
	if (image_sha256_buf(data, len, actual) < 0)
		return capsid_error_set(err, EIO, "sha256 failed");
	if (strcmp(actual, digest) != 0)
		return capsid_error_set(err, EINVAL, "blob %s: digest mismatch (content is %s)", digest,
					actual);
	if (image_blob_present(s, digest, len))
		return 0;
	_cleanup_close_ int fd = -1;
	int rc = image_blob_create(s, digest, &fd, err);
	if (rc < 0)
		return rc;
	if ((rc = util_write_all(fd, data, len)) < 0) {
		image_blob_discard(s, digest);
		return capsid_error_errno(err, -rc, "write blob %s", digest);
	}
	return image_blob_commit(s, digest, fd, err);
}

/* ---- which blobs an image lists ---- */

struct digest_set {
	char (*v)[IMAGE_DIGEST_SIZE];
	size_t n, cap;
};

static int set_add(struct digest_set *set, const char *d)
{
	if (!d || !image_digest_valid(d))
		return 0;
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->v[i], d))
			return 0;
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		void *nv = realloc(set->v, cap * sizeof(*set->v));
		if (!nv)
			return -ENOMEM;
		set->v = nv;
		set->cap = cap;
	}
	snprintf(set->v[set->n++], IMAGE_DIGEST_SIZE, "%s", d);
	return 0;
}

static bool set_has(const struct digest_set *set, const char *d)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->v[i], d))
			return true;
	return false;
}

static const char *desc_digest(struct json_object *o)
{
	struct json_object *d = NULL;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "digest", &d) ||
	    !json_object_is_type(d, json_type_string))
		return NULL;
	return json_object_get_string(d);
}

/* The manifest, config and layer digests of a stored image (by hex). */
static int image_blobs(struct image_store *s, const char *hex, struct digest_set *set)
{
	char path[96], d[IMAGE_DIGEST_SIZE];
	snprintf(path, sizeof(path), "%.64s/manifest.json", hex);
	snprintf(d, sizeof(d), "sha256:%.64s", hex);
	int rc = set_add(set, d);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	if (rc < 0 || util_read_file_at(s->images_fd, path, IMAGE_MAX_JSON, &buf, &len) < 0)
		return rc; /* an image without a readable manifest lists nothing more */
	_cleanup_json_ struct json_object *m = json_tokener_parse(buf);
	struct json_object *cfg = NULL, *layers = NULL;
	if (!m || !json_object_is_type(m, json_type_object))
		return 0;
	if (json_object_object_get_ex(m, "config", &cfg) && (rc = set_add(set, desc_digest(cfg))) < 0)
		return rc;
	if (json_object_object_get_ex(m, "layers", &layers) && json_object_is_type(layers, json_type_array))
		for (size_t i = 0; i < json_object_array_length(layers); i++)
			if ((rc = set_add(set, desc_digest(json_object_array_get_idx(layers, i)))) < 0)
				return rc;
	return 0;
}

/* Blobs listed by the images some ref points at. */
static int referenced_blobs(struct image_store *s, struct json_object *refs, struct digest_set *set)
{
	json_object_object_foreach(refs, ref, digest)
	{
		(void)ref;
		int rc = image_blobs(s, json_object_get_string(digest) + 7, set);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Removes blobs not in keep; with only, just those in only. */
static int sweep(struct image_store *s, const struct digest_set *keep, const struct digest_set *only,
		 struct image_prune_stats *st, struct capsid_error *err)
{
	_cleanup_close_ int dirfd = blob_dir(s, false, err);
	if (dirfd == -ENOENT)
		return 0;
	if (dirfd < 0)
		return dirfd;
	char **names = NULL;
	size_t n = 0;
	int rc = image_path_list_dir(dirfd, &names, &n);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "list %s/%s", s->images_dir, BLOB_DIR);
	for (size_t i = 0; i < n; i++) {
		char d[IMAGE_DIGEST_SIZE + 8];
		bool tmp = !strncmp(names[i], ".tmp-", 5);
		snprintf(d, sizeof(d), "sha256:%s", names[i]);
		if (tmp ? only != NULL
			: (!image_digest_valid(d) || set_has(keep, d) || (only && !set_has(only, d))))
			continue;
		struct stat sb;
		uint64_t size =
		    fstatat(dirfd, names[i], &sb, AT_SYMLINK_NOFOLLOW) == 0 ? (uint64_t)sb.st_size : 0;
		if (image_path_remove_at(dirfd, names[i]) == 0 && st) {
			st->blobs++;
			st->bytes += size;
		}
	}
	image_path_free_names(names, n);
	return 0;
}

int image_blob_gc_after_remove(struct image_store *s, struct json_object *refs, const char *removed_hex,
			       struct capsid_error *err)
{
	struct digest_set keep = {0}, only = {0};
	int rc = image_blobs(s, removed_hex, &only);
	if (rc == 0)
		rc = referenced_blobs(s, refs, &keep);
	if (rc == 0 && only.n)
		rc = sweep(s, &keep, &only, NULL, err);
	else if (rc < 0)
		capsid_error_set(err, ENOMEM, "out of memory");
	free(keep.v);
	free(only.v);
	return rc;
}

int image_prune(struct image_store *s, struct image_prune_stats *st, struct capsid_error *err)
{
	memset(st, 0, sizeof(*st));
	_cleanup_close_ int lockfd = -1;
	int rc = image_store_lock(s, &lockfd, err);
	if (rc < 0)
		return rc;
	_cleanup_json_ struct json_object *refs = NULL;
	if ((rc = image_index_load(s, &refs, err)) < 0 || (rc = image_store_gc(s, refs, err)) < 0)
		return rc;
	struct digest_set keep = {0};
	if ((rc = referenced_blobs(s, refs, &keep)) < 0)
		rc = capsid_error_set(err, ENOMEM, "out of memory");
	else
		rc = sweep(s, &keep, NULL, st, err);
	free(keep.v);
	return rc;
}

/* ---- installing a pulled image ---- */

static int link_blob(struct image_store *s, int layoutfd, const char *digest, struct capsid_error *err)
{
	char src[96], dst[96];
	snprintf(src, sizeof(src), BLOB_DIR "/%s", digest + 7);
	snprintf(dst, sizeof(dst), "blobs/sha256/%s", digest + 7);
	if (linkat(s->images_fd, src, layoutfd, dst, 0) < 0 && errno != EEXIST)
		return capsid_error_errno(err, errno, "blob %s", digest);
	return 0;
}

static int write_layout(struct image_store *s, int layoutfd, const char *manifest_digest,
			const char *media_type, struct capsid_error *err)
{
	char mpath[96];
	snprintf(mpath, sizeof(mpath), BLOB_DIR "/%s", manifest_digest + 7);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int rc = util_read_file_at(s->images_fd, mpath, IMAGE_MAX_JSON, &buf, &len);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "manifest %s", manifest_digest);
	if (mkdirat(layoutfd, "blobs", 0700) < 0 || mkdirat(layoutfd, "blobs/sha256", 0700) < 0)
		return capsid_error_errno(err, errno, "create layout");
	struct digest_set set = {0};
	if ((rc = set_add(&set, manifest_digest)) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	_cleanup_json_ struct json_object *m = json_tokener_parse(buf);
	struct json_object *cfg = NULL, *layers = NULL;
	if (m && json_object_object_get_ex(m, "config", &cfg))
		rc = set_add(&set, desc_digest(cfg));
	if (m && json_object_object_get_ex(m, "layers", &layers) &&
	    json_object_is_type(layers, json_type_array))
		for (size_t i = 0; rc == 0 && i < json_object_array_length(layers); i++)
			rc = set_add(&set, desc_digest(json_object_array_get_idx(layers, i)));
	if (rc < 0)
		rc = capsid_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < set.n; i++)
		rc = link_blob(s, layoutfd, set.v[i], err);
	free(set.v);
	if (rc < 0)
		return rc;
	_cleanup_free_ char *index = NULL;
	int n = asprintf(&index,
			 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
			 "\"size\":%zu}]}",
			 media_type, manifest_digest, len);
	if (n < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	static const char oci_layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	if ((rc = util_write_file_atomic_at(layoutfd, "index.json", index, (size_t)n, 0600)) < 0 ||
	    (rc = util_write_file_atomic_at(layoutfd, "oci-layout", oci_layout, sizeof(oci_layout) - 1,
					    0600)) < 0)
		return capsid_error_errno(err, -rc, "write layout");
	return 0;
}

int image_install_pulled(struct image_store *s, const char *manifest_digest, const char *media_type,
			 const char *ref, const char *source, char **out_ref, struct capsid_error *err)
{
	int rc = check_digest(manifest_digest, err);
	if (rc < 0)
		return rc;
	char dir[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof(dir), "%s/.tmp-pull-XXXXXX", s->images_dir) >= sizeof(dir))
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	if (!mkdtemp(dir))
		return capsid_error_errno(err, errno, "create %s", dir);
	const char *name = strrchr(dir, '/') + 1;
	_cleanup_close_ int layoutfd =
	    openat(s->images_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (layoutfd < 0)
		rc = capsid_error_errno(err, errno, "open %s", dir);
	else
		rc = write_layout(s, layoutfd, manifest_digest, media_type, err);
	if (rc == 0)
		rc = image_import_locked(s, dir, ref, source, true, out_ref, err);
	/* The private layout's path means nothing to the user. */
	size_t dl = strlen(dir);
	if (rc < 0 && err && !strncmp(err->msg, dir, dl) && !strncmp(err->msg + dl, ": ", 2))
		memmove(err->msg, err->msg + dl + 2, strlen(err->msg + dl + 2) + 1);
	image_path_remove_at(s->images_fd, name);
	return rc;
}

int image_blob_drop_unlisted(struct image_store *s, const char *const *digests, size_t n)
{
	_cleanup_json_ struct json_object *refs = NULL;
	struct capsid_error err = {0};
	struct digest_set keep = {0}, only = {0};
	int rc = image_index_load(s, &refs, &err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = set_add(&only, digests[i]);
	if (rc == 0)
		rc = referenced_blobs(s, refs, &keep);
	if (rc == 0 && only.n)
		rc = sweep(s, &keep, &only, NULL, &err);
	free(keep.v);
	free(only.v);
	return rc;
}
