/* Layer flattening (image_flatten_*) on a real directory: attributes,
 * whiteouts, opaque directories, links, and hostile layers that try to
 * write, link or delete outside the root. Every hostile case also checks a
 * sentinel directory next to the root. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "test_image_lib.h"
#include "testlib.h"

struct env {
	char *tmp, *root, *sentinel; /* sentinel: a directory outside the root holding "file" */
	int rootfd;
};

static void env_init(struct env *e)
{
	e->tmp = tl_tmpdir();
	e->root = tl_path(e->tmp, "root");
	e->sentinel = tl_path(e->tmp, "sentinel");
	mkdir(e->root, 0755);
	mkdir(e->sentinel, 0755);
	char *f = tl_path(e->sentinel, "file");
	int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (write(fd, "keep", 4) != 4)
		abort();
	close(fd);
	free(f);
	e->rootfd = open(e->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Nothing outside the root changed. */
static void env_check_outside(struct env *e)
{
	char *ls = tl_ls(e->tmp), *sls = tl_ls(e->sentinel), *f = tl_path(e->sentinel, "file");
	char *content = tl_read(f);
	struct stat st;
	CHECK(strcmp(ls, "root sentinel") == 0);
	CHECK(strcmp(sls, "file") == 0);
	CHECK(content && strcmp(content, "keep") == 0);
	CHECK(lstat(f, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1);
	free(ls);
	free(sls);
	free(f);
	free(content);
}

static void env_free(struct env *e)
{
	close(e->rootfd);
	tl_rmdir(e->tmp);
	free(e->tmp);
	free(e->root);
	free(e->sentinel);
}

static int blob_fd(const struct tl_blob *b)
{
	int fd = memfd_create("layer", MFD_CLOEXEC);
	if (fd < 0 || write(fd, b->data, b->len) != (ssize_t)b->len || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

/* Builds each layer from its entry list and flattens them all into root. */
#define MAX_LAYERS 4
struct layer_spec {
	const struct tl_entry *e;
	size_t n;
};
static int apply(struct env *env, const struct layer_spec *specs, size_t n, uint64_t max, uint64_t *skipped,
		 struct capsid_error *err)
{
	struct tl_blob blobs[MAX_LAYERS] = {0};
	int fds[MAX_LAYERS];
	for (size_t i = 0; i < n; i++) {
		tl_layer(&blobs[i], specs[i].e, specs[i].n, NULL);
		fds[i] = blob_fd(&blobs[i]);
	}
	capsid_error_clear(err);
	int rc = image_flatten_layers(env->rootfd, fds, n, max, skipped, err);
	for (size_t i = 0; i < n; i++) {
		close(fds[i]);
		tl_blob_free(&blobs[i]);
	}
	return rc;
}
#define LAYER(arr)                                                                                           \
	{                                                                                                    \
		arr, sizeof(arr) / sizeof(arr[0])                                                            \
	}

static struct stat st_at(struct env *e, const char *rel, int *ok)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	*ok = fstatat(e->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
	return st;
}

static bool exists(struct env *e, const char *rel)
{
	int ok;
	st_at(e, rel, &ok);
	return ok;
}

static char *content(struct env *e, const char *rel)
{
	char *p = tl_path(e->root, rel), *c = tl_read(p);
	free(p);
	return c;
}

static void test_attributes(void)
{
	struct env e;
	env_init(&e);
	const struct tl_entry l1[] = {
	    {'d', "etc", NULL, 0755, 0, 0, 100},
	    {'f', "etc/passwd", "root:x:0:0\n", 0644, 0, 0, 1000},
	    {'f', "bin/su", "su-binary", 04755, 0, 0, 2000},
	    {'f', "bin/wall", "wall", 02755, 0, 5, 2000},
	    {'f', "home/u/file", "x", 0600, 1000, 1000, 3000},
	    {'d', "home/u", NULL, 0700, 1000, 1000, 4000},
	    {'l', "bin/sh", "su", 0, 0, 0, 2500},
	    {'h', "bin/su2", "bin/su", 0, 0, 0, 0},
	    {'f', "big", "b", 0640, 70000, 70001, 7},
	    {'d', "tmp", NULL, 01777, 0, 0, 9},
	    {'C', "bin/ping", "ping", 0755, 0, 0, 9},
	};
	const struct layer_spec specs[] = {LAYER(l1)};
	struct capsid_error err = {0};
	uint64_t skipped = 9;
	CHECK(apply(&e, specs, 1, 0, &skipped, &err) == 0);
	CHECK(skipped == 0);
	int ok;
	struct stat st = st_at(&e, "bin/su", &ok);
	CHECK(ok && (st.st_mode & 07777) == 04755 && st.st_uid == 0 && st.st_mtime == 2000 &&
	      st.st_nlink == 2);
	struct stat st2 = st_at(&e, "bin/su2", &ok);
	CHECK(ok && st2.st_ino == st.st_ino);
	st = st_at(&e, "bin/wall", &ok);
	CHECK(ok && (st.st_mode & 07777) == 02755 && st.st_gid == 5);
	st = st_at(&e, "home/u/file", &ok);
	CHECK(ok && st.st_uid == 1000 && st.st_gid == 1000 && (st.st_mode & 07777) == 0600 &&
	      st.st_mtime == 3000);
	/* The directory's mtime survives the writes into it. */
	st = st_at(&e, "home/u", &ok);
	CHECK(ok && (st.st_mode & 07777) == 0700 && st.st_mtime == 4000 && st.st_uid == 1000);
	st = st_at(&e, "etc", &ok);
	CHECK(ok && st.st_mtime == 100);
	/* Implicit parents: 0755, root-owned, epoch mtime. */
	st = st_at(&e, "bin", &ok);
	CHECK(ok && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755 && st.st_mtime == 0);
	st = st_at(&e, "bin/sh", &ok);
	CHECK(ok && S_ISLNK(st.st_mode) && st.st_mtime == 2500);
	char target[64] = "";
	CHECK(readlinkat(e.rootfd, "bin/sh", target, sizeof(target) - 1) == 2 && strcmp(target, "su") == 0);
	st = st_at(&e, "big", &ok);
	CHECK(ok && st.st_uid == 70000 && st.st_gid == 70001 && (st.st_mode & 0777) == 0640);
	st = st_at(&e, "tmp", &ok);
	CHECK(ok && (st.st_mode & 07777) == 01777);
	char *c = content(&e, "etc/passwd");
	CHECK(c && strcmp(c, "root:x:0:0\n") == 0);
	free(c);
	/* File capabilities are kept; other xattrs (overlay's) are not. */
	char *ping = tl_path(e.root, "bin/ping");
	unsigned char caps[32];
	ssize_t ncaps = getxattr(ping, "security.capability", caps, sizeof(caps));
	if (ncaps != 20)
		perror("  getxattr security.capability");
	CHECK(ncaps == 20 && caps[5] == 0x20);
	CHECK(getxattr(ping, "trusted.overlay.opaque", caps, sizeof(caps)) < 0 && errno == ENODATA);
	free(ping);
	env_check_outside(&e);
	env_free(&e);
}

static void test_root_entry(void)
{
	struct env e;
	env_init(&e);
	const struct tl_entry l1[] = {{'d', "./", NULL, 0750, 0, 0, 5000}, {'f', "./a", "a", 0, 0, 0, 1}};
	const struct layer_spec specs[] = {LAYER(l1)};
	struct capsid_error err = {0};
	CHECK(apply(&e, specs, 1, 0, NULL, &err) == 0);
	struct stat st;
	CHECK(fstat(e.rootfd, &st) == 0 && (st.st_mode & 07777) == 0750 && st.st_mtime == 5000);
	CHECK(exists(&e, "a"));
	env_free(&e);
}

static void test_whiteouts(void)
{
	struct env e;
	env_init(&e);
	const struct tl_entry l1[] = {
	    {'f', "a/x", "x", 0, 0, 0, 1}, {'f', "a/y", "y", 0, 0, 0, 1}, {'d', "b", NULL, 0, 0, 0, 1},
	    {'f', "b/z", "z", 0, 0, 0, 1}, {'f', "c", "c", 0, 0, 0, 1},
	};
	const struct tl_entry l2[] = {
	    {'f', "a/.wh.x", "", 0, 0, 0, 1}, {'f', ".wh.b", "", 0, 0, 0, 1},
	    {'f', ".wh.c", "", 0, 0, 0, 1},   {'f', ".wh.missing", "", 0, 0, 0, 1},
	    {'f', "new", "n", 0, 0, 0, 1},
	};
	const struct layer_spec specs[] = {LAYER(l1), LAYER(l2)};
	struct capsid_error err = {0};
	CHECK(apply(&e, specs, 2, 0, NULL, &err) == 0);
	char *ls = tl_ls(e.root), *lsa = tl_path(e.root, "a"), *a = tl_ls(lsa);
	CHECK(strcmp(ls, "a new") == 0);
	CHECK(strcmp(a, "y") == 0);
	free(ls);
	free(lsa);
	free(a);
	env_free(&e);
}

static void opaque_case(bool marker_first)
{
	struct env e;
	env_init(&e);
	const struct tl_entry l1[] = {
	    {'f', "d/old", "o", 0, 0, 0, 1},
	    {'f', "d/sub/old2", "o", 0, 0, 0, 1},
	    {'f', "keep/k", "k", 0, 0, 0, 1},
	};
	const struct tl_entry first[] = {
	    {'f', "d/.wh..wh..opq", "", 0, 0, 0, 1},
	    {'f', "d/new", "n", 0, 0, 0, 1},
	    {'f', "d/sub/new2", "n", 0, 0, 0, 1},
	};
	const struct tl_entry last[] = {
	    {'f', "d/new", "n", 0, 0, 0, 1},
	    {'f', "d/sub/new2", "n", 0, 0, 0, 1},
	    {'f', "d/.wh..wh..opq", "", 0, 0, 0, 1},
	};
	const struct layer_spec specs[] = {LAYER(l1), marker_first ? (struct layer_spec)LAYER(first)
								   : (struct layer_spec)LAYER(last)};
	struct capsid_error err = {0};
	CHECK(apply(&e, specs, 2, 0, NULL, &err) == 0);
	char *d = tl_path(e.root, "d"), *sub = tl_path(e.root, "d/sub");
	char *lsd = tl_ls(d), *lssub = tl_ls(sub);
	CHECK(strcmp(lsd, "new sub") == 0);
	CHECK(strcmp(lssub, "new2") == 0);
	CHECK(exists(&e, "keep/k"));
	free(d);
	free(sub);
	free(lsd);
	free(lssub);
	env_free(&e);
}

static void test_opaque_marker_first(void)
{
	opaque_case(true);
}

static void test_opaque_marker_last(void)
{
	opaque_case(false);
}

static void test_replace_and_symlinked_parent(void)
{
	struct env e;
	env_init(&e);
	const struct tl_entry l1[] = {
	    {'d', "usr/lib", NULL, 0, 0, 0, 1}, {'l', "lib", "usr/lib", 0, 0, 0, 1},
	    {'d', "x", NULL, 0, 0, 0, 1},	{'f', "x/inner", "i", 0, 0, 0, 1},
	    {'f', "y", "y", 0, 0, 0, 1},
	};
	const struct tl_entry l2[] = {
	    {'f', "lib/libx.so", "elf", 0, 0, 0, 1},
	    {'f', "x", "now a file", 0, 0, 0, 1},
	    {'d', "y", NULL, 0, 0, 0, 1},
	};
	const struct layer_spec specs[] = {LAYER(l1), LAYER(l2)};
	struct capsid_error err = {0};
	CHECK(apply(&e, specs, 2, 0, NULL, &err) == 0);
	int ok;
	struct stat st = st_at(&e, "lib", &ok);
	CHECK(ok && S_ISLNK(st.st_mode));
	char *c = content(&e, "usr/lib/libx.so");
	CHECK(c && strcmp(c, "elf") == 0);
	free(c);
	st = st_at(&e, "x", &ok);
	CHECK(ok && S_ISREG(st.st_mode));
	st = st_at(&e, "y", &ok);
	CHECK(ok && S_ISDIR(st.st_mode));
	env_free(&e);
}

static void test_compressed_digests(void)
{
	const char *filters[] = {"gzip", "zstd", NULL};
	for (size_t i = 0; i < 3; i++) {
		struct env e;
		env_init(&e);
		const struct tl_entry l1[] = {{'f', "hello", "hello world", 0, 0, 0, 42}};
		struct tl_blob b = {0};
		tl_layer(&b, l1, 1, filters[i]);
		int fd = blob_fd(&b);
		struct image_flatten *f = NULL;
		struct image_layer_digests dg;
		struct capsid_error err = {0};
		CHECK(image_flatten_new(e.rootfd, 0, &f) == 0);
		CHECK(image_flatten_layer(f, fd, &dg, &err) == 0);
		CHECK(strcmp(dg.blob, b.digest) == 0);
		CHECK(strcmp(dg.diff, b.diff_id) == 0);
		CHECK(dg.blob_size == b.len);
		CHECK(image_flatten_finish(f, &err) == 0);
		char *c = content(&e, "hello");
		CHECK(c && strcmp(c, "hello world") == 0);
		free(c);
		image_flatten_free(f);
		close(fd);
		tl_blob_free(&b);
		env_free(&e);
	}
}

/* ---- hostile layers ---- */

static void expect_failure(const struct tl_entry *ents, size_t n, const char *needle)
{
	struct env e;
	env_init(&e);
	const struct layer_spec specs[] = {{ents, n}};
	struct capsid_error err = {0};
	CHECK(apply(&e, specs, 1, 0, NULL, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, needle);
	env_check_outside(&e);
	env_free(&e);
}

static void test_hostile_dotdot_and_absolute(void)
{
	const struct tl_entry dotdot[] = {{'f', "../../etc/x", "pwned", 0, 0, 0, 1}};
	expect_failure(dotdot, 1, "'..'");
	const struct tl_entry inner[] = {{'f', "a/../../x", "pwned", 0, 0, 0, 1}};
	expect_failure(inner, 1, "'..'");
	const struct tl_entry abs_path[] = {{'f', "/abs/path", "pwned", 0, 0, 0, 1}};
	expect_failure(abs_path, 1, "absolute path");
	CHECK(access("/abs/path", F_OK) < 0);
}

/* Symlinks resolve inside the root (as the container will see them): the
 * write lands in the root, never outside it. */
static void test_hostile_symlink_parents(void)
{
	struct env e;
	env_init(&e);
	char through_abs[512], through_rel[512];
	snprintf(through_abs, sizeof(through_abs), "link%s/file", e.sentinel);
	snprintf(through_rel, sizeof(through_rel), "up%s/file2", e.sentinel);
	char sentinel_file[512];
	snprintf(sentinel_file, sizeof(sentinel_file), "%s/file", e.sentinel);
	const struct tl_entry l1[] = {
	    {'l', "evil", "/", 0, 0, 0, 1},	   {'f', "evil/etc/passwd", "pwned", 0, 0, 0, 1},
	    {'l', "link", "/", 0, 0, 0, 1},	   {'l', "up", "../../../../../../../../../..", 0, 0, 0, 1},
	    {'l', "s", sentinel_file, 0, 0, 0, 1},
	};
	/* Layer 2 writes through the symlinks layer 1 planted, and replaces
	 * the symlink "s" (pointing at the sentinel) with a file. */
	const struct tl_entry l2[] = {
	    {'f', through_abs, "pwned", 0, 0, 0, 1},
	    {'f', through_rel, "pwned", 0, 0, 0, 1},
	    {'f', "s", "replaced", 0, 0, 0, 1},
	};
	const struct layer_spec specs[] = {LAYER(l1), LAYER(l2)};
	struct capsid_error err = {0};
	CHECK(apply(&e, specs, 2, 0, NULL, &err) == 0);
	char *c = content(&e, "etc/passwd");
	CHECK(c && strcmp(c, "pwned") == 0);
	free(c);
	char inside[600];
	snprintf(inside, sizeof(inside), "%s/file", e.sentinel + 1);
	c = content(&e, inside);
	CHECK(c && strcmp(c, "pwned") == 0);
	free(c);
	int ok;
	struct stat st = st_at(&e, "s", &ok);
	CHECK(ok && S_ISREG(st.st_mode));
	env_check_outside(&e);
	env_free(&e);
}

static void test_hostile_hardlinks(void)
{
	const struct tl_entry up[] = {{'h', "hl", "../outside", 0, 0, 0, 1}};
	expect_failure(up, 1, "'..'");

	struct env e;
	env_init(&e);
	char abs_target[512], via_symlink[512];
	snprintf(abs_target, sizeof(abs_target), "%s/file", e.sentinel);
	snprintf(via_symlink, sizeof(via_symlink), "evil%s/file", e.sentinel);
	const struct tl_entry abs_link[] = {{'h', "hl", abs_target, 0, 0, 0, 1}};
	const struct layer_spec s1[] = {LAYER(abs_link)};
	struct capsid_error err = {0};
	CHECK(apply(&e, s1, 1, 0, NULL, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "absolute path");
	/* Through a symlink to "/": resolved in the root, where no such
	 * file exists. */
	const struct tl_entry l1[] = {{'l', "evil", "/", 0, 0, 0, 1}};
	const struct tl_entry l2[] = {{'h', "hl", via_symlink, 0, 0, 0, 1}};
	const struct layer_spec s2[] = {LAYER(l1), LAYER(l2)};
	CHECK(apply(&e, s2, 2, 0, NULL, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "hard link target");
	/* A hard link to a symlink links the symlink, not what it names. */
	const struct tl_entry l3[] = {{'l', "tosentinel", abs_target, 0, 0, 0, 1},
				      {'h', "hl2", "tosentinel", 0, 0, 0, 1}};
	const struct layer_spec s3[] = {LAYER(l3)};
	CHECK(apply(&e, s3, 1, 0, NULL, &err) == 0);
	int ok;
	struct stat st = st_at(&e, "hl2", &ok);
	CHECK(ok && S_ISLNK(st.st_mode));
	env_check_outside(&e);
	env_free(&e);
}

static void test_hostile_whiteouts(void)
{
	const struct tl_entry dots[] = {{'f', ".wh...", "", 0, 0, 0, 1}};
	expect_failure(dots, 1, "invalid whiteout");
	const struct tl_entry up[] = {{'f', "../.wh.sentinel", "", 0, 0, 0, 1}};
	expect_failure(up, 1, "'..'");

	struct env e;
	env_init(&e);
	char through[512];
	snprintf(through, sizeof(through), "evil%s/.wh.file", e.sentinel);
	const struct tl_entry l1[] = {{'l', "evil", "/", 0, 0, 0, 1}};
	const struct tl_entry l2[] = {{'f', through, "", 0, 0, 0, 1},
				      {'f', "evil/.wh..wh..opq", "", 0, 0, 0, 1}};
	const struct layer_spec specs[] = {LAYER(l1), LAYER(l2)};
	struct capsid_error err = {0};
	CHECK(apply(&e, specs, 2, 0, NULL, &err) == 0);
	env_check_outside(&e);
	env_free(&e);
}

static void test_devices_skipped(void)
{
	struct env e;
	env_init(&e);
	const struct tl_entry l1[] = {{'c', "dev/null", NULL, 0, 0, 0, 1},
				      {'p', "fifo", NULL, 0, 0, 0, 1},
				      {'f', "ok", "ok", 0, 0, 0, 1}};
	const struct layer_spec specs[] = {LAYER(l1)};
	struct capsid_error err = {0};
	uint64_t skipped = 0;
	CHECK(apply(&e, specs, 1, 0, &skipped, &err) == 0);
	CHECK(skipped == 2);
	CHECK(!exists(&e, "dev/null") && !exists(&e, "fifo") && exists(&e, "ok"));
	env_check_outside(&e);
	env_free(&e);
}

static void test_size_limit_and_truncation(void)
{
	char *big = malloc((2 << 20) + 1);
	memset(big, 'a', 2 << 20);
	big[2 << 20] = '\0';
	const struct tl_entry l1[] = {{'f', "big", big, 0, 0, 0, 1}};
	struct env e;
	env_init(&e);
	const struct layer_spec specs[] = {LAYER(l1)};
	struct capsid_error err = {0};
	CHECK(apply(&e, specs, 1, 1 << 20, NULL, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "limit of 1048576 bytes");
	env_free(&e);

	/* The same layer cut in the middle of the file's data. */
	env_init(&e);
	struct tl_blob b = {0};
	tl_layer(&b, l1, 1, "gzip");
	b.len /= 2;
	int fd = blob_fd(&b);
	CHECK(image_flatten_layers(e.rootfd, &fd, 1, 0, NULL, &err) < 0);
	fprintf(stderr, "  truncated gzip layer: %s\n", err.msg);
	CHECK_STR_CONTAINS(err.msg, "layer 1: entry 'big'");
	close(fd);
	tl_blob_free(&b);
	tl_layer(&b, l1, 1, NULL);
	b.len = 512 + 4096;
	fd = blob_fd(&b);
	CHECK(image_flatten_layers(e.rootfd, &fd, 1, 0, NULL, &err) < 0);
	fprintf(stderr, "  truncated tar layer: %s\n", err.msg);
	CHECK_STR_CONTAINS(err.msg, "runcated");
	close(fd);
	tl_blob_free(&b);
	env_free(&e);
	free(big);
}

/* Deleting a tree deeper than the fd limit must work (whiteout of it). */
static void test_deep_tree_whiteout(void)
{
	struct env e;
	env_init(&e);
	char deep[4000] = "";
	for (int i = 0; i < 1100; i++) /* deeper than the default fd limit */
		strcat(deep, i ? "/a" : "a");
	strcat(deep, "/leaf");
	const struct tl_entry l1[] = {{'f', deep, "x", 0, 0, 0, 1}};
	const struct tl_entry l2[] = {{'f', ".wh.a", "", 0, 0, 0, 1}};
	const struct layer_spec specs[] = {LAYER(l1), LAYER(l2)};
	struct capsid_error err = {0};
	CHECK(apply(&e, specs, 2, 0, NULL, &err) == 0);
	CHECK(!exists(&e, "a"));
	env_free(&e);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_image_layers: must run as root (ownership is checked)\n");
		return 1;
	}
	RUN_TEST(test_attributes);
	RUN_TEST(test_root_entry);
	RUN_TEST(test_whiteouts);
	RUN_TEST(test_opaque_marker_first);
	RUN_TEST(test_opaque_marker_last);
	RUN_TEST(test_replace_and_symlinked_parent);
	RUN_TEST(test_compressed_digests);
	RUN_TEST(test_hostile_dotdot_and_absolute);
	RUN_TEST(test_hostile_symlink_parents);
	RUN_TEST(test_hostile_hardlinks);
	RUN_TEST(test_hostile_whiteouts);
	RUN_TEST(test_devices_skipped);
	RUN_TEST(test_size_limit_and_truncation);
	RUN_TEST(test_deep_tree_whiteout);
	TEST_EXIT();
}
