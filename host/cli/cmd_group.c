/* create, run, and the lifecycle verbs: stop, start, restart, delete:
 * arguments and printing over libcapsid (host/core/capsid.h). */
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

#include "capsid.h"
#include "cleanup.h"
#include "cli.h"
#include "spec.h"
#include "spec_flags.h"
#include "view_cli.h"

static const char create_help[] =
    "usage: capsid create -f FILE [--runtime builtin|crun|runc] [--pull missing|always|never]\n"
    "                     [--vmm qemu|libvirt] [--libvirt-uri URI]\n"
    "       capsid create --name NAME --image REF [az container create's flags, below]\n"
    "Create a container group from an ACI-style spec (YAML or JSON) and return once its VM is up\n"
    "and its containers have started (or failed to: every Warning event is printed). Images the\n"
    "store lacks are pulled first (--pull, default missing). --vmm libvirt runs the VM as a libvirt\n"
    "domain (capsid-NAME) of --libvirt-uri (default qemu:///system); the group keeps both.\n";
static const char run_help[] =
    "usage: capsid run -f FILE [--runtime builtin|crun|runc] [--rm] [--pull missing|always|never]\n"
    "                  [--vmm qemu|libvirt] [--libvirt-uri URI]\n"
    "       capsid run --name NAME --image REF [az container create's flags, below] [--rm]\n"
    "Create a group, stream every container's output prefixed by its name and every Warning event\n"
    "(a container that cannot start says why), and wait until the group ends (Succeeded or Failed)\n"
    "or Ctrl-C stops it. The exit code is the first non-zero container exit code in spec order,\n"
    "else 0; a container that never started counts as 128. --rm deletes the group afterwards.\n";

struct create_args {
	const char *file;
	const char *runtime;
	const char *pull; /* --pull missing|always|never */
	const char *vmm, *libvirt_uri; /* --vmm, --libvirt-uri: over CAPSID_VMM, CAPSID_LIBVIRT_URI */
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
	    {"vmm", required_argument, NULL, 'V'},
	    {"libvirt-uri", required_argument, NULL, 'U'},
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
		case 'V':
			a->vmm = optarg;
			break;
		case 'U':
			a->libvirt_uri = optarg;
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

static void print_warning_cb(void *ud, const char *container, const char *name, const char *message)
{
	(void)ud;
	view_print_warning(container, name, message);
}

/* Validate, pull what is missing (printed as `capsid image pull` prints),
 * and create: anything that fails leaves nothing behind. name gets the
 * group's name (lowercase, as stored); warnings: print the create's
 * Warning events. */
static int group_create(struct cli_ctx *ctx, const struct create_args *a, bool warnings, char name[64])
{
	_cleanup_spec_ struct spec_group *spec = NULL;
	if (load_spec(a, &spec))
		return 1;
	snprintf(name, 64, "%s", spec->name);
	struct cli_pull_progress progress;
	struct capsid_pull_opts pull;
	cli_pull_opts(&pull, &progress, a->pull);
	struct capsid_create_opts o = {
		.spec = spec,
		.runtime = a->runtime,
		.pull = &pull,
		.on_warning = warnings ? print_warning_cb : NULL,
	};
	struct capsid_error err = {0};
	struct capsid_config cfg = *ctx->cfg;
	if (a->vmm)
		cfg.vmm = a->vmm;
	if (a->libvirt_uri)
		cfg.libvirt_uri = a->libvirt_uri;
	int rc = capsid_group_create(&cfg, &o, &err);
	cli_pull_progress_free(&progress);
	return rc < 0 ? cli_fail("%s", err.msg) : 0;
}

int cli_cmd_create(struct cli_ctx *ctx, int argc, char **argv)
{
	struct create_args a = {0};
	int rc = parse_create_args(argc, argv, false, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	char name[64];
	rc = group_create(ctx, &a, true, name);
	if (rc)
		return rc;
	printf("%s\n", name);
	return 0;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

int cli_cmd_run(struct cli_ctx *ctx, int argc, char **argv)
{
	struct create_args a = {0};
	int rc = parse_create_args(argc, argv, true, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	char name[64];
	/* run's attach replays the Warnings of the create, then goes live. */
	rc = group_create(ctx, &a, false, name);
	if (rc)
		return rc;
	struct sigaction sa = {.sa_handler = on_interrupt};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct capsid_error err = {0};
	int exit_code = 0;
	rc = view_follow(ctx, name, true, &interrupted, &exit_code, &err);
	if (rc < 0)
		rc = cli_fail("%s", err.msg);
	else if (interrupted) {
		fprintf(stderr, "capsid: interrupted: stopping group %s\n", name);
		capsid_group_stop(ctx->cfg, name, &err);
		rc = 130;
	} else {
		rc = exit_code;
	}
	if (a.rm && capsid_group_delete(ctx->cfg, name, &err) < 0)
		cli_warn("--rm: %s", err.msg);
	return rc;
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
	struct capsid_error err = {0};
	int rc;
	if (!strcmp(verb, "delete") || !strcmp(verb, "rm"))
		rc = capsid_group_delete(ctx->cfg, argv[1], &err);
	else if (!strcmp(verb, "stop"))
		rc = capsid_group_stop(ctx->cfg, argv[1], &err);
	else if (!strcmp(verb, "restart"))
		rc = capsid_group_restart(ctx->cfg, argv[1], &err);
	else
		rc = capsid_group_start(ctx->cfg, argv[1], &err);
	return rc < 0 ? cli_fail("%s", err.msg) : 0;
}
