/* capsid share create|list|rm|key: the Azure-Files-like shares of the
 * embedded SMB service (host/volume/smb.h), which azureFile volumes mount.
 * These work whether smbd runs or not (a running one reloads); the monitor
 * starts it when a group mounts a share. `share key` is the one place an
 * account key is printed. The hidden `__smbd start ADDR...|stop` drives the
 * service by hand, for debugging and for tests. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "smb.h"

static const char share_help[] =
    "usage: capsid share COMMAND [ARGS...]\n"
    "SMB file shares, named ACCOUNT/SHARE like Azure Files, served by capsid's private smbd to\n"
    "groups on capsid networks (azureFile volumes: storageAccountName, shareName and the\n"
    "account key as storageAccountKey). An account is created with its first share and removed\n"
    "with its last.\n"
    "\n"
    "  create ACCOUNT/SHARE [--quota SIZE]\n"
    "  list [-o table|json]\n"
    "  rm ACCOUNT/SHARE\n"
    "  key ACCOUNT [--rotate]\n"
    "Every command takes --help.\n";
static const char create_help[] =
    "usage: capsid share create ACCOUNT/SHARE [--quota SIZE]\n"
    "Create a share. ACCOUNT: 3-24 lowercase letters or digits; SHARE: 3-63 lowercase letters,\n"
    "digits or single '-'. The account and its key are made with its first share.\n"
    "--quota SIZE (e.g. 512M, 10G; at least 16M): the share gets a filesystem of that size.\n";
static const char list_help[] =
    "usage: capsid share list [-o table|json]\n"
    "List shares: account, share, quota and where the data is on the host. Keys are not shown.\n";
static const char rm_help[] =
    "usage: capsid share rm ACCOUNT/SHARE\n"
    "Remove a share and its data; the account and its key go with its last share.\n";
static const char key_help[] = "usage: capsid share key ACCOUNT [--rotate]\n"
			       "Print the account's key (the SMB password, storageAccountKey in a spec).\n"
			       "--rotate: replace it first; the old key stops working at once.\n";

static int load_config(struct cli_ctx *ctx, struct smb_config *cfg)
{
	struct capsid_error err = {0};
	if (smb_config_init(ctx->root, &ctx->cfg->smb, cfg, &err) < 0)
		return cli_fail("share: %s", err.msg);
	return 0;
}

/* Exactly one positional argument and nothing else after the options. */
static const char *one_operand(int argc, char **argv, const char *help, const char *what)
{
	if (optind + 1 != argc) {
		fputs(help, stderr);
		cli_fail("share %s: exactly one %s is required", argv[0], what);
		return NULL;
	}
	return argv[optind];
}

static int share_create(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"quota", required_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *quota = NULL;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "q:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quota = optarg;
			break;
		case 'h':
			fputs(create_help, stdout);
			return 0;
		default:
			fputs(create_help, stderr);
			return 2;
		}
	}
	const char *ref = one_operand(argc, argv, create_help, "ACCOUNT/SHARE");
	if (!ref)
		return 1;
	char account[SMB_ACCOUNT_MAX + 1], share[SMB_SHARE_MAX + 1];
	uint64_t quota_bytes = 0;
	struct capsid_error err = {0};
	if (smb_parse_ref(ref, account, share, &err) < 0)
		return cli_fail("share create: %s", err.msg);
	if (quota && smb_parse_size(quota, &quota_bytes, &err) < 0)
		return cli_fail("share create: --quota %s", err.msg);
	struct smb_config cfg;
	if (load_config(ctx, &cfg))
		return 1;
	if (smb_share_create(&cfg, account, share, quota_bytes, &err) < 0)
		return cli_fail("share create %s/%s: %s", account, share, err.msg);
	printf("%s/%s\n", account, share);
	return 0;
}

/* 33554432 -> "32M": the largest unit that divides it exactly. */
static void format_size(uint64_t bytes, char *out, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;
	while (u < 3 && bytes && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(out, len, "%llu", (unsigned long long)bytes);
	else
		snprintf(out, len, "%llu%c", (unsigned long long)bytes, units[u]);
}

static int print_json(const struct smb_share_info *info, size_t n)
{
	_cleanup_json_ struct json_object *arr = json_object_new_array();
	for (size_t i = 0; arr && i < n; i++) {
		struct json_object *o = json_object_new_object();
		if (!o || json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			return cli_fail("share list: out of memory");
		}
		json_object_object_add(o, "account", json_object_new_string(info[i].account));
		json_object_object_add(o, "share", json_object_new_string(info[i].share));
		json_object_object_add(o, "quotaBytes", json_object_new_int64((int64_t)info[i].quota_bytes));
		json_object_object_add(o, "path", json_object_new_string(info[i].path));
	}
	return cli_print_json(TAKE_PTR(arr), "share list");
}

static int share_list(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = false;
	int rc = cli_list_args(argc, argv, "share list", list_help, &json);
	if (rc >= 0)
		return rc;
	struct smb_config cfg;
	struct capsid_error err = {0};
	if (load_config(ctx, &cfg))
		return 1;
	_cleanup_free_ struct smb_share_info *info = NULL;
	size_t n = 0;
	if (smb_share_list(&cfg, &info, &n, &err) < 0)
		return cli_fail("share list: %s", err.msg);
	if (json)
		return print_json(info, n);
	printf("%-24s %-32s %-8s %s\n", "ACCOUNT", "SHARE", "QUOTA", "PATH");
	for (size_t i = 0; i < n; i++) {
		char quota[32] = "-";
		if (info[i].quota_bytes)
			format_size(info[i].quota_bytes, quota, sizeof(quota));
		printf("%-24s %-32s %-8s %s\n", info[i].account, info[i].share, quota, info[i].path);
	}
	return 0;
}

static int share_rm(struct cli_ctx *ctx, int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(rm_help, stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fputs(rm_help, stderr);
		return cli_fail("share rm: exactly one ACCOUNT/SHARE is required");
	}
	char account[SMB_ACCOUNT_MAX + 1], share[SMB_SHARE_MAX + 1];
	struct capsid_error err = {0};
	if (smb_parse_ref(argv[1], account, share, &err) < 0)
		return cli_fail("share rm: %s", err.msg);
	struct smb_config cfg;
	if (load_config(ctx, &cfg))
		return 1;
	if (smb_share_remove(&cfg, account, share, &err) < 0)
		return cli_fail("share rm %s/%s: %s", account, share, err.msg);
	printf("%s/%s\n", account, share);
	return 0;
}

static int share_key(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"rotate", no_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool rotate = false;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rotate = true;
			break;
		case 'h':
			fputs(key_help, stdout);
			return 0;
		default:
			fputs(key_help, stderr);
			return 2;
		}
	}
	const char *name = one_operand(argc, argv, key_help, "ACCOUNT");
	if (!name)
		return 1;
	char account[SMB_ACCOUNT_MAX + 1], key[SMB_KEY_LEN + 1];
	struct capsid_error err = {0};
	if (smb_parse_ref(name, account, NULL, &err) < 0)
		return cli_fail("share key: %s", err.msg);
	struct smb_config cfg;
	if (load_config(ctx, &cfg))
		return 1;
	/* Read first even when rotating: "no such account" is the answer for
	 * an unknown account, also on a root where no share was ever made. */
	int rc = smb_account_key(&cfg, account, false, key, &err);
	if (rc >= 0 && rotate)
		rc = smb_account_key(&cfg, account, true, key, &err);
	if (rc < 0) {
		explicit_bzero(key, sizeof(key));
		return cli_fail("share key %s: %s", account, err.msg);
	}
	puts(key);
	fflush(stdout);
	explicit_bzero(key, sizeof(key));
	return 0;
}

int cli_cmd_share(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_subcommand table[] = {
	    {"create", NULL, share_create},
	    {"list", "ls", share_list},
	    {"rm", "remove", share_rm},
	    {"key", NULL, share_key},
	    {0},
	};
	return cli_subcommand(ctx, argc, argv, "share", share_help, table);
}

/* Hidden: `capsid __smbd start ADDR...` starts (or reloads) the service on
 * these IPv4 addresses and pins it (it runs without a group using it, while
 * shares exist); `capsid __smbd stop` unpins and stops it; `capsid __smbd
 * serve` is its keeper (smb_keeper_main), which smb_service_start runs. */
int cli_cmd_smbd(struct cli_ctx *ctx, int argc, char **argv)
{
	struct smb_config cfg;
	struct capsid_error err = {0};
	if (argc == 2 && !strcmp(argv[1], "serve"))
		return smb_keeper_main(ctx->root, &ctx->cfg->smb) < 0 ? 1 : 0;
	if (argc >= 3 && !strcmp(argv[1], "start")) {
		if (load_config(ctx, &cfg))
			return 1;
		if (smb_service_pin(&cfg, true, &err) < 0 ||
		    smb_service_start(&cfg, (const char *const *)argv + 2, (size_t)argc - 2, &err) < 0) {
			smb_service_pin(&cfg, false, NULL);
			return cli_fail("__smbd start: %s", err.msg);
		}
		printf("%d\n", smb_service_pid(&cfg));
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "stop")) {
		if (load_config(ctx, &cfg))
			return 1;
		if (smb_service_pin(&cfg, false, &err) < 0 || smb_service_stop(&cfg, &err) < 0)
			return cli_fail("__smbd stop: %s", err.msg);
		return 0;
	}
	return cli_fail("usage: capsid __smbd start ADDR... | stop | serve");
}
