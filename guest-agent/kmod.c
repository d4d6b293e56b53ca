#include "kmod.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "util.h"

static int load_one(int dirfd, const char *file)
{
	_cleanup_close_ int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, "", 0) < 0)
		return errno == EEXIST ? 0 : -errno;
	return 0;
}

int kmod_load_list(struct agent *a, const char *dir, const char *list)
{
	_cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	_cleanup_free_ char *names = NULL;
	int rc = util_read_file_at(dirfd, list, 64 * 1024, &names, NULL);
	if (rc < 0)
		return rc;
	int loaded = 0;
	char *save = NULL;
	for (char *line = strtok_r(names, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* Plain file names only: the list must not walk out of dir. */
		if (!*line || strchr(line, '/') || line[0] == '.')
			continue;
		rc = load_one(dirfd, line);
		if (rc < 0)
			log_warn(a, "load module %s: %s", line, strerror(-rc));
		else
			loaded++;
	}
	return loaded;
}
