/* The guest's volume kinds as a table of handlers (volume.c runs them; one
 * file per kind holds a kind's guest-side code):
 *
 *   emptyDir  volume_emptydir.c  a tmpfs
 *   secret    volume_secret.c    a tmpfs with the decoded files
 *   cifs      volume_cifs.c      an SMB share (the host's azureFile)
 *   disk      volume_disk.c      a virtio disk by its serial (gitRepo's
 *                                erofs, capsidDisk's ext4)
 *
 * name is the kind's word on the wire (the VOLUMES request); check, when
 * set, checks the kind's own fields of a volume's JSON object and fills
 * its part of the request (request.c has checked name, kind and readOnly);
 * define copies a checked definition into the volume (-ENOMEM when it
 * cannot); mount mounts it at dir; forget, when set, wipes what is needed
 * only to mount (a key, a secret's contents). */
#ifndef AGENT_VOLUME_KINDS_H
#define AGENT_VOLUME_KINDS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "agent.h"
#include "error.h"
#include "request.h"

struct agent_volume {
	struct agent_volume *next;
	char name[AGENT_NAME_MAX + 1];
	enum request_volume_kind kind;
	bool read_only;
	bool mounted;
	char server[16], share[81], username[65];
	char *password; /* cifs: wiped once mounted */
	char serial[AGENT_SERIAL_MAX + 1], fstype[8];
	struct json_object *files; /* secret: name -> base64, released once written */
};

struct volume_kind_ops {
	enum request_volume_kind kind;
	const char *name;
	int (*check)(struct json_object *o, struct request_volume *r, struct capsid_error *err);
	int (*define)(struct agent_volume *v, const struct request_volume *r);
	int (*mount)(struct agent *a, struct agent_volume *v, const char *dir, struct capsid_error *err);
	void (*forget)(struct agent_volume *v);
};

extern const struct volume_kind_ops volume_emptydir_ops;
extern const struct volume_kind_ops volume_secret_ops;
extern const struct volume_kind_ops volume_cifs_ops;
extern const struct volume_kind_ops volume_disk_ops;

/* The kind of that wire name or number (NULL: none such), and the names of
 * every kind as a phrase for errors ("emptyDir, secret, cifs or disk"). */
const struct volume_kind_ops *volume_kind_named(const char *name);
const struct volume_kind_ops *volume_kind_of(enum request_volume_kind kind);
void volume_kind_names(char *out, size_t len);

#endif
