/* vmm/jail_ids.c: the uid range, allocation, reuse, transfer and release,
 * in a private state root; vmm/jail_cgroup.c's choice of cgroup v2 or v1. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jail.h"
#include "testlib.h"
#include "util.h"

static char root[] = "/tmp/capsid-test-jail.XXXXXX";

static void test_range(void)
{
	struct jail_range r;
	struct capsid_error err = {0};
	CHECK(jail_range_parse(NULL, &r, &err) == 0 && r.first == JAIL_UID_FIRST && r.last == JAIL_UID_LAST);
	CHECK(jail_range_parse("", &r, &err) == 0 && r.first == JAIL_UID_FIRST);
	CHECK(jail_range_parse("70000-70010", &r, &err) == 0 && r.first == 70000 && r.last == 70010);
	static const char *const bad[] = {"70000", "70000-", "-5", "0-10", "10-10", "10-5", "a-b", "1-4294967295",
					  "5-9x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = (struct capsid_error){0};
		CHECK(jail_range_parse(bad[i], &r, &err) == -EINVAL);
		CHECK_STR_CONTAINS(err.msg, "CAPSID_JAIL_UIDS");
	}
}

static void test_allocation(void)
{
	struct jail_range r = {70000, 70003}; /* 70000 is the shared gid: three uids */
	struct capsid_error err = {0};
	uid_t a = 0, b = 0, c = 0, again = 0, d = 0;
	CHECK(jail_uid_get(root, &r, "alpha", &a, &err) == 0 && a == 70001);
	CHECK(jail_uid_get(root, &r, "beta", &b, &err) == 0 && b == 70002);
	CHECK(jail_uid_get(root, &r, "alpha", &again, &err) == 0 && again == a);
	CHECK(jail_uid_get(root, &r, "standby-builtin-1-384", &c, &err) == 0 && c == 70003);
	err = (struct capsid_error){0};
	CHECK(jail_uid_get(root, &r, "gamma", &d, &err) == -ENOSPC);
	CHECK_STR_CONTAINS(err.msg, "70000-70003");
	char owner[128];
	CHECK(jail_uid_owner(root, 70002, owner, sizeof(owner)) == 0 && strcmp(owner, "beta") == 0);
	/* Released: the lowest free uid is taken again. */
	CHECK(jail_uid_release(root, "alpha") == 0);
	CHECK(jail_uid_owner(root, 70001, owner, sizeof(owner)) == 0 && owner[0] == '\0');
	CHECK(jail_uid_get(root, &r, "gamma", &d, &err) == 0 && d == 70001);
	CHECK(jail_uid_release(root, "nobody-has-it") == 0);
	/* A ready clone's uid becomes the group's; the group's own goes. */
	CHECK(jail_uid_transfer(root, "standby-builtin-1-384", "beta", &err) == 0);
	CHECK(jail_uid_get(root, &r, "beta", &b, &err) == 0 && b == 70003);
	CHECK(jail_uid_owner(root, 70002, owner, sizeof(owner)) == 0 && owner[0] == '\0');
	CHECK(jail_uid_transfer(root, "standby-builtin-1-384", "beta", &err) == -ENOENT);
	/* Owner names become file contents, never paths; bounded. */
	CHECK(jail_uid_get(root, &r, "../etc", &d, &err) == -EINVAL);
	CHECK(jail_uid_get(root, &r, "", &d, &err) == -EINVAL);
	CHECK(jail_uid_get(root, &r, "a\nb", &d, &err) == -EINVAL);
}

/* put DIR/FILE with TEXT (DIR made first) */
static void put(const char *dir, const char *text)
{
	char path[512];
	CHECK(util_mkdir_p(dir, 0755) == 0);
	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	CHECK(util_write_file_atomic(path, text, strlen(text), 0644) == 0);
}

/* v2 is chosen wherever a v2 hierarchy offers cpu, memory and pids: the
 * layouts as cgroup.controllers files under a directory of the test's own
 * (the host's layout is whatever it is), then the host's own. */
static void test_cgroup_choice(void)
{
	char base[256], dir[512], out[512];
	snprintf(base, sizeof(base), "%s/cg-unified", root);
	put(base, "cpuset cpu io memory hugetlb pids rdma misc\n");
	CHECK(jail_cgroup_v2_mount(base, out, sizeof(out)) == 1 && strcmp(out, base) == 0);
	/* Hybrid, controllers on v1, an empty v2 beside them (this machine). */
	snprintf(base, sizeof(base), "%s/cg-hybrid", root);
	CHECK(util_mkdir_p(base, 0755) == 0);
	snprintf(dir, sizeof(dir), "%s/unified", base);
	put(dir, "hugetlb\n");
	CHECK(jail_cgroup_v2_mount(base, out, sizeof(out)) == 0);
	/* Hybrid with the three on its v2 hierarchy. */
	put(dir, "cpu memory pids\n");
	CHECK(jail_cgroup_v2_mount(base, out, sizeof(out)) == 1 && strcmp(out, dir) == 0);
	/* One of them missing, or only a prefix of a name: not v2. */
	put(dir, "cpuset memory pids\n");
	CHECK(jail_cgroup_v2_mount(base, out, sizeof(out)) == 0);
	put(dir, "cpu memory\n");
	CHECK(jail_cgroup_v2_mount(base, out, sizeof(out)) == 0);
	/* The host: v2 exactly when its /sys/fs/cgroup (or .../unified) lists all three. */
	FILE *f = fopen("/sys/fs/cgroup/cgroup.controllers", "r");
	char list[1024] = "";
	if (!f)
		f = fopen("/sys/fs/cgroup/unified/cgroup.controllers", "r");
	if (f) {
		if (!fgets(list, sizeof(list), f))
			list[0] = '\0';
		fclose(f);
	}
	bool all = strstr(list, "cpu ") && strstr(list, "memory") && strstr(list, "pids");
	CHECK(jail_cgroup_v2_mount("/sys/fs/cgroup", out, sizeof(out)) == (all ? 1 : 0));
}

int main(void)
{
	if (!mkdtemp(root))
		return 1;
	RUN_TEST(test_range);
	RUN_TEST(test_allocation);
	RUN_TEST(test_cgroup_choice);
	util_rm_rf(root);
	TEST_EXIT();
}
