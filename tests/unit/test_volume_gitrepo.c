/* gitRepo images for real: a local bare repository with history (two
 * commits on main, an annotated tag on the first, a feature branch), built
 * into erofs images at a tag, a commit, a branch and the default branch with
 * each `directory` form, and read back with `fsck.erofs --extract` (never
 * mounted on the host). Also: modes normalised whatever the umask, a bad
 * revision and a missing repository fail naming the repository and leave
 * nothing behind, credentials in a URL never reach a message, and a server
 * that never answers is cut off by the timeout. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gitrepo.h"
#include "testlib.h"
#include "util.h"
#include "volume_exec.h"

static char tmp[] = "/tmp/capsid-test-gitrepo-XXXXXX";
static char repo[PATH_MAX]; /* the bare repository */
static char commit2[64];    /* main's head */

static int sh_git(const char *cwd, const char *const *args, char *out, size_t out_len)
{
	const char *argv[16] = {
	    "git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"};
	size_t n = 7;
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	int rc = volume_run(argv, cwd, NULL, 0, out, out_len);
	if (rc != 0)
		fprintf(stderr, "  git %s: %d %s\n", argv[7], rc, out ? out : "");
	return rc;
}

static int put(const char *dir, const char *name, const char *text, mode_t mode)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	char *slash = strrchr(p, '/');
	*slash = '\0';
	util_mkdir_p(p, 0755);
	*slash = '/';
	return util_write_file_atomic(p, text, strlen(text), mode);
}

/* main: c1 (README one, bin/run.sh) tagged v1, c2 (README two, new.txt);
 * feature: c3 on c2 (README three). */
static int make_repo(void)
{
	char work[PATH_MAX], out[256];
	snprintf(repo, sizeof(repo), "%s/src.git", tmp);
	snprintf(work, sizeof(work), "%s/w", tmp);
	if (mkdir(work, 0755) < 0)
		return -1;
	const char *init_bare[] = {"init", "-q", "--bare", repo, NULL};
	const char *init[] = {"init", "-q", NULL};
	const char *add[] = {"add", "-A", NULL};
	const char *c1[] = {"commit", "-qm", "one", NULL};
	const char *tag[] = {"tag", "-a", "-m", "release", "v1", NULL};
	const char *c2[] = {"commit", "-qm", "two", NULL};
	const char *branch[] = {"checkout", "-qb", "feature", NULL};
	const char *c3[] = {"commit", "-qm", "three", NULL};
	const char *remote[] = {"remote", "add", "origin", repo, NULL};
	const char *push[] = {"push", "-q", "origin", "main", "feature", "v1", NULL};
	const char *head[] = {"rev-parse", "main", NULL};
	if (sh_git(NULL, init_bare, out, sizeof(out)) || sh_git(work, init, out, sizeof(out)) ||
	    put(work, "README", "one\n", 0644) || put(work, "bin/run.sh", "#!/bin/sh\necho run\n", 0755) ||
	    sh_git(work, add, out, sizeof(out)) || sh_git(work, c1, out, sizeof(out)) ||
	    sh_git(work, tag, out, sizeof(out)) || put(work, "README", "two\n", 0644) ||
	    put(work, "new.txt", "new\n", 0644) || sh_git(work, add, out, sizeof(out)) ||
	    sh_git(work, c2, out, sizeof(out)) || sh_git(work, head, commit2, sizeof(commit2)) ||
	    sh_git(work, branch, out, sizeof(out)) || put(work, "README", "three\n", 0644) ||
	    sh_git(work, add, out, sizeof(out)) || sh_git(work, c3, out, sizeof(out)) ||
	    sh_git(work, remote, out, sizeof(out)) || sh_git(work, push, out, sizeof(out)))
		return -1;
	return 0;
}

/* Extract an image into a fresh directory with fsck.erofs. */
static int extract(const char *image, char *dir, size_t len)
{
	static int serial;
	snprintf(dir, len, "%s/x%d", tmp, serial++);
	char opt[PATH_MAX + 16], out[512];
	snprintf(opt, sizeof(opt), "--extract=%s", dir);
	const char *argv[] = {"fsck.erofs", opt, image, NULL};
	int rc = volume_run(argv, NULL, NULL, 0, out, sizeof(out));
	if (rc)
		fprintf(stderr, "  fsck.erofs: %s\n", out);
	return rc;
}

static bool has(const char *dir, const char *name, const char *want)
{
	char p[PATH_MAX], *text = NULL;
	size_t len = 0;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	bool ok = util_read_file_at(AT_FDCWD, p, 4096, &text, &len) == 0 && !strcmp(text, want);
	if (!ok)
		fprintf(stderr, "  %s: want \"%s\", have \"%s\"\n", p, want, text ? text : "(missing)");
	free(text);
	return ok;
}

static bool exists(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

static mode_t mode_of(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0 ? st.st_mode & 07777 : 0;
}

/* The images directory holds exactly `want` entries (no tmp leftovers). */
static size_t entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

static void test_default_dir(void)
{
	char name[64];
	CHECK(gitrepo_default_dir("/srv/r.git", name, sizeof(name)) == 0 && !strcmp(name, "r"));
	CHECK(gitrepo_default_dir("/srv/r.git/", name, sizeof(name)) == 0 && !strcmp(name, "r"));
	CHECK(gitrepo_default_dir("/srv/app/.git", name, sizeof(name)) == 0 && !strcmp(name, "app"));
	CHECK(gitrepo_default_dir("https://example.com/org/tool.git", name, sizeof(name)) == 0 &&
	      !strcmp(name, "tool"));
	CHECK(gitrepo_default_dir("https://example.com/org/tool", name, sizeof(name)) == 0 &&
	      !strcmp(name, "tool"));
	CHECK(gitrepo_default_dir("ssh://git@example.com:22", name, sizeof(name)) == 0 &&
	      !strcmp(name, "example.com"));
	CHECK(gitrepo_default_dir("file:///srv/x.bundle", name, sizeof(name)) == 0 && !strcmp(name, "x"));
	CHECK(gitrepo_default_dir("/", name, sizeof(name)) == -EINVAL);
	CHECK(gitrepo_default_dir("/srv/..", name, sizeof(name)) == -EINVAL);
}

static void test_placement_and_revisions(void)
{
	char img[PATH_MAX], dir[PATH_MAX], images[256];
	struct capsid_error err = {0};
	snprintf(images, sizeof(images), "%s/images", tmp);
	CHECK(mkdir(images, 0700) == 0);
	snprintf(img, sizeof(img), "%s/a.erofs", images);

	/* Default branch, no directory: a subdirectory named after the repo. */
	int rc = gitrepo_build_image(repo, NULL, NULL, img, 0, &err);
	CHECK(rc == 0);
	if (rc)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK(extract(img, dir, sizeof(dir)) == 0);
	CHECK(has(dir, "src/README", "two\n") && has(dir, "src/new.txt", "new\n"));
	CHECK(exists(dir, "src/.git/HEAD") && !exists(dir, "README"));
	/* Whatever the umask was (077 here), any uid can read. */
	CHECK(mode_of(dir, "src/README") == 0644 && mode_of(dir, "src/bin/run.sh") == 0755);
	CHECK(mode_of(dir, "src") == 0755 && mode_of(dir, "src/bin") == 0755 && mode_of(dir, ".") == 0755);
	CHECK(mode_of(dir, "src/.git/config") == 0644);
	/* --template=: no hooks came with the clone. */
	CHECK(!exists(dir, "src/.git/hooks/pre-commit.sample"));

	/* An annotated tag, at the volume root. */
	CHECK(gitrepo_build_image(repo, ".", "v1", img, 0, &err) == 0);
	CHECK(extract(img, dir, sizeof(dir)) == 0);
	CHECK(has(dir, "README", "one\n") && !exists(dir, "new.txt") && exists(dir, ".git"));

	/* A commit, in a nested directory. */
	CHECK(gitrepo_build_image(repo, "x/y", commit2, img, 0, &err) == 0);
	CHECK(extract(img, dir, sizeof(dir)) == 0);
	CHECK(has(dir, "x/y/README", "two\n") && has(dir, "x/y/new.txt", "new\n"));
	CHECK(mode_of(dir, "x") == 0755);

	/* A branch that is not the default one; "./app/" is "app". */
	CHECK(gitrepo_build_image(repo, "./app/", "feature", img, 0, &err) == 0);
	CHECK(extract(img, dir, sizeof(dir)) == 0);
	CHECK(has(dir, "app/README", "three\n"));

	/* An expression relative to a branch. */
	CHECK(gitrepo_build_image(repo, ".", "main~1", img, 0, &err) == 0);
	CHECK(extract(img, dir, sizeof(dir)) == 0);
	CHECK(has(dir, "README", "one\n"));
	CHECK(entries(images) == 1);
}

static void test_failures_leave_nothing(void)
{
	char img[PATH_MAX], images[256], want[PATH_MAX + 64];
	struct capsid_error err = {0};
	snprintf(images, sizeof(images), "%s/fail", tmp);
	CHECK(mkdir(images, 0700) == 0);
	snprintf(img, sizeof(img), "%s/b.erofs", images);

	CHECK(gitrepo_build_image(repo, NULL, "v9", img, 0, &err) == -ENOENT);
	snprintf(want, sizeof(want), "gitRepo %s: revision v9 not found", repo);
	CHECK(!strcmp(err.msg, want));
	if (strcmp(err.msg, want))
		fprintf(stderr, "  got: %s\n", err.msg);
	CHECK(entries(images) == 0);

	capsid_error_clear(&err);
	CHECK(gitrepo_build_image("/nonexistent/r.git", ".", NULL, img, 0, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "gitRepo /nonexistent/r.git: clone failed: ");
	CHECK(entries(images) == 0);

	capsid_error_clear(&err);
	CHECK(gitrepo_build_image(repo, "../up", NULL, img, 0, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "directory \"../up\"");
	CHECK(gitrepo_build_image(repo, NULL, "--upload-pack=x", img, 0, &err) == -EINVAL);
	CHECK(gitrepo_build_image("ext::sh -c x", NULL, NULL, img, 0, &err) == -EINVAL);
	CHECK(entries(images) == 0);

	/* Port 1 on loopback refuses: a quick failure whose message must not
	 * carry the password. */
	capsid_error_clear(&err);
	CHECK(gitrepo_build_image("https://user:s3cret@127.0.0.1:1/r.git", NULL, NULL, img, 0, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "gitRepo https://***@127.0.0.1:1/r.git: clone failed");
	CHECK(strstr(err.msg, "s3cret") == NULL);
	CHECK(entries(images) == 0);
}

/* A git:// server that accepts (the kernel completes the handshake from the
 * backlog) and never answers: the clone hangs until the timeout kills it. */
static void test_timeout(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 8) == 0 &&
	      getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
	char url[64], img[PATH_MAX], images[256];
	snprintf(url, sizeof(url), "git://127.0.0.1:%u/r.git", ntohs(sa.sin_port));
	snprintf(images, sizeof(images), "%s/slow", tmp);
	CHECK(mkdir(images, 0700) == 0);
	snprintf(img, sizeof(img), "%s/c.erofs", images);
	struct capsid_error err = {0};
	uint64_t t0 = util_now_ms();
	CHECK(gitrepo_build_image(url, NULL, NULL, img, 2, &err) == -ETIMEDOUT);
	uint64_t took = util_now_ms() - t0;
	CHECK(took >= 1500 && took < 15000);
	CHECK_STR_CONTAINS(err.msg, "clone: timed out after 2 s");
	CHECK(entries(images) == 0);
	close(fd);
}

int main(void)
{
	RUN_TEST(test_default_dir);
	if (access("/usr/bin/git", X_OK) || access("/usr/bin/mkfs.erofs", X_OK) ||
	    access("/usr/bin/fsck.erofs", X_OK)) {
		fprintf(stderr, "needs git and erofs-utils\n");
		return 1;
	}
	if (!mkdtemp(tmp))
		return 1;
	/* The test's own git must not read the host's configuration either. */
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	if (make_repo() < 0) {
		fprintf(stderr, "cannot make the test repository\n");
		util_rm_rf(tmp);
		return 1;
	}
	umask(077);
	RUN_TEST(test_placement_and_revisions);
	RUN_TEST(test_failures_leave_nothing);
	RUN_TEST(test_timeout);
	util_rm_rf(tmp);
	TEST_EXIT();
}
