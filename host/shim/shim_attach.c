/* The init's standard input and terminal: its container is created with
 * stdin (the task has a stdin FIFO) and tty (the task has a terminal),
 * and after Start an attach session (capsid_group_attach) takes what the
 * FIFO delivers (shim_io.c's relay: the client's end closing or CloseIO is
 * end of input) and ResizePty's sizes. The output needs nothing here: it
 * is the container's log, which init_thread copies to the FIFOs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

struct pump {
	struct shim_proc *p;
	int fd; /* the relay's pipe: the FIFO's bytes, then end of file */
};

static void *pump(void *arg)
{
	struct pump *pu = arg;
	char buf[16384];
	for (;;) {
		ssize_t n = read(pu->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || capsid_attach_write(pu->p->att, buf, (size_t)n) < 0)
			break;
	}
	capsid_attach_close_stdin(pu->p->att);
	close(pu->fd);
	free(pu);
	return NULL;
}

void shim_attach_start(struct shim *s, struct shim_proc *p)
{
	struct shim_task *t = p->task;
	if (!p->stdin_path && !p->terminal)
		return;
	struct capsid_error err = {0};
	struct capsid_attach *a = NULL;
	if (capsid_group_attach(&s->cfg, t->group, t->container, &a, &err) < 0) {
		shim_log("task %s: attach to its stdin: %s", t->id, err.msg);
		return;
	}
	pthread_mutex_lock(&s->lock);
	p->att = a;
	pthread_mutex_unlock(&s->lock);
	if (!p->stdin_path)
		return;
	struct pump *pu = calloc(1, sizeof(*pu));
	struct shim_stdin *relay = NULL;
	int rc = pu ? shim_stdin_open(p->stdin_path, &relay, &pu->fd) : -ENOMEM;
	if (rc < 0) {
		shim_log("task %s: open %s: %s", t->id, p->stdin_path, strerror(-rc));
		free(pu);
		capsid_attach_close_stdin(a);
		return;
	}
	pu->p = p;
	pthread_mutex_lock(&s->lock);
	p->in = relay;
	if (p->stdin_closed) /* ctr's empty stdin: CloseIO before Start */
		shim_stdin_close(relay);
	pthread_mutex_unlock(&s->lock);
	rc = pthread_create(&p->in_thread, NULL, pump, pu);
	if (rc == 0) {
		p->in_thread_started = true;
		return;
	}
	shim_log("task %s: stdin thread: %s", t->id, strerror(rc));
	close(pu->fd);
	free(pu);
	capsid_attach_close_stdin(a);
}

void shim_attach_end(struct shim *s, struct shim_proc *p)
{
	if (p->in_thread_started) {
		/* The relay's pipe ends, so the pump's read does. */
		pthread_mutex_lock(&s->lock);
		shim_stdin_close(p->in);
		pthread_mutex_unlock(&s->lock);
		pthread_join(p->in_thread, NULL);
		p->in_thread_started = false;
	}
	pthread_mutex_lock(&s->lock);
	struct shim_stdin *relay = p->in;
	struct capsid_attach *a = p->att;
	p->in = NULL;
	p->att = NULL;
	pthread_mutex_unlock(&s->lock);
	shim_stdin_free(relay);
	capsid_attach_free(a);
}

void shim_attach_resize(struct shim_proc *p, unsigned rows, unsigned cols)
{
	if (p->att && p->terminal)
		capsid_attach_resize(p->att, rows, cols);
}
