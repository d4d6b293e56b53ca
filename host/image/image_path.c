/* Confined path handling for hostile archives.
 *
 * Every path an archive names is first cleaned lexically (no absolute
 * names, no ".."), then its parent directory is opened with
 * openat2(RESOLVE_IN_ROOT): symlinks planted by earlier entries or layers
 * resolve as if the staging directory were "/", exactly as they will inside
 * the container (containerd's RootPath semantics), so they can never lead
 * out. The last component is then handled with *at() calls that do not
 * follow symlinks (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, linkat without FOLLOW). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "image_internal.h"

int image_path_clean(const char *name, char *out, size_t outlen, const char **why)
{
	size_t n = strlen(name);
	if (n > IMAGE_MAX_PATH) {
		*why = "name longer than 4096 bytes";
		return -ENAMETOOLONG;
	}
	if (name[0] == '/') {
		*why = "absolute path";
		return -EINVAL;
	}
	size_t o = 0;
	const char *p = name;
	while (*p) {
		while (*p == '/')
			p++;
		const char *start = p;
		while (*p && *p != '/')
			p++;
		size_t len = (size_t)(p - start);
		if (len == 0 || (len == 1 && start[0] == '.'))
			continue;
		if (len == 2 && start[0] == '.' && start[1] == '.') {
			*why = "path contains a '..' component";
			return -EINVAL;
		}
		if (len > 255) {
			*why = "path component longer than 255 bytes";
			return -ENAMETOOLONG;
		}
		if (o + 1 + len + 1 > outlen) {
			*why = "name too long";
			return -ENAMETOOLONG;
		}
		if (o)
			out[o++] = '/';
		memcpy(out + o, start, len);
		o += len;
	}
	out[o] = '\0';
	return 0;
}

int image_path_open(int rootfd, const char *path, int flags, unsigned kind)
{
	struct open_how how = {
	    .flags = (uint64_t)(unsigned)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	if (kind == IMAGE_RESOLVE_STAGING)
		how.resolve |= RESOLVE_NO_XDEV;
	if (!*path)
		path = ".";
	/* EAGAIN: a concurrent rename made the kernel refuse a possibly racy
	 * lookup; nothing renames inside our trees, so a few retries suffice. */
	for (int tries = 0;; tries++) {
		long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if ((errno == EINTR || errno == EAGAIN) && tries < 64)
			continue;
		if (errno == ENOSYS)
			return image_path_open_walk(rootfd, path, flags, kind);
		return -errno;
	}
}

int image_path_open_parent(int rootfd, const char *clean, unsigned kind, bool create,
			   image_path_created_fn fn, void *ctx, int *parentfd, const char **base)
{
	const char *slash = strrchr(clean, '/');
	*base = slash ? slash + 1 : clean;
	if (!slash) {
		int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return -errno;
		*parentfd = fd;
		return 0;
	}
	char parent[IMAGE_MAX_PATH + 1];
	size_t plen = (size_t)(slash - clean);
	if (plen >= sizeof(parent))
		return -ENAMETOOLONG;
	memcpy(parent, clean, plen);
	parent[plen] = '\0';

	int fd = image_path_open(rootfd, parent, O_RDONLY | O_DIRECTORY, kind);
	if (fd >= 0 || fd != -ENOENT || !create) {
		if (fd < 0)
			return fd;
		*parentfd = fd;
		return 0;
	}

	/* Some ancestor is missing: walk down, creating what is absent. Each
	 * prefix is resolved from the root again so symlinks keep root
	 * semantics; mkdirat() on a name that exists (even a dangling
	 * symlink) fails with EEXIST and never follows it. */
	_cleanup_close_ int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return -errno;
	size_t start = 0;
	while (start < plen) {
		size_t end = start;
		while (end < plen && parent[end] != '/')
			end++;
		char saved = parent[end];
		parent[end] = '\0';
		int next = image_path_open(rootfd, parent, O_RDONLY | O_DIRECTORY, kind);
		if (next == -ENOENT) {
			if (mkdirat(cur, parent + start, 0755) < 0 && errno != EEXIST)
				return -errno;
			next = image_path_open(rootfd, parent, O_RDONLY | O_DIRECTORY, kind);
			if (next >= 0) {
				/* umask must not decide the image's modes. */
				int rc = fchmod(next, 0755) < 0 ? -errno : 0;
				if (rc == 0 && fn)
					rc = fn(ctx, parent, next);
				if (rc < 0) {
					close(next);
					return rc;
				}
			}
		}
		parent[end] = saved;
		if (next < 0)
			return next;
		close(cur);
		cur = next;
		start = end + 1;
	}
	*parentfd = TAKE_FD(cur);
	return 0;
}

void image_path_free_names(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int image_path_list_dir(int dirfd, char ***out, size_t *n_out)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = -errno;
		close(fd);
		return e;
	}
	rewinddir(d);
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			rc = errno ? -errno : 0;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nn = realloc(names, ncap * sizeof(*nn));
			if (!nn) {
				rc = -ENOMEM;
				break;
			}
			names = nn;
			cap = ncap;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = -ENOMEM;
			break;
		}
		names[++n] = NULL;
	}
	closedir(d);
	if (rc < 0) {
		image_path_free_names(names, n);
		return rc;
	}
	*out = names;
	*n_out = n;
	return 0;
}

/* One directory being emptied: its subdirectories still to visit. */
struct rm_level {
	char **subdirs;
	size_t n, next;
};

/* Unlinks every non-directory in dirfd and returns its subdirectories. */
static int rm_level_scan(int dirfd, struct rm_level *l)
{
	char **names = NULL;
	size_t n = 0, nsub = 0;
	int rc = image_path_list_dir(dirfd, &names, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct stat st;
		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = errno == ENOENT ? 0 : -errno;
		} else if (S_ISDIR(st.st_mode)) {
			char *keep = names[i];
			names[i] = NULL;
			names[nsub++] = keep; /* slots nsub..i-1 are NULL: compacts in place */
		} else {
			if (unlinkat(dirfd, names[i], 0) < 0 && errno != ENOENT)
				rc = -errno;
			free(names[i]);
			names[i] = NULL;
		}
	}
	if (rc < 0) {
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return rc;
	}
	for (size_t i = nsub; i < n; i++)
		free(names[i]);
	*l = (struct rm_level){.subdirs = names, .n = nsub};
	return 0;
}

int image_path_remove_at(int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;

	/* Iterative, holding one descriptor whatever the depth: a hostile
	 * layer can nest directories far deeper than the fd limit. Going up
	 * through ".." is exact here: the tree is ours, nothing moves in it,
	 * and every step down was O_NOFOLLOW. */
	int cur = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cur < 0)
		return -errno;
	struct rm_level *levels = NULL;
	size_t depth = 0, cap = 0;
	int rc = 0;
	bool scan = true;
	while (rc == 0) {
		if (scan) {
			if (depth == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct rm_level *nl = realloc(levels, ncap * sizeof(*nl));
				if (!nl) {
					rc = -ENOMEM;
					break;
				}
				levels = nl;
				cap = ncap;
			}
			if ((rc = rm_level_scan(cur, &levels[depth])) < 0)
				break;
			depth++;
		}
		struct rm_level *l = &levels[depth - 1];
		int next;
		if (l->next < l->n) {
			next = openat(cur, l->subdirs[l->next++],
				      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			scan = true;
		} else {
			image_path_free_names(l->subdirs, l->n);
			if (--depth == 0)
				break;
			next = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			scan = false;
			struct rm_level *up = &levels[depth - 1];
			if (next >= 0 && unlinkat(next, up->subdirs[up->next - 1], AT_REMOVEDIR) < 0 &&
			    errno != ENOENT)
				rc = -errno;
		}
		if (next < 0 && rc == 0)
			rc = -errno;
		close(cur);
		cur = next;
	}
	for (size_t i = 0; i < depth; i++)
		image_path_free_names(levels[i].subdirs, levels[i].n);
	free(levels);
	if (cur >= 0)
		close(cur);
	if (rc < 0)
		return rc;
	return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}

int image_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int image_read_fd(int fd, size_t max, char **out, size_t *len_out)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;
			free(buf);
			return e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		return -EFBIG;
	}
	buf[len] = '\0';
	*out = buf;
	if (len_out)
		*len_out = len;
	return 0;
}
