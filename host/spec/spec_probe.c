/* containers[].properties.livenessProbe and .readinessProbe: ACI's
 * ContainerProbe (exec.command or httpGet {path, port, scheme,
 * httpHeaders}; initialDelaySeconds, periodSeconds, failureThreshold,
 * successThreshold, timeoutSeconds), with Kubernetes' defaults and rules
 * (a liveness probe's successThreshold is 1). The guest agent runs them. */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "spec.h"
#include "spec_internal.h"

#define PROBE_MAX_SECONDS   3600
#define PROBE_MAX_THRESHOLD 1000
#define PROBE_MAX_PATH	    1024
#define PROBE_MAX_HEADER    1024

struct probe_ctx {
	struct spec_probe *p;
	bool liveness;
};

static int parse_exec_command(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_probe *p = target;
	if (!json_object_is_type(v, json_type_array))
		return spec_type_error(c, path, "an array of strings", v);
	size_t n = json_object_array_length(v);
	if (n == 0)
		return capsid_error_set(c->err, EINVAL, "%s: must not be empty", path);
	if (n > SPEC_PROBE_MAX_ARGS)
		return capsid_error_set(c->err, EINVAL, "%s: at most %d arguments, not %zu", path,
					SPEC_PROBE_MAX_ARGS, n);
	if (!(p->exec_command = calloc(n, sizeof(*p->exec_command))))
		return spec_nomem(c);
	p->n_exec_command = n;
	for (size_t i = 0; i < n; i++) {
		char q[SPEC_PATH_SZ];
		spec_path_index(q, path, i);
		int rc = spec_dup_string(c, json_object_array_get_idx(v, i), q, &p->exec_command[i]);
		if (rc < 0)
			return rc;
	}
	if (!*p->exec_command[0])
		return capsid_error_set(c->err, EINVAL, "%s[0]: must not be empty", path);
	return 0;
}

static const struct spec_field exec_fields[] = {{"command", parse_exec_command, true}};

static int parse_exec(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	((struct spec_probe *)target)->kind = SPEC_PROBE_EXEC;
	return spec_parse_object(c, v, path, exec_fields, ARRAY_SIZE(exec_fields), target);
}

/* An unsigned integer in [lo, hi] (a number or a string that is one). */
static int parse_uint(struct spec_vctx *c, struct json_object *v, const char *path, unsigned lo, unsigned hi,
		      unsigned *out)
{
	double d;
	int rc = spec_get_number(c, v, path, &d);
	if (rc < 0)
		return rc;
	if (d != floor(d) || d < lo || d > hi)
		return capsid_error_set(c->err, EINVAL, "%s: must be a whole number from %u to %u", path, lo,
					hi);
	*out = (unsigned)d;
	return 0;
}

static int parse_port(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return parse_uint(c, v, path, 1, 65535, &((struct spec_probe *)target)->http_port);
}

static bool printable_no_space(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

static int parse_path(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_probe *p = target;
	int rc = spec_dup_string(c, v, path, &p->http_path);
	if (rc < 0)
		return rc;
	if (p->http_path[0] != '/')
		return capsid_error_set(c->err, EINVAL, "%s: must start with '/'", path);
	if (strlen(p->http_path) > PROBE_MAX_PATH || !printable_no_space(p->http_path))
		return capsid_error_set(c->err, EINVAL,
					"%s: at most %d characters, without spaces or control characters",
					path, PROBE_MAX_PATH);
	return 0;
}

static int parse_scheme(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	(void)target;
	const char *s;
	int rc = spec_get_string(c, v, path, &s);
	if (rc < 0)
		return rc;
	if (!strcasecmp(s, "http"))
		return 0;
	if (!strcasecmp(s, "https"))
		return capsid_error_set(c->err, EINVAL,
					"%s: https is not supported: the guest agent probes over plain http",
					path);
	char q[80];
	spec_sanitize(q, sizeof(q), s);
	return capsid_error_set(c->err, EINVAL, "%s: unsupported value \"%s\" (allowed: http)", path, q);
}

static int parse_header_name(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_probe_header *h = target;
	int rc = spec_dup_string(c, v, path, &h->name);
	if (rc < 0)
		return rc;
	/* An HTTP token: no separators, no spaces, no control bytes. */
	bool ok = *h->name && strlen(h->name) <= 256;
	for (const unsigned char *p = (const unsigned char *)h->name; ok && *p; p++)
		ok = *p > ' ' && *p < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", *p);
	return ok ? 0 : capsid_error_set(c->err, EINVAL, "%s: must be an HTTP header name", path);
}

static int parse_header_value(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_probe_header *h = target;
	int rc = spec_dup_string(c, v, path, &h->value);
	if (rc < 0)
		return rc;
	bool ok = strlen(h->value) <= PROBE_MAX_HEADER;
	for (const unsigned char *p = (const unsigned char *)h->value; ok && *p; p++)
		ok = *p >= ' ' || *p == '\t';
	return ok ? 0
		  : capsid_error_set(c->err, EINVAL, "%s: at most %d characters, without line breaks", path,
				     PROBE_MAX_HEADER);
}

static const struct spec_field header_fields[] = {
    {"name", parse_header_name, true},
    {"value", parse_header_value, true},
};

static int parse_headers(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_probe *p = target;
	if (!json_object_is_type(v, json_type_array))
		return spec_type_error(c, path, "an array", v);
	size_t n = json_object_array_length(v);
	if (n > SPEC_PROBE_MAX_HEADERS)
		return capsid_error_set(c->err, EINVAL, "%s: at most %d headers, not %zu", path,
					SPEC_PROBE_MAX_HEADERS, n);
	if (n && !(p->http_headers = calloc(n, sizeof(*p->http_headers))))
		return spec_nomem(c);
	p->n_http_headers = n;
	for (size_t i = 0; i < n; i++) {
		char q[SPEC_PATH_SZ];
		spec_path_index(q, path, i);
		int rc = spec_parse_object(c, json_object_array_get_idx(v, i), q, header_fields,
					   ARRAY_SIZE(header_fields), &p->http_headers[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static const struct spec_field http_fields[] = {
    {"path", parse_path, false},
    {"port", parse_port, true},
    {"scheme", parse_scheme, false},
    {"httpHeaders", parse_headers, false},
};

static int parse_http(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	((struct spec_probe *)target)->kind = SPEC_PROBE_HTTP_GET;
	return spec_parse_object(c, v, path, http_fields, ARRAY_SIZE(http_fields), target);
}

#define UINT_FIELD(fn, member, lo, hi)                                                                       \
	static int fn(struct spec_vctx *c, struct json_object *v, const char *path, void *target)            \
	{                                                                                                    \
		return parse_uint(c, v, path, lo, hi, &((struct spec_probe *)target)->member);               \
	}
UINT_FIELD(parse_initial_delay, initial_delay_s, 0, PROBE_MAX_SECONDS)
UINT_FIELD(parse_period, period_s, 1, PROBE_MAX_SECONDS)
UINT_FIELD(parse_timeout, timeout_s, 1, PROBE_MAX_SECONDS)
UINT_FIELD(parse_failure_threshold, failure_threshold, 1, PROBE_MAX_THRESHOLD)
UINT_FIELD(parse_success_threshold, success_threshold, 1, PROBE_MAX_THRESHOLD)

static const struct spec_field probe_fields[] = {
    {"exec", parse_exec, false},
    {"httpGet", parse_http, false},
    {"initialDelaySeconds", parse_initial_delay, false},
    {"periodSeconds", parse_period, false},
    {"failureThreshold", parse_failure_threshold, false},
    {"successThreshold", parse_success_threshold, false},
    {"timeoutSeconds", parse_timeout, false},
};

static int parse_probe(struct spec_vctx *c, struct json_object *v, const char *path, struct spec_probe **out,
		       bool liveness)
{
	if (!json_object_is_type(v, json_type_object))
		return spec_type_error(c, path, "an object", v);
	bool has_exec = spec_object_get(v, "exec") != NULL, has_http = spec_object_get(v, "httpGet") != NULL;
	if (has_exec == has_http)
		return capsid_error_set(c->err, EINVAL, "%s: exactly one of exec or httpGet must be set",
					path);
	struct spec_probe *p = calloc(1, sizeof(*p));
	if (!p)
		return spec_nomem(c);
	*out = p; /* freed with its container, whatever happens next */
	p->period_s = 10;
	p->timeout_s = 1;
	p->failure_threshold = 3;
	p->success_threshold = 1;
	int rc = spec_parse_object(c, v, path, probe_fields, ARRAY_SIZE(probe_fields), p);
	if (rc < 0)
		return rc;
	if (p->kind == SPEC_PROBE_HTTP_GET && !p->http_path && !(p->http_path = strdup("/")))
		return spec_nomem(c);
	if (liveness && p->success_threshold != 1)
		return capsid_error_set(c->err, EINVAL, "%s.successThreshold: must be 1 for a liveness probe",
					path);
	return 0;
}

int spec_parse_liveness_probe(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return parse_probe(c, v, path, &((struct spec_container *)target)->liveness_probe, true);
}

int spec_parse_readiness_probe(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return parse_probe(c, v, path, &((struct spec_container *)target)->readiness_probe, false);
}

#define put spec_json_put

static void put_probe(struct json_object *props, const char *key, const struct spec_probe *p, bool *ok)
{
	if (!p)
		return;
	struct json_object *o = put(props, key, json_object_new_object(), ok);
	if (p->kind == SPEC_PROBE_EXEC) {
		struct json_object *e = put(o, "exec", json_object_new_object(), ok);
		struct json_object *cmd = put(e, "command", json_object_new_array(), ok);
		for (size_t i = 0; i < p->n_exec_command; i++)
			put(cmd, NULL, json_object_new_string(p->exec_command[i]), ok);
	} else {
		struct json_object *h = put(o, "httpGet", json_object_new_object(), ok);
		put(h, "path", json_object_new_string(p->http_path ? p->http_path : "/"), ok);
		put(h, "port", json_object_new_int((int)p->http_port), ok);
		put(h, "scheme", json_object_new_string("http"), ok);
		if (p->n_http_headers) {
			struct json_object *arr = put(h, "httpHeaders", json_object_new_array(), ok);
			for (size_t i = 0; i < p->n_http_headers; i++) {
				struct json_object *x = put(arr, NULL, json_object_new_object(), ok);
				put(x, "name", json_object_new_string(p->http_headers[i].name), ok);
				put(x, "value", json_object_new_string(p->http_headers[i].value), ok);
			}
		}
	}
	put(o, "initialDelaySeconds", json_object_new_int((int)p->initial_delay_s), ok);
	put(o, "periodSeconds", json_object_new_int((int)p->period_s), ok);
	put(o, "failureThreshold", json_object_new_int((int)p->failure_threshold), ok);
	put(o, "successThreshold", json_object_new_int((int)p->success_threshold), ok);
	put(o, "timeoutSeconds", json_object_new_int((int)p->timeout_s), ok);
}

void spec_put_probes(struct json_object *props, const struct spec_container *ct, bool *ok)
{
	put_probe(props, "livenessProbe", ct->liveness_probe, ok);
	put_probe(props, "readinessProbe", ct->readiness_probe, ok);
}

static void probe_free(struct spec_probe *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_exec_command; i++)
		free(p->exec_command[i]);
	free(p->exec_command);
	free(p->http_path);
	for (size_t i = 0; i < p->n_http_headers; i++) {
		free(p->http_headers[i].name);
		free(p->http_headers[i].value);
	}
	free(p->http_headers);
	free(p);
}

void spec_probes_free(struct spec_container *ct)
{
	probe_free(ct->liveness_probe);
	probe_free(ct->readiness_probe);
	ct->liveness_probe = ct->readiness_probe = NULL;
}
