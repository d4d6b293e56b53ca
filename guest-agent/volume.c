#include "volume.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "util.h"
#include "volume_kinds.h"

static const struct volume_kind_ops *const kinds[] = {
	&volume_emptydir_ops,
	&volume_secret_ops,
	&volume_cifs_ops,
	&volume_disk_ops,
};

const struct volume_kind_ops *volume_kind_of(enum request_volume_kind k)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i]->kind == k)
			return kinds[i];
	return NULL;
}

const struct volume_kind_ops *volume_kind_named(const char *name)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i]->name, name) == 0)
			return kinds[i];
	return NULL;
}

void volume_kind_names(char *out, size_t len)
{
	size_t n = sizeof(kinds) / sizeof(kinds[0]), used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
		int w = snprintf(out + used, len - used, "%s%s", sep, kinds[i]->name);
		used += w > 0 ? (size_t)w : 0;
	}
}

/* Drop what is needed only to mount: the key, the secret's contents. */
static void volume_forget_secrets(struct agent_volume *v)
{
	const struct volume_kind_ops *ops = volume_kind_of(v->kind);
	if (ops && ops->forget)
		ops->forget(v);
}

static void volume_free(struct agent_volume *v)
{
	volume_forget_secrets(v);
	free(v);
}

void volume_free_all(struct agent *a)
{
	while (a->volumes) {
		struct agent_volume *v = a->volumes;
		a->volumes = v->next;
		volume_free(v);
	}
}

int volume_define(struct agent *a, const struct request_volume *req, size_t n, struct capsid_error *err)
{
	for (struct agent_volume *v = a->volumes; v; v = v->next)
		if (v->mounted)
			return capsid_error_set(err, EBUSY, "volume %s is mounted: volumes change only across a reboot",
						v->name);
	volume_free_all(a);
	for (size_t i = n; i-- > 0;) {
		const struct request_volume *r = &req[i];
		struct agent_volume *v = calloc(1, sizeof(*v));
		if (!v) {
			volume_free_all(a);
			return capsid_error_errno(err, ENOMEM, "volumes");
		}
		snprintf(v->name, sizeof(v->name), "%s", r->name);
		v->kind = r->kind;
		v->read_only = r->read_only;
		const struct volume_kind_ops *ops = volume_kind_of(r->kind);
		if (ops && ops->define && ops->define(v, r) < 0) {
			volume_free(v);
			volume_free_all(a);
			return capsid_error_errno(err, ENOMEM, "volumes");
		}
		v->next = a->volumes;
		a->volumes = v;
	}
	return 0;
}

static int mount_volume(struct agent *a, struct agent_volume *v, const char *dir, struct capsid_error *err)
{
	const struct volume_kind_ops *ops = volume_kind_of(v->kind);
	if (!ops || !ops->mount)
		return capsid_error_set(err, EINVAL, "unknown kind");
	return ops->mount(a, v, dir, err);
}

int volume_acquire(struct agent *a, const char *name, char path[PATH_MAX], bool *read_only,
		   struct capsid_error *err)
{
	struct agent_volume *v = a->volumes;
	while (v && strcmp(v->name, name) != 0)
		v = v->next;
	if (!v)
		return capsid_error_set(err, ENOENT, "volume %s: not defined by the host", name);
	*read_only = v->read_only;
	snprintf(path, PATH_MAX, AGENT_VOLUMES_DIR "/%s", v->name);
	if (v->mounted)
		return 0;
	if ((mkdir(AGENT_VOLUMES_DIR, 0755) < 0 && errno != EEXIST) || (mkdir(path, 0755) < 0 && errno != EEXIST))
		return capsid_error_errno(err, errno, "volume %s: mkdir %s", v->name, path);
	int rc = mount_volume(a, v, path, err);
	/* Read-only at the mount too: cifs ignores MS_RDONLY from mount(2)
	 * (its superblock came up writable, measured). A bind remount sets
	 * every mount flag, so the volume's own are kept (ST_ and MS_ flags
	 * have the same values). The containers' bind mounts carry "ro"
	 * themselves: the runtime's remount of a bind drops an inherited one. */
	struct statvfs sv;
	if (rc == 0 && v->read_only) {
		unsigned long keep = statvfs(path, &sv) == 0 ? sv.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC) : 0;
		if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL) < 0) {
			rc = capsid_error_errno(err, errno, "make %s read-only", path);
			umount2(path, MNT_DETACH);
		}
	}
	if (rc < 0) {
		rmdir(path);
		return capsid_error_prefix(err, "volume %s", v->name);
	}
	v->mounted = true;
	volume_forget_secrets(v);
	log_info(a, "mounted volume %s%s", v->name, v->read_only ? " (read-only)" : "");
	return 0;
}

void volume_unmount_all(struct agent *a)
{
	for (struct agent_volume *v = a->volumes; v; v = v->next) {
		if (!v->mounted)
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), AGENT_VOLUMES_DIR "/%s", v->name);
		/* A plain unmount writes back what an SMB share or an ext4 disk
		 * still caches; detach only when something still holds it. */
		if (umount2(path, 0) < 0) {
			log_warn(a, "unmount volume %s: %s", v->name, strerror(errno));
			sync();
			umount2(path, MNT_DETACH);
		}
		v->mounted = false;
	}
}
