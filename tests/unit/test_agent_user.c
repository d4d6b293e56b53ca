/* User resolution inside an (untrusted) image tree: numeric and named
 * users and groups, supplementary groups, and files that try to escape the
 * root or block the agent. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"
#include "user.h"
#include "util.h"

static char root[64];

static void put(const char *rel, const char *data)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(data, f);
	fclose(f);
}

static int rootfd(void)
{
	return open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static void test_resolve(void)
{
	int fd = rootfd();
	struct user_ids u;
	struct capsid_error err = {0};
	CHECK(user_resolve(fd, NULL, &u, &err) == 0 && u.uid == 0 && u.gid == 0 && u.n_groups == 0);
	CHECK(user_resolve(fd, "app", &u, &err) == 0 && u.uid == 1000 && u.gid == 1000);
	CHECK(u.n_groups == 2 && u.groups[0] == 2000 && u.groups[1] == 3000);
	CHECK(user_resolve(fd, "app:extra", &u, &err) == 0 && u.uid == 1000 && u.gid == 2000);
	CHECK(user_resolve(fd, "app:55", &u, &err) == 0 && u.gid == 55);
	/* A uid with an entry takes its gid; without one, gid 0. */
	CHECK(user_resolve(fd, "1000", &u, &err) == 0 && u.uid == 1000 && u.gid == 1000 && u.n_groups == 2);
	CHECK(user_resolve(fd, "4242", &u, &err) == 0 && u.uid == 4242 && u.gid == 0 && u.n_groups == 0);
	CHECK(user_resolve(fd, "4242:4343", &u, &err) == 0 && u.uid == 4242 && u.gid == 4343);
	CHECK(user_resolve(fd, "0:0", &u, &err) == 0 && u.uid == 0 && u.gid == 0);

	CHECK(user_resolve(fd, "nosuch", &u, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "no such user");
	CHECK(user_resolve(fd, "app:nogroup", &u, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "no such group");
	CHECK(user_resolve(fd, ":1", &u, &err) < 0);
	CHECK(user_resolve(fd, "app:", &u, &err) < 0);
	CHECK(user_resolve(fd, "a:b:c", &u, &err) < 0);
	CHECK(user_resolve(fd, "4294967295", &u, &err) < 0); /* (uid_t)-1 is not a uid */
	/* Malformed lines are skipped, not fatal. */
	CHECK(user_resolve(fd, "after", &u, &err) == 0 && u.uid == 7 && u.gid == 7);
	close(fd);
}

static void test_hostile_files(void)
{
	char path[256];
	int fd = rootfd();
	struct user_ids u;
	struct capsid_error err = {0};
	/* An absolute symlink must resolve inside the image, never to the
	 * agent's own /etc/passwd (which knows "root" and "daemon"). */
	snprintf(path, sizeof(path), "%s/etc/passwd", root);
	unlink(path);
	CHECK(symlink("/etc/passwd", path) == 0);
	CHECK(user_resolve(fd, "root", &u, &err) < 0);
	unlink(path);
	CHECK(symlink("../../../../../../etc/passwd", path) == 0);
	CHECK(user_resolve(fd, "root", &u, &err) < 0);
	unlink(path);
	/* A FIFO would block a plain open/read for ever. */
	CHECK(mkfifo(path, 0600) == 0);
	CHECK(user_resolve(fd, "app", &u, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "/etc/passwd");
	unlink(path);
	/* No passwd at all: numeric ids still work, names do not. */
	CHECK(user_resolve(fd, "12:34", &u, &err) == 0 && u.uid == 12 && u.gid == 34);
	CHECK(user_resolve(fd, "app", &u, &err) < 0);
	close(fd);
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/capsid-user-XXXXXX");
	if (!mkdtemp(root))
		return 1;
	char etc[128];
	snprintf(etc, sizeof(etc), "%s/etc", root);
	mkdir(etc, 0755);
	put("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
			  "app:x:1000:1000::/home/app:/bin/sh\n"
			  "broken line\n"
			  "bad:x:notanumber:1:::\n"
			  "after:x:7:7:::\n");
	put("etc/group", "root:x:0:\napp:x:1000:\nextra:x:2000:other,app\nmore:x:3000:app\nnone:x:4000:\n");
	RUN_TEST(test_resolve);
	RUN_TEST(test_hostile_files);
	util_rm_rf(root);
	TEST_EXIT();
}
