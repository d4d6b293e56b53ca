/* The monitor's side of volumes, kind by kind through the handlers of
 * volume_kinds.h (one file per kind). Before each boot every volume is
 * prepared (an azureFile's server address, a gitRepo's erofs image, a
 * capsidDisk's qcow2 under its attach lock); the disk-backed ones become
 * virtio disks. After the network is configured the agent gets the
 * definitions (VOLUMES); each container's CREATE lists its mounts, and the
 * agent mounts a volume on its first use. What prepare took (locks, the
 * hold on the embedded SMB service) is released once QEMU is gone. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "monitor.h"
#include "proto.h"
#include "spec.h"
#include "volume_kinds.h"

static const struct volume_kind_ops *const kinds[] = {
	&volume_azurefile_ops, &volume_emptydir_ops, &volume_secret_ops, &volume_gitrepo_ops, &volume_disk_ops,
};

static const struct volume_kind_ops *kind_ops(enum spec_volume_kind k)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i]->kind == k)
			return kinds[i];
	return NULL;
}

bool monitor_volumes_use_smb(const struct monitor *m)
{
	for (size_t i = 0; i < m->spec->n_volumes; i++) {
		const struct volume_kind_ops *ops = kind_ops(m->spec->volumes[i].kind);
		if (ops && ops->uses_smb)
			return true;
	}
	return false;
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
	struct volume_prepare_ctx ctx = {.cfg = cfg};
	for (size_t i = 0; i < g->n_volumes; i++) {
		const struct spec_volume *v = &g->volumes[i];
		struct monitor_volume *mv = &m->volumes[i];
		snprintf(mv->serial, sizeof(mv->serial), "vol%u", (unsigned)(i % 1000)); /* n_volumes is bounded by the spec */
		const struct volume_kind_ops *ops = kind_ops(v->kind);
		int rc = ops && ops->prepare ? ops->prepare(m, v, mv, &ctx, err) : 0;
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
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		int rc = kinds[k]->finish ? kinds[k]->finish(m, &ctx, err) : 0;
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
		const struct volume_kind_ops *ops = kind_ops(m->spec->volumes[i].kind);
		if (ops && ops->release)
			ops->release(&m->volumes[i]);
		if (m->volumes[i].lock_fd >= 0)
			close(m->volumes[i].lock_fd);
		m->volumes[i].lock_fd = -1;
		m->volumes[i].disk_path[0] = '\0';
	}
}

void volume_describe_disk(const struct monitor_volume *mv, const char *fstype, struct json_object *o)
{
	json_object_object_add(o, "kind", json_object_new_string("disk"));
	json_object_object_add(o, "serial", json_object_new_string(mv->serial));
	json_object_object_add(o, "fstype", json_object_new_string(fstype));
	json_object_object_add(o, "readOnly", json_object_new_boolean(mv->readonly));
}

static struct json_object *volume_json(const struct spec_volume *v, const struct monitor_volume *mv)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(v->name));
	const struct volume_kind_ops *ops = kind_ops(v->kind);
	if (ops && ops->describe)
		ops->describe(v, mv, o);
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
