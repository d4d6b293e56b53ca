/* capsid volume create|list|rm|cp: persistent disks that groups attach with
 * a capsidDisk volume ({volumeName, readOnly}). The work is in
 * host/volume/disk.c; every command that touches a disk's content boots
 * the libguestfs appliance (some seconds under TCG). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "disk.h"
#include "smb.h"
#include "volume_exec.h"

static const char volume_help[] =
    "usage: capsid volume COMMAND [ARGS...]\n"
    "Persistent disks for capsidDisk volumes: each is a qcow2 holding an ext4 filesystem, made\n"
    "and read through the libguestfs appliance, so its content is never mounted on the host.\n"
    "A group attaches one with properties.volumes[].capsidDisk {volumeName, readOnly}:\n"
    "read-write by one group at a time, read-only by many. Data persists across groups.\n"
    "\n"
    "  create NAME --size SIZE\n"
    "  list [-o table|json]\n"
    "  rm NAME\n"
    "  cp SRC DST          one of them NAME:/PATH\n"
    "Every command takes --help.\n";
static const char create_help[] =
    "usage: capsid volume create NAME --size SIZE\n"
    "Create a volume: a qcow2 of SIZE (e.g. 512M, 10G; at least 16M) with an empty ext4\n"
    "filesystem labelled NAME. NAME is 1-63 lowercase letters, digits or '-'.\n";
static const char list_help[] =
    "usage: capsid volume list [-o table|json]\n"
    "List volumes with their size, creation time and the groups that have them attached.\n";
static const char rm_help[] = "usage: capsid volume rm NAME\n"
			      "Remove a volume and its data. Refused while a group has it attached.\n";
static const char cp_help[] =
    "usage: capsid volume cp SRC DST\n"
    "Copy a file or a directory (recursively) between the host and a volume, like\n"
    "virt-copy-in/virt-copy-out. Exactly one of SRC and DST is NAME:/PATH, a path in\n"
    "volume NAME. DST is an existing directory; the copy lands in it under SRC's name:\n"
    "  capsid volume cp ./site data:/srv        makes /srv/site in volume data\n"
    "  capsid volume cp data:/srv/site /tmp     makes /tmp/site on the host\n"
    "Refused while a group has the volume attached. A host path that looks like NAME:/...\n"
    "can be written ./NAME:/...\n";

/* Run the capsid-disk helper (next to this binary) with args after ROOT;
 * its error line becomes err's message. */
static int run_disk_helper(struct cli_ctx *ctx, const char *const *args, size_t n, struct capsid_error *err)
{
	char helper[PATH_MAX], cwd[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", helper, sizeof(helper) - 1);
	if (len < 0)
		return capsid_error_errno(err, errno, "find the capsid binary");
	helper[len] = '\0';
	char *slash = strrchr(helper, '/');
	if (!slash || (size_t)(slash - helper) + sizeof("/capsid-disk") > sizeof(helper))
		return capsid_error_set(err, ENAMETOOLONG, "path of the capsid binary too long");
	strcpy(slash, "/capsid-disk");
	if (!getcwd(cwd, sizeof(cwd)))
		return capsid_error_errno(err, errno, "getcwd");
	const char *argv[8] = {helper, ctx->root};
	for (size_t i = 0; i < n && i + 3 < ARRAY_SIZE(argv); i++)
		argv[i + 2] = args[i];
	char out[1024];
	int st = volume_run(argv, cwd, NULL, 0, out, sizeof(out));
	if (st < 0)
		return capsid_error_errno(err, -st, "run %s (installed next to capsid)", helper);
	if (st != 0)
		return capsid_error_set(err, EIO, "%s", out[0] ? out : "capsid-disk failed");
	return 0;
}

static int volume_create(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"size", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *size = NULL;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			size = optarg;
			break;
		case 'h':
			fputs(create_help, stdout);
			return 0;
		default:
			fputs(create_help, stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fputs(create_help, stderr);
		return cli_fail("volume create: exactly one NAME is required");
	}
	if (!size) {
		fputs(create_help, stderr);
		return cli_fail("volume create: --size SIZE is required");
	}
	struct capsid_error err = {0};
	uint64_t bytes = 0;
	if (smb_parse_size(size, &bytes, &err) < 0)
		return cli_fail("volume create: --size: %s", err.msg);
	char bytes_arg[32];
	snprintf(bytes_arg, sizeof(bytes_arg), "%llu", (unsigned long long)bytes);
	const char *args[] = {"create", argv[optind], bytes_arg};
	if (run_disk_helper(ctx, args, ARRAY_SIZE(args), &err) < 0)
		return cli_fail("volume create: %s", err.msg);
	puts(argv[optind]);
	return 0;
}

/* 1073741824 -> "1G"; sizes that are no whole unit stay in bytes. */
static void format_size(uint64_t bytes, char *out, size_t len)
{
	static const char units[] = "TGMK";
	for (int i = 0; i < 4; i++) {
		unsigned shift = (unsigned)(40 - 10 * i);
		if (bytes >= (1ull << shift) && bytes % (1ull << shift) == 0) {
			snprintf(out, len, "%llu%c", (unsigned long long)(bytes >> shift), units[i]);
			return;
		}
	}
	snprintf(out, len, "%llu", (unsigned long long)bytes);
}

static int print_json(const struct disk_info *info, size_t n)
{
	_cleanup_json_ struct json_object *arr = json_object_new_array();
	for (size_t i = 0; arr && i < n; i++) {
		struct json_object *o = json_object_new_object();
		if (!o || json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			return cli_fail("volume list: out of memory");
		}
		json_object_object_add(o, "name", json_object_new_string(info[i].name));
		json_object_object_add(o, "sizeBytes", json_object_new_int64((int64_t)info[i].size_bytes));
		json_object_object_add(o, "created", json_object_new_string(info[i].created));
		json_object_object_add(o, "attachedBy", json_object_new_string(info[i].attached_by));
	}
	return cli_print_json(TAKE_PTR(arr), "volume list");
}

static int volume_list(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = false;
	int rc = cli_list_args(argc, argv, "volume list", list_help, &json);
	if (rc >= 0)
		return rc;
	struct capsid_error err = {0};
	_cleanup_free_ struct disk_info *info = NULL;
	size_t n = 0;
	if (disk_list(ctx->root, &info, &n, &err) < 0)
		return cli_fail("volume list: %s", err.msg);
	if (json)
		return print_json(info, n);
	printf("%-24s %-8s %-22s %s\n", "NAME", "SIZE", "CREATED", "ATTACHED-BY");
	for (size_t i = 0; i < n; i++) {
		char size[32], created[24];
		format_size(info[i].size_bytes, size, sizeof(size));
		snprintf(created, sizeof(created), "%.19s", info[i].created); /* to the second */
		printf("%-24s %-8s %-22s %s\n", info[i].name, size, created,
		       info[i].attached_by[0] ? info[i].attached_by : "-");
	}
	return 0;
}

static int volume_rm(struct cli_ctx *ctx, int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(rm_help, stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fputs(rm_help, stderr);
		return cli_fail("volume rm: exactly one NAME is required");
	}
	struct capsid_error err = {0};
	if (disk_remove(ctx->root, argv[1], &err) < 0)
		return cli_fail("volume rm: %s", err.msg);
	puts(argv[1]);
	return 0;
}

/* "NAME:/path" -> name, path; false for anything else (a host path). */
static bool parse_ref(const char *arg, char name[DISK_NAME_MAX + 1], const char **path)
{
	const char *colon = strchr(arg, ':');
	if (!colon || colon == arg || (size_t)(colon - arg) > DISK_NAME_MAX || colon[1] != '/')
		return false;
	snprintf(name, DISK_NAME_MAX + 1, "%.*s", (int)(colon - arg), arg);
	*path = colon + 1;
	return disk_name_valid(name);
}

static int volume_cp(struct cli_ctx *ctx, int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(cp_help, stdout);
		return 0;
	}
	if (argc != 3) {
		fputs(cp_help, stderr);
		return cli_fail("volume cp: SRC and DST are required");
	}
	char src_name[DISK_NAME_MAX + 1], dst_name[DISK_NAME_MAX + 1];
	const char *src_path = NULL, *dst_path = NULL;
	bool from_volume = parse_ref(argv[1], src_name, &src_path);
	bool to_volume = parse_ref(argv[2], dst_name, &dst_path);
	if (from_volume == to_volume) {
		fputs(cp_help, stderr);
		return cli_fail("volume cp: exactly one of SRC and DST must be NAME:/PATH");
	}
	struct capsid_error err = {0};
	const char *in[] = {"copy-in", dst_name, argv[1], dst_path};
	const char *out[] = {"copy-out", src_name, src_path, argv[2]};
	int rc = run_disk_helper(ctx, to_volume ? in : out, 4, &err);
	if (rc < 0)
		return cli_fail("volume cp: %s", err.msg);
	return 0;
}

int cli_cmd_volume(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_subcommand table[] = {
	    {"create", NULL, volume_create},
	    {"list", "ls", volume_list},
	    {"rm", "remove", volume_rm},
	    {"cp", NULL, volume_cp},
	    {0},
	};
	return cli_subcommand(ctx, argc, argv, "volume", volume_help, table);
}
