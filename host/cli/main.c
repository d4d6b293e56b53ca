/* capsid: run container groups, each in its own micro-VM. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "capsid.h"
#include "cli.h"

static const char usage[] =
	"usage: capsid [--root DIR] [--accel auto|kvm|tcg] COMMAND [ARGS...]\n"
	"\n"
	"Run container groups, each in its own QEMU micro-VM.\n"
	"\n"
	"Groups:\n"
	"  run -f FILE        create a group, stream its output, wait for it to end\n"
	"  create -f FILE     create a group and return once its VM is up\n"
	"  list               list groups\n"
	"  show NAME          show a group's instance view (-o json|yaml)\n"
	"  export NAME        print the group as a spec create -f accepts (secure values left out)\n"
	"  logs NAME          print container logs (--container, --follow, --tail)\n"
	"  exec NAME -- CMD   run a command in a container (-i, -t, --container)\n"
	"  stats [NAME]       CPU, memory, network and block I/O per container (--follow, -o json)\n"
	"  metrics serve --listen ADDR:PORT   Prometheus endpoint of every group's metrics\n"
	"  usage              metered vCPU-seconds and GiB-seconds per group (--since T, -o json|csv)\n"
	"  stop|start|restart NAME\n"
	"  delete NAME        stop a group and remove everything it made\n"
	"Images:\n"
	"  image import PATH  import an OCI layout, OCI archive or docker-save tar\n"
	"  image list | image rm REF\n"
	"Networks:\n"
	"  network create NAME --subnet CIDR | network list | network rm NAME\n"
	"Shares (SMB, for azureFile volumes):\n"
	"  share create ACCOUNT/SHARE [--quota SIZE] | share list | share rm ACCOUNT/SHARE\n"
	"  share key ACCOUNT [--rotate]\n"
	"Volumes (persistent disks, for capsidDisk volumes):\n"
	"  volume create NAME --size SIZE | volume list | volume rm NAME\n"
	"  volume cp SRC DST  copy in or out; one side is NAME:/PATH\n"
	"Warm start (CAPSID_WARM_START=1, CAPSID_WARM_STANDBY=1):\n"
	"  standby list | standby stop   the ready clones kept for the next group\n"
	"System (monitors, VMs, DNS responder, smbd, ready clones of the state root):\n"
	"  system status [-o json]       what runs\n"
	"  system stop [--force]         stop all of it; groups stay, Stopped\n"
	"\n"
	"Global options:\n"
	"  --root DIR         state root (default $CAPSID_ROOT or /var/lib/capsid)\n"
	"  --accel MODE       force the accelerator (default: KVM when usable, else TCG)\n"
	"  --no-confine       run QEMU unconfined, as root (debugging only; also CAPSID_CONFINE=0)\n"
	"Every command takes --help.\n";

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("capsid: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("capsid: warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int cli_subcommand(struct cli_ctx *ctx, int argc, char **argv, const char *family, const char *help,
		   const struct cli_subcommand *table)
{
	if (argc < 2) {
		fputs(help, stderr);
		return cli_fail("%s: a command is required", family);
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
		fputs(help, stdout);
		return 0;
	}
	for (const struct cli_subcommand *c = table; c->name; c++)
		if (!strcmp(sub, c->name) || (c->alias && !strcmp(sub, c->alias)))
			return c->run(ctx, argc - 1, argv + 1);
	fputs(help, stderr);
	return cli_fail("%s: unknown command %s", family, sub);
}

int cli_print_json(struct json_object *doc, const char *cmd)
{
	if (!doc)
		return cli_fail("%s: out of memory", cmd);
	puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	return 0;
}

int cli_list_args(int argc, char **argv, const char *cmd, const char *help, bool *json)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *output = "table";
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			fputs(help, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(help, stderr);
		return cli_fail("%s: unexpected argument %s", cmd, argv[optind]);
	}
	if (strcmp(output, "table") != 0 && strcmp(output, "json") != 0) {
		fputs(help, stderr);
		return cli_fail("%s: -o %s: expected table or json", cmd, output);
	}
	*json = strcmp(output, "json") == 0;
	return -1;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}


struct command {
	const char *name;
	int (*fn)(struct cli_ctx *, int, char **);
};

static const struct command commands[] = {
	{"run", cli_cmd_run},         {"create", cli_cmd_create},     {"list", cli_cmd_list},
	{"ls", cli_cmd_list},         {"show", cli_cmd_show},         {"export", cli_cmd_export},         {"logs", cli_cmd_logs},
	{"exec", cli_cmd_exec},       {"stop", cli_cmd_lifecycle},    {"start", cli_cmd_lifecycle},
	{"restart", cli_cmd_lifecycle}, {"delete", cli_cmd_lifecycle}, {"rm", cli_cmd_lifecycle},
	{"image", cli_cmd_image},     {"network", cli_cmd_network}, {"__monitor", cli_cmd_monitor},
	{"__dns", cli_cmd_dns},       {"__standby", cli_cmd_standby_main}, {"standby", cli_cmd_standby},
	{"share", cli_cmd_share},     {"__smbd", cli_cmd_smbd},
	{"volume", cli_cmd_volume},
	{"system", cli_cmd_system},
	{"stats", cli_cmd_stats},
	{"metrics", cli_cmd_metrics},
	{"usage", cli_cmd_usage},
};

int main(int argc, char **argv)
{
	const char *root = NULL, *accel = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--root") == 0 && i + 1 < argc)
			root = argv[++i];
		else if (strncmp(argv[i], "--root=", 7) == 0)
			root = argv[i] + 7;
		else if (strcmp(argv[i], "--accel") == 0 && i + 1 < argc)
			accel = argv[++i];
		else if (strncmp(argv[i], "--accel=", 8) == 0)
			accel = argv[i] + 8;
		else if (strcmp(argv[i], "--no-confine") == 0)
			setenv("CAPSID_CONFINE", "0", 1); /* read below, and the monitors inherit it */
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			puts("capsid 0.1.0");
			return 0;
		} else {
			fputs(usage, stderr);
			return cli_fail("unknown option %s", argv[i]);
		}
	}
	if (i == argc) {
		fputs(usage, stderr);
		return 2;
	}
	/* Every CAPSID_* variable is read here, once, and passed down. */
	static struct capsid_config cfg;
	struct capsid_error err = {0};
	if (capsid_config_from_env(&cfg, root, accel, &err) < 0)
		return cli_fail("%s", err.msg);
	cfg.on_notice = cli_warn;
	struct cli_ctx ctx = {.cfg = &cfg, .root = cfg.root};
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[i], commands[k].name) == 0)
			return commands[k].fn(&ctx, argc - i, argv + i);
	fputs(usage, stderr);
	return cli_fail("unknown command %s", argv[i]);
}
