/* libcapsid's metrics of a chosen set of groups and the file that keeps
 * the base of their rates between renders (metrics_tenant.c): the file is
 * read as untrusted, a render names only the chosen groups, and the base
 * keeps only theirs. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "capsid.h"
#include "cleanup.h"
#include "config.h"
#include "testlib.h"
#include "util.h"

static char dir[] = "/tmp/capsid-mstate-XXXXXX";

static void write_text(const char *name, const char *text)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	CHECK(util_write_file_atomic(p, text, strlen(text), 0600) == 0);
}

/* The group names of a saved state file, joined by ','. */
static void saved_names(const struct capsid_metrics *m, char *out, size_t len)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/out.json", dir);
	struct capsid_error err = {0};
	CHECK_OK(capsid_metrics_save(m, p, &err), &err);
	_cleanup_json_ struct json_object *doc = json_object_from_file(p);
	struct json_object *groups = NULL;
	out[0] = '\0';
	CHECK(doc && json_object_object_get_ex(doc, "groups", &groups));
	for (size_t i = 0; groups && i < json_object_array_length(groups); i++) {
		struct json_object *name;
		json_object_object_get_ex(json_object_array_get_idx(groups, i), "name", &name);
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? "," : "",
			 json_object_get_string(name));
	}
}

static void test_load_hostile(void)
{
	struct capsid_metrics *m = capsid_metrics_new();
	struct capsid_error err = {0};
	char p[128], names[512];
	snprintf(p, sizeof(p), "%s/none.json", dir);
	CHECK_OK(capsid_metrics_load(m, p, &err), &err); /* absent: no base */
	saved_names(m, names, sizeof(names));
	CHECK(strcmp(names, "") == 0);
	write_text("bad.json", "not json at all");
	snprintf(p, sizeof(p), "%s/bad.json", dir);
	CHECK(capsid_metrics_load(m, p, &err) == -EINVAL);
	/* Bad names, a missing time and a wrong type are dropped; the rest stays. */
	write_text("mixed.json", "{\"groups\":[{\"name\":\"../etc\",\"timeNs\":5,\"containers\":[]},"
				 "{\"name\":\"Upper\",\"timeNs\":5,\"containers\":[]},"
				 "{\"name\":\"notime\",\"containers\":[]},"
				 "{\"name\":\"web\",\"timeNs\":\"5\",\"containers\":[]},"
				 "{\"name\":\"good\",\"timeNs\":7,\"rx\":1,\"tx\":2,\"containers\":"
				 "[{\"name\":\"app\",\"cpu\":10},{\"name\":\"BAD NAME\",\"cpu\":1}]}]}");
	snprintf(p, sizeof(p), "%s/mixed.json", dir);
	CHECK_OK(capsid_metrics_load(m, p, &err), &err);
	saved_names(m, names, sizeof(names));
	CHECK(strcmp(names, "good") == 0);
	snprintf(p, sizeof(p), "%s/out.json", dir);
	_cleanup_free_ char *text = NULL;
	size_t len;
	CHECK(util_read_file_at(AT_FDCWD, p, 1 << 20, &text, &len) == 0);
	CHECK_STR_CONTAINS(text, "\"name\":\"app\"");
	CHECK(text && !strstr(text, "BAD NAME"));
	/* More containers than a sample holds: capped. */
	_cleanup_free_ char *many = malloc(200 * 40 + 200);
	strcpy(many, "{\"groups\":[{\"name\":\"big\",\"timeNs\":1,\"containers\":[");
	for (int i = 0; i < 200; i++)
		sprintf(many + strlen(many), "%s{\"name\":\"c%d\",\"cpu\":1}", i ? "," : "", i);
	strcat(many, "]}]}");
	write_text("many.json", many);
	snprintf(p, sizeof(p), "%s/many.json", dir);
	CHECK_OK(capsid_metrics_load(m, p, &err), &err);
	saved_names(m, names, sizeof(names));
	CHECK(strcmp(names, "big") == 0);
	capsid_metrics_free(m);
}

static void test_render_groups(void)
{
	struct capsid_config cfg;
	struct capsid_error err = {0};
	char root[128], p[128], names[512];
	snprintf(root, sizeof(root), "%s/root", dir);
	CHECK(util_mkdir_p(root, 0700) == 0);
	CHECK_OK(capsid_config_from_env(&cfg, root, NULL, &err), &err);
	struct capsid_metrics *m = capsid_metrics_new();
	write_text("two.json", "{\"groups\":[{\"name\":\"mine\",\"timeNs\":1,\"containers\":[]},"
			       "{\"name\":\"theirs\",\"timeNs\":1,\"containers\":[]}]}");
	snprintf(p, sizeof(p), "%s/two.json", dir);
	CHECK_OK(capsid_metrics_load(m, p, &err), &err);
	const char *bad[] = {"mine", "../x"};
	char *text = NULL;
	size_t len = 0;
	CHECK(capsid_metrics_render_groups(&cfg, m, bad, 2, &text, &len, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "../x");
	/* A named group that is no group has no series; the base keeps the named only. */
	const char *mine[] = {"mine"};
	CHECK_OK(capsid_metrics_render_groups(&cfg, m, mine, 1, &text, &len, &err), &err);
	CHECK_STR_CONTAINS(text, "# TYPE capsid_group_cpu_usage_cores gauge");
	CHECK(text && !strstr(text, "group=\""));
	free(text);
	saved_names(m, names, sizeof(names));
	CHECK(strcmp(names, "mine") == 0);
	capsid_metrics_free(m);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN_TEST(test_load_hostile);
	RUN_TEST(test_render_groups);
	util_rm_rf(dir);
	TEST_EXIT();
}
