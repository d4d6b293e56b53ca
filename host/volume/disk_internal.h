/* Internals of the persistent disks (disk.h): the attach lock with its
 * holder records (disk_lock.c), the libguestfs appliance (disk_appliance.c)
 * and the safe unpacking of a volume's files onto the host
 * (disk_extract.c). */
#ifndef CAPSID_DISK_INTERNAL_H
#define CAPSID_DISK_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"
#include "disk.h"

struct disk_paths {
	char dir[PATH_MAX]; /* <root>/volumes */
	char qcow2[PATH_MAX];
	char json[PATH_MAX];
	char lock[PATH_MAX];
};

/* disk_store.c, shared with disk.c: a name fit to quote in a message
 * (printable, cut at 64 characters); the name check with its message; the
 * paths of NAME (name NULL: only p->dir); whether a path exists; the "no
 * volume" error; NAME.json written atomically. */
const char *disk_quoted(const char *s, char buf[72]);
int disk_check_name(const char *name, struct capsid_error *err);
int disk_paths_init(const char *root, const char *name, struct disk_paths *p, struct capsid_error *err);
bool disk_exists(const char *path);
int disk_no_volume(const char *name, struct capsid_error *err);
/* disk_paths_init, then the "no volume" error unless NAME.json exists. */
int disk_paths_existing(const char *root, const char *name, struct disk_paths *p, struct capsid_error *err);
int disk_write_info(const struct disk_paths *p, const char *name, uint64_t size, struct capsid_error *err);

/* Who holds a lock: a group, or one of capsid's own operations. */
enum disk_holder_kind {
	DISK_HOLDER_GROUP = 'g',
	DISK_HOLDER_OP = 'o',
};

/* Take the lock of p->lock (made when missing), never blocking; returns
 * its fd. -EBUSY with a message naming the holders when it is taken. */
int disk_lock_take(const struct disk_paths *p, const char *name, bool rw, enum disk_holder_kind kind,
		   const char *holder, struct capsid_error *err);
/* The current holders of the lock file at path, e.g. "g1 (rw)"; "" when
 * none (or no lock file). */
void disk_lock_describe(const char *path, char *out, size_t len);

/* A libguestfs handle ready to launch: direct backend, TCG with the TSC
 * hints unless KVM is usable, our kernel and appliance cache. NULL on
 * error. */
struct guestfs_h;
struct disk_settings;
struct guestfs_h *disk_gfs_new(const struct disk_settings *set, struct capsid_error *err);
/* Add the qcow2 as /dev/sda and boot the appliance. */
int disk_gfs_launch(struct guestfs_h *g, const char *qcow2, bool readonly, struct capsid_error *err);
/* Set err to "what: <libguestfs's last error>" and return -errno. */
int disk_gfs_fail(struct guestfs_h *g, struct capsid_error *err, const char *what);
/* Shut the appliance down cleanly (everything written reaches the qcow2)
 * and free the handle. g may be NULL. */
int disk_gfs_close(struct guestfs_h *g, struct capsid_error *err);
void disk_gfs_closep(struct guestfs_h **g);
#define _cleanup_gfs_ _cleanup_(disk_gfs_closep)

/* Read a tar stream (plain tar, as guestfs_tar_out writes it) from fd and
 * make its regular files, directories and symlinks under dst_dir/prefix
 * (prefix "" for dst_dir itself), refusing absolute names, "..", writing
 * through symlinks and hard links out of the tree; other entries (devices,
 * fifos, sockets) are skipped. Nothing keeps the archive's owners or
 * setuid/setgid/sticky bits. Runs in a child process (libarchive writes
 * relative to the working directory), which leaves the caller's cwd
 * alone. Reads fd to its end even after an error, so a writer never
 * blocks. */
int disk_extract_tar(int fd, const char *dst_dir, const char *prefix, struct capsid_error *err);
/* The same, the stream written by produce(ctx, wfd) (which must not close
 * wfd) while the child unpacks it. */
int disk_extract_tar_from(int (*produce)(void *ctx, int wfd, struct capsid_error *err), void *ctx,
			  const char *dst_dir, const char *prefix, struct capsid_error *err);

#endif
