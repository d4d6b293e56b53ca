/* Per-second metering, as ACI bills: while a group's VM is allocated the
 * monitor appends, every second, the second just used to
 * <root>/usage/<group>.log (one JSON line: start and end in Unix ms, the
 * group's vCPUs and memory in GiB), each line written whole and
 * fdatasync'ed, so a monitor killed with SIGKILL loses at most the second
 * it had not written yet. Accounting starts when the monitor starts (the
 * creating CLI recorded the time before it: image pulls and setup,
 * host/core/group_usage.c) or when a VM boots again, and ends when the VM
 * is gone. The log outlives the group (it is the bill). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"
#include "spec.h"
#include "usage.h"
#include "util.h"

#define USAGE_TICK_MS 1000

static uint64_t wall_ms(void)
{
	return util_wall_ms();
}

static void usage_write(struct monitor *m, uint64_t end)
{
	if (m->usage.fd < 0 || !m->usage.from_ms || end <= m->usage.from_ms)
		return;
	int rc = usage_append(m->usage.fd, m->paths->name, m->usage.from_ms, end, spec_group_vcpus(m->spec),
			      spec_group_memory_mib(m->spec));
	if (rc < 0)
		monitor_log(m, "usage: %s", strerror(-rc));
	m->usage.from_ms = end;
}

void monitor_usage_begin(struct monitor *m)
{
	if (m->usage.fd < 0) {
		char path[PATH_MAX];
		if (usage_log_path(m->paths->root, m->paths->name, path, sizeof(path)) < 0)
			return;
		m->usage.fd = usage_open(path);
		if (m->usage.fd < 0) {
			monitor_log(m, "usage: open %s: %s", path, strerror(-m->usage.fd));
			return;
		}
	}
	if (!m->usage.from_ms) {
		/* The first boot of a create counts from the create's start (pulls included). */
		uint64_t now = wall_ms(), since = m->opts->usage_since_ms;
		m->usage.from_ms = since && since <= now && !m->usage.began ? since : now;
		m->usage.began = true;
		m->usage.next_tick = util_now_ms() + USAGE_TICK_MS;
	}
}

void monitor_usage_end(struct monitor *m)
{
	usage_write(m, wall_ms());
	m->usage.from_ms = 0;
}

uint64_t monitor_usage_next_timer(const struct monitor *m)
{
	return m->usage.from_ms ? m->usage.next_tick : UINT64_MAX;
}

void monitor_usage_timers(struct monitor *m, uint64_t now)
{
	if (!m->usage.from_ms || now < m->usage.next_tick)
		return;
	usage_write(m, wall_ms());
	m->usage.next_tick = now + USAGE_TICK_MS;
}
