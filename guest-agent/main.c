/* capsid-agent: PID 1 of a capsid guest. Boots the guest (init.c), opens
 * the host channel, says HELLO and then serves requests from one poll()
 * loop until SHUTDOWN powers the guest off. It never exits: a fatal error
 * is logged and powers the guest off too (PID 1 exiting panics the kernel,
 * which tells the host nothing).
 *
 * Run outside a guest (not PID 1) for debugging, it skips the boot and
 * talks over `--channel PATH` (a pty or fifo pair is enough). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "channel.h"
#include "cleanup.h"
#include "dispatch.h"
#include "init.h"
#include "lifecycle.h"
#include "probe.h"
#include "runtime.h"
#include "shutdown.h"
#include "stream.h"
#include "util.h"

/* How long the virtio-serial port may take to appear after the modules. */
#define PORT_WAIT_MS 10000
/* Re-check an absent host this often even without SIGIO. */
#define RECONNECT_CHECK_MS 1000
/* Channel reads per loop round before other fds get a turn. */
#define READS_PER_ROUND 16

static void reap_children(struct agent *a)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			return;
		bool claimed = false;
		for (struct job *j = a->jobs; j && !claimed; j = j->next)
			if (j->pid == pid && !j->reaped && !j->inline_run) {
				j->reaped = true;
				j->wstatus = st;
				claimed = true;
			}
		for (struct stream *s = a->streams; s && !claimed; s = s->next)
			if (s->pid == pid && !s->exited) {
				stream_exited(a, s, st);
				claimed = true;
			}
		if (!claimed)
			claimed = probe_reaped(a, pid, st);
		if (!claimed) /* maybe a detached process whose pid file is not read yet */
			reaped_record(&a->reaped, pid, st);
	}
}

static void new_session(struct agent *a)
{
	/* A host (re)connected: whatever was queued belonged to a previous
	 * session, whose request ids mean nothing to this one. */
	log_debug(a, "host reconnected: new session");
	channel_discard_output(a->ch);
	a->negotiated = false;
	dispatch_hello(a);
}

static void handle_signals(struct agent *a)
{
	struct signalfd_siginfo si[16];
	ssize_t n = read(a->sig_fd, si, sizeof(si));
	bool child = false, io = false;
	for (ssize_t i = 0; i < n / (ssize_t)sizeof(si[0]); i++) {
		if (si[i].ssi_signo == SIGCHLD)
			child = true;
		else if (si[i].ssi_signo == SIGIO)
			io = true;
	}
	if (child)
		reap_children(a);
	if (io && channel_refresh(a->ch) == 1)
		new_session(a);
}

static void handle_frame(void *ctx, const struct frame *f)
{
	dispatch_frame(ctx, f);
}

static void handle_channel(struct agent *a)
{
	int got = channel_serve(a->ch, READS_PER_ROUND, handle_frame, a);
	if (got < 0) {
		log_warn(a, "malformed frame from the host (%s): input discarded", strerror(-got));
		dispatch_malformed(a, got);
		channel_resync(a->ch);
	}
}

/* What each pollfd slot is for. */
enum slot_kind { SLOT_CHANNEL, SLOT_SIGNAL, SLOT_OUT, SLOT_ERR, SLOT_IN, SLOT_JOB };

struct slot {
	enum slot_kind kind;
	void *obj;
};

struct pollset {
	struct pollfd *fds;
	struct slot *slots;
	size_t n, cap;
};

static int pollset_add(struct pollset *p, int fd, short events, enum slot_kind kind, void *obj)
{
	if (fd < 0 || events == 0)
		return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;
		struct pollfd *nf = realloc(p->fds, cap * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		p->fds = nf;
		struct slot *ns = realloc(p->slots, cap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		p->slots = ns;
		p->cap = cap;
	}
	p->fds[p->n] = (struct pollfd){.fd = fd, .events = events};
	p->slots[p->n] = (struct slot){kind, obj};
	p->n++;
	return 0;
}

static int build_pollset(struct agent *a, struct pollset *p)
{
	p->n = 0;
	int rc = pollset_add(p, a->sig_fd, POLLIN, SLOT_SIGNAL, NULL);
	rc |= pollset_add(p, channel_fd(a->ch), channel_poll_events(a->ch), SLOT_CHANNEL, NULL);
	/* Output waits while the host is behind: processes block on their
	 * pipes instead of the agent buffering without bound. */
	bool room = a->negotiated && channel_pending(a->ch) < AGENT_OUT_HIGH_WATER;
	for (struct stream *s = a->streams; s; s = s->next) {
		bool out = room && s->forwarding;
		short in_ev = s->in_buf.len > 0 ? POLLOUT : 0;
		if (s->tty) {
			rc |= pollset_add(p, s->out_fd, (short)((out ? POLLIN : 0) | in_ev), SLOT_OUT, s);
		} else {
			rc |= pollset_add(p, s->out_fd, out ? POLLIN : 0, SLOT_OUT, s);
			rc |= pollset_add(p, s->err_fd, out ? POLLIN : 0, SLOT_ERR, s);
			rc |= pollset_add(p, s->in_fd, in_ev, SLOT_IN, s);
		}
	}
	for (struct job *j = a->jobs; j; j = j->next)
		rc |= pollset_add(p, j->err_fd, POLLIN, SLOT_JOB, j);
	return rc;
}

static int poll_timeout(struct agent *a)
{
	uint64_t now = util_now_ms(), next = UINT64_MAX;
	for (struct stream *s = a->streams; s; s = s->next) {
		uint64_t d = stream_deadline(s);
		if (d && d < next)
			next = d;
	}
	uint64_t d = shutdown_deadline(a);
	if (d && d < next)
		next = d;
	d = probe_deadline(a);
	if (d && d < next)
		next = d;
	if (!channel_connected(a->ch) && now + RECONNECT_CHECK_MS < next)
		next = now + RECONNECT_CHECK_MS;
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}

static void handle_events(struct agent *a, struct pollset *p)
{
	for (size_t i = 0; i < p->n; i++) {
		short re = p->fds[i].revents;
		if (!re)
			continue;
		struct slot *sl = &p->slots[i];
		switch (sl->kind) {
		case SLOT_SIGNAL:
			handle_signals(a);
			break;
		case SLOT_CHANNEL:
			if (re & (POLLIN | POLLHUP | POLLERR))
				handle_channel(a);
			break;
		case SLOT_OUT: {
			struct stream *s = sl->obj;
			if ((re & POLLOUT) || (s->tty && (re & POLLERR)))
				stream_on_stdin_writable(a, s);
			if (re & (POLLIN | POLLHUP | POLLERR))
				stream_on_output(a, s, false);
			break;
		}
		case SLOT_ERR:
			stream_on_output(a, sl->obj, true);
			break;
		case SLOT_IN:
			stream_on_stdin_writable(a, sl->obj);
			break;
		case SLOT_JOB:
			runtime_job_read_err(sl->obj);
			break;
		}
	}
}

static void finish_work(struct agent *a)
{
	/* Jobs first: a finished create/exec makes its stream forward, and the
	 * stream's EXIT must follow the request's answer. */
	for (struct job *j = a->jobs, *next; j; j = next) {
		next = j->next;
		if (!(j->inline_run ? j->err_fd < 0 : j->reaped))
			continue;
		runtime_job_read_err(j);
		lifecycle_job_done(a, j);
		runtime_job_destroy(a, j);
		next = a->jobs; /* completions may add or remove jobs */
	}
	for (struct stream *s = a->streams, *next; s; s = next) {
		next = s->next;
		if (stream_try_finish(a, s))
			stream_destroy(a, s);
	}
	probe_tick(a);
	shutdown_step(a);
}

static int setup_signals(struct agent *a)
{
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGIO);
	/* PID 1 gets SIGINT on ctrl-alt-del and SIGTERM from nobody but could;
	 * both are read (and ignored) rather than killing the guest. */
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	a->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return a->sig_fd < 0 ? -errno : 0;
}

int main(int argc, char **argv)
{
	struct agent agent = {.sig_fd = -1, .kmsg_fd = -1, .console_fd = -1, .dev_filter_fd = -1};
	struct agent *a = &agent;
	struct capsid_error err = {0};
	a->pid1 = getpid() == 1;
	const char *channel_path = NULL;
	if (!a->pid1) {
		if (argc == 3 && strcmp(argv[1], "--channel") == 0) {
			channel_path = argv[2];
		} else {
			fprintf(stderr,
				"capsid-agent runs as PID 1 of a guest (debugging: --channel PATH)\n");
			return 2;
		}
		a->console_fd = STDERR_FILENO;
		snprintf(a->kernel, sizeof(a->kernel), "host");
	}
	uint64_t t0 = util_now_ms();
	if (a->pid1 && init_boot(a, &err) < 0) {
		log_error(a, "boot: %s", err.msg);
		agent_poweroff(a, "boot failed");
	}
	int rc = setup_signals(a);
	if (rc < 0) {
		log_error(a, "signals: %s", strerror(-rc));
		agent_poweroff(a, "boot failed");
	}
	rc = channel_path ? channel_open_path(&a->ch, channel_path, &err)
			  : channel_open(&a->ch, PORT_WAIT_MS, &err);
	if (rc < 0) {
		log_error(a, "host channel: %s", err.msg);
		agent_poweroff(a, "no host channel");
	}
	dispatch_hello(a);
	log_info(a, "ready in %llu ms (kernel %s)", (unsigned long long)(util_now_ms() - t0), a->kernel);

	struct pollset p = {0};
	for (;;) {
		channel_flush(a->ch);
		if (build_pollset(a, &p) < 0) {
			log_error(a, "poll set: out of memory");
			agent_poweroff(a, "out of memory");
		}
		int n = poll(p.fds, p.n, poll_timeout(a));
		if (n < 0 && errno != EINTR) {
			log_error(a, "poll: %s", strerror(errno));
			agent_poweroff(a, "event loop failed");
		}
		if (n > 0)
			handle_events(a, &p);
		if (!channel_connected(a->ch) && channel_refresh(a->ch) == 1)
			new_session(a);
		finish_work(a);
	}
}
