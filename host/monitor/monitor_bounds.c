/* What a tenant can make its monitor keep on the host, bounded. Container
 * logs are capped and rotated by their writer (logfile.c). QEMU's stdout
 * and stderr come through a pipe the monitor drains into its log while the
 * log is under the cap, and drops (counted) beyond it: a QEMU writing
 * faster than the monitor checks cannot grow the file. The serial console
 * (QEMU appends the guest's console to it) and the monitor log are checked
 * every few seconds: one past the cap starts over (both are O_APPEND, so
 * writers continue at the new end); the monitor says so in its log.
 * Warm start's ready clone's QEMU writes into such a pipe too: the standby
 * drains it into standby.log under the cap and hands its read end to the
 * monitor that adopts the clone. */
#include <errno.h>
#include <fcntl.h>
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

int monitor_bounds_pipe(int *read_fd)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	*read_fd = p[0];
	return p[1];
}

int monitor_bounds_qemu_output(struct monitor *m)
{
	if (m->qemu_out_fd >= 0) {
		close(m->qemu_out_fd);
		m->qemu_out_fd = -1;
	}
	m->qemu_out_dropped = 0;
	return monitor_bounds_pipe(&m->qemu_out_fd);
}

void monitor_bounds_drain_fd(int *fd, int log_fd, unsigned cap, uint64_t *dropped)
{
	char buf[65536];
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(*fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			if (*dropped)
				monitor_log_fd(log_fd, "QEMU's output: %llu bytes past the log's cap dropped",
					       (unsigned long long)*dropped);
			close(*fd);
			*fd = -1;
			return;
		}
		if (n < 0)
			return;
		struct stat st;
		if (cap && fstat(log_fd, &st) == 0 && (uint64_t)st.st_size + (uint64_t)n > cap) {
			if (!*dropped)
				monitor_log_fd(log_fd, "QEMU's output: the log is at its cap (%u bytes): dropping the rest",
					       cap);
			*dropped += (uint64_t)n;
		} else if (log_fd >= 0) {
			(void)!write(log_fd, buf, (size_t)n);
		}
	}
}

void monitor_bounds_drain(struct monitor *m)
{
	monitor_bounds_drain_fd(&m->qemu_out_fd, m->log_fd, m->opts->log_max_bytes, &m->qemu_out_dropped);
}
