/* The monitor's volume kinds as a table of handlers (monitor_volume.c runs
 * them; one file per kind holds a kind's host-side code):
 *
 *   azureFile   volume_azurefile.c  the SMB server's address; the embedded
 *                                   service started and held while the VM runs
 *   emptyDir    volume_emptydir.c   nothing on the host
 *   secret      volume_secret.c     nothing on the host; the files travel
 *                                   in the definition
 *   gitRepo     volume_gitrepo.c    an erofs image cloned once per group
 *   capsidDisk  volume_disk.c       the qcow2 under its attach lock
 *
 * A kind's prepare runs before each boot and fills its monitor_volume (a
 * disk_path makes it a virtio disk); finish, when set, runs once after
 * every volume was prepared (the SMB service is started there); describe
 * adds the kind's fields to the guest's definition (the VOLUMES request,
 * "name" already set); release, when set, frees what prepare took beyond
 * lock_fd, which monitor_volume.c closes for every kind. */
#ifndef CAPSID_MONITOR_VOLUME_KINDS_H
#define CAPSID_MONITOR_VOLUME_KINDS_H

#include <json-c/json.h>

#include "monitor.h"
#include "smb.h"
#include "spec.h"

/* What prepare shares across one boot's volumes. */
struct volume_prepare_ctx {
	struct vmm_config *cfg;
	struct smb_config smb; /* loaded on first use */
	bool smb_loaded;
	struct monitor_volume *smb_user; /* holds the embedded service while the VM runs */
};

struct volume_kind_ops {
	enum spec_volume_kind kind;
	bool uses_smb; /* the guest mounts it from an SMB server */
	int (*prepare)(struct monitor *m, const struct spec_volume *v, struct monitor_volume *mv,
		       struct volume_prepare_ctx *ctx, struct capsid_error *err);
	int (*finish)(struct monitor *m, struct volume_prepare_ctx *ctx, struct capsid_error *err);
	void (*describe)(const struct spec_volume *v, const struct monitor_volume *mv, struct json_object *o);
	void (*release)(struct monitor_volume *mv);
};

/* The definition of a disk-backed volume (gitRepo's erofs, capsidDisk's
 * ext4): found in the guest by its serial. */
void volume_describe_disk(const struct monitor_volume *mv, const char *fstype, struct json_object *o);

extern const struct volume_kind_ops volume_azurefile_ops;
extern const struct volume_kind_ops volume_emptydir_ops;
extern const struct volume_kind_ops volume_secret_ops;
extern const struct volume_kind_ops volume_gitrepo_ops;
extern const struct volume_kind_ops volume_disk_ops;

#endif
