/* Validation of request bodies from the host. Everything the host sends is
 * checked here (types, ranges, name syntax, counts) before any other module
 * acts on it; a volume kind's own fields are checked by that kind
 * (volume_kinds.h), called from here. The parsed structs point into the
 * JSON body, which must outlive them. Errors name the field:
 * "args[3]: not a string". */
#ifndef AGENT_REQUEST_H
#define AGENT_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct json_object;

#define REQUEST_MAX_ARGS   4096
#define REQUEST_MAX_ENV	   4096
#define REQUEST_MAX_STRING (128u * 1024u)
#define REQUEST_MAX_PATH   4096

/* -1 means "not given". */
struct request_resources {
	int64_t memory_bytes;
	int64_t cpu_shares;
	int64_t cpu_quota_us;
	int64_t cpu_period_us;
};

/* Fields shared by a container's init process and an exec. */
struct request_process {
	struct json_object *args; /* array of strings, 1..REQUEST_MAX_ARGS */
	struct json_object *env;  /* array of "KEY=value", may be NULL */
	const char *cwd;	  /* absolute */
	const char *user;	  /* NULL: root */
	bool tty;
	bool open_stdin;     /* a stdin pipe instead of /dev/null (exec: always) */
	unsigned rows, cols; /* 0: not given */
};

/* A volume mounted into a container (CREATE's "mounts"): the group's
 * volume `volume` (from VOLUMES) bind-mounted at `destination`. */
struct request_mount {
	const char *volume;
	const char *destination; /* absolute, no ".." component, not "/" */
	bool read_only;
};
#define REQUEST_MAX_MOUNTS 32

struct request_create {
	const char *container;
	uint32_t stream;
	const char *runtime; /* "builtin" (the default), "crun" or "runc" */
	const char *serial;
	const char *fstype;	 /* "erofs" or "ext4" */
	const char *hostname;	 /* NULL: the container name */
	struct json_object *dns; /* array of nameserver IPs, may be NULL */
	struct request_process proc;
	struct request_resources res;
	struct request_mount mounts[REQUEST_MAX_MOUNTS];
	size_t n_mounts;
	struct json_object *body; /* the whole request (security.h reads its "security") */
};

/* The group's volumes (the VOLUMES request): what each is, not yet
 * mounted. request.c checks the fields every volume has (name, kind,
 * readOnly); each kind checks its own (volume_kinds.h) and fills its part. */
enum request_volume_kind {
	REQUEST_VOLUME_EMPTY_DIR,
	REQUEST_VOLUME_SECRET,
	REQUEST_VOLUME_CIFS,
	REQUEST_VOLUME_DISK,
};

struct request_volume {
	const char *name; /* a DNS label */
	enum request_volume_kind kind;
	bool read_only;
	const char *server, *share, *username, *password; /* cifs */
	const char *serial, *fstype;			  /* disk */
	struct json_object *files;			  /* secret: object of file name -> base64 */
};
#define REQUEST_MAX_VOLUMES	 32
#define REQUEST_MAX_SECRET_FILES 64

struct request_exec {
	const char *container;
	uint32_t stream;
	struct request_process proc;
};

struct request_signal {
	uint32_t stream;
	int signal;
};

struct request_resize {
	uint32_t stream;
	unsigned rows, cols;
};

/* IDENTITY (a guest restored from a warm-start template): the host's
 * CLOCK_REALTIME, entropy to credit, the group's hostname. */
#define REQUEST_IDENTITY_ENTROPY_MIN 32
#define REQUEST_IDENTITY_ENTROPY_MAX 64
struct request_identity {
	int64_t time_ns;
	uint8_t entropy[REQUEST_IDENTITY_ENTROPY_MAX];
	size_t entropy_len;
	const char *hostname;
};

int request_parse_negotiate(struct json_object *body, unsigned *version, struct capsid_error *err);
/* IDENTITY: {"timeNs": >0, "entropy": base64 of 32..64 bytes, "hostname"}. */
int request_parse_identity(struct json_object *body, struct request_identity *out, struct capsid_error *err);
int request_parse_create(struct json_object *body, struct request_create *out, struct capsid_error *err);
/* VOLUMES: {"volumes": [...]}, at most REQUEST_MAX_VOLUMES, unique names. */
int request_parse_volumes(struct json_object *body, struct request_volume *out, size_t *n, struct capsid_error *err);
int request_parse_exec(struct json_object *body, struct request_exec *out, struct capsid_error *err);
/* START and DELETE: {"container": name}. */
int request_parse_container(struct json_object *body, const char **name, struct capsid_error *err);
int request_parse_signal(struct json_object *body, struct request_signal *out, struct capsid_error *err);
int request_parse_resize(struct json_object *body, struct request_resize *out, struct capsid_error *err);
/* SHUTDOWN: {"timeoutMs": N} (optional, default 5000, at most 600000). */
int request_parse_shutdown(struct json_object *body, unsigned *timeout_ms, struct capsid_error *err);

/* Field readers, for the checks of the volume kinds too: a missing
 * required field is "KEY: missing"; a missing optional one is -ENOENT with
 * err untouched, so that the caller can default. Strings are checked for
 * type, embedded NULs and length (at most max bytes). */
int request_field(struct json_object *body, const char *key, bool required, struct json_object **v,
		  struct capsid_error *err);
int request_get_string(struct json_object *body, const char *key, bool required, size_t max, const char **out,
		       struct capsid_error *err);
/* An optional boolean: *out is left as it was when the key is absent. */
int request_get_bool(struct json_object *body, const char *key, bool *out, struct capsid_error *err);

/* A DNS label: [a-z0-9]([a-z0-9-]*[a-z0-9])?, at most 63 characters. */
bool request_valid_name(const char *s);
/* A hostname: dot-separated labels of [A-Za-z0-9-], at most 64 characters
 * (HOST_NAME_MAX). */
bool request_valid_hostname(const char *s);
/* A disk serial: [A-Za-z0-9._-], at most AGENT_SERIAL_MAX, not . or .. */
bool request_valid_serial(const char *s);

#endif
