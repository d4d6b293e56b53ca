/* capsid network create|list|rm: the virtual networks groups join through
 * properties.subnetIds; and the hidden `__dns` command, the DNS responder
 * that host/net starts on demand. */
#include <getopt.h>
#include <json-c/json.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "net.h"

static const char network_help[] =
    "usage: capsid network COMMAND [ARGS...]\n"
    "Virtual networks: each is a bridge on the host with its own subnet; groups join one with\n"
    "properties.subnetIds (the last path segment of the id names the network), or the\n"
    "\"default\" network otherwise. Groups on different networks cannot reach each other\n"
    "except through published ports.\n"
    "\n"
    "  create NAME --subnet CIDR [--no-egress]\n"
    "  list [-o table|json]\n"
    "  rm NAME\n"
    "Every command takes --help.\n";
static const char create_help[] =
    "usage: capsid network create NAME --subnet CIDR [--no-egress]\n"
    "Create a virtual network with an IPv4 subnet (prefix /8 to /30) that overlaps no other.\n"
    "Its gateway is the first address. --no-egress: its groups cannot open connections to\n"
    "anything outside capsid (their published ports still work).\n";
static const char list_help[] =
    "usage: capsid network list [-o table|json]\n"
    "List virtual networks with their subnet, gateway, egress and number of groups.\n";
static const char rm_help[] =
    "usage: capsid network rm NAME\n"
    "Remove a virtual network. Refused while a group uses it; \"default\" cannot be removed.\n";

static int load_config(struct cli_ctx *ctx, struct net_config *cfg)
{
	struct capsid_error err = {0};
	if (net_config_load(ctx->root, &ctx->cfg->net, cfg, &err) < 0)
		return cli_fail("network: %s", err.msg);
	return 0;
}

static int network_create(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"subnet", required_argument, NULL, 's'},
	    {"no-egress", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *subnet = NULL;
	bool egress = true;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			subnet = optarg;
			break;
		case 'n':
			egress = false;
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
		return cli_fail("network create: exactly one NAME is required");
	}
	if (!subnet) {
		fputs(create_help, stderr);
		return cli_fail("network create: --subnet CIDR is required");
	}
	struct net_config cfg;
	struct capsid_error err = {0};
	if (load_config(ctx, &cfg))
		return 1;
	if (net_network_create(&cfg, argv[optind], subnet, egress, &err) < 0)
		return cli_fail("network create: %s", err.msg);
	puts(argv[optind]);
	return 0;
}

static int print_json(const struct net_network_info *info, size_t n)
{
	_cleanup_json_ struct json_object *arr = json_object_new_array();
	for (size_t i = 0; arr && i < n; i++) {
		struct json_object *o = json_object_new_object();
		if (!o || json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			return cli_fail("network list: out of memory");
		}
		json_object_object_add(o, "name", json_object_new_string(info[i].name));
		json_object_object_add(o, "subnet", json_object_new_string(info[i].subnet));
		json_object_object_add(o, "gateway", json_object_new_string(info[i].gateway));
		json_object_object_add(o, "bridge", json_object_new_string(info[i].bridge));
		json_object_object_add(o, "egress", json_object_new_boolean(info[i].egress));
		json_object_object_add(o, "groups", json_object_new_int((int)info[i].n_groups));
	}
	return cli_print_json(TAKE_PTR(arr), "network list");
}

static int network_list(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = false;
	int rc = cli_list_args(argc, argv, "network list", list_help, &json);
	if (rc >= 0)
		return rc;
	struct net_config cfg;
	struct capsid_error err = {0};
	if (load_config(ctx, &cfg))
		return 1;
	_cleanup_free_ struct net_network_info *info = NULL;
	size_t n = 0;
	if (net_network_list(&cfg, &info, &n, &err) < 0)
		return cli_fail("network list: %s", err.msg);
	if (json)
		return print_json(info, n);
	printf("%-20s %-18s %-15s %-7s %s\n", "NAME", "SUBNET", "GATEWAY", "EGRESS", "GROUPS");
	for (size_t i = 0; i < n; i++)
		printf("%-20s %-18s %-15s %-7s %u\n", info[i].name, info[i].subnet, info[i].gateway,
		       info[i].egress ? "yes" : "no", info[i].n_groups);
	return 0;
}

static int network_rm(struct cli_ctx *ctx, int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(rm_help, stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fputs(rm_help, stderr);
		return cli_fail("network rm: exactly one NAME is required");
	}
	struct net_config cfg;
	struct capsid_error err = {0};
	if (load_config(ctx, &cfg))
		return 1;
	if (net_network_remove(&cfg, argv[1], &err) < 0)
		return cli_fail("network rm: %s", err.msg);
	puts(argv[1]);
	return 0;
}

int cli_cmd_network(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_subcommand table[] = {
	    {"create", NULL, network_create},
	    {"list", "ls", network_list},
	    {"rm", "remove", network_rm},
	    {0},
	};
	return cli_subcommand(ctx, argc, argv, "network", network_help, table);
}

int cli_cmd_dns(struct cli_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	/* Binding port 53 on each bridge's address is all it needs, whoever
	 * started it (the CLI or a monitor). */
	struct capsid_error err = {0};
	if (caps_limit(CAPS_BIT(CAP_NET_BIND_SERVICE), &err) < 0) {
		fprintf(stderr, "capsid __dns: %s\n", err.msg);
		return 1;
	}
	return net_dns_main(ctx->root, &ctx->cfg->net) < 0 ? 1 : 0;
}
