/* Stats (ctr task metrics): what the task costs the host, as cgroup v2
 * metrics (io.containerd.cgroups.v2.Metrics, the type ctr prints): the CPU
 * time and resident memory of the task's QEMU, the monitor's child. The
 * guest's own accounting stays inside the VM. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb-c.h"
#include "github.com/containerd/containerd/runtime/v2/task/shim.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "shim.h"
#include "util.h"

/* The first child of pid whose command name starts with "qemu". */
static long qemu_child(long pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", pid, pid);
	_cleanup_free_ char *kids = NULL;
	size_t len;
	if (util_read_file_at(AT_FDCWD, path, 4096, &kids, &len) < 0)
		return -1;
	for (char *save = NULL, *k = strtok_r(kids, " \n", &save); k; k = strtok_r(NULL, " \n", &save)) {
		long c = strtol(k, NULL, 10);
		_cleanup_free_ char *comm = NULL;
		size_t n;
		snprintf(path, sizeof(path), "/proc/%ld/comm", c);
		if (c > 0 && util_read_file_at(AT_FDCWD, path, 64, &comm, &n) == 0 &&
		    strncmp(comm, "qemu", 4) == 0)
			return c;
	}
	return -1;
}

int shim_stats(long monitor_pid, uint8_t **out, size_t *out_len, struct capsid_error *err)
{
	long q = qemu_child(monitor_pid);
	if (q < 0)
		return capsid_error_set(err, ENOENT, "the task's VM is not running");
	char path[64];
	_cleanup_free_ char *stat = NULL, *status = NULL;
	size_t len;
	snprintf(path, sizeof(path), "/proc/%ld/stat", q);
	if (util_read_file_at(AT_FDCWD, path, 4096, &stat, &len) < 0)
		return capsid_error_set(err, ENOENT, "the task's VM is gone");
	snprintf(path, sizeof(path), "/proc/%ld/status", q);
	if (util_read_file_at(AT_FDCWD, path, 16384, &status, &len) < 0)
		return capsid_error_set(err, ENOENT, "the task's VM is gone");
	/* utime and stime: fields 14 and 15, counted after the ")" that ends
	 * the command name (which may hold spaces). */
	unsigned long long utime = 0, stime = 0;
	const char *rp = strrchr(stat, ')');
	if (!rp ||
	    sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
		return capsid_error_set(err, EIO, "unreadable %s", path);
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		hz = 100;
	unsigned long long rss_kb = 0;
	const char *r = strstr(status, "\nVmRSS:");
	if (r)
		sscanf(r + 7, "%llu", &rss_kb);

	Io__Containerd__Cgroups__V2__Metrics m = IO__CONTAINERD__CGROUPS__V2__METRICS__INIT;
	Io__Containerd__Cgroups__V2__PidsStat pids = IO__CONTAINERD__CGROUPS__V2__PIDS_STAT__INIT;
	Io__Containerd__Cgroups__V2__CPUStat cpu = IO__CONTAINERD__CGROUPS__V2__CPUSTAT__INIT;
	Io__Containerd__Cgroups__V2__MemoryStat mem = IO__CONTAINERD__CGROUPS__V2__MEMORY_STAT__INIT;
	pids.current = 1;
	cpu.user_usec = utime * 1000000ull / (unsigned long long)hz;
	cpu.system_usec = stime * 1000000ull / (unsigned long long)hz;
	cpu.usage_usec = cpu.user_usec + cpu.system_usec;
	mem.usage = rss_kb * 1024;
	m.pids = &pids;
	m.cpu = &cpu;
	m.memory = &mem;
	size_t n = io__containerd__cgroups__v2__metrics__get_packed_size(&m);
	_cleanup_free_ uint8_t *value = malloc(n ? n : 1);
	if (!value)
		return capsid_error_set(err, ENOMEM, "out of memory");
	io__containerd__cgroups__v2__metrics__pack(&m, value);
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	any.type_url = (char *)"io.containerd.cgroups.v2.Metrics";
	any.value.data = value;
	any.value.len = n;
	Containerd__Task__V2__StatsResponse resp = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
	resp.stats = &any;
	size_t rn = containerd__task__v2__stats_response__get_packed_size(&resp);
	if (!(*out = malloc(rn ? rn : 1)))
		return capsid_error_set(err, ENOMEM, "out of memory");
	*out_len = containerd__task__v2__stats_response__pack(&resp, *out);
	return 0;
}
