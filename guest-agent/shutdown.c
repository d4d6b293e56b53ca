#include "shutdown.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "container.h"
#include "init.h"
#include "lifecycle.h"
#include "request.h"
#include "runtime.h"
#include "stream.h"
#include "util.h"
#include "volume.h"

/* After SIGKILL, how long EXIT frames and pipe drains may take. */
#define KILL_GRACE_MS 3000
/* Per runtime delete at the end (runc takes ~1 s under TCG). */
#define DELETE_TIMEOUT_MS 10000

static void signal_all(struct agent *a, int sig)
{
	for (struct stream *s = a->streams; s; s = s->next) {
		if (s->pid <= 0 || s->exited)
			continue;
		/* A created, never started container has nothing to stop gently. */
		int this_sig = s->forwarding ? sig : SIGKILL;
		if (kill(s->pid, this_sig) < 0 && errno != ESRCH)
			log_warn(a, "kill stream %u: %s", s->id, strerror(errno));
	}
}

struct reply shutdown_begin(struct agent *a, const struct reply_to *to, struct json_object *body)
{
	struct capsid_error err = {0};
	unsigned timeout;
	if (request_parse_shutdown(body, &timeout, &err) < 0)
		return reply_failed(&err);
	if (a->shutdown.active)
		return reply_error("already in progress");
	log_info(a, "shutdown requested (timeout %u ms)", timeout);
	a->shutdown = (struct shutdown_state){
	    .active = true,
	    .req = *to,
	    .term_deadline_ms = util_now_ms() + timeout,
	};
	signal_all(a, SIGTERM);
	return reply_deferred();
}

uint64_t shutdown_deadline(const struct agent *a)
{
	if (!a->shutdown.active)
		return 0;
	return a->shutdown.killed ? a->shutdown.kill_deadline_ms : a->shutdown.term_deadline_ms;
}

static bool processes_alive(const struct agent *a)
{
	for (const struct stream *s = a->streams; s; s = s->next)
		if (s->pid > 0 && !s->exited)
			return true;
	return false;
}

static void finish(struct agent *a)
{
	/* Synchronous from here on: nothing else is left to serve. A runtime
	 * command still running after the grace period is stuck; its request
	 * is answered here so that none goes unanswered. */
	while (a->jobs) {
		struct job *j = a->jobs;
		if (!j->reaped)
			kill(j->pid, SIGKILL);
		struct reply r = reply_error("interrupted by the shutdown");
		reply_send(a, &j->req, &r);
		runtime_job_destroy(a, j);
	}
	while (a->containers) {
		struct container *c = a->containers;
		const char *args[] = {"delete", "--force", c->name, NULL};
		int st = c->in_runtime ? runtime_run_sync(a, c->runtime, args, DELETE_TIMEOUT_MS) : 0;
		if (st != 0)
			log_warn(a, "shutdown: delete %s failed (%d)", c->name, st);
		container_teardown(a, c->name, c->serial);
		lifecycle_forget(a, c);
	}
	volume_unmount_all(a);
	container_unmount_images(a);
	init_teardown(a);
	struct reply done = reply_ok(NULL);
	reply_send(a, &a->shutdown.req, &done);
	if (channel_flush_blocking(a->ch, 5000) < 0)
		log_warn(a, "shutdown: the host did not take the last frames");
	agent_poweroff(a, "shutdown requested");
}

void shutdown_step(struct agent *a)
{
	struct shutdown_state *sd = &a->shutdown;
	if (!sd->active)
		return;
	uint64_t now = util_now_ms();
	if (processes_alive(a)) {
		if (!sd->killed && now >= sd->term_deadline_ms) {
			log_info(a, "shutdown: killing what is left");
			signal_all(a, SIGKILL);
			sd->killed = true;
			sd->kill_deadline_ms = now + KILL_GRACE_MS;
		}
		if (!sd->killed || now < sd->kill_deadline_ms)
			return;
	}
	/* Every process is gone: wait (bounded) for the EXIT frames. */
	if (!sd->killed) {
		sd->killed = true;
		sd->kill_deadline_ms = now + KILL_GRACE_MS;
	}
	for (struct stream *s = a->streams; s; s = s->next)
		if (s->forwarding && !s->exit_sent && now < sd->kill_deadline_ms)
			return;
	/* Requests in flight (a DELETE sent just before SHUTDOWN) finish and
	 * are answered normally. */
	if (a->jobs && now < sd->kill_deadline_ms)
		return;
	finish(a);
}
