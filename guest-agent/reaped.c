#include "reaped.h"

void reaped_record(struct reaped_table *t, pid_t pid, int wstatus)
{
	t->e[t->next].pid = pid;
	t->e[t->next].wstatus = wstatus;
	t->e[t->next].seq = ++t->seq;
	t->next = (t->next + 1) % REAPED_MAX;
}

uint64_t reaped_mark(const struct reaped_table *t)
{
	return t->seq;
}

bool reaped_take(struct reaped_table *t, pid_t pid, uint64_t mark, int *wstatus)
{
	/* The first one after the mark: that process's pid was free at the
	 * mark, so a later holder of the pid came after it. */
	size_t best = REAPED_MAX;
	for (size_t i = 0; i < REAPED_MAX; i++)
		if (t->e[i].pid == pid && t->e[i].seq > mark &&
		    (best == REAPED_MAX || t->e[i].seq < t->e[best].seq))
			best = i;
	if (best < REAPED_MAX)
		*wstatus = t->e[best].wstatus;
	for (size_t i = 0; i < REAPED_MAX; i++)
		if (t->e[i].pid == pid && (i == best || t->e[i].seq <= mark))
			t->e[i].pid = 0;
	return best < REAPED_MAX;
}
