#include "request.h"

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "proto.h"
#include "util.h"
#include "volume_kinds.h"

int request_field(struct json_object *body, const char *key, bool required, struct json_object **v,
		  struct capsid_error *err)
{
	if (!json_object_object_get_ex(body, key, v) || !*v) {
		if (required)
			return capsid_error_set(err, EINVAL, "%s: missing", key);
		return -ENOENT;
	}
	return 0;
}

static int string_ok(struct json_object *v, size_t max, const char *what, struct capsid_error *err)
{
	if (!json_object_is_type(v, json_type_string))
		return capsid_error_set(err, EINVAL, "%s: not a string", what);
	size_t len = (size_t)json_object_get_string_len(v);
	/* An embedded NUL would silently cut the string where C reads it. */
	if (strlen(json_object_get_string(v)) != len)
		return capsid_error_set(err, EINVAL, "%s: contains a NUL byte", what);
	if (len > max)
		return capsid_error_set(err, EINVAL, "%s: longer than %zu bytes", what, max);
	return 0;
}

int request_get_string(struct json_object *body, const char *key, bool required, size_t max, const char **out,
		       struct capsid_error *err)
{
	struct json_object *v;
	int rc = request_field(body, key, required, &v, err);
	if (rc < 0)
		return rc;
	rc = string_ok(v, max, key, err);
	if (rc < 0)
		return rc;
	*out = json_object_get_string(v);
	return 0;
}

static int get_int(struct json_object *body, const char *key, bool required, int64_t lo, int64_t hi,
		   int64_t *out, struct capsid_error *err)
{
	struct json_object *v;
	int rc = request_field(body, key, required, &v, err);
	if (rc < 0)
		return rc;
	if (!json_object_is_type(v, json_type_int))
		return capsid_error_set(err, EINVAL, "%s: not an integer", key);
	errno = 0;
	int64_t x = json_object_get_int64(v);
	/* json-c clamps out-of-range numbers to INT64_MIN/MAX and sets errno. */
	if (errno == ERANGE || x < lo || x > hi)
		return capsid_error_set(err, ERANGE, "%s: out of range %lld..%lld", key, (long long)lo,
					(long long)hi);
	*out = x;
	return 0;
}

int request_get_bool(struct json_object *body, const char *key, bool *out, struct capsid_error *err)
{
	struct json_object *v;
	int rc = request_field(body, key, false, &v, err);
	if (rc == -ENOENT)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return capsid_error_set(err, EINVAL, "%s: not a boolean", key);
	*out = json_object_get_boolean(v);
	return 0;
}

static int get_stream(struct json_object *body, uint32_t *out, struct capsid_error *err)
{
	int64_t x;
	int rc = get_int(body, "stream", true, 1, UINT32_MAX, &x, err);
	if (rc < 0)
		return rc;
	*out = (uint32_t)x;
	return 0;
}

static int get_string_array(struct json_object *body, const char *key, bool required, size_t max_items,
			    bool env, struct json_object **out, struct capsid_error *err)
{
	struct json_object *v;
	int rc = request_field(body, key, required, &v, err);
	if (rc < 0)
		return rc;
	if (!json_object_is_type(v, json_type_array))
		return capsid_error_set(err, EINVAL, "%s: not an array", key);
	size_t n = json_object_array_length(v);
	if (required && n == 0)
		return capsid_error_set(err, EINVAL, "%s: empty", key);
	if (n > max_items)
		return capsid_error_set(err, E2BIG, "%s: more than %zu entries", key, max_items);
	for (size_t i = 0; i < n; i++) {
		char what[64];
		snprintf(what, sizeof(what), "%s[%zu]", key, i);
		struct json_object *item = json_object_array_get_idx(v, i);
		rc = string_ok(item, REQUEST_MAX_STRING, what, err);
		if (rc < 0)
			return rc;
		const char *s = json_object_get_string(item);
		if (env && (s[0] == '=' || !strchr(s, '=')))
			return capsid_error_set(err, EINVAL, "%s: not KEY=value", what);
	}
	*out = v;
	return 0;
}

bool request_valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > AGENT_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

bool request_valid_hostname(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return false;
		if (c == '.' && s[i + 1] == '.')
			return false;
	}
	return true;
}

bool request_valid_serial(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > AGENT_SERIAL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int get_container(struct json_object *body, const char **out, struct capsid_error *err)
{
	int rc = request_get_string(body, "container", true, 256, out, err);
	if (rc < 0)
		return rc;
	if (!request_valid_name(*out))
		return capsid_error_set(err, EINVAL,
					"container: \"%.64s\" is not a DNS label of at most %d characters",
					*out, AGENT_NAME_MAX);
	return 0;
}

static int parse_process(struct json_object *body, struct request_process *p, struct capsid_error *err)
{
	int rc = get_string_array(body, "args", true, REQUEST_MAX_ARGS, false, &p->args, err);
	if (rc < 0)
		return rc;
	p->env = NULL;
	rc = get_string_array(body, "env", false, REQUEST_MAX_ENV, true, &p->env, err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	p->cwd = "/";
	rc = request_get_string(body, "cwd", false, REQUEST_MAX_PATH, &p->cwd, err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (p->cwd[0] != '/')
		return capsid_error_set(err, EINVAL, "cwd: not an absolute path");
	p->user = NULL;
	rc = request_get_string(body, "user", false, 256, &p->user, err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (p->user && !*p->user)
		p->user = NULL;
	p->tty = false;
	rc = request_get_bool(body, "tty", &p->tty, err);
	if (rc < 0)
		return rc;
	rc = request_get_bool(body, "stdin", &p->open_stdin, err);
	if (rc < 0)
		return rc;
	int64_t rows = 0, cols = 0;
	rc = get_int(body, "rows", false, 0, 65535, &rows, err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	rc = get_int(body, "cols", false, 0, 65535, &cols, err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	p->rows = (unsigned)rows;
	p->cols = (unsigned)cols;
	return 0;
}

static int parse_resources(struct json_object *body, struct request_resources *r, struct capsid_error *err)
{
	*r = (struct request_resources){-1, -1, -1, -1};
	struct json_object *res;
	int rc = request_field(body, "resources", false, &res, err);
	if (rc == -ENOENT)
		return 0;
	if (!json_object_is_type(res, json_type_object))
		return capsid_error_set(err, EINVAL, "resources: not an object");
	static const struct {
		const char *key;
		int64_t lo, hi;
		size_t off;
	} fields[] = {
	    /* 0 means "no limit"; a real limit below 4 MiB cannot even start runc. */
	    {"memoryBytes", 0, (int64_t)1 << 42, offsetof(struct request_resources, memory_bytes)},
	    {"cpuShares", 0, 262144, offsetof(struct request_resources, cpu_shares)},
	    {"cpuQuotaUs", 0, 1000000000, offsetof(struct request_resources, cpu_quota_us)},
	    {"cpuPeriodUs", 0, 1000000, offsetof(struct request_resources, cpu_period_us)},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		int64_t x;
		rc = get_int(res, fields[i].key, false, fields[i].lo, fields[i].hi, &x, err);
		if (rc == -ENOENT)
			continue;
		if (rc < 0)
			return capsid_error_prefix(err, "resources");
		*(int64_t *)((char *)r + fields[i].off) = x;
	}
	if (r->memory_bytes > 0 && r->memory_bytes < (4 << 20))
		return capsid_error_set(err, ERANGE, "resources.memoryBytes: below the 4 MiB minimum");
	if (r->cpu_shares == 0 || r->cpu_shares == 1)
		r->cpu_shares = 2; /* the kernel's minimum weight */
	if (r->cpu_quota_us == 0)
		r->cpu_quota_us = -1;
	if (r->cpu_period_us >= 0 && r->cpu_period_us < 1000)
		return capsid_error_set(err, ERANGE, "resources.cpuPeriodUs: below 1000");
	if (r->cpu_quota_us >= 0 && r->cpu_quota_us < 1000)
		return capsid_error_set(err, ERANGE, "resources.cpuQuotaUs: below 1000");
	return 0;
}

int request_parse_negotiate(struct json_object *body, unsigned *version, struct capsid_error *err)
{
	int64_t v;
	int rc = get_int(body, "version", true, 0, 65535, &v, err);
	if (rc < 0)
		return rc;
	if (v < CAPSID_PROTO_VERSION_MIN || v > CAPSID_PROTO_VERSION_MAX)
		return capsid_error_set(err, EPROTO, "version %lld: this agent speaks %d..%d", (long long)v,
					CAPSID_PROTO_VERSION_MIN, CAPSID_PROTO_VERSION_MAX);
	*version = (unsigned)v;
	return 0;
}

int request_parse_identity(struct json_object *body, struct request_identity *out, struct capsid_error *err)
{
	memset(out, 0, sizeof(*out));
	/* Up to the year 2200 (7258118400 s): below INT64_MAX, to which json-c
	 * clamps larger numbers. */
	int rc = get_int(body, "timeNs", true, 1, INT64_C(7258118400) * 1000000000, &out->time_ns, err);
	if (rc < 0)
		return rc;
	const char *b64;
	size_t max_b64 = (REQUEST_IDENTITY_ENTROPY_MAX + 2) / 3 * 4;
	if ((rc = request_get_string(body, "entropy", true, max_b64, &b64, err)) < 0)
		return rc;
	/* Decoded length is at most len/4*3 = 66 for max_b64: decode into a
	 * buffer with that room, then bound the result. */
	uint8_t buf[(REQUEST_IDENTITY_ENTROPY_MAX + 2) / 3 * 3];
	ssize_t n = util_base64_decode(b64, strlen(b64), buf);
	if (n < REQUEST_IDENTITY_ENTROPY_MIN || n > REQUEST_IDENTITY_ENTROPY_MAX) {
		explicit_bzero(buf, sizeof(buf));
		return capsid_error_set(err, EINVAL, "entropy: not base64 of %d..%d bytes",
					REQUEST_IDENTITY_ENTROPY_MIN, REQUEST_IDENTITY_ENTROPY_MAX);
	}
	memcpy(out->entropy, buf, (size_t)n);
	out->entropy_len = (size_t)n;
	explicit_bzero(buf, sizeof(buf));
	if ((rc = request_get_string(body, "hostname", true, 64, &out->hostname, err)) < 0)
		return rc;
	if (!request_valid_hostname(out->hostname))
		return capsid_error_set(err, EINVAL, "hostname: not a valid host name");
	return 0;
}

/* An absolute path without "." or ".." components, not "/" itself: where a
 * volume lands inside a container. */
static bool valid_destination(const char *s)
{
	if (s[0] != '/' || s[1] == '\0' || strlen(s) > REQUEST_MAX_PATH)
		return false;
	for (const char *p = s; *p;) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += len;
	}
	return true;
}

static int parse_mounts(struct json_object *body, struct request_create *out, struct capsid_error *err)
{
	struct json_object *arr;
	int rc = request_field(body, "mounts", false, &arr, err);
	if (rc == -ENOENT)
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return capsid_error_set(err, EINVAL, "mounts: not an array");
	size_t n = json_object_array_length(arr);
	if (n > REQUEST_MAX_MOUNTS)
		return capsid_error_set(err, E2BIG, "mounts: more than %d entries", REQUEST_MAX_MOUNTS);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		struct request_mount *m = &out->mounts[i];
		if (!json_object_is_type(o, json_type_object))
			return capsid_error_set(err, EINVAL, "mounts[%zu]: not an object", i);
		if ((rc = request_get_string(o, "volume", true, 63, &m->volume, err)) < 0 ||
		    (rc = request_get_string(o, "destination", true, REQUEST_MAX_PATH, &m->destination,
					     err)) < 0 ||
		    (rc = request_get_bool(o, "readOnly", &m->read_only, err)) < 0)
			return capsid_error_prefix(err, "mounts[%zu]", i);
		if (!request_valid_name(m->volume))
			return capsid_error_set(err, EINVAL, "mounts[%zu].volume: not a volume name", i);
		if (!valid_destination(m->destination))
			return capsid_error_set(err, EINVAL,
						"mounts[%zu].destination: not an absolute path without . or .. below /", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(out->mounts[j].destination, m->destination) == 0)
				return capsid_error_set(err, EINVAL, "mounts[%zu].destination: mounted twice", i);
	}
	out->n_mounts = n;
	return 0;
}

static int parse_volume(struct json_object *o, struct request_volume *v, struct capsid_error *err)
{
	const char *kind;
	int rc;
	if ((rc = request_get_string(o, "name", true, 63, &v->name, err)) < 0 ||
	    (rc = request_get_string(o, "kind", true, 16, &kind, err)) < 0 ||
	    (rc = request_get_bool(o, "readOnly", &v->read_only, err)) < 0)
		return rc;
	if (!request_valid_name(v->name))
		return capsid_error_set(err, EINVAL, "name: not a DNS label");
	const struct volume_kind_ops *ops = volume_kind_named(kind);
	if (!ops) {
		char names[96];
		volume_kind_names(names, sizeof(names));
		return capsid_error_set(err, EINVAL, "kind: \"%.16s\" is not %s", kind, names);
	}
	v->kind = ops->kind;
	return ops->check ? ops->check(o, v, err) : 0;
}

int request_parse_volumes(struct json_object *body, struct request_volume *out, size_t *n, struct capsid_error *err)
{
	struct json_object *arr;
	int rc = request_field(body, "volumes", true, &arr, err);
	if (rc < 0)
		return rc;
	if (!json_object_is_type(arr, json_type_array))
		return capsid_error_set(err, EINVAL, "volumes: not an array");
	size_t count = json_object_array_length(arr);
	if (count > REQUEST_MAX_VOLUMES)
		return capsid_error_set(err, E2BIG, "volumes: more than %d", REQUEST_MAX_VOLUMES);
	for (size_t i = 0; i < count; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		memset(&out[i], 0, sizeof(out[i]));
		if (!json_object_is_type(o, json_type_object))
			return capsid_error_set(err, EINVAL, "volumes[%zu]: not an object", i);
		rc = parse_volume(o, &out[i], err);
		if (rc < 0)
			return capsid_error_prefix(err, "volumes[%zu]", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(out[j].name, out[i].name) == 0)
				return capsid_error_set(err, EINVAL, "volumes[%zu].name: \"%s\" twice", i, out[i].name);
	}
	*n = count;
	return 0;
}

int request_parse_create(struct json_object *body, struct request_create *out, struct capsid_error *err)
{
	memset(out, 0, sizeof(*out));
	int rc = get_container(body, &out->container, err);
	if (rc < 0)
		return rc;
	rc = get_stream(body, &out->stream, err);
	if (rc < 0)
		return rc;
	out->runtime = "builtin";
	rc = request_get_string(body, "runtime", false, 16, &out->runtime, err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (strcmp(out->runtime, "builtin") != 0 && strcmp(out->runtime, "runc") != 0 &&
	    strcmp(out->runtime, "crun") != 0)
		return capsid_error_set(err, EINVAL, "runtime: \"%.16s\" is not builtin, crun or runc",
					out->runtime);

	struct json_object *image;
	rc = request_field(body, "image", true, &image, err);
	if (rc < 0)
		return rc;
	if (!json_object_is_type(image, json_type_object))
		return capsid_error_set(err, EINVAL, "image: not an object");
	rc = request_get_string(image, "serial", true, 64, &out->serial, err);
	if (rc < 0)
		return capsid_error_prefix(err, "image");
	if (!request_valid_serial(out->serial))
		return capsid_error_set(err, EINVAL,
					"image.serial: not a disk serial of at most %d characters",
					AGENT_SERIAL_MAX);
	out->fstype = "erofs";
	rc = request_get_string(image, "fstype", false, 16, &out->fstype, err);
	if (rc < 0 && rc != -ENOENT)
		return capsid_error_prefix(err, "image");
	if (strcmp(out->fstype, "erofs") != 0 && strcmp(out->fstype, "ext4") != 0)
		return capsid_error_set(err, EINVAL, "image.fstype: \"%.16s\" is neither erofs nor ext4",
					out->fstype);

	rc = parse_process(body, &out->proc, err);
	if (rc < 0)
		return rc;
	out->hostname = NULL;
	rc = request_get_string(body, "hostname", false, 256, &out->hostname, err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (out->hostname && !request_valid_hostname(out->hostname))
		return capsid_error_set(err, EINVAL, "hostname: not a valid host name");
	out->dns = NULL;
	rc = get_string_array(body, "dns", false, 8, false, &out->dns, err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	/* Nameservers become lines of resolv.conf: IP address characters only. */
	for (size_t i = 0; out->dns && i < json_object_array_length(out->dns); i++) {
		const char *ip = json_object_get_string(json_object_array_get_idx(out->dns, i));
		if (!*ip || strlen(ip) > 45 || strspn(ip, "0123456789abcdefABCDEF.:") != strlen(ip))
			return capsid_error_set(err, EINVAL, "dns[%zu]: not an IP address", i);
	}
	rc = parse_mounts(body, out, err);
	if (rc < 0)
		return rc;
	out->body = body;
	return parse_resources(body, &out->res, err);
}

int request_parse_exec(struct json_object *body, struct request_exec *out, struct capsid_error *err)
{
	memset(out, 0, sizeof(*out));
	int rc = get_container(body, &out->container, err);
	if (rc < 0)
		return rc;
	rc = get_stream(body, &out->stream, err);
	if (rc < 0)
		return rc;
	rc = parse_process(body, &out->proc, err);
	if (rc < 0)
		return rc;
	out->proc.open_stdin = true; /* an exec is interactive by nature */
	return 0;
}

int request_parse_container(struct json_object *body, const char **name, struct capsid_error *err)
{
	return get_container(body, name, err);
}

int request_parse_signal(struct json_object *body, struct request_signal *out, struct capsid_error *err)
{
	int rc = get_stream(body, &out->stream, err);
	if (rc < 0)
		return rc;
	int64_t sig;
	rc = get_int(body, "signal", true, 1, SIGRTMAX, &sig, err);
	if (rc < 0)
		return rc;
	out->signal = (int)sig;
	return 0;
}

int request_parse_resize(struct json_object *body, struct request_resize *out, struct capsid_error *err)
{
	int rc = get_stream(body, &out->stream, err);
	if (rc < 0)
		return rc;
	int64_t rows, cols;
	rc = get_int(body, "rows", true, 1, 65535, &rows, err);
	if (rc < 0)
		return rc;
	rc = get_int(body, "cols", true, 1, 65535, &cols, err);
	if (rc < 0)
		return rc;
	out->rows = (unsigned)rows;
	out->cols = (unsigned)cols;
	return 0;
}

int request_parse_shutdown(struct json_object *body, unsigned *timeout_ms, struct capsid_error *err)
{
	int64_t t = 5000;
	int rc = get_int(body, "timeoutMs", false, 0, 600000, &t, err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	*timeout_ms = (unsigned)t;
	return 0;
}
