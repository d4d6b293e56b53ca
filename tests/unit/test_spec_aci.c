/* ACI YAML as Microsoft's documentation writes it (tests/data/aci-docs):
 * case-insensitive property names, numbers as strings, the ARM envelope
 * (location, tags, type, identity) shown back, ACI's naming rules, and
 * az container create's flags built into the same spec. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "spec_flags.h"
#include "testlib.h"
#include "util.h"

#ifndef ACI_DOCS_DIR
#error "ACI_DOCS_DIR must name tests/data/aci-docs"
#endif

static struct spec_group *parse_doc(const char *file, struct spec_warnings *warn)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", ACI_DOCS_DIR, file);
	struct spec_group *g = NULL;
	struct capsid_error err = {0};
	int rc = spec_parse_file(path, &g, warn, &err);
	if (rc < 0)
		fprintf(stderr, "%s: %s\n", file, err.msg);
	return g;
}

static struct spec_group *parse_text(const char *text, struct capsid_error *err)
{
	struct spec_group *g = NULL;
	spec_parse(text, strlen(text), &g, NULL, err);
	return g;
}

static bool warned(const struct spec_warnings *w, const char *needle)
{
	for (size_t i = 0; i < w->n; i++)
		if (strstr(w->items[i], needle))
			return true;
	return false;
}

static void every_doc_example_parses(void)
{
	static const char *const files[] = {"multi-container.yaml", "azure-files.yaml", "secret-volume.yaml",
					    "secure-env.yaml",	    "vnet.yaml",	"dns-config.yaml",
					    "liveness.yaml",	    "identity.yaml"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct spec_warnings w = {0};
		struct spec_group *g = parse_doc(files[i], &w);
		CHECK(g != NULL);
		spec_free(g);
		spec_warnings_free(&w);
	}
}

static void multi_container_example(void)
{
	struct spec_warnings w = {0};
	struct spec_group *g = parse_doc("multi-container.yaml", &w);
	CHECK(g);
	if (!g)
		return;
	/* ARM names are case-insensitive: kept lowercase, with a warning. */
	CHECK(!strcmp(g->name, "mycontainergroup"));
	CHECK(warned(&w, "\"myContainerGroup\" is used as \"mycontainergroup\""));
	/* memoryInGb as the documentation writes it */
	CHECK(g->n_containers == 2 && g->containers[0].requests.memory_gb == 0.5);
	CHECK(g->ip_address && g->ip_address->n_ports == 2 &&
	      g->ip_address->ports[0].protocol == SPEC_PROTO_TCP);
	CHECK(!warned(&w, "memoryInGb"));
	struct json_object *doc = spec_to_json(g, SPEC_REDACT);
	const char *s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	CHECK_STR_CONTAINS(s, "\"location\":\"eastus\"");
	CHECK_STR_CONTAINS(s, "\"exampleTag\":\"tutorial\"");
	CHECK_STR_CONTAINS(s, "\"type\":\"Microsoft.ContainerInstance\\/containerGroups\"");
	CHECK_STR_CONTAINS(s, "\"memoryInGB\":0.5");
	json_object_put(doc);
	spec_free(g);
	spec_warnings_free(&w);
}

static void lowercase_keys_and_string_numbers(void)
{
	struct spec_warnings w = {0};
	struct spec_group *g = parse_doc("azure-files.yaml", &w);
	CHECK(g && g->n_volumes == 1 && !strcmp(g->volumes[0].azure_file.share_name, "acishare"));
	CHECK(!warned(&w, "sharename"));
	spec_free(g);
	spec_warnings_free(&w);
	g = parse_doc("vnet.yaml", &w);
	CHECK(g && g->ip_address && g->ip_address->ports[0].port == 80);
	CHECK(g && g->n_subnets == 1 && !strcmp(g->subnets[0].network, "aci-subnet"));
	spec_free(g);
	spec_warnings_free(&w);
	/* Unknown fields still warn, in any case. */
	g = parse_doc("liveness.yaml", &w);
	CHECK(g && !warned(&w, "livenessProbe") && warned(&w, "description: unknown field"));
	/* ACI's liveness example: an exec probe every 5 s, Kubernetes' other defaults. */
	const struct spec_probe *lp = g ? g->containers[0].liveness_probe : NULL;
	CHECK(lp && lp->kind == SPEC_PROBE_EXEC && lp->n_exec_command == 2 && !strcmp(lp->exec_command[1], "/tmp/healthy"));
	CHECK(lp && lp->period_s == 5 && lp->timeout_s == 1 && lp->failure_threshold == 3 && lp->success_threshold == 1 &&
	      lp->initial_delay_s == 0);
	spec_free(g);
	spec_warnings_free(&w);

	struct capsid_error err = {0};
	g = parse_text(
	    "{\"NAME\":\"a\",\"Properties\":{\"CONTAINERS\":[{\"name\":\"c\",\"PROPERTIES\":"
	    "{\"IMAGE\":\"x\",\"RESOURCES\":{\"REQUESTS\":{\"CPU\":\"0.5\",\"MEMORYINGB\":\"1\"}}}}]}}",
	    &err);
	CHECK(g && g->containers[0].requests.cpu == 0.5 && g->containers[0].requests.memory_gb == 1);
	spec_free(g);
	g = parse_text(
	    "name: a\nproperties:\n  containers:\n  - name: c\n    properties: {image: x, resources: "
	    "{requests: {cpu: 1, memoryInGB: 1, memoryInGb: 2}}}\n",
	    &err);
	CHECK(!g);
	CHECK_STR_CONTAINS(err.msg, "requests.memoryInGB: given twice (property names are case-insensitive)");
	g = parse_text(
	    "name: a\nproperties:\n  containers:\n  - name: c\n    properties: {image: x, resources: "
	    "{requests: {cpu: 1x, memoryInGB: 1}}}\n",
	    &err);
	CHECK(!g);
	CHECK_STR_CONTAINS(err.msg, "requests.cpu: must be a number, not a string");
	g = parse_text("name: a\nproperties:\n  containers:\n  - name: c\n    properties: {image: x, ports: "
		       "[{port: '8o'}], resources: {requests: {cpu: 1, memoryInGB: 1}}}\n",
		       &err);
	CHECK(!g);
	CHECK_STR_CONTAINS(err.msg, "ports[0].port: must be an integer from 1 to 65535");
}

static void naming_rules(void)
{
	CHECK(util_name_valid("a") && util_name_valid("web-1") && util_name_valid("a-b-c"));
	CHECK(!util_name_valid("") && !util_name_valid("-a") && !util_name_valid("a-") &&
	      !util_name_valid("a--b") && !util_name_valid("Web") && !util_name_valid("a_b"));
	char long_name[70];
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	CHECK(!util_name_valid(long_name));
	long_name[63] = '\0';
	CHECK(util_name_valid(long_name));

	static const struct {
		const char *yaml, *want;
	} bad[] = {
	    {"name: my--group\nproperties: {containers: [{name: c, properties: {image: x, resources: "
	     "{requests: "
	     "{cpu: 1, memoryInGB: 1}}}}]}\n",
	     "name: \"my--group\" is not a valid name"},
	    {"name: g-\nproperties: {containers: [{name: c, properties: {image: x, resources: {requests: "
	     "{cpu: 1, "
	     "memoryInGB: 1}}}}]}\n",
	     "name: \"g-\" is not a valid name"},
	    /* container names are not folded: ACI refuses upper case there */
	    {"name: g\nproperties: {containers: [{name: Web, properties: {image: x, resources: {requests: "
	     "{cpu: "
	     "1, memoryInGB: 1}}}}]}\n",
	     "containers[0].name: \"Web\" is not a valid name"},
	    {"name: g\nproperties: {containers: [{name: a--b, properties: {image: x, resources: {requests: "
	     "{cpu: "
	     "1, memoryInGB: 1}}}}]}\n",
	     "containers[0].name: \"a--b\" is not a valid name"},
	    {"name: g\ntype: Microsoft.Compute/virtualMachines\nproperties: {containers: [{name: c, "
	     "properties: "
	     "{image: x, resources: {requests: {cpu: 1, memoryInGB: 1}}}}]}\n",
	     "type: \"Microsoft.Compute/virtualMachines\" is not a container group"},
	    {"name: g\nidentity: {type: Magic}\nproperties: {containers: [{name: c, properties: {image: x, "
	     "resources: {requests: {cpu: 1, memoryInGB: 1}}}}]}\n",
	     "identity.type: unsupported value \"Magic\""},
	    {"name: g\nidentity: {type: UserAssigned}\nproperties: {containers: [{name: c, properties: "
	     "{image: "
	     "x, resources: {requests: {cpu: 1, memoryInGB: 1}}}}]}\n",
	     "identity.userAssignedIdentities: is required for UserAssigned"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct capsid_error err = {0};
		struct spec_group *g = parse_text(bad[i].yaml, &err);
		CHECK(!g);
		CHECK_STR_CONTAINS(err.msg, bad[i].want);
		spec_free(g);
	}
}

static void identity_shown_back(void)
{
	struct spec_warnings w = {0};
	struct spec_group *g = parse_doc("identity.yaml", &w);
	CHECK(g && g->identity && !strcmp(g->identity->type, "UserAssigned") &&
	      g->identity->n_user_assigned == 1);
	struct json_object *doc = spec_to_json(g, SPEC_REDACT);
	struct json_object *id = NULL, *ua = NULL;
	CHECK(json_object_object_get_ex(doc, "identity", &id) &&
	      json_object_object_get_ex(id, "userAssignedIdentities", &ua) &&
	      json_object_object_get_ex(
		  ua,
		  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
		  "myResourceGroup/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
		  "myACIId",
		  NULL));
	/* What is shown back is read back the same. */
	struct spec_group *again = NULL;
	struct capsid_error err = {0};
	CHECK(spec_from_json_ex(doc, SPEC_PARSE_REDACTED, &again, NULL, &err) == 0);
	CHECK(again && again->identity && again->identity->n_user_assigned == 1);
	spec_free(again);
	json_object_put(doc);
	spec_free(g);
	spec_warnings_free(&w);
}

static void split_command(void)
{
	static const struct {
		const char *line;
		const char *want[5];
	} cases[] = {
	    {"echo hi", {"echo", "hi"}},
	    {"  /bin/sh -c 'echo $HOME; exit 3'  ", {"/bin/sh", "-c", "echo $HOME; exit 3"}},
	    {"a \"b \\\"c\\\" d\" e\\ f", {"a", "b \"c\" d", "e f"}},
	    {"x''y \"\"", {"xy", ""}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char **words = NULL;
		size_t n = 0;
		struct capsid_error err = {0};
		CHECK(spec_flags_split_command(cases[i].line, &words, &n, &err) == 0);
		for (size_t k = 0; k < 5; k++) {
			if (!cases[i].want[k]) {
				CHECK(n == k && words && !words[k]);
				break;
			}
			CHECK(k < n && !strcmp(words[k], cases[i].want[k]));
		}
		for (size_t k = 0; k < n; k++)
			free(words[k]);
		free(words);
	}
	char **words = NULL;
	size_t n = 0;
	struct capsid_error err = {0};
	CHECK(spec_flags_split_command("echo 'unclosed", &words, &n, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "quote is not closed");
	CHECK(spec_flags_split_command("   ", &words, &n, &err) == -EINVAL);
}

/* The flags go through the same validator as a file. */
static struct spec_group *from_flags(struct spec_flags *f, struct capsid_error *err)
{
	struct json_object *doc = NULL;
	struct spec_group *g = NULL;
	if (spec_flags_to_json(f, &doc, err) == 0)
		spec_from_json(doc, &g, NULL, err);
	spec_json_wipe_secrets(doc);
	json_object_put(doc);
	return g;
}

static void az_flags(void)
{
	char a0[] = "run", a1[] = "--ports", a2[] = "8080", a3[] = "8443", a4[] = "-e", a5[] = "A=1",
	     a6[] = "B=two words", a7[] = "--cpu";
	char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, NULL};
	int argc = 8;
	struct spec_flags f = {0};
	struct capsid_error err = {0};
	int idx = 3; /* getopt has taken --ports and its first value */
	CHECK(spec_flags_take(&f, SPEC_FLAGS_OPT_BASE + 4, argv[2], argc, argv, &idx, &err) == 1);
	CHECK(idx == 4 && f.n_ports == 2);
	idx = 6;
	CHECK(spec_flags_take(&f, 'e', argv[5], argc, argv, &idx, &err) == 1);
	CHECK(idx == 7 && f.n_env == 2 && !strcmp(f.env[1], "B=two words"));
	CHECK(spec_flags_take(&f, 'x', "y", argc, argv, &idx, &err) == 0);

	f.name = "Hello";
	f.image = "capsid/demo:latest";
	f.dns_name_label = "hello";
	f.command_line = "/bin/sh -c 'echo hi'";
	f.restart_policy = "Never";
	setenv("TOKEN", "from-env", 1);
	f.secure_env[f.n_secure_env++] = "TOKEN";
	f.secure_env[f.n_secure_env++] = "PASS=p4ss";
	struct spec_group *g = from_flags(&f, &err);
	CHECK(g);
	if (g) {
		const struct spec_container *c = &g->containers[0];
		CHECK(!strcmp(g->name, "hello") && !strcmp(c->name, "hello"));
		CHECK(c->requests.cpu == 1 && c->requests.memory_gb == 1.5); /* az's defaults */
		CHECK(c->n_ports == 2 && c->ports[1].port == 8443);
		CHECK(g->ip_address && g->ip_address->type == SPEC_IP_PUBLIC && g->ip_address->n_ports == 2 &&
		      !strcmp(g->ip_address->dns_name_label, "hello"));
		CHECK(c->n_command == 3 && !strcmp(c->command[2], "echo hi"));
		CHECK(c->n_env == 4 && c->env[2].secure && !strcmp(c->env[2].value, "from-env") &&
		      c->env[3].secure && !strcmp(c->env[3].value, "p4ss"));
		CHECK(g->restart_policy == SPEC_RESTART_NEVER);
	}
	spec_free(g);

	/* Without ports the container declares 80 (az's default) and no address. */
	struct spec_flags plain = {.name = "p", .image = "x", .any = true};
	g = from_flags(&plain, &err);
	CHECK(g && g->containers[0].n_ports == 1 && g->containers[0].ports[0].port == 80 && !g->ip_address &&
	      g->restart_policy == SPEC_RESTART_ALWAYS);
	spec_free(g);

	static const struct {
		struct spec_flags f;
		const char *want;
	} bad[] = {
	    {{.image = "x"}, "--name is required"},
	    {{.name = "n"}, "--image is required"},
	    {{.name = "n", .image = "x", .cpu = "two"}, "--cpu two: must be a number"},
	    {{.name = "n", .image = "x", .memory = "0"}, "--memory 0: must be a number greater than 0"},
	    {{.name = "n", .image = "x", .env = {"NOEQUALS"}, .n_env = 1},
	     "--environment-variables NOEQUALS"},
	    {{.name = "n", .image = "x", .secure_env = {"CAPSID_TEST_UNSET_VAR"}, .n_secure_env = 1},
	     "--secure-environment-variables CAPSID_TEST_UNSET_VAR"},
	    {{.name = "n", .image = "x", .restart_policy = "Sometimes"}, "restartPolicy: unsupported value"},
	    {{.name = "n", .image = "x", .ports = {"99999"}, .n_ports = 1},
	     "port: must be an integer from 1"},
	    {{.name = "n--m", .image = "x"}, "is not a valid name"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct capsid_error e = {0};
		struct spec_group *b = from_flags((struct spec_flags *)&bad[i].f, &e);
		CHECK(!b);
		CHECK_STR_CONTAINS(e.msg, bad[i].want);
		spec_free(b);
	}
}

int main(void)
{
	RUN_TEST(every_doc_example_parses);
	RUN_TEST(multi_container_example);
	RUN_TEST(lowercase_keys_and_string_numbers);
	RUN_TEST(naming_rules);
	RUN_TEST(identity_shown_back);
	RUN_TEST(split_command);
	RUN_TEST(az_flags);
	TEST_EXIT();
}
