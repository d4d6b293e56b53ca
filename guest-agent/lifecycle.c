#include "lifecycle.h"

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builtin/builtin.h"
#include "cleanup.h"
#include "container.h"
#include "probe.h"
#include "request.h"
#include "runtime.h"
#include "stream.h"

static bool job_succeeded(const struct job *j)
{
	if (j->inline_run)
		return j->err_len == 0; /* the exec pipe closed with nothing in it */
	return WIFEXITED(j->wstatus) && WEXITSTATUS(j->wstatus) == 0;
}

static struct reply pid_reply(pid_t pid)
{
	struct json_object *o = json_object_new_object();
	if (o)
		json_object_object_add(o, "pid", json_object_new_int(pid));
	return reply_ok(o);
}

void lifecycle_forget(struct agent *a, struct container *c)
{
	for (struct container **p = &a->containers; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	stream_close_child_ends(&c->child);
	probe_free(c->probes);
	free(c);
}

static size_t container_count(struct agent *a)
{
	size_t n = 0;
	for (struct container *c = a->containers; c; c = c->next)
		n++;
	return n;
}

static struct reply delete_finish(struct agent *a, struct container *c, const char *why);

/* `runtime delete --force`; its completion tears the files down, forgets
 * the container and answers `to`. A container the runtime never saw is
 * torn down at once. */
static struct reply start_delete_job(struct agent *a, struct container *c, const struct reply_to *to)
{
	if (!c->in_runtime)
		return delete_finish(a, c, "");
	struct capsid_error err = {0};
	const char *args[] = {"delete", "--force", c->name, NULL};
	struct job *j;
	if (runtime_job_start(a, JOB_DELETE, c->runtime, args, NULL, &j, &err) < 0)
		return reply_failed(&err);
	j->req = *to;
	snprintf(j->container, sizeof(j->container), "%s", c->name);
	c->state = CT_DELETING;
	c->busy = true;
	return reply_deferred();
}

/* Listening --console-socket for a tty process; path gets its name. */
static int console_socket(char path[108], const char *kind, const char *key, struct capsid_error *err)
{
	snprintf(path, 108, AGENT_SOCK_DIR "/%s-%s.sock", kind, key);
	return runtime_console_listen(path, err);
}

/* Start a runtime command for a stream: its stdio is the stream's pipes, or
 * (tty) the job's own and a console socket the pty master comes back on. */
static int start_stream_job(struct agent *a, enum job_kind kind, const char *runtime, const char **args,
			    size_t n, const char *name, struct stream *s, struct runtime_stdio *child,
			    const char *sock_kind, const char *sock_key, struct job **out,
			    struct capsid_error *err)
{
	char sock[108] = "", sock_arg[140];
	_cleanup_close_ int sock_fd = -1;
	if (s->tty) {
		sock_fd = console_socket(sock, sock_kind, sock_key, err);
		if (sock_fd < 0)
			return sock_fd;
		snprintf(sock_arg, sizeof(sock_arg), "--console-socket=%s", sock);
		args[n++] = sock_arg;
	}
	args[n++] = name;
	args[n] = NULL;
	int rc = runtime_job_start(a, kind, runtime, args, s->tty ? NULL : child, out, err);
	stream_close_child_ends(child);
	if (rc < 0) {
		if (sock[0])
			unlink(sock);
		return rc;
	}
	if (s->tty) {
		(*out)->console_fd = TAKE_FD(sock_fd);
		memcpy((*out)->console_path, sock, sizeof(sock));
	}
	(*out)->stream = s->id;
	snprintf((*out)->container, sizeof((*out)->container), "%s", name);
	return 0;
}

/* A tty process: its pty master comes back on the job's console socket. */
static void take_console(struct job *j, struct stream *s, char *why, size_t len)
{
	int master = runtime_console_take(j->console_fd);
	if (master < 0)
		snprintf(why, len, "receive the console: %s", strerror(-master));
	else
		stream_attach_pty(s, master, s->rows, s->cols);
}

struct reply lifecycle_create(struct agent *a, struct reply_to *to, struct json_object *body)
{
	struct capsid_error err = {0};
	struct request_create req;
	if (request_parse_create(body, &req, &err) < 0)
		return reply_failed(&err);
	reply_about_container(to, req.container);
	struct container *old = agent_container(a, req.container);
	if (old)
		return reply_error("a container of that name %s",
				   old->state == CT_DELETING ? "is being deleted" : "exists");
	if (container_count(a) >= AGENT_MAX_CONTAINERS)
		return reply_error("too many containers (%d)", AGENT_MAX_CONTAINERS);
	if (agent_stream(a, req.stream))
		return reply_error("stream %u is in use", req.stream);
	/* Each runtime has its own initramfs (runc's is bigger): say so
	 * rather than fail at START with the runtime's exec error. */
	if (!runtime_present(req.runtime))
		return reply_error("runtime %s is not in this guest's initramfs", req.runtime);
	struct container *c = calloc(1, sizeof(*c));
	if (!c)
		return reply_error("out of memory");
	c->child = (struct runtime_stdio){-1, -1, -1};
	if (probe_parse(body, &c->probes, &err) < 0 || container_prepare(a, &req, &err) < 0) {
		probe_free(c->probes);
		free(c);
		return reply_failed(&err);
	}
	snprintf(c->name, sizeof(c->name), "%s", req.container);
	snprintf(c->runtime, sizeof(c->runtime), "%s", req.runtime);
	snprintf(c->serial, sizeof(c->serial), "%s", req.serial);
	c->state = CT_CREATED;
	c->stream = req.stream;
	c->next = a->containers;
	a->containers = c;

	struct stream *s;
	if (stream_create(a, req.stream, c->name, true, req.proc.tty, req.proc.open_stdin, &c->child, &s,
			  &err) < 0) {
		container_teardown(a, c->name, c->serial);
		lifecycle_forget(a, c);
		return reply_failed(&err);
	}
	s->rows = req.proc.rows;
	s->cols = req.proc.cols;
	return reply_ok(NULL);
}

/* builtin without a terminal: the agent runs the container itself
 * (builtin_run_inline); the job ends when its program runs. */
static int start_inline(struct agent *a, struct container *c, struct stream *s, const char *bundle,
			struct job **out, struct capsid_error *err)
{
	const int stdio[3] = {c->child.in, c->child.out, c->child.err};
	uint64_t mark = reaped_mark(&a->reaped);
	pid_t pid;
	int exec_fd;
	int rc = builtin_run_inline(c->name, bundle, a->dev_filter_fd, stdio, &pid, &exec_fd, err);
	stream_close_child_ends(&c->child);
	if (rc < 0)
		return rc;
	struct job *j = runtime_job_inline(a, pid, exec_fd, mark);
	if (!j) {
		/* Its cgroup takes the process with it. */
		close(exec_fd);
		builtin_run_inline_failed(c->name);
		return capsid_error_errno(err, ENOMEM, "job");
	}
	j->stream = s->id;
	snprintf(j->container, sizeof(j->container), "%s", c->name);
	*out = j;
	return 0;
}

struct reply lifecycle_start(struct agent *a, struct reply_to *to, struct json_object *body)
{
	struct capsid_error err = {0};
	const char *name;
	if (request_parse_container(body, &name, &err) < 0)
		return reply_failed(&err);
	reply_about_container(to, name);
	struct container *c = agent_container(a, name);
	if (!c)
		return reply_error("no such container");
	struct stream *s = agent_stream(a, c->stream);
	if (c->state != CT_CREATED || c->in_runtime || !s)
		return reply_error("not in the created state");
	char bundle[PATH_MAX], pidfile[PATH_MAX];
	container_path(bundle, sizeof(bundle), c->name, NULL);
	container_path(pidfile, sizeof(pidfile), c->name, "pid");
	const char *args[10] = {"run", "--detach", "--bundle", bundle, "--pid-file", pidfile};
	struct job *j;
	/* From here on the runtime may hold state for it: delete goes through it. */
	c->in_runtime = true;
	int rc = strcmp(c->runtime, "builtin") == 0 && !s->tty
			 ? start_inline(a, c, s, bundle, &j, &err)
			 : start_stream_job(a, JOB_RUN, c->runtime, args, 6, c->name, s, &c->child, "c", c->name, &j,
					    &err);
	if (rc < 0) {
		c->in_runtime = false;
		return reply_failed(&err);
	}
	j->req = *to;
	c->state = CT_STARTING;
	c->busy = true;
	return reply_deferred();
}

/* The container's init process runs (or the runtime failed: the container
 * stays created without a process; the host deletes it). */
static struct reply run_done(struct agent *a, struct job *j, struct container *c, struct stream *s)
{
	c->busy = false;
	char pidfile[PATH_MAX], why[AGENT_ERRTEXT_MAX] = "";
	if (!s) {
		snprintf(why, sizeof(why), "stream lost");
	} else if (!job_succeeded(j)) {
		runtime_job_error(j, s->tty || j->inline_run ? -1 : s->err_fd, why, sizeof(why));
		if (j->inline_run)
			builtin_run_inline_failed(c->name);
	} else {
		container_path(pidfile, sizeof(pidfile), c->name, "pid");
		pid_t pid = j->pid;
		int rc = j->inline_run ? 0 : runtime_read_pid(pidfile, &pid);
		if (rc < 0) {
			snprintf(why, sizeof(why), "read pid file: %s", strerror(-rc));
		} else {
			c->pid = pid;
			stream_set_pid(a, s, pid, j->reaped_mark);
		}
		if (!why[0] && s->tty)
			take_console(j, s, why, sizeof(why));
	}
	if (why[0]) {
		if (c->pid > 0)
			kill(c->pid, SIGKILL);
		c->state = CT_CREATED;
		return reply_error("%s: %s", c->runtime, why);
	}
	c->state = CT_RUNNING;
	return pid_reply(c->pid);
}

struct reply lifecycle_exec(struct agent *a, struct reply_to *to, struct json_object *body)
{
	struct capsid_error err = {0};
	struct request_exec req;
	if (request_parse_exec(body, &req, &err) < 0)
		return reply_failed(&err);
	reply_about_container(to, req.container);
	struct container *c = agent_container(a, req.container);
	struct stream *main_stream = c ? agent_stream(a, c->stream) : NULL;
	if (!c || c->state != CT_RUNNING || !main_stream || main_stream->exited)
		return reply_error("%s", c ? "the container is not running" : "no such container");
	if (agent_stream(a, req.stream))
		return reply_error("stream %u is in use", req.stream);
	char leaf[64], procfile[PATH_MAX], pidfile[PATH_MAX];
	snprintf(leaf, sizeof(leaf), "exec-%u.json", req.stream);
	container_path(procfile, sizeof(procfile), c->name, leaf);
	snprintf(leaf, sizeof(leaf), "exec-%u.pid", req.stream);
	container_path(pidfile, sizeof(pidfile), c->name, leaf);
	if (container_write_exec(a, &req, procfile, &err) < 0)
		return reply_failed(&err);
	struct runtime_stdio child;
	struct stream *s;
	if (stream_create(a, req.stream, c->name, false, req.proc.tty, true, &child, &s, &err) < 0) {
		unlink(procfile);
		return reply_failed(&err);
	}
	s->rows = req.proc.rows;
	s->cols = req.proc.cols;
	/* Detached: the process becomes the agent's child once the runtime
	 * exits, so its real exit status (and signal) is known. */
	const char *args[10] = {"exec", "--process", procfile, "--detach", "--pid-file", pidfile};
	char key[16];
	snprintf(key, sizeof(key), "%u", req.stream);
	struct job *j;
	if (start_stream_job(a, JOB_EXEC, c->runtime, args, 6, c->name, s, &child, "e", key, &j, &err) < 0) {
		stream_destroy(a, s);
		unlink(procfile);
		return reply_failed(&err);
	}
	j->req = *to;
	return reply_deferred();
}

static struct reply exec_done(struct agent *a, struct job *j, struct container *c, struct stream *s)
{
	char leaf[64], path[PATH_MAX], why[AGENT_ERRTEXT_MAX] = "";
	snprintf(leaf, sizeof(leaf), "exec-%u.json", j->stream);
	container_path(path, sizeof(path), j->container, leaf);
	unlink(path);
	snprintf(leaf, sizeof(leaf), "exec-%u.pid", j->stream);
	container_path(path, sizeof(path), j->container, leaf);
	pid_t pid = 0;
	if (!s) {
		snprintf(why, sizeof(why), "stream lost");
	} else if (!job_succeeded(j)) {
		runtime_job_error(j, s->tty ? -1 : s->err_fd, why, sizeof(why));
	} else {
		int rc = runtime_read_pid(path, &pid);
		if (rc < 0)
			snprintf(why, sizeof(why), "read pid file: %s", strerror(-rc));
		if (!why[0] && s->tty)
			take_console(j, s, why, sizeof(why));
	}
	unlink(path);
	if (why[0]) {
		if (s) {
			if (pid > 0)
				kill(pid, SIGKILL);
			stream_destroy(a, s);
		}
		return reply_error("%s: %s", c ? c->runtime : "runtime", why);
	}
	stream_set_pid(a, s, pid, j->reaped_mark);
	return pid_reply(pid);
}

struct reply lifecycle_signal(struct agent *a, struct reply_to *to, struct json_object *body)
{
	struct capsid_error err = {0};
	struct request_signal req;
	if (request_parse_signal(body, &req, &err) < 0)
		return reply_failed(&err);
	struct stream *s = agent_stream(a, req.stream);
	if (!s || s->pid <= 0)
		return reply_error("no process for stream %u", req.stream);
	if (s->exited)
		return reply_error("the process of stream %u has exited", req.stream);
	struct container *c = s->main ? agent_container(a, s->container) : NULL;
	if (!c) {
		reply_about_stream(to, req.stream);
		if (kill(s->pid, req.signal) < 0)
			return reply_error("%s", strerror(errno));
		return reply_ok(NULL);
	}
	reply_about_container(to, c->name);
	char sig[16];
	snprintf(sig, sizeof(sig), "%d", req.signal);
	const char *args[] = {"kill", c->name, sig, NULL};
	struct job *j;
	if (runtime_job_start(a, JOB_KILL, c->runtime, args, NULL, &j, &err) < 0)
		return reply_failed(&err);
	j->req = *to;
	j->stream = req.stream;
	snprintf(j->container, sizeof(j->container), "%s", c->name);
	return reply_deferred();
}

struct reply lifecycle_delete(struct agent *a, struct reply_to *to, struct json_object *body)
{
	struct capsid_error err = {0};
	const char *name;
	if (request_parse_container(body, &name, &err) < 0)
		return reply_failed(&err);
	reply_about_container(to, name);
	struct container *c = agent_container(a, name);
	if (!c)
		return reply_error("no such container");
	if (c->busy)
		return reply_error("busy (%s in progress)", c->state == CT_DELETING ? "delete" : "start");
	return start_delete_job(a, c, to);
}

/* Tear the container's files down and forget it; why: the runtime's error. */
static struct reply delete_finish(struct agent *a, struct container *c, const char *why)
{
	/* A stream never started has no EXIT to send: drop it. A started one
	 * ends by itself when its killed process is reaped. */
	struct stream *s = agent_stream(a, c->stream);
	if (s && s->main && !s->forwarding && strcmp(s->container, c->name) == 0)
		stream_destroy(a, s);
	container_teardown(a, c->name, c->serial);
	struct reply r = why[0] ? reply_error("%s: %s", c->runtime, why) : reply_ok(NULL);
	lifecycle_forget(a, c);
	return r;
}

static struct reply delete_done(struct agent *a, struct job *j, struct container *c)
{
	char why[AGENT_ERRTEXT_MAX] = "";
	if (!job_succeeded(j))
		runtime_job_error(j, -1, why, sizeof(why));
	return delete_finish(a, c, why);
}

static struct reply kill_done(struct job *j)
{
	if (job_succeeded(j))
		return reply_ok(NULL);
	char why[AGENT_ERRTEXT_MAX];
	runtime_job_error(j, -1, why, sizeof(why));
	return reply_error("%s", why);
}

static struct reply job_result(struct agent *a, struct job *j, struct container *c, struct stream *s)
{
	if (j->kind != JOB_EXEC && j->kind != JOB_KILL && !c) {
		/* Cannot happen: busy containers are never forgotten. */
		log_error(a, "job for vanished container %s", j->container);
		return reply_error("the container vanished");
	}
	switch (j->kind) {
	case JOB_RUN:
		return run_done(a, j, c, s);
	case JOB_EXEC:
		return exec_done(a, j, c, s);
	case JOB_KILL:
		return kill_done(j);
	case JOB_DELETE:
		return delete_done(a, j, c);
	}
	return reply_error("unknown job kind %d", (int)j->kind);
}

void lifecycle_job_done(struct agent *a, struct job *j)
{
	struct stream *s = j->stream ? agent_stream(a, j->stream) : NULL;
	struct reply r = job_result(a, j, agent_container(a, j->container), s);
	bool started = r.status == REPLY_OK && (j->kind == JOB_RUN || j->kind == JOB_EXEC);
	reply_send(a, &j->req, &r);
	/* Output frames follow the answer that gave the process's pid. */
	if (started)
		stream_start_forwarding(a, s);
}
