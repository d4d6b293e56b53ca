#include "usage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "group.h"
#include "util.h"

/* A group's whole history of records is read at most this big. */
#define USAGE_LOG_READ_MAX (256u << 20)

int usage_log_path(const char *root, const char *group, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/usage/%s.log", root, group);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int usage_open(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		if (util_mkdir_p(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
	}
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	return fd < 0 ? -errno : fd;
}

int usage_append(int fd, const char *group, uint64_t start_ms, uint64_t end_ms, unsigned vcpus,
		 unsigned memory_mib)
{
	char line[USAGE_LINE_MAX];
	int n = snprintf(line, sizeof(line),
			 "{\"group\":\"%s\",\"startMs\":%llu,\"endMs\":%llu,\"vcpus\":%u,\"memoryMiB\":%u}\n",
			 group, (unsigned long long)start_ms, (unsigned long long)end_ms, vcpus, memory_mib);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENAMETOOLONG;
	/* One write of the whole line: O_APPEND keeps lines of two writers whole. */
	ssize_t w = write(fd, line, (size_t)n);
	if (w != n)
		return w < 0 ? -errno : -EIO;
	return fdatasync(fd) < 0 ? -errno : 0;
}

static int parse_line(const char *line, struct usage_record *r)
{
	_cleanup_json_ struct json_object *o = json_tokener_parse(line);
	struct json_object *g, *s, *e, *v, *mem;
	if (!o || !json_object_object_get_ex(o, "group", &g) ||
	    !json_object_object_get_ex(o, "startMs", &s) || !json_object_object_get_ex(o, "endMs", &e) ||
	    !json_object_object_get_ex(o, "vcpus", &v) || !json_object_object_get_ex(o, "memoryMiB", &mem) ||
	    !json_object_is_type(g, json_type_string) || !group_name_valid(json_object_get_string(g)))
		return -EINVAL;
	int64_t start = json_object_get_int64(s), end = json_object_get_int64(e),
		vc = json_object_get_int64(v), mm = json_object_get_int64(mem);
	if (start <= 0 || end < start || vc < 1 || vc > 1024 || mm < 1 || mm > (1 << 22))
		return -EINVAL;
	snprintf(r->group, sizeof(r->group), "%s", json_object_get_string(g));
	r->start_ms = (uint64_t)start;
	r->end_ms = (uint64_t)end;
	r->vcpus = (unsigned)vc;
	r->memory_mib = (unsigned)mm;
	return 0;
}

int usage_read_all(const char *root, void (*fn)(const struct usage_record *r, void *ud), void *ud)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/usage", root);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".log") != 0)
			continue;
		_cleanup_free_ char *text = NULL;
		if (util_read_file_at(dirfd(d), de->d_name, USAGE_LOG_READ_MAX, &text, NULL) < 0)
			continue;
		for (char *line = text, *next; line && *line; line = next) {
			next = strchr(line, '\n');
			if (!next)
				break; /* a line cut by a crash: not a record */
			*next++ = '\0';
			struct usage_record r;
			if (strlen(line) < USAGE_LINE_MAX && parse_line(line, &r) == 0)
				fn(&r, ud);
		}
	}
	closedir(d);
	return 0;
}
