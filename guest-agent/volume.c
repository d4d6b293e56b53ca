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
#include "container.h"
#include "kmod.h"
#include "util.h"

struct agent_volume {
	struct agent_volume *next;
	char name[AGENT_NAME_MAX + 1];
	enum request_volume_kind kind;
	bool read_only;
	bool mounted;
	char server[16], share[81], username[65];
	char *password; /* cifs: wiped once mounted */
	char serial[AGENT_SERIAL_MAX + 1], fstype[8];
	struct json_object *files; /* secret: name -> base64, released once written */
};

/* Drop what is needed only to mount: the key, the secret's contents. */
static void volume_forget_secrets(struct agent_volume *v)
{
	if (v->password) {
		explicit_bzero(v->password, strlen(v->password));
		free(v->password);
		v->password = NULL;
	}
	if (v->files) {
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
		v->read_only = r->read_only || r->kind == REQUEST_VOLUME_SECRET;
		if (r->kind == REQUEST_VOLUME_CIFS) {
			snprintf(v->server, sizeof(v->server), "%s", r->server);
			snprintf(v->share, sizeof(v->share), "%s", r->share);
			snprintf(v->username, sizeof(v->username), "%s", r->username);
			v->password = strdup(r->password);
		} else if (r->kind == REQUEST_VOLUME_DISK) {
			snprintf(v->serial, sizeof(v->serial), "%s", r->serial);
			snprintf(v->fstype, sizeof(v->fstype), "%s", r->fstype);
			/* erofs cannot be written anyway; say so to mount(2). */
			v->read_only = v->read_only || strcmp(r->fstype, "erofs") == 0;
		} else if (r->kind == REQUEST_VOLUME_SECRET) {
			/* Kept past the request: its body lets go of its reference. */
			v->files = json_object_get(r->files);
		}
		if (r->kind == REQUEST_VOLUME_CIFS && !v->password) {
			volume_free(v);
			volume_free_all(a);
			return capsid_error_errno(err, ENOMEM, "volumes");
		}
		v->next = a->volumes;
		a->volumes = v;
	}
	return 0;
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
		_cleanup_close_ int fd = openat(dfd, fname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
		int rc = fd < 0 ? -errno : util_write_all(fd, buf, (size_t)n);
		explicit_bzero(buf, (size_t)n);
		if (rc < 0)
			return capsid_error_errno(err, -rc, "secret file %s", fname);
	}
	return 0;
}

/* SMB mount options; a ',' in the password is written twice (the cifs
 * option parser's escape). */
static int cifs_options(const struct agent_volume *v, char *out, size_t len)
{
	int n = snprintf(out, len,
			 "vers=3.1.1,ip=%s,username=%s,uid=0,gid=0,file_mode=0777,dir_mode=0777,"
			 "echo_interval=10,password=",
			 v->server, v->username);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	size_t o = (size_t)n;
	for (const char *p = v->password; *p; p++) {
		if (o + 3 >= len)
			return -ENAMETOOLONG;
		out[o++] = *p;
		if (*p == ',')
			out[o++] = ',';
	}
	out[o] = '\0';
	return 0;
}

static const char *cifs_hint(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
		return " (access denied: check storageAccountName and storageAccountKey)";
	case ENOENT:
	case ENXIO:
		return " (no such share on the server)";
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ECONNREFUSED:
	case ENETUNREACH:
		return " (the SMB server cannot be reached)";
	default:
		return "";
	}
}

static int mount_cifs(struct agent *a, struct agent_volume *v, const char *dir, struct capsid_error *err)
{
	if (!a->cifs_ready) {
		/* The SMB client and its crypto are loaded on first use (about
		 * 0.4 s under TCG); a kernel with them built in has an empty list. */
		kmod_load_list(a, KMOD_DIR, KMOD_LIST_CIFS);
		a->cifs_ready = true;
	}
	char source[128], opts[1024];
	snprintf(source, sizeof(source), "//%s/%s", v->server, v->share);
	if (cifs_options(v, opts, sizeof(opts)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "mount options too long");
	unsigned long flags = MS_NOSUID | MS_NODEV | (v->read_only ? MS_RDONLY : 0);
	int rc = mount(source, dir, "cifs", flags, opts);
	int saved = errno;
	explicit_bzero(opts, sizeof(opts));
	if (rc < 0)
		return capsid_error_errno(err, saved, "mount //%s/%s as %s%s", v->server, v->share, v->username,
					  cifs_hint(saved));
	return 0;
}

static int mount_volume(struct agent *a, struct agent_volume *v, const char *dir, struct capsid_error *err)
{
	switch (v->kind) {
	case REQUEST_VOLUME_EMPTY_DIR:
		if (mount("capsid-emptydir", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
			return capsid_error_errno(err, errno, "mount tmpfs");
		return 0;
	case REQUEST_VOLUME_SECRET: {
		/* Written here, then made read-only with every read-only volume
		 * (volume_acquire). */
		if (mount("capsid-secret", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=1m") < 0)
			return capsid_error_errno(err, errno, "mount tmpfs");
		int rc = write_secret_files(v, dir, err);
		if (rc < 0)
			umount2(dir, MNT_DETACH);
		return rc;
	}
	case REQUEST_VOLUME_CIFS:
		return mount_cifs(a, v, dir, err);
	case REQUEST_VOLUME_DISK: {
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
	}
	return capsid_error_set(err, EINVAL, "unknown kind");
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
