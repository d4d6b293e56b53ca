/* capsidd's group routes that change or read a group: PUT, PATCH, DELETE,
 * start, stop, restart and logs. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arm.h"
#include "cleanup.h"
#include "spec.h"
#include "util.h"

#define MAX_TAGS 50
#define LOGS_MAX (4u << 20)

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : NULL;
}

enum cd_op_status arm_latest_op(struct cd_server *s, struct json_object *rec, const char **kind)
{
	static char kind_buf[16];
	const char *id = str_of(rec, "operation");
	_cleanup_json_ struct json_object *op = NULL;
	enum cd_op_status st = CD_OP_SUCCEEDED;
	*kind = "";
	if (id && cd_op_load(s, id, NULL, &op, &st) == 0) {
		snprintf(kind_buf, sizeof(kind_buf), "%s", str_of(op, "kind") ?: "");
		*kind = kind_buf;
	}
	return st;
}

/* The body as a JSON object, or 400 answered and NULL. */
static struct json_object *parse_body(struct cd_server *s, struct cd_conn *c)
{
	if (c->req.body_len == 0) {
		cd_respond_error(s, c, 400, "InvalidRequestContent", NULL, "The request content is empty.");
		return NULL;
	}
	struct json_tokener *tok = json_tokener_new_ex(SPEC_MAX_DEPTH);
	if (!tok) {
		cd_respond_error(s, c, 500, "InternalServerError", NULL, "out of memory");
		return NULL;
	}
	struct json_object *doc = json_tokener_parse_ex(tok, c->req.body, (int)c->req.body_len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	size_t off = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!doc || e != json_tokener_success || off != c->req.body_len) {
		json_object_put(doc);
		cd_respond_error(
		    s, c, 400, "InvalidRequestContent", NULL,
		    "The request content was invalid and could not be deserialized: %s at byte %zu.",
		    e == json_tokener_continue	? "the JSON ends early"
		    : e != json_tokener_success ? json_tokener_error_desc(e)
						: "data after the JSON",
		    off);
		return NULL;
	}
	if (!json_object_is_type(doc, json_type_object)) {
		json_object_put(doc);
		cd_respond_error(s, c, 400, "InvalidRequestContent", NULL,
				 "The request content must be a JSON object.");
		return NULL;
	}
	return doc;
}

/* tags: an object of strings, as ARM bounds them. 0, or -1 answered. */
static int check_tags(struct cd_server *s, struct cd_conn *c, struct json_object *tags)
{
	if (!tags)
		return 0;
	if (!json_object_is_type(tags, json_type_object) || json_object_object_length(tags) > MAX_TAGS) {
		cd_respond_error(s, c, 400, "InvalidTagsFormat", "tags",
				 "tags must be an object of at most %d strings.", MAX_TAGS);
		return -1;
	}
	json_object_object_foreach(tags, k, v)
	{
		if (!json_object_is_type(v, json_type_string) || strlen(k) == 0 || strlen(k) > 512 ||
		    strlen(json_object_get_string(v)) > 256) {
			cd_respond_error(
			    s, c, 400, "InvalidTagNameCharacters", "tags",
			    "tags.%.64s: a tag is a name of 1-512 characters with a string value of at most "
			    "256.",
			    k);
			return -1;
		}
	}
	return 0;
}

static void respond_spec_error(struct cd_server *s, struct cd_conn *c, const struct capsid_error *err)
{
	/* The spec's errors start with the field's path: ARM's target. */
	char target[256] = "";
	const char *colon = strstr(err->msg, ": ");
	if (colon && (size_t)(colon - err->msg) < sizeof(target) &&
	    !memchr(err->msg, ' ', (size_t)(colon - err->msg)))
		snprintf(target, sizeof(target), "%.*s", (int)(colon - err->msg), err->msg);
	cd_respond_error(s, c, 400, "InvalidRequestContent", target[0] ? target : NULL, "%s", err->msg);
}

/* The redacted spec without what PUT may change on an existing group. */
static struct json_object *comparable(struct json_object *spec)
{
	struct json_object *o = NULL;
	if (!spec || json_object_deep_copy(spec, &o, NULL) < 0)
		return NULL;
	json_object_object_del(o, "tags");
	json_object_object_del(o, "location");
	json_object_object_del(o, "apiVersion");
	return o;
}

static void respond_with_op(struct cd_server *s, struct cd_conn *c, const struct arm_route *r, int status,
			    const char *op, bool async_header, struct json_object *body)
{
	char path[512], query[96], url[1024], headers[2300];
	snprintf(query, sizeof(query), "api-version=%s", r->api_version);
	snprintf(path, sizeof(path), "/subscriptions/%s/providers/" ARM_PROVIDER "/locations/%s/%s/%s",
		 r->sub, s->location, async_header ? "operations" : "operationResults", op);
	arm_url(s, c, url, sizeof(url), path, query);
	snprintf(headers, sizeof(headers), "%s: %s\r\nRetry-After: 1\r\n",
		 async_header ? "Azure-AsyncOperation" : "Location", url);
	cd_respond(s, c, status, headers, body);
}

/* Start a worker for an operation on a group (spec: what create and update
 * make), recorded as its latest; the op id in op. 0, or -1 answered. */
static int start_op(struct cd_server *s, struct cd_conn *c, struct arm_route *r, struct json_object *rec,
		    enum cd_op_kind kind, const struct spec_group *spec, char op[40])
{
	struct capsid_error err = {0};
	int rc = cd_worker_start(s, kind, r->group, r->tok->tenant, spec, rec, op, &err);
	if (rc < 0) {
		if (rc == -EAGAIN)
			cd_respond_error(s, c, 429, "TooManyRequests", NULL, "%s", err.msg);
		else
			cd_respond_error(s, c, 500, "InternalServerError", NULL, "%s", err.msg);
		return -1;
	}
	return 0;
}

static int int_of(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_int(v) : 0;
}

/* A PUT of new properties: the group is redeployed (deleted, then created
 * under the same name: its containers restart from the new spec, as an
 * updated ACI group's do), an operation like a create's. */
static void put_update(struct cd_server *s, struct cd_conn *c, struct arm_route *r, struct json_object *rec,
		       struct json_object *doc, const struct spec_group *spec)
{
	unsigned cores = spec_group_vcpus(spec), mem = spec_group_memory_mib(spec);
	int old_cores = int_of(rec, "cores"), old_mem = int_of(rec, "memoryMiB");
	/* The quota counts the group once: only what it grows by. */
	if (arm_quota_check(s, c, r->tok->tenant, 0, cores > (unsigned)old_cores ? cores - old_cores : 0,
			    mem > (unsigned)old_mem ? mem - old_mem : 0) < 0)
		return;
	struct json_object *tags, *loc;
	if (json_object_object_get_ex(doc, "tags", &tags))
		json_object_object_add(rec, "tags", json_object_get(tags));
	if (json_object_object_get_ex(doc, "location", &loc))
		json_object_object_add(rec, "location", json_object_get(loc));
	json_object_object_add(rec, "spec", spec_to_json(spec, SPEC_REDACT));
	json_object_object_add(rec, "cores", json_object_new_int((int)cores));
	json_object_object_add(rec, "memoryMiB", json_object_new_int((int)mem));
	char op[40];
	if (start_op(s, c, r, rec, CD_OP_UPDATE, spec, op) == 0)
		respond_with_op(s, c, r, 200, op, true, arm_group_doc(s, r, rec));
}

static void put_existing(struct cd_server *s, struct cd_conn *c, struct arm_route *r, struct json_object *rec,
			 struct json_object *doc, const struct spec_group *spec)
{
	_cleanup_json_ struct json_object *now = spec_to_json(spec, SPEC_REDACT);
	struct json_object *old_spec = NULL;
	json_object_object_get_ex(rec, "spec", &old_spec);
	_cleanup_json_ struct json_object *a = comparable(now), *b = comparable(old_spec);
	if (!a || !b || !json_object_equal(a, b)) {
		put_update(s, c, r, rec, doc, spec);
		return;
	}
	struct json_object *tags;
	if (json_object_object_get_ex(doc, "tags", &tags))
		json_object_object_add(rec, "tags", json_object_get(tags));
	if (cd_record_save(s, r->group, rec) < 0) {
		cd_respond_error(s, c, 500, "InternalServerError", NULL, "cannot save the group's record");
		return;
	}
	cd_respond(s, c, 200, NULL, arm_group_doc(s, r, rec));
}

void arm_put(struct cd_server *s, struct cd_conn *c, struct arm_route *r)
{
	_cleanup_json_ struct json_object *doc = parse_body(s, c);
	if (!doc)
		return;
	struct json_object *tags = NULL, *loc = NULL;
	json_object_object_get_ex(doc, "tags", &tags);
	if (check_tags(s, c, tags) < 0)
		return;
	if (json_object_object_get_ex(doc, "location", &loc) &&
	    (!json_object_is_type(loc, json_type_string) || json_object_get_string_len(loc) > 64)) {
		cd_respond_error(s, c, 400, "InvalidRequestContent", "location",
				 "location must be a short string.");
		return;
	}
	/* The group's name is the path's, as libcapsid names it. */
	json_object_object_add(doc, "name", json_object_new_string(r->group));
	_cleanup_spec_ struct spec_group *spec = NULL;
	struct spec_warnings warn = {0};
	struct capsid_error err = {0};
	if (spec_from_json(doc, &spec, &warn, &err) < 0) {
		spec_warnings_free(&warn);
		respond_spec_error(s, c, &err);
		return;
	}
	spec_warnings_free(&warn);
	_cleanup_json_ struct json_object *rec = NULL;
	if (cd_record_load(s, r->group, &r->ident, &rec) == 0) {
		const char *kind;
		enum cd_op_status st = arm_latest_op(s, rec, &kind);
		if (st == CD_OP_RUNNING) {
			cd_respond_error(s, c, 409, "AnotherOperationInProgress", NULL,
					 "The container group '%s' has an operation (%s) in progress.",
					 r->name, kind);
			return;
		}
		const char *create_id = str_of(rec, "createOperation");
		_cleanup_json_ struct json_object *cop = NULL;
		enum cd_op_status cst = CD_OP_SUCCEEDED;
		if (create_id)
			cd_op_load(s, create_id, NULL, &cop, &cst);
		if (cst != CD_OP_FAILED) {
			put_existing(s, c, r, rec, doc, spec);
			return;
		}
		/* A create that failed left nothing but its record: try again. */
		json_object_put(TAKE_PTR(rec));
	} else if (cd_record_load(s, r->group, NULL, &rec) == 0) {
		cd_respond_error(s, c, 409, "Conflict", NULL, "The name '%s' is taken; choose another.",
				 r->name);
		return;
	}
	unsigned cores = spec_group_vcpus(spec), mem = spec_group_memory_mib(spec);
	if (arm_quota_check(s, c, r->tok->tenant, 1, cores, mem) < 0)
		return;
	rec = json_object_new_object();
	json_object_object_add(rec, "tenant", json_object_new_string(r->tok->tenant));
	json_object_object_add(rec, "subscription", json_object_new_string(r->sub));
	json_object_object_add(rec, "resourceGroup", json_object_new_string(r->rg));
	json_object_object_add(rec, "name", json_object_new_string(r->name));
	json_object_object_add(rec, "location",
			       json_object_new_string(loc ? json_object_get_string(loc) : s->location));
	json_object_object_add(rec, "tags", tags ? json_object_get(tags) : json_object_new_object());
	json_object_object_add(rec, "spec", spec_to_json(spec, SPEC_REDACT));
	json_object_object_add(rec, "cores", json_object_new_int((int)cores));
	json_object_object_add(rec, "memoryMiB", json_object_new_int((int)mem));
	char op[40];
	if (start_op(s, c, r, rec, CD_OP_CREATE, spec, op) == 0)
		respond_with_op(s, c, r, 201, op, true, arm_group_doc(s, r, rec));
}

void arm_patch(struct cd_server *s, struct cd_conn *c, struct arm_route *r)
{
	_cleanup_json_ struct json_object *doc = parse_body(s, c);
	if (!doc)
		return;
	_cleanup_json_ struct json_object *rec = arm_find_group(s, c, r);
	if (!rec)
		return;
	struct json_object *tags = NULL;
	json_object_object_get_ex(doc, "tags", &tags);
	if (check_tags(s, c, tags) < 0)
		return;
	if (tags)
		json_object_object_add(rec, "tags", json_object_get(tags));
	if (cd_record_save(s, r->group, rec) < 0) {
		cd_respond_error(s, c, 500, "InternalServerError", NULL, "cannot save the group's record");
		return;
	}
	cd_respond(s, c, 200, NULL, arm_group_doc(s, r, rec));
}

void arm_delete(struct cd_server *s, struct cd_conn *c, struct arm_route *r)
{
	_cleanup_json_ struct json_object *rec = NULL;
	if (cd_record_load(s, r->group, &r->ident, &rec) < 0) {
		cd_respond(s, c, 204, NULL, NULL);
		return;
	}
	const char *kind;
	if (arm_latest_op(s, rec, &kind) == CD_OP_RUNNING) {
		if (strcmp(kind, "delete") == 0) {
			respond_with_op(s, c, r, 202, str_of(rec, "operation"), false, NULL);
			return;
		}
		cd_respond_error(s, c, 409, "AnotherOperationInProgress", NULL,
				 "The container group '%s' has an operation (%s) in progress.", r->name,
				 kind);
		return;
	}
	char op[40];
	if (start_op(s, c, r, rec, CD_OP_DELETE, NULL, op) < 0)
		return;
	respond_with_op(s, c, r, 202, op, false, NULL);
}

void arm_action(struct cd_server *s, struct cd_conn *c, struct arm_route *r)
{
	_cleanup_json_ struct json_object *rec = arm_find_group(s, c, r);
	if (!rec)
		return;
	const char *kind;
	if (arm_latest_op(s, rec, &kind) == CD_OP_RUNNING) {
		cd_respond_error(s, c, 409, "AnotherOperationInProgress", NULL,
				 "The container group '%s' has an operation (%s) in progress.", r->name,
				 kind);
		return;
	}
	_cleanup_json_ struct json_object *doc = arm_group_doc(s, r, rec);
	struct json_object *props = NULL;
	json_object_object_get_ex(doc, "properties", &props);
	if (strcmp(str_of(props, "provisioningState") ?: "", "Succeeded") != 0) {
		cd_respond_error(s, c, 409, "ContainerGroupNotReady", NULL, "The container group '%s' is %s.",
				 r->name, str_of(props, "provisioningState") ?: "?");
		return;
	}
	enum cd_op_kind k = strcasecmp(r->action, "start") == 0	 ? CD_OP_START
			    : strcasecmp(r->action, "stop") == 0 ? CD_OP_STOP
								 : CD_OP_RESTART;
	char op[40];
	if (start_op(s, c, r, rec, k, NULL, op) < 0)
		return;
	if (k == CD_OP_STOP)
		cd_conn_park(s, c, op); /* answered 204 when it ends (stop is not an LRO) */
	else
		respond_with_op(s, c, r, 202, op, false, NULL);
}

void cd_arm_op_answer(struct cd_server *s, struct cd_conn *c, const char *op)
{
	_cleanup_json_ struct json_object *doc = NULL;
	enum cd_op_status st;
	if (cd_op_load(s, op, NULL, &doc, &st) < 0) {
		cd_respond_error(s, c, 500, "InternalServerError", NULL, "the operation's record is gone");
		return;
	}
	if (st == CD_OP_SUCCEEDED) {
		cd_respond(s, c, 204, NULL, NULL);
		return;
	}
	struct json_object *e = NULL, *hs = NULL;
	json_object_object_get_ex(doc, "error", &e);
	json_object_object_get_ex(doc, "httpStatus", &hs);
	cd_respond_error(s, c, hs ? json_object_get_int(hs) : 500, str_of(e, "code") ?: "InternalServerError",
			 NULL, "%s", str_of(e, "message") ?: "the operation failed");
}

struct logs_buf {
	char *data;
	size_t len, cap;
	bool truncated, stamps, mid_line;
};

static void on_log_line(void *ud, const struct capsid_log_line *l)
{
	struct logs_buf *b = ud;
	size_t stamp = b->stamps && !b->mid_line ? strlen(l->time) + 1 : 0;
	size_t need = stamp + l->len + (l->partial ? 0 : 1);
	if (b->len + need > LOGS_MAX) {
		b->truncated = true;
		return;
	}
	if (b->len + need + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + need + 1)
			cap *= 2;
		char *n = realloc(b->data, cap);
		if (!n) {
			b->truncated = true;
			return;
		}
		b->data = n;
		b->cap = cap;
	}
	if (stamp) {
		memcpy(b->data + b->len, l->time, stamp - 1);
		b->data[b->len + stamp - 1] = ' ';
		b->len += stamp;
	}
	b->mid_line = l->partial;
	memcpy(b->data + b->len, l->text, l->len);
	b->len += l->len;
	if (!l->partial)
		b->data[b->len++] = '\n';
	b->data[b->len] = '\0';
}

void arm_logs(struct cd_server *s, struct cd_conn *c, struct arm_route *r)
{
	_cleanup_json_ struct json_object *rec = arm_find_group(s, c, r);
	if (!rec)
		return;
	long tail = -1;
	if (r->tail) {
		char *e;
		tail = strtol(r->tail, &e, 10);
		if (!*r->tail || *e || tail < 0 || tail > 1000000) {
			cd_respond_error(s, c, 400, "InvalidRequestParameter", "tail",
					 "tail must be a number of lines from 0 to 1000000.");
			return;
		}
	}
	bool stamps = r->timestamps && strcasecmp(r->timestamps, "true") == 0;
	if (r->timestamps && !stamps && strcasecmp(r->timestamps, "false") != 0) {
		cd_respond_error(s, c, 400, "InvalidRequestParameter", "timestamps",
				 "timestamps must be true or false.");
		return;
	}
	_cleanup_json_ struct json_object *doc = arm_group_doc(s, r, rec);
	struct json_object *props = NULL, *containers = NULL;
	json_object_object_get_ex(doc, "properties", &props);
	json_object_object_get_ex(props, "containers", &containers);
	if (!arm_has_container(s, c, r, containers))
		return;
	struct logs_buf b = {.stamps = stamps};
	struct capsid_error err = {0};
	struct capsid_logs_opts o = {
	    .container = r->container, .tail = tail, .on_line = on_log_line, .ud = &b};
	int rc = capsid_group_logs(&s->cfg, r->group, &o, NULL, &err);
	if (rc < 0 && rc != -ENOENT) {
		free(b.data);
		arm_respond_capsid_error(s, c, &err, NULL);
		return;
	}
	struct json_object *out = json_object_new_object();
	json_object_object_add(out, "content", json_object_new_string_len(b.data ? b.data : "", (int)b.len));
	free(b.data);
	cd_respond(s, c, 200, NULL, out);
}
