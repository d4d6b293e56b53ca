/* capsid-disk: the persistent-disk operations that boot the libguestfs
 * appliance, run by `capsid volume create` and `capsid volume cp` (cmd_volume.c)
 * so that only this program loads libguestfs and its ~70 libraries.
 *
 *   capsid-disk ROOT create NAME BYTES
 *   capsid-disk ROOT copy-in NAME HOST_SRC DISK_DST
 *   capsid-disk ROOT copy-out NAME DISK_SRC HOST_DST
 *
 * Exit 0 on success; 1 with the error on stderr (one line); 2 for a usage
 * error. Not meant to be run by hand: `capsid volume` checks the
 * arguments first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "error.h"

static int usage(void)
{
	fputs("usage: capsid-disk ROOT create NAME BYTES | copy-in NAME HOST_SRC DISK_DST |"
	      " copy-out NAME DISK_SRC HOST_DST\n(run by capsid volume)\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return usage();
	const char *root = argv[1], *op = argv[2];
	struct capsid_error err = {0};
	/* This program's edge: its settings, read once. */
	const struct disk_settings set = {.deb_cache = getenv("CAPSID_DEB_CACHE"),
					  .guestfs_cache = getenv("CAPSID_GUESTFS_CACHE")};
	int rc;
	if (strcmp(op, "create") == 0 && argc == 5) {
		char *end;
		errno = 0;
		unsigned long long bytes = strtoull(argv[4], &end, 10);
		if (errno || end == argv[4] || *end)
			return usage();
		rc = disk_create(root, &set, argv[3], bytes, &err);
	} else if (strcmp(op, "copy-in") == 0 && argc == 6) {
		rc = disk_copy_in(root, &set, argv[3], argv[4], argv[5], &err);
	} else if (strcmp(op, "copy-out") == 0 && argc == 6) {
		rc = disk_copy_out(root, &set, argv[3], argv[4], argv[5], &err);
	} else {
		return usage();
	}
	if (rc < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	return 0;
}
