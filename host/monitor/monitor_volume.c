/* The monitor's side of volumes. Before each boot: azureFile volumes get a
 * server address (and the embedded SMB service is started when it serves
 * them), gitRepo volumes an erofs image cloned on the host (once per group),
 * capsidDisk volumes their qcow2 under an attach lock; the disk-backed ones
 * become virtio disks. After the network is configured the agent gets the
 * definitions (VOLUMES); each container's CREATE lists its mounts, and the
 * agent mounts a volume on its first use. The account key and secret
 * contents exist here only in memory (the spec read from the CLI's pipe)
 * and reach the guest only over the agent channel.
 *
 * Which server an azureFile volume uses: the name ACCOUNT.SUFFIX
 * (CAPSID_SMB_SUFFIX, default "file.<DNS zone>"), looked up in the address
 * map CAPSID_SMB_ADDRESSES ("NAME=IPv4,..." with NAME the server name or
 * the account); else, when the embedded service has the account, the
 * group's gateway, where that service listens; else the host's resolver.
 * A VM that mounts an embedded share holds the service (smb_service_hold)
 * from before its boot until it is gone: smbd stops once no VM does. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "disk.h"
#include "gitrepo.h"
#include "monitor.h"
#include "proto.h"
#include "smb.h"
#include "spec.h"
#include "util.h"

bool monitor_volumes_use_smb(const struct monitor *m)
{
	for (size_t i = 0; i < m->spec->n_volumes; i++)
		if (m->spec->volumes[i].kind == SPEC_VOLUME_AZURE_FILE)
			return true;
	return false;
}

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
		if ((strcmp(e, server) == 0 || strcmp(e, account) == 0) && inet_pton(AF_INET, eq + 1, &a) == 1) {
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
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, mv->server, sizeof(mv->server));
		freeaddrinfo(res);
		return 0;
	}
	return capsid_error_set(err, ENOENT,
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

static int git_image(struct monitor *m, const struct spec_volume *v, struct monitor_volume *mv,
		     struct capsid_error *err)
{
	char dir[PATH_MAX];
	if (snprintf(dir, sizeof(dir), "%s/volumes", m->paths->dir) >= (int)sizeof(dir) - 70)
		return capsid_error_set(err, ENAMETOOLONG, "group directory path too long");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return capsid_error_errno(err, errno, "mkdir %s", dir);
	/* Volume names are DNS labels: 63 characters at most, checked above. */
	size_t len = strlen(dir);
	memcpy(mv->disk_path, dir, len);
	snprintf(mv->disk_path + len, sizeof(mv->disk_path) - len, "/%.63s.erofs", v->name);
	mv->format = "raw";
	mv->readonly = true;
	/* Cloned once per group, like a pod's gitRepo: restarts see the same tree. */
	if (access(mv->disk_path, F_OK) == 0)
		return 0;
	monitor_log(m, "volume %s: cloning its repository", v->name); /* a URL may carry a password */
	return gitrepo_build_image(v->git_repo.repository, v->git_repo.directory, v->git_repo.revision, mv->disk_path,
				   m->opts->gitrepo_timeout_s, err);
}

static int attach_disk(struct monitor *m, const struct spec_volume *v, struct monitor_volume *mv,
		       struct capsid_error *err)
{
	int rc = disk_path(m->paths->root, v->disk.volume_name, mv->disk_path, err);
	if (rc < 0)
		return rc;
	rc = disk_lock(m->paths->root, v->disk.volume_name, !v->disk.read_only, m->paths->name, err);
	if (rc < 0)
		return rc;
	mv->lock_fd = rc;
	mv->format = "qcow2";
	mv->readonly = v->disk.read_only;
	return 0;
}

int monitor_volumes_prepare(struct monitor *m, struct vmm_config *cfg, struct capsid_error *err)
{
	const struct spec_group *g = m->spec;
	if (!m->volumes && g->n_volumes) {
		m->volumes = calloc(g->n_volumes, sizeof(*m->volumes));
		if (!m->volumes)
			return capsid_error_errno(err, ENOMEM, "volumes");
		for (size_t i = 0; i < g->n_volumes; i++)
			m->volumes[i].lock_fd = -1;
	}
	struct smb_config smb;
	bool smb_loaded = false, embedded = false;
	struct monitor_volume *smb_user = NULL; /* holds the service while the VM runs */
	for (size_t i = 0; i < g->n_volumes; i++) {
		const struct spec_volume *v = &g->volumes[i];
		struct monitor_volume *mv = &m->volumes[i];
		snprintf(mv->serial, sizeof(mv->serial), "vol%u", (unsigned)(i % 1000)); /* n_volumes is bounded by the spec */
		int rc = 0;
		switch (v->kind) {
		case SPEC_VOLUME_AZURE_FILE:
			if (!smb_loaded && (rc = smb_config_init(m->paths->root, m->opts->smb, &smb, err)) == 0)
				smb_loaded = true;
			if (rc == 0)
				rc = resolve_server(m, v, mv, &smb, &embedded, err);
			if (rc == 0 && embedded && !smb_user)
				smb_user = mv;
			break;
		case SPEC_VOLUME_GIT_REPO:
			rc = git_image(m, v, mv, err);
			break;
		case SPEC_VOLUME_CAPSID_DISK:
			rc = attach_disk(m, v, mv, err);
			break;
		case SPEC_VOLUME_EMPTY_DIR:
		case SPEC_VOLUME_SECRET:
			break;
		}
		if (rc == 0 && mv->disk_path[0]) {
			if (cfg->n_disks == VMM_MAX_DISKS)
				rc = capsid_error_set(err, E2BIG, "more than %d disks", VMM_MAX_DISKS);
			else
				cfg->disks[cfg->n_disks++] = (struct vmm_disk){
					.path = mv->disk_path, .serial = mv->serial, .format = mv->format, .readonly = mv->readonly};
		}
		if (rc < 0) {
			monitor_volumes_release(m);
			return capsid_error_prefix(err, "volume %s", v->name);
		}
	}
	if (embedded) {
		/* Taken before the start, so the keeper cannot stop smbd in between. */
		int rc = smb_service_hold(&smb, err);
		if (rc >= 0) {
			smb_user->lock_fd = rc;
			rc = start_smb(m, &smb, err);
		}
		if (rc < 0) {
			monitor_volumes_release(m);
			return rc;
		}
	}
	return 0;
}

void monitor_volumes_release(struct monitor *m)
{
	for (size_t i = 0; m->volumes && i < m->spec->n_volumes; i++) {
		if (m->volumes[i].lock_fd >= 0)
			close(m->volumes[i].lock_fd);
		m->volumes[i].lock_fd = -1;
		m->volumes[i].disk_path[0] = '\0';
	}
}

static struct json_object *volume_json(const struct spec_volume *v, const struct monitor_volume *mv)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(v->name));
	switch (v->kind) {
	case SPEC_VOLUME_EMPTY_DIR:
		json_object_object_add(o, "kind", json_object_new_string("emptyDir"));
		break;
	case SPEC_VOLUME_SECRET: {
		json_object_object_add(o, "kind", json_object_new_string("secret"));
		struct json_object *files = json_object_new_object();
		for (size_t i = 0; i < v->secret.n_files; i++)
			json_object_object_add(files, v->secret.files[i].name,
					       json_object_new_string(v->secret.files[i].data ? v->secret.files[i].data : ""));
		json_object_object_add(o, "files", files);
		break;
	}
	case SPEC_VOLUME_AZURE_FILE:
		json_object_object_add(o, "kind", json_object_new_string("cifs"));
		json_object_object_add(o, "server", json_object_new_string(mv->server));
		json_object_object_add(o, "share", json_object_new_string(v->azure_file.share_name));
		json_object_object_add(o, "username", json_object_new_string(v->azure_file.account_name));
		json_object_object_add(o, "password",
				       json_object_new_string(v->azure_file.account_key ? v->azure_file.account_key : ""));
		json_object_object_add(o, "readOnly", json_object_new_boolean(v->azure_file.read_only));
		break;
	case SPEC_VOLUME_GIT_REPO:
	case SPEC_VOLUME_CAPSID_DISK:
		json_object_object_add(o, "kind", json_object_new_string("disk"));
		json_object_object_add(o, "serial", json_object_new_string(mv->serial));
		json_object_object_add(o, "fstype",
				       json_object_new_string(v->kind == SPEC_VOLUME_GIT_REPO ? "erofs" : "ext4"));
		json_object_object_add(o, "readOnly", json_object_new_boolean(mv->readonly));
		break;
	}
	return o;
}

int monitor_volumes_configure_guest(struct monitor *m)
{
	struct json_object *arr = json_object_new_array();
	for (size_t i = 0; arr && i < m->spec->n_volumes; i++)
		json_object_array_add(arr, volume_json(&m->spec->volumes[i], &m->volumes[i]));
	struct json_object *body = json_object_new_object();
	json_object_object_add(body, "volumes", arr);
	struct pending_req req = {.kind = REQ_VOLUMES};
	return monitor_agent_request(m, CAPSID_MSG_VOLUMES, body, &req);
}

struct json_object *monitor_volume_mounts(const struct spec_container *sc)
{
	struct json_object *arr = json_object_new_array();
	for (size_t i = 0; arr && i < sc->n_mounts; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "volume", json_object_new_string(sc->mounts[i].name));
		json_object_object_add(o, "destination", json_object_new_string(sc->mounts[i].mount_path));
		json_object_object_add(o, "readOnly", json_object_new_boolean(sc->mounts[i].read_only));
		json_object_array_add(arr, o);
	}
	return arr;
}
