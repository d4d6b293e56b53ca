/* list, show and logs: read-only views of groups. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsid.h"
#include "cleanup.h"
#include "cli.h"
#include "frame.h"
#include "group.h"
#include "logfile.h"
#include "util.h"
#include "view.h"
#include "view_cli.h"

static struct json_object *get_path(struct json_object *o, const char *a, const char *b)
{
	struct json_object *x = NULL, *y = NULL;
	if (!o || !json_object_object_get_ex(o, a, &x))
		return NULL;
	if (!b)
		return x;
	return json_object_object_get_ex(x, b, &y) ? y : NULL;
}

/* ---- list ---- */

int cli_cmd_list(struct cli_ctx *ctx, int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		puts("usage: capsid list [-q]\nList container groups: name, state, containers, restarts, vCPU, memory.");
		return 0;
	}
	bool quiet = argc > 1 && strcmp(argv[1], "-q") == 0;
	char **names;
	size_t n;
	struct capsid_error lerr = {0};
	if (capsid_group_list(ctx->cfg, &names, &n, &lerr) < 0)
		return cli_fail("%s", lerr.msg);
	if (!quiet)
		printf("%-24s %-10s %-10s %-8s %-5s %s\n", "NAME", "STATE", "CONTAINERS", "RESTARTS", "VCPU", "MEMORY");
	for (size_t i = 0; i < n; i++) {
		struct capsid_error err = {0};
		struct json_object *doc = NULL;
		if (capsid_group_show(ctx->cfg, names[i], &doc, &err) < 0)
			continue;
		if (quiet) {
			puts(names[i]);
			json_object_put(doc);
			continue;
		}
		struct json_object *props = get_path(doc, "properties", NULL);
		struct json_object *state = get_path(get_path(props, "instanceView", NULL), "state", NULL);
		struct json_object *containers = get_path(props, "containers", NULL);
		size_t nc = containers ? json_object_array_length(containers) : 0;
		int restarts = 0;
		for (size_t k = 0; k < nc; k++) {
			struct json_object *rc = get_path(
				get_path(get_path(json_object_array_get_idx(containers, k), "properties", NULL),
					 "instanceView", NULL),
				"restartCount", NULL);
			restarts += rc ? json_object_get_int(rc) : 0;
		}
		struct json_object *ext = get_path(doc, "capsid", NULL);
		struct json_object *vcpus = get_path(ext, "vcpus", NULL), *mem = get_path(ext, "memoryMiB", NULL);
		char memtxt[32] = "-";
		if (mem)
			snprintf(memtxt, sizeof(memtxt), "%d MiB", json_object_get_int(mem));
		printf("%-24s %-10s %-10zu %-8d %-5s %s\n", names[i], state ? json_object_get_string(state) : "Unknown",
		       nc, restarts, vcpus ? json_object_get_string(vcpus) : "-", memtxt);
		json_object_put(doc);
	}
	capsid_names_free(names, n);
	return 0;
}

/* ---- show ---- */

static void yaml_scalar(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		/* JSON string syntax is valid YAML double-quoted scalar syntax. */
		fputs(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), stdout);
		break;
	case json_type_null:
		fputs("null", stdout);
		break;
	default:
		fputs(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), stdout);
	}
}

static void yaml_print(struct json_object *v, int indent, bool in_seq);

static bool yaml_is_empty_container(struct json_object *v)
{
	return (json_object_is_type(v, json_type_object) && json_object_object_length(v) == 0) ||
	       (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0);
}

static void yaml_value_after_key(struct json_object *v, int indent)
{
	if (yaml_is_empty_container(v)) {
		printf(" %s\n", json_object_is_type(v, json_type_array) ? "[]" : "{}");
	} else if (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array)) {
		putchar('\n');
		yaml_print(v, indent + 2, false);
	} else {
		putchar(' ');
		yaml_scalar(v);
		putchar('\n');
	}
}

static void yaml_print(struct json_object *v, int indent, bool in_seq)
{
	if (json_object_is_type(v, json_type_object)) {
		bool first = true;
		json_object_object_foreach(v, key, val)
		{
			if (!(in_seq && first))
				printf("%*s", indent, "");
			first = false;
			printf("%s:", key);
			yaml_value_after_key(val, indent);
		}
	} else if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *item = json_object_array_get_idx(v, i);
			printf("%*s- ", indent, "");
			if (json_object_is_type(item, json_type_object) && !yaml_is_empty_container(item)) {
				yaml_print(item, indent + 2, true);
			} else if (json_object_is_type(item, json_type_array) && !yaml_is_empty_container(item)) {
				putchar('\n');
				yaml_print(item, indent + 2, false);
			} else {
				yaml_scalar(item);
				putchar('\n');
			}
		}
	} else {
		printf("%*s", indent, "");
		yaml_scalar(v);
		putchar('\n');
	}
}

/* `show` and `export`: NAME and -o json|yaml. Returns -1 to go on, else the
 * exit code. */
static int name_and_format(int argc, char **argv, const char *help, const char **name, const char **format)
{
	const char *cmd = argv[0];
	if (cli_wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	*name = NULL;
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc)
			*format = argv[++i];
		else if (!*name && argv[i][0] != '-')
			*name = argv[i];
		else
			return cli_fail("%s: unexpected argument %s", cmd, argv[i]);
	}
	if (!*name) {
		fputs(help, stderr);
		return cli_fail("%s: NAME is required", cmd);
	}
	if (strcmp(*format, "json") != 0 && strcmp(*format, "yaml") != 0)
		return cli_fail("%s: -o %s: must be json or yaml", cmd, *format);
	return -1;
}

static int print_doc(struct json_object *doc, const char *format)
{
	if (strcmp(format, "yaml") == 0)
		yaml_print(doc, 0, false);
	else
		puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	return 0;
}

int cli_cmd_show(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char help[] = "usage: capsid show NAME [-o json|yaml]\n"
				   "Show a group's spec (secure values redacted) and ACI-shaped instance view.\n";
	const char *name, *format = "json";
	int rc = name_and_format(argc, argv, help, &name, &format);
	if (rc >= 0)
		return rc;
	struct capsid_error err = {0};
	struct json_object *doc = NULL;
	if (capsid_group_show(ctx->cfg, name, &doc, &err) < 0)
		return cli_fail("%s", err.msg);
	return print_doc(doc, format);
}

int cli_cmd_export(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char help[] = "usage: capsid export NAME [-o yaml|json]\n"
				   "Print the group as an ACI spec that `capsid create -f` accepts (YAML by\n"
				   "default); secure values, storage account keys and secret contents are left out.\n";
	const char *name, *format = "yaml";
	int rc = name_and_format(argc, argv, help, &name, &format);
	if (rc >= 0)
		return rc;
	struct capsid_error err = {0};
	struct json_object *doc = NULL;
	if (capsid_group_export(ctx->cfg, name, &doc, &err) < 0)
		return cli_fail("%s", err.msg);
	return print_doc(doc, format);
}

/* ---- logs ---- */

static void print_record(const char *container, bool stderr_stream, bool partial, const char *line, size_t len,
			 bool prefix)
{
	FILE *out = stderr_stream ? stderr : stdout;
	if (prefix)
		fprintf(out, "%s | ", container);
	fwrite(line, 1, len, out);
	if (!partial)
		fputc('\n', out);
	fflush(out);
}

/* Messages carry a guest's words: no control bytes reach the terminal. */
static char *printable(const char *s)
{
	char *out = strdup(s ? s : "");
	for (char *p = out; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return out;
}

void view_print_warning(const char *container, const char *name, const char *message)
{
	_cleanup_free_ char *c = printable(container), *n = printable(name), *msg = printable(message);
	if (!c || !n || !msg)
		return;
	if (container)
		cli_warn("%s: %s: %s", c, n, msg);
	else
		cli_warn("%s: %s", n, msg);
}

static size_t print_warning_events(const char *container, struct json_object *events)
{
	size_t n = 0;
	for (size_t i = 0; events && i < json_object_array_length(events); i++) {
		struct json_object *e = json_object_array_get_idx(events, i);
		struct json_object *type = get_path(e, "type", NULL), *name = get_path(e, "name", NULL),
				   *msg = get_path(e, "message", NULL);
		if (!type || !name || !msg || strcmp(json_object_get_string(type), "Warning"))
			continue;
		view_print_warning(container, json_object_get_string(name), json_object_get_string(msg));
		n++;
	}
	return n;
}

size_t view_print_warnings(struct json_object *doc)
{
	struct json_object *props = get_path(doc, "properties", NULL);
	size_t n = print_warning_events(NULL, get_path(props, "instanceView", "events"));
	for (int list = 0; list < 2; list++) {
		struct json_object *containers = get_path(props, list ? "initContainers" : "containers", NULL);
		for (size_t i = 0; containers && i < json_object_array_length(containers); i++) {
			struct json_object *c = json_object_array_get_idx(containers, i);
			struct json_object *name = get_path(c, "name", NULL);
			struct json_object *iv = get_path(c, "properties", "instanceView");
			if (name)
				n += print_warning_events(json_object_get_string(name), get_path(iv, "events", NULL));
		}
	}
	return n;
}

/* A record as `logs` and `run` print it: "name | " when several
 * containers are shown. */
struct print_ctx {
	bool prefix;
};

static void print_line(void *ud, const struct capsid_log_line *l)
{
	print_record(l->container, l->is_stderr, l->partial, l->text, l->len,
		     ((struct print_ctx *)ud)->prefix);
}

static void print_warning_cb(void *ud, const char *container, const char *name, const char *message)
{
	(void)ud;
	view_print_warning(container, name, message);
}

int view_follow(struct cli_ctx *ctx, const char *name, bool events, volatile sig_atomic_t *stop, int *exit_code,
		struct capsid_error *err)
{
	struct print_ctx pc = {.prefix = true};
	struct capsid_logs_opts o = {
		.tail = -1,
		.follow = true,
		.events = events,
		.stop = stop,
		.on_line = print_line,
		.on_warning = print_warning_cb,
		.ud = &pc,
	};
	return capsid_group_logs(ctx->cfg, name, &o, exit_code, err);
}

int cli_cmd_logs(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char help[] =
		"usage: capsid logs NAME [--container C] [--follow] [--tail N]\n"
		"Print a group's container output (stdout to stdout, stderr to stderr). Logs outlive the VM\n"
		"and the monitor. Without --container, every container's lines are printed with a name prefix.\n";
	static const struct option longopts[] = {
		{"container", required_argument, NULL, 'c'},
		{"follow", no_argument, NULL, 'f'},
		{"tail", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *container = NULL;
	bool follow = false;
	long tail = -1;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "c:fn:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			container = optarg;
			break;
		case 'f':
			follow = true;
			break;
		case 'n': {
			char *end;
			tail = strtol(optarg, &end, 10);
			if (*end || tail < 0)
				return cli_fail("logs: --tail %s: must be a number >= 0", optarg);
			break;
		}
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			fputs(help, stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(help, stderr);
		return cli_fail("logs: exactly one group NAME is required");
	}
	/* Several containers get name prefixes, as `run` prints them. */
	struct capsid_error err = {0};
	struct json_object *doc = NULL;
	if (capsid_group_show(ctx->cfg, argv[optind], &doc, &err) < 0)
		return cli_fail("%s", err.msg);
	struct json_object *containers = get_path(get_path(doc, "properties", NULL), "containers", NULL);
	struct json_object *inits = get_path(get_path(doc, "properties", NULL), "initContainers", NULL);
	size_t n = (containers ? json_object_array_length(containers) : 0) + (inits ? json_object_array_length(inits) : 0);
	struct print_ctx pc = {.prefix = !container && n > 1};
	json_object_put(doc);
	struct capsid_logs_opts o = {
		.container = container,
		.tail = tail,
		.follow = follow,
		.on_line = print_line,
		.ud = &pc,
	};
	if (capsid_group_logs(ctx->cfg, argv[optind], &o, NULL, &err) < 0)
		return cli_fail("logs: %s", err.msg);
	return 0;
}
