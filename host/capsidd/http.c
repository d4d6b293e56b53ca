/* capsidd's HTTP/1.1 over TLS: one epoll loop, non-blocking sockets,
 * every connection bounded in bytes and in time, so a slow or hostile
 * client holds one slot and no one else's turn. */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capsidd.h"
#include "cleanup.h"
#include "http_parse.h"
#include "store.h"
#include "util.h"

#define PARKED_TIMEOUT_MS (15u * 60 * 1000)

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	util_vlog_stderr("capsidd", fmt, ap);
	va_end(ap);
}

void cd_child_detach(int keep)
{
	if (keep > 3)
		syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u);
	syscall(SYS_close_range, (unsigned)(keep >= 3 ? keep + 1 : 3), ~0u, 0u);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
}

static void conn_set_mask(struct cd_server *s, struct cd_conn *c, uint32_t mask)
{
	if (c->mask == mask)
		return;
	struct epoll_event ev = {.events = mask, .data.ptr = c};
	epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
	c->mask = mask;
}

static void conn_events(struct cd_server *s, struct cd_conn *c, bool want_out)
{
	conn_set_mask(s, c, want_out ? EPOLLOUT : EPOLLIN);
}

static void conn_free(struct cd_server *s, struct cd_conn *c)
{
	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->ssl) {
		if (c->state != CD_HANDSHAKE && c->state != CD_LINGER)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	free(c->in);
	free(c->out);
	free(c);
}

/* Hand the connection's socket and TLS state to whoever forked: the
 * parent forgets it without a word on the wire. */
void cd_conn_forget(struct cd_server *s, struct cd_conn *c)
{
	SSL_set_quiet_shutdown(c->ssl, 1);
	c->state = CD_HANDSHAKE; /* no close_notify */
	conn_free(s, c);
}

static const char *status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Status";
	}
}

static void conn_write(struct cd_server *s, struct cd_conn *c);

void cd_respond_raw(struct cd_server *s, struct cd_conn *c, const char *data, size_t len, bool close_after)
{
	free(c->out);
	c->out = malloc(len ? len : 1);
	if (!c->out) {
		conn_free(s, c);
		return;
	}
	memcpy(c->out, data, len);
	c->out_len = len;
	c->out_off = 0;
	c->close_after = c->close_after || close_after;
	c->state = CD_WRITING;
	c->deadline_ms = util_now_ms() + s->lim.write_timeout_ms;
	conn_write(s, c);
}

void cd_respond(struct cd_server *s, struct cd_conn *c, int status, const char *headers,
		struct json_object *body)
{
	size_t blen = 0;
	const char *btext = "";
	if (body)
		btext = json_object_to_json_string_length(
		    body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &blen);
	char reqid[33] = "0";
	cd_random_hex(reqid, 16);
	char *msg = NULL;
	int n = asprintf(&msg, "HTTP/1.1 %d %s\r\n%sx-ms-request-id: %s\r\nContent-Length: %zu\r\n%s%s\r\n%s",
			 status, status_text(status),
			 body ? "Content-Type: application/json; charset=utf-8\r\n" : "", reqid, blen,
			 c->close_after ? "Connection: close\r\n" : "", headers ? headers : "", btext);
	json_object_put(body);
	if (n < 0) {
		conn_free(s, c);
		return;
	}
	cd_respond_raw(s, c, msg, (size_t)n, false);
	free(msg);
}

void cd_respond_error(struct cd_server *s, struct cd_conn *c, int status, const char *code,
		      const char *target, const char *fmt, ...)
{
	char msg[CAPSID_ERROR_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct json_object *doc = json_object_new_object(), *e = json_object_new_object();
	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(msg));
	if (target)
		json_object_object_add(e, "target", json_object_new_string(target));
	json_object_object_add(doc, "error", e);
	const char *extra = NULL;
	if (status == 401)
		extra = "WWW-Authenticate: Bearer\r\n";
	else if (status == 429)
		extra = "Retry-After: 1\r\n";
	cd_respond(s, c, status, extra, doc);
}

/* ---- reading ---------------------------------------------------------------- */

static void request_reset(struct cd_conn *c)
{
	memset(&c->req, 0, sizeof(c->req));
	c->req.content_length = -1;
	c->head_len = 0;
}

static void dispatch(struct cd_server *s, struct cd_conn *c);

/* Look at what is buffered: a complete request is dispatched. */
static void conn_parse(struct cd_server *s, struct cd_conn *c)
{
	if (c->state != CD_READING)
		return;
	if (!c->head_len) {
		char *e = c->in_len >= 4 ? memmem(c->in, c->in_len, "\r\n\r\n", 4) : NULL;
		if (!e) {
			if (c->in_len >= CD_MAX_HEADER) {
				c->close_after = true;
				cd_respond_error(s, c, 431, "RequestHeaderFieldsTooLarge", NULL,
						 "The request's headers exceed %u bytes.", CD_MAX_HEADER);
			}
			return;
		}
		c->head_len = (size_t)(e - c->in) + 4;
		if (c->head_len > CD_MAX_HEADER) {
			c->close_after = true;
			cd_respond_error(s, c, 431, "RequestHeaderFieldsTooLarge", NULL,
					 "The request's headers exceed %u bytes.", CD_MAX_HEADER);
			return;
		}
		int st = cd_http_parse_head(c->in, c->head_len, &c->req);
		if (st) {
			c->close_after = true;
			cd_respond_error(s, c, st, st == 431 ? "RequestHeaderFieldsTooLarge" : "BadRequest",
					 NULL, "The request is not valid HTTP/1.1.");
			return;
		}
		if (c->req.chunked && c->req.content_length >= 0) {
			c->close_after = true;
			cd_respond_error(s, c, 400, "BadRequest", NULL,
					 "Content-Length and Transfer-Encoding together.");
			return;
		}
		if (c->req.content_length > (long long)s->lim.max_body) {
			c->close_after = true;
			cd_respond_error(s, c, 413, "RequestEntityTooLarge", NULL,
					 "The request body has %lld bytes; at most %zu are accepted.",
					 c->req.content_length, s->lim.max_body);
			return;
		}
		if (c->req.expect && strcasecmp(c->req.expect, "100-continue") == 0 &&
		    c->req.content_length > 0 && c->in_len == c->head_len) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			SSL_write(c->ssl, cont,
				  sizeof(cont) - 1); /* best effort: clients go on after a wait */
		}
	}
	if (c->req.chunked) {
		int rc =
		    cd_http_dechunk(c->in + c->head_len, c->in_len - c->head_len, s->lim.max_body, &c->req);
		if (rc == 0 && c->in_len >= CD_MAX_HEADER + s->lim.max_body)
			rc = -EFBIG; /* the framing itself would overflow the buffer */
		if (rc == 0)
			return;
		if (rc < 0) {
			c->close_after = true;
			if (rc == -EFBIG)
				cd_respond_error(s, c, 413, "RequestEntityTooLarge", NULL,
						 "The request body exceeds %zu bytes.", s->lim.max_body);
			else
				cd_respond_error(s, c, 400, "BadRequest", NULL,
						 "The chunked body is not valid.");
			return;
		}
		dispatch(s, c);
		return;
	}
	size_t want = c->req.content_length > 0 ? (size_t)c->req.content_length : 0;
	if (c->in_len - c->head_len < want)
		return;
	c->req.body = c->in + c->head_len;
	c->req.body_len = want;
	c->req.raw_len = want;
	dispatch(s, c);
}

static void conn_read(struct cd_server *s, struct cd_conn *c)
{
	size_t cap = CD_MAX_HEADER + s->lim.max_body, before = c->in_len;
	for (;;) {
		if (c->in_len >= cap)
			break;
		int n = SSL_read(c->ssl, c->in + c->in_len, (int)(cap - c->in_len));
		if (n > 0) {
			c->in_len += (size_t)n;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			break;
		if (e == SSL_ERROR_WANT_WRITE) {
			conn_events(s, c, true);
			return;
		}
		ERR_clear_error();
		conn_free(s, c);
		return;
	}
	/* A request's deadline runs from its first byte: records that carry
	 * nothing (empty, or TLS's own) move no deadline. */
	if (before == 0 && c->in_len > 0)
		c->deadline_ms = util_now_ms() + s->lim.header_timeout_ms;
	conn_events(s, c, false);
	c->in[c->in_len] = '\0';
	conn_parse(s, c);
}

static void conn_next_request(struct cd_server *s, struct cd_conn *c)
{
	size_t used = c->head_len + c->req.raw_len;
	if (used > c->in_len)
		used = c->in_len;
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
	request_reset(c);
	c->state = CD_READING;
	c->deadline_ms = util_now_ms() + (c->in_len ? s->lim.header_timeout_ms : s->lim.idle_timeout_ms);
	/* What TLS holds already, and what is buffered, is a request too. */
	conn_read(s, c);
}

#define LINGER_MS    2000
#define LINGER_BYTES (4u << 20)

static void conn_linger(struct cd_server *s, struct cd_conn *c)
{
	SSL_shutdown(c->ssl);
	shutdown(c->fd, SHUT_WR);
	c->state = CD_LINGER;
	c->in_len = 0; /* counts what is dropped */
	c->deadline_ms = util_now_ms() + LINGER_MS;
	conn_events(s, c, false);
}

static void conn_drain(struct cd_server *s, struct cd_conn *c)
{
	char buf[16384];
	ssize_t n;
	while ((n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		if ((c->in_len += (size_t)n) > LINGER_BYTES)
			break;
	if (n < 0 && (errno == EAGAIN || errno == EINTR) && c->in_len <= LINGER_BYTES)
		return;
	conn_free(s, c);
}

static void conn_write(struct cd_server *s, struct cd_conn *c)
{
	while (c->out_off < c->out_len) {
		int n = SSL_write(c->ssl, c->out + c->out_off, (int)(c->out_len - c->out_off));
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
			conn_events(s, c, e == SSL_ERROR_WANT_WRITE);
			return;
		}
		ERR_clear_error();
		conn_free(s, c);
		return;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	if (c->close_after) {
		conn_linger(s, c);
		return;
	}
	conn_next_request(s, c);
}

static void conn_handshake(struct cd_server *s, struct cd_conn *c)
{
	int n = SSL_accept(c->ssl);
	if (n == 1) {
		c->state = CD_READING;
		c->deadline_ms = util_now_ms() + s->lim.idle_timeout_ms;
		conn_read(s, c);
		return;
	}
	int e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		conn_events(s, c, e == SSL_ERROR_WANT_WRITE);
		return;
	}
	ERR_clear_error();
	conn_free(s, c);
}

static void conn_ready(struct cd_server *s, struct cd_conn *c)
{
	switch (c->state) {
	case CD_HANDSHAKE:
		conn_handshake(s, c);
		break;
	case CD_READING:
		conn_read(s, c);
		break;
	case CD_WRITING:
		conn_write(s, c);
		break;
	case CD_PARKED:
		break; /* only a hang-up wakes it: see the loop */
	case CD_LINGER:
		conn_drain(s, c);
		break;
	}
}

/* ---- authentication and rate limits ---------------------------------------- */

static struct cd_tenant *tenant_of(struct cd_server *s, const char *name)
{
	for (size_t i = 0; i < s->n_tenants; i++)
		if (strcmp(s->tenants[i].name, name) == 0)
			return &s->tenants[i];
	if (s->n_tenants == CD_MAX_TENANTS)
		return NULL;
	struct cd_tenant *t = &s->tenants[s->n_tenants++];
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->bucket = s->lim.rate_burst;
	t->last_ms = util_now_ms();
	return t;
}

void cd_rate_charge(struct cd_server *s, const char *tenant, double cost)
{
	struct cd_tenant *t = s->lim.rate_per_s ? tenant_of(s, tenant) : NULL;
	/* The bucket may go into debt: the next requests wait for it. */
	if (t)
		t->bucket -= cost;
}

static bool rate_ok(struct cd_server *s, const char *tenant)
{
	if (!s->lim.rate_per_s)
		return true;
	struct cd_tenant *t = tenant_of(s, tenant);
	if (!t)
		return false;
	uint64_t now = util_now_ms();
	t->bucket += (double)(now - t->last_ms) * s->lim.rate_per_s / 1000.0;
	if (t->bucket > s->lim.rate_burst)
		t->bucket = s->lim.rate_burst;
	t->last_ms = now;
	if (t->bucket < 1.0)
		return false;
	t->bucket -= 1.0;
	return true;
}

static void dispatch(struct cd_server *s, struct cd_conn *c)
{
	c->state = CD_WRITING; /* until answered: no reading */
	if (c->req.connection && strcasecmp(c->req.connection, "close") == 0)
		c->close_after = true;
	if (cd_ws_handle(s, c))
		return;
	const char *auth = c->req.authorization;
	const struct cd_token *tok = NULL;
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
		tok = cd_tokens_find(&s->tokens, auth + 7);
	if (!tok) {
		cd_respond_error(
		    s, c, 401, auth ? "InvalidAuthenticationToken" : "AuthenticationFailed", NULL,
		    auth ? "The access token is invalid." : "The 'Authorization' header is missing.");
		return;
	}
	if (!rate_ok(s, tok->tenant)) {
		cd_respond_error(s, c, 429, "TooManyRequests", NULL,
				 "The tenant's request rate is over %u per second; retry after a second.",
				 s->lim.rate_per_s);
		return;
	}
	c->token = tok;
	if (cd_metrics_handle(s, c))
		return;
	cd_arm_handle(s, c);
}

void cd_conn_park(struct cd_server *s, struct cd_conn *c, const char *op)
{
	c->state = CD_PARKED;
	snprintf(c->waiting_op, sizeof(c->waiting_op), "%s", op);
	c->deadline_ms = util_now_ms() + PARKED_TIMEOUT_MS;
	/* What the client sends meanwhile waits in the socket; a hang-up ends the wait. */
	conn_set_mask(s, c, EPOLLRDHUP);
}

/* ---- the loop ----------------------------------------------------------------- */

static void accept_all(struct cd_server *s)
{
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		int fd = accept4(s->listen_fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		uint32_t ip = sa.ss_family == AF_INET ? ((struct sockaddr_in *)&sa)->sin_addr.s_addr : 0;
		unsigned same = 0;
		for (struct cd_conn *o = s->conns; o; o = o->next)
			same += o->ip == ip;
		if (s->n_conns >= s->lim.max_conns || same >= s->lim.max_conns_per_ip) {
			close(fd);
			continue;
		}
		struct cd_conn *c = calloc(1, sizeof(*c));
		char *in = malloc(CD_MAX_HEADER + s->lim.max_body + 1);
		SSL *ssl = SSL_new(s->tls);
		if (!c || !in || !ssl || SSL_set_fd(ssl, fd) != 1) {
			free(c);
			free(in);
			SSL_free(ssl);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->ip = ip;
		c->in = in;
		c->ssl = ssl;
		c->state = CD_HANDSHAKE;
		c->deadline_ms = util_now_ms() + s->lim.header_timeout_ms;
		request_reset(c);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		c->mask = EPOLLIN;
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			SSL_free(ssl);
			free(in);
			free(c);
			close(fd);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->n_conns++;
	}
}

static void sweep(struct cd_server *s)
{
	uint64_t now = util_now_ms();
	struct cd_conn *next;
	for (struct cd_conn *c = s->conns; c; c = next) {
		next = c->next;
		if (now < c->deadline_ms)
			continue;
		if (c->state == CD_READING && c->in_len > 0) {
			c->close_after = true;
			c->state = CD_WRITING;
			cd_respond_error(s, c, 408, "RequestTimeout", NULL,
					 "The request did not arrive in time.");
		} else {
			conn_free(s, c);
		}
	}
	cd_metrics_sweep(s, now);
	for (size_t i = 0; i < CD_MAX_SESSIONS; i++)
		if (s->sessions[i].id[0] && now > s->sessions[i].expires_ms)
			memset(&s->sessions[i], 0, sizeof(s->sessions[i]));
}

void cd_http_op_ended(struct cd_server *s, const char *op)
{
	struct cd_conn *next;
	for (struct cd_conn *c = s->conns; c; c = next) {
		next = c->next;
		if (c->state == CD_PARKED && strcmp(c->waiting_op, op) == 0) {
			c->waiting_op[0] = '\0';
			c->state = CD_WRITING;
			cd_arm_op_answer(s, c, op);
		}
	}
}

static void reap(struct cd_server *s)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		cd_metrics_reaped(s, pid);
		for (size_t i = 0; i < s->lim.max_workers + CD_MAX_SESSIONS; i++) {
			struct cd_worker *w = &s->workers[i];
			if (w->pid != pid)
				continue;
			w->pid = 0;
			if (w->op[0]) {
				s->n_workers--;
				char op[sizeof(w->op)];
				memcpy(op, w->op, sizeof(op));
				w->op[0] = '\0';
				struct json_object *doc = NULL;
				enum cd_op_status st;
				if (cd_op_load(s, op, NULL, &doc, &st) == 0 && st == CD_OP_FAILED &&
				    !WIFEXITED(status))
					cd_op_finish(s->dir, op, 500, "InternalServerError",
						     "the operation's worker was killed");
				json_object_put(doc);
				cd_http_op_ended(s, op);
			}
			break;
		}
	}
}

static void on_signal(struct cd_server *s)
{
	struct signalfd_siginfo si;
	while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			reap(s);
		} else if (si.ssi_signo == SIGHUP) {
			struct capsid_error err = {0};
			if (cd_tokens_load(s->tokens_path, &s->tokens, &err) < 0)
				log_line("SIGHUP: %s (the old tokens stay)", err.msg);
			else
				log_line("SIGHUP: %zu tokens read from %s", s->tokens.n, s->tokens_path);
		} else {
			s->stopping = true;
		}
	}
}

int cd_http_run(struct cd_server *s, struct capsid_error *err)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->signal_fd < 0 || s->epoll_fd < 0 || s->timer_fd < 0)
		return capsid_error_errno(err, errno, "signalfd, epoll or timerfd");
	struct itimerspec its = {.it_interval = {.tv_nsec = 250000000}, .it_value = {.tv_nsec = 250000000}};
	timerfd_settime(s->timer_fd, 0, &its, NULL);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->listen_fd};
	epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &ev);
	ev.data.ptr = &s->signal_fd;
	epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->signal_fd, &ev);
	ev.data.ptr = &s->timer_fd;
	epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->timer_fd, &ev);
	reap(s);
	while (!s->stopping) {
		struct epoll_event evs[64];
		int n = epoll_wait(s->epoll_fd, evs, 64, -1);
		if (n < 0 && errno != EINTR)
			return capsid_error_errno(err, errno, "epoll_wait");
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &s->listen_fd) {
				accept_all(s);
			} else if (p == &s->signal_fd) {
				on_signal(s);
			} else if (p == &s->timer_fd) {
				uint64_t ticks;
				if (read(s->timer_fd, &ticks, sizeof(ticks)) > 0)
					sweep(s);
			} else if (cd_metrics_event(s, p)) {
				/* a render's pipe: read */
			} else {
				/* A connection freed earlier in this batch is not in it:
				 * conn_free removes it from epoll, and freed pointers
				 * are checked against the live list. */
				bool live = false;
				for (struct cd_conn *c = s->conns; c && !live; c = c->next)
					live = c == p;
				struct cd_conn *c = p;
				if (live && c->state == CD_PARKED &&
				    (evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
					conn_free(s, c);
				else if (live)
					conn_ready(s, c);
			}
		}
	}
	cd_metrics_stop(s);
	while (s->conns)
		conn_free(s, s->conns);
	return 0;
}
