/* The jailed child between clone3 and exec (see jail.h). Runs as root in
 * fresh mount, pid, IPC, UTS and network namespaces:
 *
 *   1. joins its cgroup, then a cgroup namespace rooted there;
 *   2. mounts a tmpfs on <root>/jail/mnt (in its own mount namespace: the
 *      host sees nothing) holding /usr and the /lib links read-only (QEMU's
 *      libraries and firmware), /etc/ld.so.cache, the files the VMM opens
 *      by path at their host paths (kernel, initramfs, the binary, a warm
 *      start RAM file), a /dev with null, zero, full, random, urandom (and
 *      kvm under KVM), and a read-only /proc of its pid namespace; every
 *      other file (disks, console, sockets, taps) comes as a descriptor;
 *   3. pivot_root into it and detaches the host's tree;
 *   4. drops the capability bounding set, the ambient set, takes the
 *      VMM's gid, supplementary groups and uid (which clears every
 *      capability), sets no_new_privs, marks every descriptor past the
 *      kept ones close-on-exec;
 *   5. exec's the binary with a minimal environment. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "jail.h"
#include "util.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

uint64_t jail_clone_flags(void)
{
	return CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET;
}

int jail_mountpoint(const char *root, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/jail/mnt", root);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (util_mkdir_p(out, 0755) < 0)
		return -errno;
	return 0;
}

static int join_cgroup(const struct vmm_jail *j, struct capsid_error *err)
{
	if (!j->has_cgroup)
		return 0;
	for (size_t i = 0; i < j->cgroup.n_dirs; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/cgroup.procs", j->cgroup.dirs[i]);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			return capsid_error_errno(err, e, "jail: join %s", j->cgroup.dirs[i]);
		}
		close(fd);
	}
	if (unshare(CLONE_NEWCGROUP) < 0)
		return capsid_error_errno(err, errno, "jail: cgroup namespace");
	return 0;
}

/* a + b into out; -ENAMETOOLONG when it does not fit. */
static int join(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s%s", a, b);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int mkparents(char *path)
{
	char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return 0;
	*slash = '\0';
	int rc = util_mkdir_p(path, 0755);
	*slash = '/';
	return rc < 0 ? -errno : 0;
}

/* Bind src at dst (created: a file or a directory as src is), read-only
 * unless writable. */
static int bind(const char *src, const char *dst, bool writable, bool rec, struct capsid_error *err)
{
	struct stat st;
	if (stat(src, &st) < 0)
		return capsid_error_errno(err, errno, "jail: %s", src);
	char d[PATH_MAX];
	snprintf(d, sizeof(d), "%s", dst);
	int rc = mkparents(d);
	if (rc == 0) {
		if (S_ISDIR(st.st_mode)) {
			if (mkdir(d, 0755) < 0 && errno != EEXIST)
				rc = -errno;
		} else {
			int fd = open(d, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
			if (fd < 0)
				rc = -errno;
			else
				close(fd);
		}
	}
	if (rc < 0)
		return capsid_error_errno(err, -rc, "jail: create %s", dst);
	if (mount(src, d, NULL, MS_BIND | (rec ? MS_REC : 0), NULL) < 0)
		return capsid_error_errno(err, errno, "jail: bind %s", src);
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (writable ? 0 : MS_RDONLY);
	if (mount(NULL, d, NULL, flags, NULL) < 0)
		return capsid_error_errno(err, errno, "jail: remount %s", src);
	return 0;
}

/* /bin, /lib... as the host has them: a symlink into /usr (merged /usr)
 * copied, a directory bound read-only. */
static int top_level(const char *mnt, const char *name, struct capsid_error *err)
{
	char src[64], dst[PATH_MAX], target[PATH_MAX];
	snprintf(src, sizeof(src), "/%s", name);
	if (join(dst, sizeof(dst), mnt, src) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "jail: %s: path too long", mnt);
	struct stat st;
	if (lstat(src, &st) < 0)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(src, target, sizeof(target) - 1);
		if (n < 0)
			return capsid_error_errno(err, errno, "jail: readlink %s", src);
		target[n] = '\0';
		if (symlink(target, dst) < 0)
			return capsid_error_errno(err, errno, "jail: symlink %s", dst);
		return 0;
	}
	return S_ISDIR(st.st_mode) ? bind(src, dst, false, true, err) : 0;
}

static int make_dev(const char *mnt, bool kvm, struct capsid_error *err)
{
	static const struct {
		const char *name;
		unsigned major, minor;
	} nodes[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9},
		     {"kvm", 10, 232}};
	char dev[PATH_MAX];
	if (join(dev, sizeof(dev), mnt, "/dev") < 0)
		return capsid_error_set(err, ENAMETOOLONG, "jail: %s: path too long", mnt);
	if (mkdir(dev, 0755) < 0 || mount("capsid-dev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
		return capsid_error_errno(err, errno, "jail: /dev");
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		if (!kvm && strcmp(nodes[i].name, "kvm") == 0)
			continue;
		char path[PATH_MAX + 16];
		snprintf(path, sizeof(path), "%s/%s", dev, nodes[i].name);
		if (mknod(path, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) < 0 || chmod(path, 0666) < 0)
			return capsid_error_errno(err, errno, "jail: mknod /dev/%s", nodes[i].name);
	}
	if (mount(NULL, dev, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
		return capsid_error_errno(err, errno, "jail: remount /dev read-only");
	return 0;
}

static int build_root(const struct vmm_jail *j, const char *binary, const char *mnt, struct capsid_error *err)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return capsid_error_errno(err, errno, "jail: make the mount namespace private");
	if (mount("capsid-jail", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=1024") < 0)
		return capsid_error_errno(err, errno, "jail: mount the root tmpfs on %s", mnt);
	char path[PATH_MAX];
	int rc;
	if (join(path, sizeof(path), mnt, "/usr") < 0)
		return capsid_error_set(err, ENAMETOOLONG, "jail: %s: path too long", mnt);
	if ((rc = bind("/usr", path, false, true, err)) < 0)
		return rc;
	static const char *const tops[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};
	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++)
		if ((rc = top_level(mnt, tops[i], err)) < 0)
			return rc;
	if (join(path, sizeof(path), mnt, "/etc/ld.so.cache") < 0)
		return capsid_error_set(err, ENAMETOOLONG, "jail: %s: path too long", mnt);
	if (access("/etc/ld.so.cache", R_OK) == 0 && (rc = bind("/etc/ld.so.cache", path, false, false, err)) < 0)
		return rc;
	if (strncmp(binary, "/usr/", 5) != 0) {
		if (join(path, sizeof(path), mnt, binary) < 0)
			return capsid_error_set(err, ENAMETOOLONG, "jail: %s: path too long", binary);
		if ((rc = bind(binary, path, false, false, err)) < 0)
			return rc;
	}
	for (size_t i = 0; i < j->n_files; i++) {
		const char *f = j->files[i].path;
		if (!f || f[0] != '/' || strstr(f, "/../"))
			return capsid_error_set(err, EINVAL, "jail: %s: not an absolute path", f ? f : "(null)");
		if (strncmp(f, "/usr/", 5) == 0 || strncmp(f, "/dev/", 5) == 0 || strncmp(f, "/proc/", 6) == 0)
			continue;
		if (join(path, sizeof(path), mnt, f) < 0)
			return capsid_error_set(err, ENAMETOOLONG, "jail: %s: path too long", f);
		if ((rc = bind(f, path, j->files[i].writable, false, err)) < 0)
			return rc;
	}
	if ((rc = make_dev(mnt, j->kvm, err)) < 0)
		return rc;
	if (join(path, sizeof(path), mnt, "/proc") < 0)
		return capsid_error_set(err, ENAMETOOLONG, "jail: %s: path too long", mnt);
	if (mkdir(path, 0555) < 0 ||
	    mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "hidepid=2") < 0)
		return capsid_error_errno(err, errno, "jail: mount /proc");
	if (mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		return capsid_error_errno(err, errno, "jail: remount the root read-only");
	if (chdir(mnt) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		return capsid_error_errno(err, errno, "jail: pivot_root into %s", mnt);
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return capsid_error_errno(err, errno, "jail: detach the host's tree");
	return 0;
}

static int drop_privileges(const struct vmm_jail *j, struct capsid_error *err)
{
	if (j->uid == 0 || j->gid == 0)
		return capsid_error_set(err, EINVAL, "jail: the VMM must not run as root");
	gid_t groups[1] = {j->shared_gid};
	if (setgroups(j->shared_gid ? 1 : 0, groups) < 0 || setresgid(j->gid, j->gid, j->gid) < 0)
		return capsid_error_errno(err, errno, "jail: set gid %u", (unsigned)j->gid);
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return capsid_error_errno(err, errno, "jail: drop capability %d from the bounding set", cap);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return capsid_error_errno(err, errno, "jail: clear the ambient capabilities");
	/* From root to another uid without SECBIT_KEEP_CAPS: every capability goes. */
	if (setresuid(j->uid, j->uid, j->uid) < 0)
		return capsid_error_errno(err, errno, "jail: set uid %u", (unsigned)j->uid);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return capsid_error_errno(err, errno, "jail: no_new_privs");
	struct rlimit core = {0, 0};
	setrlimit(RLIMIT_CORE, &core);
	return 0;
}

int jail_exec(const struct vmm_jail *j, const char *binary, char *const argv[], int n_fds,
	      struct capsid_error *err)
{
	if (binary[0] != '/')
		return capsid_error_set(err, EINVAL, "jail: %s: the VMM binary must be an absolute path", binary);
	char mnt[PATH_MAX];
	int rc = jail_mountpoint(j->root, mnt, sizeof(mnt));
	if (rc < 0)
		return capsid_error_errno(err, rc, "jail: %s/jail/mnt", j->root);
	if ((rc = join_cgroup(j, err)) < 0 || (rc = build_root(j, binary, mnt, err)) < 0)
		return rc;
	sethostname("vmm", 3);
	if ((rc = drop_privileges(j, err)) < 0)
		return rc;
	/* The uid change cleared the parent-death signal: set it again. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return capsid_error_errno(err, errno, "jail: parent-death signal");
	/* Everything past the VMM's descriptors closes at exec (the caller's
	 * error pipe among them: it stays usable until then). */
	if (syscall(SYS_close_range, 3 + n_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		return capsid_error_errno(err, errno, "jail: close_range");
	char path_env[] = "PATH=/usr/bin:/bin";
	char *const envp[] = {path_env, NULL};
	execve(binary, argv, envp);
	return capsid_error_errno(err, errno, "jail: exec %s", binary);
}
