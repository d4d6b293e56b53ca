/* A compromised QEMU, for tests/integration/test_redteam_qemu.sh. capsid
 * starts it as a group's QEMU (CAPSID_QEMU): the same jail, uid, cgroup
 * and descriptors. Like QEMU it installs its seccomp filter from its own
 * -sandbox option with libseccomp (the deny list of QEMU 7.2's
 * softmmu/qemu-seccomp.c: the same syscalls, arguments and actions), then
 * attacks. Its stdout is the monitor's log:
 *
 *   probe: ATTACK: denied (errno)    the attempt failed
 *   probe: ATTACK: ESCAPED ...       it succeeded: the test fails
 *   probe: ATTACK: attempting        before one that QEMU's filter kills
 *   probe: done
 *
 * Its targets (another group's files and QEMU pid) and its mode follow
 * its own executable, after a line "#CAPSID-PROBE": the jail has no
 * environment to pass them in, and its binary is all it can read of the
 * test. Mode "main" runs every attack that returns; another mode names one
 * attempt QEMU's filter kills the process for (mount, unshare, setuid,
 * execve, fork, reboot): the test starts one probe per such mode. Mode
 * "flood" writes 64 MiB to its stderr (the monitor's log). */
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <unistd.h>

#define MAX_TARGETS 32

static int escaped;

static void result(const char *what, int rc)
{
	if (rc < 0)
		printf("probe: %s: denied (%s)\n", what, strerror(errno));
	else {
		printf("probe: %s: ESCAPED (returned %d)\n", what, rc);
		escaped = 1;
	}
	fflush(stdout);
}

/* ---- QEMU's filter ----------------------------------------------------- */

#define SET_DEFAULT  1
#define SET_OBSOLETE 2
#define SET_PRIV     4
#define SET_SPAWN    8
#define SET_RESCTL   16
#define TRAP	     1u /* QEMU's SCMP_ACT_TRAP: KILL_PROCESS where the kernel has it */

struct deny {
	const char *name;
	unsigned set;
	uint32_t action; /* TRAP, or a libseccomp action */
};

static const struct deny deny_list[] = {
    {"reboot", SET_DEFAULT, TRAP},	   {"swapon", SET_DEFAULT, TRAP},
    {"swapoff", SET_DEFAULT, TRAP},	   {"syslog", SET_DEFAULT, TRAP},
    {"mount", SET_DEFAULT, TRAP},	   {"umount", SET_DEFAULT, TRAP},
    {"kexec_load", SET_DEFAULT, TRAP},	   {"afs_syscall", SET_DEFAULT, TRAP},
    {"break", SET_DEFAULT, TRAP},	   {"ftime", SET_DEFAULT, TRAP},
    {"getpmsg", SET_DEFAULT, TRAP},	   {"gtty", SET_DEFAULT, TRAP},
    {"lock", SET_DEFAULT, TRAP},	   {"mpx", SET_DEFAULT, TRAP},
    {"prof", SET_DEFAULT, TRAP},	   {"profil", SET_DEFAULT, TRAP},
    {"putpmsg", SET_DEFAULT, TRAP},	   {"security", SET_DEFAULT, TRAP},
    {"stty", SET_DEFAULT, TRAP},	   {"tuxcall", SET_DEFAULT, TRAP},
    {"ulimit", SET_DEFAULT, TRAP},	   {"vserver", SET_DEFAULT, TRAP},
    {"readdir", SET_OBSOLETE, TRAP},	   {"_sysctl", SET_OBSOLETE, TRAP},
    {"bdflush", SET_OBSOLETE, TRAP},	   {"create_module", SET_OBSOLETE, TRAP},
    {"get_kernel_syms", SET_OBSOLETE, TRAP}, {"query_module", SET_OBSOLETE, TRAP},
    {"sgetmask", SET_OBSOLETE, TRAP},	   {"ssetmask", SET_OBSOLETE, TRAP},
    {"sysfs", SET_OBSOLETE, TRAP},	   {"uselib", SET_OBSOLETE, TRAP},
    {"ustat", SET_OBSOLETE, TRAP},	   {"setuid", SET_PRIV, TRAP},
    {"setgid", SET_PRIV, TRAP},		   {"setpgid", SET_PRIV, TRAP},
    {"setsid", SET_PRIV, TRAP},		   {"setreuid", SET_PRIV, TRAP},
    {"setregid", SET_PRIV, TRAP},	   {"setresuid", SET_PRIV, TRAP},
    {"setresgid", SET_PRIV, TRAP},	   {"setfsuid", SET_PRIV, TRAP},
    {"setfsgid", SET_PRIV, TRAP},	   {"fork", SET_SPAWN, TRAP},
    {"vfork", SET_SPAWN, TRAP},		   {"execve", SET_SPAWN, TRAP},
    {"execveat", SET_SPAWN, SCMP_ACT_KILL}, {"setns", SET_SPAWN, SCMP_ACT_KILL},
    {"unshare", SET_SPAWN, SCMP_ACT_KILL},
};

/* clone: QEMU kills any clone that lacks one of a thread's flags or has one of a process's. */
static const uint64_t clone_required[] = {CLONE_VM,	   CLONE_FS,	 CLONE_FILES,	      CLONE_SIGHAND,
					  CLONE_THREAD,	   CLONE_SYSVSEM, CLONE_SETTLS,	      CLONE_PARENT_SETTID,
					  CLONE_CHILD_CLEARTID};
static const uint64_t clone_forbidden[] = {CLONE_PIDFD,	    CLONE_PTRACE,  CLONE_VFORK,	   CLONE_PARENT,
					   CLONE_NEWNS,	    CLONE_UNTRACED, CLONE_NEWCGROUP, CLONE_NEWUTS,
					   CLONE_NEWIPC,    CLONE_NEWUSER, CLONE_NEWPID,   CLONE_NEWNET,
					   CLONE_IO};

static int sandbox_sets(const char *opt)
{
	if (strncmp(opt, "on", 2) != 0)
		return 0;
	unsigned sets = SET_DEFAULT | SET_OBSOLETE;
	if (strstr(opt, "obsolete=allow"))
		sets &= ~(unsigned)SET_OBSOLETE;
	if (strstr(opt, "elevateprivileges=deny") || strstr(opt, "elevateprivileges=children"))
		sets |= SET_PRIV;
	if (strstr(opt, "spawn=deny"))
		sets |= SET_SPAWN;
	if (strstr(opt, "resourcecontrol=deny"))
		sets |= SET_RESCTL;
	return (int)sets;
}

static int load_qemu_filter(unsigned sets)
{
	uint32_t trap = SCMP_ACT_TRAP;
	unsigned kp = SECCOMP_RET_KILL_PROCESS;
	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &kp) == 0)
		trap = SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx || seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(deny_list) / sizeof(deny_list[0]); i++) {
		if (!(deny_list[i].set & sets))
			continue;
		int nr = seccomp_syscall_resolve_name(deny_list[i].name);
		if (nr == __NR_SCMP_ERROR)
			continue;
		uint32_t act = deny_list[i].action == TRAP ? trap : deny_list[i].action;
		if (seccomp_rule_add(ctx, act, nr, 0) < 0)
			return -1;
	}
	if (sets & SET_SPAWN) {
		if (seccomp_rule_add(ctx, trap, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, ~(uint64_t)CSIGNAL, 0)) < 0)
			return -1;
		for (size_t i = 0; i < sizeof(clone_required) / sizeof(clone_required[0]); i++)
			if (seccomp_rule_add(ctx, trap, SCMP_SYS(clone), 1,
					     SCMP_A0(SCMP_CMP_MASKED_EQ, clone_required[i], 0)) < 0)
				return -1;
		for (size_t i = 0; i < sizeof(clone_forbidden) / sizeof(clone_forbidden[0]); i++)
			if (seccomp_rule_add(ctx, trap, SCMP_SYS(clone), 1,
					     SCMP_A0(SCMP_CMP_MASKED_EQ, clone_forbidden[i], clone_forbidden[i])) < 0)
				return -1;
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0)
			return -1;
	}
	if (sets & SET_RESCTL) {
		static const char *const rc[] = {"setpriority", "sched_setparam", "sched_setaffinity"};
		for (size_t i = 0; i < 3; i++)
			if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), seccomp_syscall_resolve_name(rc[i]), 0) < 0)
				return -1;
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(sched_setscheduler), 1,
				     SCMP_A1(SCMP_CMP_NE, SCHED_IDLE)) < 0)
			return -1;
	}
	int rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}

/* ---- targets ----------------------------------------------------------- */

static char mode[32] = "main";
static char *targets[MAX_TARGETS];
static size_t n_targets;

/* "key value" lines after "#CAPSID-PROBE" at the end of our executable. */
static void read_targets(void)
{
	FILE *f = fopen("/proc/self/exe", "re");
	if (!f)
		return;
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	while (n == sizeof(buf) - 1) {
		memmove(buf, buf + n / 2, n - n / 2);
		n = n - n / 2 + fread(buf + n - n / 2, 1, sizeof(buf) - 1 - (n - n / 2), f);
	}
	fclose(f);
	buf[n] = '\0';
	char *m = NULL;
	for (char *p = buf; (p = memmem(p, n - (size_t)(p - buf), "\n#CAPSID-PROBE\n", 15)); p++)
		m = p;
	if (!m)
		return;
	char *save = NULL;
	for (char *line = strtok_r(m + 15, "\n", &save); line && n_targets < MAX_TARGETS;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "mode ", 5) == 0)
			snprintf(mode, sizeof(mode), "%s", line + 5);
		else
			targets[n_targets++] = line;
	}
}

static const char *target(const char *key)
{
	size_t k = strlen(key);
	for (size_t i = 0; i < n_targets; i++)
		if (strncmp(targets[i], key, k) == 0 && targets[i][k] == ' ')
			return targets[i] + k + 1;
	return NULL;
}

/* ---- attacks ----------------------------------------------------------- */

static void try_open(const char *label, const char *path, int flags)
{
	char what[512];
	snprintf(what, sizeof(what), "%s %s", label, path);
	int fd = open(path, flags | O_CLOEXEC);
	result(what, fd);
	if (fd >= 0)
		close(fd);
}

static void try_connect(const char *path)
{
	char what[512];
	snprintf(what, sizeof(what), "connect %s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	result(what, connect(fd, (struct sockaddr *)&a, sizeof(a)));
	close(fd);
}

static void attack_main(void)
{
	static const char *const keys[] = {"disk", "console", "state", "spec", "monitor-log", "shadow", "qemu-binary-w",
					   "cgroup-limit", "cgroup-procs"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *p = target(keys[i]);
		if (!p)
			continue;
		bool w = strstr(keys[i], "cgroup") || strcmp(keys[i], "qemu-binary-w") == 0;
		try_open(keys[i], p, w ? O_WRONLY : O_RDONLY);
	}
	try_open("host file", "/etc/shadow", O_RDONLY);
	try_open("host dir", "/root", O_RDONLY | O_DIRECTORY);
	try_open("sysfs", "/sys/fs/cgroup", O_RDONLY | O_DIRECTORY);
	try_open("own cgroup", "/sys/fs/cgroup/memory/memory.limit_in_bytes", O_WRONLY);
	try_open("write /usr", "/usr/bin/env", O_WRONLY);
	try_open("create in /", "/escape", O_WRONLY | O_CREAT);
	try_open("create in /dev", "/dev/escape", O_WRONLY | O_CREAT);
	try_open("block device", "/dev/vda", O_RDONLY);
	try_open("kvm", "/dev/kvm", O_RDWR);
	try_open("tun", "/dev/net/tun", O_RDWR);
	try_open("kernel memory", "/proc/kcore", O_RDONLY);
	try_open("sysrq", "/proc/sysrq-trigger", O_WRONLY);
	static const char *const socks[] = {"agent-sock", "qmp-sock", "control-sock"};
	for (size_t i = 0; i < sizeof(socks) / sizeof(socks[0]); i++)
		if (target(socks[i]))
			try_connect(target(socks[i]));
	const char *vp = target("victim-pid");
	pid_t victim = vp ? (pid_t)atoi(vp) : 0;
	if (victim > 1) {
		char what[64];
		snprintf(what, sizeof(what), "kill -0 %d", (int)victim);
		result(what, kill(victim, 0));
		snprintf(what, sizeof(what), "kill -KILL %d", (int)victim);
		result(what, kill(victim, SIGKILL));
		snprintf(what, sizeof(what), "ptrace attach %d", (int)victim);
		result(what, (int)ptrace(PTRACE_ATTACH, victim, NULL, NULL));
		snprintf(what, sizeof(what), "ptrace seize %d", (int)victim);
		result(what, (int)ptrace(PTRACE_SEIZE, victim, NULL, NULL));
		char byte;
		struct iovec l = {&byte, 1}, r = {(void *)0x400000, 1};
		snprintf(what, sizeof(what), "process_vm_readv %d", (int)victim);
		result(what, (int)process_vm_readv(victim, &l, 1, &r, 1, 0));
		snprintf(what, sizeof(what), "pidfd_open %d", (int)victim);
		result(what, (int)syscall(SYS_pidfd_open, victim, 0));
	}
	/* Any other process at all? Only this one is in its pid namespace. */
	int seen = 0;
	for (pid_t p = 2; p < 100000; p++)
		if (kill(p, 0) == 0 || errno == EPERM)
			seen++;
	errno = ESRCH;
	result("signal any other pid (2..99999)", seen ? seen : -1);
	result("raw IP socket", socket(AF_INET, SOCK_RAW, IPPROTO_RAW));
	result("packet socket", socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)));
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(22)};
	const char *ip = target("host-ip") ? target("host-ip") : "127.0.0.1";
	inet_pton(AF_INET, ip, &in.sin_addr);
	char what[128];
	snprintf(what, sizeof(what), "tcp connect %s:22", ip);
	result(what, connect(s, (struct sockaddr *)&in, sizeof(in)));
	close(s);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, "169.254.169.254", &in.sin_addr);
	in.sin_port = htons(80);
	result("tcp connect 169.254.169.254:80", connect(s, (struct sockaddr *)&in, sizeof(in)));
	close(s);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	result("finit_module", (int)syscall(SYS_finit_module, null, "", 0));
	result("init_module", (int)syscall(SYS_init_module, "\177ELF", 4, ""));
	result("delete_module", (int)syscall(SYS_delete_module, "loop", O_NONBLOCK));
	result("mknod", mknod("/dev/sda-escape", S_IFBLK | 0600, makedev(8, 0)));
	result("chroot", chroot("/proc"));
	struct {
		uint32_t version;
		int pid;
	} hdr = {0x20080522, 0};
	struct {
		uint32_t eff, perm, inh;
	} data[2] = {{~0u, ~0u, 0}, {~0u, ~0u, 0}};
	result("capset all", (int)syscall(SYS_capset, &hdr, data));
	/* "shocker": the host filesystem's root inode by handle, through /usr's mount. */
	struct {
		unsigned int bytes;
		int type;
		uint32_t ino, gen;
	} fh = {8, 1, 2, 0};
	int usr = open("/usr", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	result("open_by_handle_at (host root inode)", (int)syscall(SYS_open_by_handle_at, usr, &fh, O_RDONLY));
	result("nice -20", setpriority(PRIO_PROCESS, 0, -20));
	printf("probe: uid %d gid %d pid %d\n", (int)getuid(), (int)getgid(), (int)getpid());
}

/* Fill the monitor log (our stderr): 64 MiB, as fast as it goes. */
static void attack_flood(void)
{
	static char line[4096];
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	uint64_t total = 0;
	while (total < (64ull << 20) && write(2, line, sizeof(line)) > 0)
		total += sizeof(line);
	printf("probe: flood: %llu bytes written\n", (unsigned long long)total);
}

/* One attempt QEMU's filter kills the process for. */
static void attack_fatal(void)
{
	printf("probe: %s: attempting\n", mode);
	fflush(stdout);
	int rc = -1;
	if (strcmp(mode, "mount") == 0)
		rc = mount("none", "/", "tmpfs", 0, NULL);
	else if (strcmp(mode, "unshare") == 0)
		rc = unshare(CLONE_NEWUSER | CLONE_NEWNS);
	else if (strcmp(mode, "setuid") == 0)
		rc = setuid(0);
	else if (strcmp(mode, "execve") == 0) {
		char *const argv[] = {(char *)"/usr/bin/true", NULL};
		rc = execve(argv[0], argv, argv + 1);
	} else if (strcmp(mode, "fork") == 0)
		rc = (int)syscall(SYS_fork);
	else if (strcmp(mode, "reboot") == 0)
		rc = reboot(LINUX_REBOOT_CMD_POWER_OFF);
	printf("probe: %s: survived\n", mode);
	result(mode, rc);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	read_targets();
	unsigned sets = 0;
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "-sandbox") == 0)
			sets = (unsigned)sandbox_sets(argv[i + 1]);
	if (!sets) {
		printf("probe: started without -sandbox: refusing to play QEMU\n");
		return 2;
	}
	if (load_qemu_filter(sets) < 0) {
		printf("probe: loading QEMU's seccomp filter failed\n");
		return 2;
	}
	printf("probe: mode %s, QEMU's filter loaded (sets %#x), %zu targets\n", mode, sets, n_targets);
	if (strcmp(mode, "main") == 0)
		attack_main();
	else if (strcmp(mode, "flood") == 0)
		attack_flood();
	else
		attack_fatal();
	printf("probe: done%s\n", escaped ? " (ESCAPES)" : "");
	return escaped ? 1 : 0;
}
