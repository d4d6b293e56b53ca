/* Spec parser: YAML and JSON agree, every validation rule reports its exact field path, unknown fields
 * warn, secrets stay out of messages and redacted output, the resource rule rounds right. Hostile
 * input: test_spec_hostile.c. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "spec.h"
#include "spec_examples.h"
#include "testlib.h"

/* ---- helpers ------------------------------------------------------------ */

static bool group_equal(const struct spec_group *a, const struct spec_group *b)
{
	if (!str_eq(a->api_version, b->api_version) || !str_eq(a->name, b->name) ||
	    !str_eq(a->location, b->location) || !str_eq(a->os_type, b->os_type) ||
	    a->restart_policy != b->restart_policy || a->n_containers != b->n_containers ||
	    a->n_tags != b->n_tags)
		return false;
	for (size_t i = 0; i < a->n_tags; i++)
		if (!str_eq(a->tags[i].key, b->tags[i].key) || !str_eq(a->tags[i].value, b->tags[i].value))
			return false;
	for (size_t i = 0; i < a->n_containers; i++) {
		const struct spec_container *x = &a->containers[i], *y = &b->containers[i];
		if (!str_eq(x->name, y->name) || !str_eq(x->image, y->image) ||
		    x->n_command != y->n_command || x->n_env != y->n_env ||
		    x->requests.cpu != y->requests.cpu || x->requests.memory_gb != y->requests.memory_gb ||
		    x->limits.cpu != y->limits.cpu || x->limits.memory_gb != y->limits.memory_gb)
			return false;
		for (size_t j = 0; j < x->n_command; j++)
			if (!str_eq(x->command[j], y->command[j]))
				return false;
		for (size_t j = 0; j < x->n_env; j++)
			if (!str_eq(x->env[j].name, y->env[j].name) ||
			    !str_eq(x->env[j].value, y->env[j].value) || x->env[j].secure != y->env[j].secure)
				return false;
	}
	return true;
}

/* Parse text, or validate doc (consumed), expecting failure with exactly msg
 * and nothing handed out. where/n say which case failed. */
static void expect_error(const char *where, int n, const char *text, struct json_object *doc, const char *msg)
{
	struct spec_group *g = NULL;
	struct spec_warnings warn = {0};
	struct capsid_error err = {0};
	int rc =
	    text ? spec_parse(text, strlen(text), &g, &warn, &err) : spec_from_json(doc, &g, &warn, &err);
	CHECK(rc == -EINVAL && g == NULL && warn.n == 0);
	CHECK(strstr(err.msg, "s3cret") == NULL);
	test_checks++;
	if (strcmp(err.msg, msg)) {
		test_failures++;
		fprintf(stderr, "test_spec.c %s %d: expected error\n  \"%s\"\ngot\n  \"%s\"\n", where, n, msg,
			err.msg);
	}
	spec_free(g);
	spec_warnings_free(&warn);
	json_object_put(doc);
}
#define EXPECT_TEXT_ERROR(text, msg) expect_error("line", __LINE__, (text), NULL, (msg))
#define EXPECT_DOC_ERROR(doc, msg)   expect_error("line", __LINE__, NULL, (doc), (msg))

/* Walk "a.b[2].c" from root. */
static struct json_object *jget(struct json_object *root, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	struct json_object *cur = root;
	for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, ".")) {
		char *br = strchr(tok, '[');
		if (br)
			*br = '\0';
		if (*tok && !json_object_object_get_ex(cur, tok, &cur))
			return NULL;
		for (; br && cur; br = strchr(br + 1, '['))
			cur = json_object_array_get_idx(cur, (size_t)atoi(br + 1));
	}
	return cur;
}

/* Set key in the object at parent_path (NULL value: delete the key). */
static void jset(struct json_object *root, const char *parent_path, const char *key,
		 struct json_object *value)
{
	struct json_object *parent = *parent_path ? jget(root, parent_path) : root;
	if (!parent) {
		fprintf(stderr, "test bug: no %s\n", parent_path);
		abort();
	}
	if (value)
		json_object_object_add(parent, key, value);
	else
		json_object_object_del(parent, key);
}

static struct json_object *example_doc(void)
{
	return json_tokener_parse(example_json);
}

static struct json_object *jparse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);
	if (!o) {
		fprintf(stderr, "test bug: bad json %s\n", s);
		abort();
	}
	return o;
}

#define C0  "properties.containers[0]"
#define CP0 "properties.containers[0].properties"
#define RQ0 "properties.containers[0].properties.resources.requests"
#define LM0 "properties.containers[0].properties.resources.limits"
#define EV0 "properties.containers[0].properties.environmentVariables"

/* ---- tests -------------------------------------------------------------- */

static void test_example_yaml_equals_json(void)
{
	struct spec_warnings wy = {0}, wj = {0};
	struct spec_group *y = parse_ok(example_yaml, &wy);
	struct spec_group *j = parse_ok(example_json, &wj);
	CHECK(y && j);
	if (!y || !j)
		goto out;
	CHECK(wy.n == 0 && wj.n == 0);
	CHECK(group_equal(y, j));
	CHECK(str_eq(y->api_version, "2021-10-01")); /* a date-like plain scalar stays a string */
	CHECK(str_eq(y->name, "hello") && str_eq(y->os_type, "Linux"));
	CHECK(y->restart_policy == SPEC_RESTART_NEVER && y->n_containers == 1);
	const struct spec_container *c = &y->containers[0];
	CHECK(str_eq(c->name, "hello") && str_eq(c->image, "capsid/demo:latest"));
	CHECK(c->n_command == 3 && str_eq(c->command[2], "echo hello from $(uname -r)"));
	CHECK(c->n_env == 2);
	CHECK(str_eq(c->env[0].name, "GREETING") && str_eq(c->env[0].value, "hi") && !c->env[0].secure);
	CHECK(str_eq(c->env[1].name, "TOKEN") && str_eq(c->env[1].value, "s3cret") && c->env[1].secure);
	CHECK(c->requests.cpu == 1 && c->requests.memory_gb == 0.5);
	CHECK(c->limits.cpu == 1 && c->limits.memory_gb == 0.5);
	CHECK(spec_group_vcpus(y) == 1 && spec_group_memory_mib(y) == 512);
out:
	spec_free(y);
	spec_free(j);
	spec_warnings_free(&wy);
	spec_warnings_free(&wj);
}

static void test_defaults(void)
{
	struct spec_warnings w = {0};
	struct spec_group *g = parse_ok(minimal_json, &w);
	CHECK(g != NULL);
	if (g) {
		CHECK(w.n == 0);
		CHECK(g->api_version == NULL && g->location == NULL && g->n_tags == 0);
		CHECK(str_eq(g->os_type, "Linux") && g->restart_policy == SPEC_RESTART_ALWAYS);
		const struct spec_container *c = &g->containers[0];
		CHECK(c->command == NULL && c->n_command == 0);
		CHECK(c->env == NULL && c->n_env == 0);
		CHECK(c->limits.cpu == 0 && c->limits.memory_gb == 0);
	}
	spec_free(g);
	spec_warnings_free(&w);
	/* YAML "key:" with nothing after it is null, which counts as absent. */
	g = parse_ok("name: n\nlocation:\nproperties:\n  restartPolicy:\n  containers:\n  - name: c\n"
		     "    properties:\n      image: x\n      command:\n"
		     "      resources:\n        requests: {cpu: 1, memoryInGB: 1}\n        limits:\n",
		     NULL);
	CHECK(g && g->restart_policy == SPEC_RESTART_ALWAYS && g->location == NULL &&
	      g->containers[0].n_command == 0);
	spec_free(g);
}

#define DNS_MSG                                                                                              \
	"is not a valid name: use 1-63 lowercase letters, digits and '-', not starting or ending with '-' "  \
	"and without '--'"
#define NAME64 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd"

/* One field of the example replaced by a JSON value (NULL: removed), and the
 * exact error expected. Secure values in these cases are "s3cret", which
 * expect_error() checks never reaches the message. */
static const struct field_case {
	const char *parent, *key, *value, *msg;
} field_cases[] = {
    /* group */
    {"", "name", NULL, "name: is required"},
    {"", "name", "5", "name: must be a string, not a number (quote it in YAML)"},
    {"", "apiVersion", "2021", "apiVersion: must be a string, not a number (quote it in YAML)"},
    {"", "location", "[]", "location: must be a string, not an array"},
    {"", "name", "\"\"", "name: must not be empty"},
    {"", "name", "\"W_eb\"", "name: \"W_eb\" " DNS_MSG},
    {"", "name", "\"a--b\"", "name: \"a--b\" " DNS_MSG},
    {"", "name", "\"-web\"", "name: \"-web\" " DNS_MSG},
    {"", "name", "\"web-\"", "name: \"web-\" " DNS_MSG},
    {"", "name", "\"we_b\"", "name: \"we_b\" " DNS_MSG},
    {"", "name", "\"" NAME64 "\"", "name: \"" NAME64 "\" " DNS_MSG},
    {C0, "name", "\"\"", C0 ".name: must not be empty"},
    {C0, "name", "\"we.b\"", C0 ".name: \"we.b\" " DNS_MSG},
    {C0, "name", "\"Web\"", C0 ".name: \"Web\" " DNS_MSG},
    {C0, "name", "\"" NAME64 "\"", C0 ".name: \"" NAME64 "\" " DNS_MSG},
    {"", "properties", NULL, "properties: is required"},
    {"", "properties", "[]", "properties: must be an object, not an array"},
    {"", "tags", "\"x\"", "tags: must be an object, not a string"},
    {"", "tags", "{\"env\": 1}", "tags.env: must be a string, not a number (quote it in YAML)"},
    {"properties", "osType", "\"Windows\"",
     "properties.osType: Windows containers are not supported (capsid runs Linux guests)"},
    {"properties", "osType", "\"windows\"",
     "properties.osType: Windows containers are not supported (capsid runs Linux guests)"},
    {"properties", "osType", "\"Solaris\"",
     "properties.osType: unsupported value \"Solaris\" (allowed: Linux)"},
    {"properties", "osType", "true", "properties.osType: must be a string, not a boolean (quote it in YAML)"},
    {"properties", "restartPolicy", "\"Sometimes\"",
     "properties.restartPolicy: unsupported value \"Sometimes\" (allowed: Always, OnFailure, Never)"},
    {"properties", "restartPolicy", "\"\\u0001\\\"\"",
     "properties.restartPolicy: unsupported value \"\\x01\\x22\" (allowed: Always, OnFailure, Never)"},
    /* containers */
    {"properties", "containers", NULL, "properties.containers: is required"},
    {"properties", "containers", "[]", "properties.containers: must contain at least one container"},
    {"properties", "containers", "{}", "properties.containers: must be an array, not an object"},
    {"properties", "containers", "[\"web\"]", C0 ": must be an object, not a string"},
    {C0, "name", NULL, C0 ".name: is required"},
    {C0, "properties", NULL, CP0 ": is required"},
    {CP0, "image", NULL, CP0 ".image: is required"},
    {CP0, "image", "\"\"", CP0 ".image: must not be empty"},
    {CP0, "image", "\"busy box\"", CP0 ".image: must not contain whitespace or control characters"},
    {CP0, "image", "\"busybox\\n\"", CP0 ".image: must not contain whitespace or control characters"},
    {CP0, "image", "\"busy\\u007f\"", CP0 ".image: must not contain whitespace or control characters"},
    {CP0, "image", "\"busy\\u0000box\"", CP0 ".image: must not contain NUL characters"},
    {CP0, "command", "[]", CP0 ".command: must not be empty when given"},
    {CP0, "command", "\"/bin/sh\"", CP0 ".command: must be an array of strings, not a string"},
    {CP0, "command", "[\"/bin/sleep\", 5]",
     CP0 ".command[1]: must be a string, not a number (quote it in YAML)"},
    {CP0, "command", "[\"\", \"x\"]", CP0 ".command[0]: must not be empty"},
    {CP0, "command", "[\"sh\", \"a\\u0000b\"]", CP0 ".command[1]: must not contain NUL characters"},
    /* environment variables */
    {CP0, "environmentVariables", "{}", EV0 ": must be an array, not an object"},
    {CP0, "environmentVariables", "[\"A=b\"]", EV0 "[0]: must be an object, not a string"},
    {CP0, "environmentVariables", "[{\"name\": \"A\", \"value\": \"x\", \"secureValue\": \"s3cret\"}]",
     EV0 "[0]: exactly one of value or secureValue must be set"},
    {CP0, "environmentVariables", "[{\"name\": \"A\"}]",
     EV0 "[0]: exactly one of value or secureValue must be set"},
    {CP0, "environmentVariables", "[{\"value\": \"x\"}]", EV0 "[0].name: is required"},
    {CP0, "environmentVariables", "[{\"name\": \"\", \"value\": \"x\"}]", EV0 "[0].name: must not be empty"},
    {CP0, "environmentVariables", "[{\"name\": \"A=B\", \"value\": \"x\"}]",
     EV0 "[0].name: must not contain '='"},
    {CP0, "environmentVariables",
     "[{\"name\": \"A\", \"value\": \"x\"}, {\"name\": \"B\", \"value\": \"y\"}, "
     "{\"name\": \"A\", \"secureValue\": \"s3cret\"}]",
     EV0 "[2].name: duplicate variable name \"A\""},
    {CP0, "environmentVariables", "[{\"name\": \"A\", \"value\": 8080}]",
     EV0 "[0].value: must be a string, not a number (quote it in YAML)"},
    {CP0, "environmentVariables", "[{\"name\": \"A\", \"secureValue\": [\"s3cret\"]}]",
     EV0 "[0].secureValue: must be a string, not an array"},
    {EV0 "[1]", "secureValue", "\"s3cret\\u0000tail\"",
     EV0 "[1].secureValue: must not contain NUL characters"},
    /* resources */
    {CP0, "resources", NULL, CP0 ".resources: is required"},
    {CP0 ".resources", "requests", NULL, RQ0 ": is required"},
    {CP0 ".resources", "limits", "1", LM0 ": must be an object, not a number"},
    {RQ0, "cpu", NULL, RQ0 ".cpu: is required"},
    {RQ0, "memoryInGB", NULL, RQ0 ".memoryInGB: is required"},
    {RQ0, "cpu", "0", RQ0 ".cpu: must be greater than 0"},
    {RQ0, "cpu", "-0.5", RQ0 ".cpu: must be greater than 0"},
    {RQ0, "cpu", "64.5", RQ0 ".cpu: must be at most 64"},
    {RQ0, "cpu", "\"1x\"", RQ0 ".cpu: must be a number, not a string"},
    {RQ0, "cpu", "true", RQ0 ".cpu: must be a number, not a boolean"},
    {RQ0, "memoryInGB", "0.0", RQ0 ".memoryInGB: must be greater than 0"},
    {RQ0, "memoryInGB", "257", RQ0 ".memoryInGB: must be at most 256"},
    {LM0, "cpu", "65", LM0 ".cpu: must be at most 64"},
    {LM0, "cpu", "0.5", LM0 ".cpu: must be at least the request (1)"},
    {LM0, "memoryInGB", "0.25", LM0 ".memoryInGB: must be at least the request (0.5)"},
    /* stdin and tty */
    {CP0, "stdin", "\"yes\"", CP0 ".stdin: must be a boolean, not a string"},
    {CP0, "tty", "1", CP0 ".tty: must be a boolean, not a number"},
};

static void test_field_rules(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(field_cases); i++) {
		const struct field_case *fc = &field_cases[i];
		struct json_object *d = example_doc();
		jset(d, fc->parent, fc->key, fc->value ? jparse(fc->value) : NULL);
		expect_error("field_cases", (int)i, NULL, d, fc->msg);
	}
	/* Enum words are case-insensitive, as in ACI, and come back canonical. */
	struct json_object *d = example_doc();
	jset(d, "properties", "osType", json_object_new_string("linux"));
	jset(d, "properties", "restartPolicy", json_object_new_string("onfailure"));
	struct spec_group *g = NULL;
	CHECK(spec_from_json(d, &g, NULL, NULL) == 0);
	CHECK(g && str_eq(g->os_type, "Linux") && g->restart_policy == SPEC_RESTART_ON_FAILURE);
	CHECK(!strcmp(spec_restart_policy_name(SPEC_RESTART_ON_FAILURE), "OnFailure"));
	spec_free(g);
	json_object_put(d);
}

/* printf format: cpu and memoryInGB of two containers */
static const char two_containers[] =
    "name: a\nproperties:\n  containers:\n"
    "  - name: x\n    properties: {image: i, resources: {requests: {cpu: %s, memoryInGB: %s}}}\n"
    "  - name: y\n    properties: {image: i, resources: {requests: {cpu: %s, memoryInGB: %s}}}\n";
/* YAML: plain scalars are typed, quoted ones are strings (errors: text_cases). */
static void test_yaml_scalars(void)
{
	struct spec_group *g =
	    parse_ok(YAML_C0 "      environmentVariables:\n"
			     "      - {name: PORT, value: \"8080\"}\n      - {name: ON, value: !!str true}\n"
			     "      resources: {requests: {cpu: .5, memoryInGB: 0x2}, limits: {cpu: 1e0}}\n",
		     NULL);
	CHECK(g && str_eq(g->containers[0].env[0].value, "8080") &&
	      str_eq(g->containers[0].env[1].value, "true"));
	CHECK(g && g->containers[0].requests.cpu == 0.5 && g->containers[0].requests.memory_gb == 2 &&
	      g->containers[0].limits.cpu == 1 && g->containers[0].limits.memory_gb == 0);
	spec_free(g);
}

static void test_names(void)
{
	static const char *const valid[] = {"a", "web-1", "0abc", &NAME64[1] /* 63 characters */};
	for (size_t i = 0; i < ARRAY_SIZE(valid) * 2; i++) {
		struct json_object *d = example_doc();
		jset(d, i % 2 ? C0 : "", "name", json_object_new_string(valid[i / 2]));
		struct spec_group *g = NULL;
		CHECK(spec_from_json(d, &g, NULL, NULL) == 0 && g);
		CHECK(g && str_eq(i % 2 ? g->containers[0].name : g->name, valid[i / 2]));
		spec_free(g);
		json_object_put(d);
	}
	/* Duplicate container names: the later one's path. */
	struct json_object *d = example_doc();
	struct json_object *cts = jget(d, "properties.containers");
	struct json_object *copy = NULL;
	json_object_deep_copy(json_object_array_get_idx(cts, 0), &copy, NULL);
	json_object_array_add(cts, copy);
	EXPECT_DOC_ERROR(d, "properties.containers[1].name: duplicate container name \"hello\"");
}

static void test_container_count_and_totals(void)
{
	/* 60 containers are fine, 61 are not. */
	for (int n = 60; n <= 61; n++) {
		struct json_object *d = example_doc();
		struct json_object *cts = jget(d, "properties.containers");
		for (int i = 1; i < n; i++) {
			struct json_object *copy = NULL;
			json_object_deep_copy(json_object_array_get_idx(cts, 0), &copy, NULL);
			char name[16];
			snprintf(name, sizeof(name), "c%d", i);
			json_object_object_add(copy, "name", json_object_new_string(name));
			/* keep the group totals within bounds */
			jset(copy, "properties.resources", "requests",
			     jparse("{\"cpu\": 0.1, \"memoryInGB\": 0.1}"));
			jset(copy, "properties.resources", "limits", NULL);
			json_object_array_add(cts, copy);
		}
		if (n == 60) {
			struct spec_group *g = NULL;
			struct capsid_error err = {0};
			CHECK(spec_from_json(d, &g, NULL, &err) == 0 && g && g->n_containers == 60);
			/* 1 + 59 x 0.1 CPU = 6.9 -> 7; 0.5 + 59 x 0.1 GB = 6.4 GB -> 6553.6 -> 6554 MiB */
			CHECK(g && spec_group_vcpus(g) == 7 && spec_group_memory_mib(g) == 6554);
			spec_free(g);
			json_object_put(d);
		} else {
			EXPECT_DOC_ERROR(
			    d, "properties.containers: at most 60 containers are allowed in a group, not 61");
		}
	}

	/* Group totals: 40 + 40 CPUs, 200 + 100 GB (32 + 32 and 128 + 128 fit: test_resource_rule). */
	char buf[1024];
	snprintf(buf, sizeof(buf), two_containers, "40", "1", "40", "1");
	EXPECT_TEXT_ERROR(buf,
			  "properties.containers: the container cpu requests add up to 80, more than 64");
	snprintf(buf, sizeof(buf), two_containers, "1", "200", "1", "100");
	EXPECT_TEXT_ERROR(
	    buf, "properties.containers: the container memoryInGB requests add up to 300, more than 256");
}

static void test_resource_rule(void)
{
	static const struct {
		const char *cpu1, *mem1, *cpu2, *mem2;
		unsigned vcpus, mib;
	} cases[] = {
	    {"0.5", "0.5", "0.7", "0.25", 2, 768},	{"1", "1", "1", "1", 2, 2048},
	    {"0.1", "0.1", "0.2", "0.2", 1, 308}, /* 0.3 GB = 307.2 MiB */
	    {"0.01", "0.001", "0.01", "0.001", 1, 3},	{"1.5", "1.5", "1.5", "1.5", 3, 3072},
	    {"32", "128", "32", "128", 64, 256 * 1024}, /* the group maximum */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char buf[512];
		snprintf(buf, sizeof(buf), two_containers, cases[i].cpu1, cases[i].mem1, cases[i].cpu2,
			 cases[i].mem2);
		struct spec_group *g = parse_ok(buf, NULL);
		CHECK(g && spec_group_vcpus(g) == cases[i].vcpus && spec_group_memory_mib(g) == cases[i].mib);
		spec_free(g);
	}
	/* Ten containers of 0.1 CPU and 0.1 GB: floating-point sums land just
	 * under 1 and must not round up to 2 vCPUs / 1025 MiB. */
	struct spec_container cts[10] = {0};
	for (size_t i = 0; i < 10; i++)
		cts[i].requests = (struct spec_resources){.cpu = 0.1, .memory_gb = 0.1};
	struct spec_group g = {.containers = cts, .n_containers = 10};
	CHECK(spec_group_vcpus(&g) == 1);
	CHECK(spec_group_memory_mib(&g) == 1024);
	cts[0].requests.cpu = 0.1 + 1e-3;
	CHECK(spec_group_vcpus(&g) == 2);
}

static void test_unknown_field_warnings(void)
{
	struct json_object *d = example_doc();
	jset(d, "", "foo", json_object_new_int(1));
	jset(d, "", "type", json_object_new_string("Microsoft.ContainerInstance/containerGroups"));
	jset(d, "properties", "diagnostics", jparse("{\"logAnalytics\": {}}"));
	jset(d, C0, "extra", json_object_new_boolean(1));
	jset(d, CP0, "notAField", json_object_new_array());
	jset(d, EV0 "[1]", "note", json_object_new_string("x"));
	jset(d, RQ0, "gpu", jparse("{\"count\": 1}"));
	struct spec_group *g = NULL;
	struct spec_warnings w = {0};
	struct capsid_error err = {0};
	CHECK(spec_from_json(d, &g, &w, &err) == 0 && g);
	static const char *const want[] = {
	    "foo: unknown field, ignored",	    "properties.diagnostics: unknown field, ignored",
	    C0 ".extra: unknown field, ignored",    CP0 ".notAField: unknown field, ignored",
	    EV0 "[1].note: unknown field, ignored", RQ0 ".gpu: unknown field, ignored",
	};
	CHECK(w.n == ARRAY_SIZE(want));
	for (size_t i = 0; i < w.n && i < ARRAY_SIZE(want); i++) {
		CHECK_STR_CONTAINS(w.items[i], want[i]);
		CHECK(strlen(w.items[i]) == strlen(want[i]));
	}
	/* Warnings append to what the caller already has. */
	spec_free(g);
	CHECK(spec_from_json(d, &g, &w, &err) == 0 && w.n == 2 * ARRAY_SIZE(want));
	spec_free(g);
	spec_warnings_free(&w);
	CHECK(w.n == 0 && w.items == NULL);
	json_object_put(d);

	/* A flood of unknown keys gives a bounded list with a summary line. */
	d = example_doc();
	for (int i = 0; i < 100; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		json_object_object_add(d, k, NULL);
	}
	CHECK(spec_from_json(d, &g, &w, &err) == 0);
	CHECK(w.n == SPEC_MAX_WARNINGS);
	CHECK(w.n && !strcmp(w.items[w.n - 1], "... and 37 more unknown fields, ignored"));
	spec_free(g);
	spec_warnings_free(&w);
	json_object_put(d);

	/* Hostile keys are escaped and cut in warnings. */
	g = parse_ok(YAML_C0
		     "      resources: {requests: {cpu: 1, memoryInGB: 1}}\n\"bad\\x1b[31mkey\": 1\n"
		     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": 2\n",
		     &w);
	CHECK(w.n == 2);
	CHECK(w.n == 2 && !strcmp(w.items[0], "bad\\x1b[31mkey: unknown field, ignored"));
	CHECK(w.n == 2 && !strcmp(w.items[1], "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
					      "aa...: unknown field, ignored"));
	spec_free(g);
	spec_warnings_free(&w);
}

/* stdin and tty are read and written back; absent, both are false. */
static void test_stdio_flags(void)
{
	struct json_object *d = example_doc();
	jset(d, CP0, "stdin", json_object_new_boolean(1));
	jset(d, CP0, "tty", json_object_new_boolean(1));
	struct spec_group *g = NULL;
	CHECK(spec_from_json(d, &g, NULL, NULL) == 0 && g);
	json_object_put(d);
	if (!g)
		return;
	CHECK(g->containers[0].open_stdin && g->containers[0].tty);
	struct json_object *out = spec_to_json(g, SPEC_REDACT);
	CHECK(json_object_get_boolean(jget(out, CP0 ".stdin")) && json_object_get_boolean(jget(out, CP0 ".tty")));
	json_object_put(out);
	spec_free(g);
	d = example_doc();
	g = NULL;
	CHECK(spec_from_json(d, &g, NULL, NULL) == 0 && g && !g->containers[0].open_stdin && !g->containers[0].tty);
	out = g ? spec_to_json(g, SPEC_REDACT) : NULL;
	CHECK(out && !jget(out, CP0 ".stdin") && !jget(out, CP0 ".tty"));
	json_object_put(out);
	spec_free(g);
	json_object_put(d);
}

static void test_redaction_and_round_trip(void)
{
	struct json_object *d = example_doc();
	jset(d, "", "location", json_object_new_string("westeurope"));
	jset(d, "", "tags", jparse("{\"team\": \"infra\", \"env\": \"prod\"}"));
	struct spec_group *g = NULL;
	CHECK(spec_from_json(d, &g, NULL, NULL) == 0 && g);
	json_object_put(d);
	if (!g)
		return;
	CHECK(str_eq(g->location, "westeurope") && g->n_tags == 2);
	CHECK(str_eq(g->tags[0].key, "team") && str_eq(g->tags[0].value, "infra"));
	struct json_object *red = spec_to_json(g, SPEC_REDACT);
	struct json_object *full = spec_to_json(g, SPEC_WITH_SECRETS);
	CHECK(red && full);
	const char *rtext = json_object_to_json_string_ext(red, JSON_C_TO_STRING_PRETTY);
	CHECK(strstr(rtext, "s3cret") == NULL);
	CHECK(strstr(rtext, "secureValue") == NULL);
	struct json_object *tok = jget(red, EV0 "[1]");
	CHECK(tok && json_object_object_length(tok) == 1 &&
	      str_eq(json_object_get_string(jget(tok, "name")), "TOKEN"));
	CHECK(str_eq(json_object_get_string(jget(red, EV0 "[0].value")), "hi"));
	CHECK(str_eq(json_object_get_string(jget(red, "properties.restartPolicy")), "Never"));
	CHECK(str_eq(json_object_get_string(jget(red, "properties.osType")), "Linux"));
	CHECK(json_object_get_double(jget(red, RQ0 ".memoryInGB")) == 0.5);

	/* Full round trip, also through text. */
	CHECK(str_eq(json_object_get_string(jget(full, EV0 "[1].secureValue")), "s3cret"));
	const char *ftext = json_object_to_json_string_ext(full, JSON_C_TO_STRING_PLAIN);
	struct spec_group *back = NULL;
	struct spec_warnings w = {0};
	struct capsid_error err = {0};
	CHECK(spec_parse(ftext, strlen(ftext), &back, &w, &err) == 0 && back && w.n == 0);
	CHECK(back && group_equal(g, back));
	spec_free(back);

	/* The redacted text is not a valid user spec... */
	back = NULL;
	CHECK(spec_parse(rtext, strlen(rtext), &back, NULL, &err) == -EINVAL && !back);
	CHECK(!strcmp(err.msg, EV0 "[1]: exactly one of value or secureValue must be set"));
	/* ...but reads back as a stored one, marking the variable secure. */
	CHECK(spec_parse_ex(rtext, strlen(rtext), SPEC_PARSE_REDACTED, &back, &w, &err) == 0 && back);
	if (back) {
		CHECK(w.n == 0);
		CHECK(back->containers[0].env[1].secure && back->containers[0].env[1].value == NULL);
		CHECK(str_eq(back->containers[0].env[0].value, "hi"));
		struct json_object *again = spec_to_json(back, SPEC_WITH_SECRETS);
		CHECK(again && !strcmp(json_object_to_json_string(again), json_object_to_json_string(red)));
		json_object_put(again);
	}
	spec_free(back);

	CHECK(str_eq(json_object_get_string(jget(red, "tags.env")), "prod"));
	CHECK(str_eq(json_object_get_string(jget(red, "location")), "westeurope"));
	json_object_put(red);
	json_object_put(full);
	spec_free(g);
	spec_free(NULL);
	CHECK(spec_to_json(NULL, SPEC_REDACT) == NULL);
}

/* Whole texts and the exact error expected. */
static const struct text_case {
	const char *text, *msg;
} text_cases[] = {
    {"- a\n- b\n", "the document must be an object, not an array"},
    {"just a string\n", "the document must be an object, not a string"},
    {"---\n", "the document must be an object, not null"},
    {"# only a comment\n", "empty document"},
    {" \n\t\n", "empty document"},
    {"", "empty document"},
    /* YAML features the parser refuses */
    {"name: &n hello\nproperties: {}\n", "YAML line 1, column 7: YAML anchors are not supported"},
    {"base: &b {cpu: 1}\n", "YAML line 1, column 7: YAML anchors are not supported"},
    {"name: *n\n", "YAML line 1, column 7: YAML aliases are not supported"},
    {"a: 1\n<<: *b\n", "YAML line 2, column 5: YAML aliases are not supported"},
    {"name: a\n---\nname: b\n", "YAML line 2, column 1: more than one YAML document ('---') in the input"},
    {"name: a\nname: b\n", "YAML line 2, column 1: duplicate key \"name\""},
    {"? [a, b]\n: c\n", "YAML line 1, column 3: complex mapping keys are not supported"},
    {"name: !custom x\n",
     "YAML line 1, column 7: unsupported YAML tag (only !!str, !!int, !!float, !!bool, !!null)"},
    {"name: !!int abc\n", "YAML line 1, column 7: scalar does not match its tag"},
    {"name: 99999999999999999999\n", "YAML line 1, column 7: integer out of range"},
    /* YAML scalar typing reaches the validator */
    {YAML_C0 "      environmentVariables: [{name: PORT, value: 8080}]\n",
     EV0 "[0].value: must be a string, not a number (quote it in YAML)"},
    {YAML_C0 "      resources: {requests: {cpu: \"one\", memoryInGB: 1}}\n",
     RQ0 ".cpu: must be a number, not a string"},
    {YAML_C0 "      resources: {requests: {cpu: .nan, memoryInGB: 1}}\n", RQ0 ".cpu: must be greater than 0"},
    {YAML_C0 "      resources: {requests: {cpu: .inf, memoryInGB: 1}}\n", RQ0 ".cpu: must be at most 64"},
    {YAML_C0 "      resources: {requests: {cpu: ~, memoryInGB: 1}}\n", RQ0 ".cpu: is required"},
    /* JSON syntax */
    {"{\"name\": \"a\"} x", "JSON syntax error at line 1, column 15: unexpected character"},
    {"{\"name\": \"a\"}\n\n {}", "JSON syntax error at line 3, column 2: unexpected character"},
    {"{\"name\":", "JSON syntax error: unexpected end of input"},
    {"{\n  \"name\": tru }", "JSON syntax error at line 2, column 14: boolean expected"},
};

static void test_text_errors(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(text_cases); i++)
		expect_error("text_cases", (int)i, text_cases[i].text, NULL, text_cases[i].msg);
}

int main(void)
{
	RUN_TEST(test_example_yaml_equals_json);
	RUN_TEST(test_defaults);
	RUN_TEST(test_field_rules);
	RUN_TEST(test_yaml_scalars);
	RUN_TEST(test_names);
	RUN_TEST(test_container_count_and_totals);
	RUN_TEST(test_resource_rule);
	RUN_TEST(test_unknown_field_warnings);
	RUN_TEST(test_stdio_flags);
	RUN_TEST(test_redaction_and_round_trip);
	RUN_TEST(test_text_errors);
	TEST_EXIT();
}
