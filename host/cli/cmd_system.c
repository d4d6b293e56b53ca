/* capsid system status|stop: everything a state root has running. That is
 * a monitor per live group (and its VM, QEMU, which cannot outlive it),
 * the services started on demand (the DNS responder, the embedded smbd
 * with its keeper) and warm start's ready clones. `status` lists them;
 * `stop` ends them all cleanly: each group's VM is stopped through its
 * monitor (the group shows Stopped, with its logs) and the monitor exits,
 * then the ready clones and the services go. Afterwards no process whose
 * command line names the root is left, or `stop` says which are.
 *
 * Secure values (secure environment variables, storage account keys,
 * secret volumes) live only in a monitor's memory: a group that has them
 * cannot be started again once its monitor is gone, only deleted and
 * created again. `stop` refuses such groups unless --force. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "group.h"
#include "capsid.h"
#include "config.h"
#include "net.h"
#include "proto.h"
#include "smb.h"
#include "spec.h"
#include "util.h"

static const char system_help[] =
    "usage: capsid system COMMAND\n"
    "What the state root has running: group monitors and their VMs, the DNS responder, the\n"
    "embedded SMB service (smbd and its keeper), warm start's ready clones.\n"
    "\n"
    "  status [-o table|json]\n"
    "  stop [--force]\n"
    "Every command takes --help.\n";
static const char status_help[] =
    "usage: capsid system status [-o table|json]\n"
    "List what runs for this state root: each live group's monitor (pid, state) and VM (QEMU\n"
    "pid), the services (DNS responder, smbd: pids, addresses) and the ready clones.\n";
static const char stop_help[] =
    "usage: capsid system stop [--force]\n"
    "Stop everything this state root runs: every group's VM (the group stays, Stopped, with its\n"
    "logs; `capsid start NAME` boots it again) and its monitor, the ready clones, the DNS\n"
    "responder and smbd. Nothing is deleted.\n"
    "A group with secure values (secure environment variables, storage account keys, secret\n"
    "volumes) keeps them only in its monitor's memory: once stopped this way it cannot be started\n"
    "again, only deleted and created again. Such groups make `stop` refuse, naming them,\n"
    "unless --force is given.\n";

#define SERVICE_STOP_WAIT_MS 15000

/* ---- what runs -------------------------------------------------------------- */

struct live_group {
	char name[64];
	char state[32];
	pid_t monitor, qemu;
	const char *memory_only; /* NULL: nothing lives only in the monitor */
};

static pid_t read_pid(const char *path)
{
	_cleanup_free_ char *text = NULL;
	long pid = 0;
	if (util_read_file_at(AT_FDCWD, path, 64, &text, NULL) == 0)
		pid = strtol(text, NULL, 10);
	return pid > 1 && pid < (1L << 22) ? (pid_t)pid : 0;
}

/* The groups whose monitor is alive. Free *out with free(). */
static int live_groups(struct cli_ctx *ctx, struct live_group **out, size_t *n_out)
{
	*out = NULL;
	*n_out = 0;
	char **names = NULL;
	size_t n = 0;
	if (group_list_names(ctx->root, &names, &n) < 0 || n == 0)
		return 0;
	struct live_group *list = calloc(n, sizeof(*list));
	if (!list) {
		group_names_free(names, n);
		return -ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct group_paths p;
		struct capsid_error err = {0};
		if (group_paths_init(ctx->root, names[i], &p, &err) < 0 || group_monitor_alive(&p) <= 0)
			continue;
		struct live_group *g = &list[k++];
		snprintf(g->name, sizeof(g->name), "%s", names[i]);
		g->monitor = read_pid(p.pid);
		snprintf(g->state, sizeof(g->state), "Unknown");
		_cleanup_free_ char *text = NULL;
		_cleanup_json_ struct json_object *doc = NULL;
		if (util_read_file_at(AT_FDCWD, p.state, 16u << 20, &text, NULL) == 0 && (doc = json_tokener_parse(text))) {
			struct json_object *props, *iv, *st, *ext, *q;
			if (json_object_object_get_ex(doc, "properties", &props) &&
			    json_object_object_get_ex(props, "instanceView", &iv) &&
			    json_object_object_get_ex(iv, "state", &st))
				snprintf(g->state, sizeof(g->state), "%s", json_object_get_string(st));
			if (json_object_object_get_ex(doc, "capsid", &ext) && json_object_object_get_ex(ext, "qemuPid", &q)) {
				int pid = json_object_get_int(q);
				g->qemu = pid > 1 && util_pid_running(pid) ? (pid_t)pid : 0;
			}
		}
		capsid_group_memory_only(ctx->cfg, names[i], &g->memory_only, &err);
	}
	group_names_free(names, n);
	*out = list;
	*n_out = k;
	return 0;
}

struct service {
	const char *name;
	pid_t pid, child;  /* smbd: its keeper, and smbd itself */
	char addresses[1024];
};

/* " ADDR:PORT" onto a list of addresses. */
static void append(char *buf, size_t len, const char *a, unsigned port)
{
	size_t used = strlen(buf);
	if (used < len)
		snprintf(buf + used, len - used, "%s%s:%u", used ? " " : "", a, port);
}

/* The running services (0, 1 or 2 of them). */
static size_t services(const char *root, const struct net_settings *set, const struct smb_settings *smbset,
		       struct service out[2])
{
	size_t n = 0;
	struct capsid_error err = {0};
	struct net_config net;
	if (net_config_load(root, set, &net, &err) == 0) {
		pid_t pid = net_dns_pid(&net);
		if (pid) {
			struct service *s = &out[n++];
			*s = (struct service){.name = "dns", .pid = pid};
			struct net_network_info *nets = NULL;
			size_t k = 0;
			if (net_network_list(&net, &nets, &k, &err) == 0)
				for (size_t i = 0; i < k; i++)
					if (nets[i].n_groups)
						append(s->addresses, sizeof(s->addresses), nets[i].gateway, 53);
			free(nets);
			if (net.dns_port)
				append(s->addresses, sizeof(s->addresses), "127.0.0.1", net.dns_port);
		}
	}
	struct smb_config smb;
	pid_t keeper = 0, smbd = 0;
	if (smb_config_init(root, smbset, &smb, &err) == 0 && smb_service_pids(&smb, &keeper, &smbd) == 0 && keeper) {
		struct service *s = &out[n++];
		*s = (struct service){.name = "smbd", .pid = keeper, .child = smbd};
		char path[PATH_MAX];
		_cleanup_free_ char *text = NULL;
		snprintf(path, sizeof(path), "%s/smb/addresses", root);
		if (util_read_file_at(AT_FDCWD, path, 4096, &text, NULL) == 0) {
			char *save = NULL;
			for (char *a = strtok_r(text, " \n", &save); a; a = strtok_r(NULL, " \n", &save))
				append(s->addresses, sizeof(s->addresses), a, 445);
		}
	}
	return n;
}

struct standby_list {
	struct json_object *json; /* NULL: print a table row */
};

static int standby_row(const char *dir, const char *machine, pid_t pid, void *arg)
{
	struct standby_list *l = arg;
	char sock[PATH_MAX + 16];
	snprintf(sock, sizeof(sock), "%s/claim.sock", dir);
	const char *state = access(sock, F_OK) == 0 ? "ready" : "starting";
	if (!l->json) {
		printf("%-8s %-24s %-8d %s\n", "standby", machine, (int)pid, state);
		return 0;
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "machine", json_object_new_string(machine));
	json_object_object_add(o, "pid", json_object_new_int((int)pid));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_array_add(l->json, o);
	return 0;
}

/* Whether argument `arg` of a command line names the root: the root
 * itself or a path under it. */
static bool names_root(const char *arg, const char *root, size_t root_len)
{
	const char *p = strstr(arg, root);
	while (p) {
		char after = p[root_len];
		if ((p == arg || p[-1] == '=' || p[-1] == ',' || p[-1] == ':') && (after == '\0' || after == '/'))
			return true;
		p = strstr(p + 1, root);
	}
	return false;
}

/* Processes (not this one) whose command line names the root. */
static size_t root_processes(const char *root_arg, pid_t *pids, size_t max)
{
	char root[PATH_MAX];
	snprintf(root, sizeof(root), "%s", root_arg);
	size_t n = 0, root_len = strlen(root);
	while (root_len > 1 && root[root_len - 1] == '/')
		root[--root_len] = '\0';
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid == getpid())
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		if (util_read_file_at(AT_FDCWD, path, 64 * 1024, &text, &len) < 0)
			continue;
		for (size_t off = 0; off < len; off += strlen(text + off) + 1)
			if (names_root(text + off, root, root_len)) {
				pids[n++] = pid;
				break;
			}
	}
	closedir(d);
	return n;
}

/* ---- status ------------------------------------------------------------------ */

static int status_json(const char *root, const struct live_group *groups, size_t n_groups,
		       const struct service *svc, size_t n_svc)
{
	_cleanup_json_ struct json_object *doc = json_object_new_object();
	struct json_object *g = json_object_new_array(), *s = json_object_new_array(), *sb = json_object_new_array();
	if (!doc || !g || !s || !sb) {
		json_object_put(g);
		json_object_put(s);
		json_object_put(sb);
		return cli_fail("system status: out of memory");
	}
	json_object_object_add(doc, "root", json_object_new_string(root));
	json_object_object_add(doc, "groups", g);
	json_object_object_add(doc, "services", s);
	json_object_object_add(doc, "standbys", sb);
	for (size_t i = 0; i < n_groups; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(groups[i].name));
		json_object_object_add(o, "state", json_object_new_string(groups[i].state));
		json_object_object_add(o, "monitorPid", json_object_new_int((int)groups[i].monitor));
		json_object_object_add(o, "qemuPid", json_object_new_int((int)groups[i].qemu));
		json_object_object_add(o, "memoryOnlyValues", json_object_new_boolean(groups[i].memory_only != NULL));
		json_object_array_add(g, o);
	}
	for (size_t i = 0; i < n_svc; i++) {
		struct json_object *o = json_object_new_object(), *addrs = json_object_new_array();
		json_object_object_add(o, "name", json_object_new_string(svc[i].name));
		json_object_object_add(o, "pid", json_object_new_int((int)svc[i].pid));
		if (svc[i].child)
			json_object_object_add(o, "smbdPid", json_object_new_int((int)svc[i].child));
		_cleanup_free_ char *copy = strdup(svc[i].addresses);
		char *save = NULL;
		for (char *a = copy ? strtok_r(copy, " ", &save) : NULL; a; a = strtok_r(NULL, " ", &save))
			json_object_array_add(addrs, json_object_new_string(a));
		json_object_object_add(o, "addresses", addrs);
		json_object_array_add(s, o);
	}
	struct standby_list l = {.json = sb};
	cli_standby_for_each(root, standby_row, &l);
	return cli_print_json(TAKE_PTR(doc), "system status");
}

static int system_status(struct cli_ctx *ctx, int argc, char **argv)
{
	bool json = false;
	int rc = cli_list_args(argc, argv, "system status", status_help, &json);
	if (rc >= 0)
		return rc;
	_cleanup_free_ struct live_group *groups = NULL;
	size_t n_groups = 0;
	if (live_groups(ctx, &groups, &n_groups) < 0)
		return cli_fail("system status: out of memory");
	struct service svc[2];
	size_t n_svc = services(ctx->root, &ctx->cfg->net, &ctx->cfg->smb, svc);
	if (json)
		return status_json(ctx->root, groups, n_groups, svc, n_svc);
	printf("%-8s %-24s %-8s %s\n", "KIND", "NAME", "PID", "DETAIL");
	for (size_t i = 0; i < n_groups; i++) {
		printf("%-8s %-24s %-8d %s%s\n", "monitor", groups[i].name, (int)groups[i].monitor, groups[i].state,
		       groups[i].memory_only ? " (secure values in memory)" : "");
		if (groups[i].qemu)
			printf("%-8s %-24s %-8d %s\n", "vm", groups[i].name, (int)groups[i].qemu, "QEMU");
	}
	for (size_t i = 0; i < n_svc; i++) {
		char detail[1100];
		if (svc[i].child)
			snprintf(detail, sizeof(detail), "keeper; smbd pid %d; %s", (int)svc[i].child, svc[i].addresses);
		else
			snprintf(detail, sizeof(detail), "%s", svc[i].addresses);
		printf("%-8s %-24s %-8d %s\n", "service", svc[i].name, (int)svc[i].pid, detail);
	}
	struct standby_list l = {0};
	cli_standby_for_each(ctx->root, standby_row, &l);
	return 0;
}

/* ---- stop -------------------------------------------------------------------- */

static int stop_group(struct cli_ctx *ctx, const struct live_group *g)
{
	struct capsid_error err = {0};
	/* The VM stops as `capsid stop` stops it (the group ends Stopped), then
	 * the monitor exits. */
	if (capsid_group_release(ctx->cfg, g->name, &err) < 0)
		return cli_fail("%s; `capsid delete %s` ends it", err.msg, g->name);
	printf("group %s: stopped\n", g->name);
	return 0;
}

static int stop_services(const char *root, const struct net_settings *set, const struct smb_settings *smbset)
{
	int rc = 0;
	struct capsid_error err = {0};
	struct smb_config smb;
	pid_t keeper = 0, smbd = 0;
	if (smb_config_init(root, smbset, &smb, &err) == 0) {
		smb_service_pids(&smb, &keeper, &smbd);
		if (smb_service_pin(&smb, false, &err) < 0 || smb_service_stop(&smb, &err) < 0)
			rc = cli_fail("smbd: %s", err.msg);
		else if (keeper)
			printf("smbd: stopped\n");
	}
	struct net_config net;
	if (net_config_load(root, set, &net, &err) == 0) {
		pid_t dns = net_dns_pid(&net);
		if (net_dns_stop(&net, SERVICE_STOP_WAIT_MS, &err) < 0)
			rc = cli_fail("DNS responder: %s", err.msg);
		else if (dns)
			printf("dns: stopped\n");
	}
	return rc;
}

static int count_one(const char *dir, const char *machine, pid_t pid, void *arg)
{
	(void)dir, (void)machine, (void)pid, (void)arg;
	return 1;
}

static int system_stop(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool force = false;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 'h':
			fputs(stop_help, stdout);
			return 0;
		default:
			fputs(stop_help, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(stop_help, stderr);
		return cli_fail("system stop: unexpected argument %s", argv[optind]);
	}
	_cleanup_free_ struct live_group *groups = NULL;
	size_t n = 0;
	if (live_groups(ctx, &groups, &n) < 0)
		return cli_fail("system stop: out of memory");
	size_t n_memory = 0;
	for (size_t i = 0; i < n; i++)
		if (groups[i].memory_only) {
			n_memory++;
			if (force)
				cli_warn("group %s has %s, kept only in its monitor's memory: once stopped it cannot be "
					 "started again, only deleted and created again",
					 groups[i].name, groups[i].memory_only);
			else
				cli_warn("group %s has %s, kept only in its monitor's memory", groups[i].name,
					 groups[i].memory_only);
		}
	if (n_memory && !force)
		return cli_fail("system stop: nothing stopped: %zu group%s would lose %s secure values for good "
				"(they could only be deleted and created again); --force stops them anyway",
				n_memory, n_memory == 1 ? "" : "s", n_memory == 1 ? "its" : "their");
	struct service svc[2];
	bool any = n || services(ctx->root, &ctx->cfg->net, &ctx->cfg->smb, svc) || cli_standby_for_each(ctx->root, count_one, NULL);
	int rc = cli_cmd_standby(ctx, 2, (char *[]){(char *)"standby", (char *)"stop", NULL});
	for (size_t i = 0; i < n; i++)
		rc |= stop_group(ctx, &groups[i]);
	rc |= stop_services(ctx->root, &ctx->cfg->net, &ctx->cfg->smb);
	/* What stopped has dropped its locks; its exit may take a moment more. */
	pid_t left[64];
	size_t n_left = 0;
	for (int i = 0; i < 100 && (n_left = root_processes(ctx->root, left, ARRAY_SIZE(left))); i++)
		usleep(50 * 1000);
	if (n_left) {
		char list[512] = "";
		for (size_t i = 0; i < n_left; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d", i ? " " : "", (int)left[i]);
		return cli_fail("system stop: still running with %s on their command line: %s", ctx->root, list);
	}
	if (!any)
		printf("nothing runs for %s\n", ctx->root);
	return rc ? 1 : 0;
}

int cli_cmd_system(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_subcommand table[] = {
	    {"status", NULL, system_status},
	    {"stop", NULL, system_stop},
	    {0},
	};
	return cli_subcommand(ctx, argc, argv, "system", system_help, table);
}
