/* Exit statuses of children nobody claimed yet: a detached `run`/`exec`
 * can be reaped (the agent is PID 1 and adopts it) before the agent read
 * its pid file. Each status is numbered as it is recorded, and a process
 * is matched only with statuses recorded after the runtime command that
 * started it began: the guest reuses pids quickly (pid_max 4096 on the
 * minimal kernel), and an old unclaimed status of the same pid must not
 * end a process that is still running. */
#ifndef AGENT_REAPED_H
#define AGENT_REAPED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define REAPED_MAX 64

struct reaped_table {
	struct {
		pid_t pid; /* 0: free */
		int wstatus;
		uint64_t seq;
	} e[REAPED_MAX];
	size_t next;
	uint64_t seq; /* of the last status recorded */
};

/* Keep an unclaimed status (the oldest goes when the table is full). */
void reaped_record(struct reaped_table *t, pid_t pid, int wstatus);
/* A mark to pass to reaped_take for processes started from now on. */
uint64_t reaped_mark(const struct reaped_table *t);
/* Take pid's status recorded after `mark`; older ones of that pid are
 * dropped as stale. */
bool reaped_take(struct reaped_table *t, pid_t pid, uint64_t mark, int *wstatus);

#endif
