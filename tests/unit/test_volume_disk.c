/* Persistent volume disks, for real: qcow2 + ext4 made by the libguestfs
 * appliance (booted under TCG here), files copied in and out through it,
 * the attach lock with holder names, and the unpacking of hostile archives
 * (as a taken-over appliance could send them) checked with crafted tars.
 *
 * The appliance boots four times (create, two copies in, one copy out of
 * the whole volume); everything else runs without it. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disk.h"
#include "disk_internal.h"
#include "testlib.h"
#include "util.h"

static char tmp[] = "/tmp/capsid-test-disk-XXXXXX";
static char root[64];

static void path_of(char *out, const char *rel)
{
	snprintf(out, PATH_MAX, "%s/%s", tmp, rel);
}

static bool same_file(const char *a, const char *b)
{
	char *x = NULL, *y = NULL;
	size_t lx = 0, ly = 0;
	bool ok = util_read_file_at(AT_FDCWD, a, 64 << 20, &x, &lx) == 0 &&
		  util_read_file_at(AT_FDCWD, b, 64 << 20, &y, &ly) == 0 && lx == ly && !memcmp(x, y, lx);
	free(x);
	free(y);
	return ok;
}

static bool is_absent(const char *path)
{
	struct stat st;
	return lstat(path, &st) < 0 && errno == ENOENT;
}

static void write_file(const char *rel, const void *data, size_t len, mode_t mode)
{
	char p[PATH_MAX];
	path_of(p, rel);
	CHECK(util_write_file_atomic(p, data, len, mode) == 0);
}

/* ---- no appliance ----------------------------------------------------------- */

static void test_names_and_sizes(void)
{
	struct capsid_error err = {0};
	CHECK(disk_create(root, NULL, "Bad_Name", 64 << 20, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "volume name \"Bad_Name\"");
	CHECK(disk_create(root, NULL, "-x", 64 << 20, &err) == -EINVAL);
	CHECK(disk_create(root, NULL, "", 64 << 20, &err) == -EINVAL);
	CHECK(disk_create(root, NULL, "data", 1 << 20, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "size: ");
	CHECK_STR_CONTAINS(err.msg, "at least 16M");
	CHECK(disk_create(root, NULL, "data", 1ull << 50, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "size: at most");
	CHECK(disk_create("relative", NULL, "data", 64 << 20, &err) == -EINVAL);
	CHECK(disk_path(root, "nothing", (char[PATH_MAX]){0}, &err) == -ENOENT);
	CHECK_STR_CONTAINS(err.msg, "no volume nothing (capsid volume create)");
	CHECK(disk_lock(root, "nothing", true, "g1", &err) == -ENOENT);
	CHECK(disk_lock(root, "nothing", true, "Not A Group", &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "holder");
	CHECK(disk_remove(root, "nothing", &err) == -ENOENT);
	CHECK(disk_copy_in(root, NULL, "nothing", "/etc/hostname", "relative/dir", &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "destination \"relative/dir\"");
	CHECK(disk_copy_out(root, NULL, "nothing", "/x", "/nonexistent-dir", &err) == -ENOENT);
	CHECK_STR_CONTAINS(err.msg, "destination /nonexistent-dir");
	CHECK(disk_name_valid("a") && disk_name_valid("data-1") && !disk_name_valid("a.b"));
	char long_name[80];
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	CHECK(!disk_name_valid(long_name));
	/* Nothing of the above made a file. */
	char vols[PATH_MAX];
	snprintf(vols, sizeof(vols), "%s/volumes", root);
	CHECK(is_absent(vols));
}

/* A launch that fails after the qcow2 exists (QEMU cannot run) leaves
 * nothing behind. */
static void test_failed_create_leaves_nothing(void)
{
	struct capsid_error err = {0};
	/* No kernel for the appliance: said so, before anything is made
	 * (where /boot has none for supermin to fall back on). */
	struct stat st;
	if (stat("/boot", &st) < 0 || system("ls /boot/vmlinuz-* >/dev/null 2>&1") != 0) {
		const struct disk_settings nowhere = {.deb_cache = "/nonexistent"};
		CHECK(disk_create(root, &nowhere, "nokernel", 64 << 20, &err) == -ENOENT);
		CHECK_STR_CONTAINS(err.msg, "fetch-kernel.sh");
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/volumes/nokernel.lock", root);
		CHECK(is_absent(p));
	}
	setenv("LIBGUESTFS_HV", "/bin/false", 1);
	CHECK(disk_create(root, NULL, "broken", 64 << 20, &err) < 0);
	unsetenv("LIBGUESTFS_HV");
	CHECK_STR_CONTAINS(err.msg, "create volume broken");
	char p[PATH_MAX];
	const char *files[] = {"broken.qcow2", "broken.json", "broken.lock"};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(p, sizeof(p), "%s/volumes/%s", root, files[i]);
		CHECK(is_absent(p));
	}
	struct disk_info *list = NULL;
	size_t n = 9;
	CHECK(disk_list(root, &list, &n, &err) == 0 && n == 0);
	free(list);
}

struct tar_entry {
	const char *name;
	mode_t type;
	mode_t perm;
	const char *data;     /* regular files */
	const char *link;     /* symlink target */
	const char *hardlink; /* hard link target */
};

/* A tar file under tmp, as a hostile appliance could send it. */
static int make_tar(const char *rel, const struct tar_entry *e, size_t n)
{
	char p[PATH_MAX];
	path_of(p, rel);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_filename(a, p) != ARCHIVE_OK)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ent = archive_entry_new();
		archive_entry_set_pathname(ent, e[i].name);
		archive_entry_set_filetype(ent, e[i].type);
		archive_entry_set_perm(ent, e[i].perm);
		if (e[i].link)
			archive_entry_set_symlink(ent, e[i].link);
		if (e[i].hardlink)
			archive_entry_set_hardlink(ent, e[i].hardlink);
		size_t len = e[i].data ? strlen(e[i].data) : 0;
		archive_entry_set_size(ent, (la_int64_t)len);
		if (e[i].type == AE_IFCHR)
			archive_entry_set_rdev(ent, makedev(1, 3));
		archive_write_header(a, ent);
		if (len)
			archive_write_data(a, e[i].data, len);
		archive_entry_free(ent);
	}
	archive_write_close(a);
	archive_write_free(a);
	return open(p, O_RDONLY | O_CLOEXEC);
}

static int unpack(const char *tar_rel, const struct tar_entry *e, size_t n, const char *dst_rel,
		  struct capsid_error *err)
{
	char dst[PATH_MAX];
	path_of(dst, dst_rel);
	mkdir(dst, 0755);
	int fd = make_tar(tar_rel, e, n);
	CHECK(fd >= 0);
	int rc = disk_extract_tar(fd, dst, "pfx", err);
	close(fd);
	return rc;
}

static void test_extract_hostile(void)
{
	struct capsid_error err = {0};
	char p[PATH_MAX], outside[PATH_MAX];
	path_of(outside, "outside");
	CHECK(mkdir(outside, 0755) == 0);
	write_file("outside/target", "keep", 4, 0644);

	/* Good content: the kinds we make, modes without setuid, no devices. */
	const struct tar_entry good[] = {
	    {"./", AE_IFDIR, 0755, NULL, NULL, NULL},
	    {"./d", AE_IFDIR, 0750, NULL, NULL, NULL},
	    {"./d/run", AE_IFREG, 04755, "#!/bin/sh\n", NULL, NULL},
	    {"./d/same", AE_IFREG, 0644, NULL, NULL, "./d/run"},
	    {"./l", AE_IFLNK, 0777, NULL, "/etc/passwd", NULL},
	    {"./null", AE_IFCHR, 0666, NULL, NULL, NULL},
	    {"./fifo", AE_IFIFO, 0644, NULL, NULL, NULL},
	};
	CHECK(unpack("good.tar", good, ARRAY_SIZE(good), "good", &err) == 0);
	struct stat st;
	path_of(p, "good/pfx/d/run");
	CHECK(stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0755);
	path_of(p, "good/pfx/d/same");
	CHECK(stat(p, &st) == 0 && st.st_nlink == 2);
	path_of(p, "good/pfx/l");
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
	path_of(p, "good/pfx/null");
	CHECK(is_absent(p));
	path_of(p, "good/pfx/fifo");
	CHECK(is_absent(p));

	/* Names that leave the tree. */
	const struct tar_entry dotdot[] = {{"./../../escape", AE_IFREG, 0644, "x", NULL, NULL}};
	CHECK(unpack("dotdot.tar", dotdot, 1, "dotdot", &err) == -EIO);
	CHECK_STR_CONTAINS(err.msg, "unsafe name");
	path_of(p, "escape");
	CHECK(is_absent(p));
	const struct tar_entry absolute[] = {{"/tmp/capsid-abs-escape", AE_IFREG, 0644, "x", NULL, NULL}};
	CHECK(unpack("abs.tar", absolute, 1, "abs", &err) == -EIO);
	CHECK(is_absent("/tmp/capsid-abs-escape"));

	/* Writing through a symlink the archive made. */
	const struct tar_entry through[] = {
	    {"./l", AE_IFLNK, 0777, NULL, outside, NULL},
	    {"./l/target", AE_IFREG, 0644, "overwritten", NULL, NULL},
	};
	CHECK(unpack("through.tar", through, 2, "through", &err) == -EIO);
	path_of(p, "outside/target");
	char *text = NULL;
	size_t len = 0;
	CHECK(util_read_file_at(AT_FDCWD, p, 64, &text, &len) == 0 && !strcmp(text, "keep"));
	free(text);

	/* A hard link to a file outside, through a symlink, with new data. */
	const struct tar_entry hard[] = {
	    {"./l", AE_IFLNK, 0777, NULL, outside, NULL},
	    {"./h", AE_IFREG, 0644, "overwritten", NULL, "./l/target"},
	};
	CHECK(unpack("hard.tar", hard, 2, "hard", &err) == -EIO);
	CHECK_STR_CONTAINS(err.msg, "hard link");
	path_of(p, "outside/target");
	CHECK(stat(p, &st) == 0 && st.st_nlink == 1 && st.st_size == 4);
	path_of(p, "hard/pfx/h");
	CHECK(is_absent(p));

	/* Garbage is an error, not a crash. */
	write_file("garbage.tar", "this is not a tar archive at all", 32, 0644);
	path_of(p, "garbage.tar");
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	path_of(p, "good");
	CHECK(disk_extract_tar(fd, p, "g", &err) == -EIO);
	close(fd);
}

/* ---- with the appliance ------------------------------------------------------ */

static void test_locks(void)
{
	struct capsid_error err = {0};
	int rw = disk_lock(root, "data", true, "g1", &err);
	CHECK(rw >= 0);
	CHECK(disk_lock(root, "data", true, "g2", &err) == -EBUSY);
	CHECK_STR_CONTAINS(err.msg, "volume data is attached read-write by group g1");
	CHECK(disk_lock(root, "data", false, "g2", &err) == -EBUSY);
	CHECK_STR_CONTAINS(err.msg, "read-write by group g1");
	CHECK(disk_remove(root, "data", &err) == -EBUSY);
	CHECK_STR_CONTAINS(err.msg, "attached read-write by group g1");
	/* cp refuses before booting anything. */
	CHECK(disk_copy_out(root, NULL, "data", "/", tmp, &err) == -EBUSY);
	CHECK_STR_CONTAINS(err.msg, "group g1");
	struct disk_info *list = NULL;
	size_t n = 0;
	CHECK(disk_list(root, &list, &n, &err) == 0 && n == 1);
	if (n == 1)
		CHECK(!strcmp(list[0].attached_by, "g1 (rw)"));
	free(list);
	close(rw);

	int ro1 = disk_lock(root, "data", false, "g2", &err);
	int ro2 = disk_lock(root, "data", false, "g3", &err);
	CHECK(ro1 >= 0 && ro2 >= 0);
	CHECK(disk_lock(root, "data", true, "g4", &err) == -EBUSY);
	CHECK_STR_CONTAINS(err.msg, "volume data is attached read-only by group g2, group g3");
	CHECK(disk_list(root, &list, &n, &err) == 0 && n == 1);
	if (n == 1)
		CHECK_STR_CONTAINS(list[0].attached_by, "g2 (ro), g3 (ro)");
	free(list);
	close(ro1);
	close(ro2);

	/* A holder that dies (no close, no cleanup) releases it, and its name
	 * is not reported any more. */
	pid_t pid = fork();
	if (pid == 0) {
		struct capsid_error e = {0};
		_exit(disk_lock(root, "data", true, "gone", &e) >= 0 ? 0 : 1);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	rw = disk_lock(root, "data", true, "g5", &err);
	CHECK(rw >= 0);
	close(rw);
	CHECK(disk_list(root, &list, &n, &err) == 0 && n == 1);
	if (n == 1)
		CHECK(list[0].attached_by[0] == '\0');
	free(list);
}

static void test_volume_lifecycle(void)
{
	struct capsid_error err = {0};
	uint64_t t0 = util_now_ms();
	int rc = disk_create(root, NULL, "data", 64 << 20, &err);
	fprintf(stderr, "create 64M: %s (%llu ms)\n", rc == 0 ? "ok" : err.msg,
		(unsigned long long)(util_now_ms() - t0));
	CHECK(rc == 0);
	if (rc < 0)
		return;
	CHECK(disk_create(root, NULL, "data", 64 << 20, &err) == -EEXIST);
	CHECK_STR_CONTAINS(err.msg, "volume data exists");
	char qcow2[PATH_MAX];
	CHECK(disk_path(root, "data", qcow2, &err) == 0 && strstr(qcow2, "/volumes/data.qcow2"));
	struct disk_info *list = NULL;
	size_t n = 0;
	CHECK(disk_list(root, &list, &n, &err) == 0 && n == 1);
	if (n == 1)
		CHECK(!strcmp(list[0].name, "data") && list[0].size_bytes == 64 << 20 && list[0].created[0]);
	free(list);

	test_locks();

	/* Seed: a file, and a tree with a subdirectory, an executable and a symlink. */
	char big[300000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	char p[PATH_MAX];
	path_of(p, "in/tree/sub");
	CHECK(util_mkdir_p(p, 0755) == 0);
	write_file("in/file.bin", big, sizeof(big), 0640);
	write_file("in/tree/a.txt", "alpha\n", 6, 0644);
	write_file("in/tree/sub/run.sh", "#!/bin/sh\necho hi\n", 18, 0755);
	path_of(p, "in/tree/link");
	CHECK(symlink("a.txt", p) == 0);

	path_of(p, "in/file.bin");
	t0 = util_now_ms();
	rc = disk_copy_in(root, NULL, "data", p, "/", &err);
	fprintf(stderr, "copy in a file: %s (%llu ms)\n", rc == 0 ? "ok" : err.msg,
		(unsigned long long)(util_now_ms() - t0));
	CHECK(rc == 0);
	path_of(p, "in/tree");
	CHECK(disk_copy_in(root, NULL, "data", p, "/", &err) == 0);
	CHECK(disk_copy_in(root, NULL, "data", p, "/missing-dir", &err) < 0); /* fails inside: one more boot */
	CHECK_STR_CONTAINS(err.msg, "/missing-dir is not a directory in the volume");

	path_of(p, "out");
	CHECK(mkdir(p, 0755) == 0);
	t0 = util_now_ms();
	rc = disk_copy_out(root, NULL, "data", "/", p, &err);
	fprintf(stderr, "copy out: %s (%llu ms)\n", rc == 0 ? "ok" : err.msg,
		(unsigned long long)(util_now_ms() - t0));
	CHECK(rc == 0);
	char a[PATH_MAX], b[PATH_MAX];
	const char *same[] = {"file.bin", "tree/a.txt", "tree/sub/run.sh"};
	for (size_t i = 0; i < ARRAY_SIZE(same); i++) {
		snprintf(a, sizeof(a), "%s/in/%s", tmp, same[i]);
		snprintf(b, sizeof(b), "%s/out/%s", tmp, same[i]);
		CHECK(same_file(a, b));
	}
	struct stat st;
	path_of(p, "out/tree/sub/run.sh");
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0755);
	path_of(p, "out/tree/link");
	char target[64] = "";
	CHECK(readlink(p, target, sizeof(target) - 1) == 5 && !strcmp(target, "a.txt"));

	/* A volume goes with rm, and only then. */
	CHECK(disk_remove(root, "data", &err) == 0);
	CHECK(disk_remove(root, "data", &err) == -ENOENT);
	CHECK(disk_list(root, &list, &n, &err) == 0 && n == 0);
	free(list);
	const char *files[] = {"data.qcow2", "data.json", "data.lock"};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(p, sizeof(p), "%s/volumes/%s", root, files[i]);
		CHECK(is_absent(p));
	}
}

int main(void)
{
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(root, sizeof(root), "%s/root", tmp);
	RUN_TEST(test_names_and_sizes);
	RUN_TEST(test_extract_hostile);
	RUN_TEST(test_failed_create_leaves_nothing);
	RUN_TEST(test_volume_lifecycle);
	util_rm_rf(tmp);
	TEST_EXIT();
}
