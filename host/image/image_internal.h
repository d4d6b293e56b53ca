/* Internals of the image store, shared by its source files and unit tests. */
#ifndef CAPSID_IMAGE_INTERNAL_H
#define CAPSID_IMAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "image.h"

struct json_object;

#define IMAGE_MAX_PATH		4096	    /* entry names and symlink targets */
#define IMAGE_MAX_JSON		(4u << 20)  /* index, manifest and config blobs */
#define IMAGE_MAX_INDEX		(16u << 20) /* the store's own index.json */
#define IMAGE_MAX_LAYERS	256
#define IMAGE_MAX_LAYER_ENTRIES 1000000
#define IMAGE_MAX_BUNDLE_FILES	65536 /* files in an OCI archive / docker save tar */
#define IMAGE_DIGEST_SIZE	72    /* "sha256:" + 64 hex + NUL */

struct image_store {
	char *images_dir; /* absolute */
	int images_fd;
	uint64_t max_layer_bytes;
	image_warn_fn warn;
	void *warn_ctx;
};

void image_warn(const struct image_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- image_digest.c: SHA-256 through OpenSSL's EVP interface ---- */
struct image_sha256;
int image_sha256_new(struct image_sha256 **out);
void image_sha256_update(struct image_sha256 *h, const void *buf, size_t n);
/* Writes "sha256:<hex>"; -EIO if any update failed. */
int image_sha256_final(struct image_sha256 *h, char out[IMAGE_DIGEST_SIZE]);
void image_sha256_free(struct image_sha256 *h);
int image_sha256_buf(const void *buf, size_t n, char out[IMAGE_DIGEST_SIZE]);
/* Hashes fd from its offset to its end. */
int image_sha256_fd(int fd, char out[IMAGE_DIGEST_SIZE], uint64_t *size);
/* "sha256:" followed by exactly 64 lowercase hex digits. */
bool image_digest_valid(const char *d);
/* A printable, length-bounded copy of hostile text for error messages. */
const char *image_quote(const char *s, char *buf, size_t len);

/* ---- image_path.c: confined path handling ---- */
/* What image_path_open() confines to: a staging root also may not cross
 * mount points. */
#define IMAGE_RESOLVE_STAGING 1
#define IMAGE_RESOLVE_BUNDLE  2
/* Normalizes an archive entry name into out: drops "." and empty
 * components; rejects absolute names, ".." components and names longer
 * than IMAGE_MAX_PATH (-EINVAL, *why says which). "" means the root. */
int image_path_clean(const char *name, char *out, size_t outlen, const char **why);
/* openat2(rootfd, path, flags, RESOLVE_IN_ROOT | NO_MAGICLINKS [| NO_XDEV
 * for IMAGE_RESOLVE_STAGING]): symlinks resolve as if rootfd were "/", so
 * nothing escapes. Returns the fd or -errno. */
int image_path_open(int rootfd, const char *path, int flags, unsigned kind);
/* The same in userspace (image_resolve.c), where openat2 is missing. */
int image_path_open_walk(int rootfd, const char *path, int flags, unsigned kind);
/* Called for every directory image_path_open_parent creates. */
typedef int (*image_path_created_fn)(void *ctx, const char *path, int dirfd);
/* Opens the directory holding the last component of the clean path and
 * points *base at that component. With create, missing directories are
 * made (0755, owned by the caller) and reported to fn (may be NULL). */
int image_path_open_parent(int rootfd, const char *clean, unsigned kind, bool create,
			   image_path_created_fn fn, void *ctx, int *parentfd, const char **base);
/* rm -rf of dirfd/name without following symlinks; any depth, O(1) fds. */
int image_path_remove_at(int dirfd, const char *name);
/* The names in a directory, excluding "." and "..": NULL-terminated,
 * caller frees with image_path_free_names. */
int image_path_list_dir(int dirfd, char ***names, size_t *n);
void image_path_free_names(char **names, size_t n);
int image_pwrite_all(int fd, const void *buf, size_t len, off_t off);
/* Reads fd to its end, at most max bytes (-EFBIG beyond); NUL-terminated. */
int image_read_fd(int fd, size_t max, char **out, size_t *len);

/* ---- image_layer.c: flattening layers into a staging root ---- */
struct image_flatten;
struct image_layer_digests {
	char blob[IMAGE_DIGEST_SIZE]; /* of the file as stored (maybe compressed) */
	char diff[IMAGE_DIGEST_SIZE]; /* of the uncompressed tar stream (diff_id) */
	uint64_t blob_size;
	uint64_t skipped; /* device nodes, FIFOs, sockets not created */
	char first_skipped[128];
};
/* rootfd is borrowed and must stay open until image_flatten_free. */
int image_flatten_new(int rootfd, uint64_t max_layer_bytes, struct image_flatten **out);
/* Applies one layer tar (uncompressed, gzip, zstd, xz or bzip2) on top of
 * what is already there, reading layer_fd to its end. */
int image_flatten_layer(struct image_flatten *f, int layer_fd, struct image_layer_digests *dg,
			struct capsid_error *err);
/* Sets directory mtimes, which writing their children disturbed. */
int image_flatten_finish(struct image_flatten *f, struct capsid_error *err);
void image_flatten_free(struct image_flatten *f);
/* new + every layer + finish. */
int image_flatten_layers(int rootfd, const int *layer_fds, size_t n, uint64_t max_layer_bytes,
			 uint64_t *skipped, struct capsid_error *err);

/* ---- image_bundle.c: the files of the input, confined to it ---- */
struct image_bundle {
	int dirfd;
	bool unpacked; /* from a tar, into a private directory */
};
/* PATH a directory: used in place. PATH a file: a tar (maybe compressed),
 * unpacked into workfd/"bundle". */
int image_bundle_open(const char *path, int workfd, uint64_t max_file_bytes, struct image_bundle *b,
		      struct capsid_error *err);
void image_bundle_close(struct image_bundle *b);
bool image_bundle_has(const struct image_bundle *b, const char *path);
/* A regular file of the bundle, opened read-only. */
int image_bundle_open_file(const struct image_bundle *b, const char *path, int *fd, struct capsid_error *err);
/* A whole small file; NUL-terminated. */
int image_bundle_read(const struct image_bundle *b, const char *path, size_t max, char **out, size_t *len,
		      struct capsid_error *err);

/* ---- image_manifest.c: what to import ---- */
struct image_plan_layer {
	char *path;			     /* inside the bundle */
	char blob_digest[IMAGE_DIGEST_SIZE]; /* "" when the format gives none */
	int64_t blob_size;		     /* -1 when unknown */
	char diff_id[IMAGE_DIGEST_SIZE];
};
struct image_plan {
	const char *format; /* "oci" or "docker" */
	char digest[IMAGE_DIGEST_SIZE];
	char *manifest;
	size_t manifest_len;
	char *config;
	size_t config_len;
	char **refs; /* normalized refs named by the archive */
	size_t n_refs;
	struct image_plan_layer *layers;
	size_t n_layers;
};
/* name_override selects among several images of an OCI index by ref. */
int image_plan_load(const struct image_bundle *b, const char *name_override, struct image_plan *p,
		    struct capsid_error *err);
void image_plan_clear(struct image_plan *p);

/* ---- image_config.c: JSON helpers and the image config ---- */
int image_json_parse(const char *buf, size_t len, const char *what, struct json_object **out,
		     struct capsid_error *err);
/* Fills the run fields of info (entrypoint, cmd, env, working_dir, user)
 * from an image config; if diff_ids != NULL also returns rootfs.diff_ids.
 * On failure the caller still frees what was filled. */
int image_config_parse(const char *json, size_t len, struct image_info *info, char ***diff_ids,
		       size_t *n_diff_ids, struct capsid_error *err);
/* Validates the whole config and returns only rootfs.diff_ids. */
int image_config_diff_ids(const char *json, size_t len, char ***diff_ids, size_t *n,
			  struct capsid_error *err);
void image_strv_free(char **v, size_t n);

/* ---- image_erofs.c ---- */
/* mkfs.erofs, keeping ownership and per-file mtimes; the filesystem UUID is
 * derived from the digest so rebuilds of an image only differ in build time. */
int image_erofs_build(const char *src_dir, const char *out_path, const char *digest,
		      struct capsid_error *err);

/* ---- image_import.c ---- */
/* image_import with the lock held, override already normalized, no initial
 * clean-up; source is recorded for `image list` (may be NULL). With
 * blobs_verified (a pull's blobs, checked as they arrived) the extra hashing
 * pass before flattening is skipped; flattening still checks the digests. */
int image_import_locked(struct image_store *s, const char *path, const char *override, const char *source,
			bool blobs_verified, char **out_ref, struct capsid_error *err);

/* ---- image_blob.c ---- */
/* After removing image removed_hex: deletes its blobs no image in refs lists. */
int image_blob_gc_after_remove(struct image_store *s, struct json_object *refs, const char *removed_hex,
			       struct capsid_error *err);

/* ---- image_store.c: index and lock, for image_import.c ---- */
int image_index_load(struct image_store *s, struct json_object **refs, struct capsid_error *err);
int image_index_save(struct image_store *s, struct json_object *refs, struct capsid_error *err);
/* Deletes leftovers of crashed imports and images no ref points at.
 * Call with the lock held. */
int image_store_gc(struct image_store *s, struct json_object *refs, struct capsid_error *err);

#endif
