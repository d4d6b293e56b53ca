/* The subset of the OCI runtime spec the builtin runtime implements: what
 * oci.c writes. A document asking for anything else is refused with
 * the field's name rather than half-applied. Strings point into `doc`. */
#ifndef AGENT_BUILTIN_SPEC_H
#define AGENT_BUILTIN_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "error.h"
#include "seccomp.h"

#define BUILTIN_SPEC_MAX_ARGS	 256
#define BUILTIN_SPEC_MAX_ENV	 1024
#define BUILTIN_SPEC_MAX_GROUPS	 64
#define BUILTIN_SPEC_MAX_RLIMITS 16
#define BUILTIN_SPEC_MAX_MOUNTS	 96
#define BUILTIN_SPEC_MAX_PATHS	 32

enum builtin_spec_capset {
	BUILTIN_SPEC_BOUNDING,
	BUILTIN_SPEC_EFFECTIVE,
	BUILTIN_SPEC_PERMITTED,
	BUILTIN_SPEC_INHERITABLE,
	BUILTIN_SPEC_AMBIENT,
	BUILTIN_SPEC_NCAPSETS
};

struct builtin_spec_process {
	bool terminal;
	unsigned rows, cols;
	uid_t uid;
	gid_t gid;
	gid_t groups[BUILTIN_SPEC_MAX_GROUPS];
	size_t n_groups;
	const char *args[BUILTIN_SPEC_MAX_ARGS + 1]; /* NULL-terminated */
	const char *env[BUILTIN_SPEC_MAX_ENV + 1];   /* NULL-terminated */
	const char *cwd;
	uint64_t caps[BUILTIN_SPEC_NCAPSETS]; /* bit n: capability n */
	struct {
		int resource;
		struct rlimit limit;
	} rlimits[BUILTIN_SPEC_MAX_RLIMITS];
	size_t n_rlimits;
	bool no_new_privileges;
	struct builtin_seccomp seccomp; /* config.json's linux.seccomp (an exec: its container's) */
};

struct builtin_spec_mount {
	const char *destination, *type, *source;
	unsigned long flags;	   /* MS_* without propagation */
	unsigned long propagation; /* MS_PRIVATE, MS_SLAVE, ... or 0; MS_REC added for r* */
	bool bind;
	char data[256]; /* options that are not flags, comma-joined */
};

struct builtin_spec {
	struct builtin_spec_process process;
	const char *root;
	bool root_readonly;
	const char *hostname;
	struct builtin_spec_mount mounts[BUILTIN_SPEC_MAX_MOUNTS];
	size_t n_mounts;
	int namespaces; /* CLONE_NEW* */
	const char *cgroups_path;
	int64_t memory_limit; /* bytes, -1: none */
	uint64_t cpu_shares;  /* 0: none */
	int64_t cpu_quota;    /* us, -1: none */
	uint64_t cpu_period;  /* us, 0: none */
	const char *masked[BUILTIN_SPEC_MAX_PATHS];
	size_t n_masked;
	const char *readonly[BUILTIN_SPEC_MAX_PATHS];
	size_t n_readonly;
};

struct json_object;

/* Parse a config.json document (the whole bundle config). */
int builtin_spec_parse_config(struct json_object *doc, struct builtin_spec *out, struct capsid_error *err);
/* Parse a process document (`exec --process FILE`). */
int builtin_spec_parse_process(struct json_object *doc, struct builtin_spec_process *out,
			       struct capsid_error *err);

/* The capability number of "CAP_CHOWN" etc., -1 if unknown; the name of
 * capability n, NULL past the last (every capability of Linux 6.1: a
 * privileged container's set). */
int builtin_spec_cap_number(const char *name);
const char *builtin_spec_cap_name(int n);

#endif
