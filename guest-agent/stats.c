#include "stats.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "container.h"
#include "util.h"

/* The sum of KEY=N fields over the lines of io.stat, or "KEY N" lines of
 * memory.stat (equals '=' or ' '). */
static long long sum_fields(const char *text, const char *key, char sep)
{
	long long sum = 0;
	size_t klen = strlen(key);
	for (const char *p = text; p && *p;) {
		const char *hit = strstr(p, key);
		if (!hit)
			break;
		bool start = hit == text || hit[-1] == ' ' || hit[-1] == '\n';
		if (start && hit[klen] == sep)
			sum += strtoll(hit + klen + 1, NULL, 10);
		p = hit + klen;
	}
	return sum;
}

static char *read_cgroup_file(const char *name, const char *file)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "/sys/fs/cgroup" AGENT_CGROUP_PARENT "/%s/%s", name, file);
	char *s = NULL;
	return util_read_file_at(AT_FDCWD, path, 64 * 1024, &s, NULL) < 0 ? NULL : s;
}

static void add_container_fields(struct json_object *o, const char *name)
{
	struct json_object *cur;
	long long current =
	    json_object_object_get_ex(o, "memoryBytes", &cur) ? json_object_get_int64(cur) : -1;
	_cleanup_free_ char *mstat = read_cgroup_file(name, "memory.stat");
	/* The working set as the kubelet and ACI count it: usage less inactive file pages. */
	long long ws = current;
	if (mstat && current >= 0) {
		long long inactive = sum_fields(mstat, "inactive_file", ' ');
		ws = inactive < current ? current - inactive : 0;
	}
	json_object_object_add(o, "memoryWorkingSetBytes", json_object_new_int64(ws));
	_cleanup_free_ char *io = read_cgroup_file(name, "io.stat");
	/* No io.stat without the io controller (the minimal guest kernel has none): -1. */
	json_object_object_add(o, "ioReadBytes",
			       json_object_new_int64(io ? sum_fields(io, "rbytes", '=') : -1));
	json_object_object_add(o, "ioWriteBytes",
			       json_object_new_int64(io ? sum_fields(io, "wbytes", '=') : -1));
}

static struct json_object *network(void)
{
	_cleanup_free_ char *s = NULL;
	long long rx = 0, tx = 0;
	if (util_read_file_at(AT_FDCWD, "/proc/net/dev", 64 * 1024, &s, NULL) == 0) {
		for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
			char *colon = strchr(line, ':');
			if (!colon)
				continue; /* the two header lines */
			*colon = '\0';
			while (*line == ' ')
				line++;
			if (!strcmp(line, "lo"))
				continue;
			long long v[9];
			if (sscanf(colon + 1, "%lld %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1],
				   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 9) {
				rx += v[0];
				tx += v[8];
			}
		}
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "rxBytes", json_object_new_int64(rx));
	json_object_object_add(o, "txBytes", json_object_new_int64(tx));
	return o;
}

struct json_object *stats_collect(struct agent *a)
{
	struct json_object *all = json_object_new_object();
	struct json_object *c = container_stats(a);
	if (!all || !c) {
		json_object_put(all);
		json_object_put(c);
		return NULL;
	}
	json_object_object_foreach(c, name, o) add_container_fields(o, name);
	json_object_object_add(all, "containers", c);
	json_object_object_add(all, "network", network());
	return all;
}
