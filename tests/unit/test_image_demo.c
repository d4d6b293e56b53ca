/* images/demo/build-demo.sh: reproducible (two builds, same bytes, same
 * digest) and importable, with the promised content. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_image_lib.h"
#include "testlib.h"

static const char *const APPLETS[] = {
    "sh",   "echo", "cat",  "ls",   "sleep", "env", "id",	"uname", "nproc", "hostname", "httpd",
    "wget", "nc",   "grep", "head", "tail",  "wc",  "true",	"false", "mkdir", "rm",	      "touch",
    "ps",   "kill", "date", "seq",  "yes",   "dd",  "sync",	"test",	 "tr",	  "sed",      "awk",
    "cut",  "sort", "free", "df",   "mount", "ip",  "ifconfig", "ping",	 "vi",
};

static void test_demo_image(void)
{
	const char *script = getenv("CAPSID_DEMO_SCRIPT");
	CHECK(script != NULL);
	if (!script)
		return;
	char *tmp = tl_tmpdir(), *a = tl_path(tmp, "a.tar"), *b = tl_path(tmp, "b.tar");
	CHECK(tl_sh("bash '%s' '%s'", script, a) == 0);
	sleep(1); /* a clock-dependent build would now differ */
	CHECK(tl_sh("umask 077; bash '%s' '%s'", script, b) == 0);
	CHECK(tl_sh("cmp -s '%s' '%s'", a, b) == 0);
	CHECK(tl_sh("bash '%s' 2>/dev/null", script) != 0); /* usage error */

	struct image_store *s = NULL;
	struct capsid_error err = {0};
	char *state = tl_path(tmp, "state");
	CHECK(image_store_open(state, &s, &err) == 0);
	char *ref = NULL;
	CHECK(image_import(s, a, NULL, &ref, &err) == 0);
	if (!ref)
		fprintf(stderr, "  import: %s\n", err.msg);
	CHECK(ref && strcmp(ref, "capsid/demo:latest") == 0);
	struct image_info *i = NULL, *j = NULL;
	CHECK(image_resolve(s, "capsid/demo", &i, &err) == 0);
	CHECK(image_import(s, b, "capsid/demo-b", NULL, &err) == 0);
	CHECK(image_resolve(s, "capsid/demo-b", &j, &err) == 0);
	CHECK(i && j && strcmp(i->digest, j->digest) == 0);
	if (i) {
		CHECK(i->n_cmd == 1 && strcmp(i->cmd[0], "/bin/sh") == 0 && i->n_entrypoint == 0);
		CHECK(i->n_env == 1 && strncmp(i->env[0], "PATH=", 5) == 0 && strstr(i->env[0], "/bin"));
		const char *img = i->disk_path;
		CHECK(tl_erofs_mode(img, "/bin/busybox", NULL, NULL) == (S_IFREG | 0755));
		CHECK(tl_erofs_mode(img, "/tmp", NULL, NULL) == (S_IFDIR | 01777));
		CHECK(tl_erofs_mode(img, "/root", NULL, NULL) == (S_IFDIR | 0700));
		CHECK(tl_erofs_mode(img, "/home", NULL, NULL) == (S_IFDIR | 0755));
		for (size_t k = 0; k < sizeof(APPLETS) / sizeof(APPLETS[0]); k++) {
			char p[64];
			snprintf(p, sizeof(p), "/bin/%s", APPLETS[k]);
			int mode = tl_erofs_mode(img, p, NULL, NULL);
			CHECK(mode >= 0 && S_ISLNK((unsigned)mode));
			if (mode < 0 || !S_ISLNK((unsigned)mode))
				fprintf(stderr, "  missing applet link %s\n", p);
		}
		char *x = tl_path(tmp, "x");
		CHECK(tl_erofs_extract(img, x) == 0);
		char *pw = tl_path(x, "etc/passwd"), *gr = tl_path(x, "etc/group");
		char *pwc = tl_read(pw), *grc = tl_read(gr);
		CHECK_STR_CONTAINS(pwc, "root:x:0:0:");
		CHECK_STR_CONTAINS(pwc, "nobody:x:65534:65534:");
		CHECK_STR_CONTAINS(grc, "root:x:0:");
		CHECK_STR_CONTAINS(grc, ":x:65534:");
		/* The image's shell runs (it is the host's static busybox). */
		CHECK(tl_sh("'%s/bin/busybox' sh -c 'exit 7'", x) == 7);
		free(pw);
		free(gr);
		free(pwc);
		free(grc);
		free(x);
	}
	image_info_free(i);
	image_info_free(j);
	image_store_close(s);
	free(ref);
	free(state);
	tl_rmdir(tmp);
	free(tmp);
	free(a);
	free(b);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_image_demo: must run as root (ownership is checked)\n");
		return 1;
	}
	RUN_TEST(test_demo_image);
	TEST_EXIT();
}
