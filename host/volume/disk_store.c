/* Persistent disks for volumes (see disk.h), the part without libguestfs:
 * names, the files under <root>/volumes/ (NAME.qcow2, NAME.json, NAME.lock),
 * list, remove, path and the attach lock. The monitor and the CLI link
 * this; the operations that boot the libguestfs appliance (create, copy in
 * and out) are in disk.c, linked only into the capsid-disk helper. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "disk_internal.h"
#include "util.h"

#define INFO_MAX 4096 /* NAME.json is ours, but reads stay bounded */

bool disk_name_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;
	return len >= 1 && len <= DISK_NAME_MAX && name[0] != '-' && name[len - 1] != '-' &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

/* A name fit to quote in a message: printable, cut at 64 characters. */
const char *disk_quoted(const char *s, char buf[72])
{
	size_t i = 0;
	for (; s && s[i] && i < 64; i++)
		buf[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	buf[i] = '\0';
	if (s && s[i])
		snprintf(buf + i, 72 - i, "...");
	return buf;
}

int disk_check_name(const char *name, struct capsid_error *err)
{
	char q[72];
	if (!disk_name_valid(name))
		return capsid_error_set(
		    err, EINVAL,
		    "volume name \"%s\": use 1-63 lowercase letters, digits or '-', not starting "
		    "or ending with '-'",
		    disk_quoted(name, q));
	return 0;
}

int disk_paths_init(const char *root, const char *name, struct disk_paths *p, struct capsid_error *err)
{
	if (!root || root[0] != '/')
		return capsid_error_set(err, EINVAL, "the state root must be an absolute path");
	if (name && disk_check_name(name, err) < 0)
		return -EINVAL;
	/* Room for "/NAME.qcow2" (and a temporary suffix) after the dir. */
	if ((size_t)snprintf(p->dir, sizeof(p->dir), "%s/volumes", root) >=
	    sizeof(p->dir) - DISK_NAME_MAX - 32)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	if (name &&
	    ((size_t)snprintf(p->qcow2, sizeof(p->qcow2), "%s/%s.qcow2", p->dir, name) >= sizeof(p->qcow2) ||
	     (size_t)snprintf(p->json, sizeof(p->json), "%s/%s.json", p->dir, name) >= sizeof(p->json) ||
	     (size_t)snprintf(p->lock, sizeof(p->lock), "%s/%s.lock", p->dir, name) >= sizeof(p->lock)))
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	return 0;
}

bool disk_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

int disk_no_volume(const char *name, struct capsid_error *err)
{
	return capsid_error_set(err, ENOENT, "no volume %s (capsid volume create)", name);
}

int disk_paths_existing(const char *root, const char *name, struct disk_paths *p, struct capsid_error *err)
{
	int rc = disk_paths_init(root, name, p, err);
	if (rc < 0)
		return rc;
	return disk_exists(p->json) ? 0 : disk_no_volume(name, err);
}

/* ---- NAME.json ----------------------------------------------------------- */

int disk_write_info(const struct disk_paths *p, const char *name, uint64_t size, struct capsid_error *err)
{
	char created[40];
	util_now_rfc3339(created);
	_cleanup_json_ struct json_object *o = json_object_new_object();
	if (!o || json_object_object_add(o, "name", json_object_new_string(name)) < 0 ||
	    json_object_object_add(o, "sizeBytes", json_object_new_int64((int64_t)size)) < 0 ||
	    json_object_object_add(o, "created", json_object_new_string(created)) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	int rc = util_write_file_atomic(p->json, text, strlen(text), 0600);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "write %s", p->json);
	return 0;
}

static int read_info(const struct disk_paths *p, const char *name, struct disk_info *info,
		     struct capsid_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int rc = util_read_file_at(AT_FDCWD, p->json, INFO_MAX, &text, &len);
	if (rc == -ENOENT)
		return disk_no_volume(name, err);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "read %s", p->json);
	_cleanup_json_ struct json_object *o = json_tokener_parse(text);
	struct json_object *size = NULL, *created = NULL;
	if (!o || !json_object_object_get_ex(o, "sizeBytes", &size) ||
	    !json_object_is_type(size, json_type_int) || json_object_get_int64(size) <= 0 ||
	    !json_object_object_get_ex(o, "created", &created) ||
	    !json_object_is_type(created, json_type_string))
		return capsid_error_set(err, EINVAL, "%s: not a volume description", p->json);
	*info = (struct disk_info){.size_bytes = (uint64_t)json_object_get_int64(size)};
	snprintf(info->name, sizeof(info->name), "%s", name);
	snprintf(info->created, sizeof(info->created), "%s", json_object_get_string(created));
	return 0;
}

/* ---- remove, list, path, lock ------------------------------------------- */

int disk_remove(const char *root, const char *name, struct capsid_error *err)
{
	struct disk_paths p;
	int rc = disk_paths_existing(root, name, &p, err);
	if (rc < 0)
		return rc;
	_cleanup_close_ int lock = disk_lock_take(&p, name, true, DISK_HOLDER_OP, "capsid volume rm", err);
	if (lock < 0)
		return lock;
	bool was = disk_exists(p.json);
	/* NAME.json goes first: from then on the volume does not exist, and a
	 * crash before the rest is cleaned up by the next create. */
	if (was && unlink(p.json) < 0)
		return capsid_error_errno(err, errno, "remove %s", p.json);
	if (unlink(p.qcow2) < 0 && errno != ENOENT)
		return capsid_error_errno(err, errno, "remove %s", p.qcow2);
	unlink(p.lock);
	return was ? 0 : disk_no_volume(name, err);
}

int disk_path(const char *root, const char *name, char out[PATH_MAX], struct capsid_error *err)
{
	struct disk_paths p;
	int rc = disk_paths_existing(root, name, &p, err);
	if (rc < 0)
		return rc;
	snprintf(out, PATH_MAX, "%s", p.qcow2);
	return 0;
}

int disk_lock(const char *root, const char *name, bool rw, const char *holder, struct capsid_error *err)
{
	struct disk_paths p;
	char q[72];
	if (!disk_name_valid(holder))
		return capsid_error_set(err, EINVAL, "holder \"%s\": must be a group name",
					disk_quoted(holder, q));
	int rc = disk_paths_existing(root, name, &p, err);
	if (rc < 0)
		return rc;
	_cleanup_close_ int lock = disk_lock_take(&p, name, rw, DISK_HOLDER_GROUP, holder, err);
	if (lock < 0)
		return lock;
	/* Removed between the check and the lock: our open may have made a
	 * new lock file, which guards nothing (a create in progress would
	 * have refused us: it holds the lock until NAME.json exists). */
	if (!disk_exists(p.json)) {
		unlink(p.lock);
		return disk_no_volume(name, err);
	}
	return TAKE_FD(lock);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct disk_info *)a)->name, ((const struct disk_info *)b)->name);
}

int disk_list(const char *root, struct disk_info **out, size_t *n, struct capsid_error *err)
{
	*out = NULL;
	*n = 0;
	struct disk_paths dir;
	int rc = disk_paths_init(root, NULL, &dir, err);
	if (rc < 0)
		return rc;
	DIR *d = opendir(dir.dir);
	if (!d)
		return errno == ENOENT ? 0 : capsid_error_errno(err, errno, "open %s", dir.dir);
	_cleanup_free_ struct disk_info *list = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char name[DISK_NAME_MAX + 1];
		if (len <= 5 || len - 5 > DISK_NAME_MAX || strcmp(de->d_name + len - 5, ".json"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 5), de->d_name);
		struct disk_paths p;
		if (!disk_name_valid(name) || disk_paths_init(root, name, &p, NULL) < 0)
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 8;
			struct disk_info *grown = reallocarray(list, cap, sizeof(*list));
			if (!grown) {
				closedir(d);
				return capsid_error_set(err, ENOMEM, "out of memory");
			}
			list = grown;
		}
		struct capsid_error skip = {0};
		if (read_info(&p, name, &list[count], &skip) < 0)
			continue; /* removed meanwhile, or not ours */
		disk_lock_describe(p.lock, list[count].attached_by, sizeof(list[count].attached_by));
		count++;
	}
	closedir(d);
	if (count)
		qsort(list, count, sizeof(*list), by_name);
	*out = TAKE_PTR(list);
	*n = count;
	return 0;
}
