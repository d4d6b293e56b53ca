/* capsid image import|list|rm: the local image store from the command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "image.h"

static const char image_help[] =
    "usage: capsid image COMMAND\n"
    "Manage the local image store (<root>/images).\n"
    "\n"
    "  import PATH [--name REF]  import an OCI image layout directory, an OCI archive tar or a\n"
    "                            `docker save` tar (optionally gzip/zstd/xz compressed)\n"
    "  pull REF                  pull an image from a registry (see pull --help)\n"
    "  list                      list images: REF, DIGEST (12 hex), SIZE of the disk image, SOURCE\n"
    "  rm REF...                 remove refs; an image and its layers go when nothing points at them\n"
    "  prune                     remove every layer blob no image lists, and leftovers of\n"
    "                            interrupted pulls\n";

static const char import_help[] =
    "usage: capsid image import PATH [--name REF]\n"
    "Import an OCI image layout directory, an OCI archive tar or a `docker save` tar. Every blob\n"
    "is checked against its sha256 digest; the layers become one read-only erofs disk image per\n"
    "image digest, built once and shared. The ref comes from the archive (RepoTags, or the\n"
    "org.opencontainers.image.ref.name annotation), else the short digest; --name REF overrides\n"
    "it (name[:tag], tag defaults to latest). Re-importing a ref re-points it. Prints the ref.\n";

static const char list_help[] =
    "usage: capsid image list\n"
    "List refs with the image digest (first 12 hex digits), disk image size and source\n"
    "(the import path or the registry it was pulled from).\n";

static const char rm_help[] = "usage: capsid image rm REF...\n"
			      "Remove refs; an image's files go once no ref points at its digest, and\n"
			      "with them the pulled layers no other image lists.\n";

static const char prune_help[] =
    "usage: capsid image prune\n"
    "Remove every stored blob (pulled layers, configs, manifests) that no image\n"
    "lists, and what interrupted pulls left.\n";

static void print_warning(void *ctx, const char *msg)
{
	(void)ctx;
	cli_warn("%s", msg);
}

static int open_store(struct cli_ctx *ctx, struct image_store **s)
{
	struct capsid_error err = {0};
	if (image_store_open(ctx->root, s, &err) < 0)
		return cli_fail("%s", err.msg);
	image_store_set_warning_handler(*s, print_warning, NULL);
	return 0;
}

static int cmd_import(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *name = NULL;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'h':
			fputs(import_help, stdout);
			return 0;
		default:
			fputs(import_help, stderr);
			return 1;
		}
	}
	if (argc - optind != 1)
		return cli_fail("image import: exactly one PATH is required (see --help)");
	struct image_store *s = NULL;
	if (open_store(ctx, &s))
		return 1;
	struct capsid_error err = {0};
	char *ref = NULL;
	int rc = image_import(s, argv[optind], name, &ref, &err);
	image_store_close(s);
	if (rc < 0)
		return cli_fail("image import: %s", err.msg);
	printf("%s\n", ref);
	free(ref);
	return 0;
}

static void human_size(uint64_t bytes, char out[16])
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	if (bytes < 1024) {
		snprintf(out, 16, "%lluB", (unsigned long long)bytes);
		return;
	}
	double v = (double)bytes / 1024;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(out, 16, "%.1f%s", v, units[u]);
}

static int cmd_list(struct cli_ctx *ctx, int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(list_help, stdout);
		return 0;
	}
	if (argc > 1)
		return cli_fail("image list: unexpected argument %s", argv[1]);
	struct image_store *s = NULL;
	if (open_store(ctx, &s))
		return 1;
	struct capsid_error err = {0};
	struct image_info **list = NULL;
	size_t n = 0;
	int rc = image_list(s, &list, &n, &err);
	image_store_close(s);
	if (rc < 0)
		return cli_fail("image list: %s", err.msg);
	int width = 3;
	for (size_t i = 0; i < n; i++)
		if ((int)strlen(list[i]->ref) > width)
			width = (int)strlen(list[i]->ref);
	printf("%-*s  %-12s  %-9s  %s\n", width, "REF", "DIGEST", "SIZE", "SOURCE");
	for (size_t i = 0; i < n; i++) {
		char size[16];
		human_size(list[i]->disk_size, size);
		printf("%-*s  %.12s  %-9s  %s\n", width, list[i]->ref, list[i]->digest + strlen("sha256:"),
		       size, list[i]->source ? list[i]->source : "-");
	}
	image_list_free(list, n);
	return 0;
}

static int cmd_rm(struct cli_ctx *ctx, int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(rm_help, stdout);
		return 0;
	}
	if (argc < 2)
		return cli_fail("image rm: REF is required (see --help)");
	struct image_store *s = NULL;
	if (open_store(ctx, &s))
		return 1;
	int status = 0;
	for (int i = 1; i < argc; i++) {
		struct capsid_error err = {0};
		if (image_remove(s, argv[i], &err) < 0)
			status = cli_fail("image rm: %s", err.msg);
	}
	image_store_close(s);
	return status;
}

static int cmd_prune(struct cli_ctx *ctx, int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(prune_help, stdout);
		return 0;
	}
	if (argc > 1)
		return cli_fail("image prune: unexpected argument %s", argv[1]);
	struct image_store *s = NULL;
	if (open_store(ctx, &s))
		return 1;
	struct capsid_error err = {0};
	struct image_prune_stats st;
	int rc = image_prune(s, &st, &err);
	image_store_close(s);
	if (rc < 0)
		return cli_fail("image prune: %s", err.msg);
	char size[16];
	human_size(st.bytes, size);
	printf("removed %llu blobs, %s\n", (unsigned long long)st.blobs, size);
	return 0;
}

int cli_cmd_image(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_subcommand table[] = {
	    {"import", NULL, cmd_import}, {"pull", NULL, cli_cmd_image_pull}, {"prune", NULL, cmd_prune},
	    {"list", "ls", cmd_list},	  {"rm", "remove", cmd_rm},	      {0},
	};
	return cli_subcommand(ctx, argc, argv, "image", image_help, table);
}
