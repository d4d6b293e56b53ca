/* exec: run a command in a running container, relayed by the monitor to
 * the agent, with or without a terminal. Exits with the command's code. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "frame.h"
#include "group.h"
#include "util.h"

static volatile sig_atomic_t winch;

static void on_winch(int sig)
{
	(void)sig;
	winch = 1;
}

static const char help[] =
	"usage: capsid exec NAME [--container C] [-i] [-t] -- CMD [ARGS...]\n"
	"Run CMD in a running container of group NAME (default: its first container).\n"
	"  -i, --interactive  pass standard input to CMD\n"
	"  -t, --tty          allocate a terminal (window size follows this one)\n"
	"The exit code is CMD's.\n";

static struct json_object *first_container(const struct group_paths *p)
{
	_cleanup_free_ char *text = NULL;
	if (util_read_file_at(AT_FDCWD, p->spec, 1u << 20, &text, NULL) < 0)
		return NULL;
	_cleanup_json_ struct json_object *doc = json_tokener_parse(text);
	struct json_object *props, *containers, *name;
	if (!doc || !json_object_object_get_ex(doc, "properties", &props) ||
	    !json_object_object_get_ex(props, "containers", &containers) ||
	    json_object_array_length(containers) == 0 ||
	    !json_object_object_get_ex(json_object_array_get_idx(containers, 0), "name", &name))
		return NULL;
	return json_object_get(name);
}

static void send_resize(int fd, uint32_t id)
{
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0)
		return;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "rows", json_object_new_int(ws.ws_row));
	json_object_object_add(o, "cols", json_object_new_int(ws.ws_col));
	frame_write_json_blocking(fd, CAPSID_MSG_RESIZE, id, o);
	json_object_put(o);
}

static int exec_session(int fd, bool interactive, bool tty)
{
	const uint32_t id = 1;
	bool stdin_open = interactive;
	/* A terminal stays open without -i: closing it would hang the session up. */
	if (!interactive && !tty)
		frame_write_blocking(fd, CAPSID_MSG_STDIN_CLOSE, id, NULL, 0);
	for (;;) {
		if (winch) {
			winch = 0;
			send_resize(fd, id);
		}
		struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = STDIN_FILENO, .events = POLLIN}};
		int r = poll(pfd, stdin_open ? 2 : 1, -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return cli_fail("exec: poll: %s", strerror(errno));
		}
		if (stdin_open && pfd[1].revents) {
			char buf[CAPSID_FRAME_DATA_CHUNK];
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n > 0) {
				frame_write_blocking(fd, CAPSID_MSG_STDIN, id, buf, (size_t)n);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				stdin_open = false;
				if (!tty)
					frame_write_blocking(fd, CAPSID_MSG_STDIN_CLOSE, id, NULL, 0);
			}
		}
		if (!pfd[0].revents)
			continue;
		struct frame f;
		_cleanup_free_ uint8_t *body = NULL;
		int rc = frame_read_blocking(fd, CAPSID_FRAME_MAX_BODY, &f, &body);
		if (rc < 0)
			return cli_fail("exec: the monitor closed the session");
		if (f.type == CAPSID_MSG_STDOUT)
			util_write_all(STDOUT_FILENO, f.body, f.length);
		else if (f.type == CAPSID_MSG_STDERR)
			util_write_all(STDERR_FILENO, f.body, f.length);
		else if (f.type == CAPSID_MSG_EXIT) {
			_cleanup_json_ struct json_object *o = frame_body_json(&f);
			struct json_object *code;
			if (!o || !json_object_object_get_ex(o, "exitCode", &code))
				return 255;
			return json_object_get_int(code) & 0xff;
		}
	}
}

int cli_cmd_exec(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"container", required_argument, NULL, 'c'},
		{"interactive", no_argument, NULL, 'i'},
		{"tty", no_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *container = NULL;
	bool interactive = false, tty = false;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "c:ith", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			container = optarg;
			break;
		case 'i':
			interactive = true;
			break;
		case 't':
			tty = true;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			fputs(help, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(help, stderr);
		return cli_fail("exec: NAME is required");
	}
	const char *name = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind >= argc) {
		fputs(help, stderr);
		return cli_fail("exec: a command is required after --");
	}
	struct group_paths p;
	struct capsid_error err = {0};
	if (group_paths_init(ctx->root, name, &p, &err) < 0)
		return cli_fail("%s", err.msg);
	if (group_monitor_alive(&p) <= 0)
		return cli_fail("exec: group %s is not running", name);
	_cleanup_json_ struct json_object *cname = container ? json_object_new_string(container) : first_container(&p);
	if (!cname)
		return cli_fail("exec: group %s not found", name);

	_cleanup_close_ int fd = group_connect(&p, &err);
	if (fd < 0)
		return cli_fail("%s", err.msg);
	_cleanup_json_ struct json_object *req = json_object_new_object();
	json_object_object_add(req, "container", json_object_get(cname));
	struct json_object *args = json_object_new_array();
	for (int i = optind; i < argc; i++)
		json_object_array_add(args, json_object_new_string(argv[i]));
	json_object_object_add(req, "args", args);
	json_object_object_add(req, "tty", json_object_new_boolean(tty));
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	if (tty && isatty(STDIN_FILENO))
		ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
	json_object_object_add(req, "rows", json_object_new_int(ws.ws_row));
	json_object_object_add(req, "cols", json_object_new_int(ws.ws_col));
	if (frame_write_json_blocking(fd, CAPSID_CTL_EXEC, 1, req) < 0)
		return cli_fail("exec: cannot reach the monitor of %s", name);

	struct frame f;
	_cleanup_free_ uint8_t *body = NULL;
	if (frame_read_blocking(fd, CAPSID_FRAME_MAX_BODY, &f, &body) < 0)
		return cli_fail("exec: the monitor closed the session");
	if (f.type == CAPSID_MSG_ERROR) {
		_cleanup_json_ struct json_object *o = frame_body_json(&f);
		struct json_object *e;
		return cli_fail("exec: %s", o && json_object_object_get_ex(o, "error", &e) ? json_object_get_string(e)
											 : "failed");
	}

	struct termios saved;
	bool raw = tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (raw) {
		struct termios t = saved;
		cfmakeraw(&t);
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
		struct sigaction sa = {.sa_handler = on_winch};
		sigaction(SIGWINCH, &sa, NULL);
	}
	int rc = exec_session(fd, interactive, tty);
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return rc;
}
