#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builtin/seccomp.h"
#include "channel.h"
#include "cleanup.h"
#include "container.h"
#include "proto.h"
#include "security.h"
#include "util.h"

#define PROBE_MAX_ARGS	  64
#define PROBE_MAX_HEADERS 16
#define PROBE_MAX_STRING  4096
#define PROBE_MAX_SECONDS 3600
/* Bytes of a probe's output (or its failure) kept for the host's event. */
#define PROBE_MESSAGE_MAX 256
/* A container's environment as an exec probe reads it. */
#define PROBE_ENVIRON_MAX (64u << 10)
#define PROBE_ENV_MAX	  1024

struct probe {
	bool set;
	bool liveness;
	char **argv; /* exec, NULL-terminated; NULL for httpGet */
	char *path;  /* httpGet */
	unsigned port;
	char *headers[PROBE_MAX_HEADERS][2];
	size_t n_headers;
	unsigned initial_delay_s, period_s, timeout_s, failure_threshold, success_threshold;
	/* state */
	uint64_t next_ms;
	pid_t pid;  /* the running probe, 0 when none */
	int out_fd; /* its output and failure text, -1 */
	uint64_t deadline_ms;
	bool reaped, timed_out;
	int wstatus;
	unsigned successes, failures;
	bool ready;
};

struct probe_set {
	struct probe liveness, readiness;
	uint64_t started_ms; /* when probing of the running container began, 0 before */
	bool stopped;	     /* the container was killed by its liveness probe, or ended */
};

/* ---- parsing --------------------------------------------------------------- */

static int get_uint(struct json_object *o, const char *key, unsigned lo, unsigned hi, unsigned *out,
		    struct capsid_error *err)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0; /* the default stays */
	if (!json_object_is_type(v, json_type_int))
		return capsid_error_set(err, EINVAL, "probes: %s: not an integer", key);
	int64_t x = json_object_get_int64(v);
	if (x < lo || x > hi)
		return capsid_error_set(err, ERANGE, "probes: %s: out of range %u..%u", key, lo, hi);
	*out = (unsigned)x;
	return 0;
}

static int dup_string(struct json_object *v, const char *what, char **out, struct capsid_error *err)
{
	if (!json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) > PROBE_MAX_STRING ||
	    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return capsid_error_set(err, EINVAL, "probes: %s: not a string of at most %d bytes", what,
					PROBE_MAX_STRING);
	*out = strdup(json_object_get_string(v));
	return *out ? 0 : capsid_error_set(err, ENOMEM, "out of memory");
}

static bool header_safe(const char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			return false;
	return true;
}

static int parse_http(struct json_object *h, struct probe *p, struct capsid_error *err)
{
	struct json_object *v;
	if (!json_object_is_type(h, json_type_object))
		return capsid_error_set(err, EINVAL, "probes: httpGet: not an object");
	p->port = 0;
	int rc = get_uint(h, "port", 1, 65535, &p->port, err);
	if (rc < 0)
		return rc;
	if (!p->port)
		return capsid_error_set(err, EINVAL, "probes: httpGet.port: missing");
	if (!json_object_object_get_ex(h, "path", &v) || !v)
		p->path = strdup("/");
	else if ((rc = dup_string(v, "httpGet.path", &p->path, err)) < 0)
		return rc;
	if (!p->path)
		return capsid_error_set(err, ENOMEM, "out of memory");
	if (p->path[0] != '/' || strpbrk(p->path, " \t\r\n"))
		return capsid_error_set(err, EINVAL, "probes: httpGet.path: not an absolute path");
	if (json_object_object_get_ex(h, "headers", &v) && v) {
		if (!json_object_is_type(v, json_type_array) ||
		    json_object_array_length(v) > PROBE_MAX_HEADERS)
			return capsid_error_set(err, EINVAL,
						"probes: httpGet.headers: not an array of at most %d",
						PROBE_MAX_HEADERS);
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *x = json_object_array_get_idx(v, i), *n, *val;
			if (!json_object_object_get_ex(x, "name", &n) ||
			    !json_object_object_get_ex(x, "value", &val))
				return capsid_error_set(err, EINVAL,
							"probes: httpGet.headers[%zu]: name and value", i);
			if ((rc = dup_string(n, "httpGet.headers[].name", &p->headers[i][0], err)) < 0 ||
			    (rc = dup_string(val, "httpGet.headers[].value", &p->headers[i][1], err)) < 0)
				return rc;
			p->n_headers = i + 1;
			if (!header_safe(p->headers[i][0]) || !header_safe(p->headers[i][1]) ||
			    strchr(p->headers[i][0], ':'))
				return capsid_error_set(err, EINVAL,
							"probes: httpGet.headers[%zu]: not a header", i);
		}
	}
	return 0;
}

static int parse_exec(struct json_object *v, struct probe *p, struct capsid_error *err)
{
	size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
	if (n == 0 || n > PROBE_MAX_ARGS)
		return capsid_error_set(err, EINVAL, "probes: exec: not an array of 1 to %d strings",
					PROBE_MAX_ARGS);
	if (!(p->argv = calloc(n + 1, sizeof(*p->argv))))
		return capsid_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		int rc = dup_string(json_object_array_get_idx(v, i), "exec[]", &p->argv[i], err);
		if (rc < 0)
			return rc;
	}
	return p->argv[0][0] ? 0 : capsid_error_set(err, EINVAL, "probes: exec[0]: empty");
}

static int parse_one(struct json_object *o, struct probe *p, bool liveness, struct capsid_error *err)
{
	if (!json_object_is_type(o, json_type_object))
		return capsid_error_set(err, EINVAL, "probes: %s: not an object",
					liveness ? "liveness" : "readiness");
	*p = (struct probe){.set = true,
			    .liveness = liveness,
			    .out_fd = -1,
			    .period_s = 10,
			    .timeout_s = 1,
			    .failure_threshold = 3,
			    .success_threshold = 1};
	struct json_object *ex = NULL, *http = NULL;
	json_object_object_get_ex(o, "exec", &ex);
	json_object_object_get_ex(o, "httpGet", &http);
	if (!ex == !http)
		return capsid_error_set(err, EINVAL, "probes: exactly one of exec or httpGet");
	int rc = ex ? parse_exec(ex, p, err) : parse_http(http, p, err);
	if (rc >= 0)
		rc = get_uint(o, "initialDelaySeconds", 0, PROBE_MAX_SECONDS, &p->initial_delay_s, err);
	if (rc >= 0)
		rc = get_uint(o, "periodSeconds", 1, PROBE_MAX_SECONDS, &p->period_s, err);
	if (rc >= 0)
		rc = get_uint(o, "timeoutSeconds", 1, PROBE_MAX_SECONDS, &p->timeout_s, err);
	if (rc >= 0)
		rc = get_uint(o, "failureThreshold", 1, 1000, &p->failure_threshold, err);
	if (rc >= 0)
		rc = get_uint(o, "successThreshold", 1, 1000, &p->success_threshold, err);
	return rc;
}

static void probe_clear(struct probe *p)
{
	if (p->pid > 0)
		kill(p->pid, SIGKILL); /* reaped by the loop as an unclaimed child */
	if (p->out_fd >= 0)
		close(p->out_fd);
	for (size_t i = 0; p->argv && p->argv[i]; i++)
		free(p->argv[i]);
	free(p->argv);
	free(p->path);
	for (size_t i = 0; i < p->n_headers; i++) {
		free(p->headers[i][0]);
		free(p->headers[i][1]);
	}
	*p = (struct probe){.out_fd = -1};
}

void probe_free(struct probe_set *ps)
{
	if (!ps)
		return;
	probe_clear(&ps->liveness);
	probe_clear(&ps->readiness);
	free(ps);
}

int probe_parse(struct json_object *body, struct probe_set **out, struct capsid_error *err)
{
	*out = NULL;
	struct json_object *probes, *v;
	if (!json_object_object_get_ex(body, "probes", &probes) || !probes)
		return 0;
	if (!json_object_is_type(probes, json_type_object))
		return capsid_error_set(err, EINVAL, "probes: not an object");
	struct probe_set *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return capsid_error_set(err, ENOMEM, "out of memory");
	ps->liveness.out_fd = ps->readiness.out_fd = -1;
	int rc = 0;
	if (json_object_object_get_ex(probes, "liveness", &v) && v)
		rc = parse_one(v, &ps->liveness, true, err);
	if (rc >= 0 && json_object_object_get_ex(probes, "readiness", &v) && v)
		rc = parse_one(v, &ps->readiness, false, err);
	if (rc < 0) {
		probe_free(ps);
		return rc;
	}
	*out = ps;
	return 0;
}

/* ---- the probe processes ------------------------------------------------------ */

struct creds {
	uid_t uid;
	gid_t gid;
	gid_t groups[64];
	size_t n_groups;
	uint64_t bnd, prm, eff, inh;
	bool no_new_privs;
};

static int read_creds(pid_t pid, struct creds *c)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	unsigned long long x;
	unsigned a;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Uid: %u", &a) == 1)
			c->uid = a;
		else if (sscanf(line, "Gid: %u", &a) == 1)
			c->gid = a;
		else if (sscanf(line, "CapBnd: %llx", &x) == 1)
			c->bnd = x;
		else if (sscanf(line, "CapPrm: %llx", &x) == 1)
			c->prm = x;
		else if (sscanf(line, "CapEff: %llx", &x) == 1)
			c->eff = x;
		else if (sscanf(line, "CapInh: %llx", &x) == 1)
			c->inh = x;
		else if (sscanf(line, "NoNewPrivs: %u", &a) == 1)
			c->no_new_privs = a != 0;
		else if (!strncmp(line, "Groups:", 7)) {
			char *p = line + 7, *end;
			while (c->n_groups < ARRAY_SIZE(c->groups)) {
				unsigned long g = strtoul(p, &end, 10);
				if (end == p)
					break;
				c->groups[c->n_groups++] = (gid_t)g;
				p = end;
			}
		}
	}
	fclose(f);
	return 0;
}

/* The container's environment, NUL-separated in /proc/PID/environ. */
static char **read_environ(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	char *buf = NULL;
	size_t len = 0;
	if (util_read_file_at(AT_FDCWD, path, PROBE_ENVIRON_MAX, &buf, &len) < 0)
		return NULL;
	char **env = calloc(PROBE_ENV_MAX + 1, sizeof(*env));
	size_t n = 0;
	for (size_t i = 0; env && i < len && n < PROBE_ENV_MAX; i += strlen(buf + i) + 1)
		if (buf[i])
			env[n++] = buf + i;
	return env; /* buf lives as long as the process */
}

static int join_cgroup(pid_t pid)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	bool found = fgets(line, sizeof(line), f) && !strncmp(line, "0::/", 4);
	fclose(f);
	if (!found)
		return -ENOENT;
	line[strcspn(line, "\n")] = '\0';
	char procs[PATH_MAX];
	snprintf(procs, sizeof(procs), "/sys/fs/cgroup%s/cgroup.procs", line + 3);
	int fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = write(fd, "0", 1) == 1 ? 0 : -errno;
	close(fd);
	return rc;
}

static int set_caps(const struct creds *c)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {
	    {(uint32_t)c->eff, (uint32_t)c->prm, (uint32_t)c->inh},
	    {(uint32_t)(c->eff >> 32), (uint32_t)(c->prm >> 32), (uint32_t)(c->inh >> 32)},
	};
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

/* In the forked child: become a process of the container (its user,
 * capabilities, no_new_privs and seccomp filter), then run argv. Never
 * returns. */
static void exec_in_container(const char *name, pid_t pid, char *const argv[], int out_fd)
{
	static const char *const kinds[] = {"cgroup", "ipc", "uts", "net", "pid", "mnt"};
	struct creds c = {0};
	/* Read from its bundle before entering its mount namespace. */
	char config[PATH_MAX];
	struct capsid_error err = {0};
	_cleanup_free_ struct builtin_seccomp *filter = calloc(1, sizeof(*filter));
	if (!filter || container_path(config, sizeof(config), name, "config.json") < 0 ||
	    security_filter(config, filter, &err) < 0) {
		dprintf(out_fd, "the container's seccomp filter: %s", filter ? err.msg : strerror(ENOMEM));
		_exit(126);
	}
	char **env = read_environ(pid);
	int rc = read_creds(pid, &c);
	if (rc < 0 || !env) {
		dprintf(out_fd, "read the container's process: %s", strerror(rc < 0 ? -rc : ENOMEM));
		_exit(126);
	}
	if ((rc = join_cgroup(pid)) < 0) {
		dprintf(out_fd, "join the container's cgroup: %s", strerror(-rc));
		_exit(126);
	}
	int fds[ARRAY_SIZE(kinds)];
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, kinds[i]);
		if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			dprintf(out_fd, "open %s: %s", path, strerror(errno));
			_exit(126);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (setns(fds[i], 0) < 0) {
			dprintf(out_fd, "enter the container's %s namespace: %s", kinds[i], strerror(errno));
			_exit(126);
		}
	/* The pid namespace applies to children: the command runs in one. */
	pid_t child = fork();
	if (child < 0)
		_exit(126);
	if (child > 0) {
		int st;
		while (waitpid(child, &st, 0) < 0 && errno == EINTR)
			;
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (chdir("/") < 0 || setgroups(c.n_groups, c.groups) < 0 || setresgid(c.gid, c.gid, c.gid) < 0) {
		dprintf(out_fd, "take the container's groups: %s", strerror(errno));
		_exit(126);
	}
	for (int cap = 0; cap <= 63; cap++)
		if (!(c.bnd & (1ull << cap)))
			prctl(PR_CAPBSET_DROP, cap, 0, 0, 0); /* EINVAL past the kernel's last */
	prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
	/* As the runtimes order it: without no_new_privs the filter needs
	 * CAP_SYS_ADMIN, so it goes on before the user changes. */
	if (!c.no_new_privs && builtin_seccomp_install(filter, &err) < 0) {
		dprintf(out_fd, "%s", err.msg);
		_exit(126);
	}
	if (setresuid(c.uid, c.uid, c.uid) < 0 || set_caps(&c) < 0) {
		dprintf(out_fd, "take the container's user and capabilities: %s", strerror(errno));
		_exit(126);
	}
	if (c.no_new_privs &&
	    (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || builtin_seccomp_install(filter, &err) < 0)) {
		dprintf(out_fd, "no_new_privs and the seccomp filter: %s",
			err.msg[0] ? err.msg : strerror(errno));
		_exit(126);
	}
	environ = env;
	execvp(argv[0], argv);
	dprintf(out_fd, "exec %s: %s", argv[0], strerror(errno));
	_exit(127);
}

static void http_get(const struct probe *p, int out_fd)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_sec = p->timeout_s};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)p->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		dprintf(out_fd, "Get \"http://127.0.0.1:%u%s\": %s", p->port, p->path, strerror(errno));
		_exit(1);
	}
	bool has_host = false;
	for (size_t i = 0; i < p->n_headers; i++)
		has_host |= !strcasecmp(p->headers[i][0], "Host");
	dprintf(fd, "GET %s HTTP/1.1\r\n", p->path);
	if (!has_host)
		dprintf(fd, "Host: 127.0.0.1:%u\r\n", p->port);
	for (size_t i = 0; i < p->n_headers; i++)
		dprintf(fd, "%s: %s\r\n", p->headers[i][0], p->headers[i][1]);
	dprintf(fd, "User-Agent: capsid-probe/1\r\nAccept: */*\r\nConnection: close\r\n\r\n");
	char buf[256];
	size_t len = 0;
	while (len + 1 < sizeof(buf) && !memchr(buf, '\n', len)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	int code = 0;
	if (sscanf(buf, "HTTP/%*d.%*d %d", &code) != 1) {
		dprintf(out_fd, "Get \"http://127.0.0.1:%u%s\": no HTTP response", p->port, p->path);
		_exit(1);
	}
	if (code < 200 || code >= 400) {
		dprintf(out_fd, "HTTP probe failed with statuscode: %d", code);
		_exit(1);
	}
	_exit(0);
}

static int probe_start(const struct container *c, struct probe *p)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -errno;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int out = pipefd[1];
		fcntl(out, F_SETFL, 0);
		if (p->argv) {
			/* The command's output is the probe's message, as Kubernetes shows it. */
			int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
				_exit(126);
			exec_in_container(c->name, c->pid, p->argv, 2);
		}
		http_get(p, out);
	}
	close(pipefd[1]);
	p->pid = pid;
	p->out_fd = pipefd[0];
	p->reaped = p->timed_out = false;
	p->deadline_ms = util_now_ms() + (uint64_t)p->timeout_s * 1000;
	return 0;
}

/* ---- results -------------------------------------------------------------------- */

static void send_event(struct agent *a, const struct container *c, const struct probe *p, const char *event,
		       const char *message)
{
	if (a->version < 2)
		return; /* a host of protocol 1 knows no PROBE frame */
	struct json_object *o = json_object_new_object();
	if (!o)
		return;
	json_object_object_add(o, "container", json_object_new_string(c->name));
	json_object_object_add(o, "probe", json_object_new_string(p->liveness ? "liveness" : "readiness"));
	json_object_object_add(o, "event", json_object_new_string(event));
	if (message)
		json_object_object_add(o, "message", json_object_new_string(message));
	channel_send_json(a->ch, CAPSID_MSG_PROBE, 0, o);
}

static void probe_finished(struct agent *a, struct container *c, struct probe_set *ps, struct probe *p)
{
	char out[PROBE_MESSAGE_MAX] = "";
	ssize_t n = read(p->out_fd, out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	close(p->out_fd);
	p->out_fd = -1;
	p->pid = 0;
	/* One line of printable text. */
	for (char *s = out; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = *s == '\n' && !s[1] ? '\0' : ' ';
	bool ok = !p->timed_out && WIFEXITED(p->wstatus) && WEXITSTATUS(p->wstatus) == 0;
	if (ok) {
		p->failures = 0;
		if (++p->successes >= p->success_threshold && !p->liveness && !p->ready) {
			p->ready = true;
			send_event(a, c, p, "ready", NULL);
		}
		return;
	}
	p->successes = 0;
	p->failures++;
	char msg[PROBE_MESSAGE_MAX + 64];
	const char *kind = p->liveness ? "Liveness" : "Readiness";
	if (p->timed_out)
		snprintf(msg, sizeof(msg), "%s probe failed: timed out after %u s", kind, p->timeout_s);
	else if (out[0])
		snprintf(msg, sizeof(msg), "%s probe failed: %s", kind, out);
	else if (WIFEXITED(p->wstatus))
		snprintf(msg, sizeof(msg), "%s probe failed: exit code %d", kind, WEXITSTATUS(p->wstatus));
	else
		snprintf(msg, sizeof(msg), "%s probe failed: killed by signal %d", kind,
			 WTERMSIG(p->wstatus));
	send_event(a, c, p, "unhealthy", msg);
	if (p->failures < p->failure_threshold)
		return;
	if (p->liveness) {
		char why[128];
		snprintf(why, sizeof(why), "Container %s failed liveness probe, will be restarted", c->name);
		send_event(a, c, p, "killing", why);
		log_info(a, "%s", why);
		ps->stopped = true;
		if (c->pid > 0)
			kill(c->pid, SIGKILL);
	} else if (p->ready) {
		p->ready = false;
		send_event(a, c, p, "notReady", NULL);
	}
}

static bool container_live(struct agent *a, const struct container *c)
{
	const struct stream *s = agent_stream(a, c->stream);
	return c->state == CT_RUNNING && c->pid > 0 && s && !s->exited;
}

static void tick_one(struct agent *a, struct container *c, struct probe_set *ps, struct probe *p,
		     uint64_t now)
{
	if (!p->set)
		return;
	if (p->pid > 0) {
		if (p->reaped)
			probe_finished(a, c, ps, p);
		else if (now >= p->deadline_ms && !p->timed_out) {
			p->timed_out = true;
			kill(p->pid, SIGKILL);
		}
		if (p->pid > 0 || ps->stopped)
			return;
		p->next_ms = now + (uint64_t)p->period_s * 1000;
		return;
	}
	if (ps->stopped || !container_live(a, c))
		return;
	if (!p->next_ms)
		p->next_ms = ps->started_ms + (uint64_t)p->initial_delay_s * 1000;
	if (now < p->next_ms)
		return;
	if (probe_start(c, p) < 0) {
		log_warn(a, "probe of %s: cannot start: %s", c->name, strerror(errno));
		p->next_ms = now + (uint64_t)p->period_s * 1000;
	}
}

void probe_tick(struct agent *a)
{
	uint64_t now = util_now_ms();
	for (struct container *c = a->containers; c; c = c->next) {
		struct probe_set *ps = c->probes;
		if (!ps)
			continue;
		if (!ps->started_ms && container_live(a, c))
			ps->started_ms = now;
		if (!ps->started_ms)
			continue;
		if (!container_live(a, c))
			ps->stopped = true; /* in-flight probes finish; no new ones */
		tick_one(a, c, ps, &ps->liveness, now);
		tick_one(a, c, ps, &ps->readiness, now);
	}
}

static uint64_t next_of(const struct probe_set *ps, const struct probe *p)
{
	if (!p->set)
		return 0;
	if (p->pid > 0)
		return p->reaped ? 1 : p->deadline_ms;
	if (ps->stopped)
		return 0;
	return p->next_ms	? p->next_ms
	       : ps->started_ms ? ps->started_ms + (uint64_t)p->initial_delay_s * 1000
				: 0;
}

uint64_t probe_deadline(struct agent *a)
{
	uint64_t next = 0;
	for (struct container *c = a->containers; c; c = c->next) {
		struct probe_set *ps = c->probes;
		if (!ps)
			continue;
		if (!ps->started_ms) {
			if (container_live(a, c))
				return util_now_ms(); /* starts probing at the next round */
			continue;
		}
		uint64_t l = next_of(ps, &ps->liveness), r = next_of(ps, &ps->readiness);
		if (l && (!next || l < next))
			next = l;
		if (r && (!next || r < next))
			next = r;
	}
	return next;
}

bool probe_reaped(struct agent *a, pid_t pid, int wstatus)
{
	for (struct container *c = a->containers; c; c = c->next) {
		struct probe_set *ps = c->probes;
		struct probe *all[] = {ps ? &ps->liveness : NULL, ps ? &ps->readiness : NULL};
		for (size_t i = 0; i < 2; i++)
			if (all[i] && all[i]->pid == pid && !all[i]->reaped) {
				all[i]->reaped = true;
				all[i]->wstatus = wstatus;
				return true;
			}
	}
	return false;
}
