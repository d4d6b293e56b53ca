/* emptyDir volumes in the guest: a tmpfs, mode 1777 (any user of any
 * container may write), shared by the group's containers. */
#include <errno.h>
#include <sys/mount.h>

#include "volume_kinds.h"

static int emptydir_mount(struct agent *a, struct agent_volume *v, const char *dir, struct capsid_error *err)
{
	(void)a;
	(void)v;
	if (mount("capsid-emptydir", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		return capsid_error_errno(err, errno, "mount tmpfs");
	return 0;
}

const struct volume_kind_ops volume_emptydir_ops = {
    .kind = REQUEST_VOLUME_EMPTY_DIR,
    .name = "emptyDir",
    .mount = emptydir_mount,
};
