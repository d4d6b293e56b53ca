/* The libguestfs appliance that makes, seeds and reads volume disks: a
 * small VM (libguestfs's own kernel + supermin root) that mounts the
 * tenant's filesystem, so the host kernel never parses it.
 *
 * It boots Debian's cloud kernel: this host may run a kernel with no /boot
 * and no modules (a container, a custom kernel), so supermin cannot find
 * one by itself. The .deb the guest image is built from is unpacked once
 * into the cache (with its modules.dep, which the package leaves to
 * depmod at install time) and handed to supermin through its environment
 * variables. Under TCG the kernel gets the host's TSC frequency, for the
 * same reason as group VMs (vmm.h: without it about one boot in three
 * hung). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <guestfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "disk.h"
#include "disk_internal.h"
#include "util.h"
#include "vmm.h"
#include "volume_exec.h"

#define DEFAULT_DEB_CACHE     "/var/cache/capsid/debs"
#define DEFAULT_GUESTFS_CACHE "/var/cache/capsid/guestfs"
/* Enough for mkfs and tar on big filesystems; under TCG guest RAM is only
 * allocated when touched, so a larger figure costs nothing up front. */
#define APPLIANCE_MEMORY_MIB 768

static const char *or_default(const char *v, const char *def)
{
	return v && *v ? v : def;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* The newest linux-image-*-cloud-amd64_*.deb of dir (the rule
 * images/guest/build-guest.sh follows too). */
static int find_kernel_deb(const char *dir, char *out, size_t len)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	char best[NAME_MAX + 1] = "";
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (strncmp(n, "linux-image-", 12) || !strstr(n, "-cloud-amd64_") || !has_suffix(n, ".deb"))
			continue;
		if (!best[0] || strverscmp(n, best) > 0)
			snprintf(best, sizeof(best), "%s", n);
	}
	closedir(d);
	if (!best[0])
		return -ENOENT;
	if ((size_t)snprintf(out, len, "%s/%s", dir, best) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static bool has_boot_kernel(void)
{
	DIR *d = opendir("/boot");
	if (!d)
		return false;
	bool found = false;
	struct dirent *de;
	while (!found && (de = readdir(d)))
		found = !strncmp(de->d_name, "vmlinuz-", 8);
	closedir(d);
	return found;
}

/* The release of the kernel unpacked in dir: the X of boot/vmlinuz-X. */
static int find_release(const char *dir, char *out, size_t len)
{
	char boot[PATH_MAX];
	snprintf(boot, sizeof(boot), "%s/boot", dir);
	DIR *d = opendir(boot);
	if (!d)
		return -errno;
	int rc = -ENOENT;
	struct dirent *de;
	while (rc == -ENOENT && (de = readdir(d)))
		if (!strncmp(de->d_name, "vmlinuz-", 8) && de->d_name[8])
			rc = (size_t)snprintf(out, len, "%s", de->d_name + 8) < len ? 0 : -ENAMETOOLONG;
	closedir(d);
	return rc;
}

static int run(const char *const argv[], const char *what, struct capsid_error *err)
{
	char out[1024];
	int rc = volume_run(argv, NULL, NULL, 0, out, sizeof(out));
	if (rc == 0)
		return 0;
	return capsid_error_set(err, rc < 0 ? -rc : EIO, "%s: %s", what,
				rc < 0	 ? strerror(-rc)
				: out[0] ? out
					 : "failed");
}

/* Unpack deb into target (dpkg-deb -x, depmod) through a temporary
 * directory, so target is complete whenever it exists. */
static int unpack_kernel(const char *deb, const char *target, struct capsid_error *err)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", target) >= sizeof(tmp))
		return capsid_error_set(err, ENAMETOOLONG, "%s: path too long", target);
	if (!mkdtemp(tmp))
		return capsid_error_errno(err, errno, "mkdtemp %s", tmp);
	char release[256];
	const char *unpack[] = {"dpkg-deb", "-x", deb, tmp, NULL};
	int rc = run(unpack, "unpack the appliance kernel (dpkg-deb -x)", err);
	if (rc == 0 && (rc = find_release(tmp, release, sizeof(release))) < 0)
		capsid_error_set(err, -rc, "%s holds no boot/vmlinuz-*", deb);
	if (rc == 0) {
		const char *depmod[] = {"depmod", "-b", tmp, release, NULL};
		rc = run(depmod, "depmod for the appliance kernel", err);
	}
	if (rc == 0 && rename(tmp, target) < 0)
		rc = capsid_error_errno(err, errno, "rename %s", tmp);
	if (rc < 0)
		util_rm_rf(tmp);
	return rc;
}

/* Point supermin at our kernel (unpacking it on first use). */
static int kernel_env(const struct disk_settings *set, struct capsid_error *err)
{
	const char *cache = or_default(set ? set->guestfs_cache : NULL, DEFAULT_GUESTFS_CACHE);
	const char *chosen = getenv("SUPERMIN_KERNEL");
	if (chosen && *chosen && strncmp(chosen, cache, strlen(cache)))
		return 0; /* the caller chose (not an earlier call of ours) */
	const char *debs = or_default(set ? set->deb_cache : NULL, DEFAULT_DEB_CACHE);
	char deb[PATH_MAX];
	int rc = find_kernel_deb(debs, deb, sizeof(deb));
	if (rc < 0) {
		/* A stock Debian host has its own kernel in /boot, which
		 * supermin finds by itself. */
		if (has_boot_kernel())
			return 0;
		return capsid_error_set(
		    err, ENOENT,
		    "no kernel for the libguestfs appliance: no linux-image-*-cloud-amd64 .deb in "
		    "%s (run images/guest/fetch-kernel.sh, or set CAPSID_DEB_CACHE) and none in /boot",
		    debs);
	}
	char dir[PATH_MAX], target[PATH_MAX], lockpath[PATH_MAX];
	const char *base = strrchr(deb, '/') + 1;
	snprintf(dir, sizeof(dir), "%s/kernel", cache);
	if ((size_t)snprintf(target, sizeof(target), "%s/%.*s", dir, (int)(strlen(base) - 4), base) >=
		sizeof(target) - 64 ||
	    (size_t)snprintf(lockpath, sizeof(lockpath), "%s/.lock", dir) >= sizeof(lockpath))
		return capsid_error_set(err, ENAMETOOLONG, "%s: path too long", dir);
	if ((rc = util_mkdir_p(dir, 0700)) < 0)
		return capsid_error_errno(err, -rc, "mkdir %s", dir);
	/* Two first uses at once: one unpacks (about a second), the other waits. */
	_cleanup_close_ int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock < 0)
		return capsid_error_errno(err, errno, "open %s", lockpath);
	while (flock(lock, LOCK_EX) < 0)
		if (errno != EINTR)
			return capsid_error_errno(err, errno, "lock %s", lockpath);
	struct stat st;
	if (stat(target, &st) < 0 && (rc = unpack_kernel(deb, target, err)) < 0)
		return rc;
	char release[256], kernel[PATH_MAX], modules[PATH_MAX];
	if ((rc = find_release(target, release, sizeof(release))) < 0)
		return capsid_error_set(err, -rc, "%s holds no boot/vmlinuz-* (remove it to unpack again)",
					target);
	if ((size_t)snprintf(kernel, sizeof(kernel), "%s/boot/vmlinuz-%s", target, release) >=
		sizeof(kernel) ||
	    (size_t)snprintf(modules, sizeof(modules), "%s/lib/modules/%s", target, release) >=
		sizeof(modules))
		return capsid_error_set(err, ENAMETOOLONG, "%s: path too long", target);
	/* supermin runs as a child of libguestfs and reads only its
	 * environment: there is no API for this. */
	if (setenv("SUPERMIN_KERNEL", kernel, 1) < 0 || setenv("SUPERMIN_MODULES", modules, 1) < 0 ||
	    setenv("SUPERMIN_KERNEL_VERSION", release, 1) < 0)
		return capsid_error_errno(err, errno, "setenv");
	return 0;
}

struct guestfs_h *disk_gfs_new(const struct disk_settings *set, struct capsid_error *err)
{
	if (kernel_env(set, err) < 0)
		return NULL;
	/* supermin copies the host's /lib/modules (its mode, not its content)
	 * into the appliance and fails without it. */
	struct stat st;
	if (stat("/lib/modules", &st) < 0 || !S_ISDIR(st.st_mode)) {
		capsid_error_set(
		    err, ENOENT,
		    "libguestfs's supermin needs the directory /lib/modules on the host, which is missing "
		    "(mkdir /lib/modules; ci/setup.sh does)");
		return NULL;
	}
	char cache[PATH_MAX];
	snprintf(cache, sizeof(cache), "%s/appliance",
		 or_default(set ? set->guestfs_cache : NULL, DEFAULT_GUESTFS_CACHE));
	int rc = util_mkdir_p(cache, 0700);
	if (rc < 0) {
		capsid_error_errno(err, -rc, "mkdir %s", cache);
		return NULL;
	}
	/* guestfs_create reads LIBGUESTFS_DEBUG/TRACE (handy when a launch
	 * fails); what matters is set explicitly below. */
	guestfs_h *g = guestfs_create();
	if (!g) {
		capsid_error_set(err, ENOMEM, "libguestfs: cannot create a handle");
		return NULL;
	}
	guestfs_set_error_handler(g, NULL, NULL); /* errors reach the caller through err, not stderr */
	char force_tcg[] = "force_tcg";
	char *tcg_settings[] = {force_tcg, NULL};
	char why[256];
	bool tcg = vmm_accel_detect(VMM_ACCEL_AUTO, NULL, NULL, why, sizeof(why)) == VMM_ACCEL_TCG;
	unsigned long khz = tcg ? vmm_host_tsc_khz(NULL) : 0;
	char append[96] = "";
	if (khz)
		snprintf(append, sizeof(append), "tsc=reliable tsc_early_khz=%lu", khz);
	if (guestfs_set_cachedir(g, cache) < 0 || guestfs_set_backend(g, "direct") < 0 ||
	    (tcg && guestfs_set_backend_settings(g, tcg_settings) < 0) ||
	    (append[0] && guestfs_set_append(g, append) < 0) ||
	    guestfs_set_memsize(g, APPLIANCE_MEMORY_MIB) < 0) {
		disk_gfs_fail(g, err, "configure libguestfs");
		guestfs_close(g);
		return NULL;
	}
	return g;
}

int disk_gfs_launch(struct guestfs_h *g, const char *qcow2, bool readonly, struct capsid_error *err)
{
	if (guestfs_add_drive_opts(g, qcow2, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "qcow2",
				   GUESTFS_ADD_DRIVE_OPTS_READONLY, readonly ? 1 : 0, -1) < 0)
		return disk_gfs_fail(g, err, "add the disk to the libguestfs appliance");
	if (guestfs_launch(g) < 0)
		return disk_gfs_fail(g, err,
				     "boot the libguestfs appliance (LIBGUESTFS_DEBUG=1 shows its console)");
	return 0;
}

int disk_gfs_fail(struct guestfs_h *g, struct capsid_error *err, const char *what)
{
	const char *msg = guestfs_last_error(g);
	int code = guestfs_last_errno(g);
	return capsid_error_set(err, code > 0 ? code : EIO, "%s: %s", what, msg ? msg : "libguestfs failed");
}

int disk_gfs_close(struct guestfs_h *g, struct capsid_error *err)
{
	if (!g)
		return 0;
	int rc = 0;
	/* Shutdown syncs the appliance's filesystems and waits for QEMU, so
	 * a success here means the data is in the qcow2. */
	if (guestfs_shutdown(g) < 0)
		rc = disk_gfs_fail(g, err, "shut the libguestfs appliance down");
	guestfs_close(g);
	return rc;
}

void disk_gfs_closep(struct guestfs_h **g)
{
	if (*g)
		guestfs_close(*g);
}
