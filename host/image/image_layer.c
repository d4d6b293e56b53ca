/* Flattening layer tars into a staging root, safely.
 *
 * Each layer is read in one pass through two libarchive readers: the first
 * only decompresses (raw format; gzip/zstd/xz/bzip2/lz4 filters, never an
 * external program), the second parses the tar stream handed up by our own
 * callbacks, which hash both streams on the way. So one read of the blob
 * yields its digest, its diff_id and the extracted files.
 *
 * OCI layer semantics: ".wh.NAME" deletes NAME from lower layers,
 * ".wh..wh..opq" empties a directory of lower-layer content while keeping
 * what the same layer put there. "What the layer put there" is tracked by
 * inode (the staging root is one filesystem): every object a layer creates
 * and every directory it writes into is marked, so symlinked parents do not
 * confuse it. Paths are confined by image_path.c. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "image_internal.h"

#define REMOVE_MAX_DEPTH 512
#define WHITEOUT_PREFIX	 ".wh."
#define WHITEOUT_OPAQUE	 ".wh..wh..opq"
#define BUF_SIZE	 (128 * 1024)

/* A set of inode numbers, open addressing; 0 marks an empty slot (no
 * Linux filesystem hands out inode 0). */
struct inoset {
	uint64_t *slots;
	size_t cap, n;
};

static size_t inoset_slot(const struct inoset *s, uint64_t ino)
{
	size_t i = (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 20) & (s->cap - 1);
	while (s->slots[i] && s->slots[i] != ino)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static bool inoset_has(const struct inoset *s, uint64_t ino)
{
	return s->cap && s->slots[inoset_slot(s, ino)] == ino;
}

static int inoset_add(struct inoset *s, uint64_t ino)
{
	if (ino == 0)
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		struct inoset grown = {.cap = s->cap ? s->cap * 2 : 1024};
		grown.slots = calloc(grown.cap, sizeof(uint64_t));
		if (!grown.slots)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i])
				grown.slots[inoset_slot(&grown, s->slots[i])] = s->slots[i];
		grown.n = s->n;
		free(s->slots);
		*s = grown;
	}
	size_t i = inoset_slot(s, ino);
	if (!s->slots[i]) {
		s->slots[i] = ino;
		s->n++;
	}
	return 0;
}

struct image_flatten {
	int rootfd;
	struct stat root_st;
	uint64_t max_layer_bytes;
	struct inoset layer;	       /* inodes the current layer created or wrote into */
	struct json_object *dir_times; /* clean path -> [sec, nsec], applied at finish */
	uint64_t file_bytes;	       /* declared file sizes in the current layer */
	struct image_layer_digests *dg;
};

/* The two-stage reader: blob fd -> (hash) -> decompressor -> (hash) -> tar. */
struct layer_source {
	int fd;
	struct image_sha256 *blob_hash, *diff_hash;
	uint64_t blob_bytes, diff_bytes, max_diff;
	struct archive *decomp;
	bool decomp_eof;
	char error[256]; /* first failure below the tar reader, for messages */
	unsigned char rbuf[BUF_SIZE], dbuf[BUF_SIZE];
};

static la_ssize_t blob_read(struct archive *a, void *ud, const void **buf)
{
	struct layer_source *src = ud;
	ssize_t n;
	do
		n = read(src->fd, src->rbuf, sizeof(src->rbuf));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		snprintf(src->error, sizeof(src->error), "read: %s", strerror(errno));
		archive_set_error(a, errno, "%s", src->error);
		return -1;
	}
	image_sha256_update(src->blob_hash, src->rbuf, (size_t)n);
	src->blob_bytes += (uint64_t)n;
	*buf = src->rbuf;
	return n;
}

static la_ssize_t diff_pull(struct layer_source *src)
{
	if (src->decomp_eof)
		return 0;
	la_ssize_t n = archive_read_data(src->decomp, src->dbuf, sizeof(src->dbuf));
	if (n < 0) {
		if (!src->error[0])
			snprintf(src->error, sizeof(src->error), "decompress: %s",
				 archive_error_string(src->decomp) ? archive_error_string(src->decomp)
								   : "failed");
		return -1;
	}
	if (n == 0) {
		src->decomp_eof = true;
		return 0;
	}
	src->diff_bytes += (uint64_t)n;
	if (src->diff_bytes > src->max_diff) {
		snprintf(src->error, sizeof(src->error),
			 "layer larger than the limit of %llu bytes uncompressed",
			 (unsigned long long)src->max_diff);
		return -1;
	}
	image_sha256_update(src->diff_hash, src->dbuf, (size_t)n);
	return n;
}

static la_ssize_t diff_read(struct archive *a, void *ud, const void **buf)
{
	struct layer_source *src = ud;
	la_ssize_t n = diff_pull(src);
	if (n < 0)
		archive_set_error(a, EIO, "%s", src->error);
	*buf = src->dbuf;
	return n;
}

static int layer_error(struct layer_source *src, struct archive *a, struct capsid_error *err)
{
	if (src->error[0])
		return capsid_error_set(err, EINVAL, "%s", src->error);
	const char *msg = archive_error_string(a);
	return capsid_error_set(err, EINVAL, "%s", msg ? msg : "unreadable tar stream");
}

struct meta {
	uid_t uid;
	gid_t gid;
	mode_t perm;
	struct timespec times[2];
};

static int entry_meta(struct archive_entry *e, struct meta *m, struct capsid_error *err)
{
	int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
	if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
		return capsid_error_set(err, EINVAL, "invalid owner %lld:%lld", (long long)uid,
					(long long)gid);
	m->uid = (uid_t)uid;
	m->gid = (gid_t)gid;
	m->perm = archive_entry_perm(e) & 07777;
	int64_t sec = archive_entry_mtime_is_set(e) ? archive_entry_mtime(e) : 0;
	long nsec = archive_entry_mtime_is_set(e) ? archive_entry_mtime_nsec(e) : 0;
	/* erofs stores unsigned times; the epoch is the floor. */
	if (sec < 0)
		sec = 0, nsec = 0;
	if (nsec < 0 || nsec >= 1000000000L)
		nsec = 0;
	m->times[0] = m->times[1] = (struct timespec){.tv_sec = (time_t)sec, .tv_nsec = nsec};
	return 0;
}

static int record_dir_time(struct image_flatten *f, const char *clean, const struct timespec *ts,
			   bool replace)
{
	if (!replace && json_object_object_get_ex(f->dir_times, clean, NULL))
		return 0;
	struct json_object *t = json_object_new_array_ext(2);
	if (!t)
		return -ENOMEM;
	json_object_array_add(t, json_object_new_int64(ts->tv_sec));
	json_object_array_add(t, json_object_new_int64(ts->tv_nsec));
	return json_object_object_add(f->dir_times, clean, t) < 0 ? -ENOMEM : 0;
}

static int implicit_dir_created(void *ctx, const char *path, int dirfd)
{
	(void)dirfd;
	static const struct timespec epoch = {0, 0};
	return record_dir_time(ctx, path, &epoch, false);
}

/* Marks dirfd and its ancestors up to the root as written by this layer.
 * Marked inodes always have marked ancestors, so the walk stops early. */
static int mark_ancestors(struct image_flatten *f, int dirfd)
{
	struct stat st;
	if (fstat(dirfd, &st) < 0)
		return -errno;
	_cleanup_close_ int cur = -1;
	for (int depth = 0; depth <= IMAGE_MAX_PATH; depth++) {
		if ((st.st_ino == f->root_st.st_ino && st.st_dev == f->root_st.st_dev) ||
		    inoset_has(&f->layer, st.st_ino))
			return 0;
		int rc = inoset_add(&f->layer, st.st_ino);
		if (rc < 0)
			return rc;
		int up = openat(cur >= 0 ? cur : dirfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (up < 0)
			return -errno;
		if (cur >= 0)
			close(cur);
		cur = up;
		if (fstat(cur, &st) < 0)
			return -errno;
	}
	return -ELOOP;
}

static int mark_at(struct image_flatten *f, int parentfd, const char *base)
{
	struct stat st;
	if (fstatat(parentfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return inoset_add(&f->layer, st.st_ino);
}

/* Removes lower-layer content below dirfd, keeping what this layer made. */
static int prune_lower(struct image_flatten *f, int dirfd, int depth)
{
	if (depth > REMOVE_MAX_DEPTH)
		return -ELOOP;
	char **names = NULL;
	size_t n = 0;
	int rc = image_path_list_dir(dirfd, &names, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct stat st;
		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = -errno;
			break;
		}
		if (!inoset_has(&f->layer, st.st_ino)) {
			rc = image_path_remove_at(dirfd, names[i]);
		} else if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub =
			    openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			rc = sub < 0 ? -errno : prune_lower(f, sub, depth + 1);
		}
	}
	image_path_free_names(names, n);
	return rc;
}

static int apply_whiteout(struct image_flatten *f, const char *clean, const char *base,
			  struct capsid_error *err)
{
	bool opaque = strcmp(base, WHITEOUT_OPAQUE) == 0;
	const char *name = base + strlen(WHITEOUT_PREFIX);
	if (!opaque && strncmp(name, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0)
		return 0; /* other AUFS metadata (.wh..wh.plnk, ...): meaningless here */
	if (!opaque && (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0))
		return capsid_error_set(err, EINVAL, "invalid whiteout");
	_cleanup_close_ int parentfd = -1;
	const char *b;
	int rc =
	    image_path_open_parent(f->rootfd, clean, IMAGE_RESOLVE_STAGING, false, NULL, NULL, &parentfd, &b);
	if (rc == -ENOENT || rc == -ENOTDIR)
		return 0; /* nothing below to delete */
	if (rc < 0)
		return capsid_error_errno(err, -rc, "open parent directory");
	if (opaque) {
		rc = mark_ancestors(f, parentfd);
		if (rc == 0)
			rc = prune_lower(f, parentfd, 0);
		return rc < 0 ? capsid_error_errno(err, -rc, "make directory opaque") : 0;
	}
	struct stat st;
	if (fstatat(parentfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : capsid_error_errno(err, errno, "whiteout");
	if (!inoset_has(&f->layer, st.st_ino)) {
		rc = image_path_remove_at(parentfd, name);
	} else if (S_ISDIR(st.st_mode)) {
		/* The layer itself wrote into this directory: only the lower
		 * layers' content goes. */
		_cleanup_close_ int sub =
		    openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		rc = sub < 0 ? -errno : prune_lower(f, sub, 0);
	}
	return rc < 0 ? capsid_error_errno(err, -rc, "whiteout") : 0;
}

/* File capabilities are the one xattr images need (ping, ...); others (and
 * trusted.overlay.* in particular) are not carried into the guest. */
static int apply_caps(int fd, struct archive_entry *e, struct capsid_error *err)
{
	const char *name;
	const void *value;
	size_t size;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (strcmp(name, "security.capability") != 0)
			continue;
		if (size > 64 || fsetxattr(fd, name, value, size, 0) < 0)
			return capsid_error_errno(err, size > 64 ? EINVAL : errno, "set security.capability");
	}
	return 0;
}

static int write_file(struct image_flatten *f, struct archive *a, struct layer_source *src,
		      struct archive_entry *e, int parentfd, const char *base, const struct meta *m,
		      struct capsid_error *err)
{
	int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	if (size < 0)
		return capsid_error_set(err, EINVAL, "negative size");
	f->file_bytes += (uint64_t)size;
	if (f->file_bytes > f->max_layer_bytes)
		return capsid_error_set(err, EFBIG, "layer larger than the limit of %llu bytes uncompressed",
					(unsigned long long)f->max_layer_bytes);
	_cleanup_close_ int fd =
	    openat(parentfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return capsid_error_errno(err, errno, "create");
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(a, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return layer_error(src, a, err);
		if (off < 0 || (uint64_t)off > (uint64_t)size || len > (uint64_t)size - (uint64_t)off)
			return capsid_error_set(err, EINVAL, "data beyond the declared size");
		int rc = image_pwrite_all(fd, buf, len, (off_t)off);
		if (rc < 0)
			return capsid_error_errno(err, -rc, "write");
	}
	/* Sparse entries leave holes; the declared size is the file's size. */
	if (ftruncate(fd, (off_t)size) < 0)
		return capsid_error_errno(err, errno, "truncate");
	/* chown first: it clears setuid/setgid bits and capabilities. */
	if (fchown(fd, m->uid, m->gid) < 0 || fchmod(fd, m->perm) < 0)
		return capsid_error_errno(err, errno, "set owner and mode");
	int rc = apply_caps(fd, e, err);
	if (rc < 0)
		return rc;
	if (futimens(fd, m->times) < 0)
		return capsid_error_errno(err, errno, "set mtime");
	struct stat st;
	if (fstat(fd, &st) < 0)
		return capsid_error_errno(err, errno, "stat");
	rc = inoset_add(&f->layer, st.st_ino);
	return rc < 0 ? capsid_error_errno(err, -rc, "track inode") : 0;
}

/* Makes room for a new entry at parentfd/base. An existing directory stays
 * when the new entry is a directory too (layers merge directories). */
static int clear_slot(int parentfd, const char *base, bool new_is_dir, bool *kept_dir)
{
	struct stat st;
	*kept_dir = false;
	if (fstatat(parentfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode) && new_is_dir) {
		*kept_dir = true;
		return 0;
	}
	return image_path_remove_at(parentfd, base);
}

static int make_dir(struct image_flatten *f, int parentfd, const char *clean, const char *base,
		    const struct meta *m, struct capsid_error *err)
{
	bool kept;
	int rc = clear_slot(parentfd, base, true, &kept);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "replace existing entry");
	if (!kept && mkdirat(parentfd, base, 0700) < 0)
		return capsid_error_errno(err, errno, "mkdir");
	_cleanup_close_ int fd = openat(parentfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return capsid_error_errno(err, errno, "open directory");
	if (fchown(fd, m->uid, m->gid) < 0 || fchmod(fd, m->perm) < 0)
		return capsid_error_errno(err, errno, "set owner and mode");
	struct stat st;
	if (fstat(fd, &st) < 0 || inoset_add(&f->layer, st.st_ino) < 0 ||
	    record_dir_time(f, clean, &m->times[1], true) < 0)
		return capsid_error_errno(err, ENOMEM, "track directory");
	return 0;
}

static int make_symlink(struct image_flatten *f, struct archive_entry *e, int parentfd, const char *base,
			const struct meta *m, struct capsid_error *err)
{
	const char *target = archive_entry_symlink(e);
	if (!target || !*target || strlen(target) > IMAGE_MAX_PATH)
		return capsid_error_set(err, EINVAL, "symlink target missing or longer than %d bytes",
					IMAGE_MAX_PATH);
	bool kept;
	int rc = clear_slot(parentfd, base, false, &kept);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "replace existing entry");
	if (symlinkat(target, parentfd, base) < 0)
		return capsid_error_errno(err, errno, "symlink");
	if (fchownat(parentfd, base, m->uid, m->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    utimensat(parentfd, base, m->times, AT_SYMLINK_NOFOLLOW) < 0)
		return capsid_error_errno(err, errno, "set symlink owner and mtime");
	rc = mark_at(f, parentfd, base);
	return rc < 0 ? capsid_error_errno(err, -rc, "track inode") : 0;
}

static int make_hardlink(struct image_flatten *f, const char *clean, const char *link, int parentfd,
			 const char *base, struct capsid_error *err)
{
	char target[IMAGE_MAX_PATH + 1], q[256];
	const char *why = NULL;
	if (image_path_clean(link, target, sizeof(target), &why) < 0)
		return capsid_error_set(err, EINVAL, "hard link to '%s': %s", image_quote(link, q, sizeof(q)),
					why);
	if (!*target || strcmp(target, clean) == 0)
		return capsid_error_set(err, EINVAL, "hard link to itself or to the root");
	_cleanup_close_ int tparent = -1;
	const char *tbase;
	int rc = image_path_open_parent(f->rootfd, target, IMAGE_RESOLVE_STAGING, false, NULL, NULL, &tparent,
					&tbase);
	struct stat tst, st;
	if (rc == 0 && fstatat(tparent, tbase, &tst, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	if (rc < 0)
		return capsid_error_errno(err, -rc, "hard link target '%s'",
					  image_quote(target, q, sizeof(q)));
	if (S_ISDIR(tst.st_mode))
		return capsid_error_set(err, EINVAL, "hard link to directory '%s'",
					image_quote(target, q, sizeof(q)));
	if (fstatat(parentfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == tst.st_ino &&
	    st.st_dev == tst.st_dev)
		return inoset_add(&f->layer, st.st_ino) < 0 ? capsid_error_set(err, ENOMEM, "out of memory")
							    : 0;
	bool kept;
	rc = clear_slot(parentfd, base, false, &kept);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "replace existing entry");
	/* No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself. */
	if (linkat(tparent, tbase, parentfd, base, 0) < 0)
		return capsid_error_errno(err, errno, "hard link to '%s'", image_quote(target, q, sizeof(q)));
	return inoset_add(&f->layer, tst.st_ino) < 0 ? capsid_error_set(err, ENOMEM, "out of memory") : 0;
}

static int apply_root(struct image_flatten *f, struct archive_entry *e, const struct meta *m,
		      struct capsid_error *err)
{
	if (archive_entry_filetype(e) != AE_IFDIR || archive_entry_hardlink(e))
		return capsid_error_set(err, EINVAL, "the root must be a directory");
	if (fchown(f->rootfd, m->uid, m->gid) < 0 || fchmod(f->rootfd, m->perm) < 0)
		return capsid_error_errno(err, errno, "set root owner and mode");
	return record_dir_time(f, "", &m->times[1], true) < 0 ? capsid_error_set(err, ENOMEM, "out of memory")
							      : 0;
}

static int apply_entry(struct image_flatten *f, struct archive *a, struct layer_source *src,
		       struct archive_entry *e, const char *clean, struct capsid_error *err)
{
	struct meta m;
	int rc = entry_meta(e, &m, err);
	if (rc < 0)
		return rc;
	if (!*clean)
		return apply_root(f, e, &m, err);
	const char *base = strrchr(clean, '/');
	base = base ? base + 1 : clean;
	if (strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0)
		return apply_whiteout(f, clean, base, err);

	const char *link = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	if (!link && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
		/* Device nodes, FIFOs and sockets are never created on the host;
		 * the guest's runtime provides /dev. */
		if (f->dg->skipped++ == 0)
			image_quote(clean, f->dg->first_skipped, sizeof(f->dg->first_skipped));
		return 0;
	}

	_cleanup_close_ int parentfd = -1;
	rc = image_path_open_parent(f->rootfd, clean, IMAGE_RESOLVE_STAGING, true, implicit_dir_created, f,
				    &parentfd, &base);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "open parent directory");
	rc = mark_ancestors(f, parentfd);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "track parent directories");
	if (link)
		return make_hardlink(f, clean, link, parentfd, base, err);
	if (type == AE_IFDIR)
		return make_dir(f, parentfd, clean, base, &m, err);
	if (type == AE_IFLNK)
		return make_symlink(f, e, parentfd, base, &m, err);
	bool kept;
	rc = clear_slot(parentfd, base, false, &kept);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "replace existing entry");
	return write_file(f, a, src, e, parentfd, base, &m, err);
}

int image_flatten_new(int rootfd, uint64_t max_layer_bytes, struct image_flatten **out)
{
	struct image_flatten *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->rootfd = rootfd;
	f->max_layer_bytes = max_layer_bytes ? max_layer_bytes : IMAGE_DEFAULT_MAX_LAYER_BYTES;
	static const struct timespec epoch = {0, 0};
	int rc = fstat(rootfd, &f->root_st) < 0 ? -errno : 0;
	if (rc == 0 &&
	    (!(f->dir_times = json_object_new_object()) || record_dir_time(f, "", &epoch, true) < 0))
		rc = -ENOMEM;
	if (rc < 0) {
		image_flatten_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

void image_flatten_free(struct image_flatten *f)
{
	if (!f)
		return;
	free(f->layer.slots);
	json_object_put(f->dir_times);
	free(f);
}

static int read_entries(struct image_flatten *f, struct layer_source *src, struct capsid_error *err)
{
	struct archive *tar = archive_read_new();
	if (!tar)
		return capsid_error_set(err, ENOMEM, "out of memory");
	archive_read_support_format_tar(tar);
	int rc = 0;
	if (archive_read_open(tar, src, NULL, diff_read, NULL) != ARCHIVE_OK)
		rc = layer_error(src, tar, err);
	for (uint64_t entries = 0; rc == 0;) {
		struct archive_entry *e;
		int r = archive_read_next_header(tar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			rc = layer_error(src, tar, err);
			break;
		}
		if (++entries > IMAGE_MAX_LAYER_ENTRIES) {
			rc = capsid_error_set(err, E2BIG, "more than %d entries", IMAGE_MAX_LAYER_ENTRIES);
			break;
		}
		char clean[IMAGE_MAX_PATH + 1], q[256];
		const char *raw = archive_entry_pathname(e), *why = NULL;
		if (!raw) {
			rc = capsid_error_set(err, EINVAL, "entry with an unreadable name");
			break;
		}
		rc = image_path_clean(raw, clean, sizeof(clean), &why);
		if (rc < 0) {
			rc =
			    capsid_error_set(err, -rc, "entry '%s': %s", image_quote(raw, q, sizeof(q)), why);
			break;
		}
		rc = apply_entry(f, tar, src, e, clean, err);
		if (rc < 0)
			capsid_error_prefix(err, "entry '%s'", image_quote(clean, q, sizeof(q)));
	}
	archive_read_free(tar);
	return rc;
}

static void layer_source_freep(struct layer_source **p)
{
	struct layer_source *src = *p;
	if (!src)
		return;
	if (src->decomp)
		archive_read_free(src->decomp);
	image_sha256_free(src->blob_hash);
	image_sha256_free(src->diff_hash);
	free(src);
}

static int layer_source_open(struct layer_source *src, int layer_fd, uint64_t max_diff,
			     struct capsid_error *err)
{
	src->fd = layer_fd;
	src->max_diff = max_diff;
	if (image_sha256_new(&src->blob_hash) < 0 || image_sha256_new(&src->diff_hash) < 0 ||
	    !(src->decomp = archive_read_new()))
		return capsid_error_set(err, ENOMEM, "out of memory");
	/* Built-in decompressors only: never an external helper program. */
	archive_read_support_filter_gzip(src->decomp);
	archive_read_support_filter_zstd(src->decomp);
	archive_read_support_filter_xz(src->decomp);
	archive_read_support_filter_bzip2(src->decomp);
	archive_read_support_filter_lz4(src->decomp);
	archive_read_support_format_raw(src->decomp);
	struct archive_entry *raw_entry;
	if (archive_read_open(src->decomp, src, NULL, blob_read, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(src->decomp, &raw_entry) != ARCHIVE_OK) {
		const char *why = src->error[0] ? src->error : archive_error_string(src->decomp);
		return capsid_error_set(err, EINVAL, "not a tar stream: %s", why ? why : "empty");
	}
	return 0;
}

/* Hashes whatever follows the tar's end marker: digests cover the whole
 * blob, and a blob with trailing garbage does not match its digest. */
static int layer_source_drain(struct layer_source *src, struct capsid_error *err)
{
	for (;;) {
		la_ssize_t n = diff_pull(src);
		if (n < 0)
			return capsid_error_set(err, EINVAL, "%s", src->error);
		if (n == 0)
			break;
	}
	for (;;) {
		const void *ignored;
		la_ssize_t n = blob_read(src->decomp, src, &ignored);
		if (n < 0)
			return capsid_error_set(err, EIO, "%s", src->error);
		if (n == 0)
			return 0;
	}
}

int image_flatten_layer(struct image_flatten *f, int layer_fd, struct image_layer_digests *dg,
			struct capsid_error *err)
{
	memset(dg, 0, sizeof(*dg));
	f->file_bytes = 0;
	f->layer.n = 0;
	if (f->layer.slots)
		memset(f->layer.slots, 0, f->layer.cap * sizeof(uint64_t));

	_cleanup_(layer_source_freep) struct layer_source *src = calloc(1, sizeof(*src));
	if (!src)
		return capsid_error_set(err, ENOMEM, "out of memory");
	int rc = layer_source_open(src, layer_fd, f->max_layer_bytes, err);
	if (rc < 0)
		return rc;
	f->dg = dg;
	rc = read_entries(f, src, err);
	f->dg = NULL;
	if (rc == 0)
		rc = layer_source_drain(src, err);
	if (rc == 0 && (image_sha256_final(src->blob_hash, dg->blob) < 0 ||
			image_sha256_final(src->diff_hash, dg->diff) < 0))
		rc = capsid_error_set(err, EIO, "sha256 failed");
	dg->blob_size = src->blob_bytes;
	return rc;
}

int image_flatten_finish(struct image_flatten *f, struct capsid_error *err)
{
	json_object_object_foreach(f->dir_times, path, t)
	{
		int fd = *path ? image_path_open(f->rootfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW,
						 IMAGE_RESOLVE_STAGING)
			       : fcntl(f->rootfd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			continue; /* deleted or replaced by a later layer */
		struct timespec ts = {
		    .tv_sec = (time_t)json_object_get_int64(json_object_array_get_idx(t, 0)),
		    .tv_nsec = (long)json_object_get_int64(json_object_array_get_idx(t, 1)),
		};
		struct timespec times[2] = {ts, ts};
		int rc = futimens(fd, times) < 0 ? -errno : 0;
		close(fd);
		if (rc < 0)
			return capsid_error_errno(err, -rc, "set mtime of directory '%s'", path);
	}
	return 0;
}

int image_flatten_layers(int rootfd, const int *layer_fds, size_t n, uint64_t max_layer_bytes,
			 uint64_t *skipped, struct capsid_error *err)
{
	struct image_flatten *f = NULL;
	int rc = image_flatten_new(rootfd, max_layer_bytes, &f);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "start flattening");
	uint64_t total = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct image_layer_digests dg;
		rc = image_flatten_layer(f, layer_fds[i], &dg, err);
		if (rc < 0)
			capsid_error_prefix(err, "layer %zu", i + 1);
		total += dg.skipped;
	}
	if (rc == 0)
		rc = image_flatten_finish(f, err);
	image_flatten_free(f);
	if (skipped)
		*skipped = total;
	return rc;
}
