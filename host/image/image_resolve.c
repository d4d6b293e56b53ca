/* Userspace RESOLVE_IN_ROOT: the semantics of openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS [| RESOLVE_NO_XDEV]) for kernels before 5.6 and for
 * valgrind, which does not know openat2. image_path_open() uses it on
 * ENOSYS, or always when CAPSID_IMAGE_NO_OPENAT2 is set (so the unit tests
 * run the hostile-layer suite through both).
 *
 * One component at a time, never letting the kernel follow a symlink:
 * symlinks are read and spliced into the rest of the path, absolute ones
 * restart from the root, ".." never climbs above the root. Unlike the
 * kernel it is not safe against concurrent renames inside the tree; nothing
 * else writes the trees it walks (private staging and work directories; a
 * user's OCI layout directory is only read). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "image_internal.h"

#define WALK_MAX	  (2 * IMAGE_MAX_PATH + 2)
#define WALK_MAX_SYMLINKS 40 /* the kernel's limit */

struct walk {
	int rootfd;
	dev_t dev;
	bool no_xdev;
	int cur;	      /* the directory reached so far */
	char canon[WALK_MAX]; /* its path from the root: real directories only */
	char rest[WALK_MAX];  /* what remains to resolve */
	int links;
};

static int walk_check_dev(const struct walk *w, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	return w->no_xdev && st.st_dev != w->dev ? -EXDEV : 0;
}

/* Back to the root, then down the canonical path again (for ".."). */
static int walk_reopen(struct walk *w)
{
	int fd = fcntl(w->rootfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	for (char *p = w->canon; *p;) {
		char *end = strchrnul(p, '/');
		char saved = *end;
		*end = '\0';
		int next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		*end = saved;
		close(fd);
		if (next < 0)
			return -errno;
		fd = next;
		p = saved ? end + 1 : end;
	}
	close(w->cur);
	w->cur = fd;
	return 0;
}

static int walk_dotdot(struct walk *w)
{
	char *slash = strrchr(w->canon, '/');
	if (slash)
		*slash = '\0';
	else
		w->canon[0] = '\0'; /* at or just below the root: ".." is the root */
	return walk_reopen(w);
}

/* Replaces the symlink cur/comp by its target in front of the rest. */
static int walk_splice_symlink(struct walk *w, const char *comp)
{
	if (++w->links > WALK_MAX_SYMLINKS)
		return -ELOOP;
	char target[IMAGE_MAX_PATH + 1];
	ssize_t n = readlinkat(w->cur, comp, target, sizeof(target));
	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof(target))
		return -ENAMETOOLONG;
	target[n] = '\0';
	size_t rest = strlen(w->rest);
	if ((size_t)n + 1 + rest + 1 > sizeof(w->rest))
		return -ENAMETOOLONG;
	memmove(w->rest + n + 1, w->rest, rest + 1);
	memcpy(w->rest, target, (size_t)n);
	w->rest[n] = '/';
	if (target[0] == '/') {
		w->canon[0] = '\0';
		return walk_reopen(w);
	}
	return 0;
}

static int walk_enter(struct walk *w, const char *comp)
{
	int next = openat(w->cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (next < 0)
		return -errno;
	int rc = walk_check_dev(w, next);
	size_t len = strlen(w->canon);
	if (rc == 0 && len + 1 + strlen(comp) + 1 > sizeof(w->canon))
		rc = -ENAMETOOLONG;
	if (rc < 0) {
		close(next);
		return rc;
	}
	if (len)
		w->canon[len++] = '/';
	strcpy(w->canon + len, comp);
	close(w->cur);
	w->cur = next;
	return 0;
}

static int walk_step(struct walk *w, int flags, int *result)
{
	char *p = w->rest;
	while (*p == '/')
		p++;
	if (!*p) {
		int fd = openat(w->cur, ".", flags | O_CLOEXEC);
		*result = fd < 0 ? -errno : fd;
		return 1;
	}
	char *end = strchrnul(p, '/');
	size_t len = (size_t)(end - p);
	if (len > 255)
		return -ENAMETOOLONG;
	char comp[256];
	memcpy(comp, p, len);
	comp[len] = '\0';
	while (*end == '/')
		end++;
	bool last = !*end;
	memmove(w->rest, end, strlen(end) + 1);

	if (strcmp(comp, ".") == 0)
		return 0;
	if (strcmp(comp, "..") == 0)
		return walk_dotdot(w);
	struct stat st;
	if (fstatat(w->cur, comp, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode) && (!last || !(flags & O_NOFOLLOW)))
		return walk_splice_symlink(w, comp);
	if (!last)
		return S_ISDIR(st.st_mode) ? walk_enter(w, comp) : -ENOTDIR;
	int fd = openat(w->cur, comp, flags | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		*result = -errno;
		return 1;
	}
	int rc = walk_check_dev(w, fd);
	if (rc < 0) {
		close(fd);
		fd = rc;
	}
	*result = fd;
	return 1;
}

int image_path_open_walk(int rootfd, const char *path, int flags, unsigned kind)
{
	if (strlen(path) >= IMAGE_MAX_PATH + 1)
		return -ENAMETOOLONG;
	struct stat st;
	if (fstat(rootfd, &st) < 0)
		return -errno;
	_cleanup_free_ struct walk *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->rootfd = rootfd;
	w->dev = st.st_dev;
	w->no_xdev = kind == IMAGE_RESOLVE_STAGING;
	strcpy(w->rest, path);
	w->cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (w->cur < 0)
		return -errno;
	int result = -EIO, rc;
	while ((rc = walk_step(w, flags, &result)) == 0)
		;
	close(w->cur);
	return rc < 0 ? rc : result;
}
