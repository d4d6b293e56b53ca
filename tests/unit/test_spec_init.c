/* properties.initContainers: parsed from YAML and JSON in order, every rule
 * failing with its exact field path, secure values kept out of redacted
 * output, and both round trips (full and redacted) giving the same
 * init containers back. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec.h"
#include "testlib.h"

static const char yaml[] = "name: inits\n"
			   "properties:\n"
			   "  restartPolicy: Never\n"
			   "  containers:\n"
			   "  - name: app\n"
			   "    properties:\n"
			   "      image: busybox\n"
			   "      resources: {requests: {cpu: 1, memoryInGB: 0.5}}\n"
			   "      volumeMounts: [{name: work, mountPath: /work}]\n"
			   "  initContainers:\n"
			   "  - name: fetch\n"
			   "    properties:\n"
			   "      image: capsid/demo:latest\n"
			   "      command: [/bin/sh, -c, echo one > /work/order]\n"
			   "      environmentVariables:\n"
			   "      - {name: PLAIN, value: p}\n"
			   "      - {name: TOKEN, secureValue: s3cret-init}\n"
			   "      volumeMounts: [{name: work, mountPath: /work}]\n"
			   "  - name: migrate\n"
			   "    properties:\n"
			   "      image: busybox\n"
			   "  volumes:\n"
			   "  - {name: work, emptyDir: {}}\n";

static void check_group(const struct spec_group *g, bool secrets)
{
	CHECK(g->n_init_containers == 2);
	if (g->n_init_containers != 2)
		return;
	const struct spec_container *a = &g->init_containers[0], *b = &g->init_containers[1];
	CHECK(!strcmp(a->name, "fetch") && !strcmp(b->name, "migrate"));
	CHECK(!strcmp(a->image, "capsid/demo:latest"));
	CHECK(a->n_command == 3 && !strcmp(a->command[2], "echo one > /work/order"));
	CHECK(a->n_env == 2 && !strcmp(a->env[0].value, "p") && a->env[1].secure);
	CHECK(secrets ? a->env[1].value && !strcmp(a->env[1].value, "s3cret-init") : !a->env[1].value);
	CHECK(a->n_mounts == 1 && !strcmp(a->mounts[0].mount_path, "/work"));
	CHECK(b->n_command == 0 && b->n_env == 0 && b->n_mounts == 0);
	CHECK(spec_group_all_containers(g) == 3);
	CHECK(spec_group_container_at(g, 2) == b);
	char path[64];
	spec_container_path(g, 2, path, sizeof(path));
	CHECK(!strcmp(path, "properties.initContainers[1]"));
	spec_container_path(g, 0, path, sizeof(path));
	CHECK(!strcmp(path, "properties.containers[0]"));
	/* Init containers add nothing to the group's resources. */
	CHECK(spec_group_vcpus(g) == 1 && spec_group_memory_mib(g) == 512);
}

static void test_round_trips(void)
{
	struct capsid_error err = {0};
	_cleanup_spec_ struct spec_group *g = NULL;
	CHECK(spec_parse(yaml, strlen(yaml), &g, NULL, &err) == 0);
	if (!g) {
		fprintf(stderr, "%s\n", err.msg);
		return;
	}
	check_group(g, true);

	_cleanup_json_ struct json_object *full = spec_to_json(g, SPEC_WITH_SECRETS);
	const char *text = json_object_to_json_string(full);
	_cleanup_spec_ struct spec_group *g2 = NULL;
	CHECK(spec_parse(text, strlen(text), &g2, NULL, &err) == 0);
	if (g2)
		check_group(g2, true);

	_cleanup_json_ struct json_object *red = spec_to_json(g, SPEC_REDACT);
	const char *rtext = json_object_to_json_string(red);
	CHECK(!strstr(rtext, "s3cret-init"));
	CHECK_STR_CONTAINS(rtext, "\"initContainers\"");
	_cleanup_spec_ struct spec_group *g3 = NULL;
	CHECK(spec_parse_ex(rtext, strlen(rtext), SPEC_PARSE_REDACTED, &g3, NULL, &err) == 0);
	if (g3)
		check_group(g3, false);
	/* A user's document with a redacted secure value is refused. */
	_cleanup_spec_ struct spec_group *g4 = NULL;
	CHECK(spec_parse(rtext, strlen(rtext), &g4, NULL, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "properties.initContainers[0].properties.environmentVariables[1]");
}

/* The group around one init container's text ("  - name: x\n    properties: ..."). */
static void expect_error(const char *inits, const char *want)
{
	char doc[4096];
	snprintf(doc, sizeof(doc),
		 "name: bad\n"
		 "properties:\n"
		 "  containers:\n"
		 "  - name: app\n"
		 "    properties: {image: busybox, resources: {requests: {cpu: 1, memoryInGB: 1}}}\n"
		 "  volumes: [{name: work, emptyDir: {}}]\n"
		 "  initContainers:\n%s",
		 inits);
	struct capsid_error err = {0};
	_cleanup_spec_ struct spec_group *g = NULL;
	int rc = spec_parse(doc, strlen(doc), &g, NULL, &err);
	CHECK(rc == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, want);
	CHECK(!g);
}

static void test_errors(void)
{
	expect_error("  - name: i\n    properties: {command: [x]}\n",
		     "properties.initContainers[0].properties.image: is required");
	expect_error("  - properties: {image: busybox}\n", "properties.initContainers[0].name");
	expect_error("  - name: Bad_Name\n    properties: {image: busybox}\n", "properties.initContainers[0].name");
	expect_error("  - name: app\n    properties: {image: busybox}\n",
		     "properties.initContainers[0].name: \"app\" is already the name of properties.containers[0]");
	expect_error("  - name: i\n    properties: {image: busybox}\n  - name: i\n    properties: {image: busybox}\n",
		     "properties.initContainers[1].name: duplicate init container name \"i\"");
	expect_error("  - name: i\n    properties: {image: busybox, command: []}\n",
		     "properties.initContainers[0].properties.command: must not be empty");
	expect_error("  - name: i\n    properties: {image: \"two words\"}\n",
		     "properties.initContainers[0].properties.image: must not contain whitespace");
	expect_error("  - name: i\n    properties:\n      image: busybox\n"
		     "      volumeMounts: [{name: nope, mountPath: /x}]\n",
		     "properties.initContainers[0].properties.volumeMounts[0].name: no volume named \"nope\"");
	expect_error("  - name: i\n    properties:\n      image: busybox\n"
		     "      environmentVariables: [{name: A}]\n",
		     "properties.initContainers[0].properties.environmentVariables[0]: exactly one of value or "
		     "secureValue");
	expect_error("  - name: i\n    properties:\n      image: busybox\n"
		     "      volumeMounts: [{name: work, mountPath: relative}]\n",
		     "properties.initContainers[0].properties.volumeMounts[0].mountPath");
	expect_error("    {name: i}\n", "properties.initContainers: must be an array");

	char many[2048] = "";
	for (int i = 0; i <= SPEC_MAX_INIT_CONTAINERS; i++) {
		char one[96];
		snprintf(one, sizeof(one), "  - name: i%d\n    properties: {image: busybox}\n", i);
		strcat(many, one);
	}
	expect_error(many, "properties.initContainers: at most 10 init containers are allowed, not 11");
}

static void test_warnings(void)
{
	/* Resources and ports are not part of an init container: warned about, ignored. */
	const char *doc = "name: w\n"
			  "properties:\n"
			  "  containers:\n"
			  "  - name: app\n"
			  "    properties: {image: busybox, resources: {requests: {cpu: 1, memoryInGB: 1}}}\n"
			  "  initContainers:\n"
			  "  - name: i\n"
			  "    properties: {image: busybox, resources: {requests: {cpu: 9}}}\n";
	struct capsid_error err = {0};
	struct spec_warnings warn = {0};
	_cleanup_spec_ struct spec_group *g = NULL;
	CHECK(spec_parse(doc, strlen(doc), &g, &warn, &err) == 0);
	CHECK(warn.n == 1);
	if (warn.n)
		CHECK_STR_CONTAINS(warn.items[0], "properties.initContainers[0].properties.resources");
	CHECK(g && spec_group_vcpus(g) == 1);
	spec_warnings_free(&warn);
	/* No initContainers, or an empty list: none. */
	const char *none = "name: n\n"
			   "properties:\n"
			   "  containers:\n"
			   "  - name: app\n"
			   "    properties: {image: busybox, resources: {requests: {cpu: 1, memoryInGB: 1}}}\n"
			   "  initContainers: []\n";
	_cleanup_spec_ struct spec_group *g2 = NULL;
	CHECK(spec_parse(none, strlen(none), &g2, NULL, &err) == 0);
	CHECK(g2 && g2->n_init_containers == 0);
	_cleanup_json_ struct json_object *j = g2 ? spec_to_json(g2, SPEC_REDACT) : NULL;
	CHECK(j && !strstr(json_object_to_json_string(j), "initContainers"));
}

int main(void)
{
	RUN_TEST(test_round_trips);
	RUN_TEST(test_errors);
	RUN_TEST(test_warnings);
	TEST_EXIT();
}
