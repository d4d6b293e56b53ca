/* Helpers for the image store tests: real tars written with libarchive,
 * OCI layouts / OCI archives / docker save tars assembled from them, and
 * checks of erofs images with erofs-utils' own tools. */
#ifndef CAPSID_TEST_IMAGE_LIB_H
#define CAPSID_TEST_IMAGE_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "image_internal.h"

/* One tar entry. type: 'f' file, 'd' dir, 'l' symlink (data = target),
 * 'h' hard link (data = target), 'c' char device, 'p' FIFO, 'C' file with
 * xattrs security.capability (cap_net_raw) and trusted.overlay.opaque. */
struct tl_entry {
	char type;
	const char *name;
	const char *data;
	unsigned mode; /* permission bits; 0 means 0644 / 0755 */
	unsigned uid, gid;
	time_t mtime;
};

/* A tar in memory. filter: NULL, "gzip" or "zstd". */
struct tl_blob {
	char *data;
	size_t len;
	char digest[IMAGE_DIGEST_SIZE];	 /* of data */
	char diff_id[IMAGE_DIGEST_SIZE]; /* of the uncompressed tar */
};
int tl_layer(struct tl_blob *b, const struct tl_entry *e, size_t n, const char *filter);
void tl_blob_free(struct tl_blob *b);

/* Files to write to a directory or pack into a tar. */
struct tl_files {
	size_t n;
	struct {
		char *name;
		char *data;
		size_t len;
	} f[64];
};
void tl_files_add(struct tl_files *fs, const char *name, const char *data, size_t len);
void tl_files_free(struct tl_files *fs);
int tl_files_write_dir(const struct tl_files *fs, const char *dir);
int tl_files_write_tar(const struct tl_files *fs, const char *path, const char *filter);

/* An image config with the layers' diff_ids; run_config is the JSON text of
 * its "config" object (NULL: none). Caller frees. */
char *tl_config(const struct tl_blob *layers, size_t n, const char *run_config);
/* OCI layout files (oci-layout, index.json, blobs) for one image;
 * ref_name is the org.opencontainers.image.ref.name annotation or NULL. */
void tl_oci_files(struct tl_files *fs, const struct tl_blob *layers, size_t n, const char *config,
		  const char *ref_name, char manifest_digest[IMAGE_DIGEST_SIZE]);
/* docker save files (manifest.json, <hex>.json, <id>/layer.tar). */
void tl_docker_files(struct tl_files *fs, const struct tl_blob *layers, size_t n, const char *config,
		     const char *repo_tag);

char *tl_tmpdir(void);
void tl_rmdir(const char *dir);
char *tl_path(const char *dir, const char *name); /* dir/name, caller frees */
/* Contents of a small file, or NULL. Caller frees. */
char *tl_read(const char *path);
/* Runs a shell command; returns its exit status. */
int tl_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Names in dir (excluding . and ..), sorted and joined with ' '. Caller frees. */
char *tl_ls(const char *dir);

/* Mode bits (including setuid/setgid/sticky) and link count of PATH inside
 * an erofs image, read from its on-disk inode (dump.erofs masks the special
 * bits). -1 on failure. */
int tl_erofs_mode(const char *img, const char *path, unsigned *nlink, unsigned long *nid);
/* fsck.erofs --extract into dir (ownership, mtimes and content kept). */
int tl_erofs_extract(const char *img, const char *dir);

#endif
