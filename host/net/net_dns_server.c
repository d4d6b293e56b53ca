/* The DNS responder process (`capsid --root ROOT __dns`) and its on-demand
 * start. One per state root: it holds an exclusive flock on
 * <root>/networks/dns.lock for its whole life. It listens on port 53 of
 * every gateway with attached groups (what guests use) and on dns_port of
 * 127.0.0.1 and the publish address (what the host uses), re-reads the
 * store when state.json is replaced, and exits once no group is attached.
 *
 * Exit without losing a start: the responder decides to exit while holding
 * the store lock and drops dns.lock before releasing it, and net_attach
 * calls net_dns_ensure_running after committing its lease. Either the
 * responder saw the new lease, or the lock was free when attach looked. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "net_internal.h"
#include "util.h"

#define READY_ENV	  "CAPSID_DNS_READY_FD"
#define READY_TIMEOUT_MS  10000
#define CHECK_INTERVAL_MS 2000
#define MAX_LISTENERS	  (NET_MAX_NETWORKS + 2)
#define RECV_BUDGET	  64 /* packets per socket per poll round */

extern char **environ;

struct listener {
	uint32_t addr;
	uint16_t port;
	int fd;
};

struct dns_server {
	struct net_config cfg;
	int lock_fd;
	int inotify_fd;
	int signal_fd;
	struct listener listeners[MAX_LISTENERS];
	size_t n_listeners;
	struct net_dns_record *records;
	size_t n_records;
	uint32_t serial;
	struct stat seen; /* state.json as last read */
};

__attribute__((format(printf, 1, 2))) static void dns_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	util_vlog_stderr("capsid-dns", fmt, ap);
	va_end(ap);
}

/* Tell whoever started us that we serve (or that another instance does). */
static void signal_ready(void)
{
	const char *v = getenv(READY_ENV);
	if (!v)
		return;
	char *end;
	long fd = strtol(v, &end, 10);
	unsetenv(READY_ENV);
	if (*end || fd < 3 || fd > 1024 || fcntl((int)fd, F_GETFD) < 0)
		return;
	if (write((int)fd, "r", 1) < 0)
		dns_log("ready notification: %s", strerror(errno));
	close((int)fd);
}

static int open_listener(uint32_t addr, uint16_t port)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* FREEBIND: a gateway address may appear a moment after the lease. */
	int one = 1;
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(addr)};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return TAKE_FD(fd);
}

static void close_listeners(struct dns_server *s)
{
	for (size_t i = 0; i < s->n_listeners; i++)
		if (s->listeners[i].fd >= 0)
			close(s->listeners[i].fd);
	s->n_listeners = 0;
}

/* Make the open sockets match `want`: keep, open and close as needed. A
 * bind that fails stays in the list with fd -1 and is retried later. */
static void set_listeners(struct dns_server *s, const struct listener *want, size_t n)
{
	struct listener next[MAX_LISTENERS];
	for (size_t i = 0; i < n; i++) {
		next[i] = want[i];
		next[i].fd = -1;
		for (size_t k = 0; k < s->n_listeners; k++)
			if (s->listeners[k].addr == want[i].addr && s->listeners[k].port == want[i].port) {
				next[i].fd = s->listeners[k].fd;
				s->listeners[k].fd = -1;
			}
		if (next[i].fd < 0) {
			char ip[16];
			net_format_ipv4(want[i].addr, ip);
			int fd = open_listener(want[i].addr, want[i].port);
			if (fd < 0)
				dns_log("listen on %s:%u: %s", ip, want[i].port, strerror(-fd));
			next[i].fd = fd < 0 ? -1 : fd;
		}
	}
	close_listeners(s);
	memcpy(s->listeners, next, n * sizeof(*next));
	s->n_listeners = n;
}

static void add_want(struct listener *want, size_t *n, uint32_t addr, uint16_t port)
{
	for (size_t i = 0; i < *n; i++)
		if (want[i].addr == addr && want[i].port == port)
			return;
	if (*n < MAX_LISTENERS)
		want[(*n)++] = (struct listener){.addr = addr, .port = port, .fd = -1};
}

static void state_path(const struct dns_server *s, char *out, size_t len)
{
	if (net_store_dir(&s->cfg, NET_STATE_FILE, out, len) < 0)
		out[0] = '\0';
}

/* Re-read the store. Returns 1 when the responder should exit. */
static int reload(struct dns_server *s)
{
	struct capsid_error err = {0};
	/* The store lock, shared, without creating anything: when the root
	 * went away (a test's, an uninstall) there is nothing to serve, and
	 * net_store_lock() would create it again. */
	char lock_path[PATH_MAX];
	if (net_store_dir(&s->cfg, NET_LOCK_FILE, lock_path, sizeof(lock_path)) < 0)
		return 1;
	_cleanup_close_ int lock = open(lock_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (lock < 0 && errno == ENOENT) {
		close_listeners(s);
		return 1;
	}
	while (lock >= 0 && flock(lock, LOCK_SH) < 0 && errno == EINTR)
		;
	if (lock < 0) {
		dns_log("open %s: %s", lock_path, strerror(errno));
		return 0;
	}
	char path[PATH_MAX];
	state_path(s, path, sizeof(path));
	if (stat(path, &s->seen) < 0)
		s->seen = (struct stat){0};
	struct net_state st = {0};
	if (net_store_load(&s->cfg, &st, &err) < 0) {
		dns_log("keeping the previous records: %s", err.msg);
		return 0;
	}
	if (st.n_groups == 0) {
		/* Sockets first, so a successor can bind; then the instance lock,
		 * still under the store lock (see the top of the file). */
		close_listeners(s);
		close(s->lock_fd);
		s->lock_fd = -1;
		net_state_free(&st);
		return 1;
	}
	uint32_t publish = net_effective_publish(&s->cfg, &st);
	struct net_dns_record *recs = NULL;
	size_t n = 0;
	if (net_dns_records(&st, publish, &recs, &n) == 0) {
		free(s->records);
		s->records = recs;
		s->n_records = n;
		s->serial = (uint32_t)time(NULL);
	}
	struct listener want[MAX_LISTENERS];
	size_t n_want = 0;
	for (size_t i = 0; i < st.n_networks; i++)
		if (net_state_count_groups(&st, st.networks[i].name))
			add_want(want, &n_want, net_gateway(&st.networks[i]), 53);
	if (s->cfg.dns_port) {
		add_want(want, &n_want, INADDR_LOOPBACK, s->cfg.dns_port);
		/* The public side only when an operator named the address. */
		if (publish && publish != NET_PUBLISH_ALL && s->cfg.publish_address[0])
			add_want(want, &n_want, publish, s->cfg.dns_port);
	}
	set_listeners(s, want, n_want);
	net_state_free(&st);
	return 0;
}

static bool state_changed(const struct dns_server *s)
{
	char path[PATH_MAX];
	struct stat now = {0};
	state_path(s, path, sizeof(path));
	if (stat(path, &now) < 0)
		now = (struct stat){0};
	return now.st_ino != s->seen.st_ino || now.st_size != s->seen.st_size ||
	       now.st_mtim.tv_sec != s->seen.st_mtim.tv_sec || now.st_mtim.tv_nsec != s->seen.st_mtim.tv_nsec;
}

static bool retry_failed_binds(struct dns_server *s)
{
	for (size_t i = 0; i < s->n_listeners; i++)
		if (s->listeners[i].fd < 0)
			return true;
	return false;
}

static void serve(struct dns_server *s, int fd)
{
	const struct net_dns_zone zone = {
	    .zone = s->cfg.zone, .records = s->records, .n_records = s->n_records, .serial = s->serial};
	for (int i = 0; i < RECV_BUDGET; i++) {
		uint8_t in[4096], out[NET_DNS_MAX_PACKET];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		/* MSG_TRUNC: learn the real size, and drop what did not fit. */
		ssize_t n = recvfrom(fd, in, sizeof(in), MSG_TRUNC, (struct sockaddr *)&from, &flen);
		if (n < 0)
			return; /* EAGAIN: drained; other errors: next round */
		if ((size_t)n > sizeof(in) || flen != sizeof(from) || from.sin_port == 0)
			continue;
		size_t len = net_dns_answer(&zone, in, (size_t)n, out, sizeof(out));
		if (len)
			sendto(fd, out, len, MSG_DONTWAIT, (struct sockaddr *)&from, flen);
	}
}

static int handle_inotify(struct dns_server *s)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool relevant = false;
	for (;;) {
		ssize_t n = read(s->inotify_fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			relevant |= ev->len && !strcmp(ev->name, NET_STATE_FILE);
			relevant |= (ev->mask & IN_Q_OVERFLOW) != 0;
			p += sizeof(*ev) + ev->len;
		}
	}
	return relevant ? reload(s) : 0;
}

static int run(struct dns_server *s)
{
	bool ready = false;
	uint64_t next_check = 0;
	for (;;) {
		uint64_t now = util_now_ms();
		if (!ready || now >= next_check) {
			if ((!ready || state_changed(s) || retry_failed_binds(s)) && reload(s))
				return 0;
			if (!ready) {
				dns_log("serving %s on %zu addresses", s->cfg.zone, s->n_listeners);
				signal_ready();
				ready = true;
			}
			next_check = util_now_ms() + CHECK_INTERVAL_MS;
		}
		struct pollfd pfd[MAX_LISTENERS + 2];
		size_t n = 0;
		pfd[n++] = (struct pollfd){.fd = s->signal_fd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = s->inotify_fd, .events = POLLIN};
		for (size_t i = 0; i < s->n_listeners; i++)
			pfd[n++] = (struct pollfd){.fd = s->listeners[i].fd, .events = POLLIN};
		int r = poll(pfd, n, (int)(next_check > now ? next_check - now : 0));
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		if (pfd[0].revents) {
			struct signalfd_siginfo si;
			if (read(s->signal_fd, &si, sizeof(si)) == sizeof(si)) {
				dns_log("signal %u: exiting", si.ssi_signo);
				return 0;
			}
		}
		if (pfd[1].revents && handle_inotify(s))
			return 0;
		for (size_t i = 2; i < n; i++)
			if (pfd[i].fd >= 0 && (pfd[i].revents & POLLIN))
				serve(s, pfd[i].fd);
	}
}

static int open_lock(const struct net_config *cfg, const char *leaf)
{
	char path[PATH_MAX], dir[PATH_MAX];
	if (net_store_dir(cfg, leaf, path, sizeof(path)) < 0 ||
	    net_store_dir(cfg, NULL, dir, sizeof(dir)) < 0)
		return -ENAMETOOLONG;
	int rc = util_mkdir_p(dir, 0700);
	if (rc < 0)
		return rc;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	return fd < 0 ? -errno : fd;
}

int net_dns_main(const char *root, const struct net_settings *set)
{
	struct capsid_error err = {0};
	_cleanup_free_ struct dns_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lock_fd = s->inotify_fd = s->signal_fd = -1;
	int rc = net_config_load(root, set, &s->cfg, &err);
	if (rc < 0) {
		dns_log("%s", err.msg);
		return rc;
	}
	s->lock_fd = open_lock(&s->cfg, NET_DNS_LOCK);
	if (s->lock_fd < 0) {
		dns_log("open %s: %s", NET_DNS_LOCK, strerror(-s->lock_fd));
		return s->lock_fd;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		close(s->lock_fd);
		signal_ready(); /* another instance serves this root */
		return errno == EWOULDBLOCK ? 0 : -errno;
	}
	/* The pid in the lock file, for operators (and tests) to find us. */
	if (ftruncate(s->lock_fd, 0) == 0)
		dprintf(s->lock_fd, "%d\n", (int)getpid());
	if (chdir("/") < 0)
		dns_log("chdir /: %s", strerror(errno));
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	char dir[PATH_MAX];
	if (s->signal_fd < 0 || s->inotify_fd < 0 || net_store_dir(&s->cfg, NULL, dir, sizeof(dir)) < 0 ||
	    inotify_add_watch(s->inotify_fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE) < 0) {
		rc = -errno;
		dns_log("signalfd/inotify: %s", strerror(errno));
	} else {
		rc = run(s);
	}
	signal_ready(); /* if we stopped before serving: the starter must not wait */
	close_listeners(s);
	free(s->records);
	if (s->signal_fd >= 0)
		close(s->signal_fd);
	if (s->inotify_fd >= 0)
		close(s->inotify_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	return rc;
}

/* ---- starting it ---------------------------------------------------------- */

static bool dns_running(int lock_fd)
{
	if (flock(lock_fd, LOCK_EX | LOCK_NB) == 0) {
		flock(lock_fd, LOCK_UN);
		return false;
	}
	return errno == EWOULDBLOCK;
}

static void free_env(char ***envp)
{
	for (char **e = *envp; e && *e; e++)
		free(*e);
	free(*envp);
}

/* Our environment without the variables we set, plus the configuration the
 * caller holds (it may not come from the environment). */
static char **child_env(const struct net_config *cfg)
{
	static const char *const ours[] = {READY_ENV "=", "CAPSID_PUBLISH_ADDRESS=", "CAPSID_DNS_ZONE=",
					   "CAPSID_DEFAULT_SUBNET=", "CAPSID_DNS_PORT="};
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = calloc(n + ARRAY_SIZE(ours) + 1, sizeof(*env));
	if (!env)
		return NULL;
	size_t k = 0;
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++) {
		bool skip = false;
		for (size_t j = 0; j < ARRAY_SIZE(ours) && !skip; j++)
			skip = !strncmp(environ[i], ours[j], strlen(ours[j]));
		if (!skip)
			ok = (env[k++] = strdup(environ[i])) != NULL;
	}
	ok = ok && asprintf(&env[k++], READY_ENV "=3") >= 0;
	ok = ok && asprintf(&env[k++], "CAPSID_DNS_ZONE=%s", cfg->zone) >= 0;
	ok = ok && asprintf(&env[k++], "CAPSID_DEFAULT_SUBNET=%s", cfg->default_subnet) >= 0;
	ok = ok && asprintf(&env[k++], "CAPSID_DNS_PORT=%u", cfg->dns_port) >= 0;
	if (ok && cfg->publish_address[0])
		ok = asprintf(&env[k++], "CAPSID_PUBLISH_ADDRESS=%s", cfg->publish_address) >= 0;
	if (!ok) {
		free_env(&env);
		return NULL;
	}
	return env;
}

/* Fork twice (so the responder is nobody's child and in its own session)
 * and exec `EXE --root ROOT __dns` with stdio on /dev/null and dns.log,
 * and the ready pipe as fd 3. Only async-signal-safe calls after fork. */
static int spawn(const struct net_config *cfg, const char *exe, int ready_w, struct capsid_error *err)
{
	char log_path[PATH_MAX];
	if (net_store_dir(cfg, NET_DNS_LOG, log_path, sizeof(log_path)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	_cleanup_close_ int log0 =
	    open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	_cleanup_close_ int null0 = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (log0 < 0 || null0 < 0)
		return capsid_error_errno(err, errno, "open %s", log0 < 0 ? log_path : "/dev/null");
	/* Above fd 10, so the dup2()s onto 0-3 in the child cannot clobber them. */
	_cleanup_close_ int logfd = fcntl(log0, F_DUPFD_CLOEXEC, 10);
	_cleanup_close_ int nullfd = fcntl(null0, F_DUPFD_CLOEXEC, 10);
	_cleanup_close_ int readyfd = fcntl(ready_w, F_DUPFD_CLOEXEC, 10);
	char **env = child_env(cfg);
	if (logfd < 0 || nullfd < 0 || readyfd < 0 || !env) {
		free_env(&env);
		return capsid_error_errno(err, errno ? errno : ENOMEM, "prepare the DNS responder");
	}
	char *const argv[] = {(char *)exe, (char *)"--root", (char *)cfg->root, (char *)"__dns", NULL};
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		free_env(&env);
		return capsid_error_errno(err, e, "fork");
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		static const int sigs[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD};
		for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
			signal(sigs[i], SIG_DFL);
		if (setsid() < 0)
			_exit(126);
		pid_t again = fork();
		if (again != 0)
			_exit(again < 0 ? 126 : 0);
		if (dup2(nullfd, 0) < 0 || dup2(nullfd, 1) < 0 || dup2(logfd, 2) < 0 || dup2(readyfd, 3) < 0)
			_exit(126);
		close_range(4, ~0u, 0);
		if (chdir("/") < 0)
			_exit(126);
		execve(exe, argv, env);
		_exit(127);
	}
	free_env(&env);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

int net_dns_ensure_running(const struct net_config *cfg, struct capsid_error *err)
{
	/* One starter at a time: the second one finds the first's responder. */
	_cleanup_close_ int spawn_lock = open_lock(cfg, NET_DNS_SPAWN);
	if (spawn_lock < 0)
		return capsid_error_errno(err, -spawn_lock, "open %s", NET_DNS_SPAWN);
	while (flock(spawn_lock, LOCK_EX) < 0)
		if (errno != EINTR)
			return capsid_error_errno(err, errno, "lock %s", NET_DNS_SPAWN);
	_cleanup_close_ int lock = open_lock(cfg, NET_DNS_LOCK);
	if (lock < 0)
		return capsid_error_errno(err, -lock, "open %s", NET_DNS_LOCK);
	if (dns_running(lock))
		return 0;

	char exe[PATH_MAX];
	if (cfg->dns_exe[0]) {
		snprintf(exe, sizeof(exe), "%s", cfg->dns_exe);
	} else {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			return capsid_error_errno(err, errno, "readlink /proc/self/exe");
		exe[n] = '\0';
	}
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return capsid_error_errno(err, errno, "pipe");
	_cleanup_close_ int ready_r = pipefd[0];
	int rc = spawn(cfg, exe, pipefd[1], err);
	close(pipefd[1]);
	if (rc < 0)
		return rc;
	struct pollfd p = {.fd = ready_r, .events = POLLIN};
	char c = 0;
	uint64_t deadline = util_now_ms() + READY_TIMEOUT_MS;
	for (;;) {
		uint64_t now = util_now_ms();
		int r = poll(&p, 1, now < deadline ? (int)(deadline - now) : 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0 && read(ready_r, &c, 1) == 1 && c == 'r')
			return 0;
		break;
	}
	char log_path[PATH_MAX];
	net_store_dir(cfg, NET_DNS_LOG, log_path, sizeof(log_path));
	return capsid_error_set(err, EIO, "the DNS responder (%s __dns) did not start; see %s", exe,
				log_path);
}

/* ---- finding and stopping it ---------------------------------------------- */

pid_t net_dns_pid(const struct net_config *cfg)
{
	char path[PATH_MAX];
	if (net_store_dir(cfg, NET_DNS_LOCK, path, sizeof(path)) < 0)
		return 0;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || !dns_running(fd))
		return 0;
	char buf[32] = {0};
	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		return 0;
	long pid = strtol(buf, NULL, 10);
	return pid > 1 && pid < (1L << 22) ? (pid_t)pid : 0;
}

int net_dns_stop(const struct net_config *cfg, unsigned timeout_ms, struct capsid_error *err)
{
	char path[PATH_MAX];
	if (net_store_dir(cfg, NET_DNS_LOCK, path, sizeof(path)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	pid_t pid = net_dns_pid(cfg);
	if (fd < 0 || pid == 0)
		return 0;
	kill(pid, SIGTERM);
	uint64_t deadline = util_now_ms() + timeout_ms;
	for (bool killed = false; dns_running(fd);) {
		if (util_now_ms() > deadline) {
			if (killed)
				return capsid_error_set(err, ETIMEDOUT, "the DNS responder (pid %d) does not exit", (int)pid);
			kill(pid, SIGKILL);
			killed = true;
			deadline = util_now_ms() + 5000;
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}
