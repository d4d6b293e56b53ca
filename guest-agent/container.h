/* A container's files in the guest: its image disk mounted read-only (once
 * per disk serial, shared), a per-container tmpfs holding the OCI bundle
 * (config.json, hosts, resolv.conf) and the overlay's upper and work dirs,
 * and the overlay rootfs itself:
 *
 *   /run/capsid/images/<serial>               image (erofs/ext4, ro)
 *   /run/capsid/containers/<name>/            tmpfs: the bundle
 *       config.json hosts resolv.conf hostname pid upper/ work/
 *       rootfs/                               overlay(image, upper)
 */
#ifndef AGENT_CONTAINER_H
#define AGENT_CONTAINER_H

#include <stddef.h>

#include "agent.h"
#include "error.h"
#include "request.h"

struct json_object;

/* bundle path of a container, with an optional leaf ("config.json"). */
int container_path(char *out, size_t len, const char *name, const char *leaf);

/* Mount the image and the overlay, resolve the user in the image, and write
 * the bundle. On failure everything made is undone. */
int container_prepare(struct agent *a, const struct request_create *req, struct capsid_error *err);

/* Undo container_prepare (idempotent). */
void container_teardown(struct agent *a, const char *name, const char *serial);

/* Write an exec's process.json into the container's bundle at path, with
 * its user resolved in the container's rootfs. */
int container_write_exec(struct agent *a, const struct request_exec *req, const char *path,
			 struct capsid_error *err);

/* {"name": {"memoryBytes","cpuUsageUsec","pids"}} for every container. */
struct json_object *container_stats(struct agent *a);

/* The /dev path of the virtio disk with this serial, waiting briefly for
 * the kernel to probe it. */
int container_find_disk(const char *serial, char *dev, size_t len, struct capsid_error *err);
/* Read every disk's serial now (at boot: a warm-start template keeps them). */
int container_scan_disks(void);

/* Unmount every image (shutdown). */
void container_unmount_images(struct agent *a);

#endif
