/* exec: run a command in a running container (capsid_group_exec), with or
 * without a terminal: this side owns the terminal's raw mode and window
 * size. Exits with the command's code. */
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

#include "capsid.h"
#include "cli.h"

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
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	if (tty && isatty(STDIN_FILENO))
		ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
	struct capsid_exec_opts o = {
		.container = container,
		.argv = argv + optind,
		.argc = (size_t)(argc - optind),
		.tty = tty,
		.rows = ws.ws_row,
		.cols = ws.ws_col,
		.in_fd = interactive ? STDIN_FILENO : -1,
		.tty_fd = tty && isatty(STDIN_FILENO) ? STDIN_FILENO : -1,
		.out_fd = STDOUT_FILENO,
		.err_fd = STDERR_FILENO,
		.resized = &winch,
	};
	struct termios saved;
	bool raw = tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (raw) {
		struct termios t = saved;
		cfmakeraw(&t);
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
		struct sigaction sa = {.sa_handler = on_winch};
		sigaction(SIGWINCH, &sa, NULL);
	}
	struct capsid_error err = {0};
	int code = 0;
	int rc = capsid_group_exec(ctx->cfg, name, &o, &code, &err);
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return rc < 0 ? cli_fail("%s", err.msg) : code;
}
