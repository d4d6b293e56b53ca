/* VMM uids from a range, persisted under the state root:
 *
 *   <root>/jail/uids.lock      flock held while allocating or releasing
 *   <root>/jail/uids/<uid>     one file per allocated uid, holding its owner
 *
 * A monitor that dies keeps its group's uid (the group still exists); a
 * group's delete releases it. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "jail.h"
#include "util.h"

#define OWNER_MAX 128

int jail_range_parse(const char *s, struct jail_range *out, struct capsid_error *err)
{
	*out = (struct jail_range){JAIL_UID_FIRST, JAIL_UID_LAST};
	if (!s || !*s)
		return 0;
	char *end;
	errno = 0;
	unsigned long a = strtoul(s, &end, 10);
	if (errno || *end != '-')
		return capsid_error_set(err, EINVAL, "CAPSID_JAIL_UIDS %s: expected FIRST-LAST", s);
	unsigned long b = strtoul(end + 1, &end, 10);
	if (errno || *end || a == 0 || b <= a || b >= 0xffffffffUL)
		return capsid_error_set(err, EINVAL,
					"CAPSID_JAIL_UIDS %s: expected FIRST-LAST with 0 < FIRST < LAST < 4294967295", s);
	*out = (struct jail_range){(uid_t)a, (uid_t)b};
	return 0;
}

static int owner_valid(const char *owner)
{
	size_t n = owner ? strlen(owner) : 0;
	if (n == 0 || n >= OWNER_MAX)
		return 0;
	for (const char *p = owner; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
			return 0;
	return 1;
}

/* Opens <root>/jail/uids (dirfd) and takes the lock (lock_fd). */
static int ids_lock(const char *root, int *dirfd, int *lock_fd)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/jail/uids", root) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (util_mkdir_p(path, 0700) < 0)
		return -errno;
	_cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/jail/uids.lock", root);
	_cleanup_close_ int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0)
		return -errno;
	while (flock(lfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	*dirfd = TAKE_FD(dfd);
	*lock_fd = TAKE_FD(lfd);
	return 0;
}

/* The uid owner holds, 0 when none. */
static uid_t find_owner(int dirfd, const char *owner)
{
	int dup = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
	if (!d) {
		if (dup >= 0)
			close(dup);
		return 0;
	}
	/* The duplicate shares the directory's offset: start from the top. */
	rewinddir(d);
	uid_t found = 0;
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		_cleanup_free_ char *text = NULL;
		if (util_read_file_at(dirfd, e->d_name, OWNER_MAX, &text, NULL) < 0)
			continue;
		if (strcmp(text, owner) == 0)
			found = (uid_t)strtoul(e->d_name, NULL, 10);
	}
	closedir(d);
	return found;
}

int jail_uid_get(const char *root, const struct jail_range *r, const char *owner, uid_t *out,
		 struct capsid_error *err)
{
	if (!owner_valid(owner))
		return capsid_error_set(err, EINVAL, "jail: invalid uid owner name");
	int dirfd = -1, lock = -1;
	int rc = ids_lock(root, &dirfd, &lock);
	if (rc < 0)
		return capsid_error_errno(err, rc, "jail: lock %s/jail/uids.lock", root);
	_cleanup_close_ int d = dirfd, l = lock;
	uid_t u = find_owner(d, owner);
	if (u) {
		*out = u;
		return 0;
	}
	/* The first uid of the range is the shared gid's, never a VMM's. */
	for (uint64_t c = (uint64_t)r->first + 1; c <= r->last; c++) {
		char name[16];
		snprintf(name, sizeof(name), "%llu", (unsigned long long)c);
		int fd = openat(d, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return capsid_error_errno(err, errno, "jail: allocate uid %s", name);
		rc = util_write_all(fd, owner, strlen(owner));
		close(fd);
		if (rc < 0) {
			unlinkat(d, name, 0);
			return capsid_error_errno(err, rc, "jail: record uid %s", name);
		}
		*out = (uid_t)c;
		return 0;
	}
	return capsid_error_set(err, ENOSPC, "jail: every uid of %u-%u is taken (CAPSID_JAIL_UIDS)", r->first,
				r->last);
}

int jail_uid_transfer(const char *root, const char *from, const char *to, struct capsid_error *err)
{
	if (!owner_valid(from) || !owner_valid(to))
		return capsid_error_set(err, EINVAL, "jail: invalid uid owner name");
	int dirfd = -1, lock = -1;
	int rc = ids_lock(root, &dirfd, &lock);
	if (rc < 0)
		return capsid_error_errno(err, rc, "jail: lock %s/jail/uids.lock", root);
	_cleanup_close_ int d = dirfd, l = lock;
	uid_t u = find_owner(d, from);
	if (!u)
		return capsid_error_set(err, ENOENT, "jail: %s holds no uid", from);
	char name[16];
	uid_t old = find_owner(d, to);
	if (old) {
		snprintf(name, sizeof(name), "%u", (unsigned)old);
		unlinkat(d, name, 0);
	}
	snprintf(name, sizeof(name), "%u", (unsigned)u);
	rc = util_write_file_atomic_at(d, name, to, strlen(to), 0600);
	return rc < 0 ? capsid_error_errno(err, rc, "jail: record uid %s", name) : 0;
}

int jail_uid_release(const char *root, const char *owner)
{
	if (!owner_valid(owner))
		return -EINVAL;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/jail/uids", root);
	if (access(path, F_OK) < 0)
		return 0;
	int dirfd = -1, lock = -1;
	int rc = ids_lock(root, &dirfd, &lock);
	if (rc < 0)
		return rc;
	_cleanup_close_ int d = dirfd, l = lock;
	uid_t u = find_owner(d, owner);
	if (!u)
		return 0;
	char name[16];
	snprintf(name, sizeof(name), "%u", (unsigned)u);
	return unlinkat(d, name, 0) < 0 ? -errno : 0;
}

int jail_uid_owner(const char *root, uid_t uid, char *out, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/jail/uids/%u", root, (unsigned)uid);
	_cleanup_free_ char *text = NULL;
	out[0] = '\0';
	int rc = util_read_file_at(AT_FDCWD, path, OWNER_MAX, &text, NULL);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	snprintf(out, len, "%s", text);
	return 0;
}
