/* The subset of the OCI runtime spec the builtin runtime implements: what
 * oci_config.c writes. A document asking for anything else is refused with
 * the field's name rather than half-applied. Strings point into `doc`. */
#ifndef AGENT_BUILTIN_SPEC_H
#define AGENT_BUILTIN_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "error.h"

#define BSPEC_MAX_ARGS	  256
#define BSPEC_MAX_ENV	  1024
#define BSPEC_MAX_GROUPS  64
#define BSPEC_MAX_RLIMITS 16
#define BSPEC_MAX_MOUNTS  96
#define BSPEC_MAX_PATHS	  32

enum bspec_capset {
	BSPEC_BOUNDING,
	BSPEC_EFFECTIVE,
	BSPEC_PERMITTED,
	BSPEC_INHERITABLE,
	BSPEC_AMBIENT,
	BSPEC_NCAPSETS
};

struct bspec_process {
	bool terminal;
	unsigned rows, cols;
	uid_t uid;
	gid_t gid;
	gid_t groups[BSPEC_MAX_GROUPS];
	size_t n_groups;
	const char *args[BSPEC_MAX_ARGS + 1]; /* NULL-terminated */
	const char *env[BSPEC_MAX_ENV + 1];   /* NULL-terminated */
	const char *cwd;
	uint64_t caps[BSPEC_NCAPSETS]; /* bit n: capability n */
	struct {
		int resource;
		struct rlimit limit;
	} rlimits[BSPEC_MAX_RLIMITS];
	size_t n_rlimits;
	bool no_new_privileges;
};

struct bspec_mount {
	const char *destination, *type, *source;
	unsigned long flags;	   /* MS_* without propagation */
	unsigned long propagation; /* MS_PRIVATE, MS_SLAVE, ... or 0; MS_REC added for r* */
	bool bind;
	char data[256]; /* options that are not flags, comma-joined */
};

struct bspec {
	struct bspec_process process;
	const char *root;
	bool root_readonly;
	const char *hostname;
	struct bspec_mount mounts[BSPEC_MAX_MOUNTS];
	size_t n_mounts;
	int namespaces; /* CLONE_NEW* */
	const char *cgroups_path;
	int64_t memory_limit; /* bytes, -1: none */
	uint64_t cpu_shares;  /* 0: none */
	int64_t cpu_quota;    /* us, -1: none */
	uint64_t cpu_period;  /* us, 0: none */
	const char *masked[BSPEC_MAX_PATHS];
	size_t n_masked;
	const char *readonly[BSPEC_MAX_PATHS];
	size_t n_readonly;
};

struct json_object;

/* Parse a config.json document (the whole bundle config). */
int bspec_parse_config(struct json_object *doc, struct bspec *out, struct capsid_error *err);
/* Parse a process document (`exec --process FILE`). */
int bspec_parse_process(struct json_object *doc, struct bspec_process *out, struct capsid_error *err);

/* The capability number of "CAP_CHOWN" etc., -1 if unknown. */
int bspec_cap_number(const char *name);

#endif
