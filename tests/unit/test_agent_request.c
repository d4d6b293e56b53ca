/* Agent request validation: every field of every host request is checked
 * (types, ranges, names, counts) and errors name the field. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "request.h"
#include "testlib.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);
	if (!o)
		fprintf(stderr, "bad test JSON: %s\n", s);
	return o;
}

#define CREATE_OK                                                                                            \
	"{\"container\":\"web\",\"stream\":5,\"runtime\":\"crun\",\"image\":{\"serial\":\"img0\","           \
	"\"fstype\":"                                                                                        \
	"\"erofs\"},\"args\":[\"/bin/sh\",\"-c\",\"echo "                                                    \
	"hi\"],\"env\":[\"PATH=/bin\",\"A=b=c\"],\"cwd\":\"/\","                                             \
	"\"user\":\"app:staff\",\"hostname\":\"group-name\",\"tty\":false,\"resources\":{\"memoryBytes\":"   \
	"536870912,\"cpuShares\":1024,\"cpuQuotaUs\":100000,\"cpuPeriodUs\":100000}}"

static void test_create_ok(void)
{
	struct json_object *o = parse(CREATE_OK);
	struct request_create r;
	struct capsid_error err = {0};
	CHECK(request_parse_create(o, &r, &err) == 0);
	CHECK(strcmp(r.container, "web") == 0 && r.stream == 5 && strcmp(r.runtime, "crun") == 0);
	CHECK(strcmp(r.serial, "img0") == 0 && strcmp(r.fstype, "erofs") == 0);
	CHECK(json_object_array_length(r.proc.args) == 3 && json_object_array_length(r.proc.env) == 2);
	CHECK(strcmp(r.proc.user, "app:staff") == 0 && strcmp(r.hostname, "group-name") == 0);
	CHECK(!r.proc.tty && !r.proc.open_stdin);
	CHECK(r.res.memory_bytes == 536870912 && r.res.cpu_shares == 1024 && r.res.cpu_quota_us == 100000 &&
	      r.res.cpu_period_us == 100000);
	json_object_put(o);

	/* Defaults: runtime runc, erofs, cwd /, no resources. */
	o = parse("{\"container\":\"a\",\"stream\":1,\"image\":{\"serial\":\"img0\"},\"args\":[\"true\"]}");
	CHECK(request_parse_create(o, &r, &err) == 0);
	CHECK(strcmp(r.runtime, "runc") == 0 && strcmp(r.fstype, "erofs") == 0 &&
	      strcmp(r.proc.cwd, "/") == 0);
	CHECK(r.proc.user == NULL && r.proc.env == NULL && r.hostname == NULL);
	CHECK(r.res.memory_bytes == -1 && r.res.cpu_shares == -1);
	json_object_put(o);
}

/* Replace one field of CREATE_OK and expect an error naming `needle`. */
static void expect_create_error(const char *key, const char *value_json, const char *needle)
{
	struct json_object *o = parse(CREATE_OK);
	if (value_json)
		json_object_object_add(o, key, parse(value_json));
	else
		json_object_object_del(o, key);
	struct request_create r;
	struct capsid_error err = {0};
	int rc = request_parse_create(o, &r, &err);
	CHECK(rc < 0);
	CHECK_STR_CONTAINS(err.msg, needle);
	json_object_put(o);
}

static void test_create_bad(void)
{
	expect_create_error("container", NULL, "container: missing");
	expect_create_error("container", "\"Web\"", "DNS label");
	expect_create_error("container", "\"-web\"", "DNS label");
	expect_create_error("container", "\"web-\"", "DNS label");
	expect_create_error("container", "\"a_b\"", "DNS label");
	expect_create_error("container",
			    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", /* 64 */
			    "DNS label");
	expect_create_error("container", "7", "container: not a string");
	expect_create_error("stream", "0", "stream: out of range");
	expect_create_error("stream", "4294967296", "stream: out of range");
	expect_create_error("stream", "\"5\"", "stream: not an integer");
	expect_create_error("stream", "99999999999999999999999", "stream");
	expect_create_error("runtime", "\"kata\"", "runtime");
	expect_create_error("image", "\"img0\"", "image: not an object");
	expect_create_error("image", "{\"serial\":\"../x\"}", "image.serial");
	expect_create_error("image", "{\"serial\":\"aaaaaaaaaaaaaaaaaaaaa\"}", "image.serial"); /* 21 */
	expect_create_error("image", "{\"serial\":\"img0\",\"fstype\":\"xfs\"}", "image.fstype");
	expect_create_error("image", "{}", "serial: missing");
	expect_create_error("args", NULL, "args: missing");
	expect_create_error("args", "[]", "args: empty");
	expect_create_error("args", "\"sh\"", "args: not an array");
	expect_create_error("args", "[\"sh\",3]", "args[1]: not a string");
	expect_create_error("args", "[\"a\\u0000b\"]", "args[0]: contains a NUL");
	expect_create_error("env", "[\"NOVALUE\"]", "env[0]: not KEY=value");
	expect_create_error("env", "[\"=x\"]", "env[0]: not KEY=value");
	expect_create_error("cwd", "\"relative\"", "cwd: not an absolute path");
	expect_create_error("tty", "1", "tty: not a boolean");
	expect_create_error("hostname", "\"bad host\"", "hostname");
	expect_create_error("dns", "[\"1.1.1.1; rm\"]", "dns[0]");
	expect_create_error("resources", "{\"memoryBytes\":\"1G\"}",
			    "resources: memoryBytes: not an integer");
	expect_create_error("resources", "{\"memoryBytes\":1024}", "4 MiB");
	expect_create_error("resources", "{\"memoryBytes\":-1}", "memoryBytes: out of range");
	expect_create_error("resources", "{\"cpuShares\":262145}", "cpuShares: out of range");
	expect_create_error("resources", "{\"cpuPeriodUs\":10}", "cpuPeriodUs");
	expect_create_error("resources", "[]", "resources: not an object");
}

static void test_args_limit(void)
{
	struct json_object *o = parse(CREATE_OK);
	struct json_object *args = json_object_new_array();
	for (int i = 0; i < REQUEST_MAX_ARGS + 1; i++)
		json_object_array_add(args, json_object_new_string("x"));
	json_object_object_add(o, "args", args);
	struct request_create r;
	struct capsid_error err = {0};
	CHECK(request_parse_create(o, &r, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "more than 4096");
	json_object_array_del_idx(args, 0, 1);
	CHECK(request_parse_create(o, &r, &err) == 0);
	json_object_put(o);
}

static void test_other_requests(void)
{
	struct capsid_error err = {0};
	struct json_object *o = parse("{\"container\":\"web\",\"stream\":9,\"args\":[\"sh\"],\"tty\":true,"
				      "\"rows\":24,\"cols\":80,\"user\":\"1000\"}");
	struct request_exec x;
	CHECK(request_parse_exec(o, &x, &err) == 0);
	CHECK(x.stream == 9 && x.proc.tty && x.proc.rows == 24 && x.proc.cols == 80 && x.proc.open_stdin);
	json_object_put(o);
	o = parse("{\"container\":\"web\",\"stream\":9,\"args\":[\"sh\"],\"rows\":70000}");
	CHECK(request_parse_exec(o, &x, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "rows");
	json_object_put(o);

	struct request_signal s;
	o = parse("{\"stream\":5,\"signal\":15}");
	CHECK(request_parse_signal(o, &s, &err) == 0 && s.stream == 5 && s.signal == 15);
	json_object_put(o);
	o = parse("{\"stream\":5,\"signal\":0}");
	CHECK(request_parse_signal(o, &s, &err) < 0);
	json_object_put(o);
	o = parse("{\"stream\":5,\"signal\":65}");
	CHECK(request_parse_signal(o, &s, &err) < 0);
	json_object_put(o);

	struct request_resize z;
	o = parse("{\"stream\":9,\"rows\":50,\"cols\":132}");
	CHECK(request_parse_resize(o, &z, &err) == 0 && z.rows == 50 && z.cols == 132);
	json_object_put(o);
	o = parse("{\"stream\":9,\"rows\":0,\"cols\":132}");
	CHECK(request_parse_resize(o, &z, &err) < 0);
	json_object_put(o);

	unsigned v, t;
	o = parse("{\"version\":1}");
	CHECK(request_parse_negotiate(o, &v, &err) == 0 && v == 1);
	json_object_put(o);
	o = parse("{\"version\":2}");
	CHECK(request_parse_negotiate(o, &v, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "version 2");
	json_object_put(o);
	o = parse("{}");
	CHECK(request_parse_shutdown(o, &t, &err) == 0 && t == 5000);
	json_object_put(o);
	o = parse("{\"timeoutMs\":600001}");
	CHECK(request_parse_shutdown(o, &t, &err) < 0);
	json_object_put(o);
	const char *name;
	o = parse("{\"container\":\"ok-1\"}");
	CHECK(request_parse_container(o, &name, &err) == 0 && strcmp(name, "ok-1") == 0);
	json_object_put(o);
}

static void test_names(void)
{
	CHECK(request_valid_name("a"));
	CHECK(request_valid_name("web-1"));
	CHECK(!request_valid_name(""));
	CHECK(!request_valid_name("a.b"));
	CHECK(!request_valid_name("A"));
	CHECK(request_valid_hostname("group-name.example"));
	CHECK(!request_valid_hostname("a..b"));
	CHECK(!request_valid_hostname(".a"));
	CHECK(!request_valid_hostname("a b"));
}

int main(void)
{
	RUN_TEST(test_create_ok);
	RUN_TEST(test_create_bad);
	RUN_TEST(test_args_limit);
	RUN_TEST(test_other_requests);
	RUN_TEST(test_names);
	TEST_EXIT();
}
