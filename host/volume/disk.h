/* Persistent disks for volumes (`capsidDisk{volumeName, readOnly}`): one
 * qcow2 per volume holding an ext4 filesystem (no partition table), made,
 * seeded and read by libguestfs, so a tenant's filesystem is only ever
 * mounted inside the libguestfs appliance or the tenant's own guest, never
 * by the host kernel.
 *
 * Layout under <root>/volumes/ (0700; files 0600):
 *   NAME.qcow2   the disk
 *   NAME.json    {"name", "sizeBytes", "created"}: written last, so it marks
 *                a volume that exists (a qcow2 without it is a crashed create)
 *   NAME.lock    the attach lock (see disk_lock) and its holders' names
 *
 * Names are DNS labels, like group names. Every operation that writes the
 * disk (create, copy in/out, remove) holds the volume's exclusive lock and
 * fails at once (-EBUSY, naming the holder) while a group has it attached.
 *
 * The libguestfs appliance boots Debian's cloud kernel from the .deb that
 * images/guest/fetch-kernel.sh put in $CAPSID_DEB_CACHE
 * (/var/cache/capsid/debs), unpacked once into $CAPSID_GUESTFS_CACHE
 * (/var/cache/capsid/guestfs), which also keeps libguestfs's appliance;
 * SUPERMIN_KERNEL in the environment overrides the choice. TCG unless
 * KVM is really usable (vmm_accel_detect). LIBGUESTFS_DEBUG=1 shows the
 * appliance's console. */
#ifndef CAPSID_DISK_H
#define CAPSID_DISK_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define DISK_NAME_MAX	 63	       /* a DNS label */
#define DISK_MIN_SIZE	 (16ull << 20) /* room for ext4's own metadata and a journal */
#define DISK_MAX_SIZE	 (64ull << 40) /* 64 TiB: far beyond anything a test or a tenant needs */
#define DISK_MAX_HOLDERS 64	       /* read-only attachments at once */

struct disk_info {
	char name[DISK_NAME_MAX + 1];
	uint64_t size_bytes;
	char created[40]; /* RFC 3339 */
	/* Who holds it now: "" when nobody, else e.g. "g1 (rw)" or
	 * "g2 (ro), g3 (ro)"; an operation shows as "capsid volume cp". */
	char attached_by[512];
};

/* A DNS label: 1-63 of [a-z0-9-], not starting or ending with '-'. */
bool disk_name_valid(const char *name);

/* Where the libguestfs appliance's kernel and cache live: what capsid-disk
 * read at its edge (NULL: /var/cache/capsid/debs and .../guestfs). */
struct disk_settings {
	const char *deb_cache;	   /* CAPSID_DEB_CACHE: Debian's cloud kernel package */
	const char *guestfs_cache; /* CAPSID_GUESTFS_CACHE */
};

/* Make NAME: a qcow2 of size_bytes (rounded up to 512 bytes; between
 * DISK_MIN_SIZE and DISK_MAX_SIZE) with an ext4 filesystem labelled with
 * the name (its first 16 characters, ext4's limit). -EEXIST when it
 * exists. A failed create removes everything it made. */
int disk_create(const char *root, const struct disk_settings *set, const char *name, uint64_t size_bytes,
		struct capsid_error *err);
/* Remove NAME and its data. -ENOENT when there is none; -EBUSY, naming
 * the holder, while it is attached. */
int disk_remove(const char *root, const char *name, struct capsid_error *err);
/* Every volume, sorted by name. Free *out with free(). */
int disk_list(const char *root, struct disk_info **out, size_t *n, struct capsid_error *err);

/* Copy a host file or directory (recursively) into the directory disk_dst
 * of the volume, as `virt-copy-in` does: it lands as disk_dst/BASENAME. */
int disk_copy_in(const char *root, const struct disk_settings *set, const char *name, const char *host_src,
		 const char *disk_dst, struct capsid_error *err);
/* Copy a regular file or a directory (recursively) of the volume into the
 * host directory host_dst, as `virt-copy-out` does: it lands as
 * host_dst/BASENAME. The volume's content is the tenant's and treated as
 * hostile: only regular files, directories and symlinks are made, never
 * through a symlink nor outside host_dst, owned by the caller, without
 * setuid/setgid bits. */
int disk_copy_out(const char *root, const struct disk_settings *set, const char *name, const char *disk_src,
		  const char *host_dst, struct capsid_error *err);

/* The qcow2 of NAME. -ENOENT "no volume NAME (capsid volume create)". */
int disk_path(const char *root, const char *name, char out[PATH_MAX], struct capsid_error *err);

/* Attach lock, never blocking: rw takes it exclusively, ro shared. Returns
 * an fd (O_CLOEXEC) to keep open while attached; closing it (or the exit of
 * every process sharing it) releases it. holder names the group (a DNS
 * label) and is recorded so that a refused caller is told who holds it:
 * -EBUSY "volume data is attached read-write by group g1". -ENOENT when
 * there is no such volume. */
int disk_lock(const char *root, const char *name, bool rw, const char *holder, struct capsid_error *err);

#endif
