/* OCI runtime-spec (1.0.2) documents the agent writes: a container's
 * config.json and an exec's process.json. Defaults follow `runc spec`
 * (capabilities, masked and read-only paths, default mounts, NOFILE 1024),
 * except: no network namespace (a group's containers share the guest's
 * network stack and reach each other on localhost), a cgroup namespace
 * (limits visible at /sys/fs/cgroup), a writable root (an overlay), and
 * noNewPrivileges false (setuid binaries in images work). */
#ifndef AGENT_OCI_H
#define AGENT_OCI_H

#include <stdbool.h>

#include "request.h"
#include "user.h"

struct json_object;

struct oci_process_params {
	const struct request_process *proc;
	const struct user_ids *user;
};

/* A volume bind-mounted into the container. */
struct oci_mount {
	const char *source; /* the volume's mount point in the guest */
	const char *destination;
	bool read_only;
};

struct oci_config_params {
	struct oci_process_params process;
	const char *rootfs; /* absolute path of the root filesystem */
	const char *hostname;
	const char *cgroups_path; /* e.g. /capsid/web */
	const struct request_resources *res;
	const char *hosts_file;	   /* bind-mounted on /etc/hosts, may be NULL */
	const char *resolv_file;   /* bind-mounted on /etc/resolv.conf, may be NULL */
	const char *hostname_file; /* bind-mounted on /etc/hostname, may be NULL */
	const struct oci_mount *mounts; /* volumes, after the defaults */
	size_t n_mounts;
};

/* Both return a new object, or NULL when out of memory. */
struct json_object *oci_process_new(const struct oci_process_params *p);
struct json_object *oci_config_new(const struct oci_config_params *p);

#endif
