/* The keeper of the private smbd: `capsid --root ROOT __smbd serve`, one
 * per state root, started on demand by smb_service_start() and gone when
 * nothing needs it, like the DNS responder.
 *
 * It holds <root>/smb/smbd.lock for its whole life (its pid and smbd's
 * inside), runs smbd as its child in a process group of smbd's own (smbd
 * gets SIGTERM should the keeper die), forwards SIGHUP (reload) and ends
 * smbd's whole group on SIGTERM. Once a second it checks whether smbd is
 * still needed; it is while
 *
 *   - the state root is there (smbd.lock is still the file it locked),
 *   - at least one share exists, and
 *   - a user holds it: a monitor whose VM mounts an embedded share holds
 *     <root>/smb/users.lock shared (smb_service_hold), or an operator
 *     pinned it (<root>/smb/pinned, `capsid __smbd start`).
 *
 * Exit without losing a start: the keeper decides under the store lock,
 * with users.lock taken exclusive when it found no user, and releases
 * smbd.lock only once smbd's group is gone. smb_service_start() holds the
 * store lock while it looks for a running keeper, and a monitor takes
 * users.lock shared before it calls it: either the keeper saw the user or
 * it had already gone when the start looked. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "smb_internal.h"
#include "util.h"

#define CHECK_INTERVAL_MS 1000
#define STOP_GRACE_MS	  5000

struct keeper {
	struct smb_config cfg;
	int lock_fd;   /* smbd.lock, exclusive */
	int users_fd;  /* users.lock; exclusive once no user is left */
	int signal_fd;
	pid_t smbd;    /* 0 once it is gone */
	pid_t pgid;    /* smbd's process group (its helpers may outlive it) */
	struct stat lock_st;
};

__attribute__((format(printf, 1, 2))) static void keeper_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	util_vlog_stderr("capsid-smbd-keeper", fmt, ap);
	va_end(ap);
}

static void write_pids(struct keeper *k)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%d\n%d\n", (int)getpid(), (int)k->smbd);
	/* At offset 0 (a second write must not land after a hole). */
	if (ftruncate(k->lock_fd, 0) == 0 && pwrite(k->lock_fd, text, (size_t)n, 0) != n)
		keeper_log("write the lock file: %s", strerror(errno));
}

static int spawn_smbd(struct keeper *k)
{
	char conf[PATH_MAX], log[PATH_MAX];
	if (smb_path(&k->cfg, "smb.conf", conf, sizeof(conf)) < 0 ||
	    smb_path(&k->cfg, "log/smbd.stderr", log, sizeof(log)) < 0)
		return -ENAMETOOLONG;
	_cleanup_close_ int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	_cleanup_close_ int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (logfd < 0 || nullfd < 0)
		return -errno;
	const char *argv[] = {k->cfg.smbd, "--foreground", "--no-process-group", "-s", conf, NULL};
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* A group of its own (smbd forks helpers): the keeper ends them all. */
		if (setpgid(0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(126);
		if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	setpgid(pid, pid); /* also here: no window where a kill(-pid) misses */
	k->smbd = k->pgid = pid;
	write_pids(k);
	return 0;
}

/* SIGTERM to smbd's group, SIGKILL after the grace; reaps smbd. */
static void stop_smbd(struct keeper *k)
{
	if (k->pgid <= 0)
		return;
	pid_t pg = k->pgid;
	kill(-pg, SIGTERM);
	uint64_t deadline = util_now_ms() + STOP_GRACE_MS;
	bool killed = false;
	for (;;) {
		if (k->smbd > 0 && waitpid(k->smbd, NULL, WNOHANG) == k->smbd)
			k->smbd = 0;
		/* smbd's helpers may outlive it by a moment: wait for the group. */
		if (k->smbd == 0 && kill(-pg, 0) < 0 && errno == ESRCH) {
			k->pgid = 0;
			return;
		}
		if (util_now_ms() > deadline) {
			if (killed) {
				keeper_log("smbd's process group %d does not end", (int)pg);
				return;
			}
			kill(-pg, SIGKILL);
			killed = true;
			deadline = util_now_ms() + STOP_GRACE_MS;
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* The file we locked is still <root>/smb/smbd.lock: the root was not removed. */
static bool root_present(const struct keeper *k)
{
	char p[PATH_MAX];
	struct stat st;
	return smb_path(&k->cfg, "smbd.lock", p, sizeof(p)) == 0 && stat(p, &st) == 0 &&
	       st.st_ino == k->lock_st.st_ino && st.st_dev == k->lock_st.st_dev;
}

/* Why smbd is no longer needed, NULL while it is. *store_fd: the store
 * lock, held on return when the answer is not NULL. */
static const char *not_needed(struct keeper *k, int *store_fd)
{
	if (!root_present(k))
		return "the state root was removed";
	char p[PATH_MAX];
	if (smb_path(&k->cfg, "store.lock", p, sizeof(p)) < 0)
		return NULL;
	_cleanup_close_ int store = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (store < 0)
		return errno == ENOENT ? "the state root was removed" : NULL;
	if (flock(store, LOCK_EX | LOCK_NB) < 0)
		return NULL; /* a change is under way: look again next time */
	struct capsid_error err = {0};
	struct smb_share_info *list = NULL;
	size_t n = 0;
	if (smb_share_list(&k->cfg, &list, &n, &err) < 0) {
		keeper_log("%s", err.msg);
		return NULL;
	}
	free(list);
	const char *why = NULL;
	if (n == 0)
		why = "no share is left";
	else if (smb_path(&k->cfg, "pinned", p, sizeof(p)) == 0 && access(p, F_OK) == 0)
		why = NULL;
	else if (flock(k->users_fd, LOCK_EX | LOCK_NB) == 0)
		why = "no group uses it";
	if (why)
		*store_fd = TAKE_FD(store);
	return why;
}

static void handle_signals(struct keeper *k, bool *quit)
{
	struct signalfd_siginfo si;
	while (read(k->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (k->smbd > 0)
				kill(k->smbd, SIGHUP);
		} else if (si.ssi_signo == SIGCHLD) {
			int status;
			if (k->smbd > 0 && waitpid(k->smbd, &status, WNOHANG) == k->smbd) {
				keeper_log("smbd (pid %d) exited (status %d)", (int)k->smbd, status);
				k->smbd = 0;
				*quit = true;
			}
		} else {
			keeper_log("signal %u: stopping smbd", si.ssi_signo);
			*quit = true;
		}
	}
}

static void keeper_run(struct keeper *k)
{
	bool quit = false;
	uint64_t next_check = util_now_ms() + CHECK_INTERVAL_MS;
	while (!quit) {
		uint64_t now = util_now_ms();
		if (now >= next_check) {
			_cleanup_close_ int store = -1;
			const char *why = not_needed(k, &store);
			if (why) {
				keeper_log("%s: stopping smbd", why);
				/* smbd's group, then smbd.lock, then (at return) the store lock. */
				stop_smbd(k);
				close(k->lock_fd);
				k->lock_fd = -1;
				return;
			}
			next_check = util_now_ms() + CHECK_INTERVAL_MS;
			continue;
		}
		struct pollfd p = {.fd = k->signal_fd, .events = POLLIN};
		if (poll(&p, 1, (int)(next_check - now)) > 0)
			handle_signals(k, &quit);
	}
	stop_smbd(k);
}

int smb_keeper_main(const char *root, const struct smb_settings *set)
{
	struct keeper k = {.lock_fd = -1, .users_fd = -1, .signal_fd = -1};
	struct capsid_error err = {0};
	/* Blocked before the pid is in the lock file: a reload (SIGHUP) sent
	 * as soon as it is must not kill us. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (smb_config_init(root, set, &k.cfg, &err) < 0) {
		keeper_log("%s", err.msg);
		return -EINVAL;
	}
	char p[PATH_MAX];
	if (smb_path(&k.cfg, "smbd.lock", p, sizeof(p)) < 0)
		return -ENAMETOOLONG;
	k.lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (k.lock_fd < 0) {
		keeper_log("open %s: %s", p, strerror(errno));
		return -errno;
	}
	if (flock(k.lock_fd, LOCK_EX | LOCK_NB) < 0) {
		close(k.lock_fd);
		return 0; /* another keeper serves this root */
	}
	fstat(k.lock_fd, &k.lock_st);
	write_pids(&k);
	if (smb_path(&k.cfg, "users.lock", p, sizeof(p)) < 0)
		return -ENAMETOOLONG;
	k.users_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	k.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	int rc = 0;
	if (k.users_fd < 0 || k.signal_fd < 0) {
		rc = -errno;
		keeper_log("users.lock/signalfd: %s", strerror(errno));
	} else if ((rc = spawn_smbd(&k)) < 0) {
		keeper_log("start smbd: %s", strerror(-rc));
	} else {
		keeper_log("smbd pid %d", (int)k.smbd);
		keeper_run(&k);
	}
	if (k.lock_fd >= 0)
		close(k.lock_fd);
	if (k.users_fd >= 0)
		close(k.users_fd);
	if (k.signal_fd >= 0)
		close(k.signal_fd);
	return rc;
}

int smb_service_hold(const struct smb_config *cfg, struct capsid_error *err)
{
	int rc = smb_prepare_dirs(cfg, err);
	if (rc < 0)
		return rc;
	char p[PATH_MAX];
	if (smb_path(cfg, "users.lock", p, sizeof(p)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	_cleanup_close_ int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return capsid_error_errno(err, errno, "open %s", p);
	/* Blocks only while a keeper is stopping smbd (bounded by its grace). */
	while (flock(fd, LOCK_SH) < 0)
		if (errno != EINTR)
			return capsid_error_errno(err, errno, "lock %s", p);
	return TAKE_FD(fd);
}

int smb_service_pin(const struct smb_config *cfg, bool on, struct capsid_error *err)
{
	char p[PATH_MAX];
	if (smb_path(cfg, "pinned", p, sizeof(p)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	if (!on)
		return unlink(p) < 0 && errno != ENOENT ? capsid_error_errno(err, errno, "remove %s", p) : 0;
	int rc = smb_prepare_dirs(cfg, err);
	if (rc < 0)
		return rc;
	rc = util_write_file_atomic(p, "", 0, 0600);
	return rc < 0 ? capsid_error_errno(err, -rc, "write %s", p) : 0;
}
