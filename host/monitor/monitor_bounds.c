/* What a tenant can make its monitor keep on the host, bounded. Container
 * logs are capped and rotated by their writer (logfile.c). The two files a
 * hostile guest or QEMU writes without the monitor in between are checked
 * here every few seconds: the serial console (QEMU appends the guest's
 * console to it) and the monitor log (QEMU's stderr). One past the cap
 * starts over (both are opened O_APPEND, so the writers continue at the new
 * end); the monitor says so in its log. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor.h"

#define BOUNDS_CHECK_MS 5000

uint64_t monitor_bounds_next_timer(const struct monitor *m)
{
	return m->opts->log_max_bytes ? m->bounds_at : UINT64_MAX;
}

static void cap_file(struct monitor *m, const char *path, const char *what)
{
	struct stat st;
	if (stat(path, &st) < 0 || (uint64_t)st.st_size <= m->opts->log_max_bytes)
		return;
	if (truncate(path, 0) < 0)
		return;
	monitor_log(m, "%s passed %u bytes (%lld): started over", what, m->opts->log_max_bytes,
		    (long long)st.st_size);
}

void monitor_bounds_timers(struct monitor *m, uint64_t now)
{
	if (now < monitor_bounds_next_timer(m))
		return;
	m->bounds_at = now + BOUNDS_CHECK_MS;
	cap_file(m, m->paths->console, "console.log");
	cap_file(m, m->paths->monitor_log, "monitor.log");
}
