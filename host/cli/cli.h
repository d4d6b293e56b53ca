/* The `capsid` command line: one dispatcher (main.c) and one file per
 * subcommand family. Each subcommand takes the global context and its own
 * argv (argv[0] is the subcommand name) and returns the process exit code.
 * Only these functions print; library code reports through capsid_error. */
#ifndef CAPSID_CLI_H
#define CAPSID_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct capsid_config;
struct json_object;

/* The configuration, read once in main() (host/core/config.h); root is
 * cfg->root. */
struct cli_ctx {
	const struct capsid_config *cfg;
	const char *root;
};

int cli_cmd_image(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_create(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_run(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_list(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_show(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_export(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_logs(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_exec(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_stats(struct cli_ctx *ctx, int argc, char **argv);   /* cmd_stats.c */
int cli_cmd_metrics(struct cli_ctx *ctx, int argc, char **argv); /* cmd_metrics.c: metrics serve */
int cli_cmd_usage(struct cli_ctx *ctx, int argc, char **argv);   /* cmd_usage.c */
int cli_cmd_lifecycle(struct cli_ctx *ctx, int argc, char **argv); /* stop|start|restart|delete */
int cli_cmd_monitor(struct cli_ctx *ctx, int argc, char **argv);   /* hidden: __monitor */
int cli_cmd_standby_main(struct cli_ctx *ctx, int argc, char **argv); /* hidden: __standby */
int cli_cmd_standby(struct cli_ctx *ctx, int argc, char **argv);   /* standby list|stop */
int cli_cmd_network(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_dns(struct cli_ctx *ctx, int argc, char **argv); /* hidden: __dns, the DNS responder */
int cli_cmd_share(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_volume(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_smbd(struct cli_ctx *ctx, int argc, char **argv); /* hidden: __smbd start ADDR...|stop|serve */
int cli_cmd_system(struct cli_ctx *ctx, int argc, char **argv); /* system status|stop */

/* fn(dir, machine, pid, arg) for every live ready clone of the root
 * (cmd_standby.c); non-zero from fn makes the result 1. */
int cli_standby_for_each(const char *root, int (*fn)(const char *dir, const char *machine, pid_t pid, void *arg),
			 void *arg);
/* Registry pulls (cmd_pull.c): `image pull`, and how create/run print the
 * pulls libcapsid makes for them: cli_pull_opts fills o for policy (NULL:
 * missing) with callbacks that draw into pr (free it after the create). */
struct capsid_pull_opts;
struct cli_pull_progress {
	bool tty, quiet;
	size_t drawn; /* lines of the live block */
	size_t n;
	int *seen; /* enum registry_layer_state per layer */
	uint64_t *since_ms;
	bool installing;
};
int cli_cmd_image_pull(struct cli_ctx *ctx, int argc, char **argv);
void cli_pull_opts(struct capsid_pull_opts *o, struct cli_pull_progress *pr, const char *policy);
void cli_pull_progress_free(struct cli_pull_progress *pr);

/* Print "capsid: <msg>" to stderr and return 1 (the usual exit code). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A family's subcommand (`capsid share create ...`): name, an alias or
 * NULL, and its function, which gets argv from the subcommand on. */
struct cli_subcommand {
	const char *name, *alias;
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
};
/* Dispatch argv[1] of a family (e.g. "share") to its table (ended by an
 * entry with a NULL name); help for -h, --help, help; a clear error for a
 * missing or unknown subcommand. */
int cli_subcommand(struct cli_ctx *ctx, int argc, char **argv, const char *family, const char *help,
		   const struct cli_subcommand *table);

/* Print a JSON document (pretty) and free it; NULL is an allocation
 * failure, reported for cmd. Returns the exit code. */
int cli_print_json(struct json_object *doc, const char *cmd);

/* Arguments of a `... list [-o table|json]` command: returns -1 to go on
 * (*json set), else the exit code (help printed, or a usage error naming
 * cmd). */
int cli_list_args(int argc, char **argv, const char *cmd, const char *help, bool *json);

/* True when argv has -h or --help before any "--". */
bool cli_wants_help(int argc, char **argv);



#endif
