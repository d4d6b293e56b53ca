/* The `capsid` command line: one dispatcher (main.c) and one file per
 * subcommand family. Each subcommand takes the global context and its own
 * argv (argv[0] is the subcommand name) and returns the process exit code. */
#ifndef CAPSID_CLI_H
#define CAPSID_CLI_H

struct cli_ctx {
	const char *root; /* state root: --root, $CAPSID_ROOT or /var/lib/capsid */
	const char *accel; /* --accel override or NULL (auto) */
};

int cli_cmd_image(struct cli_ctx *ctx, int argc, char **argv);

#endif
