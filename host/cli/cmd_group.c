/* create, run, and the lifecycle verbs: stop, start, restart, delete. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "frame.h"
#include "group.h"
#include "image.h"
#include "jail.h"
#include "launch.h"
#include "net.h"
#include "spec.h"
#include "spec_flags.h"
#include "util.h"
#include "view_cli.h"

static const char create_help[] =
    "usage: capsid create -f FILE [--runtime builtin|crun|runc] [--pull missing|always|never]\n"
    "       capsid create --name NAME --image REF [az container create's flags, below]\n"
    "Create a container group from an ACI-style spec (YAML or JSON) and return once its VM is up\n"
    "and its containers have started (or failed to: every Warning event is printed). Images the\n"
    "store lacks are pulled first (--pull, default missing).\n";
static const char run_help[] =
    "usage: capsid run -f FILE [--runtime builtin|crun|runc] [--rm] [--pull missing|always|never]\n"
    "       capsid run --name NAME --image REF [az container create's flags, below] [--rm]\n"
    "Create a group, stream every container's output prefixed by its name and every Warning event\n"
    "(a container that cannot start says why), and wait until the group ends (Succeeded or Failed)\n"
    "or Ctrl-C stops it. The exit code is the first non-zero container exit code in spec order,\n"
    "else 0; a container that never started counts as 128. --rm deletes the group afterwards.\n";

struct create_args {
	const char *file;
	const char *runtime;
	const char *pull; /* --pull missing|always|never */
	bool rm;
	struct spec_flags flags; /* the one-liner, when no file is given */
};

static void create_usage(bool is_run, FILE *out)
{
	fputs(is_run ? run_help : create_help, out);
	fputs(spec_flags_help, out);
}

static int parse_create_args(int argc, char **argv, bool is_run, struct create_args *a)
{
	static const struct option own[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"runtime", required_argument, NULL, 'r'},
	    {"rm", no_argument, NULL, 'R'},
	    {"pull", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	};
	struct option longopts[ARRAY_SIZE(own) + 16];
	size_t n = 0;
	for (; n < ARRAY_SIZE(own); n++)
		longopts[n] = own[n];
	for (size_t i = 0; spec_flags_options[i].name; i++) {
		if (n + 1 >= ARRAY_SIZE(longopts))
			return cli_fail("%s: internal error: too many options", argv[0]);
		longopts[n++] = spec_flags_options[i];
	}
	longopts[n] = (struct option){0};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+f:hn:e:l:", longopts, NULL)) != -1) {
		struct capsid_error err = {0};
		int taken = spec_flags_take(&a->flags, c, optarg, argc, argv, &optind, &err);
		if (taken < 0)
			return cli_fail("%s: %s", argv[0], err.msg);
		if (taken)
			continue;
		switch (c) {
		case 'f':
			a->file = optarg;
			break;
		case 'r':
			a->runtime = optarg;
			break;
		case 'P':
			a->pull = optarg;
			break;
		case 'R':
			if (!is_run)
				return cli_fail("create: --rm is only for run");
			a->rm = true;
			break;
		case 'h':
			create_usage(is_run, stdout);
			return -1;
		default:
			create_usage(is_run, stderr);
			return 2;
		}
	}
	if (!a->file && !a->flags.any && optind < argc)
		a->file = argv[optind++];
	if (optind < argc)
		return cli_fail("%s: unexpected argument \"%.64s\"", argv[0], argv[optind]);
	if (a->file && a->flags.any)
		return cli_fail("%s: give either -f FILE or az-style flags (--name, --image, ...), not both",
				argv[0]);
	if (!a->file && !a->flags.any) {
		create_usage(is_run, stderr);
		return cli_fail("%s: -f FILE, or --name and --image, is required", argv[0]);
	}
	return 0;
}

/* The spec, from the file or from the flags; warnings printed. */
static int load_spec(const struct create_args *a, struct spec_group **spec)
{
	struct capsid_error err = {0};
	struct spec_warnings warn = {0};
	const char *source = a->file ? a->file : "flags";
	int rc;
	if (a->file) {
		rc = spec_parse_file(a->file, spec, &warn, &err);
	} else {
		struct json_object *doc = NULL;
		rc = spec_flags_to_json(&a->flags, &doc, &err);
		if (rc >= 0)
			rc = spec_from_json(doc, spec, &warn, &err);
		spec_json_wipe_secrets(doc);
		json_object_put(doc);
	}
	if (rc < 0)
		return cli_fail("%s: %s", source, err.msg);
	for (size_t i = 0; i < warn.n; i++)
		cli_warn("%s: %s", source, warn.items[i]);
	spec_warnings_free(&warn);
	return 0;
}

/* Remove what a group made on the host: its network attachment (tap,
 * address, published ports, DNS name, rules) and its directory. */
static int remove_group(const struct group_paths *p, struct capsid_error *err)
{
	struct net_config cfg;
	int rc = net_config_load(p->root, &cfg, err);
	if (rc >= 0)
		rc = net_detach(&cfg, p->name, err);
	if (rc < 0)
		return rc;
	rc = util_rm_rf(p->dir);
	if (rc < 0)
		return capsid_error_errno(err, rc, "remove %s", p->dir);
	return 0;
}

/* Validate, check images, make the group directory and start its monitor.
 * Anything that fails leaves nothing behind. */
static int group_create(struct cli_ctx *ctx, const struct create_args *a, struct group_paths *paths)
{
	struct capsid_error err = {0};
	struct spec_group *spec = NULL;
	if (load_spec(a, &spec))
		return 1;
	int rc = group_paths_init(ctx->root, spec->name, paths, &err);
	if (rc >= 0)
		rc = cli_pull_images(ctx, spec, a->pull, &err);
	if (rc >= 0) {
		struct image_store *store = NULL;
		rc = image_store_open(ctx->root, &store, &err);
		for (size_t i = 0; rc >= 0 && i < spec->n_containers; i++) {
			struct image_info *info = NULL;
			rc = image_resolve(store, spec->containers[i].image, &info, &err);
			if (rc < 0)
				capsid_error_prefix(&err, "properties.containers[%zu].properties.image", i);
			image_info_free(info);
		}
		image_store_close(store);
	}
	if (rc < 0) {
		spec_free(spec);
		return cli_fail("%s", err.msg);
	}
	char groups[PATH_MAX];
	snprintf(groups, sizeof(groups), "%s/groups", ctx->root);
	if (util_mkdir_p(groups, 0711) < 0) {
		spec_free(spec);
		return cli_fail("create %s: %s", groups, strerror(errno));
	}
	if (mkdir(paths->dir, 0700) < 0) {
		int e = errno;
		spec_free(spec);
		if (e == EEXIST)
			return cli_fail("group %s already exists (delete it first, or choose another name)",
					paths->name);
		return cli_fail("create %s: %s", paths->dir, strerror(e));
	}
	struct json_object *redacted = spec_to_json(spec, SPEC_REDACT);
	struct json_object *full = spec_to_json(spec, SPEC_WITH_SECRETS);
	struct launch_opts lo = {
	    .runtime = a->runtime, .vcpus = spec_group_vcpus(spec), .memory_mib = spec_group_memory_mib(spec)};
	spec_free(spec);
	size_t len;
	const char *s = json_object_to_json_string_length(redacted, JSON_C_TO_STRING_PRETTY, &len);
	rc = util_write_file_atomic(paths->spec, s, len, 0640);
	json_object_put(redacted);
	if (rc < 0) {
		json_object_put(full);
		remove_group(paths, &err);
		return cli_fail("write %s: %s", paths->spec, strerror(-rc));
	}
	s = json_object_to_json_string_length(full, JSON_C_TO_STRING_PLAIN, &len);
	rc = launch_monitor(ctx, paths, s, len, &lo, &err);
	explicit_bzero((char *)s, len);
	json_object_put(full);
	if (rc < 0) {
		launch_wait_monitor_gone(paths, 10000);
		struct capsid_error cleanup_err = {0};
		if (remove_group(paths, &cleanup_err) < 0)
			cli_warn("clean up after the failed create: %s", cleanup_err.msg);
		return cli_fail("create group %s: %s", paths->name, err.msg);
	}
	return 0;
}

int cli_cmd_create(struct cli_ctx *ctx, int argc, char **argv)
{
	struct create_args a = {0};
	int rc = parse_create_args(argc, argv, false, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	struct group_paths paths;
	rc = group_create(ctx, &a, &paths);
	if (rc)
		return rc;
	/* Containers that failed to start did so before the create returned. */
	struct json_object *doc = NULL;
	struct capsid_error err = {0};
	if (launch_request(&paths, CAPSID_CTL_STATUS, "{}", &doc, &err) == 0)
		view_print_warnings(doc);
	json_object_put(doc);
	printf("%s\n", paths.name);
	return 0;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int group_delete(struct cli_ctx *ctx, const struct group_paths *paths);

int cli_cmd_run(struct cli_ctx *ctx, int argc, char **argv)
{
	struct create_args a = {0};
	int rc = parse_create_args(argc, argv, true, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	struct group_paths paths;
	rc = group_create(ctx, &a, &paths);
	if (rc)
		return rc;
	struct sigaction sa = {.sa_handler = on_interrupt};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct capsid_error err = {0};
	int exit_code = 0;
	rc = view_follow(&paths, NULL, -1, true, true, &interrupted, &exit_code, &err);
	if (rc < 0)
		rc = cli_fail("%s", err.msg);
	else if (interrupted) {
		fprintf(stderr, "capsid: interrupted: stopping group %s\n", paths.name);
		launch_request(&paths, CAPSID_CTL_STOP, "{}", NULL, &err);
		rc = 130;
	} else {
		rc = exit_code;
	}
	if (a.rm)
		group_delete(ctx, &paths);
	return rc;
}

static int group_delete(struct cli_ctx *ctx, const struct group_paths *paths)
{
	(void)ctx;
	struct capsid_error err = {0};
	_cleanup_free_ char *pidtext = NULL;
	pid_t monitor_pid = util_read_file_at(AT_FDCWD, paths->pid, 64, &pidtext, NULL) == 0 ? atoi(pidtext) : 0;
	if (group_monitor_alive(paths) > 0) {
		if (launch_request(paths, CAPSID_CTL_EXIT, "{}", NULL, &err) < 0)
			cli_warn("%s", err.msg);
		if (launch_wait_monitor_gone(paths, 30000) < 0) {
			/* A monitor that will not go: end it. QEMU follows it (PDEATHSIG). */
			if (monitor_pid > 1)
				kill(monitor_pid, SIGKILL);
			if (launch_wait_monitor_gone(paths, 10000) < 0)
				return cli_fail("group %s: its monitor does not exit", paths->name);
		}
		/* The lock goes a moment before the process: wait for that too. */
		for (int i = 0; monitor_pid > 1 && util_pid_running(monitor_pid) && i < 250; i++)
			usleep(20000);
	}
	_cleanup_close_ int lock = group_lock(paths);
	if (lock < 0 && lock != -ENOENT)
		return cli_fail("group %s: cannot take its lock: %s", paths->name, strerror(-lock));
	if (remove_group(paths, &err) < 0)
		return cli_fail("delete %s: %s", paths->name, err.msg);
	/* What a killed monitor could not release (vmm/jail.h). */
	jail_cgroup_remove(paths->root, paths->name);
	jail_uid_release(paths->root, paths->name);
	return 0;
}

/* A group whose monitor is gone can be started again from its spec, unless
 * the spec had secure values: those lived only in the dead monitor. */
static int group_start_new_monitor(struct cli_ctx *ctx, const struct group_paths *paths)
{
	struct capsid_error err = {0};
	_cleanup_free_ char *text = NULL;
	if (util_read_file_at(AT_FDCWD, paths->spec, 1u << 20, &text, NULL) < 0)
		return cli_fail("group %s: cannot read %s", paths->name, paths->spec);
	const char *what = NULL;
	int rc = cli_group_memory_only(paths->spec, &what, &err);
	if (rc < 0)
		return cli_fail("group %s: %s", paths->name, err.msg);
	if (what)
		return cli_fail("group %s has %s, which capsid keeps only in its monitor's memory; that monitor is "
				"gone, so delete the group and create it again",
				paths->name, what);
	_cleanup_json_ struct json_object *doc = json_tokener_parse(text);
	const char *runtime = NULL;
	_cleanup_free_ char *state = NULL;
	_cleanup_json_ struct json_object *st = NULL;
	if (util_read_file_at(AT_FDCWD, paths->state, 16u << 20, &state, NULL) == 0 && (st = json_tokener_parse(state))) {
		struct json_object *ext, *rt;
		if (json_object_object_get_ex(st, "capsid", &ext) && json_object_object_get_ex(ext, "runtime", &rt))
			runtime = json_object_get_string(rt);
	}
	struct launch_opts lo = {.runtime = runtime};
	rc = launch_monitor(ctx, paths, text, strlen(text), &lo, &err);
	if (rc < 0)
		return cli_fail("start group %s: %s", paths->name, err.msg);
	return 0;
}

static const char lifecycle_help[] =
	"usage: capsid stop|start|restart|delete NAME\n"
	"  stop     stop every container and the VM; the group and its logs stay\n"
	"  start    boot a stopped or ended group again\n"
	"  restart  stop, then start\n"
	"  delete   stop the group if it runs, then remove everything it made\n";

int cli_cmd_lifecycle(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *verb = argv[0];
	if (cli_wants_help(argc, argv)) {
		fputs(lifecycle_help, stdout);
		return 0;
	}
	if (argc != 2) {
		fputs(lifecycle_help, stderr);
		return cli_fail("%s: exactly one group NAME is required", verb);
	}
	struct group_paths paths;
	struct capsid_error err = {0};
	if (group_paths_init(ctx->root, argv[1], &paths, &err) < 0)
		return cli_fail("%s", err.msg);
	struct stat st;
	if (stat(paths.dir, &st) < 0)
		return cli_fail("group %s not found", argv[1]);
	if (strcmp(verb, "delete") == 0 || strcmp(verb, "rm") == 0)
		return group_delete(ctx, &paths);

	bool alive = group_monitor_alive(&paths) > 0;
	if (strcmp(verb, "stop") == 0) {
		if (!alive)
			return 0; /* nothing runs without a monitor */
		if (launch_request(&paths, CAPSID_CTL_STOP, "{}", NULL, &err) < 0)
			return cli_fail("stop %s: %s", paths.name, err.msg);
		return 0;
	}
	if (!alive)
		return group_start_new_monitor(ctx, &paths);
	unsigned short type = strcmp(verb, "restart") == 0 ? CAPSID_CTL_RESTART : CAPSID_CTL_START;
	if (launch_request(&paths, type, "{}", NULL, &err) < 0)
		return cli_fail("%s %s: %s", verb, paths.name, err.msg);
	return 0;
}
