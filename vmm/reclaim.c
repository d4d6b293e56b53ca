/* Host memory a booted VM no longer needs. QEMU loads -kernel and -initrd
 * as "ROMs" that keep the files mapped: at every machine reset it copies
 * them into guest RAM again. capsid's QEMU runs with -no-reboot (a reset
 * ends it), so once the guest kernel runs, those mappings are dead weight:
 * 11.7 MiB of page cache (the PVH vmlinux and the initramfs) that PSS
 * charges in full to a group running alone (measured, BENCHMARKS.md).
 * process_madvise(MADV_PAGEOUT) has the host kernel reclaim them: clean
 * file pages, read from the file again should QEMU ever touch them. Pages
 * another process maps as well (a second QEMU booting the same kernel) are
 * left alone by the kernel, so groups side by side keep sharing them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cleanup.h"
#include "vmm.h"

#define MAX_RANGES 64

struct file_id {
	dev_t dev;
	ino_t ino;
};

static bool is_wanted(const struct file_id *ids, size_t n, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i].dev == dev && ids[i].ino == ino)
			return true;
	return false;
}

/* The ranges of pid's mappings of the files in ids, from /proc/PID/maps
 * ("start-end perms offset major:minor inode path"). */
static int find_ranges(pid_t pid, const struct file_id *ids, size_t n_ids, struct iovec *iov, size_t *n_iov,
		       struct capsid_error *err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return capsid_error_errno(err, errno, "release boot files: open %s", path);
	char line[4096 + 128];
	*n_iov = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, inode;
		unsigned major, minor;
		if (sscanf(line, "%lx-%lx %*s %*x %x:%x %lu", &start, &end, &major, &minor, &inode) != 5 || !inode)
			continue;
		if (!is_wanted(ids, n_ids, makedev(major, minor), (ino_t)inode))
			continue;
		if (*n_iov == MAX_RANGES)
			break; /* a QEMU maps each file once or twice: more is not worth an error */
		iov[(*n_iov)++] = (struct iovec){.iov_base = (void *)start, .iov_len = end - start};
	}
	return 0;
}

long vmm_release_files(pid_t pid, const char *const *paths, size_t n_paths, struct capsid_error *err)
{
	struct file_id ids[8];
	size_t n_ids = 0;
	for (size_t i = 0; i < n_paths && n_ids < sizeof(ids) / sizeof(ids[0]); i++) {
		struct stat st;
		if (!paths[i] || stat(paths[i], &st) < 0)
			continue; /* nothing to map: nothing to release */
		ids[n_ids++] = (struct file_id){.dev = st.st_dev, .ino = st.st_ino};
	}
	struct iovec iov[MAX_RANGES];
	size_t n_iov = 0;
	int rc = find_ranges(pid, ids, n_ids, iov, &n_iov, err);
	if (rc < 0 || n_iov == 0)
		return rc;
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return capsid_error_errno(err, errno, "release boot files: pidfd_open %d", (int)pid);
	/* Linux >= 5.10; the caller needs CAP_SYS_NICE over pid (root has it). */
	long advised = syscall(SYS_process_madvise, pidfd, iov, n_iov, MADV_PAGEOUT, 0);
	if (advised < 0)
		return capsid_error_errno(err, errno, "release boot files: process_madvise(MADV_PAGEOUT) of QEMU %d",
					  (int)pid);
	return advised;
}
