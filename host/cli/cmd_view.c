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

/* The VM cannot outlive its monitor (QEMU has PDEATHSIG), so a document
 * that still says Pending/Running with no monitor alive is rewritten. */
static bool view_fix_dead_monitor(struct json_object *doc)
{
	struct json_object *props = get_path(doc, "properties", NULL);
	struct json_object *iv = get_path(props, "instanceView", NULL);
	struct json_object *state = get_path(iv, "state", NULL);
	enum group_phase phase;
	if (!state || view_group_phase_parse(json_object_get_string(state), &phase) < 0 ||
	    !view_group_phase_active(phase))
		return false;
	char now[40];
	util_now_rfc3339(now);
	const char *why = "the group's monitor exited unexpectedly and its VM with it; `capsid start` boots it again";
	json_object_object_add(iv, "state", json_object_new_string("Failed"));
	json_object_object_add(iv, "detailStatus", json_object_new_string(why));
	struct json_object *events = get_path(iv, "events", NULL);
	if (events && json_object_is_type(events, json_type_array)) {
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "count", json_object_new_int(1));
		json_object_object_add(e, "firstTimestamp", json_object_new_string(now));
		json_object_object_add(e, "lastTimestamp", json_object_new_string(now));
		json_object_object_add(e, "name", json_object_new_string("MonitorLost"));
		json_object_object_add(e, "message", json_object_new_string(why));
		json_object_object_add(e, "type", json_object_new_string("Warning"));
		json_object_array_add(events, e);
	}
	struct json_object *containers = get_path(props, "containers", NULL);
	for (size_t i = 0; containers && i < json_object_array_length(containers); i++) {
		struct json_object *civ = get_path(json_object_array_get_idx(containers, i), "properties", "instanceView");
		struct json_object *cur = get_path(civ, "currentState", NULL);
		struct json_object *cs = get_path(cur, "state", NULL);
		if (!cs || strcmp(json_object_get_string(cs), "Terminated") == 0)
			continue;
		struct json_object *prev = NULL;
		json_object_deep_copy(cur, &prev, NULL);
		json_object_object_add(civ, "previousState", prev);
		json_object_object_add(cur, "state", json_object_new_string("Terminated"));
		json_object_object_add(cur, "exitCode", json_object_new_int(137));
		json_object_object_add(cur, "finishTime", json_object_new_string(now));
		json_object_object_add(cur, "detailStatus", json_object_new_string("Killed: monitor lost"));
	}
	return true;
}

int view_load(const struct group_paths *p, struct json_object **out, struct capsid_error *err)
{
	struct stat st;
	if (stat(p->dir, &st) < 0)
		return capsid_error_set(err, ENOENT, "group %s not found", p->name);
	/* Take the lock while reading: a monitor starting right now is then
	 * either fully there or not yet there. */
	_cleanup_close_ int lock = group_lock(p);
	_cleanup_free_ char *text = NULL;
	int rc = util_read_file_at(AT_FDCWD, p->state, 16u << 20, &text, NULL);
	if (rc == -ENOENT) {
		/* Made by create, monitor not yet written its first state. */
		if (util_read_file_at(AT_FDCWD, p->spec, 1u << 20, &text, NULL) < 0)
			return capsid_error_set(err, ENOENT, "group %s has no state yet", p->name);
		struct json_object *doc = json_tokener_parse(text);
		if (!doc)
			return capsid_error_set(err, EINVAL, "group %s: %s is not JSON", p->name, p->spec);
		struct json_object *props = get_path(doc, "properties", NULL);
		if (props) {
			struct json_object *iv = json_object_new_object();
			json_object_object_add(iv, "state", json_object_new_string(lock >= 0 ? "Failed" : "Pending"));
			json_object_object_add(props, "instanceView", iv);
		}
		*out = doc;
		return 0;
	}
	if (rc < 0)
		return capsid_error_errno(err, rc, "read %s", p->state);
	struct json_object *doc = json_tokener_parse(text);
	if (!doc)
		return capsid_error_set(err, EINVAL, "group %s: %s is not JSON", p->name, p->state);
	if (lock >= 0 && view_fix_dead_monitor(doc)) {
		size_t len;
		const char *s = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PRETTY, &len);
		util_write_file_atomic(p->state, s, len, 0640);
	}
	*out = doc;
	return 0;
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
	if (group_list_names(ctx->root, &names, &n) < 0)
		return cli_fail("cannot list %s/groups", ctx->root);
	if (!quiet)
		printf("%-24s %-10s %-10s %-8s %-5s %s\n", "NAME", "STATE", "CONTAINERS", "RESTARTS", "VCPU", "MEMORY");
	for (size_t i = 0; i < n; i++) {
		struct group_paths p;
		struct capsid_error err = {0};
		struct json_object *doc = NULL;
		if (group_paths_init(ctx->root, names[i], &p, &err) < 0 || view_load(&p, &doc, &err) < 0)
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
	group_names_free(names, n);
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

int cli_cmd_show(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char help[] = "usage: capsid show NAME [-o json|yaml]\n"
				   "Show a group's spec (secure values redacted) and ACI-shaped instance view.\n";
	if (cli_wants_help(argc, argv)) {
		fputs(help, stdout);
		return 0;
	}
	const char *name = NULL, *format = "json";
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc)
			format = argv[++i];
		else if (!name && argv[i][0] != '-')
			name = argv[i];
		else
			return cli_fail("show: unexpected argument %s", argv[i]);
	}
	if (!name) {
		fputs(help, stderr);
		return cli_fail("show: NAME is required");
	}
	if (strcmp(format, "json") != 0 && strcmp(format, "yaml") != 0)
		return cli_fail("show: -o %s: must be json or yaml", format);
	struct group_paths p;
	struct capsid_error err = {0};
	struct json_object *doc = NULL;
	if (group_paths_init(ctx->root, name, &p, &err) < 0 || view_load(&p, &doc, &err) < 0)
		return cli_fail("%s", err.msg);
	if (strcmp(format, "yaml") == 0)
		yaml_print(doc, 0, false);
	else
		puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	return 0;
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
	struct json_object *containers = get_path(props, "containers", NULL);
	for (size_t i = 0; containers && i < json_object_array_length(containers); i++) {
		struct json_object *c = json_object_array_get_idx(containers, i);
		struct json_object *name = get_path(c, "name", NULL);
		struct json_object *iv = get_path(c, "properties", "instanceView");
		if (name)
			n += print_warning_events(json_object_get_string(name), get_path(iv, "events", NULL));
	}
	return n;
}

int view_follow(const struct group_paths *p, const char *container, long tail, bool prefix, bool events,
		volatile sig_atomic_t *stop, int *exit_code, struct capsid_error *err)
{
	_cleanup_close_ int fd = group_connect(p, err);
	if (fd < 0)
		return fd;
	_cleanup_json_ struct json_object *req = json_object_new_object();
	json_object_object_add(req, "follow", json_object_new_boolean(1));
	json_object_object_add(req, "tail", json_object_new_int64(tail));
	json_object_object_add(req, "events", json_object_new_boolean(events));
	if (container) {
		struct json_object *arr = json_object_new_array();
		json_object_array_add(arr, json_object_new_string(container));
		json_object_object_add(req, "containers", arr);
	}
	int rc = frame_write_json_blocking(fd, CAPSID_CTL_ATTACH, 1, req);
	if (rc < 0)
		return capsid_error_errno(err, rc, "attach to %s", p->name);
	*exit_code = 0;
	while (!stop || !*stop) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, 200);
		if (r < 0 && errno != EINTR)
			return capsid_error_errno(err, errno, "poll");
		if (r <= 0)
			continue;
		struct frame f;
		_cleanup_free_ uint8_t *body = NULL;
		rc = frame_read_blocking(fd, CAPSID_FRAME_MAX_BODY, &f, &body);
		if (rc == -EPIPE)
			return 0; /* monitor went away */
		if (rc < 0)
			return capsid_error_errno(err, rc, "read from the monitor of %s", p->name);
		_cleanup_json_ struct json_object *o = frame_body_json(&f);
		if (!o)
			continue;
		if (f.type == CAPSID_MSG_ERROR) {
			struct json_object *e;
			return capsid_error_set(err, EREMOTEIO, "%s",
						json_object_object_get_ex(o, "error", &e) ? json_object_get_string(e)
											  : "attach failed");
		}
		if (f.type == CAPSID_CTL_GROUP_END) {
			struct json_object *c;
			if (json_object_object_get_ex(o, "exitCode", &c))
				*exit_code = json_object_get_int(c);
			return 0;
		}
		if (f.type == CAPSID_CTL_EVENT) {
			struct json_object *cn = get_path(o, "container", NULL),
					   *name = get_path(o, "name", NULL),
					   *msg = get_path(o, "message", NULL);
			if (name && msg)
				view_print_warning(cn ? json_object_get_string(cn) : NULL,
						   json_object_get_string(name), json_object_get_string(msg));
			continue;
		}
		if (f.type != CAPSID_CTL_LOGLINE)
			continue;
		struct json_object *cn, *st, *line, *partial;
		if (!json_object_object_get_ex(o, "container", &cn) || !json_object_object_get_ex(o, "stream", &st) ||
		    !json_object_object_get_ex(o, "line", &line))
			continue;
		json_object_object_get_ex(o, "partial", &partial);
		print_record(json_object_get_string(cn), strcmp(json_object_get_string(st), "stderr") == 0,
			     partial && json_object_get_boolean(partial), json_object_get_string(line),
			     (size_t)json_object_get_string_len(line), prefix);
	}
	return 0;
}

struct file_print_ctx {
	const char **names; /* per log file */
	bool prefix;
};

static void print_file_record(size_t file, const struct log_record *rec, void *ud)
{
	struct file_print_ctx *c = ud;
	print_record(c->names[file], rec->stream == LOG_STDERR, rec->partial, rec->content, rec->len, c->prefix);
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
	struct group_paths p;
	struct capsid_error err = {0};
	struct json_object *doc = NULL;
	if (group_paths_init(ctx->root, argv[optind], &p, &err) < 0 || view_load(&p, &doc, &err) < 0)
		return cli_fail("%s", err.msg);
	struct json_object *containers = get_path(get_path(doc, "properties", NULL), "containers", NULL);
	size_t nc = containers ? json_object_array_length(containers) : 0;
	bool found = !container;
	for (size_t i = 0; container && i < nc; i++) {
		struct json_object *cn = get_path(json_object_array_get_idx(containers, i), "name", NULL);
		if (cn && strcmp(json_object_get_string(cn), container) == 0)
			found = true;
	}
	if (!found) {
		json_object_put(doc);
		return cli_fail("logs: group %s has no container %s", p.name, container);
	}
	bool prefix = !container && nc > 1;
	int rc = 0;
	if (follow && group_monitor_alive(&p) > 0) {
		int exit_code;
		if (view_follow(&p, container, tail, prefix, false, NULL, &exit_code, &err) < 0)
			rc = cli_fail("%s", err.msg);
		json_object_put(doc);
		return rc;
	}
	/* Every container's records merged by time, as `run` and --follow show them. */
	_cleanup_free_ char(*paths)[PATH_MAX] = calloc(nc ? nc : 1, sizeof(*paths));
	_cleanup_free_ const char **files = calloc(nc ? nc : 1, sizeof(*files));
	_cleanup_free_ const char **names = calloc(nc ? nc : 1, sizeof(*names));
	size_t n = 0;
	for (size_t i = 0; paths && files && names && i < nc; i++) {
		struct json_object *cn = get_path(json_object_array_get_idx(containers, i), "name", NULL);
		const char *name = cn ? json_object_get_string(cn) : NULL;
		if (!name || (container && strcmp(name, container) != 0) ||
		    group_log_path(&p, name, paths[n], sizeof(paths[n])) < 0)
			continue;
		files[n] = paths[n];
		names[n++] = name;
	}
	struct file_print_ctx pc = {names, prefix};
	if (!paths || !files || !names || log_read_merged(files, n, tail, print_file_record, &pc) < 0)
		rc = cli_fail("logs: out of memory");
	json_object_put(doc);
	return rc;
}
