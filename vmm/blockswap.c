/* A running VM's read-only disk pointed at another file: QMP blockdev-add
 * of the new file's protocol node, then blockdev-reopen of the disk's
 * format node (named on the command line, VMM_DISK_NODE) with that node as
 * its file child. QEMU drops the old file node when nothing uses it. Used
 * by warm start's ready clone (host/monitor/standby.c), which boots with
 * placeholder disks and gets the group's images when a group claims it. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>

#include "cleanup.h"
#include "qmp.h"
#include "vmm.h"

#define QMP_TIMEOUT_MS 5000

/* The file goes to QEMU as a descriptor (QMP add-fd into an fd set it
 * opens as /dev/fdset/N): a confined QEMU sees no image store. Sets of
 * the command line are numbered by descriptor (< 1024 - this range). */
#define FDSET_BASE 1000

static int add_fd(int qmp, size_t fdset_id, const char *path)
{
	_cleanup_close_ int file = open(path, O_RDONLY | O_CLOEXEC);
	if (file < 0)
		return -errno;
	_cleanup_json_ struct json_object *args = json_object_new_object();
	json_object_object_add(args, "fdset-id", json_object_new_int((int)fdset_id));
	json_object_object_add(args, "opaque", json_object_new_string(path));
	return qmp_execute_fd(qmp, "add-fd", args, file, NULL, QMP_TIMEOUT_MS);
}

/* As the command line's disks: cache=none (O_DIRECT), aio=threads. */
static int add_file_node(int fd, const char *node, const char *path)
{
	_cleanup_json_ struct json_object *args = json_object_new_object();
	struct json_object *cache = json_object_new_object();
	json_object_object_add(cache, "direct", json_object_new_boolean(1));
	json_object_object_add(args, "driver", json_object_new_string("file"));
	json_object_object_add(args, "node-name", json_object_new_string(node));
	json_object_object_add(args, "filename", json_object_new_string(path));
	json_object_object_add(args, "read-only", json_object_new_boolean(1));
	json_object_object_add(args, "aio", json_object_new_string("threads"));
	json_object_object_add(args, "cache", cache);
	return qmp_execute(fd, "blockdev-add", args, NULL, QMP_TIMEOUT_MS);
}

static int reopen_on(int fd, const char *format_node, const char *file_node)
{
	_cleanup_json_ struct json_object *args = json_object_new_object();
	struct json_object *opts = json_object_new_array();
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "driver", json_object_new_string("raw"));
	json_object_object_add(o, "node-name", json_object_new_string(format_node));
	json_object_object_add(o, "file", json_object_new_string(file_node));
	json_object_object_add(o, "read-only", json_object_new_boolean(1));
	json_object_array_add(opts, o);
	json_object_object_add(args, "options", opts);
	return qmp_execute(fd, "blockdev-reopen", args, NULL, QMP_TIMEOUT_MS);
}

/* Later replacements of a slot (pods: a freed slot taken again) need
 * their own fd set and file node: the previous ones may still be named. */
#define FDSET_GEN_BASE 100000

int vmm_replace_disk_gen(const char *qmp_socket, size_t slot, unsigned gen, const char *path,
			 struct capsid_error *err)
{
	char format_node[32], file_node[48];
	snprintf(format_node, sizeof(format_node), VMM_DISK_NODE, slot);
	if (gen == 0)
		snprintf(file_node, sizeof(file_node), "disk%zu-file", slot);
	else
		snprintf(file_node, sizeof(file_node), "disk%zu-file-g%u", slot, gen);
	size_t fdset_id = gen == 0 ? FDSET_BASE + slot : FDSET_GEN_BASE + (size_t)gen * VMM_MAX_DISKS + slot;
	_cleanup_close_ int fd = qmp_connect(qmp_socket, QMP_TIMEOUT_MS);
	if (fd < 0)
		return capsid_error_errno(err, -fd, "connect to QMP %s", qmp_socket);
	char fdset[32];
	snprintf(fdset, sizeof(fdset), "/dev/fdset/%zu", fdset_id);
	int rc = add_fd(fd, fdset_id, path);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "disk %zu: QMP add-fd %s", slot, path);
	rc = add_file_node(fd, file_node, fdset);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "disk %zu: QMP blockdev-add %s", slot, path);
	rc = reopen_on(fd, format_node, file_node);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "disk %zu: QMP blockdev-reopen onto %s", slot, path);
	return 0;
}

int vmm_replace_disk(const char *qmp_socket, size_t slot, const char *path, struct capsid_error *err)
{
	return vmm_replace_disk_gen(qmp_socket, slot, 0, path, err);
}
