#include "lifecycle.h"

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builtin.h"
#include "cleanup.h"
#include "container.h"
#include "process.h"
#include "request.h"
#include "runtime.h"

static bool job_succeeded(const struct job *j)
{
	if (j->inline_run)
		return j->err_len == 0; /* the exec pipe closed with nothing in it */
	return WIFEXITED(j->wstatus) && WEXITSTATUS(j->wstatus) == 0;
}

static void respond_pid(struct agent *a, uint32_t id, pid_t pid)
{
	struct json_object *o = json_object_new_object();
	if (o)
		json_object_object_add(o, "pid", json_object_new_int(pid));
	agent_respond(a, id, o);
}

void lifecycle_forget(struct agent *a, struct container *c)
{
	for (struct container **p = &a->containers; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	stream_close_child_ends(&c->child);
	free(c);
}

static size_t container_count(struct agent *a)
{
	size_t n = 0;
	for (struct container *c = a->containers; c; c = c->next)
		n++;
	return n;
}

static void delete_finish(struct agent *a, struct container *c, uint32_t req_id, const char *why);

/* `runtime delete --force`; its completion tears the files down and
 * forgets the container. req_id 0: nobody is answered. A container the
 * runtime never saw is torn down at once (and req_id answered). */
static int start_delete_job(struct agent *a, struct container *c, uint32_t req_id, struct capsid_error *err)
{
	if (!c->in_runtime) {
		delete_finish(a, c, req_id, "");
		return 0;
	}
	const char *args[] = {"delete", "--force", c->name, NULL};
	struct job *j;
	int rc = runtime_job_start(a, JOB_DELETE, c->runtime, args, NULL, &j, err);
	if (rc < 0)
		return rc;
	j->req_id = req_id;
	snprintf(j->container, sizeof(j->container), "%s", c->name);
	c->state = CT_DELETING;
	c->busy = true;
	return 0;
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

void lifecycle_create(struct agent *a, uint32_t id, struct json_object *body)
{
	struct capsid_error err = {0};
	struct request_create req;
	if (request_parse_create(body, &req, &err) < 0) {
		agent_respond_error(a, id, "create: %s", err.msg);
		return;
	}
	struct container *old = agent_container(a, req.container);
	if (old) {
		agent_respond_error(a, id, "create %s: a container of that name %s", req.container,
				    old->state == CT_DELETING ? "is being deleted" : "exists");
		return;
	}
	if (container_count(a) >= AGENT_MAX_CONTAINERS) {
		agent_respond_error(a, id, "create %s: too many containers (%d)", req.container,
				    AGENT_MAX_CONTAINERS);
		return;
	}
	if (agent_stream(a, req.stream)) {
		agent_respond_error(a, id, "create %s: stream %u is in use", req.container, req.stream);
		return;
	}
	/* Each runtime has its own initramfs (runc's is bigger): say so
	 * rather than fail at START with the runtime's exec error. */
	if (!runtime_present(req.runtime)) {
		agent_respond_error(a, id, "create %s: runtime %s is not in this guest's initramfs",
				    req.container, req.runtime);
		return;
	}
	struct container *c = calloc(1, sizeof(*c));
	if (!c) {
		agent_respond_error(a, id, "create %s: out of memory", req.container);
		return;
	}
	c->child = (struct runtime_stdio){-1, -1, -1};
	if (container_prepare(a, &req, &err) < 0) {
		free(c);
		agent_respond_error(a, id, "create %s: %s", req.container, err.msg);
		return;
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
		agent_respond_error(a, id, "create %s: %s", req.container, err.msg);
		return;
	}
	s->rows = req.proc.rows;
	s->cols = req.proc.cols;
	agent_respond(a, id, NULL);
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

void lifecycle_start(struct agent *a, uint32_t id, struct json_object *body)
{
	struct capsid_error err = {0};
	const char *name;
	if (request_parse_container(body, &name, &err) < 0) {
		agent_respond_error(a, id, "start: %s", err.msg);
		return;
	}
	struct container *c = agent_container(a, name);
	if (!c) {
		agent_respond_error(a, id, "start %s: no such container", name);
		return;
	}
	struct stream *s = agent_stream(a, c->stream);
	if (c->state != CT_CREATED || c->in_runtime || !s) {
		agent_respond_error(a, id, "start %s: not in the created state", name);
		return;
	}
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
		agent_respond_error(a, id, "start %s: %s", name, err.msg);
		return;
	}
	j->req_id = id;
	c->state = CT_STARTING;
	c->busy = true;
}

/* The container's init process runs (or the runtime failed: the container
 * stays created without a process; the host deletes it). */
static void run_done(struct agent *a, struct job *j, struct container *c, struct stream *s)
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
		agent_respond_error(a, j->req_id, "start %s: %s: %s", c->name, c->runtime, why);
		return;
	}
	c->state = CT_RUNNING;
	respond_pid(a, j->req_id, c->pid);
	stream_start_forwarding(a, s);
}

void lifecycle_exec(struct agent *a, uint32_t id, struct json_object *body)
{
	struct capsid_error err = {0};
	struct request_exec req;
	if (request_parse_exec(body, &req, &err) < 0) {
		agent_respond_error(a, id, "exec: %s", err.msg);
		return;
	}
	struct container *c = agent_container(a, req.container);
	struct stream *main_stream = c ? agent_stream(a, c->stream) : NULL;
	if (!c || c->state != CT_RUNNING || !main_stream || main_stream->exited) {
		agent_respond_error(a, id, "exec in %s: %s", req.container,
				    c ? "the container is not running" : "no such container");
		return;
	}
	if (agent_stream(a, req.stream)) {
		agent_respond_error(a, id, "exec in %s: stream %u is in use", req.container, req.stream);
		return;
	}
	char leaf[64], procfile[PATH_MAX], pidfile[PATH_MAX];
	snprintf(leaf, sizeof(leaf), "exec-%u.json", req.stream);
	container_path(procfile, sizeof(procfile), c->name, leaf);
	snprintf(leaf, sizeof(leaf), "exec-%u.pid", req.stream);
	container_path(pidfile, sizeof(pidfile), c->name, leaf);
	if (container_write_exec(a, &req, procfile, &err) < 0) {
		agent_respond_error(a, id, "exec in %s: %s", req.container, err.msg);
		return;
	}
	struct runtime_stdio child;
	struct stream *s;
	if (stream_create(a, req.stream, c->name, false, req.proc.tty, true, &child, &s, &err) < 0) {
		unlink(procfile);
		agent_respond_error(a, id, "exec in %s: %s", req.container, err.msg);
		return;
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
		agent_respond_error(a, id, "exec in %s: %s", req.container, err.msg);
		return;
	}
	j->req_id = id;
}

static void exec_done(struct agent *a, struct job *j, struct container *c, struct stream *s)
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
		agent_respond_error(a, j->req_id, "exec in %s: %s: %s", j->container,
				    c ? c->runtime : "runtime", why);
		if (s) {
			if (pid > 0)
				kill(pid, SIGKILL);
			stream_destroy(a, s);
		}
		return;
	}
	stream_set_pid(a, s, pid, j->reaped_mark);
	respond_pid(a, j->req_id, pid);
	stream_start_forwarding(a, s);
}

void lifecycle_signal(struct agent *a, uint32_t id, struct json_object *body)
{
	struct capsid_error err = {0};
	struct request_signal req;
	if (request_parse_signal(body, &req, &err) < 0) {
		agent_respond_error(a, id, "signal: %s", err.msg);
		return;
	}
	struct stream *s = agent_stream(a, req.stream);
	if (!s || s->pid <= 0) {
		agent_respond_error(a, id, "signal: no process for stream %u", req.stream);
		return;
	}
	if (s->exited) {
		agent_respond_error(a, id, "signal: the process of stream %u has exited", req.stream);
		return;
	}
	struct container *c = s->main ? agent_container(a, s->container) : NULL;
	if (!c) {
		if (kill(s->pid, req.signal) < 0)
			agent_respond_error(a, id, "signal stream %u: %s", req.stream, strerror(errno));
		else
			agent_respond(a, id, NULL);
		return;
	}
	char sig[16];
	snprintf(sig, sizeof(sig), "%d", req.signal);
	const char *args[] = {"kill", c->name, sig, NULL};
	struct job *j;
	if (runtime_job_start(a, JOB_KILL, c->runtime, args, NULL, &j, &err) < 0) {
		agent_respond_error(a, id, "signal %s: %s", c->name, err.msg);
		return;
	}
	j->req_id = id;
	j->stream = req.stream;
	snprintf(j->container, sizeof(j->container), "%s", c->name);
}

void lifecycle_delete(struct agent *a, uint32_t id, struct json_object *body)
{
	struct capsid_error err = {0};
	const char *name;
	if (request_parse_container(body, &name, &err) < 0) {
		agent_respond_error(a, id, "delete: %s", err.msg);
		return;
	}
	struct container *c = agent_container(a, name);
	if (!c) {
		agent_respond_error(a, id, "delete %s: no such container", name);
		return;
	}
	if (c->busy) {
		agent_respond_error(a, id, "delete %s: busy (%s in progress)", name,
				    c->state == CT_DELETING ? "delete" : "start");
		return;
	}
	if (start_delete_job(a, c, id, &err) < 0)
		agent_respond_error(a, id, "delete %s: %s", name, err.msg);
}

/* Tear the container's files down, answer req_id (0: nobody) and forget it. */
static void delete_finish(struct agent *a, struct container *c, uint32_t req_id, const char *why)
{
	/* A stream never started has no EXIT to send: drop it. A started one
	 * ends by itself when its killed process is reaped. */
	struct stream *s = agent_stream(a, c->stream);
	if (s && s->main && !s->forwarding && strcmp(s->container, c->name) == 0)
		stream_destroy(a, s);
	container_teardown(a, c->name, c->serial);
	if (req_id) {
		if (why[0])
			agent_respond_error(a, req_id, "delete %s: %s: %s", c->name, c->runtime, why);
		else
			agent_respond(a, req_id, NULL);
	} else if (why[0]) {
		log_warn(a, "delete %s: %s", c->name, why);
	}
	lifecycle_forget(a, c);
}

static void delete_done(struct agent *a, struct job *j, struct container *c)
{
	char why[AGENT_ERRTEXT_MAX] = "";
	if (!job_succeeded(j))
		runtime_job_error(j, -1, why, sizeof(why));
	delete_finish(a, c, j->req_id, why);
}

void lifecycle_job_done(struct agent *a, struct job *j)
{
	struct container *c = agent_container(a, j->container);
	struct stream *s = j->stream ? agent_stream(a, j->stream) : NULL;
	if (j->kind != JOB_EXEC && j->kind != JOB_KILL && !c) {
		/* Cannot happen: busy containers are never forgotten. */
		log_error(a, "job for vanished container %s", j->container);
		if (j->req_id)
			agent_respond_error(a, j->req_id, "%s: the container vanished", j->container);
		return;
	}
	switch (j->kind) {
	case JOB_RUN:
		run_done(a, j, c, s);
		break;
	case JOB_EXEC:
		exec_done(a, j, c, s);
		break;
	case JOB_KILL:
		if (job_succeeded(j)) {
			agent_respond(a, j->req_id, NULL);
		} else {
			char why[AGENT_ERRTEXT_MAX];
			runtime_job_error(j, -1, why, sizeof(why));
			agent_respond_error(a, j->req_id, "signal %s: %s", j->container, why);
		}
		break;
	case JOB_DELETE:
		delete_done(a, j, c);
		break;
	}
}
