/* capsid image pull, and how the pulls of create/run (--pull) print. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capsid.h"
#include "cleanup.h"
#include "cli.h"
#include "image.h"
#include "registry.h"
#include "spec.h"
#include "util.h"

#define PASSWORD_MAX 8192

static const char pull_help[] =
    "usage: capsid image pull REF [--platform OS/ARCH[/VARIANT]] [--username U --password-stdin] [--quiet]\n"
    "Pull an image from a registry (OCI distribution API v2) into the store and print its ref.\n"
    "REF follows Docker's rules: nginx is docker.io/library/nginx:latest; HOST[:PORT]/PATH[:TAG]\n"
    "or ...@sha256:DIGEST names another registry or an exact image. Layers already in the store\n"
    "are not downloaded again. --platform picks from a multi-platform index (default linux/amd64).\n"
    "The password is read from standard input, never from arguments.\n"
    "Environment: CAPSID_REGISTRY_CA (PEM bundle to trust), CAPSID_INSECURE_REGISTRIES\n"
    "(HOST[:PORT],... over plain HTTP), CAPSID_REGISTRY_MIRROR (https URL serving docker.io),\n"
    "CAPSID_REGISTRY_STALL_TIMEOUT (seconds without data before a transfer fails, default 30).\n";

/* ---- progress ---- */


static void human(uint64_t b, char out[16])
{
	if (b < 1024)
		snprintf(out, 16, "%lluB", (unsigned long long)b);
	else if (b < (1u << 20))
		snprintf(out, 16, "%.1fKiB", b / 1024.0);
	else if (b < (1u << 30))
		snprintf(out, 16, "%.1fMiB", b / 1048576.0);
	else
		snprintf(out, 16, "%.2fGiB", b / 1073741824.0);
}

static void layer_line(const struct cli_pull_progress *pr, size_t i, const struct registry_layer_status *l,
		       uint64_t now, char *out, size_t len)
{
	char got[16], total[16], rate[16];
	human(l->received, got);
	human(l->size, total);
	const char *id = l->digest + 7;
	switch (l->state) {
	case REGISTRY_LAYER_WAITING:
		snprintf(out, len, "%.12s: waiting (%s)", id, total);
		break;
	case REGISTRY_LAYER_PRESENT:
		snprintf(out, len, "%.12s: already present (%s)", id, total);
		break;
	case REGISTRY_LAYER_DOWNLOADING: {
		uint64_t ms = now > pr->since_ms[i] ? now - pr->since_ms[i] : 1;
		human(l->received * 1000 / ms, rate);
		snprintf(out, len, "%.12s: downloading %s/%s %s/s", id, got, total, rate);
		break;
	}
	case REGISTRY_LAYER_DONE: {
		uint64_t ms = now > pr->since_ms[i] ? now - pr->since_ms[i] : 0;
		snprintf(out, len, "%.12s: done (%s in %.1f s)", id, total, ms / 1000.0);
		break;
	}
	case REGISTRY_LAYER_FAILED:
		snprintf(out, len, "%.12s: failed after %s of %s", id, got, total);
		break;
	}
}

static void on_progress(void *ctx, enum registry_phase phase, const struct registry_layer_status *l, size_t n)
{
	struct cli_pull_progress *pr = ctx;
	if (pr->quiet)
		return;
	if (!pr->seen) {
		pr->seen = calloc(n ? n : 1, sizeof(*pr->seen));
		pr->since_ms = calloc(n ? n : 1, sizeof(*pr->since_ms));
		if (!pr->seen || !pr->since_ms)
			return;
		pr->n = n;
		for (size_t i = 0; i < n; i++)
			pr->seen[i] = -1;
	}
	uint64_t now = util_now_ms();
	char line[160];
	if (pr->tty && pr->drawn)
		fprintf(stderr, "\033[%zuA", pr->drawn);
	for (size_t i = 0; i < n && i < pr->n; i++) {
		bool changed = pr->seen[i] != (int)l[i].state;
		if (changed && l[i].state == REGISTRY_LAYER_DOWNLOADING)
			pr->since_ms[i] = now;
		pr->seen[i] = (int)l[i].state;
		layer_line(pr, i, &l[i], now, line, sizeof(line));
		if (pr->tty)
			fprintf(stderr, "\033[2K%s\n", line);
		else if (changed && l[i].state != REGISTRY_LAYER_WAITING)
			fprintf(stderr, "%s\n", line);
	}
	if (pr->tty)
		pr->drawn = n;
	if (phase == REGISTRY_PHASE_INSTALL && !pr->installing) {
		pr->installing = true;
		fprintf(stderr, "%sflattening layers into the image\n", pr->tty ? "\033[2K" : "");
		pr->drawn = 0; /* the block is final now */
	}
	fflush(stderr);
}

static void progress_free(struct cli_pull_progress *pr)
{
	free(pr->seen);
	free(pr->since_ms);
	pr->seen = NULL;
	pr->since_ms = NULL;
	pr->drawn = 0;
	pr->installing = false;
}

static void print_warning(void *ctx, const char *msg)
{
	(void)ctx;
	cli_warn("%s", msg);
}

/* The password from stdin: one line, at most PASSWORD_MAX bytes. */
static int read_password(char **out)
{
	char *buf = calloc(1, PASSWORD_MAX + 2);
	if (!buf)
		return cli_fail("out of memory");
	size_t len = 0;
	while (len < PASSWORD_MAX + 1) {
		ssize_t n = read(STDIN_FILENO, buf + len, PASSWORD_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (len == 0 || len > PASSWORD_MAX || memchr(buf, '\n', len)) {
		explicit_bzero(buf, PASSWORD_MAX + 2);
		free(buf);
		return cli_fail("--password-stdin: expected one line of 1-%d bytes on standard input",
				PASSWORD_MAX);
	}
	*out = buf;
	return 0;
}

int cli_cmd_image_pull(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"platform", required_argument, NULL, 'p'}, {"username", required_argument, NULL, 'u'},
	    {"password-stdin", no_argument, NULL, 'P'}, {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},		{0},
	};
	const char *platform = NULL, *username = NULL;
	bool password_stdin = false, quiet = false;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "u:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			platform = optarg;
			break;
		case 'u':
			username = optarg;
			break;
		case 'P':
			password_stdin = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(pull_help, stdout);
			return 0;
		default:
			fputs(pull_help, stderr);
			return 1;
		}
	}
	if (argc - optind != 1)
		return cli_fail("image pull: exactly one REF is required (see --help)");
	if (!!username != password_stdin)
		return cli_fail("image pull: --username and --password-stdin go together");
	const char *ref = argv[optind];
	struct capsid_error err = {0};
	struct registry_platform plat;
	if (registry_platform_parse(platform, &plat, &err) < 0)
		return cli_fail("image pull: %s", err.msg);
	_cleanup_free_ char *password = NULL;
	if (password_stdin && read_password(&password))
		return 1;
	struct registry_config cfg;
	capsid_registry_config(ctx->cfg, &cfg);
	struct registry_credentials creds = {.username = username, .password = password};
	struct cli_pull_progress pr = {.tty = isatty(STDERR_FILENO) == 1, .quiet = quiet};
	struct registry_pull_opts o = {.cfg = &cfg,
				       .platform = &plat,
				       .creds = username ? &creds : NULL,
				       .progress = on_progress,
				       .progress_ctx = &pr};
	struct image_store *s = NULL;
	char *out = NULL;
	int rc = image_store_open(ctx->root, &s, &err);
	if (rc == 0) {
		image_store_set_warning_handler(s, print_warning, NULL);
		rc = registry_pull(s, ref, &o, &out, &err);
	}
	image_store_close(s);
	progress_free(&pr);
	if (password)
		explicit_bzero(password, strlen(password));
	if (rc < 0)
		return cli_fail("image pull %s: %s", ref, err.msg);
	printf("%s\n", out);
	free(out);
	return 0;
}

/* ---- create/run: the images a group needs ---- */

static void pull_started(void *ud, const char *image)
{
	struct cli_pull_progress *pr = ud;
	progress_free(pr);
	fprintf(stderr, "pulling %s\n", image);
}

void cli_pull_opts(struct capsid_pull_opts *o, struct cli_pull_progress *pr, const char *policy)
{
	*pr = (struct cli_pull_progress){.tty = isatty(STDERR_FILENO) == 1};
	*o = (struct capsid_pull_opts){
		.policy = policy,
		.on_start = pull_started,
		.progress = on_progress,
		.on_store_warning = print_warning,
		.ud = pr,
	};
}

void cli_pull_progress_free(struct cli_pull_progress *pr)
{
	progress_free(pr);
}
