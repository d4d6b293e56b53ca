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

	/* Defaults: the builtin runtime, erofs, cwd /, no resources. */
	o = parse("{\"container\":\"a\",\"stream\":1,\"image\":{\"serial\":\"img0\"},\"args\":[\"true\"]}");
	CHECK(request_parse_create(o, &r, &err) == 0);
	CHECK(strcmp(r.runtime, "builtin") == 0 && strcmp(r.fstype, "erofs") == 0 &&
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
	CHECK(request_parse_negotiate(o, &v, &err) == 0 && v == 2);
	json_object_put(o);
	o = parse("{\"version\":3}");
	CHECK(request_parse_negotiate(o, &v, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "version 3");
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

/* expect_error PARSER(body) fails with a message containing want. */
#define EXPECT_BAD(call, want)                                                                               \
	do {                                                                                                     \
		memset(&err, 0, sizeof(err));                                                                        \
		CHECK((call) < 0);                                                                                   \
		CHECK_STR_CONTAINS(err.msg, want);                                                                   \
	} while (0)

static void test_volumes(void)
{
	struct capsid_error err = {0};
	struct request_volume v[REQUEST_MAX_VOLUMES];
	size_t n = 0;
	struct json_object *o = parse(
	    "{\"volumes\":[{\"name\":\"cache\",\"kind\":\"emptyDir\"},"
	    "{\"name\":\"creds\",\"kind\":\"secret\",\"files\":{\"token\":\"YQ==\"}},"
	    "{\"name\":\"files\",\"kind\":\"cifs\",\"server\":\"10.88.0.1\",\"share\":\"data\","
	    "\"username\":\"acct1\",\"password\":\"k,e=y\",\"readOnly\":true},"
	    "{\"name\":\"src\",\"kind\":\"disk\",\"serial\":\"vol3\",\"fstype\":\"erofs\"}]}");
	CHECK(request_parse_volumes(o, v, &n, &err) == 0 && n == 4);
	CHECK(v[0].kind == REQUEST_VOLUME_EMPTY_DIR && v[1].kind == REQUEST_VOLUME_SECRET);
	CHECK(v[2].kind == REQUEST_VOLUME_CIFS && v[2].read_only && strcmp(v[2].password, "k,e=y") == 0);
	CHECK(v[3].kind == REQUEST_VOLUME_DISK && strcmp(v[3].serial, "vol3") == 0);
	json_object_put(o);

	static const struct {
		const char *body, *want;
	} bad[] = {
	    {"{}", "volumes: missing"},
	    {"{\"volumes\":[{\"name\":\"a\",\"kind\":\"nfs\"}]}",
	     "volumes[0]: kind: \"nfs\" is not emptyDir, secret, cifs or disk"},
	    {"{\"volumes\":[{\"name\":\"s\",\"kind\":\"secret\"}]}", "volumes[0]: files: missing"},
	    {"{\"volumes\":[{\"name\":\"d\",\"kind\":\"disk\",\"serial\":\"../x\",\"fstype\":\"ext4\"}]}",
	     "volumes[0]: serial"},
	    {"{\"volumes\":[{\"name\":\"A\",\"kind\":\"emptyDir\"}]}", "volumes[0]: name"},
	    {"{\"volumes\":[{\"name\":\"a\",\"kind\":\"emptyDir\"},{\"name\":\"a\",\"kind\":\"emptyDir\"}]}",
	     "volumes[1].name"},
	    {"{\"volumes\":[{\"name\":\"s\",\"kind\":\"secret\",\"files\":{\"../x\":\"YQ==\"}}]}",
	     "plain file name"},
	    {"{\"volumes\":[{\"name\":\"f\",\"kind\":\"cifs\",\"server\":\"host.example\",\"share\":\"d\","
	     "\"username\":\"u\",\"password\":\"p\"}]}",
	     "server: not an IPv4 address"},
	    {"{\"volumes\":[{\"name\":\"f\",\"kind\":\"cifs\",\"server\":\"10.0.0.1\",\"share\":\"d/e\","
	     "\"username\":\"u\",\"password\":\"p\"}]}",
	     "separator"},
	    {"{\"volumes\":[{\"name\":\"d\",\"kind\":\"disk\",\"serial\":\"vol0\",\"fstype\":\"xfs\"}]}",
	     "fstype"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = parse(bad[i].body);
		EXPECT_BAD(request_parse_volumes(o, v, &n, &err), bad[i].want);
		json_object_put(o);
	}
}

static void test_mounts(void)
{
	struct capsid_error err = {0};
	struct request_create r;
	struct json_object *o = parse(CREATE_OK);
	struct json_object *mounts = parse("[{\"volume\":\"cache\",\"destination\":\"/data\",\"readOnly\":true}]");
	json_object_object_add(o, "mounts", mounts);
	CHECK(request_parse_create(o, &r, &err) == 0 && r.n_mounts == 1 && r.mounts[0].read_only);
	static const char *const bad[][2] = {
	    {"[{\"volume\":\"cache\",\"destination\":\"data\"}]", "mounts[0].destination"},
	    {"[{\"volume\":\"cache\",\"destination\":\"/\"}]", "mounts[0].destination"},
	    {"[{\"volume\":\"cache\",\"destination\":\"/a/../b\"}]", "mounts[0].destination"},
	    {"[{\"volume\":\"cache\",\"destination\":\"/a\"},{\"volume\":\"c\",\"destination\":\"/a\"}]",
	     "mounts[1].destination: mounted twice"},
	    {"[{\"volume\":\"Cache\",\"destination\":\"/a\"}]", "mounts[0].volume"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object_object_add(o, "mounts", parse(bad[i][0]));
		EXPECT_BAD(request_parse_create(o, &r, &err), bad[i][1]);
	}
	json_object_put(o);
}

static void test_identity(void)
{
	struct capsid_error err = {0};
	struct request_identity id;
	/* 32 bytes of entropy */
	struct json_object *o = parse("{\"timeNs\":1795451395000000000,\"entropy\":"
				      "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"hostname\":\"web\"}");
	CHECK(request_parse_identity(o, &id, &err) == 0 && id.entropy_len == 32 && id.entropy[31] == 31);
	CHECK(id.time_ns == 1795451395000000000 && strcmp(id.hostname, "web") == 0);
	json_object_put(o);
	static const char *const bad[] = {
	    "{\"timeNs\":0,\"entropy\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"hostname\":\"web\"}",
	    "{\"timeNs\":1,\"entropy\":\"AAEC\",\"hostname\":\"web\"}",
	    "{\"timeNs\":1,\"entropy\":\"!!!!\",\"hostname\":\"web\"}",
	    "{\"timeNs\":1,\"entropy\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\"hostname\":\"a b\"}",
	    "{\"timeNs\":1,\"hostname\":\"web\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = parse(bad[i]);
		memset(&err, 0, sizeof(err));
		CHECK(request_parse_identity(o, &id, &err) < 0 && err.msg[0]);
		json_object_put(o);
	}
}

int main(void)
{
	RUN_TEST(test_volumes);
	RUN_TEST(test_mounts);
	RUN_TEST(test_identity);
	RUN_TEST(test_create_ok);
	RUN_TEST(test_create_bad);
	RUN_TEST(test_args_limit);
	RUN_TEST(test_other_requests);
	RUN_TEST(test_names);
	TEST_EXIT();
}
