/* standby list|stop: warm start's ready clones (host/monitor/standby.c),
 * one per machine under <root>/standby/. A live one holds its lock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "util.h"

static const char help[] = "usage: capsid standby list | capsid standby stop\n"
			   "  list  the ready clones (machine: runtime-vCPUs-MiB, pid, ready or starting)\n"
			   "  stop  end them all (and their VMs)\n";

#define STOP_WAIT_MS 15000

/* The pid of the live standby in dir, 0 when none lives there. */
static pid_t standby_pid(const char *dir)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/lock", dir);
	_cleanup_close_ int lock = open(path, O_RDONLY | O_CLOEXEC);
	if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		return 0;
	snprintf(path, sizeof(path), "%s/standby.pid", dir);
	_cleanup_free_ char *text = NULL;
	int pid = 0;
	if (util_read_file_at(AT_FDCWD, path, 64, &text, NULL) == 0)
		sscanf(text, "%d", &pid);
	return pid > 1 ? (pid_t)pid : 0;
}

int cli_standby_for_each(const char *root, int (*fn)(const char *dir, const char *machine, pid_t pid, void *arg),
			 void *arg)
{
	char base[PATH_MAX];
	snprintf(base, sizeof(base), "%s/standby", root);
	DIR *d = opendir(base);
	if (!d)
		return errno == ENOENT ? 0 : cli_fail("open %s: %s", base, strerror(errno));
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char dir[PATH_MAX + 256];
		snprintf(dir, sizeof(dir), "%s/%s", base, e->d_name);
		pid_t pid = standby_pid(dir);
		if (pid && fn(dir, e->d_name, pid, arg))
			rc = 1;
	}
	closedir(d);
	return rc;
}

static int print_one(const char *dir, const char *machine, pid_t pid, void *arg)
{
	(void)arg;
	char sock[PATH_MAX + 16];
	snprintf(sock, sizeof(sock), "%s/claim.sock", dir);
	printf("%-24s %-8d %s\n", machine, (int)pid, access(sock, F_OK) == 0 ? "ready" : "starting");
	return 0;
}

static int stop_one(const char *dir, const char *machine, pid_t pid, void *arg)
{
	(void)arg;
	if (kill(pid, SIGTERM) < 0 && errno != ESRCH)
		return cli_fail("stop the ready clone %s (pid %d): %s", machine, (int)pid, strerror(errno));
	uint64_t deadline = util_now_ms() + STOP_WAIT_MS;
	while (standby_pid(dir)) {
		if (util_now_ms() >= deadline)
			return cli_fail("the ready clone %s (pid %d) did not end", machine, (int)pid);
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

int cli_cmd_standby(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "ls") == 0)) {
		printf("%-24s %-8s %s\n", "MACHINE", "PID", "STATE");
		return cli_standby_for_each(ctx->root, print_one, NULL);
	}
	if (argc == 2 && strcmp(argv[1], "stop") == 0)
		return cli_standby_for_each(ctx->root, stop_one, NULL);
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(help, stdout);
		return 0;
	}
	fputs(help, stderr);
	return 2;
}
