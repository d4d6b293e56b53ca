/* Unpacking a volume's files onto the host (disk_copy_out). The tar
 * stream comes from the libguestfs appliance, which parsed the tenant's
 * filesystem: if a crafted filesystem took the appliance over, the stream
 * is the attacker's. So every name is cleaned here (no absolute names, no
 * ".."), libarchive refuses to write through symlinks or to link out of
 * the tree, and only regular files, directories, symlinks and hard links
 * are made, with no owners and no setuid/setgid/sticky bits.
 *
 * libarchive writes relative to the working directory, so this runs in a
 * child process that moves into the destination: the caller's cwd (and
 * any thread of it) is untouched. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "disk_internal.h"

#define MSG_MAX 512

/* prefix + name without "." components; -EINVAL for an absolute name or a
 * ".." component. "" for the archive's own root when prefix is "". */
static int clean_name(const char *prefix, const char *name, char *out, size_t len)
{
	if (name[0] == '/')
		return -EINVAL;
	size_t used = (size_t)snprintf(out, len, "%s", prefix);
	if (used >= len)
		return -ENAMETOOLONG;
	const char *p = name;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && !strncmp(p, "..", 2))
			return -EINVAL;
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			int w = snprintf(out + used, len - used, "%s%.*s", used ? "/" : "", (int)n, p);
			if (w < 0 || (size_t)w >= len - used)
				return -ENAMETOOLONG;
			used += (size_t)w;
		}
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

/* A hard link's target is resolved by link(2), which follows symlinks in
 * its directories: "d/x" with d -> /etc would link /etc/x into the tree
 * (and a later entry could write through it). Refuse targets whose parent
 * directories are symlinks. Runs with cwd = the destination. */
static bool parents_are_real(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *slash = strchr(buf, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		struct stat st;
		bool link = lstat(buf, &st) == 0 && S_ISLNK(st.st_mode);
		*slash = '/';
		if (link)
			return false;
	}
	return true;
}

static void drain(int fd)
{
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		;
}

static int copy_data(struct archive *in, struct archive *out)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r;
	while ((r = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK)
		if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_OK)
			return ARCHIVE_FATAL;
	return r == ARCHIVE_EOF ? ARCHIVE_OK : r;
}

/* Runs in the child, cwd = the destination. 0, or -1 with msg set. */
static int extract(int fd, const char *prefix, char *msg, size_t msg_len)
{
	struct archive *in = archive_read_new();
	struct archive *out = archive_write_disk_new();
	if (!in || !out) {
		snprintf(msg, msg_len, "out of memory");
		return -1;
	}
	archive_read_support_format_tar(in);
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						ARCHIVE_EXTRACT_SECURE_NODOTDOT |
						ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	int rc = 0;
	if (archive_read_open_fd(in, fd, 65536) != ARCHIVE_OK) {
		snprintf(msg, msg_len, "read the archive: %s", archive_error_string(in));
		rc = -1;
	}
	struct archive_entry *e;
	int r = ARCHIVE_EOF;
	while (rc == 0 && (r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		char name[PATH_MAX], link[PATH_MAX];
		const char *raw = archive_entry_pathname(e);
		const char *hardlink = archive_entry_hardlink(e);
		mode_t type = archive_entry_filetype(e);
		if (!raw || clean_name(prefix, raw, name, sizeof(name)) < 0 ||
		    (hardlink && clean_name(prefix, hardlink, link, sizeof(link)) < 0)) {
			snprintf(msg, msg_len, "refused an unsafe name in the volume's archive: \"%.100s\"",
				 raw ? raw : "(none)");
			rc = -1;
			break;
		}
		if (!name[0] || (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK))
			continue; /* the destination itself; devices, fifos, sockets */
		if (hardlink && !link[0])
			continue;
		if (hardlink && !parents_are_real(link)) {
			snprintf(msg, msg_len,
				 "refused a hard link through a symlink in the volume's archive: \"%.100s\"",
				 hardlink);
			rc = -1;
			break;
		}
		archive_entry_set_pathname(e, name);
		if (hardlink)
			archive_entry_set_hardlink(e, link);
		archive_entry_set_perm(e, archive_entry_perm(e) & 0777);
		if (archive_write_header(out, e) < ARCHIVE_WARN || copy_data(in, out) < ARCHIVE_WARN ||
		    archive_write_finish_entry(out) < ARCHIVE_WARN) {
			snprintf(msg, msg_len, "%.200s: %s", name, archive_error_string(out));
			rc = -1;
		}
	}
	if (rc == 0 && r != ARCHIVE_EOF) {
		snprintf(msg, msg_len, "read the archive: %s", archive_error_string(in));
		rc = -1;
	}
	/* Close applies the delayed directory times even after an error. */
	if (archive_write_close(out) != ARCHIVE_OK && rc == 0) {
		snprintf(msg, msg_len, "%s", archive_error_string(out));
		rc = -1;
	}
	archive_write_free(out);
	archive_read_free(in);
	return rc;
}

int disk_extract_tar_from(int (*produce)(void *ctx, int wfd, struct capsid_error *err), void *ctx,
			  const char *dst_dir, const char *prefix, struct capsid_error *err)
{
	int data[2], msg[2];
	if (pipe2(data, O_CLOEXEC) < 0)
		return capsid_error_errno(err, errno, "pipe");
	_cleanup_close_ int data_r = data[0];
	_cleanup_close_ int data_w = data[1];
	if (pipe2(msg, O_CLOEXEC) < 0)
		return capsid_error_errno(err, errno, "pipe");
	_cleanup_close_ int msg_r = msg[0];
	_cleanup_close_ int msg_w = msg[1];
	_cleanup_close_ int dir = open(dst_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return capsid_error_errno(err, errno, "open %s", dst_dir);
	_cleanup_child_ pid_t pid = fork();
	if (pid < 0)
		return capsid_error_errno(err, errno, "fork");
	if (pid == 0) {
		close(data_w);
		close(msg_r);
		char text[MSG_MAX] = "";
		int rc = fchdir(dir) < 0 ? -1 : extract(data_r, prefix, text, sizeof(text));
		if (rc < 0 && !text[0])
			snprintf(text, sizeof(text), "chdir %s: %s", dst_dir, strerror(errno));
		drain(data_r);
		if (rc < 0 && write(msg_w, text, strlen(text)) < 0)
			_exit(2);
		_exit(rc < 0 ? 1 : 0);
	}
	close(TAKE_FD(data_r));
	close(TAKE_FD(msg_w));
	/* A child that died early must turn the producer's writes into EPIPE,
	 * not kill the caller. */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	sigaction(SIGPIPE, &ign, &old);
	int rc = produce(ctx, data_w, err);
	close(TAKE_FD(data_w)); /* EOF for the child */
	sigaction(SIGPIPE, &old, NULL);
	char text[MSG_MAX] = "";
	size_t used = 0;
	ssize_t n;
	while (used < sizeof(text) - 1 &&
	       ((n = read(msg_r, text + used, sizeof(text) - 1 - used)) > 0 || (n < 0 && errno == EINTR)))
		used += n > 0 ? (size_t)n : 0;
	text[used] = '\0';
	int status;
	int wrc = child_wait(&pid, &status);
	if (wrc < 0)
		return capsid_error_errno(err, -wrc, "waitpid");
	if (rc < 0)
		return rc;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return capsid_error_set(err, EIO, "unpack into %s: %s", dst_dir,
					text[0] ? text : "the unpacking process failed");
	return 0;
}

static int produce_from_fd(void *ctx, int wfd, struct capsid_error *err)
{
	int src = *(int *)ctx;
	char buf[65536];
	for (;;) {
		ssize_t n = read(src, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return capsid_error_errno(err, errno, "read the archive");
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(wfd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return capsid_error_errno(err, errno, "write the archive");
			off += w;
		}
	}
}

int disk_extract_tar(int fd, const char *dst_dir, const char *prefix, struct capsid_error *err)
{
	return disk_extract_tar_from(produce_from_fd, &fd, dst_dir, prefix, err);
}
