/* azureFile volumes on the host: the SMB server's address, and the
 * embedded SMB service started and held while the VM runs. The guest
 * mounts the share itself (the "cifs" definition); the account key exists
 * here only in memory (the spec read from the CLI's pipe) and reaches the
 * guest only over the agent channel.
 *
 * Which server a volume uses: the name ACCOUNT.SUFFIX (CAPSID_SMB_SUFFIX,
 * default "file.<DNS zone>"), looked up in the address map
 * CAPSID_SMB_ADDRESSES ("NAME=IPv4,..." with NAME the server name or the
 * account); else, when the embedded service has the account, the group's
 * gateway, where that service listens; else the host's resolver. A VM that
 * mounts an embedded share holds the service (smb_service_hold) from before
 * its boot until it is gone: smbd stops once no VM does. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "volume_kinds.h"

/* NAME=IPv4 entries of the address map (CAPSID_SMB_ADDRESSES) for the
 * server name or the account. */
static bool mapped_address(const char *map, const char *server, const char *account, char addr[16])
{
	if (!map || !*map)
		return false;
	_cleanup_free_ char *copy = strdup(map);
	char *save = NULL;
	for (char *e = copy ? strtok_r(copy, ", ", &save) : NULL; e; e = strtok_r(NULL, ", ", &save)) {
		char *eq = strchr(e, '=');
		if (!eq)
			continue;
		*eq = '\0';
		struct in_addr a;
		if ((strcmp(e, server) == 0 || strcmp(e, account) == 0) &&
		    inet_pton(AF_INET, eq + 1, &a) == 1) {
			snprintf(addr, 16, "%s", eq + 1);
			return true;
		}
	}
	return false;
}

static bool embedded_has_account(const struct smb_config *smb, const char *account)
{
	struct smb_share_info *list = NULL;
	size_t n = 0;
	struct capsid_error err = {0};
	if (smb_share_list(smb, &list, &n, &err) < 0)
		return false;
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		found = strcmp(list[i].account, account) == 0;
	free(list);
	return found;
}

static int resolve_server(struct monitor *m, const struct spec_volume *v, struct monitor_volume *mv,
			  const struct smb_config *smb, bool *embedded, struct capsid_error *err)
{
	const char *account = v->azure_file.account_name;
	const char *suffix = m->opts->smb ? m->opts->smb->suffix : NULL;
	char server[300];
	if (suffix && *suffix)
		snprintf(server, sizeof(server), "%s.%s", account, suffix);
	else
		snprintf(server, sizeof(server), "%s.file.%s", account, m->net.cfg.zone);
	if (mapped_address(m->opts->smb ? m->opts->smb->addresses : NULL, server, account, mv->server))
		return 0;
	if (embedded_has_account(smb, account)) {
		snprintf(mv->server, sizeof(mv->server), "%s", m->net.att.gateway);
		*embedded = true;
		return 0;
	}
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
	if (getaddrinfo(server, "445", &hints, &res) == 0 && res) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, mv->server,
			  sizeof(mv->server));
		freeaddrinfo(res);
		return 0;
	}
	return capsid_error_set(
	    err, ENOENT,
	    "storage account %s: no server: %s is not in CAPSID_SMB_ADDRESSES and does not "
	    "resolve, and the embedded service has no such account (capsid share create %s/%s)",
	    account, server, account, v->azure_file.share_name);
}

/* Every gateway with groups on it, the group's own first: smbd listens on
 * all of them, so one reload for this group keeps serving the others. */
static int start_smb(struct monitor *m, const struct smb_config *smb, struct capsid_error *err)
{
	struct net_network_info *nets = NULL;
	size_t n = 0;
	int rc = net_network_list(&m->net.cfg, &nets, &n, err);
	if (rc < 0)
		return rc;
	const char *addrs[SMB_MAX_ADDRESSES] = {m->net.att.gateway};
	size_t k = 1;
	for (size_t i = 0; i < n && k < SMB_MAX_ADDRESSES; i++)
		if (nets[i].n_groups > 0 && strcmp(nets[i].gateway, m->net.att.gateway) != 0)
			addrs[k++] = nets[i].gateway;
	rc = smb_service_start(smb, addrs, k, err);
	free(nets);
	return rc < 0 ? capsid_error_prefix(err, "embedded SMB service") : 0;
}

static int azurefile_prepare(struct monitor *m, const struct spec_volume *v, struct monitor_volume *mv,
			     struct volume_prepare_ctx *ctx, struct capsid_error *err)
{
	if (!ctx->smb_loaded) {
		int rc = smb_config_init(m->paths->root, m->opts->smb, &ctx->smb, err);
		if (rc < 0)
			return rc;
		ctx->smb_loaded = true;
	}
	bool embedded = false;
	int rc = resolve_server(m, v, mv, &ctx->smb, &embedded, err);
	if (rc == 0 && embedded && !ctx->smb_user)
		ctx->smb_user = mv;
	return rc;
}

static int azurefile_finish(struct monitor *m, struct volume_prepare_ctx *ctx, struct capsid_error *err)
{
	if (!ctx->smb_user)
		return 0;
	/* Taken before the start, so the keeper cannot stop smbd in between. */
	int rc = smb_service_hold(&ctx->smb, err);
	if (rc < 0)
		return rc;
	ctx->smb_user->lock_fd = rc;
	return start_smb(m, &ctx->smb, err);
}

static void azurefile_describe(const struct spec_volume *v, const struct monitor_volume *mv,
			       struct json_object *o)
{
	json_object_object_add(o, "kind", json_object_new_string("cifs"));
	json_object_object_add(o, "server", json_object_new_string(mv->server));
	json_object_object_add(o, "share", json_object_new_string(v->azure_file.share_name));
	json_object_object_add(o, "username", json_object_new_string(v->azure_file.account_name));
	json_object_object_add(
	    o, "password",
	    json_object_new_string(v->azure_file.account_key ? v->azure_file.account_key : ""));
	json_object_object_add(o, "readOnly", json_object_new_boolean(v->azure_file.read_only));
}

const struct volume_kind_ops volume_azurefile_ops = {
    .kind = SPEC_VOLUME_AZURE_FILE,
    .uses_smb = true,
    .prepare = azurefile_prepare,
    .finish = azurefile_finish,
    .describe = azurefile_describe,
};
