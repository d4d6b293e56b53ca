#include "container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "oci.h"
#include "security.h"
#include "user.h"
#include "util.h"
#include "volume.h"

/* virtio-blk probes its disks while the module loads; allow a little slack
 * for a slow guest anyway. */
#define DISK_WAIT_MS 3000

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

int container_path(char *out, size_t len, const char *name, const char *leaf)
{
	int n = leaf ? snprintf(out, len, AGENT_CONTAINERS_DIR "/%s/%s", name, leaf)
		     : snprintf(out, len, AGENT_CONTAINERS_DIR "/%s", name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The guest reads a virtio-blk serial from the device, a request to QEMU,
 * each time: a lookup among 4 disks took ~20 ms under TCG. A VM's disks
 * never change (no hotplug), so the serials read once are kept; a serial
 * not among them makes a new scan (a restored clone's disks carry the
 * group's serials, not those the template read). */
#define DISK_CACHE_MAX 16

static struct {
	char serial[64];
	char dev[16];
} disk_cache[DISK_CACHE_MAX];
static size_t n_disk_cache;

int container_scan_disks(void)
{
	_cleanup_(closedirp) DIR *d = opendir("/sys/block");
	if (!d)
		return -errno;
	n_disk_cache = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n_disk_cache < DISK_CACHE_MAX) {
		if (strncmp(e->d_name, "vd", 2) != 0 || strlen(e->d_name) >= sizeof(disk_cache[0].dev) - 5)
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "/sys/block/%s/serial", e->d_name);
		_cleanup_free_ char *s = NULL;
		if (util_read_file_at(AT_FDCWD, path, 256, &s, NULL) < 0)
			continue;
		s[strcspn(s, "\n")] = '\0';
		snprintf(disk_cache[n_disk_cache].serial, sizeof(disk_cache[0].serial), "%s", s);
		snprintf(disk_cache[n_disk_cache].dev, sizeof(disk_cache[0].dev), "/dev/%s", e->d_name);
		n_disk_cache++;
	}
	return 0;
}

static int cached_disk(const char *serial, char *dev, size_t len)
{
	for (size_t i = 0; i < n_disk_cache; i++)
		if (strcmp(disk_cache[i].serial, serial) == 0) {
			snprintf(dev, len, "%s", disk_cache[i].dev);
			return 0;
		}
	return -ENOENT;
}

/* The block device whose virtio serial is `serial` (/sys/block/vdX/serial). */
static int find_disk(const char *serial, char *dev, size_t len)
{
	if (cached_disk(serial, dev, len) == 0)
		return 0;
	int rc = container_scan_disks();
	return rc < 0 ? rc : cached_disk(serial, dev, len);
}

int container_find_disk(const char *serial, char *dev, size_t len, struct capsid_error *err)
{
	uint64_t deadline = util_now_ms() + DISK_WAIT_MS;
	int rc;
	while ((rc = find_disk(serial, dev, len)) == -ENOENT && util_now_ms() < deadline) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (rc < 0)
		return capsid_error_set(err, ENODEV, "disk with serial %s: %s", serial,
					rc == -ENOENT ? "no such disk" : strerror(-rc));
	return 0;
}

static int image_acquire(struct agent *a, const char *serial, const char *fstype, struct capsid_error *err)
{
	for (struct image_mount *m = a->images; m; m = m->next)
		if (strcmp(m->serial, serial) == 0) {
			m->users++;
			return 0;
		}
	char dev[PATH_MAX];
	int rc = container_find_disk(serial, dev, sizeof(dev), err);
	if (rc < 0)
		return capsid_error_prefix(err, "image");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), AGENT_IMAGES_DIR "/%s", serial);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return capsid_error_errno(err, errno, "mkdir %s", path);
	/* ext4: "noload" skips journal replay, impossible on a read-only disk. */
	const char *opts = strcmp(fstype, "ext4") == 0 ? "noload" : NULL;
	if (mount(dev, path, fstype, MS_RDONLY | MS_NODEV, opts) < 0) {
		int saved = errno;
		rmdir(path);
		return capsid_error_errno(err, saved, "mount %s image %s (%s)", fstype, serial, dev);
	}
	struct image_mount *m = calloc(1, sizeof(*m));
	if (!m) {
		umount2(path, MNT_DETACH);
		return capsid_error_errno(err, ENOMEM, "image");
	}
	snprintf(m->serial, sizeof(m->serial), "%s", serial);
	m->users = 1;
	m->next = a->images;
	a->images = m;
	log_debug(a, "mounted image %s (%s) from %s", serial, fstype, dev);
	return 0;
}

static void image_release(struct agent *a, const char *serial)
{
	for (struct image_mount **p = &a->images; *p; p = &(*p)->next) {
		struct image_mount *m = *p;
		if (strcmp(m->serial, serial) != 0)
			continue;
		if (--m->users > 0)
			return;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), AGENT_IMAGES_DIR "/%s", serial);
		if (umount2(path, 0) < 0 && umount2(path, MNT_DETACH) < 0)
			log_warn(a, "unmount image %s: %s", serial, strerror(errno));
		rmdir(path);
		*p = m->next;
		free(m);
		return;
	}
}

void container_unmount_images(struct agent *a)
{
	while (a->images) {
		a->images->users = 1;
		image_release(a, a->images->serial);
	}
}

static int write_file(const char *dir, const char *leaf, const char *data, struct capsid_error *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, leaf);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return capsid_error_errno(err, errno, "create %s", path);
	int rc = util_write_all(fd, data, strlen(data));
	if (rc < 0)
		return capsid_error_errno(err, -rc, "write %s", path);
	return 0;
}

static int write_json(const char *path, struct json_object *o, struct capsid_error *err)
{
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	if (!s)
		return capsid_error_errno(err, ENOMEM, "serialise %s", path);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return capsid_error_errno(err, errno, "create %s", path);
	int rc = util_write_all(fd, s, len);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "write %s", path);
	return 0;
}

static int write_network_files(struct agent *a, const char *bundle, const struct request_create *req,
			       const char *hostname, struct capsid_error *err)
{
	char hosts[4096];
	if (agent_net_hosts(&a->net, hostname, hosts, sizeof(hosts)) < 0)
		return capsid_error_set(err, ENOSPC, "/etc/hosts of %s does not fit", req->container);
	int rc = write_file(bundle, "hosts", hosts, err);
	if (rc < 0)
		return rc;
	char line[128];
	snprintf(line, sizeof(line), "%s\n", hostname);
	rc = write_file(bundle, "hostname", line, err);
	if (rc < 0)
		return rc;

	/* Nameservers from the request, else the guest's own configuration
	 * (written by whoever configured the guest network), else none. */
	char resolv[1024] = "";
	size_t n = req->dns ? json_object_array_length(req->dns) : 0;
	for (size_t i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "nameserver %s\n",
			 json_object_get_string(json_object_array_get_idx(req->dns, i)));
		strncat(resolv, line, sizeof(resolv) - strlen(resolv) - 1);
	}
	_cleanup_free_ char *guest = NULL;
	if (n == 0 && util_read_file_at(AT_FDCWD, "/etc/resolv.conf", 64 * 1024, &guest, NULL) == 0)
		return write_file(bundle, "resolv.conf", guest, err);
	return write_file(bundle, "resolv.conf", resolv, err);
}

static int make_rootfs(const struct request_create *req, struct capsid_error *err)
{
	char bundle[PATH_MAX], upper[PATH_MAX], work[PATH_MAX], rootfs[PATH_MAX], lower[PATH_MAX];
	if (container_path(bundle, sizeof(bundle), req->container, NULL) < 0 ||
	    container_path(upper, sizeof(upper), req->container, "upper") < 0 ||
	    container_path(work, sizeof(work), req->container, "work") < 0 ||
	    container_path(rootfs, sizeof(rootfs), req->container, "rootfs") < 0)
		return capsid_error_set(err, ENAMETOOLONG, "bundle path too long");
	snprintf(lower, sizeof(lower), AGENT_IMAGES_DIR "/%s", req->serial);
	if (mkdir(bundle, 0700) < 0 && errno != EEXIST)
		return capsid_error_errno(err, errno, "mkdir %s", bundle);
	/* A tmpfs per container: its writes are charged to its own memory
	 * cgroup, and deleting it is one unmount. */
	if (mount("capsid-bundle", bundle, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0711") < 0)
		return capsid_error_errno(err, errno, "mount bundle tmpfs");
	if (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0 || mkdir(rootfs, 0755) < 0)
		return capsid_error_errno(err, errno, "mkdir in %s", bundle);
	char opts[4 * PATH_MAX];
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
	if (mount("overlay", rootfs, "overlay", 0, opts) < 0)
		return capsid_error_errno(err, errno, "mount overlay rootfs");
	return 0;
}

/* Everything after the image mount; the caller undoes it on failure. */
static int make_bundle(struct agent *a, const struct request_create *req, struct capsid_error *err)
{
	char bundle[PATH_MAX], rootfs[PATH_MAX], config[PATH_MAX];
	char hosts[PATH_MAX], resolv[PATH_MAX], hostname_file[PATH_MAX], cgroup[128];
	if (container_path(bundle, sizeof(bundle), req->container, NULL) < 0 ||
	    container_path(rootfs, sizeof(rootfs), req->container, "rootfs") < 0 ||
	    container_path(config, sizeof(config), req->container, "config.json") < 0 ||
	    container_path(hosts, sizeof(hosts), req->container, "hosts") < 0 ||
	    container_path(resolv, sizeof(resolv), req->container, "resolv.conf") < 0 ||
	    container_path(hostname_file, sizeof(hostname_file), req->container, "hostname") < 0)
		return capsid_error_set(err, ENAMETOOLONG, "bundle path too long");
	int rc = make_rootfs(req, err);
	if (rc < 0)
		return rc;

	_cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return capsid_error_errno(err, errno, "open %s", rootfs);
	struct user_ids ids;
	rc = user_resolve(rootfd, req->proc.user, &ids, err);
	if (rc < 0)
		return rc;

	struct oci_mount mounts[REQUEST_MAX_MOUNTS];
	char sources[REQUEST_MAX_MOUNTS][PATH_MAX];
	for (size_t i = 0; i < req->n_mounts; i++) {
		bool volume_ro = false;
		rc = volume_acquire(a, req->mounts[i].volume, sources[i], &volume_ro, err);
		if (rc < 0)
			return rc;
		mounts[i] = (struct oci_mount){.source = sources[i],
					       .destination = req->mounts[i].destination,
					       .read_only = req->mounts[i].read_only || volume_ro};
	}

	const char *hostname = req->hostname ? req->hostname : req->container;
	rc = write_network_files(a, bundle, req, hostname, err);
	if (rc < 0)
		return rc;

	snprintf(cgroup, sizeof(cgroup), AGENT_CGROUP_PARENT "/%s", req->container);
	struct oci_config_params p = {
	    .process = {.proc = &req->proc, .user = &ids},
	    .rootfs = rootfs,
	    .hostname = hostname,
	    .cgroups_path = cgroup,
	    .res = &req->res,
	    .hosts_file = hosts,
	    .resolv_file = resolv,
	    .hostname_file = hostname_file,
	    .mounts = mounts,
	    .n_mounts = req->n_mounts,
	};
	_cleanup_json_ struct json_object *cfg = oci_config_new(&p);
	if (!cfg)
		return capsid_error_errno(err, ENOMEM, "config.json");
	struct security_params sec;
	if ((rc = security_parse(req->body, &sec, err)) < 0 || (rc = security_apply(cfg, &sec, req->runtime, err)) < 0)
		return rc;
	return write_json(config, cfg, err);
}

int container_prepare(struct agent *a, const struct request_create *req, struct capsid_error *err)
{
	int rc = image_acquire(a, req->serial, req->fstype, err);
	if (rc < 0)
		return rc;
	rc = make_bundle(a, req, err);
	if (rc < 0)
		container_teardown(a, req->container, req->serial);
	return rc;
}

void container_teardown(struct agent *a, const char *name, const char *serial)
{
	char bundle[PATH_MAX], rootfs[PATH_MAX];
	if (container_path(bundle, sizeof(bundle), name, NULL) < 0 ||
	    container_path(rootfs, sizeof(rootfs), name, "rootfs") < 0)
		return;
	/* A process of the container may still hold the overlay busy (it is
	 * being killed): detach, the kernel finishes when it lets go. */
	if (umount2(rootfs, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		log_warn(a, "unmount %s: %s", rootfs, strerror(errno));
	if (umount2(bundle, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		log_warn(a, "unmount %s: %s", bundle, strerror(errno));
	int rc = util_rm_rf(bundle);
	if (rc < 0)
		log_warn(a, "remove %s: %s", bundle, strerror(-rc));
	/* Only release an image this container acquired: the bundle directory
	 * was made after the image mount succeeded. */
	if (serial && *serial)
		image_release(a, serial);
}

int container_write_exec(struct agent *a, const struct request_exec *req, const char *path,
			 struct capsid_error *err)
{
	(void)a;
	char rootfs[PATH_MAX];
	if (container_path(rootfs, sizeof(rootfs), req->container, "rootfs") < 0)
		return capsid_error_set(err, ENAMETOOLONG, "rootfs path too long");
	_cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return capsid_error_errno(err, errno, "open %s", rootfs);
	struct user_ids ids;
	int rc = user_resolve(rootfd, req->proc.user, &ids, err);
	if (rc < 0)
		return rc;
	struct oci_process_params p = {.proc = &req->proc, .user = &ids};
	_cleanup_json_ struct json_object *proc = oci_process_new(&p);
	if (!proc)
		return capsid_error_errno(err, ENOMEM, "process.json");
	char config[PATH_MAX];
	if (container_path(config, sizeof(config), req->container, "config.json") < 0)
		return capsid_error_set(err, ENAMETOOLONG, "config path too long");
	if ((rc = security_exec(proc, config, req->proc.user != NULL, err)) < 0)
		return rc;
	return write_json(path, proc, err);
}

static int64_t read_cgroup_value(const char *name, const char *file, const char *key)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "/sys/fs/cgroup" AGENT_CGROUP_PARENT "/%s/%s", name, file);
	_cleanup_free_ char *s = NULL;
	if (util_read_file_at(AT_FDCWD, path, 64 * 1024, &s, NULL) < 0)
		return -1;
	const char *p = s;
	if (key) {
		/* "key value" lines (cpu.stat) */
		size_t klen = strlen(key);
		for (p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
			if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
				break;
		if (!p || !*p)
			return -1;
		p += klen + 1;
	}
	char *end;
	long long v = strtoll(p, &end, 10);
	return end == p ? -1 : v;
}

struct json_object *container_stats(struct agent *a)
{
	struct json_object *all = json_object_new_object();
	for (struct container *c = a->containers; all && c; c = c->next) {
		if (c->state != CT_RUNNING)
			continue;
		struct json_object *o = json_object_new_object();
		json_object_object_add(
		    o, "memoryBytes",
		    json_object_new_int64(read_cgroup_value(c->name, "memory.current", NULL)));
		json_object_object_add(
		    o, "cpuUsageUsec",
		    json_object_new_int64(read_cgroup_value(c->name, "cpu.stat", "usage_usec")));
		json_object_object_add(
		    o, "pids", json_object_new_int64(read_cgroup_value(c->name, "pids.current", NULL)));
		json_object_object_add(all, c->name, o);
	}
	return all;
}
