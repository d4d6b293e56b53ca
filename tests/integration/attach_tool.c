/* libcapsid's attach to a container's own stdin from a shell test
 * (integration.attach):
 *   capsid_attach_tool GROUP CONTAINER [ROWS COLS]
 * sizes the container's terminal (with ROWS COLS), copies this standard
 * input to the container's, ends it, and exits with the code of the run it
 * attached to. The configuration comes from the environment (CAPSID_ROOT,
 * ...); an error goes to stderr with exit code 125. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "capsid.h"

int main(int argc, char **argv)
{
	struct capsid_config cfg;
	struct capsid_error err = {0};
	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: %s GROUP CONTAINER [ROWS COLS]\n", argv[0]);
		return 125;
	}
	struct capsid_attach *a = NULL;
	if (capsid_config_from_env(&cfg, NULL, NULL, &err) < 0 ||
	    capsid_group_attach(&cfg, argv[1], argv[2], &a, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 125;
	}
	if (argc == 5 && capsid_attach_resize(a, (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4])) < 0) {
		fprintf(stderr, "resize: the monitor went away\n");
		return 125;
	}
	char buf[4096];
	ssize_t n;
	while ((n = read(0, buf, sizeof(buf))) > 0)
		if (capsid_attach_write(a, buf, (size_t)n) < 0)
			break;
	int code = 125;
	if (capsid_attach_close_stdin(a) < 0 || capsid_attach_wait(a, -1, &code) != 1)
		fprintf(stderr, "the session ended without the run's exit\n");
	capsid_attach_free(a);
	return code;
}
