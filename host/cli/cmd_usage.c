/* capsid usage [--since T] [-o json|csv]: metered usage per group
 * (capsid_usage_totals): seconds allocated, vCPU-seconds, GiB-seconds.
 * T: an RFC 3339 UTC time (2026-12-01T00:00:00Z), Unix seconds, or a
 * duration back from now (90s, 15m, 2h, 7d). */

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capsid.h"
#include "cli.h"
#include "util.h"

static int parse_since(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long now = util_wall_ms();
	double v = strtod(s, &end);
	if (end != s && v >= 0) {
		static const struct {
			char unit;
			double ms;
		} units[] = {{'s', 1e3}, {'m', 60e3}, {'h', 3600e3}, {'d', 86400e3}};
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (end[0] == units[i].unit && !end[1]) {
				double back = v * units[i].ms;
				*out = back >= (double)now ? 0 : now - (unsigned long long)back;
				return 0;
			}
		if (!*end) { /* Unix seconds */
			*out = (unsigned long long)(v * 1000);
			return 0;
		}
	}
	struct tm tm = {0};
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!rest)
		return -EINVAL;
	double frac = 0;
	if (*rest == '.') {
		frac = strtod(rest, &end);
		rest = end;
	}
	if (strcmp(rest, "Z") != 0)
		return -EINVAL;
	time_t t = timegm(&tm);
	*out = (unsigned long long)t * 1000 + (unsigned long long)(frac * 1000);
	return 0;
}

static void time_text(unsigned long long ms, char out[40])
{
	util_format_time(out, (int64_t)(ms / 1000), (long)(ms % 1000) * 1000000L);
}

int cli_cmd_usage(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char help[] =
	    "usage: capsid usage [--since T] [-o json|csv]\n"
	    "Metered usage per group (deleted groups included): seconds its VM was allocated,\n"
	    "vCPU-seconds and GiB-seconds, from the start of each create (image pulls\n"
	    "included) to each stop. T: RFC 3339 UTC, Unix seconds, or 90s/15m/2h/7d ago.\n";
	static const struct option opts[] = {{"since", required_argument, NULL, 's'},
					     {"output", required_argument, NULL, 'o'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	const char *format = "table";
	unsigned long long since = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_since(optarg, &since) < 0)
				return cli_fail("usage: --since %s: not a time (RFC 3339 UTC, Unix seconds, "
						"or 15m/2h/7d)",
						optarg);
			break;
		case 'o':
			if (strcmp(optarg, "json") && strcmp(optarg, "csv"))
				return cli_fail("usage: -o %s: must be json or csv", optarg);
			format = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			fputs(help, stderr);
			return 2;
		}
	}
	if (optind < argc)
		return cli_fail("usage: unexpected argument %s", argv[optind]);
	struct capsid_usage *u = NULL;
	size_t n = 0;
	struct capsid_error err = {0};
	if (capsid_usage_totals(ctx->cfg, since, &u, &n, &err) < 0)
		return cli_fail("usage: %s", err.msg);
	if (!strcmp(format, "json")) {
		struct json_object *arr = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			char first[40], last[40];
			time_text(u[i].first_ms, first);
			time_text(u[i].last_ms, last);
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "group", json_object_new_string(u[i].group));
			json_object_object_add(o, "seconds", json_object_new_double(u[i].seconds));
			json_object_object_add(o, "vcpuSeconds", json_object_new_double(u[i].vcpu_seconds));
			json_object_object_add(o, "gibSeconds", json_object_new_double(u[i].gib_seconds));
			json_object_object_add(o, "from", json_object_new_string(first));
			json_object_object_add(o, "to", json_object_new_string(last));
			json_object_array_add(arr, o);
		}
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
		json_object_put(arr);
	} else if (!strcmp(format, "csv")) {
		puts("group,seconds,vcpuSeconds,gibSeconds,from,to");
		for (size_t i = 0; i < n; i++) {
			char first[40], last[40];
			time_text(u[i].first_ms, first);
			time_text(u[i].last_ms, last);
			printf("%s,%.3f,%.3f,%.3f,%s,%s\n", u[i].group, u[i].seconds, u[i].vcpu_seconds,
			       u[i].gib_seconds, first, last);
		}
	} else {
		printf("%-24s %12s %14s %14s\n", "GROUP", "SECONDS", "VCPU_SECONDS", "GIB_SECONDS");
		for (size_t i = 0; i < n; i++)
			printf("%-24s %12.3f %14.3f %14.3f\n", u[i].group, u[i].seconds, u[i].vcpu_seconds,
			       u[i].gib_seconds);
	}
	free(u);
	return 0;
}
