/* containers[].properties.securityContext, ACI's 2023-05-01 shape:
 * privileged, allowPrivilegeEscalation, capabilities {add, drop},
 * runAsUser, runAsGroup, seccompProfile (a base64 JSON seccomp profile in
 * the OCI/Docker format). Applied inside the guest by its runtime;
 * privileged widens the container inside the guest only. */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "seccomp_args.h"
#include "spec.h"
#include "spec_internal.h"
#include "util.h"

/* The capabilities Linux 6.1 knows, without their CAP_ prefix. */
static const char *const cap_names[] = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
};

const char *spec_capability_canonical(const char *s)
{
	if (!strncasecmp(s, "CAP_", 4))
		s += 4;
	for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
		if (!strcasecmp(s, cap_names[i]))
			return cap_names[i];
	if (!strcasecmp(s, "ALL"))
		return "ALL";
	return NULL;
}

static int parse_bool(struct spec_vctx *c, struct json_object *v, const char *path, bool *out)
{
	if (json_object_is_type(v, json_type_boolean)) {
		*out = json_object_get_boolean(v);
		return 0;
	}
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (s && (!strcasecmp(s, "true") || !strcasecmp(s, "false"))) {
		*out = !strcasecmp(s, "true");
		return 0;
	}
	return spec_type_error(c, path, "a boolean", v);
}

static int parse_privileged(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return parse_bool(c, v, path, &((struct spec_security *)target)->privileged);
}

static int parse_escalation(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_security *s = target;
	s->has_allow_privilege_escalation = true;
	return parse_bool(c, v, path, &s->allow_privilege_escalation);
}

static int parse_id(struct spec_vctx *c, struct json_object *v, const char *path, long long *out)
{
	double d;
	int rc = spec_get_number(c, v, path, &d);
	if (rc < 0)
		return rc;
	if (d != floor(d) || d < 0 || d > 4294967294.0)
		return capsid_error_set(c->err, EINVAL, "%s: must be a whole number from 0 to 4294967294",
					path);
	*out = (long long)d;
	return 0;
}

static int parse_run_as_user(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return parse_id(c, v, path, &((struct spec_security *)target)->run_as_user);
}

static int parse_run_as_group(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return parse_id(c, v, path, &((struct spec_security *)target)->run_as_group);
}

static int parse_cap_list(struct spec_vctx *c, struct json_object *v, const char *path, char ***list,
			  size_t *n)
{
	if (!json_object_is_type(v, json_type_array))
		return spec_type_error(c, path, "an array of capability names", v);
	size_t len = json_object_array_length(v);
	if (len > 64)
		return capsid_error_set(c->err, EINVAL, "%s: at most 64 capabilities, not %zu", path, len);
	if (len && !(*list = calloc(len, sizeof(**list))))
		return spec_nomem(c);
	for (size_t i = 0; i < len; i++) {
		char p[SPEC_PATH_SZ];
		spec_path_index(p, path, i);
		const char *s;
		int rc = spec_get_string(c, json_object_array_get_idx(v, i), p, &s);
		if (rc < 0)
			return rc;
		const char *canon = spec_capability_canonical(s);
		if (!canon) {
			char q[80];
			spec_sanitize(q, sizeof(q), s);
			return capsid_error_set(c->err, EINVAL, "%s: unknown capability \"%s\"", p, q);
		}
		if (!((*list)[i] = strdup(canon)))
			return spec_nomem(c);
		*n = i + 1;
	}
	return 0;
}

static int parse_add(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_security *s = target;
	return parse_cap_list(c, v, path, &s->cap_add, &s->n_cap_add);
}

static int parse_drop(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_security *s = target;
	return parse_cap_list(c, v, path, &s->cap_drop, &s->n_cap_drop);
}

static const struct spec_field capabilities_fields[] = {
    {"add", parse_add, false},
    {"drop", parse_drop, false},
};

static int parse_capabilities(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	return spec_parse_object(c, v, path, capabilities_fields, ARRAY_SIZE(capabilities_fields), target);
}

/* The decoded profile must be a JSON object with a defaultAction and, if
 * any, syscalls[] of {names[] or name, action, args[] (common/seccomp_args.h)}:
 * what the guest's runtimes read (OCI's linux.seccomp, Docker's profile format). */
static int check_profile(struct spec_vctx *c, const char *path, const char *json, size_t len)
{
	_cleanup_json_ struct json_object *doc = json_tokener_parse(json);
	if (!doc || !json_object_is_type(doc, json_type_object) || strlen(json) != len)
		return capsid_error_set(c->err, EINVAL, "%s: the decoded profile is not a JSON object", path);
	struct json_object *v = spec_object_get(doc, "defaultAction");
	if (!v || !json_object_is_type(v, json_type_string) ||
	    strncmp(json_object_get_string(v), "SCMP_ACT_", 9))
		return capsid_error_set(c->err, EINVAL,
					"%s: the profile needs a defaultAction (SCMP_ACT_...)", path);
	struct json_object *sys = spec_object_get(doc, "syscalls");
	if (sys && !json_object_is_type(sys, json_type_array))
		return capsid_error_set(c->err, EINVAL, "%s: the profile's syscalls must be an array", path);
	for (size_t i = 0; sys && i < json_object_array_length(sys); i++) {
		struct json_object *r = json_object_array_get_idx(sys, i);
		struct json_object *names = spec_object_get(r, "names"),
				   *action = spec_object_get(r, "action");
		if (!names)
			names = spec_object_get(r, "name");
		if (!names || !action || !json_object_is_type(action, json_type_string))
			return capsid_error_set(c->err, EINVAL,
						"%s: the profile's syscalls[%zu] needs names and an action",
						path, i);
		char what[48];
		snprintf(what, sizeof(what), "syscalls[%zu]", i);
		struct seccomp_args_cond conds[SECCOMP_ARGS_MAX];
		size_t n;
		struct capsid_error why = {0};
		if (seccomp_args_read(r, what, conds, &n, &why) < 0)
			return capsid_error_set(c->err, EINVAL, "%s: the profile's %s", path, why.msg);
	}
	return 0;
}

static int parse_seccomp(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_security *s = target;
	int rc = spec_dup_string(c, v, path, &s->seccomp_profile);
	if (rc < 0)
		return rc;
	if (strlen(s->seccomp_profile) > SPEC_MAX_SECCOMP_PROFILE)
		return capsid_error_set(c->err, EINVAL, "%s: longer than %d bytes", path,
					SPEC_MAX_SECCOMP_PROFILE);
	size_t in = strlen(s->seccomp_profile);
	_cleanup_free_ char *json = malloc(in / 4 * 3 + 4);
	if (!json)
		return spec_nomem(c);
	ssize_t len = util_base64_decode(s->seccomp_profile, in, (uint8_t *)json);
	if (len < 0)
		return capsid_error_set(c->err, EINVAL, "%s: not valid base64", path);
	json[len] = '\0';
	return check_profile(c, path, json, (size_t)len);
}

static const struct spec_field security_fields[] = {
    {"privileged", parse_privileged, false},	 {"allowPrivilegeEscalation", parse_escalation, false},
    {"capabilities", parse_capabilities, false}, {"runAsUser", parse_run_as_user, false},
    {"runAsGroup", parse_run_as_group, false},	 {"seccompProfile", parse_seccomp, false},
};

int spec_parse_security_context(struct spec_vctx *c, struct json_object *v, const char *path, void *target)
{
	struct spec_container *ct = target;
	if (!(ct->security = calloc(1, sizeof(*ct->security))))
		return spec_nomem(c);
	ct->security->run_as_user = ct->security->run_as_group = -1;
	return spec_parse_object(c, v, path, security_fields, ARRAY_SIZE(security_fields), ct->security);
}

#define put spec_json_put

void spec_put_security_context(struct json_object *props, const struct spec_container *ct, bool *ok)
{
	const struct spec_security *s = ct->security;
	if (!s)
		return;
	struct json_object *o = put(props, "securityContext", json_object_new_object(), ok);
	put(o, "privileged", json_object_new_boolean(s->privileged), ok);
	if (s->has_allow_privilege_escalation)
		put(o, "allowPrivilegeEscalation", json_object_new_boolean(s->allow_privilege_escalation),
		    ok);
	if (s->n_cap_add || s->n_cap_drop) {
		struct json_object *caps = put(o, "capabilities", json_object_new_object(), ok);
		struct json_object *add = put(caps, "add", json_object_new_array(), ok);
		for (size_t i = 0; i < s->n_cap_add; i++)
			put(add, NULL, json_object_new_string(s->cap_add[i]), ok);
		struct json_object *drop = put(caps, "drop", json_object_new_array(), ok);
		for (size_t i = 0; i < s->n_cap_drop; i++)
			put(drop, NULL, json_object_new_string(s->cap_drop[i]), ok);
	}
	if (s->run_as_user >= 0)
		put(o, "runAsUser", json_object_new_int64(s->run_as_user), ok);
	if (s->run_as_group >= 0)
		put(o, "runAsGroup", json_object_new_int64(s->run_as_group), ok);
	if (s->seccomp_profile)
		put(o, "seccompProfile", json_object_new_string(s->seccomp_profile), ok);
}

void spec_security_context_free(struct spec_container *ct)
{
	struct spec_security *s = ct->security;
	if (!s)
		return;
	for (size_t i = 0; i < s->n_cap_add; i++)
		free(s->cap_add[i]);
	free(s->cap_add);
	for (size_t i = 0; i < s->n_cap_drop; i++)
		free(s->cap_drop[i]);
	free(s->cap_drop);
	free(s->seccomp_profile);
	free(s);
	ct->security = NULL;
}
