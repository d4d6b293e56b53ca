/* Shared between the spec module's files; not part of the public API. */
#ifndef CAPSID_SPEC_INTERNAL_H
#define CAPSID_SPEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "spec.h"

struct json_object;

/* YAML text (at most SPEC_MAX_INPUT bytes) to a json-c tree: plain scalars
 * that look like ints/floats/bools/null (YAML 1.2 core schema) get those
 * types, quoted scalars stay strings. Anchors, aliases, complex keys,
 * duplicate keys, several documents and nesting deeper than SPEC_MAX_DEPTH
 * are errors. */
int spec_yaml_to_json(const char *data, size_t len, struct json_object **out, struct capsid_error *err);

/* Overwrite every secret string in a tree we own before it is freed:
 * "secureValue" and "storageAccountKey" values, and every string inside a
 * "secret" object (secret volume contents). */
void spec_wipe_secure_values(struct json_object *obj);

/* ceil(x) for a sum of requests, tolerant of floating-point noise: values
 * within SPEC_CEIL_SLACK above an integer round down to it. */
#define SPEC_CEIL_SLACK 1e-6
unsigned spec_ceil_sum(double x);

/* Copy untrusted text into a message: at most 64 bytes, control bytes and
 * quotes/backslashes escaped, "..." appended when cut. */
void spec_sanitize(char *out, size_t size, const char *s);

/* ---- the validator's building blocks (spec_validate.c) -------------------
 * Shared so that each group of fields can live in its own file
 * (spec_network.c). Every message starts with the JSON path. */

#define SPEC_PATH_SZ 512

struct spec_warnings;
struct spec_group;

struct spec_vctx {
	unsigned flags;
	struct spec_warnings warn; /* handed to the caller only on success */
	size_t dropped;		   /* warnings beyond SPEC_MAX_WARNINGS */
	struct capsid_error *err;
};

typedef int (*spec_field_fn)(struct spec_vctx *c, struct json_object *val, const char *path, void *target);

/* One known key of an object kind: its handler, and whether it must be there. */
struct spec_field {
	const char *key;
	spec_field_fn parse; /* NULL: accepted and ignored */
	bool required;
};

void spec_path_key(char out[SPEC_PATH_SZ], const char *parent, const char *key);
void spec_path_index(char out[SPEC_PATH_SZ], const char *parent, size_t i);
int spec_nomem(struct spec_vctx *c);
int spec_type_error(struct spec_vctx *c, const char *path, const char *want, struct json_object *v);
int spec_get_string(struct spec_vctx *c, struct json_object *v, const char *path, const char **out);
int spec_dup_string(struct spec_vctx *c, struct json_object *v, const char *path, char **dst);
/* A JSON number, or a string that is wholly one (as Azure accepts). */
int spec_get_number(struct spec_vctx *c, struct json_object *v, const char *path, double *out);
/* Property names match case-insensitively, as Azure's deserializer does.
 * spec_object_lookup: *out is the value of key (NULL when absent or null);
 * a key present twice in different cases is an error. spec_object_has: the
 * first match, present even when null (*val NULL then); spec_object_get:
 * its value, NULL when absent or null. */
int spec_object_lookup(struct spec_vctx *c, struct json_object *obj, const char *path, const char *key,
		       struct json_object **out);
bool spec_object_has(struct json_object *obj, const char *key, struct json_object **val);
struct json_object *spec_object_get(struct json_object *obj, const char *key);
/* Warn about unknown keys, report missing required ones, run the handlers
 * in table order. A JSON null counts as absent. */
int spec_parse_object(struct spec_vctx *c, struct json_object *obj, const char *path,
		      const struct spec_field *fields, size_t n_fields, void *target);
int spec_parse_dns_label(struct spec_vctx *c, struct json_object *v, const char *path, char **dst);

/* ---- the ARM resource envelope (spec_resource.c) ------------------------ */

/* apiVersion, location, tags, type, identity (target: struct spec_group). */
int spec_parse_api_version(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
int spec_parse_location(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
int spec_parse_tags(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
int spec_parse_resource_type(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
int spec_parse_identity(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
void spec_put_identity(struct json_object *doc, const struct spec_identity *id, bool *ok);
void spec_identity_free(struct spec_identity *id);

/* ---- networking fields (spec_network.c) ---------------------------------- */

/* containers[].properties.ports (target: struct spec_container). */
int spec_parse_container_ports(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
/* properties.ipAddress, .dnsConfig, .subnetIds (target: struct spec_group). */
int spec_parse_ip_address(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
int spec_parse_dns_config(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
int spec_parse_subnet_ids(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
/* Container i's ports against those of containers 0..i-1 (path: the
 * container's). */
int spec_check_container_ports(struct spec_vctx *c, const struct spec_group *g, size_t i, const char *path);
/* Rules across fields, once properties are parsed (path: "properties"). */
int spec_check_network(struct spec_vctx *c, const struct spec_group *g, const char *path);

/* ---- volumes (spec_volume.c) --------------------------------------------- */

/* containers[].properties.volumeMounts (target: struct spec_container). */
int spec_parse_volume_mounts(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
/* properties.volumes (target: struct spec_group). */
int spec_parse_volumes(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
/* Every mount names a volume (path: "properties"). */
int spec_check_volumes(struct spec_vctx *c, const struct spec_group *g, const char *path);
/* Serialisation and freeing of the volume fields (spec_model.c calls them). */
void spec_put_volumes(struct json_object *props, const struct spec_group *g, enum spec_json_mode mode,
		      bool *ok);
void spec_put_volume_mounts(struct json_object *props, const struct spec_container *ct, bool *ok);
void spec_volumes_free(struct spec_group *g);
void spec_volume_mounts_free(struct spec_container *ct);

/* ---- registry credentials (spec_registry.c) ------------------------------ */

/* properties.imageRegistryCredentials (target: struct spec_group). */
int spec_parse_registry_credentials(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
void spec_put_registry_credentials(struct json_object *props, const struct spec_group *g,
				   enum spec_json_mode mode, bool *ok);
void spec_registry_credentials_free(struct spec_group *g);

/* ---- container fields shared with initContainers (spec_validate.c, spec_model.c) */

/* containers[].properties.image, .command, .environmentVariables (target: struct spec_container). */
int spec_parse_image(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
int spec_parse_command(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
int spec_parse_env_list(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
void spec_put_env(struct json_object *arr, const struct spec_env *e, enum spec_json_mode mode, bool *ok);
void spec_container_free(struct spec_container *ct); /* its members, not ct itself */

/* ---- probes (spec_probe.c) ------------------------------------------------ */

/* containers[].properties.livenessProbe, .readinessProbe (target: struct spec_container). */
int spec_parse_liveness_probe(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
int spec_parse_readiness_probe(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
void spec_put_probes(struct json_object *props, const struct spec_container *ct, bool *ok);
void spec_probes_free(struct spec_container *ct);

/* ---- securityContext (spec_security.c) ------------------------------------ */

int spec_parse_security_context(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
void spec_put_security_context(struct json_object *props, const struct spec_container *ct, bool *ok);

/* spec_stdio.c: a container's stdin and tty flags. */
int spec_parse_stdin(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
int spec_parse_tty(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
void spec_put_stdio(struct json_object *props, const struct spec_container *ct, bool *ok);
void spec_security_context_free(struct spec_container *ct);

/* ---- init containers (spec_init.c) ---------------------------------------- */

/* properties.initContainers (target: struct spec_group; after containers and volumes). */
int spec_parse_init_containers(struct spec_vctx *c, struct json_object *v, const char *path, void *target);
void spec_put_init_containers(struct json_object *props, const struct spec_group *g, enum spec_json_mode mode,
			      bool *ok);
void spec_init_containers_free(struct spec_group *g);

/* Attach child to an object (key) or array (key NULL); a NULL child means an
 * allocation failed, remembered in *ok so the caller checks once. Returns
 * child, or NULL (child freed) on failure. */
struct json_object *spec_json_put(struct json_object *parent, const char *key, struct json_object *child,
				  bool *ok);

#endif
