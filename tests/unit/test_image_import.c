/* The image store end to end, on real files: import of an OCI layout
 * directory, an OCI archive and a docker save tar; config fields; erofs
 * content; reuse by digest; list/rm/re-point; refs; and rejected inputs
 * (wrong digests, truncated archives, hostile layers, bad configs), after
 * which the store must hold nothing new. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_image_lib.h"
#include "testlib.h"

static const char RUN_CONFIG[] =
    "{\"Entrypoint\":[\"/bin/tool\"],\"Cmd\":[\"--flag\",\"x\"],"
    "\"Env\":[\"PATH=/bin\",\"A=b c\"],\"WorkingDir\":\"/home/user\",\"User\":\"1000:1000\"}";

struct env {
	char *tmp, *state, *images;
	struct image_store *s;
	char warnings[4096];
	struct tl_blob layers[2];
	char *config;
};

static void collect_warning(void *ctx, const char *msg)
{
	struct env *e = ctx;
	strncat(e->warnings, msg, sizeof(e->warnings) - strlen(e->warnings) - 2);
	strcat(e->warnings, "\n");
}

static void env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	e->tmp = tl_tmpdir();
	e->state = tl_path(e->tmp, "state");
	e->images = tl_path(e->state, "images");
	struct capsid_error err = {0};
	CHECK(image_store_open(e->state, &e->s, &err) == 0);
	image_store_set_warning_handler(e->s, collect_warning, e);
	const struct tl_entry l1[] = {
	    {'d', "etc", NULL, 0755, 0, 0, 100},
	    {'f', "etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644, 0, 0, 1000},
	    {'f', "etc/old", "old", 0644, 0, 0, 1000},
	    {'f', "bin/tool", "#!tool", 04755, 0, 0, 1234},
	    {'h', "bin/tool2", "bin/tool", 0, 0, 0, 0},
	    {'l', "bin/sh", "tool", 0, 0, 0, 1234},
	    {'d', "home/user", NULL, 0700, 1000, 1000, 7777},
	    {'f', "home/user/data", "secret", 0600, 1000, 1000, 5555},
	};
	const struct tl_entry l2[] = {
	    {'f', "etc/.wh.old", "", 0, 0, 0, 1},
	    {'f', "etc/new", "new", 0644, 0, 0, 2000},
	    {'c', "dev/null", NULL, 0, 0, 0, 1},
	};
	tl_layer(&e->layers[0], l1, sizeof(l1) / sizeof(l1[0]), "gzip");
	tl_layer(&e->layers[1], l2, sizeof(l2) / sizeof(l2[0]), "zstd");
	e->config = tl_config(e->layers, 2, RUN_CONFIG);
}

static void env_free(struct env *e)
{
	image_store_close(e->s);
	tl_rmdir(e->tmp);
	tl_blob_free(&e->layers[0]);
	tl_blob_free(&e->layers[1]);
	free(e->config);
	free(e->tmp);
	free(e->state);
	free(e->images);
}

/* The store holds exactly: names (of images/). */
static void check_store(struct env *e, const char *names)
{
	char *ls = tl_ls(e->images);
	CHECK(strcmp(ls, names) == 0);
	if (strcmp(ls, names) != 0)
		fprintf(stderr, "  store holds: %s\n", ls);
	free(ls);
}

static char *write_oci_dir(struct env *e, const char *ref_name, char digest[IMAGE_DIGEST_SIZE])
{
	struct tl_files fs = {0};
	tl_oci_files(&fs, e->layers, 2, e->config, ref_name, digest);
	char *dir = tl_path(e->tmp, "oci-layout");
	tl_rmdir(dir);
	CHECK(tl_files_write_dir(&fs, dir) == 0);
	tl_files_free(&fs);
	return dir;
}

static void check_run_fields(const struct image_info *i)
{
	CHECK(i->n_entrypoint == 1 && strcmp(i->entrypoint[0], "/bin/tool") == 0);
	CHECK(i->n_cmd == 2 && strcmp(i->cmd[0], "--flag") == 0 && strcmp(i->cmd[1], "x") == 0);
	CHECK(i->n_env == 2 && strcmp(i->env[0], "PATH=/bin") == 0 && strcmp(i->env[1], "A=b c") == 0);
	CHECK(i->working_dir && strcmp(i->working_dir, "/home/user") == 0);
	CHECK(i->user && strcmp(i->user, "1000:1000") == 0);
	CHECK(strcmp(i->fstype, "erofs") == 0);
}

/* What the erofs image holds, read back with erofs-utils. */
static void check_erofs(struct env *e, const char *img)
{
	unsigned nlink = 0, nlink2 = 0;
	unsigned long nid = 0, nid2 = 1;
	CHECK(tl_erofs_mode(img, "/bin/tool", &nlink, &nid) == (S_IFREG | 04755));
	CHECK(tl_erofs_mode(img, "/bin/tool2", &nlink2, &nid2) == (S_IFREG | 04755));
	CHECK(nlink == 2 && nid == nid2);
	CHECK(tl_erofs_mode(img, "/home/user", NULL, NULL) == (S_IFDIR | 0700));
	CHECK(tl_erofs_mode(img, "/etc/old", NULL, NULL) == -1);
	CHECK(tl_erofs_mode(img, "/dev/null", NULL, NULL) == -1);

	char *x = tl_path(e->tmp, "extract");
	CHECK(tl_erofs_extract(img, x) == 0);
	char *p = tl_path(x, "etc/passwd"), *c = tl_read(p);
	CHECK(c && strcmp(c, "root:x:0:0::/root:/bin/sh\n") == 0);
	free(p);
	free(c);
	p = tl_path(x, "etc/new");
	c = tl_read(p);
	CHECK(c && strcmp(c, "new") == 0);
	free(p);
	free(c);
	struct stat st;
	p = tl_path(x, "home/user/data");
	CHECK(lstat(p, &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000 && st.st_mtime == 5555);
	free(p);
	p = tl_path(x, "home/user");
	CHECK(lstat(p, &st) == 0 && st.st_uid == 1000 && st.st_mtime == 7777);
	free(p);
	p = tl_path(x, "bin/sh");
	char target[16] = "";
	CHECK(readlink(p, target, sizeof(target) - 1) == 4 && strcmp(target, "tool") == 0);
	free(p);
	p = tl_path(x, "etc");
	char *ls = tl_ls(p);
	CHECK(strcmp(ls, "new passwd") == 0);
	free(ls);
	free(p);
	tl_rmdir(x);
	free(x);
}

static void test_oci_layout_and_archive_reuse(void)
{
	struct env e;
	env_init(&e);
	char digest[IMAGE_DIGEST_SIZE];
	char *dir = write_oci_dir(&e, "example.com/team/app:1.0", digest);
	struct capsid_error err = {0};
	char *ref = NULL;
	CHECK(image_import(e.s, dir, NULL, &ref, &err) == 0);
	CHECK(ref && strcmp(ref, "example.com/team/app:1.0") == 0);
	CHECK_STR_CONTAINS(e.warnings, "layer 2: skipped 1 device nodes, FIFOs or sockets (first: dev/null)");
	free(ref);

	struct image_info *i = NULL;
	CHECK(image_resolve(e.s, "example.com/team/app:1.0", &i, &err) == 0);
	CHECK(i && strcmp(i->digest, digest) == 0);
	if (!i) {
		fprintf(stderr, "  import/resolve failed: %s\n", err.msg);
		free(dir);
		env_free(&e);
		return;
	}
	check_run_fields(i);
	struct stat st1, st2;
	CHECK(i->disk_path[0] == '/' && stat(i->disk_path, &st1) == 0 &&
	      (uint64_t)st1.st_size == i->disk_size);
	check_erofs(&e, i->disk_path);
	char names[200];
	snprintf(names, sizeof(names), ".lock %s index.json", digest + 7);
	check_store(&e, names);

	/* The same image as an OCI archive (tar, gzip'd): no rebuild. */
	struct tl_files fs = {0};
	char digest2[IMAGE_DIGEST_SIZE];
	tl_oci_files(&fs, e.layers, 2, e.config, "example.com/team/app:1.0", digest2);
	char *tar = tl_path(e.tmp, "oci.tar.gz");
	CHECK(tl_files_write_tar(&fs, tar, "gzip") == 0);
	tl_files_free(&fs);
	CHECK(image_import(e.s, tar, "mine:v2", &ref, &err) == 0);
	CHECK(ref && strcmp(ref, "mine:v2") == 0);
	free(ref);
	struct image_info *i2 = NULL;
	CHECK(image_resolve(e.s, "mine:v2", &i2, &err) == 0);
	CHECK(i2 && strcmp(i2->digest, digest) == 0 && strcmp(i2->disk_path, i->disk_path) == 0);
	CHECK(stat(i->disk_path, &st2) == 0 && st2.st_ino == st1.st_ino &&
	      st2.st_mtim.tv_sec == st1.st_mtim.tv_sec && st2.st_mtim.tv_nsec == st1.st_mtim.tv_nsec);
	check_store(&e, names);
	/* Resolving by digest works too. */
	struct image_info *i3 = NULL;
	CHECK(image_resolve(e.s, digest, &i3, &err) == 0);
	image_info_free(i3);
	image_info_free(i);
	image_info_free(i2);
	free(tar);
	free(dir);
	env_free(&e);
}

static void test_docker_save(void)
{
	struct env e;
	env_init(&e);
	/* docker save layers are uncompressed tars. */
	const struct tl_entry l1[] = {{'f', "hello", "hi", 0644, 0, 0, 1}};
	struct tl_blob plain = {0};
	tl_layer(&plain, l1, 1, NULL);
	char *cfg = tl_config(&plain, 1, "{\"Cmd\":[\"/bin/sh\"],\"Env\":[\"PATH=/bin\"]}");
	struct tl_files fs = {0};
	tl_docker_files(&fs, &plain, 1, cfg, "busybox:1.36");
	char *tar = tl_path(e.tmp, "save.tar");
	CHECK(tl_files_write_tar(&fs, tar, NULL) == 0);
	struct capsid_error err = {0};
	char *ref = NULL;
	CHECK(image_import(e.s, tar, NULL, &ref, &err) == 0);
	CHECK(ref && strcmp(ref, "busybox:1.36") == 0);
	free(ref);
	struct image_info *i = NULL;
	CHECK(image_resolve(e.s, "busybox:1.36", &i, &err) == 0);
	CHECK(i && i->n_cmd == 1 && strcmp(i->cmd[0], "/bin/sh") == 0 && i->n_entrypoint == 0);
	CHECK(i && i->working_dir == NULL && i->user == NULL);
	CHECK(i && tl_erofs_mode(i->disk_path, "/hello", NULL, NULL) == (S_IFREG | 0644));

	/* A re-save of the same image (here: gzip'd) has the same digest. */
	char *tgz = tl_path(e.tmp, "save.tar.gz");
	CHECK(tl_files_write_tar(&fs, tgz, "gzip") == 0);
	tl_files_free(&fs);
	CHECK(image_import(e.s, tgz, "again", &ref, &err) == 0);
	free(ref);
	struct image_info *again = NULL;
	CHECK(image_resolve(e.s, "again:latest", &again, &err) == 0);
	CHECK(i && again && strcmp(i->digest, again->digest) == 0);
	image_info_free(again);

	/* No RepoTags and no --name: the short digest is the ref. */
	tl_docker_files(&fs, &plain, 1, cfg, NULL);
	CHECK(tl_files_write_tar(&fs, tar, NULL) == 0);
	tl_files_free(&fs);
	CHECK(image_import(e.s, tar, NULL, &ref, &err) == 0);
	char want[32];
	snprintf(want, sizeof(want), "%.12s:latest", i ? i->digest + 7 : "");
	CHECK(ref && strcmp(ref, want) == 0);
	free(ref);
	image_info_free(i);
	free(tar);
	free(tgz);
	free(cfg);
	tl_blob_free(&plain);
	env_free(&e);
}

static void test_list_rm_repoint(void)
{
	struct env e;
	env_init(&e);
	char digest[IMAGE_DIGEST_SIZE];
	char *dir = write_oci_dir(&e, NULL, digest);
	struct capsid_error err = {0};
	CHECK(image_import(e.s, dir, "b/app:1", NULL, &err) == 0);
	CHECK(image_import(e.s, dir, "a/app", NULL, &err) == 0);
	struct image_info **list = NULL;
	size_t n = 0;
	CHECK(image_list(e.s, &list, &n, &err) == 0);
	CHECK(n == 2 && strcmp(list[0]->ref, "a/app:latest") == 0 && strcmp(list[1]->ref, "b/app:1") == 0);
	CHECK(n == 2 && strcmp(list[0]->digest, list[1]->digest) == 0 && list[0]->disk_size > 0);
	image_list_free(list, n);

	char *imgdir = tl_path(e.images, digest + 7);
	struct stat st;
	CHECK(image_remove(e.s, "b/app:1", &err) == 0);
	CHECK(stat(imgdir, &st) == 0); /* a/app still uses it */
	CHECK(image_remove(e.s, "a/app", &err) == 0);
	CHECK(stat(imgdir, &st) < 0 && errno == ENOENT);
	CHECK(image_remove(e.s, "a/app", &err) == -ENOENT);
	CHECK_STR_CONTAINS(err.msg, "image a/app not found");
	CHECK(image_list(e.s, &list, &n, &err) == 0 && n == 0);
	image_list_free(list, n);
	check_store(&e, ".lock index.json");

	/* Re-pointing a ref: the old image goes once nothing uses it. */
	CHECK(image_import(e.s, dir, "x:1", NULL, &err) == 0);
	const struct tl_entry other[] = {{'f', "other", "o", 0644, 0, 0, 1}};
	struct tl_blob ob = {0};
	tl_layer(&ob, other, 1, NULL);
	char *ocfg = tl_config(&ob, 1, NULL);
	struct tl_files fs = {0};
	char odigest[IMAGE_DIGEST_SIZE];
	tl_oci_files(&fs, &ob, 1, ocfg, NULL, odigest);
	char *odir = tl_path(e.tmp, "other");
	CHECK(tl_files_write_dir(&fs, odir) == 0);
	tl_files_free(&fs);
	CHECK(image_import(e.s, odir, "x:1", NULL, &err) == 0);
	struct image_info *i = NULL;
	CHECK(image_resolve(e.s, "x:1", &i, &err) == 0 && strcmp(i->digest, odigest) == 0);
	CHECK(i && i->n_cmd == 0 && i->n_env == 0 && i->working_dir == NULL);
	image_info_free(i);
	CHECK(stat(imgdir, &st) < 0 && errno == ENOENT);
	free(odir);
	free(ocfg);
	tl_blob_free(&ob);
	free(imgdir);
	free(dir);
	env_free(&e);
}

/* Leftovers of a crashed import (work directory, unreferenced image) go at
 * the next import, which holds the lock. */
static void test_crash_leftovers_collected(void)
{
	struct env e;
	env_init(&e);
	char digest[IMAGE_DIGEST_SIZE];
	char *dir = write_oci_dir(&e, NULL, digest);
	CHECK(tl_sh("mkdir -p '%s/.tmp-dead/rootfs/a/b' '%s/%064d' && touch '%s/.tmp-dead/rootfs/a/b/c'",
		    e.images, e.images, 7, e.images) == 0);
	struct capsid_error err = {0};
	CHECK(image_import(e.s, dir, "app", NULL, &err) == 0);
	char names[200];
	snprintf(names, sizeof(names), ".lock %s index.json", digest + 7);
	check_store(&e, names);
	free(dir);
	env_free(&e);
}

static void test_normalize_ref(void)
{
	const struct {
		const char *in, *out;
	} cases[] = {
	    {"busybox", "busybox:latest"},
	    {"busybox:1.36", "busybox:1.36"},
	    {"library/busybox", "library/busybox:latest"},
	    {"localhost:5000/a/b", "localhost:5000/a/b:latest"},
	    {"localhost:5000/a/b:v1", "localhost:5000/a/b:v1"},
	    {"registry.example.com/team/app_x-y.z:V_1.0-rc", "registry.example.com/team/app_x-y.z:V_1.0-rc"},
	    {"a__b", "a__b:latest"},
	    {"Busybox", NULL},
	    {"busybox:", NULL},
	    {"busybox:-x", NULL},
	    {"/busybox", NULL},
	    {"busybox/", NULL},
	    {"a//b", NULL},
	    {"a..b", NULL},
	    {"a_.b", NULL},
	    {"-a", NULL},
	    {"busybox@sha256:0000", NULL},
	    {"a b", NULL},
	    {"", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = image_normalize_ref(cases[i].in);
		bool ok = cases[i].out ? got && strcmp(got, cases[i].out) == 0 : got == NULL;
		CHECK(ok);
		if (!ok)
			fprintf(stderr, "  normalize '%s' gave '%s'\n", cases[i].in, got ? got : "(null)");
		free(got);
	}
	char long_tag[200] = "a:";
	memset(long_tag + 2, 't', 129);
	CHECK(image_normalize_ref(long_tag) == NULL);
}

static void test_resolve_missing(void)
{
	struct env e;
	env_init(&e);
	struct capsid_error err = {0};
	struct image_info *i = NULL;
	CHECK(image_resolve(e.s, "nope", &i, &err) == -ENOENT && i == NULL);
	CHECK(strcmp(err.msg, "image nope not found: pull it with 'capsid image pull' or import it with 'capsid image import'") == 0);
	CHECK(image_resolve(e.s, "NOPE", &i, &err) == -EINVAL);
	CHECK(image_import(e.s, "/nonexistent/x.tar", NULL, NULL, &err) == -ENOENT);
	CHECK_STR_CONTAINS(err.msg, "/nonexistent/x.tar");
	CHECK(image_import(e.s, "/nonexistent", "Bad Name", NULL, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "--name Bad Name");
	env_free(&e);
}

/* A failed import leaves only what was there before. */
static void expect_rejected(struct env *e, const char *path, const char *needle1, const char *needle2)
{
	struct capsid_error err = {0};
	char *ref = NULL;
	CHECK(image_import(e->s, path, NULL, &ref, &err) < 0);
	CHECK(ref == NULL);
	CHECK_STR_CONTAINS(err.msg, needle1);
	if (needle2)
		CHECK_STR_CONTAINS(err.msg, needle2);
	fprintf(stderr, "  rejected: %s\n", err.msg);
	check_store(e, ".lock");
}

static void flip_byte(const char *path, long off)
{
	FILE *f = fopen(path, "r+b");
	fseek(f, off, SEEK_SET);
	int c = fgetc(f);
	fseek(f, off, SEEK_SET);
	fputc(c ^ 0x55, f);
	fclose(f);
}

static void test_wrong_digests(void)
{
	struct env e;
	env_init(&e);
	char digest[IMAGE_DIGEST_SIZE], blob[128];
	char *dir = write_oci_dir(&e, NULL, digest);
	/* A layer blob whose content no longer matches its name. */
	snprintf(blob, sizeof(blob), "blobs/sha256/%.64s", e.layers[1].digest + 7);
	char *p = tl_path(dir, blob);
	flip_byte(p, 20);
	expect_rejected(&e, dir, e.layers[1].digest, "digest mismatch");
	free(p);
	free(dir);

	/* The config blob. */
	dir = write_oci_dir(&e, NULL, digest);
	char cfg_digest[IMAGE_DIGEST_SIZE];
	image_sha256_buf(e.config, strlen(e.config), cfg_digest);
	snprintf(blob, sizeof(blob), "blobs/sha256/%.64s", cfg_digest + 7);
	p = tl_path(dir, blob);
	flip_byte(p, 3);
	expect_rejected(&e, dir, cfg_digest, "digest mismatch");
	free(p);
	free(dir);

	/* docker save: a layer that is not what the config's diff_id says. */
	const struct tl_entry l1[] = {{'f', "a", "a", 0644, 0, 0, 1}};
	const struct tl_entry l1x[] = {{'f', "a", "b", 0644, 0, 0, 1}};
	struct tl_blob good = {0}, bad = {0};
	tl_layer(&good, l1, 1, NULL);
	tl_layer(&bad, l1x, 1, NULL);
	char *cfg = tl_config(&good, 1, NULL);
	struct tl_files fs = {0};
	tl_docker_files(&fs, &bad, 1, cfg, "x:y");
	char *tar = tl_path(e.tmp, "save.tar");
	CHECK(tl_files_write_tar(&fs, tar, NULL) == 0);
	expect_rejected(&e, tar, "layer 1 blob", good.diff_id);
	tl_files_free(&fs);
	tl_blob_free(&good);
	tl_blob_free(&bad);
	free(cfg);
	free(tar);
	env_free(&e);
}

static void test_truncated_archive(void)
{
	struct env e;
	env_init(&e);
	struct tl_files fs = {0};
	char digest[IMAGE_DIGEST_SIZE];
	tl_oci_files(&fs, e.layers, 2, e.config, NULL, digest);
	char *tar = tl_path(e.tmp, "oci.tar");
	CHECK(tl_files_write_tar(&fs, tar, NULL) == 0);
	tl_files_free(&fs);
	struct stat st;
	CHECK(stat(tar, &st) == 0 && truncate(tar, st.st_size / 2 + 100) == 0);
	expect_rejected(&e, tar, tar, "runcated");
	/* Not an archive at all. */
	FILE *f = fopen(tar, "w");
	fputs("this is not a tar file\n", f);
	fclose(f);
	expect_rejected(&e, tar, "not an OCI layout directory, OCI archive or docker save tar", NULL);
	free(tar);
	env_free(&e);
}

static void test_hostile_layer_and_bad_config(void)
{
	struct env e;
	env_init(&e);
	const struct tl_entry evil[] = {{'f', "ok", "ok", 0644, 0, 0, 1},
					{'f', "../../etc/x", "pwned", 0644, 0, 0, 1}};
	struct tl_blob b = {0};
	tl_layer(&b, evil, 2, "gzip");
	char *cfg = tl_config(&b, 1, NULL);
	struct tl_files fs = {0};
	char digest[IMAGE_DIGEST_SIZE];
	tl_oci_files(&fs, &b, 1, cfg, NULL, digest);
	char *dir = tl_path(e.tmp, "evil");
	CHECK(tl_files_write_dir(&fs, dir) == 0);
	tl_files_free(&fs);
	expect_rejected(&e, dir, "layer 1 blob", "entry '../../etc/x': path contains a '..' component");
	free(cfg);
	free(dir);

	cfg = tl_config(&b, 1, "{\"Env\":\"PATH=/bin\"}");
	tl_oci_files(&fs, &b, 1, cfg, NULL, digest);
	dir = tl_path(e.tmp, "badcfg");
	CHECK(tl_files_write_dir(&fs, dir) == 0);
	tl_files_free(&fs);
	expect_rejected(&e, dir, "config.Env", "array of strings");
	free(cfg);
	free(dir);

	/* A layer over the size limit. */
	image_store_set_max_layer_bytes(e.s, 1024);
	char *dir2 = write_oci_dir(&e, NULL, digest);
	expect_rejected(&e, dir2, "limit of 1024 bytes", NULL);
	free(dir2);
	tl_blob_free(&b);
	env_free(&e);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_image_import: must run as root (ownership is checked)\n");
		return 1;
	}
	RUN_TEST(test_normalize_ref);
	RUN_TEST(test_oci_layout_and_archive_reuse);
	RUN_TEST(test_docker_save);
	RUN_TEST(test_list_rm_repoint);
	RUN_TEST(test_crash_leftovers_collected);
	RUN_TEST(test_resolve_missing);
	RUN_TEST(test_wrong_digests);
	RUN_TEST(test_truncated_archive);
	RUN_TEST(test_hostile_layer_and_bad_config);
	TEST_EXIT();
}
