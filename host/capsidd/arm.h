/* ARM's routes and rules for capsidd: the path grammar, api-version, the
 * tenant's subscriptions, names, and the documents groups are shown as. */
#ifndef CAPSIDD_ARM_H
#define CAPSIDD_ARM_H

#include "capsidd.h"
#include "store.h"

#define ARM_PROVIDER "Microsoft.ContainerInstance"

struct arm_route {
	const struct cd_token *tok;
	const char *sub, *rg, *name, *container, *action, *location, *op;
	const char *api_version;
	const char *tail, *timestamps, *skiptoken;
	struct cd_ident ident;
	char group[UTIL_NAME_MAX + 1]; /* libcapsid's name of the group */
};

/* The group's ARM document: libcapsid's (or, before the group exists, the
 * spec it was asked with) under its ARM id, name, location and tags, with
 * provisioningState. */
struct json_object *arm_group_doc(struct cd_server *s, const struct arm_route *r, struct json_object *rec);
/* The record of the route's group, or a 404 answered and NULL. */
struct json_object *arm_find_group(struct cd_server *s, struct cd_conn *c, const struct arm_route *r);
/* An https URL on this server: "https://HOST" + path (+ "?" query). */
void arm_url(struct cd_server *s, struct cd_conn *c, char *out, size_t len, const char *path,
	     const char *query);
/* A libcapsid error as ARM's (status and code). */
void arm_respond_capsid_error(struct cd_server *s, struct cd_conn *c, const struct capsid_error *err,
			      const char *target);
int arm_status_of_errno(int code, const char **arm_code);
/* 0 when the tenant may add new_groups groups (0: an update grows one) and
 * cores and mem_mib more, else -1 with ARM's quota error answered. */
int arm_quota_check(struct cd_server *s, struct cd_conn *c, const char *tenant, unsigned new_groups,
		    unsigned cores, unsigned mem_mib);
/* Whether the group's containers (its document's properties.containers)
 * hold r->container; false when not, with ARM's 404 ContainerNotFound
 * answered. */
bool arm_has_container(struct cd_server *s, struct cd_conn *c, const struct arm_route *r,
		       struct json_object *containers);
/* The status of the record's latest operation (CD_OP_SUCCEEDED when none). */
enum cd_op_status arm_latest_op(struct cd_server *s, struct json_object *rec, const char **kind);

/* arm_groups.c: the group routes. */
void arm_put(struct cd_server *s, struct cd_conn *c, struct arm_route *r);
void arm_patch(struct cd_server *s, struct cd_conn *c, struct arm_route *r);
void arm_delete(struct cd_server *s, struct cd_conn *c, struct arm_route *r);
void arm_action(struct cd_server *s, struct cd_conn *c, struct arm_route *r);
void arm_logs(struct cd_server *s, struct cd_conn *c, struct arm_route *r);
/* ws.c: exec and attach hand out a websocket session. */
void arm_exec(struct cd_server *s, struct cd_conn *c, struct arm_route *r, bool attach);

/* worker.c: run a blocking operation in a child process; op gets its id,
 * and the group's record rec is saved naming it (as its latest, and as
 * its create) before the child starts. spec (create only) is the child's
 * to use. -EAGAIN: too many running. */
int cd_worker_start(struct cd_server *s, enum cd_op_kind kind, const char *group, const char *tenant,
		    const struct spec_group *spec, struct json_object *rec, char op[40],
		    struct capsid_error *err);

#endif
