/* vmm_spawn for a confined QEMU (cfg->jail): the caller, root, opens what
 * QEMU needs and hands it over as descriptors 3.. (vmm_fd_plan):
 *
 *   - the agent and QMP sockets, bound and listening at their host paths
 *     (the monitor connects there as before; QEMU never sees the path);
 *   - the console file and every disk (read-only disks opened read-only),
 *     each an fd set QEMU opens as /dev/fdset/N;
 *   - each tap, opened on /dev/net/tun (TUNSETIFF by name, as QEMU would):
 *     QEMU needs no /dev/net/tun and no CAP_NET_ADMIN;
 *
 * then clone3's a child in new namespaces that lays them out, enters the
 * jail and exec's QEMU (jail.c). An error before the exec comes back over
 * a close-on-exec pipe, so the caller gets it, not a dead child. The
 * kernel, initramfs and a warm start RAM file are opened by path: the jail
 * shows them at the same paths. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "jail.h"
#include "util.h"
#include "vmm_internal.h"

#define MAX_FDS (3 + VMM_MAX_DISKS + VMM_MAX_NICS)

/* struct clone_args of <linux/sched.h>, version 0 (64 bytes). */
struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static int open_tap(const char *name)
{
	_cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* As QEMU opens a tap: with a virtio-net header (QEMU probes it on the fd). */
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return -errno;
	return TAKE_FD(fd);
}

/* The binary as execvp would find it, as an absolute path. */
static int resolve_binary(const char *name, char out[PATH_MAX])
{
	if (strchr(name, '/'))
		return realpath(name, out) ? 0 : -errno;
	const char *path = getenv("PATH");
	_cleanup_free_ char *dirs = strdup(path && *path ? path : "/usr/bin:/bin");
	if (!dirs)
		return -ENOMEM;
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char full[PATH_MAX];
		snprintf(full, sizeof(full), "%s/%s", d, name);
		if (access(full, X_OK) == 0)
			return realpath(full, out) ? 0 : -errno;
	}
	return -ENOENT;
}

struct fds {
	int v[MAX_FDS];
	int n;
};

static void fds_close(struct fds *f)
{
	for (int i = 0; i < f->n; i++)
		if (f->v[i] >= 0)
			close(f->v[i]);
	f->n = 0;
}

/* Adds fd (or fails with its -errno); returns its number in the child. */
static int fds_add(struct fds *f, int fd)
{
	if (fd < 0)
		return fd;
	f->v[f->n] = fd;
	return 3 + f->n++;
}

static int open_resources(const struct vmm_config *cfg, struct fds *f, struct vmm_fd_plan *plan,
			  struct capsid_error *err)
{
	if ((plan->agent_fd = fds_add(f, util_unix_listen(cfg->agent_socket, SOCK_STREAM, 4))) < 0)
		return capsid_error_errno(err, -plan->agent_fd, "listen on %s", cfg->agent_socket);
	if ((plan->qmp_fd = fds_add(f, util_unix_listen(cfg->qmp_socket, SOCK_STREAM, 4))) < 0)
		return capsid_error_errno(err, -plan->qmp_fd, "listen on %s", cfg->qmp_socket);
	if (cfg->console_log) {
		int fd = open(cfg->console_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if ((plan->console_fd = fds_add(f, fd < 0 ? -errno : fd)) < 0)
			return capsid_error_errno(err, -plan->console_fd, "open %s", cfg->console_log);
	}
	for (size_t i = 0; i < cfg->n_disks; i++) {
		const struct vmm_disk *d = &cfg->disks[i];
		int fd = open(d->path, (d->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if ((plan->disk_fd[i] = fds_add(f, fd < 0 ? -errno : fd)) < 0)
			return capsid_error_errno(err, -plan->disk_fd[i], "open disk %s", d->path);
		/* QEMU may reopen a writable image read-only (while probing,
		 * or as permissions change): the set has a descriptor of each mode. */
		if (!d->readonly) {
			fd = open(d->path, O_RDONLY | O_CLOEXEC);
			if ((plan->disk_ro_fd[i] = fds_add(f, fd < 0 ? -errno : fd)) < 0)
				return capsid_error_errno(err, -plan->disk_ro_fd[i], "open disk %s", d->path);
		}
	}
	for (size_t i = 0; i < cfg->n_nics; i++)
		if ((plan->nic_fd[i] = fds_add(f, open_tap(cfg->nics[i].tap))) < 0)
			return capsid_error_errno(err, -plan->nic_fd[i], "open tap %s", cfg->nics[i].tap);
	return 0;
}

/* The child: descriptors into place, then the jail. Never returns. */
static void child(const struct vmm_jail *j, const char *binary, char **argv, const struct fds *f, int log_fd,
		  int err_fd)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	struct capsid_error e = {0};
	int high[MAX_FDS];
	int errw = fcntl(err_fd, F_DUPFD_CLOEXEC, 3 + f->n);
	for (int i = 0; i < f->n; i++)
		if ((high[i] = fcntl(f->v[i], F_DUPFD_CLOEXEC, 3 + f->n)) < 0)
			_exit(127);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (errw < 0 || null < 0 || dup2(null, 0) < 0)
		_exit(127);
	if (log_fd >= 0 && (dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0))
		_exit(127);
	for (int i = 0; i < f->n; i++)
		if (dup2(high[i], 3 + i) < 0)
			_exit(127);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	jail_exec(j, binary, argv, f->n, &e);
	dprintf(errw, "%s", e.msg[0] ? e.msg : "jail: exec failed");
	_exit(127);
}

int vmm_spawn_jailed(const struct vmm_config *cfg, int log_fd, pid_t *pid_out, struct capsid_error *err)
{
	/* The jail as given, plus the files QEMU opens by path, by their
	 * canonical paths (the jail makes each path's directories). */
	struct vmm_jail j = *cfg->jail;
	struct vmm_config c = *cfg;
	const char **by_path[] = {&c.kernel, &c.initrd, &c.ram_file};
	char canon[3][PATH_MAX];
	for (size_t i = 0; i < sizeof(by_path) / sizeof(by_path[0]); i++) {
		if (!*by_path[i])
			continue;
		if (!realpath(*by_path[i], canon[i]))
			return capsid_error_errno(err, errno, "jail: %s", *by_path[i]);
		*by_path[i] = canon[i];
		if (j.n_files == JAIL_MAX_FILES)
			return capsid_error_set(err, E2BIG, "jail: too many files");
		j.files[j.n_files++] = (struct jail_file){.path = canon[i], .writable = i == 2};
	}
	cfg = &c;
	char binary[PATH_MAX];
	const char *name = cfg->qemu ? cfg->qemu : "qemu-system-x86_64";
	int rc = resolve_binary(name, binary);
	if (rc < 0)
		return capsid_error_errno(err, rc, "find %s", name);

	struct fds f = {.n = 0};
	struct vmm_fd_plan plan = {0};
	_cleanup_strv_ char **argv = NULL;
	int pipefd[2] = {-1, -1};
	if ((rc = open_resources(cfg, &f, &plan, err)) < 0 || (rc = vmm_build_argv_plan(cfg, &plan, &argv, err)) < 0)
		goto out;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		rc = capsid_error_errno(err, errno, "pipe");
		goto out;
	}
	struct clone3_args ca = {.flags = jail_clone_flags(), .exit_signal = SIGCHLD};
	pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0) {
		rc = capsid_error_errno(err, errno, "clone3 the jailed QEMU");
		goto out;
	}
	if (pid == 0)
		child(&j, binary, argv, &f, log_fd, pipefd[1]);
	close(pipefd[1]);
	pipefd[1] = -1;
	char msg[CAPSID_ERROR_MAX];
	ssize_t got, len = 0;
	while ((got = read(pipefd[0], msg + len, sizeof(msg) - 1 - (size_t)len)) > 0 ||
	       (got < 0 && errno == EINTR))
		if (got > 0)
			len += got;
	if (len > 0) {
		msg[len] = '\0';
		waitpid(pid, NULL, 0);
		rc = capsid_error_set(err, EPERM, "%s", msg);
		goto out;
	}
	*pid_out = pid;
	rc = 0;
out:
	for (int i = 0; i < 2; i++)
		if (pipefd[i] >= 0)
			close(pipefd[i]);
	fds_close(&f);
	return rc;
}
