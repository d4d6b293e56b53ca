/* Unclaimed exit statuses: a process is matched only with a status
 * recorded after the job that started it began, so a stale status of a
 * reused pid never ends a running process. */
#include "reaped.h"
#include "testlib.h"

static void test_taken_once(void)
{
	struct reaped_table t = {0};
	uint64_t mark = reaped_mark(&t);
	reaped_record(&t, 42, 7 << 8);
	int st = 0;
	CHECK(reaped_take(&t, 42, mark, &st) && st == 7 << 8);
	CHECK(!reaped_take(&t, 42, mark, &st));
	CHECK(!reaped_take(&t, 43, mark, &st));
}

static void test_stale_pid_ignored(void)
{
	struct reaped_table t = {0};
	/* An old process with pid 100 nobody claimed... */
	reaped_record(&t, 100, 1 << 8);
	/* ...then a job starts a new process that gets pid 100 again. */
	uint64_t mark = reaped_mark(&t);
	int st = -1;
	CHECK(!reaped_take(&t, 100, mark, &st) && st == -1);
	/* The stale entry is gone; the new process's own exit is found. */
	reaped_record(&t, 100, 3 << 8);
	CHECK(reaped_take(&t, 100, mark, &st) && st == 3 << 8);
}

static void test_first_after_mark(void)
{
	struct reaped_table t = {0};
	uint64_t mark = reaped_mark(&t);
	reaped_record(&t, 5, 1);
	reaped_record(&t, 5, 2); /* the pid was taken again after ours ended */
	int st = 0;
	CHECK(reaped_take(&t, 5, mark, &st) && st == 1);
}

static void test_ring_wraps(void)
{
	struct reaped_table t = {0};
	uint64_t mark = reaped_mark(&t);
	for (int i = 0; i < REAPED_MAX + 10; i++)
		reaped_record(&t, 1000 + i, i);
	int st;
	CHECK(!reaped_take(&t, 1000, mark, &st)); /* the oldest went */
	CHECK(reaped_take(&t, 1000 + REAPED_MAX + 9, mark, &st) && st == REAPED_MAX + 9);
}

int main(void)
{
	RUN_TEST(test_taken_once);
	RUN_TEST(test_stale_pid_ignored);
	RUN_TEST(test_first_after_mark);
	RUN_TEST(test_ring_wraps);
	TEST_EXIT();
}
