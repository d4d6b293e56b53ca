/* The attach lock of a volume and the names of its holders (disk.h).
 *
 * Open file description locks (F_OFD_SETLK) on NAME.lock:
 *   byte 0           the volume: a write lock for the read-write holder,
 *                    read locks for read-only holders
 *   byte 1 + k       slot k, write-locked by one holder for as long as it holds
 *   4096 + 128 * k   slot k's record: mode 'w'|'r', kind 'g'|'o', the holder's name
 *
 * OFD locks belong to the open file description, as flock() locks do: they
 * go when the last fd sharing it closes (also when the holder crashes) and
 * survive fork, unlike POSIX record locks, which a process loses when it
 * closes any fd of the file. Unlike flock() they come in byte ranges, which
 * gives every holder a slot whose lock says whether its record is live: a
 * crashed holder's record is never shown. A holder claims its slot and
 * writes its record before it takes byte 0, so whoever holds byte 0 has a
 * record by then. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "disk_internal.h"

#define LOCK_BYTE     0
#define SLOT_BYTE(k)  ((off_t)1 + (off_t)(k))
#define RECORD_LEN    128
#define RECORD_OFF(k) ((off_t)4096 + (off_t)(k)*RECORD_LEN)

struct holder {
	char mode; /* 'w' read-write, 'r' read-only */
	char kind; /* enum disk_holder_kind */
	char name[RECORD_LEN];
};

/* F_OFD_SETLK: 0 or -errno (-EAGAIN/-EACCES: taken). F_OFD_GETLK: the
 * type of a conflicting lock held by another description, F_UNLCK if none. */
static int ofd(int fd, int cmd, short type, off_t start)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = 1};
	if (fcntl(fd, cmd, &fl) < 0)
		return -errno;
	return cmd == F_OFD_GETLK ? fl.l_type : 0;
}

static bool taken(int rc)
{
	return rc == -EAGAIN || rc == -EACCES;
}

/* The live records; only mode `only` ('w', 'r') unless 0. */
static size_t read_holders(int fd, char only, struct holder *out, size_t max)
{
	size_t n = 0;
	for (int k = 0; k < DISK_MAX_HOLDERS && n < max; k++) {
		if (ofd(fd, F_OFD_GETLK, F_WRLCK, SLOT_BYTE(k)) != F_WRLCK)
			continue;
		char rec[RECORD_LEN] = {0};
		if (pread(fd, rec, sizeof(rec) - 1, RECORD_OFF(k)) < 3)
			continue;
		if (!strchr("wr", rec[0]) || !strchr("go", rec[1]) || (only && rec[0] != only))
			continue;
		struct holder *h = &out[n++];
		h->mode = rec[0];
		h->kind = rec[1];
		/* The file is ours (0600 in a 0700 dir), but a torn record must
		 * still not put control characters into a message. */
		size_t i = 0;
		for (const char *c = rec + 2; *c && i < sizeof(h->name) - 1; c++)
			h->name[i++] = (*c >= 0x20 && *c < 0x7f) ? *c : '?';
		h->name[i] = '\0';
	}
	return n;
}

static void append(char *out, size_t len, const char *s)
{
	size_t used = strlen(out);
	if (used + 1 < len)
		snprintf(out + used, len - used, "%s", s);
}

/* "group g1, group g2" or "capsid volume cp". */
static void join_names(const struct holder *h, size_t n, char *out, size_t len)
{
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		append(out, len, i ? ", " : "");
		append(out, len, h[i].kind == DISK_HOLDER_GROUP ? "group " : "");
		append(out, len, h[i].name);
	}
}

/* We were refused byte 0: say who holds it. A writer holds it when even a
 * read lock would conflict; then only 'w' records count. */
static int busy(int fd, const char *name, struct capsid_error *err)
{
	bool writer = ofd(fd, F_OFD_GETLK, F_RDLCK, LOCK_BYTE) == F_WRLCK;
	struct holder h[DISK_MAX_HOLDERS];
	size_t n = read_holders(fd, writer ? 'w' : 'r', h, DISK_MAX_HOLDERS);
	char who[512];
	join_names(h, n, who, sizeof(who));
	if (n == 0)
		return capsid_error_set(err, EBUSY, "volume %s is in use", name);
	if (h[0].kind == DISK_HOLDER_OP)
		return capsid_error_set(err, EBUSY, "volume %s is in use by %s", name, who);
	return capsid_error_set(err, EBUSY, "volume %s is attached %s by %s", name,
				writer ? "read-write" : "read-only", who);
}

/* Claim a free slot and write our record into it; the slot number or
 * -errno (-EBUSY when all are taken). */
static int claim_slot(int fd, bool rw, enum disk_holder_kind kind, const char *holder)
{
	for (int k = 0; k < DISK_MAX_HOLDERS; k++) {
		int rc = ofd(fd, F_OFD_SETLK, F_WRLCK, SLOT_BYTE(k));
		if (taken(rc))
			continue;
		if (rc < 0)
			return rc;
		char rec[RECORD_LEN] = {0};
		snprintf(rec, sizeof(rec), "%c%c%s", rw ? 'w' : 'r', (char)kind, holder);
		if (pwrite(fd, rec, sizeof(rec), RECORD_OFF(k)) != (ssize_t)sizeof(rec))
			return -EIO;
		return k;
	}
	return -EBUSY;
}

int disk_lock_take(const struct disk_paths *p, const char *name, bool rw, enum disk_holder_kind kind,
		   const char *holder, struct capsid_error *err)
{
	/* disk_remove and a failed create unlink the lock file while holding
	 * it; whoever opened the old file in between holds a lock that guards
	 * nothing, so it checks, after locking, that its file is still the
	 * one at the path, and starts over if not. */
	for (int attempt = 0; attempt < 16; attempt++) {
		_cleanup_close_ int fd = open(p->lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return capsid_error_errno(err, errno, "open %s", p->lock);
		int rc = claim_slot(fd, rw, kind, holder);
		if (rc == -EBUSY)
			return capsid_error_set(err, EBUSY, "volume %s has %d holders already", name,
						DISK_MAX_HOLDERS);
		if (rc < 0)
			return capsid_error_errno(err, -rc, "lock %s", p->lock);
		rc = ofd(fd, F_OFD_SETLK, rw ? F_WRLCK : F_RDLCK, LOCK_BYTE);
		if (taken(rc))
			return busy(fd, name, err);
		if (rc < 0)
			return capsid_error_errno(err, -rc, "lock %s", p->lock);
		struct stat a, b;
		if (fstat(fd, &a) < 0)
			return capsid_error_errno(err, errno, "stat %s", p->lock);
		if (stat(p->lock, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return TAKE_FD(fd);
	}
	return capsid_error_set(err, EAGAIN, "volume %s: its lock file keeps being replaced", name);
}

void disk_lock_describe(const char *path, char *out, size_t len)
{
	out[0] = '\0';
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	struct holder h[DISK_MAX_HOLDERS];
	size_t n = read_holders(fd, 0, h, DISK_MAX_HOLDERS);
	for (size_t i = 0; i < n; i++) {
		append(out, len, i ? ", " : "");
		append(out, len, h[i].name);
		if (h[i].kind == DISK_HOLDER_GROUP)
			append(out, len, h[i].mode == 'w' ? " (rw)" : " (ro)");
	}
}
