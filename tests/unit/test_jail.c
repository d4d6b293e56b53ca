/* vmm/jail_ids.c: the uid range, allocation, reuse, transfer and release,
 * in a private state root. */
#include <errno.h>
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

int main(void)
{
	if (!mkdtemp(root))
		return 1;
	RUN_TEST(test_range);
	RUN_TEST(test_allocation);
	util_rm_rf(root);
	TEST_EXIT();
}
