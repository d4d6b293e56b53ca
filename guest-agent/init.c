#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"
#include "builtin/cgroup.h"
#include "cleanup.h"
#include "container.h"
#include "kmod.h"
#include "request.h"
#include "util.h"

#define NEW_ROOT "/newroot"

static int mount_at(const char *src, const char *target, const char *type, unsigned long flags,
		    const char *data, struct capsid_error *err)
{
	if (mkdir(target, 0755) < 0 && errno != EEXIST)
		return capsid_error_errno(err, errno, "mkdir %s", target);
	if (mount(src, target, type, flags, data) < 0)
		return capsid_error_errno(err, errno, "mount %s on %s", type ? type : src, target);
	return 0;
}

/* runc's pivot_root fails with EINVAL on the initramfs (rootfs cannot be
 * pivoted away from). Instead of copying the image into a tmpfs
 * (switch_root), bind the initramfs directories into a fresh tmpfs, read
 * only, and make that the root: no copy, and the runtimes' binaries cannot
 * be changed afterwards. */
static int switch_to_tmpfs_root(struct capsid_error *err)
{
	int rc = mount_at("capsid-root", NEW_ROOT, "tmpfs", MS_NOSUID, "mode=0755", err);
	if (rc < 0)
		return rc;
	static const char *const dirs[] = {"usr", "lib", "lib64", "bin", "sbin"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char src[32], dst[64];
		snprintf(src, sizeof(src), "/%s", dirs[i]);
		snprintf(dst, sizeof(dst), NEW_ROOT "/%s", dirs[i]);
		struct stat st;
		if (lstat(src, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (mkdir(dst, 0755) < 0)
			return capsid_error_errno(err, errno, "mkdir %s", dst);
		if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
			return capsid_error_errno(err, errno, "bind %s", src);
		if (mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
			return capsid_error_errno(err, errno, "remount %s read-only", dst);
	}
	if (chdir(NEW_ROOT) < 0)
		return capsid_error_errno(err, errno, "chdir " NEW_ROOT);
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return capsid_error_errno(err, errno, "move " NEW_ROOT " to /");
	if (chroot(".") < 0)
		return capsid_error_errno(err, errno, "chroot");
	if (chdir("/") < 0)
		return capsid_error_errno(err, errno, "chdir /");
	return 0;
}

/* The initramfs has no /dev/console, so PID 1 starts without fds 0-2: give
 * it the console (or /dev/null without one) before anything else opens a
 * descriptor that would land there. */
static void setup_stdio(struct agent *a)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0)
		a->console_fd = fd;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < 3; i++) {
		if (fcntl(i, F_GETFD) >= 0)
			continue;
		int src = fd >= 0 ? fd : null;
		if (src >= 0)
			dup2(src, i);
	}
	if (null > 2)
		close(null);
	/* Keep console_fd above 2: fds 0-2 are closed/replaced in children. */
	if (a->console_fd >= 0 && a->console_fd <= 2) {
		int high = fcntl(a->console_fd, F_DUPFD_CLOEXEC, 3);
		a->console_fd = high;
	}
	a->kmsg_fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (a->kmsg_fd >= 0 && a->kmsg_fd <= 2) {
		int high = fcntl(a->kmsg_fd, F_DUPFD_CLOEXEC, 3);
		a->kmsg_fd = high;
	}
}

static void dev_links(void)
{
	static const char *const links[][2] = {
	    {"/proc/self/fd", "/dev/fd"},
	    {"/proc/self/fd/0", "/dev/stdin"},
	    {"/proc/self/fd/1", "/dev/stdout"},
	    {"/proc/self/fd/2", "/dev/stderr"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		if (symlink(links[i][0], links[i][1]) < 0 && errno != EEXIST) {
			/* optional conveniences */
		}
}

/* What every container's cgroup needs once per guest: the controllers in
 * the root and in the agent's parent cgroup, and the builtin runtime's
 * device filter through the verifier. Before HELLO, so that a warm start's
 * template holds them: under TCG a clone's first container paid ~30 ms
 * for the parent and every container ~20 ms for the filter. A launcher
 * does what is missing here itself. */
static void prepare_cgroups(struct agent *a)
{
	struct capsid_error err = {0};
	_cleanup_close_ int root = open(BUILTIN_CGROUP_ROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		log_warn(a, "open " BUILTIN_CGROUP_ROOT ": %s", strerror(errno));
	else if (builtin_cgroup_delegate(root, &err) < 0)
		log_warn(a, BUILTIN_CGROUP_ROOT ": %s", err.msg);
	if (builtin_cgroup_make_parent(AGENT_CGROUP_PARENT, &err) < 0)
		log_warn(a, "containers' cgroup: %s", err.msg);
	a->dev_filter_fd = builtin_cgroup_load_dev_filter(&err);
	if (a->dev_filter_fd < 0)
		log_warn(a, "builtin runtime: %s (each container loads its own)", err.msg);
}

/* With free page reporting (virtio-balloon), Linux 6.1 reports only free
 * blocks of pageblock order (4 MiB on the minimal kernel) and overrides the
 * boot parameter when the driver registers, so it is set here. Order 3
 * (32 KiB) returned as much of an idle guest's memory as order 0 and 7 MiB
 * more than the default (measured, tests/bench/levers.sh). Absent on a
 * kernel without it: nothing to do. */
static void report_free_pages_finely(struct agent *a)
{
	_cleanup_close_ int fd =
	    open("/sys/module/page_reporting/parameters/page_reporting_order", O_WRONLY | O_CLOEXEC);
	if (fd >= 0 && write(fd, "3", 1) < 0)
		log_warn(a, "page_reporting_order: %s", strerror(errno));
}

static void set_hostname(struct agent *a)
{
	_cleanup_free_ char *cmdline = NULL;
	if (util_read_file_at(AT_FDCWD, "/proc/cmdline", 64 * 1024, &cmdline, NULL) < 0)
		return;
	char *save = NULL;
	for (char *tok = strtok_r(cmdline, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
		const char *key = "capsid.hostname=";
		if (strncmp(tok, key, strlen(key)) != 0)
			continue;
		const char *name = tok + strlen(key);
		if (!request_valid_hostname(name)) {
			log_warn(a, "ignoring invalid capsid.hostname");
			return;
		}
		if (sethostname(name, strlen(name)) < 0)
			log_warn(a, "sethostname: %s", strerror(errno));
		return;
	}
}

static void link_up(struct agent *a, int s, const char *name)
{
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		log_warn(a, "%s: get flags: %s", name, strerror(errno));
		return;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		log_warn(a, "%s: up: %s", name, strerror(errno));
}

/* Loopback, and every NIC without an address (NETWORK gives those): a NIC's
 * first up fills its receive ring, ~20 ms under TCG, which a warm-start
 * template then holds already (a clone changes the MAC while up). */
static void links_up(struct agent *a)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		log_warn(a, "socket: %s", strerror(errno));
		return;
	}
	struct if_nameindex *all = if_nameindex();
	for (struct if_nameindex *i = all; i && i->if_index; i++)
		link_up(a, s, i->if_name);
	if (all)
		if_freenameindex(all);
}

int init_boot(struct agent *a, struct capsid_error *err)
{
	uint64_t t0 = util_now_ms();
	int rc = switch_to_tmpfs_root(err);
	if (rc < 0)
		return capsid_error_prefix(err, "switch root");
	uint64_t t_root = util_now_ms();

	const unsigned long fs_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if ((rc = mount_at("proc", "/proc", "proc", fs_flags, NULL, err)) < 0 ||
	    (rc = mount_at("sysfs", "/sys", "sysfs", fs_flags, NULL, err)) < 0 ||
	    (rc = mount_at("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", err)) < 0)
		return rc;
	setup_stdio(a);
	if ((rc = mount_at("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
			   "gid=5,mode=0620,ptmxmode=0666", err)) < 0 ||
	    (rc = mount_at("shm", "/dev/shm", "tmpfs", fs_flags, "mode=1777", err)) < 0 ||
	    (rc = mount_at("run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", err)) < 0 ||
	    (rc = mount_at("tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", err)) < 0 ||
	    (rc = mount_at("cgroup2", BUILTIN_CGROUP_ROOT, "cgroup2", fs_flags, "nsdelegate", err)) < 0)
		return rc;
	dev_links();
	if (mkdir("/etc", 0755) < 0 && errno != EEXIST)
		log_warn(a, "mkdir /etc: %s", strerror(errno));

	struct utsname u;
	if (uname(&u) == 0)
		snprintf(a->kernel, sizeof(a->kernel), "%s", u.release);

	uint64_t t_mod = util_now_ms();
	rc = kmod_load_list(a, KMOD_DIR, KMOD_LIST_BOOT);
	if (rc < 0)
		log_warn(a, "kernel modules: " KMOD_DIR "/" KMOD_LIST_BOOT ": %s", strerror(-rc));
	uint64_t t_mod_end = util_now_ms();

	uint64_t t_cg = util_now_ms();
	prepare_cgroups(a);
	container_scan_disks();
	uint64_t t_cg_end = util_now_ms();
	report_free_pages_finely(a);
	set_hostname(a);
	links_up(a);
	static const char *const dirs[] = {AGENT_RUN_DIR, AGENT_IMAGES_DIR, AGENT_CONTAINERS_DIR,
					   AGENT_SOCK_DIR};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdir(dirs[i], 0700) < 0 && errno != EEXIST)
			return capsid_error_errno(err, errno, "mkdir %s", dirs[i]);
	log_info(a, "boot: root switch %llu ms, %d modules in %llu ms, cgroups %llu ms, total %llu ms",
		 (unsigned long long)(t_root - t0), rc, (unsigned long long)(t_mod_end - t_mod),
		 (unsigned long long)(t_cg_end - t_cg), (unsigned long long)(util_now_ms() - t0));
	return 0;
}

void init_teardown(struct agent *a)
{
	/* Containers and images are gone by now; what is left is tmpfs. */
	(void)a;
	sync();
}
