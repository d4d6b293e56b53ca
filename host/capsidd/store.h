/* capsidd's state under <root>/capsidd: one record per ARM resource
 * (resources/<group>.json: who owns it, its ARM name, location, tags and
 * the redacted spec it was created with) and one file per long-running
 * operation (operations/<id>.json). The group itself is libcapsid's, under
 * <root>/groups/<group>, named after its tenant, subscription and resource
 * group so that `capsid list` shows whose it is. */
#ifndef CAPSIDD_STORE_H
#define CAPSIDD_STORE_H

#include <stdbool.h>
#include <sys/types.h>

#include "capsidd.h"

struct json_object;

/* A group as ARM names it. */
struct cd_ident {
	const char *tenant, *sub, *rg, *name;
};

/* UPDATE: a PUT that changes an existing group's properties redeploys it
 * (delete, then create under the same name), as ACI restarts an updated group. */
enum cd_op_kind { CD_OP_CREATE, CD_OP_DELETE, CD_OP_START, CD_OP_STOP, CD_OP_RESTART, CD_OP_UPDATE };
enum cd_op_status { CD_OP_RUNNING, CD_OP_SUCCEEDED, CD_OP_FAILED };

int cd_store_init(struct cd_server *s, struct capsid_error *err);
/* The libcapsid group name of an ARM group (at most 63 characters):
 * TENANT-SUB8-RG-NAME, with a hash of the whole when a part had to be
 * shortened or changed. */
void cd_group_name(const struct cd_ident *id, char out[UTIL_NAME_MAX + 1]);

/* The record of group, -ENOENT when absent or owned by another identity. */
int cd_record_load(const struct cd_server *s, const char *group, const struct cd_ident *id,
		   struct json_object **out);
int cd_record_save(const struct cd_server *s, const char *group, struct json_object *rec);
int cd_record_remove(const char *dir, const char *group);
/* Every record of tenant in sub and rg (each NULL: any), sorted by group. */
int cd_record_list(const struct cd_server *s, const char *tenant, const char *sub, const char *rg,
		   struct json_object **out);

/* A new operation file, status InProgress; id gets its name. */
int cd_op_create(const struct cd_server *s, enum cd_op_kind kind, const char *group, const char *tenant,
		 char id[40]);
int cd_op_set_pid(const struct cd_server *s, const char *id, pid_t pid);
/* Write the end of an operation (status Succeeded when err is NULL). */
int cd_op_finish(const char *dir, const char *id, int http_status, const char *code, const char *message);
/* The operation's file, with its status made truthful (a worker that is
 * gone without writing its end: Failed). -ENOENT when absent or tenant's
 * not. */
int cd_op_load(const struct cd_server *s, const char *id, const char *tenant, struct json_object **out,
	       enum cd_op_status *status);
const char *cd_op_kind_name(enum cd_op_kind k);
const char *cd_op_status_name(enum cd_op_status st);

/* A random hex string of 2*bytes characters. */
int cd_random_hex(char *out, size_t bytes);

#endif
