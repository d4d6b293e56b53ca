/* Persistent disks for volumes (see disk.h): the operations that boot the
 * libguestfs appliance (create, copy in, copy out). Only the capsid-disk
 * helper links them (libguestfs drags in some 70 libraries: 14 ms of
 * dynamic linking per process, and memory, that the CLI and every
 * monitor would otherwise pay); names, paths, list, remove and the lock
 * are in disk_store.c. */
#include <errno.h>
#include <fcntl.h>
#include <guestfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "disk_internal.h"
#include "util.h"

#define DISK_PATH_MAX  4096 /* a path inside the volume */
#define EXT4_LABEL_MAX 16

/* err's code as -errno, for a step that only filled err. */
static int failed(struct capsid_error *err)
{
	return -(err && err->code > 0 ? err->code : EIO);
}

/* ---- create ---------------------------------------------------------------- */

/* The qcow2 and its ext4, in one appliance launch. */
static int make_disk(const struct disk_paths *p, const struct disk_settings *set, const char *name, uint64_t size,
		     struct capsid_error *err)
{
	_cleanup_gfs_ struct guestfs_h *g = disk_gfs_new(set, err);
	if (!g)
		return failed(err);
	if (guestfs_disk_create(g, p->qcow2, "qcow2", (int64_t)size, -1) < 0)
		return disk_gfs_fail(g, err, "create the qcow2");
	if (chmod(p->qcow2, 0600) < 0)
		return capsid_error_errno(err, errno, "chmod %s", p->qcow2);
	int rc = disk_gfs_launch(g, p->qcow2, false, err);
	if (rc < 0)
		return rc;
	char label[EXT4_LABEL_MAX + 1];
	snprintf(label, sizeof(label), "%s", name);
	if (guestfs_mkfs_opts(g, "ext4", "/dev/sda", GUESTFS_MKFS_OPTS_LABEL, label, -1) < 0)
		return disk_gfs_fail(g, err, "mkfs.ext4");
	return disk_gfs_close(TAKE_PTR(g), err);
}

int disk_create(const char *root, const struct disk_settings *set, const char *name, uint64_t size_bytes,
		struct capsid_error *err)
{
	struct disk_paths p;
	int rc = disk_paths_init(root, name, &p, err);
	if (rc < 0)
		return rc;
	if (size_bytes < DISK_MIN_SIZE)
		return capsid_error_set(err, EINVAL,
					"size: %llu bytes is too small, a volume needs at least 16M",
					(unsigned long long)size_bytes);
	if (size_bytes > DISK_MAX_SIZE)
		return capsid_error_set(err, EINVAL, "size: at most 64T");
	size_bytes = (size_bytes + 511) & ~(uint64_t)511; /* qcow2 sizes are whole sectors */
	if ((rc = util_mkdir_p(p.dir, 0700)) < 0)
		return capsid_error_errno(err, -rc, "mkdir %s", p.dir);
	_cleanup_close_ int lock =
	    disk_lock_take(&p, name, true, DISK_HOLDER_OP, "capsid volume create", err);
	if (lock < 0)
		return lock;
	if (disk_exists(p.json))
		return capsid_error_set(err, EEXIST, "volume %s exists", name);
	/* A qcow2 without NAME.json is what a crashed create left. */
	if (unlink(p.qcow2) < 0 && errno != ENOENT)
		return capsid_error_errno(err, errno, "remove %s", p.qcow2);
	rc = make_disk(&p, set, name, size_bytes, err);
	if (rc == 0)
		rc = disk_write_info(&p, name, size_bytes, err);
	if (rc < 0) {
		capsid_error_prefix(err, "create volume %s", name);
		/* We hold the lock and nothing names this volume: unmake it all. */
		unlink(p.json);
		unlink(p.qcow2);
		unlink(p.lock);
	}
	return rc;
}

/* ---- copy in and out ------------------------------------------------------ */

static int check_disk_path(const char *path, const char *what, struct capsid_error *err)
{
	char q[72];
	if (!path || path[0] != '/' || strlen(path) >= DISK_PATH_MAX)
		return capsid_error_set(err, EINVAL, "%s \"%s\": must be an absolute path in the volume",
					what, disk_quoted(path, q));
	return 0;
}

/* Lock the volume for an operation and boot the appliance with it mounted. */
static int open_volume(const char *root, const struct disk_settings *set, const char *name, bool writable, int *lock,
		       struct guestfs_h **out, struct capsid_error *err)
{
	struct disk_paths p;
	int rc = disk_paths_existing(root, name, &p, err);
	if (rc < 0)
		return rc;
	/* Copying out could share the lock with read-only attachments, but a
	 * read-write one could change the filesystem under the appliance:
	 * both ways take it exclusively, as the issue asks. */
	*lock = disk_lock_take(&p, name, true, DISK_HOLDER_OP, "capsid volume cp", err);
	if (*lock < 0)
		return *lock;
	if (!disk_exists(p.json))
		return disk_no_volume(name, err);
	_cleanup_gfs_ struct guestfs_h *g = disk_gfs_new(set, err);
	if (!g)
		return failed(err);
	if ((rc = disk_gfs_launch(g, p.qcow2, !writable, err)) < 0)
		return rc;
	if ((writable ? guestfs_mount(g, "/dev/sda", "/") : guestfs_mount_ro(g, "/dev/sda", "/")) < 0)
		return disk_gfs_fail(g, err, "mount the volume's filesystem");
	*out = TAKE_PTR(g);
	return 0;
}

/* The last component of path, trailing slashes ignored; "" for "/". */
static void last_component(const char *path, char *out, size_t len)
{
	size_t end = strlen(path);
	while (end > 0 && path[end - 1] == '/')
		end--;
	size_t start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	snprintf(out, len, "%.*s", (int)(end - start), path + start);
}

int disk_copy_in(const char *root, const struct disk_settings *set, const char *name, const char *host_src,
		 const char *disk_dst, struct capsid_error *err)
{
	int rc = disk_check_name(name, err);
	if (rc < 0 || (rc = check_disk_path(disk_dst, "destination", err)) < 0)
		return rc;
	struct stat st;
	char base[NAME_MAX + 1];
	if (!host_src || stat(host_src, &st) < 0)
		return capsid_error_errno(err, host_src ? errno : EINVAL, "source %s",
					  host_src ? host_src : "");
	last_component(host_src, base, sizeof(base));
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return capsid_error_set(err, EINVAL, "source %s: not a regular file or directory", host_src);
	if (!base[0] || !strcmp(base, ".") || !strcmp(base, ".."))
		return capsid_error_set(err, EINVAL, "source %s: name a file or directory by its name",
					host_src);
	_cleanup_close_ int lock = -1;
	_cleanup_gfs_ struct guestfs_h *g = NULL;
	if ((rc = open_volume(root, set, name, true, &lock, &g, err)) < 0)
		return capsid_error_prefix(err, "copy into volume %s", name);
	if (guestfs_is_dir(g, disk_dst) <= 0)
		return capsid_error_set(
		    err, ENOTDIR, "copy into volume %s: %s is not a directory in the volume", name, disk_dst);
	/* Like virt-copy-in: tar on the host, unpacked by the appliance. */
	if (guestfs_copy_in(g, host_src, disk_dst) < 0) {
		disk_gfs_fail(g, err, "copy");
		return capsid_error_prefix(err, "copy %s into volume %s at %s", host_src, name, disk_dst);
	}
	if ((rc = disk_gfs_close(TAKE_PTR(g), err)) < 0)
		return capsid_error_prefix(err, "copy into volume %s", name);
	return 0;
}

struct tar_out {
	struct guestfs_h *g;
	const char *src;
};

static int produce_tar(void *ctx, int wfd, struct capsid_error *err)
{
	struct tar_out *t = ctx;
	char dev[32];
	snprintf(dev, sizeof(dev), "/dev/fd/%d", wfd);
	if (guestfs_tar_out_opts(t->g, t->src, dev, GUESTFS_TAR_OUT_OPTS_NUMERICOWNER, 1, -1) < 0)
		return disk_gfs_fail(t->g, err, "tar in the appliance");
	return 0;
}

/* A regular file: download it, with its permission bits (not setuid etc). */
static int download(struct guestfs_h *g, const char *src, const char *dst, struct capsid_error *err)
{
	if (guestfs_download(g, src, dst) < 0)
		return disk_gfs_fail(g, err, "download");
	struct guestfs_statns *st = guestfs_lstatns(g, src);
	if (st) {
		int rc = chmod(dst, (mode_t)st->st_mode & 0777);
		guestfs_free_statns(st);
		if (rc < 0)
			return capsid_error_errno(err, errno, "chmod %s", dst);
	}
	return 0;
}

int disk_copy_out(const char *root, const struct disk_settings *set, const char *name, const char *disk_src,
		  const char *host_dst, struct capsid_error *err)
{
	int rc = disk_check_name(name, err);
	if (rc < 0 || (rc = check_disk_path(disk_src, "source", err)) < 0)
		return rc;
	char base[NAME_MAX + 1];
	last_component(disk_src, base, sizeof(base));
	if (!strcmp(base, ".") || !strcmp(base, ".."))
		return capsid_error_set(err, EINVAL, "source %s: name a file or directory by its name",
					disk_src);
	struct stat st;
	if (!host_dst || stat(host_dst, &st) < 0)
		return capsid_error_errno(err, host_dst ? errno : EINVAL, "destination %s",
					  host_dst ? host_dst : "");
	if (!S_ISDIR(st.st_mode))
		return capsid_error_set(err, ENOTDIR, "destination %s: not a directory", host_dst);
	_cleanup_close_ int lock = -1;
	_cleanup_gfs_ struct guestfs_h *g = NULL;
	if ((rc = open_volume(root, set, name, false, &lock, &g, err)) < 0)
		return capsid_error_prefix(err, "copy out of volume %s", name);
	if (guestfs_is_dir(g, disk_src) > 0) {
		struct tar_out t = {.g = g, .src = disk_src};
		rc = disk_extract_tar_from(produce_tar, &t, host_dst, base, err);
	} else if (guestfs_is_file(g, disk_src) > 0) {
		char dst[PATH_MAX];
		if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", host_dst, base) >= sizeof(dst))
			rc = capsid_error_set(err, ENAMETOOLONG, "%s/%s: path too long", host_dst, base);
		else
			rc = download(g, disk_src, dst, err);
	} else {
		rc = capsid_error_set(err, ENOENT, "%s is not a regular file or directory in the volume",
				      disk_src);
	}
	if (rc == 0)
		rc = disk_gfs_close(TAKE_PTR(g), err);
	if (rc < 0)
		return capsid_error_prefix(err, "copy %s out of volume %s", disk_src, name);
	return 0;
}
