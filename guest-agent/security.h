/* A container's securityContext as CREATE carries it ("security":
 * {"privileged","noNewPrivileges","capAdd","capDrop","seccomp"}; the user
 * and group come in "user" like an image's), applied to the config.json the
 * agent writes for every runtime: the capability sets (the default set,
 * less capDrop, ALL dropping every one, plus capAdd; every capability when
 * privileged), no_new_privs, and for a privileged container no masked or
 * read-only /proc and /sys paths (inside the guest only: the VM stays the
 * boundary). Seccomp: the given profile (OCI linux.seccomp), else a default
 * one (Docker's default allowlist, security.c's table, widened by the
 * container's capabilities as Docker's is) unless privileged; crun and
 * runc apply it through libseccomp, the builtin runtime as its own BPF
 * filter (builtin/seccomp.c).
 * An exec into a container (and an exec probe) runs with the container's
 * securityContext, as Kubernetes applies it: its process.json takes the
 * container's user (unless the exec names one), capability sets and
 * no_new_privs from its config.json; each runtime's exec applies the
 * container's seccomp filter (crun and runc from their state, the builtin
 * runtime from the bundle its state names, probes from the config). */
#ifndef AGENT_SECURITY_H
#define AGENT_SECURITY_H

#include <stdbool.h>

#include "error.h"

struct json_object;
struct builtin_seccomp;

struct security_params {
	bool given;
	bool privileged;
	bool no_new_privileges;
	struct json_object *cap_add, *cap_drop; /* arrays of "CAP_..." or "ALL", in the body */
	struct json_object *seccomp;		/* the profile object, in the body; NULL: the default */
};

/* CREATE's "security" (absent: all defaults). */
int security_parse(struct json_object *body, struct security_params *out, struct capsid_error *err);
/* Rewrite config (oci_config_new's) for s and the runtime. */
int security_apply(struct json_object *config, const struct security_params *s, const char *runtime,
		   struct capsid_error *err);

#define SECURITY_CONFIG_MAX (1u << 20)
/* Give an exec's process document (proc) the container's security from
 * its config.json at config_path; keep_user: the exec named its own. */
int security_exec(struct json_object *proc, const char *config_path, bool keep_user,
		  struct capsid_error *err);
/* The container's seccomp filter from its config.json (out->set false:
 * it has none, a privileged one), for an exec probe to install. */
int security_filter(const char *config_path, struct builtin_seccomp *out, struct capsid_error *err);

#endif
