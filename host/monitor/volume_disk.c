/* capsidDisk volumes on the host: the disk's qcow2 (capsid disk create),
 * attached under its lock (shared when read-only, exclusive otherwise;
 * monitor_volume.c closes it once QEMU is gone) as a virtio disk the guest
 * mounts as ext4. */
#include "disk.h"
#include "volume_kinds.h"

static int disk_prepare(struct monitor *m, const struct spec_volume *v, struct monitor_volume *mv,
			struct volume_prepare_ctx *ctx, struct capsid_error *err)
{
	(void)ctx;
	int rc = disk_path(m->paths->root, v->disk.volume_name, mv->disk_path, err);
	if (rc < 0)
		return rc;
	rc = disk_lock(m->paths->root, v->disk.volume_name, !v->disk.read_only, m->paths->name, err);
	if (rc < 0)
		return rc;
	mv->lock_fd = rc;
	mv->format = "qcow2";
	mv->readonly = v->disk.read_only;
	return 0;
}

static void disk_describe(const struct spec_volume *v, const struct monitor_volume *mv, struct json_object *o)
{
	(void)v;
	volume_describe_disk(mv, "ext4", o);
}

const struct volume_kind_ops volume_disk_ops = {
    .kind = SPEC_VOLUME_CAPSID_DISK,
    .prepare = disk_prepare,
    .describe = disk_describe,
};
