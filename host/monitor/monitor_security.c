/* A container's securityContext into its CREATE (guest-agent/security.h
 * applies it): runAsUser and runAsGroup become the process's "user" (in
 * place of the image's, as Kubernetes does), the rest goes as "security". */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "image.h"
#include "monitor.h"
#include "spec.h"
#include "util.h"

static struct json_object *cap_array(char **caps, size_t n)
{
	struct json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof(name), "%s%s", strcmp(caps[i], "ALL") ? "CAP_" : "", caps[i]);
		json_object_array_add(arr, json_object_new_string(name));
	}
	return arr;
}

void monitor_security_describe(struct json_object *body, const struct spec_container *sc,
			       const char *image_user)
{
	const struct spec_security *s = sc->security;
	char user[160] = "";
	if (image_user)
		snprintf(user, sizeof(user), "%s", image_user);
	if (s && s->run_as_user >= 0) {
		if (s->run_as_group >= 0)
			snprintf(user, sizeof(user), "%lld:%lld", s->run_as_user, s->run_as_group);
		else
			snprintf(user, sizeof(user), "%lld", s->run_as_user);
	} else if (s && s->run_as_group >= 0) {
		/* The image's user (or root) with the group replaced. */
		char base[128];
		snprintf(base, sizeof(base), "%s", user[0] ? user : "0");
		base[strcspn(base, ":")] = '\0';
		snprintf(user, sizeof(user), "%s:%lld", base, s->run_as_group);
	}
	if (user[0])
		json_object_object_add(body, "user", json_object_new_string(user));
	if (!s)
		return;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "privileged", json_object_new_boolean(s->privileged));
	json_object_object_add(
	    o, "noNewPrivileges",
	    json_object_new_boolean(s->has_allow_privilege_escalation && !s->allow_privilege_escalation));
	json_object_object_add(o, "capAdd", cap_array(s->cap_add, s->n_cap_add));
	json_object_object_add(o, "capDrop", cap_array(s->cap_drop, s->n_cap_drop));
	if (s->seccomp_profile) {
		size_t in = strlen(s->seccomp_profile);
		_cleanup_free_ char *json = malloc(in / 4 * 3 + 4);
		ssize_t len = json ? util_base64_decode(s->seccomp_profile, in, (uint8_t *)json) : -1;
		if (len >= 0) {
			json[len] = '\0';
			struct json_object *profile = json_tokener_parse(json); /* checked by the spec */
			if (profile)
				json_object_object_add(o, "seccomp", profile);
		}
	}
	json_object_object_add(body, "security", o);
}
