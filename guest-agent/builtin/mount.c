#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "inroot.h"

/* Depth of directories created for one mount point. */
#define MAX_COMPONENTS 64

int builtin_mount_open_in_root(int rootfd, const char *path, int flags)
{
	return inroot_open(rootfd, path, flags, 0);
}

/* Split "/a/b/c" into its parent "/a/b" (in parent) and "c". */
static int split_last(const char *path, char parent[PATH_MAX], const char **last)
{
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(parent, path, len);
	parent[len] = '\0';
	char *slash = strrchr(parent, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	*last = path + (slash - parent) + 1;
	if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	return 0;
}

static int make_in_root(int rootfd, const char *path, bool as_file, int depth)
{
	int fd = builtin_mount_open_in_root(rootfd, path, O_PATH);
	if (fd >= 0 || fd != -ENOENT)
		return fd;
	char parent[PATH_MAX];
	const char *last;
	int rc = split_last(path, parent, &last);
	if (rc < 0)
		return rc;
	char name[NAME_MAX + 1];
	size_t n = strcspn(last, "/");
	if (n == 0 || n > NAME_MAX)
		return -EINVAL;
	memcpy(name, last, n);
	name[n] = '\0';
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	if (depth >= MAX_COMPONENTS)
		return -ELOOP;
	_cleanup_close_ int dir = strcmp(parent, "/") == 0
				      ? builtin_mount_open_in_root(rootfd, "/", O_PATH | O_DIRECTORY)
				      : make_in_root(rootfd, parent, false, depth + 1);
	if (dir < 0)
		return dir;
	/* O_PATH directory fds work for the *at calls below only through a
	 * real directory fd. */
	_cleanup_close_ int d = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return -errno;
	struct stat st;
	if (fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
		/* Its target does not exist inside the root (else the open above
		 * had found it): put a real node in its place. */
		if (unlinkat(d, name, 0) < 0)
			return -errno;
	}
	if (as_file) {
		int f = openat(d, name, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0644);
		if (f < 0 && errno != EEXIST)
			return -errno;
		if (f >= 0)
			close(f);
	} else if (mkdirat(d, name, 0755) < 0 && errno != EEXIST) {
		return -errno;
	}
	return builtin_mount_open_in_root(rootfd, path, O_PATH);
}

int builtin_mount_make_in_root(int rootfd, const char *path, bool as_file)
{
	return make_in_root(rootfd, path, as_file, 0);
}

static void fd_path(char out[64], int fd)
{
	snprintf(out, 64, "/proc/self/fd/%d", fd);
}

static int is_dir_path(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int mount_one(int rootfd, const struct builtin_spec_mount *m, struct capsid_error *err)
{
	bool as_file = m->bind && !is_dir_path(m->source);
	_cleanup_close_ int target = builtin_mount_make_in_root(rootfd, m->destination, as_file);
	if (target < 0)
		return capsid_error_errno(err, -target, "mount point %s", m->destination);
	char at[64];
	fd_path(at, target);
	const char *type = m->type;
	/* "cgroup" in a spec means the host's hierarchy; the guest is cgroup v2. */
	if (type && strcmp(type, "cgroup") == 0)
		type = "cgroup2";
	if (m->bind) {
		if (mount(m->source, at, NULL, m->flags & (MS_BIND | MS_REC), NULL) < 0)
			return capsid_error_errno(err, errno, "bind %s on %s", m->source, m->destination);
		unsigned long extra = m->flags & ~(MS_BIND | MS_REC);
		if (extra) {
			/* A fresh fd: the bind mount now sits on top of `target`. */
			_cleanup_close_ int top = builtin_mount_open_in_root(rootfd, m->destination, O_PATH);
			if (top < 0)
				return capsid_error_errno(err, -top, "reopen %s", m->destination);
			fd_path(at, top);
			if (mount(NULL, at, NULL, MS_REMOUNT | MS_BIND | extra, NULL) < 0)
				return capsid_error_errno(err, errno, "remount %s", m->destination);
		}
	} else if (mount(m->source, at, type, m->flags, m->data[0] ? m->data : NULL) < 0) {
		return capsid_error_errno(err, errno, "mount %s on %s", type, m->destination);
	}
	if (m->propagation) {
		_cleanup_close_ int top = builtin_mount_open_in_root(rootfd, m->destination, O_PATH);
		if (top < 0)
			return capsid_error_errno(err, -top, "reopen %s", m->destination);
		fd_path(at, top);
		if (mount(NULL, at, NULL, m->propagation, NULL) < 0)
			return capsid_error_errno(err, errno, "propagation of %s", m->destination);
	}
	return 0;
}

/* The OCI default devices, as nodes of the container's /dev (a tmpfs the
 * spec mounted) and the usual links. */
static int make_devices(int rootfd, struct capsid_error *err)
{
	static const struct {
		const char *name;
		unsigned major, minor;
	} nodes[] = {{"null", 1, 3},   {"zero", 1, 5},	  {"full", 1, 7},
		     {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
	static const char *const links[][2] = {{"/proc/self/fd", "fd"},
					       {"/proc/self/fd/0", "stdin"},
					       {"/proc/self/fd/1", "stdout"},
					       {"/proc/self/fd/2", "stderr"},
					       {"pts/ptmx", "ptmx"}};
	_cleanup_close_ int p = builtin_mount_open_in_root(rootfd, "/dev", O_PATH | O_DIRECTORY);
	if (p < 0)
		return capsid_error_errno(err, -p, "open /dev");
	_cleanup_close_ int dev = openat(p, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dev < 0)
		return capsid_error_errno(err, errno, "open /dev");
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
		if (mknodat(dev, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) <
			0 &&
		    errno != EEXIST)
			return capsid_error_errno(err, errno, "mknod /dev/%s", nodes[i].name);
		/* mknod applies the umask */
		if (fchmodat(dev, nodes[i].name, 0666, 0) < 0)
			return capsid_error_errno(err, errno, "chmod /dev/%s", nodes[i].name);
	}
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		if (symlinkat(links[i][0], dev, links[i][1]) < 0 && errno != EEXIST)
			return capsid_error_errno(err, errno, "symlink /dev/%s", links[i][1]);
	return 0;
}

static int mask_paths(int rootfd, const struct builtin_spec *s, struct capsid_error *err)
{
	for (size_t i = 0; i < s->n_masked; i++) {
		_cleanup_close_ int fd = builtin_mount_open_in_root(rootfd, s->masked[i], O_PATH);
		if (fd == -ENOENT)
			continue;
		if (fd < 0)
			return capsid_error_errno(err, -fd, "mask %s", s->masked[i]);
		struct stat st;
		if (fstat(fd, &st) < 0)
			return capsid_error_errno(err, errno, "mask %s", s->masked[i]);
		char at[64];
		fd_path(at, fd);
		int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", at, "tmpfs", MS_RDONLY, NULL)
					     : mount("/dev/null", at, NULL, MS_BIND, NULL);
		if (rc < 0)
			return capsid_error_errno(err, errno, "mask %s", s->masked[i]);
	}
	for (size_t i = 0; i < s->n_readonly; i++) {
		_cleanup_close_ int fd = builtin_mount_open_in_root(rootfd, s->readonly[i], O_PATH);
		if (fd == -ENOENT)
			continue;
		if (fd < 0)
			return capsid_error_errno(err, -fd, "read-only %s", s->readonly[i]);
		char at[64];
		fd_path(at, fd);
		if (mount(at, at, NULL, MS_BIND | MS_REC, NULL) < 0)
			return capsid_error_errno(err, errno, "read-only %s", s->readonly[i]);
		_cleanup_close_ int top = builtin_mount_open_in_root(rootfd, s->readonly[i], O_PATH);
		if (top < 0)
			return capsid_error_errno(err, -top, "read-only %s", s->readonly[i]);
		fd_path(at, top);
		if (mount(NULL, at, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL) < 0)
			return capsid_error_errno(err, errno, "remount %s read-only", s->readonly[i]);
	}
	return 0;
}

int builtin_mount_setup(const struct builtin_spec *s, struct capsid_error *err)
{
	/* Nothing done here may reach the agent's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return capsid_error_errno(err, errno, "make / private");
	/* pivot_root needs the new root to be a mount point. */
	if (mount(s->root, s->root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return capsid_error_errno(err, errno, "bind the root %s", s->root);
	_cleanup_close_ int rootfd = open(s->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return capsid_error_errno(err, errno, "open the root %s", s->root);
	for (size_t i = 0; i < s->n_mounts; i++) {
		int rc = mount_one(rootfd, &s->mounts[i], err);
		if (rc < 0)
			return rc;
	}
	int rc = make_devices(rootfd, err);
	if (rc < 0)
		return rc;
	rc = mask_paths(rootfd, s, err);
	if (rc < 0)
		return rc;
	if (fchdir(rootfd) < 0)
		return capsid_error_errno(err, errno, "chdir into the root");
	/* pivot_root(".", "."): the old root ends up on top of the new one and
	 * is detached at once; no directory for it is needed. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return capsid_error_errno(err, errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return capsid_error_errno(err, errno, "detach the old root");
	if (chdir("/") < 0)
		return capsid_error_errno(err, errno, "chdir /");
	if (s->root_readonly && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		return capsid_error_errno(err, errno, "remount / read-only");
	return 0;
}
