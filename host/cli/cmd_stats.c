/* capsid stats [NAME] [--follow] [-o json]: per container of each running
 * group (or of NAME): CPU in cores over the last second, memory working
 * set, the group's network bytes in and out, block I/O; two samples a
 * second apart (capsid_group_sample), then one line per container each
 * second with --follow. JSON: an array, or one object per line with
 * --follow. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capsid.h"
#include "cleanup.h"
#include "cli.h"
#include "util.h"

#define STATS_MAX_GROUPS 256

struct group_samples {
	char name[64];
	struct capsid_group_sample a, b; /* previous and current */
	bool have_a, have_b;
};

static volatile sig_atomic_t stats_stop;

static void on_signal(int sig)
{
	(void)sig;
	stats_stop = 1;
}

static const struct capsid_container_sample *find(const struct capsid_group_sample *s, const char *name)
{
	for (size_t i = 0; i < s->n_containers; i++)
		if (!strcmp(s->containers[i].name, name))
			return &s->containers[i];
	return NULL;
}

static double rate(long long now, long long before, double seconds)
{
	return now >= 0 && before >= 0 && now >= before && seconds > 0 ? (double)(now - before) / seconds : 0;
}

static void print_row(struct group_samples *g, const struct capsid_container_sample *c, bool json, bool lines,
		      struct json_object *arr)
{
	const struct capsid_container_sample *prev = find(&g->a, c->name);
	double dt = (double)(g->b.time_ns - g->a.time_ns) / 1e9;
	double cores = prev ? rate(c->cpu_usec, prev->cpu_usec, dt) / 1e6 : 0;
	double rx_rate = rate(g->b.rx_bytes, g->a.rx_bytes, dt),
	       tx_rate = rate(g->b.tx_bytes, g->a.tx_bytes, dt);
	if (!json) {
		printf("%-20s %-20s %6.3f %10.1f %12lld %12lld %12lld %12lld\n", g->name, c->name, cores,
		       c->working_set_bytes >= 0 ? (double)c->working_set_bytes / (1 << 20) : -1.0,
		       g->b.rx_bytes, g->b.tx_bytes, c->io_read_bytes, c->io_write_bytes);
		return;
	}
	struct json_object *o = json_object_new_object();
	char now[40];
	util_now_rfc3339(now);
	json_object_object_add(o, "time", json_object_new_string(now));
	json_object_object_add(o, "group", json_object_new_string(g->name));
	json_object_object_add(o, "container", json_object_new_string(c->name));
	json_object_object_add(o, "cpuCores", json_object_new_double(cores));
	json_object_object_add(o, "cpuUsageMicroseconds", json_object_new_int64(c->cpu_usec));
	json_object_object_add(o, "memoryWorkingSetBytes", json_object_new_int64(c->working_set_bytes));
	json_object_object_add(o, "memoryBytes", json_object_new_int64(c->memory_bytes));
	json_object_object_add(o, "networkBytesReceived", json_object_new_int64(g->b.rx_bytes));
	json_object_object_add(o, "networkBytesTransmitted", json_object_new_int64(g->b.tx_bytes));
	json_object_object_add(o, "networkBytesReceivedPerSecond", json_object_new_double(rx_rate));
	json_object_object_add(o, "networkBytesTransmittedPerSecond", json_object_new_double(tx_rate));
	json_object_object_add(o, "blockReadBytes", json_object_new_int64(c->io_read_bytes));
	json_object_object_add(o, "blockWriteBytes", json_object_new_int64(c->io_write_bytes));
	if (lines) {
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		json_object_array_add(arr, o);
	}
}

/* One sample of every group; a group that is not running is left out
 * unless it was named (then it is an error). */
static int sample_all(struct cli_ctx *ctx, struct group_samples *groups, size_t n, bool named)
{
	for (size_t i = 0; i < n; i++) {
		struct group_samples *g = &groups[i];
		struct capsid_error err = {0};
		g->a = g->b;
		g->have_a = g->have_b;
		g->have_b = capsid_group_sample(ctx->cfg, g->name, &g->b, &err) == 0;
		if (!g->have_b && named)
			return cli_fail("stats: %s", err.msg);
	}
	return 0;
}

int cli_cmd_stats(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char help[] =
	    "usage: capsid stats [NAME] [--follow] [-o json]\n"
	    "Per container of each running group (or of NAME): CPU in cores (over the last second), memory\n"
	    "working set in MiB, the group's network bytes received and sent, block bytes read and written.\n"
	    "--follow prints again every second until interrupted.\n";
	static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
					     {"output", required_argument, NULL, 'o'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	bool follow = false, json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "fo:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			follow = true;
			break;
		case 'o':
			if (strcmp(optarg, "json") != 0)
				return cli_fail("stats: -o %s: only json", optarg);
			json = true;
			break;
		case 'h':
			fputs(help, stdout);
			return 0;
		default:
			fputs(help, stderr);
			return 2;
		}
	}
	if (argc - optind > 1)
		return cli_fail("stats: unexpected argument %s", argv[optind + 1]);
	const char *only = optind < argc ? argv[optind] : NULL;
	char **names = NULL;
	size_t n = 0;
	struct capsid_error err = {0};
	if (!only && capsid_group_list(ctx->cfg, &names, &n, &err) < 0)
		return cli_fail("stats: %s", err.msg);
	size_t ng = only ? 1 : (n < STATS_MAX_GROUPS ? n : STATS_MAX_GROUPS);
	_cleanup_free_ struct group_samples *groups = calloc(ng ? ng : 1, sizeof(*groups));
	if (!groups) {
		capsid_names_free(names, n);
		return cli_fail("stats: out of memory");
	}
	for (size_t i = 0; i < ng; i++)
		snprintf(groups[i].name, sizeof(groups[i].name), "%s", only ? only : names[i]);
	capsid_names_free(names, n);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	int rc = sample_all(ctx, groups, ng, only != NULL);
	if (rc)
		return rc;
	bool header = false;
	while (!stats_stop) {
		sleep(1);
		if (stats_stop)
			break;
		if ((rc = sample_all(ctx, groups, ng, only != NULL)))
			return rc;
		_cleanup_json_ struct json_object *arr = json && !follow ? json_object_new_array() : NULL;
		if (!json && !header) {
			printf("%-20s %-20s %6s %10s %12s %12s %12s %12s\n", "GROUP", "CONTAINER", "CPU",
			       "MEMORY_MIB", "NET_IN", "NET_OUT", "BLOCK_READ", "BLOCK_WRITE");
			header = true;
		}
		for (size_t i = 0; i < ng; i++) {
			struct group_samples *g = &groups[i];
			if (!g->have_a || !g->have_b)
				continue;
			for (size_t k = 0; k < g->b.n_containers; k++)
				print_row(g, &g->b.containers[k], json, follow, arr);
		}
		if (arr)
			puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
								     JSON_C_TO_STRING_SPACED));
		fflush(stdout);
		if (!follow)
			break;
	}
	return 0;
}
