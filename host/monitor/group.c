#include "group.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

int group_name_valid(const char *s)
{
	return util_name_valid(s);
}

static int join(char *out, size_t cap, const char *dir, const char *leaf)
{
	int n = snprintf(out, cap, "%s/%s", dir, leaf);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int group_paths_init(const char *root, const char *name, struct group_paths *p, struct capsid_error *err)
{
	memset(p, 0, sizeof(*p));
	/* Group names are case-insensitive (ARM resource names): kept lowercase. */
	char folded[UTIL_NAME_MAX + 1];
	size_t len = name ? strnlen(name, sizeof(folded)) : 0;
	for (size_t i = 0; i < len; i++)
		folded[i] = (char)tolower((unsigned char)name[i]);
	folded[len < sizeof(folded) ? len : 0] = '\0';
	if (!group_name_valid(folded))
		return capsid_error_set(err, EINVAL, "group name \"%.64s\": must be %s", name ? name : "",
					UTIL_NAME_RULE);
	name = folded;
	if (snprintf(p->root, sizeof(p->root), "%s", root) >= (int)sizeof(p->root))
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	snprintf(p->name, sizeof(p->name), "%s", name);
	int n = snprintf(p->dir, sizeof(p->dir), "%s/groups/%s", root, name);
	if (n < 0 || (size_t)n >= sizeof(p->dir))
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	if (join(p->spec, sizeof(p->spec), p->dir, "spec.json") < 0 ||
	    join(p->state, sizeof(p->state), p->dir, "state.json") < 0 ||
	    join(p->lock, sizeof(p->lock), p->dir, "monitor.lock") < 0 ||
	    join(p->pid, sizeof(p->pid), p->dir, "monitor.pid") < 0 ||
	    join(p->console, sizeof(p->console), p->dir, "console.log") < 0 ||
	    join(p->monitor_log, sizeof(p->monitor_log), p->dir, "monitor.log") < 0 ||
	    join(p->logs_dir, sizeof(p->logs_dir), p->dir, "logs") < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	if (join(p->control, sizeof(p->control), p->dir, "control.sock") < 0 ||
	    join(p->agent, sizeof(p->agent), p->dir, "agent.sock") < 0 ||
	    join(p->qmp, sizeof(p->qmp), p->dir, "qmp.sock") < 0)
		return capsid_error_set(err, ENAMETOOLONG,
					"state root %s is too long for unix socket paths (%d bytes at most for "
					"<root>/groups/<name>/control.sock): use a shorter --root",
					root, GROUP_SOCKET_PATH_MAX - 1);
	return 0;
}

int group_log_path(const struct group_paths *p, const char *container, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s.log", p->logs_dir, container);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int group_lock(const struct group_paths *p)
{
	_cleanup_close_ int fd = open(p->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	return TAKE_FD(fd);
}

int group_monitor_alive(const struct group_paths *p)
{
	_cleanup_close_ int fd = open(p->lock, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? 1 : -errno;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void group_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int group_list_names(const char *root, char ***names, size_t *n)
{
	char dir[PATH_MAX];
	if (snprintf(dir, sizeof(dir), "%s/groups", root) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	*names = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	char **v = NULL;
	size_t count = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		if (!group_name_valid(e->d_name))
			continue;
		char **nv = realloc(v, (count + 1) * sizeof(*v));
		if (!nv || !(nv[count] = strdup(e->d_name))) {
			v = nv ? nv : v;
			rc = -ENOMEM;
			break;
		}
		v = nv;
		count++;
	}
	closedir(d);
	if (rc < 0) {
		group_names_free(v, count);
		return rc;
	}
	if (count)
		qsort(v, count, sizeof(*v), cmp_names);
	*names = v;
	*n = count;
	return 0;
}

int group_connect(const struct group_paths *p, struct capsid_error *err)
{
	int fd = util_unix_connect(p->control, SOCK_STREAM);
	if (fd < 0)
		return capsid_error_errno(err, -fd, "group %s: connect to its monitor", p->name);
	return fd;
}
