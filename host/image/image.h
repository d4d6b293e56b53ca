/* The local container image store under <state root>/images/.
 *
 * Images are imported from an OCI image-layout directory, an OCI archive
 * (that layout in a tar) or a `docker save` tar. Every blob is checked
 * against its sha256 digest, the layers are flattened (whiteouts, opaque
 * directories, links, ownership, modes, mtimes) into a staging directory
 * without ever writing outside it, and the result becomes one read-only erofs
 * disk image per manifest digest, which the guest mounts as a container's
 * lower layer. Refs (name:tag) point at digests; images are shared by digest.
 *
 * On disk:
 *   images/index.json               {"refs": {"busybox:latest": "sha256:<hex>"}}
 *   images/<hex>/manifest.json      the OCI manifest (synthesized for docker save)
 *   images/<hex>/config.json        the image config blob
 *   images/<hex>/rootfs.erofs       the flattened root filesystem
 *   images/<hex>/sources.json       per ref, where it came from ("import PATH", "registry HOST/REPO")
 *   images/blobs/sha256/<hex>       blobs of pulled images (manifests, configs, layers),
 *                                   shared by every image that lists them
 *   images/.lock                    flock held by import and rm
 */
#ifndef CAPSID_IMAGE_H
#define CAPSID_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct image_store;

/* Opens (creating if needed) <state_root>/images. */
int image_store_open(const char *state_root, struct image_store **out, struct capsid_error *err);
void image_store_close(struct image_store *s);

/* Non-fatal import events (skipped device nodes, ...), one line each.
 * Without a handler they are dropped. */
typedef void (*image_warn_fn)(void *ctx, const char *msg);
void image_store_set_warning_handler(struct image_store *s, image_warn_fn fn, void *ctx);

/* Limit on one layer's uncompressed size (the tar stream and the sum of its
 * file sizes). Default IMAGE_DEFAULT_MAX_LAYER_BYTES. */
#define IMAGE_DEFAULT_MAX_LAYER_BYTES (16ull << 30)
void image_store_set_max_layer_bytes(struct image_store *s, uint64_t bytes);

/* Import PATH (OCI layout dir, OCI archive tar, docker save tar; the tars may
 * be gzip/zstd/xz compressed). name_override (may be NULL) replaces the refs
 * found in the archive. *out_ref (caller frees) is the first ref pointed at
 * the image. A failed import leaves nothing behind. */
int image_import(struct image_store *s, const char *path, const char *name_override, char **out_ref,
		 struct capsid_error *err);

struct image_info {
	char *ref;
	char *digest;	    /* "sha256:<hex>" of the manifest */
	char *disk_path;    /* absolute path of the erofs image */
	const char *fstype; /* "erofs" */
	uint64_t disk_size;
	char **entrypoint;
	size_t n_entrypoint;
	char **cmd;
	size_t n_cmd;
	char **env; /* "K=V" */
	size_t n_env;
	char *working_dir; /* may be NULL */
	char *user;	   /* may be NULL */
	char *source;	   /* "import PATH", "registry HOST/REPO"; NULL when not recorded */
};

/* ref is name[:tag] or a full "sha256:<hex>" manifest digest. -ENOENT with
 * "image X not found: import it with 'capsid image import'". */
int image_resolve(struct image_store *s, const char *ref, struct image_info **out, struct capsid_error *err);
void image_info_free(struct image_info *i);

/* Every ref, sorted by ref. Free each with image_info_free, then the array. */
int image_list(struct image_store *s, struct image_info ***out, size_t *n, struct capsid_error *err);
void image_list_free(struct image_info **list, size_t n);

/* Removes the ref and, when no other ref points at its digest, the image. */
int image_remove(struct image_store *s, const char *ref, struct capsid_error *err);

/* Removes every blob no image lists and leftovers of interrupted pulls. */
struct image_prune_stats {
	uint64_t blobs, bytes;
};
int image_prune(struct image_store *s, struct image_prune_stats *st, struct capsid_error *err);

/* ---- for registry pulls (host/registry) ----
 * The caller holds the store lock (image_store_lock: an flock, released by
 * closing *lockfd) from the first blob to image_install_pulled. */
int image_store_lock(struct image_store *s, int *lockfd, struct capsid_error *err);
/* Removes leftovers of killed imports and pulls; lock held. */
int image_store_clean(struct image_store *s, struct capsid_error *err);
/* 1 when blob DIGEST is stored with that size. */
int image_blob_present(struct image_store *s, const char *digest, uint64_t size);
/* A new, empty temporary file for blob DIGEST (*fd read-write). The caller
 * verifies what it writes, then commits (rename into place) or discards. */
int image_blob_create(struct image_store *s, const char *digest, int *fd, struct capsid_error *err);
/* The temporary file a killed pull left for DIGEST, if it holds 1..max-1
 * bytes (*size, the offset to resume at), else a new empty one (*size 0). */
int image_blob_open_partial(struct image_store *s, const char *digest, uint64_t max, int *fd, uint64_t *size,
			    struct capsid_error *err);
int image_blob_commit(struct image_store *s, const char *digest, int fd, struct capsid_error *err);
void image_blob_discard(struct image_store *s, const char *digest);
/* A small blob from memory, checked against DIGEST first. */
int image_blob_write(struct image_store *s, const char *digest, const void *data, size_t len,
		     struct capsid_error *err);
/* Removes those of DIGESTS that no stored image lists (after a failed install). */
int image_blob_drop_unlisted(struct image_store *s, const char *const *digests, size_t n);
/* Builds the image whose manifest (media_type) and every blob it lists are
 * stored, exactly as an import would, and points ref at it. */
int image_install_pulled(struct image_store *s, const char *manifest_digest, const char *media_type,
			 const char *ref, const char *source, char **out_ref, struct capsid_error *err);

/* An image whose root filesystem is the tree at DIR as it is (containerd's
 * mounted snapshot): built into the store once per ref (a later call with
 * the same ref finds it), with an empty config. *out_digest (caller frees)
 * is its manifest digest. source (may be NULL) is recorded for image list. */
int image_install_dir(struct image_store *s, const char *dir, const char *ref, const char *source, char **out_digest,
		      struct capsid_error *err);

/* "busybox" -> "busybox:latest"; "reg:5000/a@sha256:<hex>" stays as it is
 * (a tag next to a digest is dropped); NULL when ref is not a valid reference
 * (or on allocation failure). Caller frees. */
char *image_normalize_ref(const char *ref);

#endif
