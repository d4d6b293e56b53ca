/* The pod operations of libcapsid from a shell test (integration.pods):
 *   capsid_pod_tool add GROUP CONTAINER_JSON
 *   capsid_pod_tool remove GROUP CONTAINER
 *   capsid_pod_tool signal GROUP CONTAINER SIGNAL
 * The configuration comes from the environment (CAPSID_ROOT, ...); an error
 * goes to stderr with exit code 1. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsid.h"

int main(int argc, char **argv)
{
	struct capsid_config cfg;
	struct capsid_error err = {0};
	if (argc < 4) {
		fprintf(stderr, "usage: %s add|remove|signal GROUP ARG [SIGNAL]\n", argv[0]);
		return 2;
	}
	if (capsid_config_from_env(&cfg, NULL, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	int rc;
	if (strcmp(argv[1], "add") == 0) {
		struct json_object *c = json_tokener_parse(argv[3]);
		rc = capsid_group_add_container(&cfg, argv[2], c, &err);
		json_object_put(c);
	} else if (strcmp(argv[1], "remove") == 0) {
		rc = capsid_group_remove_container(&cfg, argv[2], argv[3], &err);
	} else if (strcmp(argv[1], "signal") == 0 && argc == 5) {
		rc = capsid_group_signal_container(&cfg, argv[2], argv[3], atoi(argv[4]), &err);
	} else {
		fprintf(stderr, "unknown command %s\n", argv[1]);
		return 2;
	}
	if (rc < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	return 0;
}
