/* ARM's routing for capsidd: paths, api-version, subscriptions, reading
 * groups, lists with nextLink, locations and operations. */
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

#define MAX_SEGMENTS 16

/* The api-versions of Microsoft.ContainerInstance that the SDKs send. */
static const char *const api_versions[] = {"2021-10-01", "2022-09-01", "2022-10-01-preview",
					   "2023-02-01-preview", "2023-05-01"};

static int unhex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decode s in place; false on a bad escape or a decoded NUL or '/'. */
static bool pct_decode(char *s, bool plus_is_space)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (*p == '%') {
			int hi = unhex(p[1]), lo = hi < 0 ? -1 : unhex(p[2]);
			if (lo < 0)
				return false;
			char ch = (char)(hi * 16 + lo);
			if (ch == '\0' || ch == '/')
				return false;
			*o++ = ch;
			p += 2;
		} else {
			*o++ = plus_is_space && *p == '+' ? ' ' : *p;
		}
	}
	*o = '\0';
	return true;
}

static bool parse_query(char *q, struct arm_route *r)
{
	char *save = NULL;
	for (char *kv = q ? strtok_r(q, "&", &save) : NULL; kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		const char *v = "";
		if (eq) {
			*eq = '\0';
			v = eq + 1;
		}
		if (!pct_decode(kv, true) || !pct_decode((char *)v, true))
			return false;
		if (strcasecmp(kv, "api-version") == 0)
			r->api_version = v;
		else if (strcasecmp(kv, "tail") == 0)
			r->tail = v;
		else if (strcasecmp(kv, "timestamps") == 0)
			r->timestamps = v;
		else if (strcasecmp(kv, "$skiptoken") == 0)
			r->skiptoken = v;
	}
	return true;
}

static bool is(const char *seg, const char *lit)
{
	return seg && strcasecmp(seg, lit) == 0;
}

/* ARM's resource group names: 1-90 of letters, digits, '_', '-', '.',
 * '(' and ')', not ending in '.'. */
static bool rg_valid(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= 90 && s[n - 1] != '.' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.()") == n;
}

void arm_url(struct cd_server *s, struct cd_conn *c, char *out, size_t len, const char *path,
	     const char *query)
{
	const char *host = c->req.host;
	if (!host || !*host || strlen(host) > 255 ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
		strlen(host))
		host = s->listen_host;
	snprintf(out, len, "https://%s%s%s%s", host, path, query ? "?" : "", query ? query : "");
}

int arm_status_of_errno(int code, const char **arm_code)
{
	switch (code) {
	case ENOENT:
		*arm_code = "ResourceNotFound";
		return 404;
	case EINVAL:
	case E2BIG:
	case EFBIG:
	case ENAMETOOLONG:
		*arm_code = "BadRequest";
		return 400;
	case EEXIST:
	case EBUSY:
	case EALREADY:
	case ESRCH:
		*arm_code = "Conflict";
		return 409;
	default:
		*arm_code = "InternalServerError";
		return 500;
	}
}

void arm_respond_capsid_error(struct cd_server *s, struct cd_conn *c, const struct capsid_error *err,
			      const char *target)
{
	const char *code;
	int status = arm_status_of_errno(err->code, &code);
	cd_respond_error(s, c, status, code, target, "%s", err->msg);
}

static void not_found(struct cd_server *s, struct cd_conn *c, const struct arm_route *r)
{
	cd_respond_error(s, c, 404, "ResourceNotFound", NULL,
			 "The Resource '" ARM_PROVIDER
			 "/containerGroups/%s' under resource group '%s' was not found.",
			 r->name, r->rg);
}

struct json_object *arm_find_group(struct cd_server *s, struct cd_conn *c, const struct arm_route *r)
{
	struct json_object *rec = NULL;
	if (cd_record_load(s, r->group, &r->ident, &rec) < 0) {
		not_found(s, c, r);
		return NULL;
	}
	return rec;
}

static const char *rec_str(struct json_object *rec, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(rec, key, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : NULL;
}

static struct json_object *deep_copy(struct json_object *o)
{
	struct json_object *out = NULL;
	if (!o || json_object_deep_copy(o, &out, NULL) < 0)
		return NULL;
	return out;
}

static const char *provisioning_state(struct cd_server *s, struct json_object *rec)
{
	const char *latest = rec_str(rec, "operation"), *create = rec_str(rec, "createOperation");
	struct json_object *op = NULL;
	enum cd_op_status st;
	if (latest && cd_op_load(s, latest, NULL, &op, &st) == 0) {
		bool del = strcmp(rec_str(op, "kind") ?: "", "delete") == 0;
		json_object_put(op);
		if (del && st == CD_OP_RUNNING)
			return "Deleting";
	}
	if (!create || cd_op_load(s, create, NULL, &op, &st) < 0)
		return "Succeeded";
	bool update = strcmp(rec_str(op, "kind") ?: "", "update") == 0;
	json_object_put(op);
	if (st == CD_OP_RUNNING)
		return update ? "Updating" : "Creating";
	return st == CD_OP_FAILED ? "Failed" : "Succeeded";
}

struct json_object *arm_group_doc(struct cd_server *s, const struct arm_route *r, struct json_object *rec)
{
	struct json_object *doc = NULL;
	struct capsid_error err = {0};
	const char *group = rec_str(rec, "group") ?: r->group;
	if (capsid_group_show(&s->cfg, group, &doc, &err) < 0 ||
	    !json_object_is_type(doc, json_type_object)) {
		json_object_put(doc);
		struct json_object *spec;
		doc = json_object_object_get_ex(rec, "spec", &spec) ? deep_copy(spec)
								    : json_object_new_object();
	}
	if (!doc)
		return NULL;
	json_object_object_del(doc, "apiVersion");
	/* The host's side (pids, taps, accelerator) is the operator's, not the tenant's. */
	json_object_object_del(doc, "capsid");
	char id[1024];
	snprintf(id, sizeof(id),
		 "/subscriptions/%s/resourceGroups/%s/providers/" ARM_PROVIDER "/containerGroups/%s",
		 rec_str(rec, "subscription") ?: "", rec_str(rec, "resourceGroup") ?: "",
		 rec_str(rec, "name") ?: "");
	json_object_object_add(doc, "id", json_object_new_string(id));
	json_object_object_add(doc, "name", json_object_new_string(rec_str(rec, "name") ?: ""));
	json_object_object_add(doc, "type", json_object_new_string(SPEC_RESOURCE_TYPE));
	json_object_object_add(doc, "location",
			       json_object_new_string(rec_str(rec, "location") ?: s->location));
	struct json_object *tags;
	json_object_object_add(doc, "tags",
			       json_object_object_get_ex(rec, "tags", &tags) ? deep_copy(tags)
									     : json_object_new_object());
	struct json_object *props;
	if (!json_object_object_get_ex(doc, "properties", &props) ||
	    !json_object_is_type(props, json_type_object)) {
		props = json_object_new_object();
		json_object_object_add(doc, "properties", props);
	}
	json_object_object_add(props, "provisioningState",
			       json_object_new_string(provisioning_state(s, rec)));
	return doc;
}

static void get_group(struct cd_server *s, struct cd_conn *c, struct arm_route *r)
{
	_cleanup_json_ struct json_object *rec = arm_find_group(s, c, r);
	if (!rec)
		return;
	struct json_object *doc = arm_group_doc(s, r, rec);
	if (!doc) {
		cd_respond_error(s, c, 500, "InternalServerError", NULL, "out of memory");
		return;
	}
	cd_respond(s, c, 200, NULL, doc);
}

static void list_groups(struct cd_server *s, struct cd_conn *c, struct arm_route *r)
{
	_cleanup_json_ struct json_object *recs = NULL;
	if (cd_record_list(s, r->tok->tenant, r->sub, r->rg, &recs) < 0) {
		cd_respond_error(s, c, 500, "InternalServerError", NULL, "cannot read the groups");
		return;
	}
	size_t from = 0, total = json_object_array_length(recs);
	if (r->skiptoken) {
		char *e;
		unsigned long v = strtoul(r->skiptoken, &e, 10);
		if (!*r->skiptoken || *e || v > total) {
			cd_respond_error(s, c, 400, "InvalidSkipToken", "$skiptoken",
					 "The $skiptoken is not valid.");
			return;
		}
		from = v;
	}
	size_t to = from + s->lim.page_size < total ? from + s->lim.page_size : total;
	if (to - from > 1)
		cd_rate_charge(s, r->tok->tenant, (double)(to - from - 1));
	struct json_object *out = json_object_new_object(), *value = json_object_new_array();
	for (size_t i = from; i < to; i++) {
		struct json_object *doc = arm_group_doc(s, r, json_object_array_get_idx(recs, i));
		if (doc)
			json_object_array_add(value, doc);
	}
	json_object_object_add(out, "value", value);
	if (to < total) {
		char path[600], query[128], url[1024];
		if (r->rg)
			snprintf(path, sizeof(path),
				 "/subscriptions/%s/resourceGroups/%s/providers/" ARM_PROVIDER
				 "/containerGroups",
				 r->sub, r->rg);
		else
			snprintf(path, sizeof(path),
				 "/subscriptions/%s/providers/" ARM_PROVIDER "/containerGroups", r->sub);
		snprintf(query, sizeof(query), "api-version=%s&$skiptoken=%zu", r->api_version, to);
		arm_url(s, c, url, sizeof(url), path, query);
		json_object_object_add(out, "nextLink", json_object_new_string(url));
	}
	cd_respond(s, c, 200, NULL, out);
}

/* What the tenant uses, across its subscriptions: for usages and quotas. */
static void tenant_usage(struct cd_server *s, const char *tenant, unsigned *groups, unsigned *cores,
			 double *mem_gb)
{
	*groups = *cores = 0;
	*mem_gb = 0;
	_cleanup_json_ struct json_object *recs = NULL;
	if (cd_record_list(s, tenant, NULL, NULL, &recs) < 0)
		return;
	for (size_t i = 0; i < json_object_array_length(recs); i++) {
		struct json_object *rec = json_object_array_get_idx(recs, i), *v;
		(*groups)++;
		if (json_object_object_get_ex(rec, "cores", &v))
			*cores += (unsigned)json_object_get_int(v);
		if (json_object_object_get_ex(rec, "memoryMiB", &v))
			*mem_gb += json_object_get_int(v) / 1024.0;
	}
}

int arm_quota_check(struct cd_server *s, struct cd_conn *c, const char *tenant, unsigned new_groups,
		    unsigned cores, unsigned mem_mib)
{
	unsigned groups, used_cores;
	double used_mem;
	tenant_usage(s, tenant, &groups, &used_cores, &used_mem);
	if (groups + new_groups > s->lim.quota_groups) {
		cd_respond_error(s, c, 409, "ContainerGroupQuotaReached", NULL,
				 "Resource type '" SPEC_RESOURCE_TYPE
				 "' container group quota 'ContainerGroups' "
				 "exceeded: limit %u, usage %u, requested 1.",
				 s->lim.quota_groups, groups);
		return -1;
	}
	if (used_cores + cores > s->lim.quota_cores) {
		cd_respond_error(s, c, 409, "ContainerGroupQuotaReached", NULL,
				 "Resource type '" SPEC_RESOURCE_TYPE
				 "' container group quota 'StandardCores' "
				 "exceeded: limit %u, usage %u, requested %u.",
				 s->lim.quota_cores, used_cores, cores);
		return -1;
	}
	if (used_mem + mem_mib / 1024.0 > s->lim.quota_memory_gb) {
		cd_respond_error(s, c, 409, "ContainerGroupQuotaReached", NULL,
				 "Resource type '" SPEC_RESOURCE_TYPE
				 "' container group quota 'StandardMemoryInGB' "
				 "exceeded: limit %u, usage %.1f, requested %.1f.",
				 s->lim.quota_memory_gb, used_mem, mem_mib / 1024.0);
		return -1;
	}
	return 0;
}

static struct json_object *usage(const char *name, const char *label, const char *unit, double current,
				 unsigned limit)
{
	struct json_object *u = json_object_new_object(), *n = json_object_new_object();
	json_object_object_add(u, "unit", json_object_new_string(unit));
	json_object_object_add(u, "currentValue", json_object_new_int((int)(current + 0.999)));
	json_object_object_add(u, "limit", json_object_new_int((int)limit));
	json_object_object_add(n, "value", json_object_new_string(name));
	json_object_object_add(n, "localizedValue", json_object_new_string(label));
	json_object_object_add(u, "name", n);
	return u;
}

static void location_info(struct cd_server *s, struct cd_conn *c, struct arm_route *r)
{
	struct json_object *out = json_object_new_object(), *value = json_object_new_array();
	if (is(r->action, "usages")) {
		unsigned groups, cores;
		double mem;
		tenant_usage(s, r->tok->tenant, &groups, &cores, &mem);
		json_object_array_add(value, usage("ContainerGroups", "Container Groups", "Count", groups,
						   s->lim.quota_groups));
		json_object_array_add(
		    value, usage("StandardCores", "Standard Cores", "Count", cores, s->lim.quota_cores));
		json_object_array_add(value, usage("StandardMemoryInGB", "Standard Memory (GB)", "Count", mem,
						   s->lim.quota_memory_gb));
	} else {
		struct json_object *cap = json_object_new_object(), *caps = json_object_new_object();
		json_object_object_add(cap, "resourceType", json_object_new_string("containerGroups"));
		json_object_object_add(cap, "osType", json_object_new_string("Linux"));
		json_object_object_add(cap, "location", json_object_new_string(r->location));
		json_object_object_add(cap, "ipAddressType", json_object_new_string("Public"));
		json_object_object_add(cap, "gpu", json_object_new_string("None"));
		json_object_object_add(caps, "maxMemoryInGB", json_object_new_double(SPEC_MAX_MEMORY_GB));
		json_object_object_add(caps, "maxCpu", json_object_new_double(SPEC_MAX_CPU));
		json_object_object_add(caps, "maxGpuCount", json_object_new_double(0));
		json_object_object_add(cap, "capabilities", caps);
		json_object_array_add(value, cap);
	}
	json_object_object_add(out, "value", value);
	cd_respond(s, c, 200, NULL, out);
}

/* Azure-AsyncOperation (operations/{id}): the status document. Location
 * (operationResults/{id}): 202 while running, 204 when done, the error
 * when failed. */
static void operation(struct cd_server *s, struct cd_conn *c, struct arm_route *r, bool result)
{
	_cleanup_json_ struct json_object *op = NULL;
	enum cd_op_status st;
	if (cd_op_load(s, r->op, r->tok->tenant, &op, &st) < 0) {
		cd_respond_error(s, c, 404, "ResourceNotFound", NULL, "The operation '%s' was not found.",
				 r->op);
		return;
	}
	struct json_object *e = NULL, *hs = NULL;
	json_object_object_get_ex(op, "error", &e);
	json_object_object_get_ex(op, "httpStatus", &hs);
	if (result) {
		if (st == CD_OP_RUNNING) {
			char path[512], url[1024];
			snprintf(path, sizeof(path),
				 "/subscriptions/%s/providers/" ARM_PROVIDER
				 "/locations/%s/operationResults/%s",
				 r->sub, r->location, r->op);
			char query[96];
			snprintf(query, sizeof(query), "api-version=%s", r->api_version);
			arm_url(s, c, url, sizeof(url), path, query);
			char headers[1200];
			snprintf(headers, sizeof(headers), "Location: %s\r\nRetry-After: 1\r\n", url);
			cd_respond(s, c, 202, headers, NULL);
		} else if (st == CD_OP_SUCCEEDED) {
			cd_respond(s, c, 204, NULL, NULL);
		} else {
			const char *code = rec_str(e, "code") ?: "InternalServerError";
			cd_respond_error(s, c, hs ? json_object_get_int(hs) : 500, code, NULL, "%s",
					 rec_str(e, "message") ?: "the operation failed");
		}
		return;
	}
	char id[512];
	snprintf(id, sizeof(id), "/subscriptions/%s/providers/" ARM_PROVIDER "/locations/%s/operations/%s",
		 r->sub, r->location, r->op);
	struct json_object *out = json_object_new_object();
	json_object_object_add(out, "id", json_object_new_string(id));
	json_object_object_add(out, "name", json_object_new_string(r->op));
	json_object_object_add(out, "status", json_object_new_string(cd_op_status_name(st)));
	const char *t = rec_str(op, "startTime");
	if (t)
		json_object_object_add(out, "startTime", json_object_new_string(t));
	if ((t = rec_str(op, "endTime")))
		json_object_object_add(out, "endTime", json_object_new_string(t));
	if (e)
		json_object_object_add(out, "error", json_object_get(e));
	cd_respond(s, c, 200, st == CD_OP_RUNNING ? "Retry-After: 1\r\n" : NULL, out);
}

static bool api_version_ok(struct cd_server *s, struct cd_conn *c, const char *v)
{
	if (!v) {
		cd_respond_error(
		    s, c, 400, "MissingApiVersionParameter", "api-version",
		    "The api-version query parameter (?api-version=) is required for all requests.");
		return false;
	}
	for (size_t i = 0; i < ARRAY_SIZE(api_versions); i++)
		if (strcmp(v, api_versions[i]) == 0)
			return true;
	cd_respond_error(
	    s, c, 400, "NoRegisteredProviderFound", "api-version",
	    "No registered resource provider found for API version '%.64s'. The supported api-versions "
	    "are '2021-10-01, 2022-09-01, 2022-10-01-preview, 2023-02-01-preview, 2023-05-01'.",
	    v);
	return false;
}

void cd_arm_handle(struct cd_server *s, struct cd_conn *c)
{
	struct cd_request *q = &c->req;
	struct arm_route r = {.tok = c->token};
	char *seg[MAX_SEGMENTS];
	size_t n = 0;
	char *save = NULL;
	bool bad = !parse_query(q->query, &r);
	for (char *p = strtok_r(q->path, "/", &save); p && !bad; p = strtok_r(NULL, "/", &save)) {
		if (n == MAX_SEGMENTS || !pct_decode(p, false) || strlen(p) > 200)
			bad = true;
		else
			seg[n++] = p;
	}
	for (size_t i = n; i < MAX_SEGMENTS; i++)
		seg[i] = NULL;
	if (bad || n < 4 || !is(seg[0], "subscriptions")) {
		cd_respond_error(s, c, 404, "NotFound", NULL, "No route matches the request's path.");
		return;
	}
	r.sub = seg[1];
	size_t i = 2;
	if (is(seg[2], "resourceGroups")) {
		r.rg = seg[3];
		i = 4;
	}
	if (!is(seg[i], "providers") || !is(seg[i + 1], ARM_PROVIDER)) {
		cd_respond_error(s, c, 404, "NotFound", NULL, "No route matches the request's path.");
		return;
	}
	i += 2;
	enum {
		R_NONE,
		R_LIST,
		R_GROUP,
		R_ACTION,
		R_LOGS,
		R_EXEC,
		R_ATTACH,
		R_LOCINFO,
		R_OP,
		R_OPRESULT
	} kind = R_NONE;
	const char *method = q->method;
	if (is(seg[i], "containerGroups")) {
		if (n == i + 1)
			kind = R_LIST;
		else if (r.rg && n == i + 2)
			kind = R_GROUP;
		else if (r.rg && n == i + 3 &&
			 (is(seg[i + 2], "start") || is(seg[i + 2], "stop") || is(seg[i + 2], "restart")))
			kind = R_ACTION;
		else if (r.rg && n == i + 5 && is(seg[i + 2], "containers"))
			kind = is(seg[i + 4], "logs")	  ? R_LOGS
			       : is(seg[i + 4], "exec")	  ? R_EXEC
			       : is(seg[i + 4], "attach") ? R_ATTACH
							  : R_NONE;
		r.name = seg[i + 1];
		r.action = seg[i + 2];
		r.container = seg[i + 3];
	} else if (!r.rg && is(seg[i], "locations") && n == i + 3 &&
		   (is(seg[i + 2], "capabilities") || is(seg[i + 2], "usages"))) {
		kind = R_LOCINFO;
		r.location = seg[i + 1];
		r.action = seg[i + 2];
	} else if (!r.rg && is(seg[i], "locations") && n == i + 4 &&
		   (is(seg[i + 2], "operations") || is(seg[i + 2], "operationResults"))) {
		kind = is(seg[i + 2], "operations") ? R_OP : R_OPRESULT;
		r.location = seg[i + 1];
		r.op = seg[i + 3];
	}
	if (kind == R_NONE) {
		cd_respond_error(s, c, 404, "NotFound", NULL, "No route matches the request's path.");
		return;
	}
	bool want_get =
	    kind == R_LIST || kind == R_LOGS || kind == R_LOCINFO || kind == R_OP || kind == R_OPRESULT;
	bool want_post = kind == R_ACTION || kind == R_EXEC || kind == R_ATTACH;
	if ((want_get && strcmp(method, "GET") != 0) || (want_post && strcmp(method, "POST") != 0) ||
	    (kind == R_GROUP && strcmp(method, "GET") != 0 && strcmp(method, "PUT") != 0 &&
	     strcmp(method, "PATCH") != 0 && strcmp(method, "DELETE") != 0)) {
		cd_respond_error(s, c, 405, "MethodNotAllowed", NULL, "The method %s is not allowed here.",
				 method);
		return;
	}
	if (!api_version_ok(s, c, r.api_version))
		return;
	/* Another tenant's subscription is as absent as one that is not. */
	r.sub = cd_token_sub(r.tok, r.sub);
	if (!r.sub) {
		cd_respond_error(s, c, 404, "SubscriptionNotFound", NULL,
				 "The subscription '%s' could not be found.", seg[1]);
		return;
	}
	if (r.rg && !rg_valid(r.rg)) {
		cd_respond_error(
		    s, c, 400, "InvalidResourceGroupName", "resourceGroupName",
		    "Resource group names are 1-90 letters, digits, '_', '-', '.', '(' or ')', not "
		    "ending in '.'.");
		return;
	}
	if (r.name && !util_name_valid(r.name)) {
		cd_respond_error(s, c, 400, "InvalidContainerGroupName", "containerGroupName",
				 "The container group name '%.64s' is not valid: " UTIL_NAME_RULE ".",
				 r.name);
		return;
	}
	if (r.container && (kind == R_LOGS || kind == R_EXEC || kind == R_ATTACH) &&
	    !util_name_valid(r.container)) {
		cd_respond_error(s, c, 400, "InvalidContainerName", "containerName",
				 "The container name '%.64s' is not valid: " UTIL_NAME_RULE ".", r.container);
		return;
	}
	if (r.name) {
		r.ident =
		    (struct cd_ident){.tenant = r.tok->tenant, .sub = r.sub, .rg = r.rg, .name = r.name};
		cd_group_name(&r.ident, r.group);
	}
	switch (kind) {
	case R_LIST:
		list_groups(s, c, &r);
		break;
	case R_GROUP:
		if (strcmp(method, "GET") == 0)
			get_group(s, c, &r);
		else if (strcmp(method, "PUT") == 0)
			arm_put(s, c, &r);
		else if (strcmp(method, "PATCH") == 0)
			arm_patch(s, c, &r);
		else
			arm_delete(s, c, &r);
		break;
	case R_ACTION:
		arm_action(s, c, &r);
		break;
	case R_LOGS:
		arm_logs(s, c, &r);
		break;
	case R_EXEC:
		arm_exec(s, c, &r, false);
		break;
	case R_ATTACH:
		arm_exec(s, c, &r, true);
		break;
	case R_LOCINFO:
		location_info(s, c, &r);
		break;
	case R_OP:
		operation(s, c, &r, false);
		break;
	case R_OPRESULT:
		operation(s, c, &r, true);
		break;
	case R_NONE:
		break;
	}
}

bool arm_has_container(struct cd_server *s, struct cd_conn *c, const struct arm_route *r,
		       struct json_object *containers)
{
	for (size_t i = 0; containers && i < json_object_array_length(containers); i++) {
		struct json_object *name;
		if (json_object_object_get_ex(json_object_array_get_idx(containers, i), "name", &name) &&
		    strcmp(json_object_get_string(name), r->container) == 0)
			return true;
	}
	cd_respond_error(s, c, 404, "ContainerNotFound", "containerName",
			 "The container '%s' was not found in container group '%s'.", r->container, r->name);
	return false;
}
