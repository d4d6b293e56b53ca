/* Reading a group as a client: its instance view (made truthful when the
 * monitor is gone) and its logs, live or from the files. */
#ifndef CAPSID_VIEW_CLI_H
#define CAPSID_VIEW_CLI_H

#include <signal.h>
#include <stdbool.h>

#include "error.h"
#include "group.h"

struct json_object;

/* The group's state document. When no monitor is alive but the file says
 * the group is active, the document is corrected (and saved): the VM died
 * with its monitor. Returns 0, -ENOENT for no such group. */
int view_load(const struct group_paths *p, struct json_object **out, struct capsid_error *err);

/* Attach to a live monitor and print log records as they come ("name | "
 * prefixes when prefix is set), and with events every Warning event (those
 * recorded so far, then live) on stderr. Returns when the group ends, the
 * monitor closes, or *stop becomes non-zero. *exit_code gets the group's. */
int view_follow(const struct group_paths *p, const char *container, long tail, bool prefix, bool events,
		volatile sig_atomic_t *stop, int *exit_code, struct capsid_error *err);

/* Print one Warning event on stderr, whole: "capsid: warning: CONTAINER:
 * NAME: MESSAGE" (the group's have no container). */
void view_print_warning(const char *container, const char *name, const char *message);

/* Print every Warning event of a state document (the group's, then each
 * container's); returns how many. */
size_t view_print_warnings(struct json_object *doc);

#endif
