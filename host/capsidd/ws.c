/* exec and attach as ACI has them: a POST hands out a websocket URI and a
 * password; the websocket (RFC 6455) carries the password first, then
 * stdin and output frames. A resize is the text frame "\x1b[8;ROWS;COLSt"
 * (xterm's own resize sequence). Each websocket runs in a child process
 * of its own, which owns the connection's socket and TLS session. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "arm.h"
#include "cleanup.h"
#include "util.h"

#define SESSION_TTL_MS	60000
#define FRAME_WAIT_S	60 /* to finish a message once its first byte came */
#define PASSWORD_WAIT_S 10
#define WS_MAX_PAYLOAD	(64u << 10)
#define EXEC_MAX_WORDS	64

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : NULL;
}

static unsigned uint_of(struct json_object *o, const char *key, unsigned dflt)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return dflt;
	int64_t n = json_object_get_int64(v);
	return n >= 1 && n <= 1000 ? (unsigned)n : dflt;
}

void arm_exec(struct cd_server *s, struct cd_conn *c, struct arm_route *r, bool attach)
{
	_cleanup_json_ struct json_object *body = NULL;
	if (!attach) {
		struct json_tokener *tok = json_tokener_new_ex(8);
		if (tok && c->req.body_len)
			body = json_tokener_parse_ex(tok, c->req.body, (int)c->req.body_len);
		if (tok)
			json_tokener_free(tok);
		if (!body || !json_object_is_type(body, json_type_object) || !str_of(body, "command") ||
		    !*str_of(body, "command") ||
		    strlen(str_of(body, "command")) >= sizeof(s->sessions[0].command)) {
			cd_respond_error(
			    s, c, 400, "InvalidRequestContent", "command",
			    "The body must be {\"command\": \"...\", \"terminalSize\": {\"rows\", \"cols\"}} "
			    "with a command of 1-1023 characters.");
			return;
		}
	}
	_cleanup_json_ struct json_object *rec = arm_find_group(s, c, r);
	if (!rec)
		return;
	_cleanup_json_ struct json_object *doc = arm_group_doc(s, r, rec);
	struct json_object *props = NULL, *containers = NULL, *iv = NULL;
	json_object_object_get_ex(doc, "properties", &props);
	json_object_object_get_ex(props, "containers", &containers);
	json_object_object_get_ex(props, "instanceView", &iv);
	if (!arm_has_container(s, c, r, containers))
		return;
	if (!attach && strcmp(str_of(iv, "state") ?: "", "Running") != 0) {
		cd_respond_error(s, c, 409, "ContainerGroupNotRunning", NULL,
				 "The container group '%s' is not running.", r->name);
		return;
	}
	struct cd_session *ss = NULL;
	for (size_t i = 0; i < CD_MAX_SESSIONS && !ss; i++)
		if (!s->sessions[i].id[0])
			ss = &s->sessions[i];
	if (!ss) {
		cd_respond_error(s, c, 429, "TooManyRequests", NULL,
				 "Too many sessions are waiting to be opened.");
		return;
	}
	struct cd_session n = {0};
	if (cd_random_hex(n.id, 16) < 0 || cd_random_hex(n.password, 32) < 0) {
		cd_respond_error(s, c, 500, "InternalServerError", NULL, "no randomness");
		return;
	}
	snprintf(n.group, sizeof(n.group), "%s", r->group);
	snprintf(n.tenant, sizeof(n.tenant), "%s", r->tok->tenant);
	snprintf(n.container, sizeof(n.container), "%s", r->container);
	n.attach = attach;
	n.rows = 24;
	n.cols = 80;
	if (!attach) {
		snprintf(n.command, sizeof(n.command), "%s", str_of(body, "command"));
		struct json_object *ts;
		if (json_object_object_get_ex(body, "terminalSize", &ts)) {
			n.rows = uint_of(ts, "rows", 24);
			n.cols = uint_of(ts, "cols", 80);
		}
	}
	n.expires_ms = util_now_ms() + SESSION_TTL_MS;
	*ss = n;
	char path[64], url[512];
	snprintf(path, sizeof(path), "/exec-sessions/%s", n.id);
	arm_url(s, c, url, sizeof(url), path, NULL);
	memcpy(url, "wss", 3); /* https -> wss */
	memmove(url + 3, url + 5, strlen(url + 5) + 1);
	struct json_object *out = json_object_new_object();
	json_object_object_add(out, "webSocketUri", json_object_new_string(url));
	json_object_object_add(out, "password", json_object_new_string(n.password));
	cd_respond(s, c, 200, NULL, out);
}

/* ---- the session process -------------------------------------------------------- */

struct session {
	const struct cd_server *srv;
	struct cd_session ss;
	SSL *ssl;
	int fd;
	const char *pending; /* bytes read with the upgrade request */
	size_t pending_len;
	int in_w, out_r, out_w; /* stdin to the command; its output */
	int tty;		/* a pty master whose size the command's terminal follows */
	volatile sig_atomic_t resized, stop;
	int exit_code, rc;
	struct capsid_error err;
};

static int ws_read_exact(struct session *x, void *buf, size_t n)
{
	char *p = buf;
	while (n) {
		if (x->pending_len) {
			size_t k = n < x->pending_len ? n : x->pending_len;
			memcpy(p, x->pending, k);
			x->pending += k;
			x->pending_len -= k;
			p += k;
			n -= k;
			continue;
		}
		int got = SSL_read(x->ssl, p, (int)n);
		if (got <= 0)
			return -EPIPE;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

static int ws_send(struct session *x, int opcode, const void *data, size_t len)
{
	unsigned char h[10];
	size_t hl = 2;
	h[0] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		h[1] = (unsigned char)len;
	} else if (len < 65536) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		hl = 10;
	}
	if (SSL_write(x->ssl, h, (int)hl) != (int)hl)
		return -EPIPE;
	if (len && SSL_write(x->ssl, data, (int)len) != (int)len)
		return -EPIPE;
	return 0;
}

static void ws_close(struct session *x, unsigned code, const char *reason)
{
	char b[125];
	size_t rl = strlen(reason) > sizeof(b) - 2 ? sizeof(b) - 2 : strlen(reason);
	b[0] = (char)(code >> 8);
	b[1] = (char)code;
	memcpy(b + 2, reason, rl);
	ws_send(x, 8, b, rl + 2);
}

/* One frame from the client (masked, at most WS_MAX_PAYLOAD bytes). */
static int ws_recv(struct session *x, int *opcode, char **payload, size_t *len)
{
	unsigned char h[2];
	if (ws_read_exact(x, h, 2) < 0)
		return -EPIPE;
	*opcode = h[0] & 0x0f;
	uint64_t n = h[1] & 0x7f;
	if (!(h[1] & 0x80))
		return -EPROTO; /* clients mask */
	if (n == 126) {
		unsigned char e[2];
		if (ws_read_exact(x, e, 2) < 0)
			return -EPIPE;
		n = (uint64_t)e[0] << 8 | e[1];
	} else if (n == 127) {
		unsigned char e[8];
		if (ws_read_exact(x, e, 8) < 0)
			return -EPIPE;
		n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | e[i];
	}
	if (n > WS_MAX_PAYLOAD)
		return -EMSGSIZE;
	unsigned char mask[4];
	char *p = malloc(n + 1);
	if (!p)
		return -ENOMEM;
	if (ws_read_exact(x, mask, 4) < 0 || ws_read_exact(x, p, n) < 0) {
		free(p);
		return -EPIPE;
	}
	for (uint64_t i = 0; i < n; i++)
		p[i] = (char)(p[i] ^ mask[i & 3]);
	p[n] = '\0';
	*payload = p;
	*len = n;
	return 0;
}

static void attach_line(void *ud, const struct capsid_log_line *l)
{
	struct session *x = ud;
	util_write_all(x->out_w, l->text, l->len);
	if (!l->partial)
		util_write_all(x->out_w, "\n", 1);
}

static void *exec_thread(void *arg)
{
	struct session *x = arg;
	if (x->ss.attach) {
		struct capsid_logs_opts o = {.container = x->ss.container,
					     .tail = -1,
					     .follow = true,
					     .stop = &x->stop,
					     .on_line = attach_line,
					     .ud = x};
		x->rc = capsid_group_logs(&x->srv->cfg, x->ss.group, &o, &x->exit_code, &x->err);
	} else {
		char *words[EXEC_MAX_WORDS + 1];
		size_t n = 0;
		char *save = NULL;
		for (char *w = strtok_r(x->ss.command, " \t", &save); w && n < EXEC_MAX_WORDS;
		     w = strtok_r(NULL, " \t", &save))
			words[n++] = w;
		words[n] = NULL;
		struct capsid_exec_opts o = {.container = x->ss.container,
					     .argv = words,
					     .argc = n,
					     .tty = true,
					     .rows = x->ss.rows,
					     .cols = x->ss.cols,
					     .in_fd = x->in_w < 0 ? -1 : x->in_w,
					     .out_fd = x->out_w,
					     .err_fd = x->out_w,
					     .tty_fd = x->tty,
					     .resized = &x->resized};
		x->rc = capsid_group_exec(&x->srv->cfg, x->ss.group, &o, &x->exit_code, &x->err);
	}
	close(x->out_w);
	return NULL;
}

static void on_winch(int sig)
{
	(void)sig;
}

/* "\x1b[8;ROWS;COLSt": a resize. */
static bool parse_resize(const char *p, size_t len, unsigned *rows, unsigned *cols)
{
	if (len < 8 || len > 20 || memcmp(p, "\x1b[8;", 4) != 0 || p[len - 1] != 't')
		return false;
	char buf[24];
	memcpy(buf, p + 4, len - 5);
	buf[len - 5] = '\0';
	return sscanf(buf, "%u;%u", rows, cols) == 2 && *rows >= 1 && *rows <= 1000 && *cols >= 1 &&
	       *cols <= 1000;
}

static int session_run(struct session *x, const char *key)
{
	unsigned char sha[SHA_DIGEST_LENGTH];
	char both[128], accept[64], resp[256];
	snprintf(both, sizeof(both), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
	SHA1((const unsigned char *)both, strlen(both), sha);
	EVP_EncodeBlock((unsigned char *)accept, sha, sizeof(sha));
	int n = snprintf(resp, sizeof(resp),
			 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Accept: %s\r\n\r\n",
			 accept);
	if (SSL_write(x->ssl, resp, n) != n)
		return -EPIPE;
	/* The password first, within PASSWORD_WAIT_S. */
	struct timeval tv = {.tv_sec = PASSWORD_WAIT_S};
	setsockopt(x->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int op;
	char *pw = NULL;
	size_t len;
	if (ws_recv(x, &op, &pw, &len) < 0)
		return -EPIPE;
	bool ok = (op == 1 || op == 2) && len == strlen(x->ss.password) &&
		  CRYPTO_memcmp(pw, x->ss.password, len) == 0;
	free(pw);
	if (!ok) {
		ws_close(x, 1008, "wrong password");
		return -EACCES;
	}
	/* Idle between messages is the user's; a message begun must end. */
	tv.tv_sec = FRAME_WAIT_S;
	setsockopt(x->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* A client that stops reading ends its session, not the other way round. */
	setsockopt(x->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int in_pair[2], out_pair[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out_pair) < 0)
		return -errno;
	x->in_w = in_pair[1];
	x->out_r = out_pair[0];
	x->out_w = out_pair[1];
	x->tty = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (x->tty >= 0) {
		struct winsize ws = {.ws_row = (unsigned short)x->ss.rows,
				     .ws_col = (unsigned short)x->ss.cols};
		ioctl(x->tty, TIOCSWINSZ, &ws);
	}
	struct sigaction sa = {.sa_handler = on_winch};
	sigaction(SIGWINCH, &sa, NULL);
	pthread_t th;
	if (pthread_create(&th, NULL, exec_thread, x) != 0)
		return -EAGAIN;
	int to_cmd = in_pair[0];
	for (;;) {
		struct pollfd p[2] = {{.fd = x->fd, .events = POLLIN}, {.fd = x->out_r, .events = POLLIN}};
		if (!(x->pending_len || SSL_pending(x->ssl)) && poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (x->pending_len || SSL_pending(x->ssl) || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			char *payload = NULL;
			if (ws_recv(x, &op, &payload, &len) < 0)
				break;
			unsigned rows, cols;
			if ((op == 1 || op == 2 || op == 0) && parse_resize(payload, len, &rows, &cols)) {
				struct winsize ws = {.ws_row = (unsigned short)rows,
						     .ws_col = (unsigned short)cols};
				if (x->tty >= 0)
					ioctl(x->tty, TIOCSWINSZ, &ws);
				x->resized = 1;
				pthread_kill(th, SIGWINCH);
			} else if (op == 1 || op == 2 || op == 0) {
				util_write_all(to_cmd, payload, len);
			} else if (op == 9) {
				ws_send(x, 10, payload, len);
			} else if (op == 8) {
				free(payload);
				ws_close(x, 1000, "closed");
				return 0; /* the process ends: the monitor ends the command's session */
			}
			free(payload);
			continue;
		}
		if (p[1].revents) {
			char buf[16384];
			ssize_t got = read(x->out_r, buf, sizeof(buf));
			if (got > 0) {
				if (ws_send(x, 2, buf, (size_t)got) < 0)
					break;
				continue;
			}
			if (got < 0 && errno == EINTR)
				continue;
			pthread_join(th, NULL);
			char reason[120];
			if (x->rc < 0) {
				snprintf(reason, sizeof(reason), "%.119s", x->err.msg);
				ws_close(x, 1011, reason);
			} else {
				snprintf(reason, sizeof(reason), "exit code %d", x->exit_code);
				ws_close(x, 1000, reason);
			}
			return 0;
		}
	}
	return -EPIPE;
}

bool cd_ws_handle(struct cd_server *s, struct cd_conn *c)
{
	static const char prefix[] = "/exec-sessions/";
	if (strncmp(c->req.path, prefix, sizeof(prefix) - 1) != 0)
		return false;
	const char *id = c->req.path + sizeof(prefix) - 1;
	if (strcmp(c->req.method, "GET") != 0 || !c->req.upgrade ||
	    strcasecmp(c->req.upgrade, "websocket") != 0 || !c->req.ws_key || strlen(c->req.ws_key) > 64) {
		cd_respond_error(s, c, 400, "BadRequest", NULL,
				 "A websocket upgrade (GET) is expected here.");
		return true;
	}
	struct cd_session *ss = NULL;
	for (size_t i = 0; i < CD_MAX_SESSIONS && !ss; i++)
		if (s->sessions[i].id[0] && strcmp(s->sessions[i].id, id) == 0)
			ss = &s->sessions[i];
	struct cd_worker *slot = NULL;
	for (size_t i = 0; i < s->lim.max_workers + CD_MAX_SESSIONS && !slot; i++)
		if (!s->workers[i].pid)
			slot = &s->workers[i];
	if (!ss || !slot) {
		cd_respond_error(s, c, 404, "NotFound", NULL, "No such session.");
		return true;
	}
	struct session x = {
	    .srv = s, .ss = *ss, .ssl = c->ssl, .fd = c->fd, .in_w = -1, .out_r = -1, .out_w = -1, .tty = -1};
	memset(ss, 0, sizeof(*ss)); /* one use */
	size_t used = c->head_len + c->req.raw_len;
	x.pending = c->in + used;
	x.pending_len = c->in_len > used ? c->in_len - used : 0;
	char key[80];
	snprintf(key, sizeof(key), "%s", c->req.ws_key);
	pid_t pid = fork();
	if (pid < 0) {
		cd_respond_error(s, c, 503, "ServiceUnavailable", NULL, "cannot start the session");
		return true;
	}
	if (pid == 0) {
		cd_child_detach(c->fd);
		int fl = fcntl(c->fd, F_GETFL);
		fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
		int rc = session_run(&x, key);
		SSL_shutdown(x.ssl);
		_exit(rc < 0 ? 1 : 0);
	}
	slot->pid = pid;
	slot->op[0] = '\0';
	cd_conn_forget(s, c);
	return true;
}
