/* secret volumes in the guest: a tmpfs with the files decoded from base64
 * here (the clear text exists only in guest memory), mode 0400, owner root;
 * always read-only. The definition's contents are wiped once written. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"
#include "volume_kinds.h"

/* {"files": {NAME: base64}}: plain file names; contents are never echoed. */
static bool valid_file_name(const char *s)
{
	return *s && strlen(s) <= 255 && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int secret_check(struct json_object *o, struct request_volume *r, struct capsid_error *err)
{
	int rc = request_field(o, "files", true, &r->files, err);
	if (rc < 0)
		return rc;
	if (!json_object_is_type(r->files, json_type_object))
		return capsid_error_set(err, EINVAL, "files: not an object");
	if (json_object_object_length(r->files) > REQUEST_MAX_SECRET_FILES)
		return capsid_error_set(err, E2BIG, "files: more than %d", REQUEST_MAX_SECRET_FILES);
	json_object_object_foreach(r->files, fname, data)
	{
		if (!valid_file_name(fname))
			return capsid_error_set(err, EINVAL, "files: \"%.64s\" is not a plain file name",
						fname);
		if (!json_object_is_type(data, json_type_string) ||
		    (size_t)json_object_get_string_len(data) > REQUEST_MAX_STRING)
			return capsid_error_set(err, EINVAL, "files.%s: not a string of at most %u bytes",
						fname, REQUEST_MAX_STRING);
	}
	return 0;
}

static int secret_define(struct agent_volume *v, const struct request_volume *r)
{
	v->read_only = true;
	/* Kept past the request: its body lets go of its reference. */
	v->files = json_object_get(r->files);
	return 0;
}

static void secret_forget(struct agent_volume *v)
{
	if (!v->files)
		return;
	json_object_object_foreach(v->files, k, data)
	{
		(void)k;
		/* The strings are json-c's own buffers: wipe them before release. */
		char *s = (char *)json_object_get_string(data);
		explicit_bzero(s, strlen(s));
	}
	json_object_put(v->files);
	v->files = NULL;
}

static int write_secret_files(struct agent_volume *v, const char *dir, struct capsid_error *err)
{
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return capsid_error_errno(err, errno, "open %s", dir);
	json_object_object_foreach(v->files, fname, data)
	{
		const char *text = json_object_get_string(data);
		size_t len = strlen(text);
		_cleanup_free_ uint8_t *buf = malloc(len / 4 * 3 + 1);
		if (!buf)
			return capsid_error_errno(err, ENOMEM, "secret file %s", fname);
		ssize_t n = util_base64_decode(text, len, buf);
		if (n < 0)
			return capsid_error_set(err, EINVAL, "secret file %s: not base64", fname);
		_cleanup_close_ int fd =
		    openat(dfd, fname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
		int rc = fd < 0 ? -errno : util_write_all(fd, buf, (size_t)n);
		explicit_bzero(buf, (size_t)n);
		if (rc < 0)
			return capsid_error_errno(err, -rc, "secret file %s", fname);
	}
	return 0;
}

static int secret_mount(struct agent *a, struct agent_volume *v, const char *dir, struct capsid_error *err)
{
	(void)a;
	/* Written here, then made read-only with every read-only volume
	 * (volume_acquire). */
	if (mount("capsid-secret", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=1m") < 0)
		return capsid_error_errno(err, errno, "mount tmpfs");
	int rc = write_secret_files(v, dir, err);
	if (rc < 0)
		umount2(dir, MNT_DETACH);
	return rc;
}

const struct volume_kind_ops volume_secret_ops = {
    .kind = REQUEST_VOLUME_SECRET,
    .name = "secret",
    .check = secret_check,
    .define = secret_define,
    .mount = secret_mount,
    .forget = secret_forget,
};
