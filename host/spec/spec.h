/* Container-group spec: the ACI container-group model (ARM JSON shape), read
 * from YAML or JSON, validated into plain C structs, and serialised back.
 *
 * Both formats become one json-c tree first (YAML through libyaml), so a
 * single validator serves both. Every validation error starts with the JSON
 * path of the offending field, e.g.
 *   properties.containers[1].properties.resources.requests.cpu: must be greater than 0
 * Unknown fields are warnings, not errors. Secrets (secureValue,
 * storageAccountKey, secret volume contents) never appear in errors or
 * warnings, and are wiped from memory when freed. */
#ifndef CAPSID_SPEC_H
#define CAPSID_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct json_object;

#define SPEC_MAX_INPUT	     (1u << 20) /* bytes of YAML/JSON accepted */
#define SPEC_MAX_DEPTH	     64		/* nested objects/arrays accepted */
#define SPEC_MAX_CONTAINERS  60		/* ACI limit per group */
#define SPEC_MAX_CPU	     64.0	/* per container and per group */
#define SPEC_MAX_MEMORY_GB   256.0	/* per container and per group */
#define SPEC_MAX_WARNINGS    64		/* further warnings are summarised in one line */
#define SPEC_MAX_PORTS	     64		/* per container and for ipAddress */
#define SPEC_MAX_NAMESERVERS 3		/* resolv.conf reads three */
#define SPEC_MAX_VOLUMES     20		/* per group */
#define SPEC_MAX_MOUNTS	     20		/* volumeMounts per container */
#define SPEC_MAX_SECRET_FILES 64	/* files per secret volume */
#define SPEC_MAX_SECRET_BYTES (256u << 10) /* decoded bytes per secret volume */
#define SPEC_MAX_REGISTRY_CREDENTIALS 20
#define SPEC_MAX_INIT_CONTAINERS 10 /* per group */

enum spec_restart_policy { SPEC_RESTART_ALWAYS, SPEC_RESTART_ON_FAILURE, SPEC_RESTART_NEVER };

struct spec_env {
	char *name;
	char *value; /* NULL only for a secure entry read with SPEC_PARSE_REDACTED */
	bool secure;
};

struct spec_resources {
	double cpu;
	double memory_gb;
}; /* 0 = not given */

enum spec_protocol { SPEC_PROTO_TCP, SPEC_PROTO_UDP };

/* A port (1-65535). ACI has no port mapping: a group port is published
 * as the same port of the container that declares it. */
struct spec_port {
	unsigned port;
	enum spec_protocol protocol; /* default TCP */
};

/* containers[].properties.volumeMounts[]: mount_path is absolute, without
 * ':', '.' or '..' components, and stored normalised (no repeated or
 * trailing '/'); unique within its container. */
struct spec_volume_mount {
	char *name; /* names a properties.volumes[] entry */
	char *mount_path;
	bool read_only;
};

/* containers[].properties.livenessProbe / readinessProbe (spec_probe.c):
 * exactly one of exec or httpGet; Kubernetes' defaults (period 10 s,
 * timeout 1 s, failureThreshold 3, successThreshold 1). */
#define SPEC_PROBE_MAX_ARGS 64
#define SPEC_PROBE_MAX_HEADERS 16
enum spec_probe_kind { SPEC_PROBE_EXEC, SPEC_PROBE_HTTP_GET };

struct spec_probe_header {
	char *name;
	char *value;
};

struct spec_probe {
	enum spec_probe_kind kind;
	char **exec_command; /* exec: argv, at least one */
	size_t n_exec_command;
	char *http_path; /* httpGet: starts with '/', default "/"; scheme is always http */
	unsigned http_port;
	struct spec_probe_header *http_headers;
	size_t n_http_headers;
	unsigned initial_delay_s, period_s, timeout_s, failure_threshold, success_threshold;
};

/* containers[].properties.securityContext (spec_security.c). Capability
 * names are kept without CAP_, in upper case ("NET_ADMIN", or "ALL"). */
#define SPEC_MAX_SECCOMP_PROFILE (256 << 10) /* base64 bytes */
struct spec_security {
	bool privileged;
	bool has_allow_privilege_escalation, allow_privilege_escalation;
	char **cap_add, **cap_drop;
	size_t n_cap_add, n_cap_drop;
	long long run_as_user, run_as_group; /* -1 when not given */
	char *seccomp_profile;		      /* base64 of a JSON profile, NULL when not given */
};
/* "CHOWN" for "cap_chown" or "CHOWN", "ALL", NULL for an unknown name. */
const char *spec_capability_canonical(const char *s);

struct spec_container {
	char *name;
	char *image;
	char **command; /* NULL/0 when not given */
	size_t n_command;
	struct spec_env *env;
	size_t n_env;
	struct spec_resources requests, limits; /* requests are required (ACI) */
	struct spec_port *ports;		/* unique (port, protocol) within the group */
	size_t n_ports;
	struct spec_volume_mount *mounts;
	size_t n_mounts;
	struct spec_probe *liveness_probe, *readiness_probe; /* NULL when not given */
	struct spec_security *security;			     /* NULL when not given */
	bool open_stdin, tty; /* properties.stdin / .tty (Kubernetes' names): an open stdin, a terminal */
};

/* properties.volumes[]: exactly one kind each. */
enum spec_volume_kind {
	SPEC_VOLUME_AZURE_FILE,	  /* SMB share, mounted in the guest with cifs */
	SPEC_VOLUME_EMPTY_DIR,	  /* per group, gone with the group */
	SPEC_VOLUME_SECRET,	  /* files on tmpfs in the guest */
	SPEC_VOLUME_GIT_REPO,	  /* cloned on the host into a read-only image */
	SPEC_VOLUME_CAPSID_DISK,  /* capsid's extension: a persistent qcow2 disk */
};

/* A secret file: data is the base64 text with whitespace removed (checked
 * to decode), NULL when read back redacted. Wiped when freed. */
struct spec_secret_file {
	char *name; /* a plain file name: no '/', not "." or ".." */
	char *data;
	size_t size; /* decoded bytes */
};

struct spec_volume {
	char *name; /* DNS label, unique in the group */
	enum spec_volume_kind kind;
	union {
		struct {
			char *share_name;   /* 3-63 of [a-z0-9-], Azure's share name rule */
			char *account_name; /* 3-24 of [a-z0-9] */
			char *account_key;  /* secret; NULL when read back redacted */
			bool read_only;
		} azure_file;
		struct {
			struct spec_secret_file *files;
			size_t n_files;
		} secret;
		struct {
			char *repository; /* absolute path or http(s)/git/ssh/file URL */
			char *directory;  /* NULL when not given; relative, no '..' */
			char *revision;	  /* NULL when not given (the default branch) */
		} git_repo;
		struct {
			char *volume_name; /* a `capsid volume create` name */
			bool read_only;
		} disk;
	};
};

enum spec_ip_type { SPEC_IP_PUBLIC, SPEC_IP_PRIVATE };

/* properties.ipAddress: every port must be declared by a container. */
struct spec_ip_address {
	enum spec_ip_type type;
	struct spec_port *ports; /* at least one */
	size_t n_ports;
	char *dns_name_label; /* NULL when not given */
	char *ip;	      /* requested IPv4 address, NULL when not given */
};

/* properties.dnsConfig; searchDomains and options are space-separated
 * strings, as in ACI. */
struct spec_dns_config {
	char **name_servers; /* 1..SPEC_MAX_NAMESERVERS IPv4 addresses */
	size_t n_name_servers;
	char *search_domains; /* NULL when not given */
	char *options;	      /* NULL when not given */
};

/* properties.subnetIds[]: the last path segment of id names a capsid
 * virtual network ("/subscriptions/.../subnets/backend" or "backend"). */
struct spec_subnet {
	char *id;
	char *name;    /* NULL when not given */
	char *network; /* the last segment of id */
};

struct spec_tag {
	char *key;
	char *value;
};

/* The ARM resource type of a group: "type" may be given (any case) and is
 * always shown back. */
#define SPEC_RESOURCE_TYPE "Microsoft.ContainerInstance/containerGroups"

/* identity (ARM managed identities): accepted and shown back; capsid serves
 * no identity endpoint to the guest. */
struct spec_identity {
	char *type;	      /* SystemAssigned | UserAssigned | "SystemAssigned, UserAssigned" | None */
	char **user_assigned; /* resource ids, when type has UserAssigned */
	size_t n_user_assigned;
};

/* properties.imageRegistryCredentials[]: what create pulls images with.
 * password is a secret like secureValue (NULL when read back redacted),
 * wiped when freed. Servers are unique. */
struct spec_registry_credential {
	char *server; /* "myreg.azurecr.io", "host:5000", "index.docker.io" */
	char *username;
	char *password;
};

struct spec_group {
	char *api_version; /* NULL when not given */
	char *name;	   /* stored lowercase: ARM resource names are case-insensitive */
	char *location;	   /* NULL when not given */
	struct spec_identity *identity; /* NULL when not given */
	char *os_type;	/* always "Linux" */
	struct spec_tag *tags;
	size_t n_tags;
	enum spec_restart_policy restart_policy;
	struct spec_container *containers;
	size_t n_containers;
	struct spec_ip_address *ip_address; /* NULL when not given */
	struct spec_dns_config *dns_config; /* NULL when not given */
	struct spec_subnet *subnets;	    /* at most one (ACI) */
	size_t n_subnets;
	struct spec_volume *volumes;
	size_t n_volumes;
	struct spec_registry_credential *registry_credentials;
	size_t n_registry_credentials;
	/* properties.initContainers[]: run one after another to completion,
	 * in order, before the containers start (spec_init.c). Only name,
	 * image, command, env and mounts are set: they run with the group's
	 * resources. Names are unique across containers and initContainers. */
	struct spec_container *init_containers;
	size_t n_init_containers;
};

/* Each item reads like "properties.foo: unknown field, ignored". */
struct spec_warnings {
	char **items;
	size_t n;
};

/* Flags for spec_parse_ex / spec_from_json_ex. */
enum spec_parse_flags {
	/* Accept what spec_to_json(SPEC_REDACT) writes: an environment variable
	 * with a name only is a secure one whose value was dropped (value NULL,
	 * secure true). Likewise an azureFile without storageAccountKey
	 * (account_key NULL) and a secret file whose content is null (data
	 * NULL). Without this flag such entries are errors. Use it to read back
	 * a stored spec, never for a user's input. */
	SPEC_PARSE_REDACTED = 1u << 0,
};

/* All parse functions: on success *out owns a new group (free with
 * spec_free) and warnings, if warn is not NULL, are appended to *warn
 * (free with spec_warnings_free). On failure they return -errno (-EINVAL for
 * invalid input, -EFBIG for input over SPEC_MAX_INPUT, -ENOMEM), set err
 * (the first error found), leave *out NULL and *warn unchanged. warn may be
 * NULL to ignore warnings.
 * Format: JSON when the first non-space character is '{', else YAML. */
int spec_parse(const char *data, size_t len, struct spec_group **out, struct spec_warnings *warn,
	       struct capsid_error *err);
int spec_parse_ex(const char *data, size_t len, unsigned flags, struct spec_group **out,
		  struct spec_warnings *warn, struct capsid_error *err);
/* Reads at most SPEC_MAX_INPUT bytes; the file name is not part of err. */
int spec_parse_file(const char *path, struct spec_group **out, struct spec_warnings *warn,
		    struct capsid_error *err);
/* Validate an already parsed tree (the caller keeps ownership of doc). */
int spec_from_json(struct json_object *doc, struct spec_group **out, struct spec_warnings *warn,
		   struct capsid_error *err);
int spec_from_json_ex(struct json_object *doc, unsigned flags, struct spec_group **out,
		      struct spec_warnings *warn, struct capsid_error *err);

/* Serialise back to the ACI JSON shape (defaults written out). SPEC_REDACT:
 * secureValue entries keep their name but carry no value (like ACI's GET,
 * which omits secureValue); storageAccountKey is left out and secret files
 * keep their names with null content, registry passwords are left out. SPEC_WITH_SECRETS: full round-trip (used only
 * over a pipe to the monitor). Returns a new reference, NULL on ENOMEM. */
enum spec_json_mode { SPEC_REDACT, SPEC_WITH_SECRETS };
struct json_object *spec_to_json(const struct spec_group *g, enum spec_json_mode mode);

void spec_free(struct spec_group *g); /* NULL-safe; wipes secure values (explicit_bzero) before free */
/* Overwrite every secret string of a document before it is freed (what
 * spec_to_json(SPEC_WITH_SECRETS) or a caller's own document holds):
 * secureValue, storageAccountKey, password, secret volume contents. NULL-safe. */
void spec_json_wipe_secrets(struct json_object *doc);
void spec_warnings_free(struct spec_warnings *w);		  /* frees the items, leaves *w empty */
static inline void spec_freep(struct spec_group **g)
{
	spec_free(*g);
}
#define _cleanup_spec_ __attribute__((cleanup(spec_freep)))
const char *spec_restart_policy_name(enum spec_restart_policy p); /* "Always", "OnFailure", "Never" */
const char *spec_protocol_name(enum spec_protocol p);		  /* "TCP", "UDP" */
const char *spec_ip_type_name(enum spec_ip_type t);		  /* "Public", "Private" */
/* "azureFile", "emptyDir", "secret", "gitRepo", "capsidDisk" (the spec keys). */
const char *spec_volume_kind_name(enum spec_volume_kind k);
/* What secret a volume carries ("a storage account key"; NULL: none): it
 * lives only in the monitor's memory, never in the stored spec. */
const char *spec_volume_secrets(const struct spec_volume *vol);
/* The group's volume of that name, NULL when there is none. */
const struct spec_volume *spec_group_volume(const struct spec_group *g, const char *name);
/* The capsid network the group joins: subnetIds[0]'s, NULL for the default. */
const char *spec_group_network(const struct spec_group *g);

/* Every container of the group, init containers included: i below
 * spec_group_all_containers(g) names containers[i], then initContainers[]
 * in order. spec_container_path writes its field path
 * ("properties.initContainers[0]"). */
size_t spec_group_all_containers(const struct spec_group *g);
const struct spec_container *spec_group_container_at(const struct spec_group *g, size_t i);
void spec_container_path(const struct spec_group *g, size_t i, char *out, size_t len);

/* Resource rule (ACI): vCPUs = ceil(sum of container cpu requests); memory
 * MiB = ceil(sum of memoryInGB*1024). The ceil() allows for floating-point
 * noise (10 x 0.1 CPU is 1 vCPU, not 2). Both are at least 1. */
unsigned spec_group_vcpus(const struct spec_group *g);
unsigned spec_group_memory_mib(const struct spec_group *g);

#endif
