/* The files of an import's input: a directory used in place, or a tar (OCI
 * archive, docker save; maybe compressed) unpacked into a private work
 * directory. Both are hostile: names are cleaned, and every later open goes
 * through openat2(RESOLVE_IN_ROOT), so symlinks in the input (docker save
 * links duplicate layers) can never lead out of it. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "image_internal.h"

struct unpack {
	int dirfd;
	uint64_t max_file, max_total, total;
};

static int unpack_file(struct unpack *u, struct archive *a, struct archive_entry *e, int parentfd,
		       const char *base, struct capsid_error *err)
{
	int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	if (size < 0 || (uint64_t)size > u->max_file)
		return capsid_error_set(err, EFBIG, "larger than the limit of %llu bytes",
					(unsigned long long)u->max_file);
	u->total += (uint64_t)size;
	if (u->total > u->max_total)
		return capsid_error_set(err, EFBIG, "archive larger than the limit of %llu bytes",
					(unsigned long long)u->max_total);
	int rc = image_path_remove_at(parentfd, base);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "replace");
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
			return capsid_error_set(err, EINVAL, "%s", archive_error_string(a));
		if (off < 0 || (uint64_t)off > (uint64_t)size || len > (uint64_t)size - (uint64_t)off)
			return capsid_error_set(err, EINVAL, "data beyond the declared size");
		rc = image_pwrite_all(fd, buf, len, (off_t)off);
		if (rc < 0)
			return capsid_error_errno(err, -rc, "write");
	}
	return ftruncate(fd, (off_t)size) < 0 ? capsid_error_errno(err, errno, "truncate") : 0;
}

static int unpack_entry(struct unpack *u, struct archive *a, struct archive_entry *e, const char *clean,
			struct capsid_error *err)
{
	const char *link = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	if (!link && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
		return 0; /* nothing an image archive needs */
	_cleanup_close_ int parentfd = -1;
	const char *base;
	int rc = image_path_open_parent(u->dirfd, clean, IMAGE_RESOLVE_STAGING, true, NULL, NULL, &parentfd,
					&base);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "open parent directory");
	if (link) {
		char target[IMAGE_MAX_PATH + 1];
		const char *why, *tbase;
		if (image_path_clean(link, target, sizeof(target), &why) < 0)
			return capsid_error_set(err, EINVAL, "hard link target: %s", why);
		_cleanup_close_ int tparent = -1;
		rc = image_path_open_parent(u->dirfd, target, IMAGE_RESOLVE_STAGING, false, NULL, NULL,
					    &tparent, &tbase);
		if (rc == 0 && linkat(tparent, tbase, parentfd, base, 0) < 0)
			rc = -errno;
		return rc < 0 ? capsid_error_errno(err, -rc, "hard link") : 0;
	}
	if (type == AE_IFDIR)
		return mkdirat(parentfd, base, 0700) < 0 && errno != EEXIST
			   ? capsid_error_errno(err, errno, "mkdir")
			   : 0;
	if (type == AE_IFLNK) {
		const char *target = archive_entry_symlink(e);
		if (!target || !*target || strlen(target) > IMAGE_MAX_PATH)
			return capsid_error_set(err, EINVAL, "bad symlink target");
		rc = image_path_remove_at(parentfd, base);
		if (rc == 0 && symlinkat(target, parentfd, base) < 0)
			rc = -errno;
		return rc < 0 ? capsid_error_errno(err, -rc, "symlink") : 0;
	}
	return unpack_file(u, a, e, parentfd, base, err);
}

static int unpack_tar(int fd, int dirfd, uint64_t max_file, struct capsid_error *err)
{
	struct archive *a = archive_read_new();
	if (!a)
		return capsid_error_set(err, ENOMEM, "out of memory");
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_lz4(a);
	archive_read_support_format_tar(a);
	/* Layers of an uncompressed docker save add up to more than one. */
	struct unpack u = {.dirfd = dirfd, .max_file = max_file, .max_total = max_file * 4};
	int rc = 0;
	if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK)
		rc = capsid_error_set(err, EINVAL,
				      "not an OCI layout directory, OCI archive or docker save tar: %s",
				      archive_error_string(a));
	for (size_t count = 0; rc == 0;) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			rc = capsid_error_set(err, EINVAL, "%s", archive_error_string(a));
			break;
		}
		if (++count > IMAGE_MAX_BUNDLE_FILES) {
			rc = capsid_error_set(err, E2BIG, "more than %d entries", IMAGE_MAX_BUNDLE_FILES);
			break;
		}
		char clean[IMAGE_MAX_PATH + 1], q[256];
		const char *raw = archive_entry_pathname(e), *why = NULL;
		if (!raw || image_path_clean(raw, clean, sizeof(clean), &why) < 0) {
			rc = capsid_error_set(err, EINVAL, "archive entry '%s': %s",
					      raw ? image_quote(raw, q, sizeof(q)) : "?",
					      why ? why : "unreadable name");
			break;
		}
		if (!*clean)
			continue;
		rc = unpack_entry(&u, a, e, clean, err);
		if (rc < 0)
			capsid_error_prefix(err, "archive entry '%s'", image_quote(clean, q, sizeof(q)));
	}
	archive_read_free(a);
	return rc;
}

int image_bundle_open(const char *path, int workfd, uint64_t max_file_bytes, struct image_bundle *b,
		      struct capsid_error *err)
{
	b->dirfd = -1;
	b->unpacked = false;
	/* O_NONBLOCK: a FIFO must not hang the open; it is refused below. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || fcntl(fd, F_SETFL, 0) < 0)
		return capsid_error_errno(err, errno, "%s", path);
	if (S_ISDIR(st.st_mode)) {
		b->dirfd = TAKE_FD(fd);
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return capsid_error_set(err, EINVAL, "%s: not a directory or a tar file", path);
	if (mkdirat(workfd, "bundle", 0700) < 0)
		return capsid_error_errno(err, errno, "create work directory");
	b->dirfd = openat(workfd, "bundle", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (b->dirfd < 0)
		return capsid_error_errno(err, errno, "open work directory");
	b->unpacked = true;
	int rc = unpack_tar(fd, b->dirfd, max_file_bytes, err);
	if (rc < 0) {
		image_bundle_close(b);
		return capsid_error_prefix(err, "%s", path);
	}
	return 0;
}

void image_bundle_close(struct image_bundle *b)
{
	if (b->dirfd >= 0)
		close(b->dirfd);
	b->dirfd = -1;
}

int image_bundle_open_file(const struct image_bundle *b, const char *path, int *fd_out,
			   struct capsid_error *err)
{
	char clean[IMAGE_MAX_PATH + 1], q[256];
	const char *why = NULL;
	if (image_path_clean(path, clean, sizeof(clean), &why) < 0 || !*clean)
		return capsid_error_set(err, EINVAL, "'%s': %s", image_quote(path, q, sizeof(q)),
					why ? why : "empty path");
	int fd = image_path_open(b->dirfd, clean, O_RDONLY | O_NOCTTY | O_NONBLOCK, IMAGE_RESOLVE_BUNDLE);
	if (fd < 0)
		return capsid_error_errno(err, -fd, "%s", image_quote(clean, q, sizeof(q)));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return capsid_error_set(err, EINVAL, "%s: not a regular file",
					image_quote(clean, q, sizeof(q)));
	}
	/* O_NONBLOCK only kept a FIFO from blocking the open. */
	fcntl(fd, F_SETFL, 0);
	*fd_out = fd;
	return 0;
}

bool image_bundle_has(const struct image_bundle *b, const char *path)
{
	int fd;
	if (image_bundle_open_file(b, path, &fd, NULL) < 0)
		return false;
	close(fd);
	return true;
}

int image_bundle_read(const struct image_bundle *b, const char *path, size_t max, char **out, size_t *len,
		      struct capsid_error *err)
{
	_cleanup_close_ int fd = -1;
	int rc = image_bundle_open_file(b, path, &fd, err);
	if (rc < 0)
		return rc;
	rc = image_read_fd(fd, max, out, len);
	if (rc < 0) {
		char q[256];
		return capsid_error_errno(err, -rc, "read %s", image_quote(path, q, sizeof(q)));
	}
	return 0;
}
