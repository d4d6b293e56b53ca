/* The group's volumes in the guest. The host describes them once per boot
 * (the VOLUMES request, kept in memory); each is mounted under
 * /run/capsid/volumes/NAME the first time a container mounts it and stays
 * mounted until the VM stops, so an emptyDir is shared by the group's
 * containers and outlives their restarts, and a volume that fails to mount
 * (a wrong key, a missing share) fails only the containers that use it,
 * with a message naming the volume, and is tried again on their restart.
 *
 *   emptyDir  tmpfs, mode 1777 (any user of any container may write)
 *   secret    tmpfs, the files decoded from base64 here (the clear text
 *             exists only in guest memory), mode 0400, owner root
 *   cifs      //SERVER/SHARE over SMB 3.1.1 with the account's name and
 *             key; the key travels only over the agent channel and is
 *             wiped from memory once the mount is made
 *   disk      a virtio-blk disk found by its serial: the erofs image of a
 *             gitRepo (always read-only) or a capsidDisk (ext4)
 *
 * Containers get bind mounts of these (CREATE's "mounts"); a readOnly
 * mount is read-only in the container whatever the volume is. Each kind
 * has its own file (volume_kinds.h). */
#ifndef AGENT_VOLUME_H
#define AGENT_VOLUME_H

#include <limits.h>
#include <stdbool.h>

#include "error.h"
#include "request.h"

struct agent;

#define AGENT_VOLUMES_DIR "/run/capsid/volumes"

/* Replace the volume definitions (VOLUMES). Refused while any volume is
 * mounted: definitions change only across a reboot. */
int volume_define(struct agent *a, const struct request_volume *v, size_t n, struct capsid_error *err);
/* Mount the volume if it is not mounted yet; *path gets where it is and
 * *read_only whether the volume is read-only (containers must then bind it
 * with "ro": the runtime's remount of a bind mount would drop the flag). */
int volume_acquire(struct agent *a, const char *name, char path[PATH_MAX], bool *read_only,
		   struct capsid_error *err);
/* Unmount every volume (shutdown: flushes SMB and ext4 writes). */
void volume_unmount_all(struct agent *a);
/* Forget the definitions (their secrets are wiped). */
void volume_free_all(struct agent *a);

#endif
