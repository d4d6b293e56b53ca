/* Printing what libcapsid reads of a group: logs followed live, Warning
 * events. */
#ifndef CAPSID_VIEW_CLI_H
#define CAPSID_VIEW_CLI_H

#include <signal.h>
#include <stdbool.h>

#include "cli.h"
#include "error.h"

struct json_object;

/* Follow a group's every container as `run` does: log records with "name
 * | " prefixes, and with events every Warning event (those recorded so far,
 * then live) on stderr. Returns when the group ends, the monitor closes, or
 * *stop becomes non-zero. *exit_code gets the group's. */
int view_follow(struct cli_ctx *ctx, const char *name, bool events, volatile sig_atomic_t *stop, int *exit_code,
		struct capsid_error *err);

/* Print one Warning event on stderr, whole: "capsid: warning: CONTAINER:
 * NAME: MESSAGE" (the group's have no container). */
void view_print_warning(const char *container, const char *name, const char *message);

/* Print every Warning event of a state document (the group's, then each
 * container's); returns how many. */
size_t view_print_warnings(struct json_object *doc);

#endif
