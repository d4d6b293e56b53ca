#include "proc.h"
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int send_fd(int sock, int fd)
{
	char byte = 0;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl = {0};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/* A pty of the container's own devpts instance: the master goes to the
 * console socket, the slave becomes the controlling terminal and stdio
 * (and /dev/console for a container's init, as runc and crun do). */
static int setup_terminal(const struct builtin_spec_process *p, int console_fd, bool bind_console,
			  struct capsid_error *err)
{
	_cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return capsid_error_errno(err, errno, "open /dev/ptmx");
	int unlock = 0, n;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
		return capsid_error_errno(err, errno, "pty");
	char slave_path[32];
	snprintf(slave_path, sizeof(slave_path), "/dev/pts/%d", n);
	int slave = open(slave_path, O_RDWR | O_NOCTTY);
	if (slave < 0)
		return capsid_error_errno(err, errno, "open %s", slave_path);
	if (p->rows && p->cols) {
		struct winsize ws = {.ws_row = (unsigned short)p->rows, .ws_col = (unsigned short)p->cols};
		ioctl(slave, TIOCSWINSZ, &ws);
	}
	if (bind_console) {
		int fd = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		if (mount(slave_path, "/dev/console", NULL, MS_BIND, NULL) < 0)
			return capsid_error_errno(err, errno, "bind the terminal on /dev/console");
	}
	int rc = send_fd(console_fd, master);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "send the terminal to the console socket");
	if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
		return capsid_error_errno(err, errno, "make the terminal controlling");
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			return capsid_error_errno(err, errno, "terminal stdio");
	if (slave > 2)
		close(slave);
	return 0;
}

/* Bounding set, user with the permitted set kept across setuid, then the
 * spec's sets exactly (runc's order). */
static int setup_user_and_caps(const struct builtin_spec_process *p, struct capsid_error *err)
{
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (!(p->caps[BUILTIN_SPEC_BOUNDING] & (UINT64_C(1) << c)) &&
		    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return capsid_error_errno(err, errno, "drop capability %d from the bounding set", c);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return capsid_error_errno(err, errno, "keep capabilities");
	if (setgroups(p->n_groups, p->groups) < 0)
		return capsid_error_errno(err, errno, "setgroups");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return capsid_error_errno(err, errno, "setgid %u", (unsigned)p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return capsid_error_errno(err, errno, "setuid %u", (unsigned)p->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return capsid_error_errno(err, errno, "keep capabilities");
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	for (int i = 0; i < 2; i++)
		data[i] = (struct __user_cap_data_struct){
		    .effective = (uint32_t)(p->caps[BUILTIN_SPEC_EFFECTIVE] >> (32 * i)),
		    .permitted = (uint32_t)(p->caps[BUILTIN_SPEC_PERMITTED] >> (32 * i)),
		    .inheritable = (uint32_t)(p->caps[BUILTIN_SPEC_INHERITABLE] >> (32 * i)),
		};
	if (syscall(SYS_capset, &hdr, data) < 0)
		return capsid_error_errno(err, errno, "capset");
	/* An ambient capability must also be inheritable; those that are not
	 * are skipped (EPERM), as crun does. */
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if ((p->caps[BUILTIN_SPEC_AMBIENT] & (UINT64_C(1) << c)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM)
			return capsid_error_errno(err, errno, "raise ambient capability %d", c);
	return 0;
}

static const char *env_get(const struct builtin_spec_process *p, const char *key)
{
	size_t k = strlen(key);
	for (size_t i = 0; p->env[i]; i++)
		if (strncmp(p->env[i], key, k) == 0 && p->env[i][k] == '=')
			return p->env[i] + k + 1;
	return NULL;
}

int builtin_proc_find_program(const struct builtin_spec_process *p, char *out, size_t len)
{
	const char *name = p->args[0];
	if (!name || !*name)
		return -ENOENT;
	if (strchr(name, '/')) {
		if (strlen(name) >= len)
			return -ENAMETOOLONG;
		memcpy(out, name, strlen(name) + 1);
		return 0;
	}
	const char *path = env_get(p, "PATH");
	if (!path)
		path = DEFAULT_PATH;
	int found = -ENOENT;
	while (*path) {
		size_t n = strcspn(path, ":");
		const char *dir = n ? path : ".";
		size_t dn = n ? n : 1;
		if (dn + 1 + strlen(name) < len) {
			snprintf(out, len, "%.*s/%s", (int)dn, dir, name);
			struct stat st;
			if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
				if (access(out, X_OK) == 0)
					return 0;
				found = -EACCES;
			}
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return found;
}

int builtin_proc_child_setup(const int stdio[3], int keep)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	setsid();
	/* dup2 first into high numbers: a source may already sit on 0-2. */
	int fds[3];
	for (int i = 0; i < 3; i++) {
		fds[i] = stdio[i] >= 0 ? fcntl(stdio[i], F_DUPFD, 10) : open("/dev/null", O_RDWR);
		if (fds[i] < 0)
			return -errno;
	}
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			return -errno;
	if (keep <= 2) {
		close_range(3, ~0u, 0);
		return 0;
	}
	if (keep > 3)
		close_range(3, (unsigned)keep - 1, 0);
	close_range((unsigned)keep + 1, ~0u, 0);
	return 0;
}

int builtin_proc_exec(const struct builtin_spec_process *p, int console_fd, bool bind_console,
		      struct capsid_error *err)
{
	int rc;
	if (p->terminal) {
		if (console_fd < 0)
			return capsid_error_set(err, EINVAL, "process.terminal: no console socket");
		rc = setup_terminal(p, console_fd, bind_console, err);
		if (rc < 0)
			return rc;
		close(console_fd);
	}
	for (size_t i = 0; i < p->n_rlimits; i++)
		if (setrlimit(p->rlimits[i].resource, &p->rlimits[i].limit) < 0)
			return capsid_error_errno(err, errno, "setrlimit %d", p->rlimits[i].resource);
	/* The agent itself runs randomised; say so anyway, as the spec does. */
	if (personality(PER_LINUX) < 0)
		return capsid_error_errno(err, errno, "personality");
	/* Without no_new_privs a filter needs CAP_SYS_ADMIN: installed while
	 * the process still has it (as runc does); the calls that follow must
	 * then be allowed by the profile (the default one allows them). */
	if (!p->no_new_privileges && (rc = builtin_seccomp_install(&p->seccomp, err)) < 0)
		return rc;
	rc = setup_user_and_caps(p, err);
	if (rc < 0)
		return rc;
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return capsid_error_errno(err, errno, "no_new_privs");
	if (chdir(p->cwd) < 0)
		return capsid_error_errno(err, errno, "chdir to cwd %s", p->cwd);
	char prog[PATH_MAX];
	rc = builtin_proc_find_program(p, prog, sizeof(prog));
	if (rc == -ENOENT && !strchr(p->args[0], '/'))
		return capsid_error_set(err, ENOENT, "exec: \"%.200s\": executable file not found in $PATH",
					p->args[0]);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "exec %.200s", p->args[0]);
	if (p->no_new_privileges && (rc = builtin_seccomp_install(&p->seccomp, err)) < 0)
		return rc;
	execve(prog, (char *const *)p->args, (char *const *)p->env);
	return capsid_error_errno(err, errno, "exec %.200s", prog);
}
