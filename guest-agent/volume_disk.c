/* disk volumes in the guest: a virtio-blk disk found by its serial, the
 * erofs image of a gitRepo (always read-only) or a capsidDisk (ext4). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "container.h"
#include "volume_kinds.h"

/* {"serial", "fstype": "erofs" | "ext4"}. */
static int disk_check(struct json_object *o, struct request_volume *r, struct capsid_error *err)
{
	int rc;
	if ((rc = request_get_string(o, "serial", true, 64, &r->serial, err)) < 0 ||
	    (rc = request_get_string(o, "fstype", true, 16, &r->fstype, err)) < 0)
		return rc;
	if (!request_valid_serial(r->serial))
		return capsid_error_set(err, EINVAL, "serial: not a disk serial of at most %d characters",
					AGENT_SERIAL_MAX);
	if (strcmp(r->fstype, "erofs") != 0 && strcmp(r->fstype, "ext4") != 0)
		return capsid_error_set(err, EINVAL, "fstype: \"%.16s\" is neither erofs nor ext4",
					r->fstype);
	return 0;
}

static int disk_define(struct agent_volume *v, const struct request_volume *r)
{
	snprintf(v->serial, sizeof(v->serial), "%s", r->serial);
	snprintf(v->fstype, sizeof(v->fstype), "%s", r->fstype);
	/* erofs cannot be written anyway; say so to mount(2). */
	v->read_only = v->read_only || strcmp(r->fstype, "erofs") == 0;
	return 0;
}

static int disk_mount(struct agent *a, struct agent_volume *v, const char *dir, struct capsid_error *err)
{
	(void)a;
	char dev[PATH_MAX];
	int rc = container_find_disk(v->serial, dev, sizeof(dev), err);
	if (rc < 0)
		return rc;
	/* A read-only ext4 cannot replay its journal: "noload". */
	const char *opts = v->read_only && strcmp(v->fstype, "ext4") == 0 ? "noload" : NULL;
	unsigned long flags = MS_NOSUID | MS_NODEV | (v->read_only ? MS_RDONLY : 0);
	if (mount(dev, dir, v->fstype, flags, opts) < 0)
		return capsid_error_errno(err, errno, "mount %s disk %s (%s)", v->fstype, v->serial, dev);
	return 0;
}

const struct volume_kind_ops volume_disk_ops = {
    .kind = REQUEST_VOLUME_DISK,
    .name = "disk",
    .check = disk_check,
    .define = disk_define,
    .mount = disk_mount,
};
