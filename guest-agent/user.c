#include "user.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "inroot.h"

/* /etc/passwd of a real image is a few KiB; anything huge is hostile. */
#define USER_DB_MAX (1u << 20)

static int open_in_root(int rootfd, const char *path)
{
	return inroot_open(rootfd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, RESOLVE_NO_XDEV);
}

static int read_fd_bounded(int fd, size_t max, char **out)
{
	_cleanup_free_ char *buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	size_t used = 0;
	for (;;) {
		ssize_t n = read(fd, buf + used, max + 1 - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max)
			return -EFBIG;
	}
	buf[used] = '\0';
	*out = TAKE_PTR(buf);
	return 0;
}

/* Read a database file; a missing file reads as empty. */
static int read_db(int rootfd, const char *path, char **out)
{
	_cleanup_close_ int fd = open_in_root(rootfd, path);
	if (fd == -ENOENT) {
		*out = strdup("");
		return *out ? 0 : -ENOMEM;
	}
	if (fd < 0)
		return fd;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	return read_fd_bounded(fd, USER_DB_MAX, out);
}

static bool parse_id(const char *s, size_t len, uint32_t *out)
{
	if (len == 0 || len > 10)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	/* (uint32_t)-1 means "no id" to the kernel's set*id calls. */
	if (v >= UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Split one line of a colon-separated database into at most max fields. */
static size_t split_fields(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *p = line;
	while (n < max) {
		fields[n++] = p;
		char *c = strchr(p, ':');
		if (!c)
			break;
		*c = '\0';
		p = c + 1;
	}
	return n;
}

/* Find a passwd entry by name (name != NULL) or by uid. */
static bool passwd_lookup(char *db, const char *name, uint32_t uid, uint32_t *uid_out, uint32_t *gid_out,
			  char *name_out, size_t name_len)
{
	char *save = NULL;
	for (char *line = strtok_r(db, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[7];
		if (split_fields(line, f, 7) < 4)
			continue;
		uint32_t u, g;
		if (!parse_id(f[2], strlen(f[2]), &u) || !parse_id(f[3], strlen(f[3]), &g))
			continue;
		if (name ? strcmp(f[0], name) == 0 : u == uid) {
			*uid_out = u;
			*gid_out = g;
			snprintf(name_out, name_len, "%s", f[0]);
			return true;
		}
	}
	return false;
}

static bool group_lookup(char *db, const char *name, uint32_t *gid_out)
{
	char *save = NULL;
	for (char *line = strtok_r(db, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4];
		if (split_fields(line, f, 4) < 3)
			continue;
		uint32_t g;
		if (strcmp(f[0], name) == 0 && parse_id(f[2], strlen(f[2]), &g)) {
			*gid_out = g;
			return true;
		}
	}
	return false;
}

static void add_group(struct user_ids *ids, uint32_t gid)
{
	for (size_t i = 0; i < ids->n_groups; i++)
		if (ids->groups[i] == gid)
			return;
	if (ids->n_groups < USER_MAX_GROUPS)
		ids->groups[ids->n_groups++] = gid;
}

/* Supplementary groups: every group listing the user as a member. */
static void member_groups(char *db, const char *user, struct user_ids *ids)
{
	char *save = NULL;
	for (char *line = strtok_r(db, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4];
		if (split_fields(line, f, 4) < 4)
			continue;
		uint32_t g;
		if (!parse_id(f[2], strlen(f[2]), &g))
			continue;
		char *msave = NULL;
		for (char *m = strtok_r(f[3], ",", &msave); m; m = strtok_r(NULL, ",", &msave))
			if (strcmp(m, user) == 0)
				add_group(ids, g);
	}
}

int user_resolve(int rootfd, const char *spec, struct user_ids *out, struct capsid_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!spec || !*spec)
		return 0;
	if (strlen(spec) > 256)
		return capsid_error_set(err, EINVAL, "user: too long");
	char buf[257];
	snprintf(buf, sizeof(buf), "%s", spec);
	char *user = buf, *group = strchr(buf, ':');
	if (group) {
		*group++ = '\0';
		if (!*group || strchr(group, ':'))
			return capsid_error_set(err, EINVAL, "user \"%s\": expected USER[:GROUP]", spec);
	}
	if (!*user)
		return capsid_error_set(err, EINVAL, "user \"%s\": empty user", spec);

	_cleanup_free_ char *passwd = NULL;
	int rc = read_db(rootfd, "etc/passwd", &passwd);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "user \"%s\": read /etc/passwd", spec);
	char name[256] = "";
	uint32_t id;
	if (parse_id(user, strlen(user), &id)) {
		out->uid = id;
		/* A uid without an entry runs with gid 0, as in Docker. */
		if (!passwd_lookup(passwd, NULL, id, &out->uid, &out->gid, name, sizeof(name)))
			out->gid = 0;
	} else if (!passwd_lookup(passwd, user, 0, &out->uid, &out->gid, name, sizeof(name))) {
		return capsid_error_set(err, ENOENT, "user \"%s\": no such user in the image's /etc/passwd",
					user);
	}

	_cleanup_free_ char *groups = NULL;
	if (group || *name) {
		rc = read_db(rootfd, "etc/group", &groups);
		if (rc < 0)
			return capsid_error_errno(err, -rc, "user \"%s\": read /etc/group", spec);
	}
	if (group) {
		if (parse_id(group, strlen(group), &id)) {
			out->gid = id;
		} else {
			_cleanup_free_ char *copy = strdup(groups);
			if (!copy)
				return capsid_error_errno(err, ENOMEM, "user \"%s\"", spec);
			if (!group_lookup(copy, group, &out->gid))
				return capsid_error_set(
				    err, ENOENT, "user \"%s\": no such group in the image's /etc/group",
				    spec);
		}
	}
	if (*name)
		member_groups(groups, name, out);
	return 0;
}
