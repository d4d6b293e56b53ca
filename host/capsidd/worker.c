/* capsidd's workers: each blocking operation (create, delete, start, stop,
 * restart, update) in a child process that writes its end into the operation's
 * file. The child is no one's but its own once forked: a capsidd that
 * dies leaves it to finish, and the file tells the next capsidd. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arm.h"
#include "spec.h"

static void worker_run(const struct cd_server *s, enum cd_op_kind kind, const char *group,
		       const struct spec_group *spec, const char *op)
{
	struct capsid_error err = {0};
	int rc = 0;
	switch (kind) {
	case CD_OP_UPDATE:
		rc = capsid_group_delete(&s->cfg, group, &err);
		if (rc < 0 && rc != -ENOENT)
			break;
		/* Then created anew from the new properties. */
		__attribute__((fallthrough));
	case CD_OP_CREATE: {
		struct capsid_create_opts o = {.spec = spec};
		rc = capsid_group_create(&s->cfg, &o, &err);
		break;
	}
	case CD_OP_DELETE:
		rc = capsid_group_delete(&s->cfg, group, &err);
		if (rc == -ENOENT)
			rc = 0; /* a create that failed left no group */
		if (rc == 0 && cd_record_remove(s->dir, group) < 0)
			rc = capsid_error_errno(&err, errno, "remove the record of %s", group);
		break;
	case CD_OP_START:
		rc = capsid_group_start(&s->cfg, group, &err);
		break;
	case CD_OP_STOP:
		rc = capsid_group_stop(&s->cfg, group, &err);
		break;
	case CD_OP_RESTART:
		rc = capsid_group_restart(&s->cfg, group, &err);
		break;
	}
	if (rc < 0) {
		const char *code;
		int status = arm_status_of_errno(err.code ? err.code : -rc, &code);
		if ((kind == CD_OP_CREATE || kind == CD_OP_UPDATE) && status == 400)
			code = "InvalidRequestContent";
		cd_op_finish(s->dir, op, status, code, err.msg[0] ? err.msg : strerror(-rc));
	} else {
		cd_op_finish(s->dir, op, 200, NULL, NULL);
	}
}

int cd_worker_start(struct cd_server *s, enum cd_op_kind kind, const char *group, const char *tenant,
		    const struct spec_group *spec, struct json_object *rec, char op[40],
		    struct capsid_error *err)
{
	struct cd_worker *slot = NULL;
	for (size_t i = 0; i < s->lim.max_workers + CD_MAX_SESSIONS && !slot; i++)
		if (!s->workers[i].pid)
			slot = &s->workers[i];
	if (s->n_workers >= s->lim.max_workers || !slot)
		return capsid_error_set(err, EAGAIN, "%u operations are running; retry later", s->n_workers);
	int rc = cd_op_create(s, kind, group, tenant, op);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "write the operation's file");
	/* The record names its operation before the worker runs: a delete's
	 * worker removes the record, and nothing may write it after. */
	json_object_object_add(rec, "operation", json_object_new_string(op));
	if (kind == CD_OP_CREATE || kind == CD_OP_UPDATE)
		json_object_object_add(rec, "createOperation", json_object_new_string(op));
	if ((rc = cd_record_save(s, group, rec)) < 0) {
		cd_op_finish(s->dir, op, 500, "InternalServerError", "cannot save the group's record");
		return capsid_error_errno(err, -rc, "save the record of %s", group);
	}
	pid_t pid = fork();
	if (pid < 0) {
		rc = capsid_error_errno(err, errno, "fork");
		cd_op_finish(s->dir, op, 500, "InternalServerError", err->msg);
		return rc;
	}
	if (pid == 0) {
		cd_child_detach(-1);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null >= 0)
			dup2(null, 0);
		worker_run(s, kind, group, spec, op);
		_exit(0);
	}
	slot->pid = pid;
	snprintf(slot->op, sizeof(slot->op), "%s", op);
	s->n_workers++;
	cd_op_set_pid(s, op, pid);
	return 0;
}
