/* Spec parser, hostile input: garbage, truncation, deep nesting and oversize fail cleanly (no group, no
 * warnings, a message without the secret), and files are read safely. */
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

/* Parse anything: success hands out a group, failure nothing but a message
 * (without the example's secret). Returns the parse result. */
static int parse_cleanly(const char *text, size_t len)
{
	struct spec_group *g = NULL;
	struct spec_warnings w = {0};
	struct capsid_error err = {0};
	int rc = spec_parse(text, len, &g, &w, &err);
	CHECK(rc == 0 ? g != NULL : (g == NULL && w.n == 0 && err.msg[0] && !strstr(err.msg, "s3cret")));
	spec_free(g);
	spec_warnings_free(&w);
	return rc;
}

static void test_garbage_and_truncation(void)
{
	/* clang-format off */
	static const char *const bad[] = {
		"{", "{\"name\":", "{\"name\": \"a\",}", "{'name': 'a'}", "{\"name\": NaN}", "}", ":", "[", "\"",
		"- - -\n  x: : :", "\x01\x02\x03", "name: [a, b", "a:\n\t- b\n", "\xff\xfe\xfd", "{\"a\": \"\xc3\x28\"}",
		"key: \"unterminated\n",
	};
	/* clang-format on */
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(parse_cleanly(bad[i], strlen(bad[i])) == -EINVAL);
	CHECK(parse_cleanly("name: a\0b", 9) == -EINVAL);

	/* Every prefix of the examples: JSON prefixes never parse; YAML ones
	 * may (cut at a line end), but must fail or succeed cleanly. */
	size_t json_ok = 0, len = strlen(example_json);
	for (size_t n = 0; n < len; n++)
		json_ok += parse_cleanly(example_json, n) == 0 && n < len - 1;
	CHECK(json_ok == 0);
	for (size_t n = 0; n < strlen(example_yaml); n++)
		parse_cleanly(example_yaml, n);

	/* Bytes of the examples overwritten at pseudo-random places. */
	uint32_t seed = 12345;
	for (int round = 0; round < 2000; round++) {
		const char *src = round % 2 ? example_json : example_yaml;
		char buf[sizeof(example_json) + sizeof(example_yaml)];
		len = strlen(src);
		memcpy(buf, src, len);
		for (int k = 0; k < 1 + round % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[(seed >> 8) % len] = (char)(seed >> 20);
		}
		parse_cleanly(buf, len);
	}
}

/* A valid document with `extra` nested `depth` levels deep in total (the
 * top-level object counts as one). */
static char *nested_doc(bool json, int depth)
{
	char *s = malloc((size_t)depth * 2 + 512);
	size_t o;
	if (json) {
		o = strlen(minimal_json) - 1; /* without the closing brace */
		memcpy(s, minimal_json, o);
		o += (size_t)sprintf(s + o, ", \"extra\": ");
	} else {
		o = (size_t)sprintf(s,
				    YAML_C0 "      resources: {requests: {cpu: 1, memoryInGB: 1}}\nextra: ");
	}
	for (int i = 1; i < depth; i++)
		s[o++] = '[';
	for (int i = 1; i < depth; i++)
		s[o++] = ']';
	if (json)
		s[o++] = '}';
	s[o++] = '\n';
	s[o] = '\0';
	return s;
}

static void test_deep_nesting(void)
{
	for (int json = 0; json < 2; json++) {
		char *ok = nested_doc(json, SPEC_MAX_DEPTH);
		struct spec_warnings w = {0};
		struct spec_group *g = parse_ok(ok, &w);
		CHECK(g && w.n == 1 && !strcmp(w.items[0], "extra: unknown field, ignored"));
		spec_free(g);
		spec_warnings_free(&w);
		free(ok);
		for (int depth = SPEC_MAX_DEPTH + 1; depth <= 200001; depth += 100000) {
			char *deep = nested_doc(json, depth);
			struct capsid_error err = {0};
			g = NULL;
			CHECK(spec_parse(deep, strlen(deep), &g, NULL, &err) == -EINVAL && !g);
			CHECK_STR_CONTAINS(err.msg,
					   json ? "nesting too deep" : "nesting deeper than 64 levels");
			free(deep);
		}
	}
	/* Deep mappings too, in YAML block style. */
	char *s = malloc(70 * 140);
	size_t o = 0;
	for (int i = 0; i < 70; i++)
		o += (size_t)sprintf(s + o, "%*sk%d:\n", i * 2, "", i);
	struct spec_group *g = NULL;
	struct capsid_error err = {0};
	CHECK(spec_parse(s, o, &g, NULL, &err) == -EINVAL && !g);
	CHECK_STR_CONTAINS(err.msg, "nesting deeper than 64 levels");
	free(s);
}

static bool write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void test_size_cap_and_files(void)
{
	/* Exactly 1 MiB (the example padded with a YAML comment) is accepted,
	 * one byte more is not, from a buffer or from a file. */
	size_t cap = SPEC_MAX_INPUT, n = strlen(example_yaml);
	char *big = malloc(cap + 1);
	memcpy(big, example_yaml, n);
	memset(big + n, '#', cap + 1 - n);
	big[cap - 1] = big[cap] = '\n';
	char dir[] = "/tmp/test_spec.XXXXXX", path[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/group.json", dir);
	struct spec_group *g = NULL;
	struct capsid_error err = {0};
	for (size_t len = cap; len <= cap + 1; len++) {
		int rc = spec_parse(big, len, &g, NULL, &err);
		CHECK(len == cap ? rc == 0 && g : rc == -EFBIG && !g && strstr(err.msg, "larger than"));
		spec_free(g);
		CHECK(write_file(path, big, len));
		rc = spec_parse_file(path, &g, NULL, &err);
		CHECK(len == cap ? rc == 0 && g : rc == -EFBIG && !g);
		spec_free(g);
	}
	/* YAML in a file named .json: the content decides the format. */
	CHECK(write_file(path, example_yaml, n));
	CHECK(spec_parse_file(path, &g, NULL, &err) == 0 && g && str_eq(g->name, "hello"));
	spec_free(g);
	unlink(path);
	CHECK(spec_parse_file(path, &g, NULL, &err) == -ENOENT && !g);
	CHECK(!strcmp(err.msg, "cannot read the spec: No such file or directory"));
	CHECK(spec_parse_file(dir, &g, NULL, &err) == -EISDIR && !g);
	rmdir(dir);
	free(big);
}

int main(void)
{
	RUN_TEST(test_garbage_and_truncation);
	RUN_TEST(test_deep_nesting);
	RUN_TEST(test_size_cap_and_files);
	TEST_EXIT();
}
