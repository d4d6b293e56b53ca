/* containerd hands a task its root filesystem as snapshot mounts (overlay
 * of committed layers over an empty writable layer, or a bind). The shim
 * mounts them at <bundle>/rootfs, as runc's shim does, and the guest boots
 * from an erofs image of that tree in capsid's image store, built once per
 * committed snapshot chain (the overlay's lowerdir list names it) and found
 * there by every later container of the same image. The tree is read, never
 * written: the guest's writes go to its own writable layer. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "github.com/containerd/containerd/api/types/mount.pb-c.h"
#include "image.h"
#include "shim.h"

#define SHIM_MAX_MOUNTS	    8
#define SHIM_MAX_MOUNT_DATA 8192

struct flag_name {
	const char *name;
	unsigned long flag;
};

static const struct flag_name mount_flags[] = {
    {"ro", MS_RDONLY},	   {"rw", 0},		{"bind", MS_BIND},     {"rbind", MS_BIND | MS_REC},
    {"nosuid", MS_NOSUID}, {"nodev", MS_NODEV}, {"noexec", MS_NOEXEC},
};

static int do_mount(const Containerd__Types__Mount *m, const char *target, struct capsid_error *err)
{
	unsigned long flags = 0;
	char data[SHIM_MAX_MOUNT_DATA] = "";
	size_t used = 0;
	for (size_t i = 0; i < m->n_options; i++) {
		const char *o = m->options[i];
		bool known = false;
		for (size_t k = 0; k < sizeof(mount_flags) / sizeof(mount_flags[0]); k++)
			if (strcmp(o, mount_flags[k].name) == 0) {
				flags |= mount_flags[k].flag;
				known = true;
			}
		if (known)
			continue;
		size_t len = strlen(o);
		if (used + len + 2 > sizeof(data))
			return capsid_error_set(err, E2BIG, "rootfs mount options longer than %d bytes",
						SHIM_MAX_MOUNT_DATA);
		if (used)
			data[used++] = ',';
		memcpy(data + used, o, len + 1);
		used += len;
	}
	const char *type = strcmp(m->type, "bind") == 0 ? NULL : m->type;
	if (!type)
		flags |= MS_BIND;
	if (mount(m->source, target, type, flags & ~MS_RDONLY, used ? data : NULL) < 0)
		return capsid_error_errno(err, errno, "mount %s (%s) at %s", m->source, m->type, target);
	if ((flags & MS_BIND) && (flags & MS_RDONLY))
		mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
	return 0;
}

/* The cache key of what the mounts show: the overlay's lower layers (the
 * committed chain), else the source and the task (not shared). */
static void chain_key(void *const *mounts, size_t n, const char *id, char out[64])
{
	/* FNV-1a, twice with different seeds: a cache key, not a security
	 * boundary (the store's digest of the image is SHA-256). */
	uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
	bool shared = false;
	for (size_t i = 0; i < n; i++) {
		const Containerd__Types__Mount *m = mounts[i];
		for (size_t k = 0; k < m->n_options; k++) {
			if (strncmp(m->options[k], "lowerdir=", 9) != 0)
				continue;
			shared = true;
			for (const char *p = m->options[k]; *p; p++) {
				h1 = (h1 ^ (uint8_t)*p) * 0x100000001b3ull;
				h2 = (h2 ^ (uint8_t)*p) * 0x100000001b3ull;
			}
		}
	}
	if (!shared)
		for (const char *p = id; *p; p++)
			h1 = (h1 ^ (uint8_t)*p) * 0x100000001b3ull,
			h2 = (h2 ^ (uint8_t)*p) * 0x100000001b3ull;
	snprintf(out, 64, "%s-%016llx%016llx", shared ? "chain" : "task", (unsigned long long)h1,
		 (unsigned long long)h2);
}

int shim_rootfs_prepare(struct shim *s, struct shim_task *t, void *const *mounts, size_t n_mounts,
			struct capsid_error *err)
{
	if (n_mounts == 0)
		return capsid_error_set(
		    err, EINVAL,
		    "the task has no rootfs mounts (a bundle with its own rootfs is not supported)");
	if (n_mounts > SHIM_MAX_MOUNTS)
		return capsid_error_set(err, EINVAL, "%zu rootfs mounts: at most %d", n_mounts,
					SHIM_MAX_MOUNTS);
	_cleanup_free_ char *target = NULL;
	if (asprintf(&target, "%s/rootfs", t->bundle) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	if (mkdir(target, 0711) < 0 && errno != EEXIST)
		return capsid_error_errno(err, errno, "mkdir %s", target);
	for (size_t i = 0; i < n_mounts; i++) {
		int r = do_mount(mounts[i], target, err);
		if (r < 0) {
			while (i-- > 0)
				umount2(target, MNT_DETACH);
			return r;
		}
	}
	t->rootfs = TAKE_PTR(target);

	char key[64];
	chain_key(mounts, n_mounts, t->id, key);
	_cleanup_free_ char *ref = NULL;
	if (asprintf(&ref, "containerd-rootfs/%s:%s", s->o.ns, key) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	struct image_store *store = NULL;
	int r = image_store_open(s->cfg.root, &store, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *digest = NULL;
	r = image_install_dir(store, t->rootfs, ref, "containerd snapshot", &digest, err);
	image_store_close(store);
	if (r < 0)
		return capsid_error_prefix(err, "make the guest's image of %s", t->rootfs);
	t->image_ref = TAKE_PTR(ref);
	return 0;
}

void shim_rootfs_release(const char *bundle)
{
	char target[PATH_MAX];
	if ((size_t)snprintf(target, sizeof(target), "%s/rootfs", bundle) >= sizeof(target))
		return;
	while (umount2(target, MNT_DETACH) == 0)
		;
}
