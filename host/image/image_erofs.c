/* Building the read-only erofs disk image with mkfs.erofs (erofs-utils).
 *
 * erofs-utils 1.5 keeps uid/gid and per-file mtimes by default; we do not
 * pass --all-root or -T (which would stamp every file with one time), and we
 * drop SOURCE_DATE_EPOCH from its environment because 1.5 treats it like
 * -T. Data stays uncompressed: the guest reads it under TCG, where
 * decompression costs more than the extra disk. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "image_internal.h"

#define STDERR_KEEP 1024

extern char **environ;

static char **env_without_source_date(void)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 1, sizeof(*env));
	if (!env)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "SOURCE_DATE_EPOCH=", 18) != 0)
			env[o++] = environ[i];
	return env;
}

int image_erofs_build(const char *src_dir, const char *out_path, const char *digest, struct capsid_error *err)
{
	/* A UUID derived from the digest: rebuilding an image yields the same
	 * filesystem identity. */
	const char *h = digest + 7;
	char uuid[37];
	snprintf(uuid, sizeof(uuid), "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
	char *argv[] = {(char *)"mkfs.erofs", (char *)"--quiet", (char *)"-U", uuid,
			(char *)out_path,     (char *)src_dir,	 NULL};

	_cleanup_free_ char **env = env_without_source_date();
	if (!env)
		return capsid_error_set(err, ENOMEM, "out of memory");
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return capsid_error_errno(err, errno, "pipe");
	_cleanup_close_ int rd = pipefd[0];
	_cleanup_close_ int wr = pipefd[1];
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, wr, 2);
	pid_t pid;
	int rc = posix_spawnp(&pid, "mkfs.erofs", &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return capsid_error_errno(err, rc,
					  rc == ENOENT ? "mkfs.erofs not found (install erofs-utils)"
						       : "start mkfs.erofs");
	close(TAKE_FD(wr));

	/* Keep the start of its stderr: the first complaint is the useful one. */
	char msg[STDERR_KEEP + 1];
	size_t used = 0;
	for (;;) {
		char buf[4096];
		ssize_t n = read(rd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t take = (size_t)n < STDERR_KEEP - used ? (size_t)n : STDERR_KEEP - used;
		memcpy(msg + used, buf, take);
		used += take;
	}
	msg[used] = '\0';
	while (used > 0 && (msg[used - 1] == '\n' || msg[used - 1] == ' '))
		msg[--used] = '\0';
	for (size_t i = 0; i < used; i++)
		if (msg[i] == '\n' || (unsigned char)msg[i] < 0x20)
			msg[i] = ' ';

	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return capsid_error_errno(err, errno, "wait for mkfs.erofs");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return capsid_error_set(err, EIO, "mkfs.erofs failed (exit %d): %s", WEXITSTATUS(status),
					used ? msg : "no message");
	return capsid_error_set(err, EIO, "mkfs.erofs killed by signal %d", WTERMSIG(status));
}
