/* Warm start: save and restore a VM's device state over QMP (QEMU's
 * migration to and from a file). The guest RAM is not in the stream: it is
 * in a memory-backend-file the template shares (share=on), and the
 * x-ignore-shared capability leaves shared RAM out; a clone maps the same
 * file copy-on-write. Measured in BENCHMARKS.md ("Warm start by VM
 * templating"): ~50 KB of state for a 256 MiB guest. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "qmp.h"
#include "util.h"
#include "vmm.h"

#define QMP_CMD_TIMEOUT_MS 5000

/* QEMU creates its QMP socket a moment after exec: retry until it is there. */
static int connect_retry(const char *qmp_socket, unsigned timeout_ms)
{
	uint64_t deadline = util_now_ms() + timeout_ms;
	for (;;) {
		/* A QEMU that has just started may accept before its main loop
		 * greets (past 5 s on a loaded host, in unit.vmm): the greeting gets what
		 * is left of the whole wait. */
		uint64_t now = util_now_ms();
		unsigned left = now < deadline ? (unsigned)(deadline - now) : 0;
		int fd = qmp_connect(qmp_socket, left > QMP_CMD_TIMEOUT_MS ? left : QMP_CMD_TIMEOUT_MS);
		/* Not there yet, not listening yet, or not greeting yet (a
		 * refused, timed-out or dropped first try was seen on a loaded
		 * host): again until the deadline. */
		bool again = fd == -ENOENT || fd == -ECONNREFUSED || fd == -ETIMEDOUT || fd == -EAGAIN ||
			     fd == -EPIPE || fd == -ECONNRESET;
		if (fd >= 0 || !again || util_now_ms() >= deadline)
			return fd;
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static int ignore_shared(int fd)
{
	_cleanup_json_ struct json_object *args = json_object_new_object();
	struct json_object *caps = json_object_new_array();
	struct json_object *cap = json_object_new_object();
	json_object_object_add(cap, "capability", json_object_new_string("x-ignore-shared"));
	json_object_object_add(cap, "state", json_object_new_boolean(1));
	json_object_array_add(caps, cap);
	json_object_object_add(args, "capabilities", caps);
	return qmp_execute(fd, "migrate-set-capabilities", args, NULL, QMP_CMD_TIMEOUT_MS);
}

/* QEMU 7.2 has no file: URI. The state file goes to QEMU as a descriptor
 * (QMP getfd on this connection, then the fd: URI): no shell to spawn
 * (a confined QEMU may not), no path for QEMU to open. */
#define STATE_FD_NAME "capsid-state"

static int pass_state_file(int qmp, bool save, const char *path)
{
	_cleanup_close_ int file = save ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
					: open(path, O_RDONLY | O_CLOEXEC);
	if (file < 0)
		return -errno;
	_cleanup_json_ struct json_object *args = json_object_new_object();
	json_object_object_add(args, "fdname", json_object_new_string(STATE_FD_NAME));
	return qmp_execute_fd(qmp, "getfd", args, file, NULL, QMP_CMD_TIMEOUT_MS);
}

static int uri_command(int fd, const char *command, const char *uri)
{
	_cleanup_json_ struct json_object *args = json_object_new_object();
	json_object_object_add(args, "uri", json_object_new_string(uri));
	return qmp_execute(fd, command, args, NULL, QMP_CMD_TIMEOUT_MS);
}

/* Poll query-migrate until "completed"; both sides report there. */
static int wait_migration(int fd, unsigned timeout_ms, char *status, size_t len)
{
	uint64_t deadline = util_now_ms() + timeout_ms;
	snprintf(status, len, "none");
	for (;;) {
		_cleanup_json_ struct json_object *r = NULL;
		int rc = qmp_execute(fd, "query-migrate", NULL, &r, QMP_CMD_TIMEOUT_MS);
		if (rc < 0)
			return rc;
		struct json_object *st;
		if (json_object_object_get_ex(r, "status", &st))
			snprintf(status, len, "%s", json_object_get_string(st));
		if (strcmp(status, "completed") == 0)
			return 0;
		if (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0)
			return -EIO;
		if (util_now_ms() >= deadline)
			return -ETIMEDOUT;
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int vmm_save_state(const char *qmp_socket, const char *path, unsigned timeout_ms, struct capsid_error *err)
{
	const char *uri = "fd:" STATE_FD_NAME;
	int rc;
	_cleanup_close_ int fd = connect_retry(qmp_socket, timeout_ms);
	if (fd < 0)
		return capsid_error_errno(err, fd, "connect to QMP %s", qmp_socket);
	/* Paused first: the saved state is one consistent instant. */
	if ((rc = qmp_execute(fd, "stop", NULL, NULL, QMP_CMD_TIMEOUT_MS)) < 0)
		return capsid_error_errno(err, rc, "QMP stop");
	if ((rc = pass_state_file(fd, true, path)) < 0)
		return capsid_error_errno(err, rc, "state file %s to QEMU", path);
	if ((rc = ignore_shared(fd)) < 0)
		return capsid_error_errno(err, rc, "QMP migrate-set-capabilities x-ignore-shared");
	if ((rc = uri_command(fd, "migrate", uri)) < 0)
		return capsid_error_errno(err, rc, "QMP migrate");
	char status[32];
	if ((rc = wait_migration(fd, timeout_ms, status, sizeof(status))) < 0)
		return capsid_error_errno(err, rc, "saving the VM state (migration %s)", status);
	return 0;
}

int vmm_restore_state(const char *qmp_socket, const char *path, unsigned timeout_ms, struct capsid_error *err)
{
	const char *uri = "fd:" STATE_FD_NAME;
	int rc;
	_cleanup_close_ int fd = connect_retry(qmp_socket, timeout_ms);
	if (fd < 0)
		return capsid_error_errno(err, fd, "connect to QMP %s", qmp_socket);
	if ((rc = pass_state_file(fd, false, path)) < 0)
		return capsid_error_errno(err, rc, "state file %s to QEMU", path);
	if ((rc = ignore_shared(fd)) < 0)
		return capsid_error_errno(err, rc, "QMP migrate-set-capabilities x-ignore-shared");
	if ((rc = uri_command(fd, "migrate-incoming", uri)) < 0)
		return capsid_error_errno(err, rc, "QMP migrate-incoming");
	char status[32];
	if ((rc = wait_migration(fd, timeout_ms, status, sizeof(status))) < 0)
		return capsid_error_errno(err, rc, "restoring the VM state (migration %s)", status);
	/* The template was saved paused, so the clone is paused after the load. */
	if ((rc = qmp_execute(fd, "cont", NULL, NULL, QMP_CMD_TIMEOUT_MS)) < 0)
		return capsid_error_errno(err, rc, "QMP cont");
	return 0;
}
