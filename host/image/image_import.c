/* Importing an image: input -> plan -> verified, flattened layers -> erofs,
 * then the refs. Everything is built in a private work directory
 * (images/.tmp-XXXXXX) and the finished image directory is renamed into
 * place, so a failure at any step leaves nothing behind; the store lock
 * makes concurrent imports wait, and any .tmp-* found under the lock is a
 * crashed import's leftover. */
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

struct import {
	struct image_store *s;
	const struct image_plan *plan;
	const struct image_bundle *bundle;
	int workfd;
	const char *workdir; /* absolute */
	bool verified;	     /* blobs from the store's blobs/, verified when they arrived */
};

static int write_new_file(int dirfd, const char *name, const char *data, size_t len, struct capsid_error *err)
{
	_cleanup_close_ int fd =
	    openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	int rc = fd < 0 ? -errno : util_write_all(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	return rc < 0 ? capsid_error_errno(err, -rc, "write %s", name) : 0;
}

static int verify_layer(size_t i, const struct image_plan_layer *l, const struct image_layer_digests *dg,
			struct capsid_error *err)
{
	char q[256];
	const char *name = l->blob_digest[0] ? l->blob_digest : image_quote(l->path, q, sizeof(q));
	if (l->blob_digest[0] && strcmp(dg->blob, l->blob_digest) != 0)
		return capsid_error_set(err, EINVAL, "layer %zu blob %s: digest mismatch (content is %s)",
					i + 1, name, dg->blob);
	if (l->blob_size >= 0 && dg->blob_size != (uint64_t)l->blob_size)
		return capsid_error_set(err, EINVAL, "layer %zu blob %s: size %llu, descriptor says %lld",
					i + 1, name, (unsigned long long)dg->blob_size,
					(long long)l->blob_size);
	if (strcmp(dg->diff, l->diff_id) != 0)
		return capsid_error_set(
		    err, EINVAL, "layer %zu blob %s: uncompressed content is %s, the config's diff_id is %s",
		    i + 1, name, dg->diff, l->diff_id);
	return 0;
}

/* A blob with a known digest is checked before any decompressor or tar
 * parser sees it; the flattening pass checks it again on the same bytes. */
static int verify_blob_first(size_t i, const struct image_plan_layer *l, int fd, struct capsid_error *err)
{
	if (!l->blob_digest[0])
		return 0;
	struct image_layer_digests dg = {0};
	uint64_t size = 0;
	int rc = image_sha256_fd(fd, dg.blob, &size);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "read");
	if (lseek(fd, 0, SEEK_SET) < 0)
		return capsid_error_errno(err, errno, "seek");
	dg.blob_size = size;
	snprintf(dg.diff, sizeof(dg.diff), "%s", l->diff_id); /* checked after flattening */
	return verify_layer(i, l, &dg, err);
}

static int flatten_all(struct import *im, int rootfd, struct capsid_error *err)
{
	struct image_flatten *f = NULL;
	int rc = image_flatten_new(rootfd, im->s->max_layer_bytes, &f);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "start flattening");
	for (size_t i = 0; rc == 0 && i < im->plan->n_layers; i++) {
		const struct image_plan_layer *l = &im->plan->layers[i];
		char q[256];
		const char *name = l->blob_digest[0] ? l->blob_digest : image_quote(l->path, q, sizeof(q));
		_cleanup_close_ int fd = -1;
		struct image_layer_digests dg;
		if ((rc = image_bundle_open_file(im->bundle, l->path, &fd, err)) < 0) {
			capsid_error_prefix(err, "layer %zu blob %s", i + 1, name);
			break;
		}
		if (!im->verified && (rc = verify_blob_first(i, l, fd, err)) < 0)
			break;
		if ((rc = image_flatten_layer(f, fd, &dg, err)) < 0) {
			capsid_error_prefix(err, "layer %zu blob %s", i + 1, name);
			break;
		}
		if ((rc = verify_layer(i, l, &dg, err)) < 0)
			break;
		if (dg.skipped)
			image_warn(im->s,
				   "layer %zu: skipped %llu device nodes, FIFOs or sockets (first: %s); the "
				   "guest's runtime provides /dev",
				   i + 1, (unsigned long long)dg.skipped, dg.first_skipped);
	}
	if (rc == 0)
		rc = image_flatten_finish(f, err);
	image_flatten_free(f);
	return rc;
}

/* Builds workdir/out/{manifest.json,config.json,rootfs.erofs}. */
static int build_image(struct import *im, struct capsid_error *err)
{
	if (mkdirat(im->workfd, "rootfs", 0755) < 0)
		return capsid_error_errno(err, errno, "create staging directory");
	{
		_cleanup_close_ int rootfd =
		    openat(im->workfd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (rootfd < 0 || fchown(rootfd, 0, 0) < 0 || fchmod(rootfd, 0755) < 0)
			return capsid_error_errno(err, errno, "prepare staging directory");
		int rc = flatten_all(im, rootfd, err);
		if (rc < 0)
			return rc;
	}
	if (mkdirat(im->workfd, "out", 0755) < 0)
		return capsid_error_errno(err, errno, "create image directory");
	_cleanup_close_ int outfd =
	    openat(im->workfd, "out", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (outfd < 0)
		return capsid_error_errno(err, errno, "open image directory");
	int rc = write_new_file(outfd, "manifest.json", im->plan->manifest, im->plan->manifest_len, err);
	if (rc == 0)
		rc = write_new_file(outfd, "config.json", im->plan->config, im->plan->config_len, err);
	if (rc < 0)
		return rc;
	_cleanup_free_ char *src = NULL, *dst = NULL;
	if (asprintf(&src, "%s/rootfs", im->workdir) < 0 ||
	    asprintf(&dst, "%s/out/rootfs.erofs", im->workdir) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	if ((rc = image_erofs_build(src, dst, im->plan->digest, err)) < 0)
		return rc;
	/* The staging tree is only needed until the filesystem exists. */
	if ((rc = image_path_remove_at(im->workfd, "rootfs")) < 0)
		return capsid_error_errno(err, -rc, "remove staging directory");
	_cleanup_close_ int imgfd = openat(outfd, "rootfs.erofs", O_RDONLY | O_CLOEXEC);
	if (imgfd < 0 || fsync(imgfd) < 0 || fsync(outfd) < 0)
		return capsid_error_errno(err, errno, "sync image");
	return 0;
}

/* The refs to point: --name, else the archive's, else the short digest. */
static int pick_refs(const struct image_plan *plan, const char *override, char ***refs, size_t *n,
		     struct capsid_error *err)
{
	char short_ref[13];
	const char *single = override;
	if (!single && plan->n_refs == 0) {
		snprintf(short_ref, sizeof(short_ref), "%.12s", plan->digest + 7);
		single = short_ref;
	}
	size_t count = single ? 1 : plan->n_refs;
	char **v = calloc(count + 1, sizeof(*v));
	if (!v)
		return capsid_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		v[i] = single ? image_normalize_ref(single) : strdup(plan->refs[i]);
		if (!v[i]) {
			image_strv_free(v, i);
			return capsid_error_set(err, ENOMEM, "out of memory");
		}
	}
	*refs = v;
	*n = count;
	return 0;
}

/* <hex>/sources.json: {"ref": "import PATH" | "registry HOST/REPO"}. */
static int record_sources(struct image_store *s, const char *hex, char **refs, size_t n, const char *source,
			  struct capsid_error *err)
{
	char path[80];
	snprintf(path, sizeof(path), "%.64s/sources.json", hex);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	_cleanup_json_ struct json_object *map = NULL;
	if (util_read_file_at(s->images_fd, path, IMAGE_MAX_JSON, &buf, &len) == 0)
		map = json_tokener_parse(buf);
	if (!map || !json_object_is_type(map, json_type_object)) {
		json_object_put(map);
		if (!(map = json_object_new_object()))
			return capsid_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		if (json_object_object_add(map, refs[i], json_object_new_string(source)) < 0)
			return capsid_error_set(err, ENOMEM, "out of memory");
	const char *text =
	    json_object_to_json_string_ext(map, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	int rc = text ? util_write_file_atomic_at(s->images_fd, path, text, strlen(text), 0600) : -ENOMEM;
	return rc < 0 ? capsid_error_errno(err, -rc, "write %s/%s", s->images_dir, path) : 0;
}

static int import_locked(struct import *im, const char *path, const char *override, const char *source,
			 struct json_object *index, char **out_ref, struct capsid_error *err)
{
	struct image_bundle bundle;
	struct image_plan plan;
	int rc = image_bundle_open(path, im->workfd, im->s->max_layer_bytes, &bundle, err);
	if (rc < 0)
		return rc;
	im->bundle = &bundle;
	im->plan = &plan;
	rc = image_plan_load(&bundle, override, &plan, err);
	if (rc < 0) {
		image_bundle_close(&bundle);
		return capsid_error_prefix(err, "%s", path);
	}
	char **refs = NULL;
	size_t n_refs = 0;
	const char *hex = plan.digest + 7;
	char erofs[IMAGE_DIGEST_SIZE + 16];
	snprintf(erofs, sizeof(erofs), "%.64s/rootfs.erofs", hex);
	struct stat st;
	bool created = false;
	/* Built once per digest: a later import of the same image only
	 * re-points refs. */
	if (fstatat(im->s->images_fd, erofs, &st, 0) < 0) {
		if ((rc = image_path_remove_at(im->s->images_fd, hex)) < 0)
			rc = capsid_error_errno(err, -rc, "remove incomplete image %s", hex);
		if (rc == 0 && (rc = build_image(im, err)) < 0)
			capsid_error_prefix(err, "%s", path);
		if (rc == 0 && renameat(im->workfd, "out", im->s->images_fd, hex) < 0)
			rc = capsid_error_errno(err, errno, "install image %s", hex);
		created = rc == 0;
	}
	if (rc == 0)
		rc = pick_refs(&plan, override, &refs, &n_refs, err);
	/* Where each ref's image came from, for `image list`. */
	if (rc == 0 && source)
		rc = record_sources(im->s, hex, refs, n_refs, source, err);
	for (size_t i = 0; rc == 0 && i < n_refs; i++)
		if (json_object_object_add(index, refs[i], json_object_new_string(plan.digest)) < 0)
			rc = capsid_error_set(err, ENOMEM, "out of memory");
	if (rc == 0)
		rc = image_index_save(im->s, index, err);
	if (rc < 0 && created)
		image_path_remove_at(im->s->images_fd, hex);
	/* Re-pointed refs may have orphaned an older image. */
	struct capsid_error gc_err = {0};
	if (rc == 0 && image_store_gc(im->s, index, &gc_err) < 0)
		image_warn(im->s, "%s", gc_err.msg);
	if (rc == 0 && out_ref)
		*out_ref = TAKE_PTR(refs[0]);
	image_strv_free(refs, n_refs);
	image_plan_clear(&plan);
	image_bundle_close(&bundle);
	return rc;
}

int image_import_locked(struct image_store *s, const char *path, const char *override, const char *source,
			bool blobs_verified, char **out_ref, struct capsid_error *err)
{
	_cleanup_json_ struct json_object *index = NULL;
	int rc = image_index_load(s, &index, err);
	if (rc < 0)
		return rc;
	char workdir[PATH_MAX];
	if ((size_t)snprintf(workdir, sizeof(workdir), "%s/.tmp-XXXXXX", s->images_dir) >= sizeof(workdir))
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	if (!mkdtemp(workdir))
		return capsid_error_errno(err, errno, "create work directory in %s", s->images_dir);
	const char *workname = strrchr(workdir, '/') + 1;
	/* A pull's layers were verified while they streamed in; the
	 * flattening pass still checks their digests after the fact. */
	struct import im = {.s = s, .workdir = workdir, .verified = blobs_verified};
	im.workfd = openat(s->images_fd, workname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (im.workfd < 0)
		rc = capsid_error_errno(err, errno, "open %s", workdir);
	else
		rc = import_locked(&im, path, override, source, index, out_ref, err);
	if (im.workfd >= 0)
		close(im.workfd);
	int rm = image_path_remove_at(s->images_fd, workname);
	if (rc == 0 && rm < 0)
		image_warn(s, "remove %s: %s", workdir, strerror(-rm));
	return rc;
}

int image_import(struct image_store *s, const char *path, const char *name_override, char **out_ref,
		 struct capsid_error *err)
{
	if (out_ref)
		*out_ref = NULL;
	_cleanup_free_ char *override = NULL;
	if (name_override && !(override = image_normalize_ref(name_override)))
		return capsid_error_set(err, EINVAL, "--name %s: not a valid image reference (name[:tag])",
					name_override);
	_cleanup_close_ int lockfd = -1;
	int rc = image_store_lock(s, &lockfd, err);
	if (rc < 0)
		return rc;
	_cleanup_json_ struct json_object *index = NULL;
	if ((rc = image_index_load(s, &index, err)) < 0 || (rc = image_store_gc(s, index, err)) < 0)
		return rc;
	_cleanup_free_ char *source = NULL;
	if (asprintf(&source, "import %s", path) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	return image_import_locked(s, path, override, source, false, out_ref, err);
}
