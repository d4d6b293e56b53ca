/* containerd's task service (containerd.task.v2.Task) over libcapsid: a
 * task is a capsid group of one container booted from the task's rootfs;
 * its output reaches containerd's FIFOs from the group's logs, an exec runs
 * through capsid_group_exec, and the exit code is the group's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "github.com/containerd/containerd/api/events/task.pb-c.h"
#include "github.com/containerd/containerd/runtime/v2/task/shim.pb-c.h"
#include "image.h"
#include "shim.h"
#include "spec.h"
#include "util.h"

#define TASK_SERVICE "containerd.task.v2.Task"

static int pack(const void *msg, uint8_t **out, size_t *n)
{
	const ProtobufCMessage *m = msg;
	size_t len = protobuf_c_message_get_packed_size(m);
	*out = malloc(len ? len : 1);
	if (!*out)
		return -ENOMEM;
	*n = protobuf_c_message_pack(m, *out);
	return 0;
}

#define UNPACK(type, fn, var)                                                                                \
	__attribute__((cleanup(free_##fn))) type *var = fn##__unpack(NULL, len, req);                        \
	if (!var)                                                                                            \
	return capsid_error_set(err, EINVAL, "the %s is not a valid protobuf message", #type)

#define FREER(fn, type)                                                                                      \
	static void free_##fn(type **p)                                                                      \
	{                                                                                                    \
		if (*p)                                                                                      \
			fn##__free_unpacked(*p, NULL);                                                       \
	}
FREER(containerd__task__v2__create_task_request, Containerd__Task__V2__CreateTaskRequest)
FREER(containerd__task__v2__start_request, Containerd__Task__V2__StartRequest)
FREER(containerd__task__v2__delete_request, Containerd__Task__V2__DeleteRequest)
FREER(containerd__task__v2__exec_process_request, Containerd__Task__V2__ExecProcessRequest)
FREER(containerd__task__v2__state_request, Containerd__Task__V2__StateRequest)
FREER(containerd__task__v2__kill_request, Containerd__Task__V2__KillRequest)
FREER(containerd__task__v2__wait_request, Containerd__Task__V2__WaitRequest)
FREER(containerd__task__v2__pids_request, Containerd__Task__V2__PidsRequest)
FREER(containerd__task__v2__connect_request, Containerd__Task__V2__ConnectRequest)
FREER(containerd__task__v2__close_iorequest, Containerd__Task__V2__CloseIORequest)
FREER(containerd__task__v2__stats_request, Containerd__Task__V2__StatsRequest)
FREER(containerd__task__v2__resize_pty_request, Containerd__Task__V2__ResizePtyRequest)
FREER(containerd__task__v2__shutdown_request, Containerd__Task__V2__ShutdownRequest)

void shim_group_name(const char *ns, const char *id, char out[64])
{
	uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x9e3779b97f4a7c15ull;
	for (const char *p = ns; *p; p++)
		h1 = (h1 ^ (uint8_t)*p) * 0x100000001b3ull, h2 = (h2 ^ (uint8_t)*p) * 0x100000001b3ull;
	h1 = (h1 ^ '/') * 0x100000001b3ull, h2 = (h2 ^ '/') * 0x100000001b3ull;
	for (const char *p = id; *p; p++)
		h1 = (h1 ^ (uint8_t)*p) * 0x100000001b3ull, h2 = (h2 ^ (uint8_t)*p) * 0x100000001b3ull;
	snprintf(out, 64, "ctd-%016llx%08llx", (unsigned long long)h1, (unsigned long long)(h2 >> 32));
}

/* ---- the shim's records, under s->lock ---- */

static struct shim_task *task_find(struct shim *s, const char *id)
{
	for (struct shim_task *t = s->tasks; t; t = t->next)
		if (strcmp(t->id, id) == 0)
			return t;
	return NULL;
}

static struct shim_proc *proc_find(struct shim_task *t, const char *exec_id)
{
	if (!exec_id || !exec_id[0])
		return &t->init;
	for (struct shim_proc *p = t->execs; p; p = p->next)
		if (strcmp(p->exec_id, exec_id) == 0)
			return p;
	return NULL;
}

static void proc_clear(struct shim_proc *p)
{
	free(p->exec_id);
	free(p->stdin_path);
	free(p->stdout_path);
	free(p->stderr_path);
	for (size_t i = 0; i < p->argc; i++)
		free(p->argv[i]);
	free(p->argv);
}

static void task_free(struct shim_task *t)
{
	for (struct shim_proc *p = t->execs, *n; p; p = n) {
		n = p->next;
		proc_clear(p);
		free(p);
	}
	proc_clear(&t->init);
	json_object_put(t->oci);
	free(t->id);
	free(t->bundle);
	free(t->rootfs);
	free(t->image_ref);
	free(t);
}

static char *dup_nonempty(const char *s)
{
	return s && s[0] ? strdup(s) : NULL;
}

static uint32_t monitor_pid(struct shim *s, const struct shim_task *t)
{
	char path[PATH_MAX + 96];
	_cleanup_free_ char *buf = NULL;
	size_t len;
	snprintf(path, sizeof(path), "%s/groups/%s/monitor.pid", s->cfg.root, t->group);
	if (util_read_file_at(AT_FDCWD, path, 64, &buf, &len) < 0)
		return (uint32_t)getpid();
	long v = strtol(buf, NULL, 10);
	return v > 0 ? (uint32_t)v : (uint32_t)getpid();
}

static Google__Protobuf__Timestamp *stamp(const struct timespec *ts, Google__Protobuf__Timestamp *out)
{
	google__protobuf__timestamp__init(out);
	out->seconds = ts->tv_sec;
	out->nanos = (int32_t)ts->tv_nsec;
	return out;
}

/* The proc ended: record and announce it. Called without the lock. */
static void proc_exited(struct shim *s, struct shim_proc *p, int code)
{
	struct shim_task *t = p->task;
	pthread_mutex_lock(&s->lock);
	p->status = SHIM_STOPPED;
	p->exit_status = (uint32_t)code;
	clock_gettime(CLOCK_REALTIME, &p->exited_at);
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	Google__Protobuf__Timestamp ts;
	ev.container_id = t->id;
	ev.id = p->exec_id ? p->exec_id : t->id;
	ev.pid = monitor_pid(s, t);
	ev.exit_status = (uint32_t)code;
	ev.exited_at = stamp(&p->exited_at, &ts);
	shim_publish(s, "/tasks/exit", "containerd.events.TaskExit", &ev);
}

/* An output FIFO whose reader containerd opened before the call; without
 * a reader (the client went away) the output is dropped, never waited for. */
static int open_fifo(const char *path, int flags)
{
	if (!path)
		return -1;
	int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		shim_log("open %s: %s", path, strerror(errno));
		return -1;
	}
	util_set_nonblock(fd, 0);
	return fd;
}

/* ---- the init process: the group's logs to containerd's FIFOs ---- */

struct relay {
	int out, err;
};

static void relay_line(void *ud, const struct capsid_log_line *l)
{
	struct relay *r = ud;
	int fd = l->is_stderr && r->err >= 0 ? r->err : r->out;
	if (fd < 0)
		return;
	if (util_write_all(fd, l->text, l->len) == 0 && !l->partial)
		util_write_all(fd, "\n", 1);
}

static void *init_thread(void *arg)
{
	struct shim_proc *p = arg;
	struct shim_task *t = p->task;
	struct shim *s = t->shim;
	struct relay r = {open_fifo(p->stdout_path, O_WRONLY), open_fifo(p->stderr_path, O_WRONLY)};
	struct capsid_logs_opts lo = {.tail = -1, .follow = true, .on_line = relay_line, .ud = &r};
	struct capsid_error err = {0};
	int code = 255;
	if (t->pod_role == SHIM_POD_MEMBER) {
		code = shim_pod_follow(s, t, &lo, &err);
		if (code < 0) {
			shim_log("task %s: follow container %s of %s: %s", t->id, t->container, t->group, err.msg);
			code = 255;
		}
	} else if ((lo.container = t->pod_role == SHIM_POD_SANDBOX ? t->container : NULL),
		   capsid_group_logs(&s->cfg, t->group, &lo, &code, &err) < 0) {
		shim_log("task %s: follow group %s: %s", t->id, t->group, err.msg);
		code = 255;
	}
	shim_attach_end(s, p);
	if (r.out >= 0)
		close(r.out);
	if (r.err >= 0)
		close(r.err);
	proc_exited(s, p, code);
	return NULL;
}

/* ---- an exec: capsid_group_exec between containerd's FIFOs ---- */

static void *exec_thread(void *arg)
{
	struct shim_proc *p = arg;
	struct shim_task *t = p->task;
	struct shim *s = t->shim;
	int in = -1;
	struct shim_stdin *relay = NULL;
	if (p->stdin_path && shim_stdin_open(p->stdin_path, &relay, &in) < 0)
		shim_log("task %s exec %s: open %s: %s", t->id, p->exec_id, p->stdin_path, strerror(errno));
	pthread_mutex_lock(&s->lock);
	p->in = relay;
	if (relay && p->stdin_closed) /* CloseIO came before the relay */
		shim_stdin_close(relay);
	pthread_mutex_unlock(&s->lock);
	int out = open_fifo(p->stdout_path, O_WRONLY);
	int errfd = open_fifo(p->stderr_path, O_WRONLY);
	struct capsid_exec_opts eo = {
	    .container = t->container,
	    .argv = p->argv,
	    .argc = p->argc,
	    .tty = p->terminal,
	    .rows = 24,
	    .cols = 80,
	    .in_fd = in,
	    .out_fd = out >= 0 ? out : errfd,
	    .err_fd = errfd >= 0 ? errfd : out,
	    .tty_fd = -1,
	};
	struct capsid_error err = {0};
	int code = 255;
	if (capsid_group_exec(&s->cfg, t->group, &eo, &code, &err) < 0) {
		shim_log("task %s exec %s: %s", t->id, p->exec_id, err.msg);
		if (errfd >= 0 || out >= 0) {
			util_write_all(errfd >= 0 ? errfd : out, err.msg, strlen(err.msg));
			util_write_all(errfd >= 0 ? errfd : out, "\n", 1);
		}
		code = 126;
	}
	if (in >= 0)
		close(in);
	pthread_mutex_lock(&s->lock);
	p->in = NULL;
	pthread_mutex_unlock(&s->lock);
	shim_stdin_free(relay);
	if (out >= 0)
		close(out);
	if (errfd >= 0)
		close(errfd);
	proc_exited(s, p, code);
	return NULL;
}

/* ---- the methods ---- */

static int task_create(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
		       struct capsid_error *err)
{
	struct shim *s = ctx;
	UNPACK(Containerd__Task__V2__CreateTaskRequest, containerd__task__v2__create_task_request, r);
	if (!r->id[0] || !r->bundle[0])
		return capsid_error_set(err, EINVAL, "Create: id and bundle are required");
	if (r->checkpoint[0])
		return capsid_error_set(err, ENOTSUP, "Create: checkpoints are not supported by capsid");
	pthread_mutex_lock(&s->lock);
	bool exists = task_find(s, r->id) != NULL, busy = s->tasks != NULL;
	pthread_mutex_unlock(&s->lock);
	if (exists)
		return capsid_error_set(err, EEXIST, "task %s already exists", r->id);
	struct shim_task *t = calloc(1, sizeof(*t));
	if (!t)
		return capsid_error_set(err, ENOMEM, "out of memory");
	t->shim = s;
	t->init.task = t;
	t->init.status = SHIM_CREATED;
	t->init.terminal = r->terminal;
	t->id = strdup(r->id);
	t->bundle = strdup(r->bundle);
	t->init.stdin_path = dup_nonempty(r->stdin);
	t->init.stdout_path = dup_nonempty(r->stdout);
	t->init.stderr_path = dup_nonempty(r->stderr);
	shim_group_name(s->o.ns, r->id, t->group);
	int rc = !t->id || !t->bundle ? capsid_error_set(err, ENOMEM, "out of memory") : 0;
	if (rc == 0)
		rc = shim_spec_load(t, err);
	if (rc == 0)
		rc = shim_pod_classify(s, t, err);
	if (rc == 0 && busy && t->pod_role != SHIM_POD_MEMBER)
		rc = capsid_error_set(err, ENOTSUP,
				      "task %s: this shim already runs a pod; a container joins it only with the "
				      "annotations io.kubernetes.cri.container-type=container and "
				      "io.kubernetes.cri.sandbox-id",
				      r->id);
	if (rc == 0)
		rc = shim_rootfs_prepare(s, t, (void *const *)r->rootfs, r->n_rootfs, err);
	if (rc < 0) {
		if (t->rootfs)
			shim_rootfs_release(t->bundle);
		task_free(t);
		return rc;
	}
	pthread_mutex_lock(&s->lock);
	t->next = s->tasks;
	s->tasks = t;
	pthread_mutex_unlock(&s->lock);

	Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
	Containerd__Events__TaskIO io = CONTAINERD__EVENTS__TASK_IO__INIT;
	ev.container_id = t->id;
	ev.bundle = t->bundle;
	ev.n_rootfs = r->n_rootfs;
	ev.rootfs = r->rootfs;
	io.stdin = r->stdin;
	io.stdout = r->stdout;
	io.stderr = r->stderr;
	io.terminal = r->terminal;
	ev.io = &io;
	ev.pid = (uint32_t)getpid();
	shim_publish(s, "/tasks/create", "containerd.events.TaskCreate", &ev);
	Containerd__Task__V2__CreateTaskResponse out = CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
	out.pid = (uint32_t)getpid();
	return pack(&out, resp, resp_len);
}

static int start_init(struct shim *s, struct shim_task *t, struct capsid_error *err)
{
	_cleanup_(spec_freep) struct spec_group *spec = NULL;
	int rc = shim_spec_build(t, &spec, err);
	if (rc < 0)
		return rc;
	struct capsid_pull_opts pull = {.policy = "never"};
	struct capsid_create_opts co = {.spec = spec, .pull = &pull};
	rc = capsid_group_create(&s->cfg, &co, err);
	if (rc < 0)
		return capsid_error_prefix(err, "start task %s (group %s)", t->id, t->group);
	return 0;
}

static int task_start(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
		      struct capsid_error *err)
{
	struct shim *s = ctx;
	UNPACK(Containerd__Task__V2__StartRequest, containerd__task__v2__start_request, r);
	pthread_mutex_lock(&s->lock);
	struct shim_task *t = task_find(s, r->id);
	struct shim_proc *p = t ? proc_find(t, r->exec_id) : NULL;
	bool ok = p && p->status == SHIM_CREATED;
	if (ok)
		p->status = SHIM_RUNNING; /* claimed: a second Start fails */
	pthread_mutex_unlock(&s->lock);
	if (!p)
		return capsid_error_set(err, ENOENT, "task %s%s%s not found", r->id,
					r->exec_id[0] ? " exec " : "", r->exec_id);
	if (!ok)
		return capsid_error_set(err, EBUSY, "task %s: already started", r->id);
	int rc = 0;
	if (p == &t->init)
		rc = t->pod_role == SHIM_POD_MEMBER ? shim_pod_join(s, t, err) : start_init(s, t, err);
	if (rc == 0 && p == &t->init)
		shim_attach_start(s, p);
	if (rc == 0)
		rc = -pthread_create(&p->thread, NULL, p == &t->init ? init_thread : exec_thread, p);
	if (rc < 0) {
		if (p == &t->init)
			shim_attach_end(s, p);
		if (!err->msg[0])
			capsid_error_errno(err, -rc, "start a thread");
		pthread_mutex_lock(&s->lock);
		p->status = SHIM_CREATED;
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	p->thread_started = true;
	uint32_t pid = monitor_pid(s, t);
	if (p == &t->init) {
		Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;
		ev.container_id = t->id;
		ev.pid = pid;
		shim_publish(s, "/tasks/start", "containerd.events.TaskStart", &ev);
	} else {
		Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;
		ev.container_id = t->id;
		ev.exec_id = p->exec_id;
		ev.pid = pid;
		shim_publish(s, "/tasks/exec-started", "containerd.events.TaskExecStarted", &ev);
	}
	Containerd__Task__V2__StartResponse out = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
	out.pid = pid;
	return pack(&out, resp, resp_len);
}

static int task_delete(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
		       struct capsid_error *err)
{
	struct shim *s = ctx;
	UNPACK(Containerd__Task__V2__DeleteRequest, containerd__task__v2__delete_request, r);
	pthread_mutex_lock(&s->lock);
	struct shim_task *t = task_find(s, r->id);
	struct shim_proc *p = t ? proc_find(t, r->exec_id) : NULL;
	enum shim_status st = p ? p->status : 0;
	pthread_mutex_unlock(&s->lock);
	if (!p)
		return capsid_error_set(err, ENOENT, "task %s%s%s not found", r->id,
					r->exec_id[0] ? " exec " : "", r->exec_id);
	if (st == SHIM_RUNNING)
		return capsid_error_set(err, EBUSY, "task %s is running: kill it first", r->id);
	Containerd__Task__V2__DeleteResponse out = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts;
	out.pid = monitor_pid(s, t);
	out.exit_status = p->exit_status;
	out.exited_at = stamp(&p->exited_at, &ts);
	if (p != &t->init) {
		if (p->thread_started)
			pthread_join(p->thread, NULL);
		pthread_mutex_lock(&s->lock);
		for (struct shim_proc **pp = &t->execs; *pp; pp = &(*pp)->next)
			if (*pp == p) {
				*pp = p->next;
				break;
			}
		pthread_mutex_unlock(&s->lock);
		int rc = pack(&out, resp, resp_len);
		proc_clear(p);
		free(p);
		return rc;
	}
	int rc = t->pod_role == SHIM_POD_MEMBER
		     ? (t->init.thread_started ? capsid_group_remove_container(&s->cfg, t->group, t->container, err) : 0)
		     : capsid_group_delete(&s->cfg, t->group, err);
	if (t->pod_role == SHIM_POD_MEMBER && rc < 0 && (rc == -ESRCH || strstr(err->msg, "not found")))
		rc = -ENOENT; /* the sandbox's group went first: nothing of the container is left */
	if (rc < 0 && rc != -ENOENT)
		return capsid_error_prefix(err, "delete task %s (group %s)", t->id, t->group);
	capsid_error_clear(err);
	if (t->init.thread_started)
		pthread_join(t->init.thread, NULL);
	/* Execs end with the group; their threads touch t until then. */
	for (struct shim_proc *e = t->execs; e; e = e->next)
		if (e->thread_started)
			pthread_join(e->thread, NULL);
	shim_rootfs_release(t->bundle);
	Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
	ev.container_id = t->id;
	ev.id = t->id;
	ev.pid = out.pid;
	ev.exit_status = out.exit_status;
	ev.exited_at = out.exited_at;
	shim_publish(s, "/tasks/delete", "containerd.events.TaskDelete", &ev);
	rc = pack(&out, resp, resp_len);
	pthread_mutex_lock(&s->lock);
	for (struct shim_task **tp = &s->tasks; *tp; tp = &(*tp)->next)
		if (*tp == t) {
			*tp = t->next;
			break;
		}
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	task_free(t);
	return rc;
}

static int task_exec(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
		     struct capsid_error *err)
{
	struct shim *s = ctx;
	UNPACK(Containerd__Task__V2__ExecProcessRequest, containerd__task__v2__exec_process_request, r);
	if (!r->exec_id[0])
		return capsid_error_set(err, EINVAL, "Exec: exec_id is required");
	if (!r->spec)
		return capsid_error_set(err, EINVAL, "Exec: the process spec is missing");
	struct shim_proc *p = calloc(1, sizeof(*p));
	if (!p)
		return capsid_error_set(err, ENOMEM, "out of memory");
	int rc = shim_spec_exec_args(r->spec->value.data, r->spec->value.len, &p->argv, &p->argc,
				     &p->terminal, err);
	p->exec_id = strdup(r->exec_id);
	p->stdin_path = dup_nonempty(r->stdin);
	p->stdout_path = dup_nonempty(r->stdout);
	p->stderr_path = dup_nonempty(r->stderr);
	p->terminal = p->terminal || r->terminal;
	p->status = SHIM_CREATED;
	pthread_mutex_lock(&s->lock);
	struct shim_task *t = task_find(s, r->id);
	if (rc == 0 && !t)
		rc = capsid_error_set(err, ENOENT, "task %s not found", r->id);
	if (rc == 0 && proc_find(t, r->exec_id))
		rc = capsid_error_set(err, EEXIST, "task %s: exec %s already exists", r->id, r->exec_id);
	if (rc == 0 && t->init.status != SHIM_RUNNING)
		rc = capsid_error_set(err, EBUSY, "task %s is not running", r->id);
	if (rc == 0) {
		p->task = t;
		p->next = t->execs;
		t->execs = p;
	}
	pthread_mutex_unlock(&s->lock);
	if (rc < 0) {
		proc_clear(p);
		free(p);
		return rc;
	}
	Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
	ev.container_id = r->id;
	ev.exec_id = r->exec_id;
	shim_publish(s, "/tasks/exec-added", "containerd.events.TaskExecAdded", &ev);
	(void)resp;
	(void)resp_len;
	return 0;
}

static int task_state(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
		      struct capsid_error *err)
{
	struct shim *s = ctx;
	UNPACK(Containerd__Task__V2__StateRequest, containerd__task__v2__state_request, r);
	Containerd__Task__V2__StateResponse out = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts;
	pthread_mutex_lock(&s->lock);
	struct shim_task *t = task_find(s, r->id);
	struct shim_proc *p = t ? proc_find(t, r->exec_id) : NULL;
	int rc = 0;
	if (!p) {
		rc = capsid_error_set(err, ENOENT, "task %s%s%s not found", r->id,
				      r->exec_id[0] ? " exec " : "", r->exec_id);
	} else {
		out.id = t->id;
		out.exec_id = r->exec_id;
		out.bundle = t->bundle;
		out.status = (Containerd__V1__Types__Status)p->status;
		out.stdin = p->stdin_path ? p->stdin_path : (char *)"";
		out.stdout = p->stdout_path ? p->stdout_path : (char *)"";
		out.stderr = p->stderr_path ? p->stderr_path : (char *)"";
		out.terminal = p->terminal;
		out.exit_status = p->exit_status;
		if (p->status == SHIM_STOPPED)
			out.exited_at = stamp(&p->exited_at, &ts);
	}
	if (rc == 0) {
		pthread_mutex_unlock(&s->lock);
		out.pid = monitor_pid(s, t);
		pthread_mutex_lock(&s->lock);
		rc = pack(&out, resp, resp_len);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int task_kill(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
		     struct capsid_error *err)
{
	struct shim *s = ctx;
	(void)resp;
	(void)resp_len;
	UNPACK(Containerd__Task__V2__KillRequest, containerd__task__v2__kill_request, r);
	pthread_mutex_lock(&s->lock);
	struct shim_task *t = task_find(s, r->id);
	struct shim_proc *p = t ? proc_find(t, r->exec_id) : NULL;
	enum shim_status st = p ? p->status : 0;
	pthread_mutex_unlock(&s->lock);
	if (!p)
		return capsid_error_set(err, ENOENT, "task %s%s%s not found", r->id,
					r->exec_id[0] ? " exec " : "", r->exec_id);
	if (st == SHIM_STOPPED)
		return capsid_error_set(err, ENOENT, "task %s: process already finished", r->id);
	if (p != &t->init)
		return capsid_error_set(err, ENOTSUP, "task %s: signals to an exec are not supported", r->id);
	if (st == SHIM_CREATED) {
		proc_exited(s, p, 128 + (int)r->signal);
		return 0;
	}
	/* A task's signal goes to its container's main process, as runc sends
	 * it: the process may handle it and run on, and if it ends, its exit
	 * reaches containerd from the init's thread (the group's restart
	 * policy is Never). A sandbox's Kill is the pod's end: its group
	 * stops (SIGTERM, then SIGKILL after the stop timeout). So does a
	 * SIGKILL whose signal cannot be delivered (the agent does not
	 * answer): a KILL must end the task. */
	if (t->pod_role != SHIM_POD_SANDBOX) {
		int rc = capsid_group_signal_container(&s->cfg, t->group, t->container, (int)r->signal, err);
		if (rc == 0 || t->pod_role == SHIM_POD_MEMBER || r->signal != SIGKILL)
			return rc < 0 ? capsid_error_prefix(err, "kill task %s", t->id) : 0;
		shim_log("task %s: SIGKILL not delivered (%s): stopping group %s", t->id, err->msg, t->group);
		*err = (struct capsid_error){0};
	}
	int rc = capsid_group_stop(&s->cfg, t->group, err);
	return rc < 0 ? capsid_error_prefix(err, "kill task %s", t->id) : 0;
}

static int task_wait(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
		     struct capsid_error *err)
{
	struct shim *s = ctx;
	UNPACK(Containerd__Task__V2__WaitRequest, containerd__task__v2__wait_request, r);
	Containerd__Task__V2__WaitResponse out = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts;
	pthread_mutex_lock(&s->lock);
	struct shim_task *t = task_find(s, r->id);
	struct shim_proc *p = t ? proc_find(t, r->exec_id) : NULL;
	while (p && p->status != SHIM_STOPPED) {
		pthread_cond_wait(&s->changed, &s->lock);
		t = task_find(s, r->id);
		p = t ? proc_find(t, r->exec_id) : NULL;
	}
	int rc;
	if (!p) {
		rc = capsid_error_set(err, ENOENT, "task %s%s%s not found", r->id,
				      r->exec_id[0] ? " exec " : "", r->exec_id);
	} else {
		out.exit_status = p->exit_status;
		out.exited_at = stamp(&p->exited_at, &ts);
		rc = pack(&out, resp, resp_len);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int task_pids(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
		     struct capsid_error *err)
{
	struct shim *s = ctx;
	UNPACK(Containerd__Task__V2__PidsRequest, containerd__task__v2__pids_request, r);
	pthread_mutex_lock(&s->lock);
	struct shim_task *t = task_find(s, r->id);
	pthread_mutex_unlock(&s->lock);
	if (!t)
		return capsid_error_set(err, ENOENT, "task %s not found", r->id);
	/* The host sees one process per task: the monitor that owns its VM. */
	Containerd__V1__Types__ProcessInfo info = CONTAINERD__V1__TYPES__PROCESS_INFO__INIT;
	Containerd__V1__Types__ProcessInfo *list[1] = {&info};
	info.pid = monitor_pid(s, t);
	Containerd__Task__V2__PidsResponse out = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
	out.n_processes = 1;
	out.processes = list;
	return pack(&out, resp, resp_len);
}

static int task_connect(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
			struct capsid_error *err)
{
	struct shim *s = ctx;
	UNPACK(Containerd__Task__V2__ConnectRequest, containerd__task__v2__connect_request, r);
	Containerd__Task__V2__ConnectResponse out = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
	out.shim_pid = (uint32_t)getpid();
	out.version = (char *)"capsid";
	pthread_mutex_lock(&s->lock);
	struct shim_task *t = task_find(s, r->id);
	pthread_mutex_unlock(&s->lock);
	out.task_pid = t ? monitor_pid(s, t) : 0;
	return pack(&out, resp, resp_len);
}

static void *exit_soon(void *arg)
{
	struct shim *s = arg;
	usleep(100 * 1000); /* lets the response go out */
	unlink(s->socket_path);
	_exit(0);
}

static int task_shutdown(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
			 struct capsid_error *err)
{
	struct shim *s = ctx;
	(void)resp;
	(void)resp_len;
	UNPACK(Containerd__Task__V2__ShutdownRequest, containerd__task__v2__shutdown_request, r);
	pthread_mutex_lock(&s->lock);
	bool idle = s->tasks == NULL;
	pthread_mutex_unlock(&s->lock);
	if (!idle)
		return 0; /* tasks remain: the shim stays */
	pthread_t th;
	if (pthread_create(&th, NULL, exit_soon, s) == 0)
		pthread_detach(th);
	return 0;
}

static int task_close_io(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
			 struct capsid_error *err)
{
	struct shim *s = ctx;
	(void)resp;
	(void)resp_len;
	UNPACK(Containerd__Task__V2__CloseIORequest, containerd__task__v2__close_iorequest, r);
	pthread_mutex_lock(&s->lock);
	struct shim_task *t = task_find(s, r->id);
	struct shim_proc *p = t ? proc_find(t, r->exec_id) : NULL;
	if (p && r->stdin) {
		p->stdin_closed = true;
		if (p->in)
			shim_stdin_close(p->in);
	}
	pthread_mutex_unlock(&s->lock);
	return p ? 0 : capsid_error_set(err, ENOENT, "task %s not found", r->id);
}

static int task_stats(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
		      struct capsid_error *err)
{
	struct shim *s = ctx;
	UNPACK(Containerd__Task__V2__StatsRequest, containerd__task__v2__stats_request, r);
	pthread_mutex_lock(&s->lock);
	struct shim_task *t = task_find(s, r->id);
	bool running = t && t->init.status == SHIM_RUNNING;
	pthread_mutex_unlock(&s->lock);
	if (!t)
		return capsid_error_set(err, ENOENT, "task %s not found", r->id);
	if (!running)
		return capsid_error_set(err, ENOENT, "task %s is not running", r->id);
	return shim_stats((long)monitor_pid(s, t), resp, resp_len, err);
}

static int task_resize_pty(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
			   struct capsid_error *err)
{
	/* The init's terminal follows; an exec's keeps the size it started with. */
	struct shim *s = ctx;
	(void)resp, (void)resp_len;
	UNPACK(Containerd__Task__V2__ResizePtyRequest, containerd__task__v2__resize_pty_request, r);
	pthread_mutex_lock(&s->lock);
	struct shim_task *t = task_find(s, r->id);
	struct shim_proc *p = t ? proc_find(t, r->exec_id) : NULL;
	if (p && p == &t->init && r->height > 0 && r->width > 0)
		shim_attach_resize(p, r->height, r->width);
	pthread_mutex_unlock(&s->lock);
	if (!p)
		return capsid_error_set(err, ENOENT, "task %s%s%s not found", r->id,
					r->exec_id[0] ? " exec " : "", r->exec_id);
	return 0;
}

#define NOT_IMPLEMENTED(name, why)                                                                           \
	static int task_##name(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,  \
			       struct capsid_error *err)                                                     \
	{                                                                                                    \
		(void)ctx, (void)req, (void)len, (void)resp, (void)resp_len;                                 \
		return capsid_error_set(err, ENOTSUP, "%s", why);                                            \
	}
NOT_IMPLEMENTED(pause, "Pause is not implemented by capsid")
NOT_IMPLEMENTED(resume, "Resume is not implemented by capsid")
NOT_IMPLEMENTED(checkpoint, "Checkpoint is not implemented by capsid")
NOT_IMPLEMENTED(update, "Update is not implemented by capsid: a VM's CPUs and memory are fixed when it boots")

const struct ttrpc_method shim_task_methods[] = {
    {TASK_SERVICE, "Create", task_create},
    {TASK_SERVICE, "Start", task_start},
    {TASK_SERVICE, "Delete", task_delete},
    {TASK_SERVICE, "Exec", task_exec},
    {TASK_SERVICE, "State", task_state},
    {TASK_SERVICE, "Kill", task_kill},
    {TASK_SERVICE, "Wait", task_wait},
    {TASK_SERVICE, "Pids", task_pids},
    {TASK_SERVICE, "Connect", task_connect},
    {TASK_SERVICE, "Shutdown", task_shutdown},
    {TASK_SERVICE, "CloseIO", task_close_io},
    {TASK_SERVICE, "ResizePty", task_resize_pty},
    {TASK_SERVICE, "Pause", task_pause},
    {TASK_SERVICE, "Resume", task_resume},
    {TASK_SERVICE, "Checkpoint", task_checkpoint},
    {TASK_SERVICE, "Update", task_update},
    {TASK_SERVICE, "Stats", task_stats},
};
const size_t shim_n_task_methods = sizeof(shim_task_methods) / sizeof(shim_task_methods[0]);
