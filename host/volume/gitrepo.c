/* gitRepo images (see gitrepo.h): git clone into a private work directory
 * next to the image, check out the revision, normalise ownership and modes,
 * mkfs.erofs, rename into place. git and mkfs.erofs run through
 * volume_run (argv only) under `env -i`, so nothing of the caller's
 * environment (credentials, GIT_DIR, SOURCE_DATE_EPOCH, ...) reaches them
 * except what is listed here, and git under `timeout`, which kills the whole
 * process group (git, its remote helpers, ssh) when the budget is spent. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "gitrepo.h"
#include "util.h"
#include "volume_exec.h"

#define REPOSITORY_MAX 4096
#define REVISION_MAX   255
#define OUTPUT_MAX     4096
#define MAX_ENV	       16
#define MAX_ARGV       48

/* Variables git may legitimately need from the host: where programs are,
 * how to reach the network (proxies), which CAs to trust. */
static const char *const passed_env[] = {"http_proxy",	  "https_proxy",  "HTTP_PROXY",	   "HTTPS_PROXY",
					 "no_proxy",	  "NO_PROXY",	  "all_proxy",	   "ALL_PROXY",
					 "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO"};

/* ssh: batch mode (never a prompt), none of the host's keys, agent or
 * configuration; only hosts pinned system-wide are trusted. git runs this
 * string through a shell, but it is a constant. */
#define SSH_COMMAND                                                                                          \
	"GIT_SSH_COMMAND=ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityFile=none "      \
	"-o IdentityAgent=none -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes"

struct build {
	char shown[512]; /* the repository for messages, credentials redacted */
	char work[PATH_MAX];
	char tree[PATH_MAX]; /* the image's root */
	char dest[PATH_MAX]; /* where the clone goes: tree or below */
	char image_tmp[PATH_MAX];
	char *env[MAX_ENV + 1];
	size_t n_env;
	uint64_t deadline_ms;
	unsigned timeout_s;
};

static void build_free(struct build *b)
{
	for (size_t i = 0; i < b->n_env; i++)
		free(b->env[i]);
	if (b->work[0])
		util_rm_rf(b->work);
	if (b->image_tmp[0])
		unlink(b->image_tmp);
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* The userinfo of a URL ("user:token@") becomes "***@": messages and
 * logs must not carry a password someone put in the URL. */
static void redact(const char *repo, char *out, size_t len)
{
	const char *scheme = strstr(repo, "://");
	const char *at = NULL;
	if (scheme) {
		const char *host = scheme + 3;
		size_t auth_len = strcspn(host, "/");
		for (size_t i = 0; i < auth_len; i++)
			if (host[i] == '@')
				at = host + i;
	}
	if (at)
		snprintf(out, len, "%.*s***%.400s", (int)(scheme + 3 - repo), repo, at);
	else
		snprintf(out, len, "%.480s", repo);
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && !memcmp(s + len - n, suffix, n);
}

int gitrepo_default_dir(const char *repository, char *out, size_t len)
{
	const char *scheme = strstr(repository, "://");
	const char *start = scheme ? scheme + 3 : repository;
	size_t end = strlen(start);
	while (end > 0 && start[end - 1] == '/')
		end--;
	if (ends_with(start, end, "/.git"))
		end -= 5;
	while (end > 0 && start[end - 1] == '/')
		end--;
	if (ends_with(start, end, ".git"))
		end -= 4;
	else if (ends_with(start, end, ".bundle"))
		end -= 7;
	size_t begin = end;
	while (begin > 0 && start[begin - 1] != '/')
		begin--;
	const char *name = start + begin;
	size_t n = end - begin;
	if (scheme && begin == 0) {
		/* No path: the host names it ("ssh://user@host:22" -> "host"). */
		const char *at = memrchr(name, '@', n);
		if (at) {
			n -= (size_t)(at + 1 - name);
			name = at + 1;
		}
		const char *colon = memchr(name, ':', n);
		if (colon)
			n = (size_t)(colon - name);
	}
	if (n == 0 || (n == 1 && name[0] == '.') || (n == 2 && !memcmp(name, "..", 2)) ||
	    memchr(name, '\\', n) || n >= len)
		return -EINVAL;
	memcpy(out, name, n);
	out[n] = '\0';
	return 0;
}

/* `directory` as a clean relative path ("" for the volume root): "." and
 * empty components dropped, ".." refused. */
static int placement(const char *directory, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (const char *p = directory; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && !memcmp(p, "..", 2))
			return -EINVAL;
		if (n && !(n == 1 && p[0] == '.')) {
			if (used + n + 2 > len)
				return -ENAMETOOLONG;
			if (used)
				out[used++] = '/';
			memcpy(out + used, p, n);
			used += n;
			out[used] = '\0';
		}
		p += n + (p[n] == '/');
	}
	return 0;
}

static int add_env(struct build *b, const char *name, const char *value)
{
	if (b->n_env == MAX_ENV || asprintf(&b->env[b->n_env], "%s=%s", name, value) < 0)
		return -ENOMEM;
	b->n_env++;
	return 0;
}

static int prepare_env(struct build *b)
{
	const char *path = getenv("PATH");
	int rc = add_env(b, "PATH", path && *path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
	for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(passed_env); i++) {
		const char *v = getenv(passed_env[i]);
		if (v && *v)
			rc = add_env(b, passed_env[i], v);
	}
	/* HOME is our empty work directory: no ~/.gitconfig, no ~/.netrc. */
	if (rc == 0)
		rc = add_env(b, "HOME", b->work);
	return rc;
}

/* argv = env -i VARS... [prefix...] cmd..., then volume_run. */
static int run(struct build *b, const char *const *prefix, size_t n_prefix, const char *const *cmd,
	       size_t n_cmd, char *out, size_t out_len)
{
	static const char *const git_env[] = {
	    "GIT_TERMINAL_PROMPT=0",
	    "GIT_ASKPASS=/bin/true",
	    "SSH_ASKPASS=/bin/true",
	    "GCM_INTERACTIVE=never",
	    "GIT_CONFIG_NOSYSTEM=1",
	    "GIT_CONFIG_GLOBAL=/dev/null",
	    "GIT_ALLOW_PROTOCOL=file:git:http:https:ssh",
	    "GIT_PROTOCOL_FROM_USER=0",
	    "LC_ALL=C",
	    SSH_COMMAND,
	};
	const char *argv[MAX_ARGV];
	size_t n = 0;
	argv[n++] = "env";
	argv[n++] = "-i";
	for (size_t i = 0; i < b->n_env; i++)
		argv[n++] = b->env[i];
	for (size_t i = 0; i < ARRAY_SIZE(git_env); i++)
		argv[n++] = git_env[i];
	if (n + n_prefix + n_cmd + 1 > MAX_ARGV)
		return -E2BIG;
	for (size_t i = 0; i < n_prefix; i++)
		argv[n++] = prefix[i];
	for (size_t i = 0; i < n_cmd; i++)
		argv[n++] = cmd[i];
	argv[n] = NULL;
	return volume_run(argv, NULL, NULL, 0, out, out_len);
}

/* What of git's output is worth showing: its lines up to and including
 * the first "fatal:" or "error:" one (a helper such as ssh says why just
 * before it), without "hint:" and "warning:" lines, joined by "; ",
 * control characters blanked. */
static void summarise(const char *out, char *msg, size_t len)
{
	size_t used = 0;
	msg[0] = '\0';
	for (const char *line = out; *line && used + 1 < len;) {
		size_t n = strcspn(line, "\n");
		bool last = !strncmp(line, "fatal: ", 7) || !strncmp(line, "error: ", 7);
		const char *next = line + n + (line[n] == '\n');
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
			n--;
		if (n && strncmp(line, "hint: ", 6) && strncmp(line, "warning: ", 9)) {
			if (used && used + 3 < len) {
				memcpy(msg + used, "; ", 2);
				used += 2;
			}
			for (size_t i = 0; i < n && used + 1 < len; i++)
				msg[used++] = (unsigned char)line[i] < 0x20 ? ' ' : line[i];
			msg[used] = '\0';
		}
		if (last)
			break;
		line = next;
	}
	if (!used)
		snprintf(msg, len, "no message");
}

/* git with the rest of the time budget. Returns 0, or the error. */
static int git(struct build *b, const char *what, const char *const *args, size_t n_args, char *out,
	       size_t out_len, struct capsid_error *err)
{
	uint64_t now = util_now_ms();
	if (now >= b->deadline_ms)
		return capsid_error_set(err, ETIMEDOUT, "gitRepo %s: %s: timed out after %u s", b->shown,
					what, b->timeout_s);
	char secs[32];
	snprintf(secs, sizeof(secs), "%llus", (unsigned long long)((b->deadline_ms - now + 999) / 1000));
	const char *prefix[] = {"timeout", "--kill-after=5s", secs, "git"};
	char buf[OUTPUT_MAX];
	if (!out) {
		out = buf;
		out_len = sizeof(buf);
	}
	int rc = run(b, prefix, ARRAY_SIZE(prefix), args, n_args, out, out_len);
	if (rc == 0)
		return 0;
	char msg[512];
	summarise(out, msg, sizeof(msg));
	if (rc < 0)
		return capsid_error_errno(err, -rc, "gitRepo %s: %s: run env/timeout", b->shown, what);
	if (rc == 124 || rc == 128 + 9)
		return capsid_error_set(err, ETIMEDOUT, "gitRepo %s: %s: timed out after %u s", b->shown,
					what, b->timeout_s);
	if (rc == 127)
		return capsid_error_set(err, ENOENT, "gitRepo %s: git not found (install git): %s", b->shown,
					msg);
	return capsid_error_set(err, EIO, "gitRepo %s: %s failed: %s", b->shown, what, msg);
}

/* The commit REVISION names: a branch of the remote first (what
 * `git checkout BRANCH` would pick), then a tag or commit. */
static int resolve(struct build *b, const char *revision, char sha[72], struct capsid_error *err)
{
	char expr[2 * REVISION_MAX], out[OUTPUT_MAX];
	for (int remote = 1; remote >= 0; remote--) {
		snprintf(expr, sizeof(expr), "%s%s^{commit}", remote ? "origin/" : "", revision);
		const char *args[] = {"-C", b->dest, "rev-parse", "--verify", "--quiet", "--end-of-options",
				      expr};
		struct capsid_error ignored = {0};
		if (git(b, "resolve the revision", args, ARRAY_SIZE(args), out, sizeof(out), &ignored) < 0) {
			if (ignored.code == ETIMEDOUT || ignored.code == ENOENT) {
				*err = ignored;
				return -ignored.code;
			}
			continue;
		}
		/* The hash is the last line (warnings such as "ambiguous" come first). */
		const char *line = strrchr(out, '\n');
		line = line ? line + 1 : out;
		size_t n = strlen(line);
		if ((n == 40 || n == 64) && strspn(line, "0123456789abcdef") == n) {
			memcpy(sha, line, n + 1);
			return 0;
		}
	}
	return capsid_error_set(err, ENOENT, "gitRepo %s: revision %s not found", b->shown, revision);
}

/* Any uid in the guest may read (containers run as non-root): 0755 for
 * directories and executables, 0644 for other files; symlinks are left as
 * they are (never followed). Owners become root in mkfs.erofs. */
static int normalise_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_SL || type == FTW_SLN)
		return 0;
	if (type == FTW_DNR || type == FTW_NS)
		return EACCES;
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return 0;
	mode_t mode = S_ISDIR(st->st_mode) || (st->st_mode & 0111) ? 0755 : 0644;
	if ((st->st_mode & 07777) != mode && chmod(path, mode) < 0)
		return errno;
	return 0;
}

static int make_image(struct build *b, const char *out_path, struct capsid_error *err)
{
	int rc = snprintf(b->image_tmp, sizeof(b->image_tmp), "%s.tmp-XXXXXX", out_path);
	if (rc < 0 || (size_t)rc >= sizeof(b->image_tmp)) {
		b->image_tmp[0] = '\0';
		return capsid_error_set(err, ENAMETOOLONG, "gitRepo %s: image path too long", b->shown);
	}
	_cleanup_close_ int fd = mkostemp(b->image_tmp, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		b->image_tmp[0] = '\0';
		return capsid_error_errno(err, e, "gitRepo %s: create %s", b->shown, out_path);
	}
	/* No xattrs: nothing of the host's labels goes into the guest. */
	const char *cmd[] = {"mkfs.erofs", "--quiet", "--all-root", "-x-1", b->image_tmp, b->tree};
	char out[OUTPUT_MAX], msg[512];
	rc = run(b, NULL, 0, cmd, ARRAY_SIZE(cmd), out, sizeof(out));
	if (rc != 0) {
		summarise(out, msg, sizeof(msg));
		if (rc == 127 || rc == -ENOENT)
			return capsid_error_set(
			    err, ENOENT, "gitRepo %s: mkfs.erofs not found (install erofs-utils)", b->shown);
		return capsid_error_set(err, EIO, "gitRepo %s: mkfs.erofs failed: %s", b->shown,
					rc < 0 ? strerror(-rc) : msg);
	}
	if (fsync(fd) < 0)
		return capsid_error_errno(err, errno, "gitRepo %s: fsync %s", b->shown, b->image_tmp);
	if (rename(b->image_tmp, out_path) < 0)
		return capsid_error_errno(err, errno, "gitRepo %s: rename to %s", b->shown, out_path);
	b->image_tmp[0] = '\0';
	return 0;
}

static int check_args(struct build *b, const char *repository, const char *directory, const char *revision,
		      char *sub, size_t sub_len, struct capsid_error *err)
{
	static const char *const schemes[] = {"https://", "http://", "git://", "ssh://", "file://"};
	bool ok = repository[0] == '/';
	for (size_t i = 0; !ok && i < ARRAY_SIZE(schemes); i++)
		ok = !strncmp(repository, schemes[i], strlen(schemes[i])) && repository[strlen(schemes[i])];
	if (!ok || strlen(repository) > REPOSITORY_MAX || has_control(repository))
		return capsid_error_set(
		    err, EINVAL, "gitRepo %s: not an absolute path or an http(s)/git/ssh/file URL", b->shown);
	if (revision && (!revision[0] || revision[0] == '-' || strlen(revision) > REVISION_MAX ||
			 has_control(revision) || strchr(revision, ' ')))
		return capsid_error_set(err, EINVAL, "gitRepo %s: invalid revision \"%.80s\"", b->shown,
					revision);
	int rc;
	if (!directory)
		rc = gitrepo_default_dir(repository, sub, sub_len);
	else if (directory[0] == '/' || has_control(directory))
		rc = -EINVAL;
	else
		rc = placement(directory, sub, sub_len);
	if (rc < 0 && directory)
		return capsid_error_set(err, EINVAL,
					"gitRepo %s: directory \"%.80s\" must be a relative path "
					"without '..'",
					b->shown, directory);
	if (rc < 0)
		return capsid_error_set(err, EINVAL,
					"gitRepo %s: cannot name a directory after the repository", b->shown);
	return 0;
}

int gitrepo_build_image(const char *repository, const char *directory, const char *revision,
			const char *out_path, unsigned timeout_s, struct capsid_error *err)
{
	__attribute__((cleanup(build_free))) struct build b = {0};
	redact(repository, b.shown, sizeof(b.shown));
	char sub[PATH_MAX / 2];
	int rc = check_args(&b, repository, directory, revision, sub, sizeof(sub), err);
	if (rc < 0)
		return rc;

	/* The work directory sits next to the image: same filesystem, and no
	 * assumption about how big /tmp is. */
	rc = snprintf(b.work, sizeof(b.work), "%s.git-XXXXXX", out_path);
	if (rc < 0 || (size_t)rc + sizeof("/tree/") + strlen(sub) >= sizeof(b.work)) {
		b.work[0] = '\0';
		return capsid_error_set(err, ENAMETOOLONG, "gitRepo %s: image path too long", b.shown);
	}
	if (!mkdtemp(b.work)) {
		int e = errno;
		b.work[0] = '\0';
		return capsid_error_errno(err, e, "gitRepo %s: create a work directory next to %s", b.shown,
					  out_path);
	}
	rc = snprintf(b.tree, sizeof(b.tree), "%s/tree", b.work);
	if (rc < 0 || (size_t)rc >= sizeof(b.tree))
		return capsid_error_set(err, ENAMETOOLONG, "gitRepo %s: image path too long", b.shown);
	rc = snprintf(b.dest, sizeof(b.dest), "%s%s%s", b.tree, sub[0] ? "/" : "", sub);
	if (rc < 0 || (size_t)rc >= sizeof(b.dest))
		return capsid_error_set(err, ENAMETOOLONG, "gitRepo %s: image path too long", b.shown);
	if (mkdir(b.tree, 0755) < 0 || (sub[0] && util_mkdir_p(b.dest, 0755) < 0))
		return capsid_error_errno(err, errno, "gitRepo %s: create %s", b.shown, b.dest);
	if (prepare_env(&b) < 0)
		return capsid_error_set(err, ENOMEM, "out of memory");
	b.timeout_s = timeout_s && timeout_s <= 86400 ? timeout_s : GITREPO_TIMEOUT_S;
	b.deadline_ms = util_now_ms() + (uint64_t)b.timeout_s * 1000;

	/* A full clone (a commit may be anywhere in the history). --no-local:
	 * a local source is read through git's transport, never hard-linked
	 * (the chmod below would change the source's objects) nor copied
	 * wholesale. --template=: no hooks, no sample files. */
	const char *clone[8] = {"clone", "--quiet", "--no-local", "--template="};
	size_t n_clone = 4;
	if (revision)
		clone[n_clone++] = "--no-checkout"; /* checked out below, at the revision */
	clone[n_clone++] = "--";
	clone[n_clone++] = repository;
	clone[n_clone++] = b.dest;
	if ((rc = git(&b, "clone", clone, n_clone, NULL, 0, err)) < 0)
		return rc;
	if (revision) {
		char sha[72];
		if ((rc = resolve(&b, revision, sha, err)) < 0)
			return rc;
		const char *checkout[] = {"-C", b.dest, "checkout", "--quiet", "--detach", sha};
		if ((rc = git(&b, "checkout", checkout, ARRAY_SIZE(checkout), NULL, 0, err)) < 0)
			return rc;
	}
	if ((rc = nftw(b.tree, normalise_one, 16, FTW_PHYS | FTW_MOUNT)) != 0)
		return capsid_error_errno(err, rc < 0 ? errno : rc, "gitRepo %s: set modes in %s", b.shown,
					  b.tree);
	return make_image(&b, out_path, err);
}
