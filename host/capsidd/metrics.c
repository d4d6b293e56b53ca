/* capsidd's GET /metrics: the Prometheus text of the token's tenant's
 * groups only, rendered by libcapsid (capsid_metrics_render_groups).
 *
 * A render asks each group's monitor for a sample and may block for as
 * long as a monitor does not answer, so it runs in a child process of its
 * own that writes the text into a pipe; the loop reads the pipe like any
 * other descriptor and answers the parked connection at its end. At most
 * lim.max_scrapes renders run at once (then 429), each bounded by
 * lim.scrape_timeout_ms (then killed, 503). The base of the per-second
 * rates is kept per tenant in <root>/capsidd/metrics/t-<tenant>.json,
 * read and written by the child. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "capsidd.h"
#include "cleanup.h"
#include "store.h"
#include "util.h"

#define SCRAPE_MAX_BYTES (64u << 20)
/* A tenant's share of the renders: one whose groups answer slowly (or
 * never) leaves the other half to the others. */
#define SCRAPE_SHARE(s) (((s)->lim.max_scrapes + 1) / 2)

/* A tenant's group: libcapsid's name and ARM's. */
struct scrape_group {
	char *group;
	char labels[CD_MAX_FIELD * 3 + 64]; /* ,subscription="",resource_group="",container_group="" */
};

/* Each series of a group gets ARM's names of it as labels too, after its
 * group label (libcapsid writes that one first). Label values are ARM's
 * names, checked when the group was created: no quote or backslash. */
static char *relabel(const char *text, size_t len, const struct scrape_group *g, size_t n, size_t *out_len)
{
	size_t cap = len + 1, extra = 0;
	for (size_t i = 0; i < n; i++)
		extra = strlen(g[i].labels) > extra ? strlen(g[i].labels) : extra;
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	cap += (lines + 1) * extra;
	char *out = malloc(cap), *o = out;
	for (const char *p = text, *end = text + len; out && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl + 1 : end;
		const char *open = *p == '#' ? NULL : memchr(p, '{', (size_t)(stop - p));
		const struct scrape_group *hit = NULL;
		const char *after = NULL;
		if (open && (size_t)(stop - open) > 8 && !memcmp(open, "{group=\"", 8)) {
			const char *q = memchr(open + 8, '"', (size_t)(stop - open - 8));
			for (size_t i = 0; q && i < n && !hit; i++)
				if ((size_t)(q - open - 8) == strlen(g[i].group) &&
				    !memcmp(open + 8, g[i].group, (size_t)(q - open - 8)))
					hit = &g[i];
			after = q ? q + 1 : NULL;
		}
		if (hit) {
			memcpy(o, p, (size_t)(after - p));
			o += after - p;
			o = stpcpy(o, hit->labels);
			p = after;
		}
		memcpy(o, p, (size_t)(stop - p));
		o += stop - p;
		p = stop;
	}
	*out_len = out ? (size_t)(o - out) : 0;
	return out;
}

/* The child: render, then 'O' and the text, or 'E' and the error. */
static void scrape_child(const struct cd_server *s, const char *tenant, const struct scrape_group *groups,
			 size_t n, int fd)
{
	const char **names = calloc(n + 1, sizeof(*names));
	if (!names) {
		util_write_all(fd, "Eout of memory", 14);
		return;
	}
	for (size_t i = 0; i < n; i++)
		names[i] = groups[i].group;
	struct capsid_error err = {0};
	char dir[PATH_MAX + 16], state[PATH_MAX + CD_MAX_FIELD + 32];
	snprintf(dir, sizeof(dir), "%s/metrics", s->dir);
	snprintf(state, sizeof(state), "%s/t-%s.json", dir, tenant);
	struct capsid_metrics *m = capsid_metrics_new();
	if (!m) {
		util_write_all(fd, "Eout of memory", 14);
		return;
	}
	if (capsid_metrics_load(m, state, &err) < 0)
		memset(&err, 0, sizeof(err)); /* a bad base: rates start over */
	char *text = NULL;
	size_t len = 0;
	if (capsid_metrics_render_groups(&s->cfg, m, names, n, &text, &len, &err) < 0) {
		char msg[sizeof(err.msg) + 1];
		int k = snprintf(msg, sizeof(msg), "E%s", err.msg);
		util_write_all(fd, msg, (size_t)k < sizeof(msg) ? (size_t)k : sizeof(msg) - 1);
		capsid_metrics_free(m);
		return;
	}
	struct capsid_error serr = {0};
	if (util_mkdir_p(dir, 0700) < 0 || capsid_metrics_save(m, state, &serr) < 0)
		fprintf(stderr, "capsidd: metrics: %s\n",
			serr.msg[0] ? serr.msg : "cannot make the state directory");
	capsid_metrics_free(m);
	size_t out_len = 0;
	char *out = relabel(text, len, groups, n, &out_len);
	free(text);
	if (!out)
		util_write_all(fd, "Eout of memory", 14);
	else if (util_write_all(fd, "O", 1) == 0)
		util_write_all(fd, out, out_len);
	free(out);
}

/* A free slot; NULL with *mine the tenant's count when none or when the
 * tenant holds its share already. */
static struct cd_scrape *slot_free(struct cd_server *s, const char *tenant, unsigned *mine)
{
	struct cd_scrape *free_slot = NULL;
	*mine = 0;
	for (unsigned i = 0; i < s->lim.max_scrapes; i++) {
		struct cd_scrape *sc = &s->scrapes[i];
		if (!sc->pid && sc->fd < 0)
			free_slot = free_slot ? free_slot : sc;
		else if (!strcmp(sc->tenant, tenant))
			(*mine)++;
	}
	return *mine < SCRAPE_SHARE(s) ? free_slot : NULL;
}

static const char *rec_str(struct json_object *rec, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(rec, key, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : "";
}

/* The tenant's groups; NULL when they cannot be read. */
static struct scrape_group *tenant_groups(struct cd_server *s, const char *tenant, size_t *n)
{
	_cleanup_json_ struct json_object *recs = NULL;
	*n = 0;
	if (cd_record_list(s, tenant, NULL, NULL, &recs) < 0)
		return NULL;
	size_t total = json_object_array_length(recs);
	struct scrape_group *g = calloc(total + 1, sizeof(*g));
	for (size_t i = 0; g && i < total; i++) {
		struct json_object *rec = json_object_array_get_idx(recs, i);
		const char *name = rec_str(rec, "group");
		if (!util_name_valid(name) || !(g[*n].group = strdup(name)))
			continue;
		snprintf(g[*n].labels, sizeof(g[*n].labels),
			 ",subscription=\"%s\",resource_group=\"%s\",container_group=\"%s\"",
			 rec_str(rec, "subscription"), rec_str(rec, "resourceGroup"), rec_str(rec, "name"));
		(*n)++;
	}
	return g;
}

static void groups_free(struct scrape_group *g, size_t n)
{
	for (size_t i = 0; g && i < n; i++)
		free(g[i].group);
	free(g);
}

bool cd_metrics_handle(struct cd_server *s, struct cd_conn *c)
{
	const char *path = c->req.path;
	if (!path || strcmp(path, "/metrics") != 0)
		return false;
	if (strcmp(c->req.method, "GET") != 0) {
		cd_respond_error(s, c, 405, "MethodNotAllowed", NULL, "The method %s is not allowed here.",
				 c->req.method);
		return true;
	}
	unsigned mine;
	struct cd_scrape *sc = slot_free(s, c->token->tenant, &mine);
	if (!sc) {
		if (mine >= SCRAPE_SHARE(s))
			cd_respond_error(
			    s, c, 429, "TooManyRequests", NULL,
			    "%u metrics renders of this tenant are running; retry after a second.", mine);
		else
			cd_respond_error(s, c, 429, "TooManyRequests", NULL,
					 "%u metrics renders are running; retry after a second.",
					 s->lim.max_scrapes);
		return true;
	}
	size_t n = 0;
	struct scrape_group *groups = tenant_groups(s, c->token->tenant, &n);
	int fds[2] = {-1, -1};
	if (!groups || pipe2(fds, O_CLOEXEC) < 0) {
		groups_free(groups, n);
		cd_respond_error(s, c, 500, "InternalServerError", NULL, "cannot start the metrics render");
		return true;
	}
	pid_t pid = fork();
	if (pid == 0) {
		cd_child_detach(fds[1]);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null >= 0)
			dup2(null, 0);
		scrape_child(s, c->token->tenant, groups, n, fds[1]);
		_exit(0);
	}
	groups_free(groups, n);
	close(fds[1]);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = sc};
	if (pid < 0 || fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0 ||
	    epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fds[0], &ev) < 0) {
		if (pid > 0)
			kill(pid, SIGKILL); /* reaped by the loop */
		close(fds[0]);
		cd_respond_error(s, c, 500, "InternalServerError", NULL, "cannot start the metrics render");
		return true;
	}
	sc->pid = pid;
	sc->fd = fds[0];
	sc->len = 0;
	sc->deadline_ms = util_now_ms() + s->lim.scrape_timeout_ms;
	snprintf(sc->id, sizeof(sc->id), "scrape-%llu", ++s->scrape_seq);
	snprintf(sc->tenant, sizeof(sc->tenant), "%s", c->token->tenant);
	cd_conn_park(s, c, sc->id);
	/* The render's deadline answers first; the connection's own is later. */
	c->deadline_ms = sc->deadline_ms + 5000;
	return true;
}

/* The connection parked on the scrape, NULL when it hung up meanwhile. */
static struct cd_conn *scrape_conn(struct cd_server *s, const struct cd_scrape *sc)
{
	for (struct cd_conn *c = s->conns; c; c = c->next)
		if (c->state == CD_PARKED && strcmp(c->waiting_op, sc->id) == 0) {
			c->waiting_op[0] = '\0';
			c->state = CD_WRITING;
			return c;
		}
	return NULL;
}

static void scrape_end(struct cd_server *s, struct cd_scrape *sc, bool timed_out)
{
	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, sc->fd, NULL);
	close(sc->fd);
	sc->fd = -1;
	if (timed_out && sc->pid > 0) {
		kill(sc->pid, SIGKILL); /* the loop reaps it and frees the slot */
		/* What it may have been saving (util_write_file_atomic's temporary). */
		char tmp[PATH_MAX + CD_MAX_FIELD + 64];
		snprintf(tmp, sizeof(tmp), "%s/metrics/t-%s.json.tmp.%d", s->dir, sc->tenant, (int)sc->pid);
		unlink(tmp);
	}
	struct cd_conn *c = scrape_conn(s, sc);
	if (!c) {
		/* nobody to answer */
	} else if (timed_out) {
		cd_respond_error(s, c, 503, "ServiceUnavailable", NULL,
				 "The groups' metrics did not arrive within %u ms; retry later.",
				 s->lim.scrape_timeout_ms);
	} else if (sc->len == 0 || sc->buf[0] != 'O') {
		cd_respond_error(s, c, 500, "InternalServerError", NULL, "The metrics render failed: %.*s",
				 sc->len > 1 ? (int)(sc->len - 1 > 400 ? 400 : sc->len - 1) : 0,
				 sc->len > 1 ? sc->buf + 1 : "");
	} else {
		char reqid[33] = "0";
		cd_random_hex(reqid, 16);
		char *msg = NULL;
		int n =
		    asprintf(&msg,
			     "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
			     "x-ms-request-id: %s\r\nContent-Length: %zu\r\n%s\r\n",
			     reqid, sc->len - 1, c->close_after ? "Connection: close\r\n" : "");
		char *all = n < 0 ? NULL : realloc(msg, (size_t)n + sc->len - 1);
		if (!all) {
			free(msg);
			cd_respond_error(s, c, 500, "InternalServerError", NULL, "out of memory");
		} else {
			memcpy(all + n, sc->buf + 1, sc->len - 1);
			cd_respond_raw(s, c, all, (size_t)n + sc->len - 1, false);
			free(all);
		}
	}
	free(sc->buf);
	sc->buf = NULL;
	sc->len = sc->cap = 0;
}

bool cd_metrics_event(struct cd_server *s, void *p)
{
	struct cd_scrape *sc = NULL;
	for (unsigned i = 0; i < s->lim.max_scrapes && !sc; i++)
		if (p == &s->scrapes[i])
			sc = &s->scrapes[i];
	if (!sc)
		return false;
	if (sc->fd < 0)
		return true; /* ended earlier in this batch */
	for (;;) {
		if (sc->cap - sc->len < 65536) {
			size_t cap = sc->cap ? sc->cap * 2 : 131072;
			char *b = cap <= SCRAPE_MAX_BYTES + 65536 ? realloc(sc->buf, cap) : NULL;
			if (!b) {
				sc->len = 0; /* answered as a failed render */
				scrape_end(s, sc, false);
				if (sc->pid > 0)
					kill(sc->pid, SIGKILL);
				return true;
			}
			sc->buf = b;
			sc->cap = cap;
		}
		ssize_t r = read(sc->fd, sc->buf + sc->len, sc->cap - sc->len);
		if (r > 0) {
			sc->len += (size_t)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		scrape_end(s, sc, false); /* EOF: the child is done */
		return true;
	}
}

void cd_metrics_sweep(struct cd_server *s, uint64_t now_ms)
{
	for (unsigned i = 0; i < s->lim.max_scrapes; i++)
		if (s->scrapes[i].fd >= 0 && now_ms >= s->scrapes[i].deadline_ms)
			scrape_end(s, &s->scrapes[i], true);
}

void cd_metrics_reaped(struct cd_server *s, pid_t pid)
{
	for (unsigned i = 0; i < s->lim.max_scrapes; i++)
		if (s->scrapes[i].pid == pid)
			s->scrapes[i].pid = 0;
}

void cd_metrics_stop(struct cd_server *s)
{
	for (unsigned i = 0; i < s->lim.max_scrapes; i++) {
		if (s->scrapes[i].pid > 0)
			kill(s->scrapes[i].pid, SIGKILL);
		if (s->scrapes[i].fd >= 0)
			close(s->scrapes[i].fd);
	}
}
