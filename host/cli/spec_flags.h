/* `az container create`'s flags as a spec: `capsid run|create` without -f
 * take the flags ACI's CLI is built around (--name, --image, --cpu,
 * --memory, --ports, --protocol, --ip-address, --dns-name-label,
 * --environment-variables, --secure-environment-variables,
 * --restart-policy, --command-line, --location, --os-type) and build the
 * single-container group az would, which then goes through the same
 * validator as a spec file. Defaults are az's: 1 CPU, 1.5 GB, port 80,
 * restart policy Always. */
#ifndef CAPSID_SPEC_FLAGS_H
#define CAPSID_SPEC_FLAGS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct json_object;

#define SPEC_FLAGS_MAX_VALUES 64 /* per multi-valued flag */

struct spec_flags {
	const char *name, *image, *cpu, *memory, *protocol, *ip_address, *dns_name_label;
	const char *restart_policy, *command_line, *location, *os_type;
	const char *ports[SPEC_FLAGS_MAX_VALUES];
	size_t n_ports;
	const char *env[SPEC_FLAGS_MAX_VALUES];
	size_t n_env;
	const char *secure_env[SPEC_FLAGS_MAX_VALUES];
	size_t n_secure_env;
	bool any; /* at least one of these flags was given */
};

/* getopt_long entries for the flags, to append to a command's own; their
 * values are SPEC_FLAGS_OPT_BASE and up. Ends with a zero entry. */
#define SPEC_FLAGS_OPT_BASE 0x200
extern const struct option spec_flags_options[];
/* Help text for the flags. */
extern const char spec_flags_help[];

/* Take one getopt result. Multi-valued flags (--ports 80 443, -e A=1 B=2)
 * also take the arguments after optarg up to the next one starting with
 * '-', advancing *optind. Returns 1 if opt was one of the flags, 0 if not,
 * -EINVAL (err set) for too many values. */
int spec_flags_take(struct spec_flags *f, int opt, const char *optarg, int argc, char **argv, int *optind,
		    struct capsid_error *err);

/* The ACI group document the flags describe (a new reference in *out).
 * --name and --image are required; errors name the flag. A secure
 * variable given as NAME alone takes its value from this process's
 * environment (as `docker run -e NAME` does), so that it need not appear
 * in the process arguments. */
int spec_flags_to_json(const struct spec_flags *f, struct json_object **out, struct capsid_error *err);

/* Split a command line as a POSIX shell splits words (quotes, backslashes;
 * no expansion), as az splits --command-line. *out is a NULL-terminated
 * array (free each and the array); -EINVAL for an unclosed quote. */
int spec_flags_split_command(const char *line, char ***out, size_t *n, struct capsid_error *err);

#endif
