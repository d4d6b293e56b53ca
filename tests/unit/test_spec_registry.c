/* properties.imageRegistryCredentials: parsed from YAML and JSON, every
 * rule fails with its field path, the password stays out of messages and of
 * redacted output (`show`, the stored spec), redacted specs read back, and
 * the full round trip keeps it. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec.h"
#include "testlib.h"

#define PASS "p@ss-must-not-leak"

static const char yaml[] = "name: creds\n"
			   "properties:\n"
			   "  imageRegistryCredentials:\n"
			   "  - {server: myreg.azurecr.io, username: app, password: \"" PASS "\"}\n"
			   "  - server: https://index.docker.io/v1/\n"
			   "    username: someone\n"
			   "    password: other-secret\n"
			   "  containers:\n"
			   "  - name: app\n"
			   "    properties:\n"
			   "      image: myreg.azurecr.io/app:v2\n"
			   "      resources: {requests: {cpu: 1, memoryInGB: 1}}\n";

static char *with_creds(const char *creds)
{
	char *out = NULL;
	if (asprintf(&out,
		     "{\"name\":\"c\",\"properties\":{\"imageRegistryCredentials\":%s,\"containers\":[{"
		     "\"name\":\"a\","
		     "\"properties\":{\"image\":\"x\",\"resources\":{\"requests\":{\"cpu\":1,\"memoryInGB\":"
		     "1}}}}]}}",
		     creds) < 0)
		abort();
	return out;
}

static void test_parse_and_redact(void)
{
	struct spec_group *g = NULL;
	struct capsid_error err = {0};
	CHECK(spec_parse(yaml, strlen(yaml), &g, NULL, &err) == 0);
	if (!g) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	CHECK(g->n_registry_credentials == 2);
	CHECK(!strcmp(g->registry_credentials[0].server, "myreg.azurecr.io"));
	CHECK(!strcmp(g->registry_credentials[0].username, "app"));
	CHECK(!strcmp(g->registry_credentials[0].password, PASS));

	_cleanup_json_ struct json_object *red = spec_to_json(g, SPEC_REDACT);
	const char *text = json_object_to_json_string(red);
	CHECK(strstr(text, "imageRegistryCredentials") && strstr(text, "myreg.azurecr.io") &&
	      strstr(text, "\"app\""));
	CHECK(!strstr(text, PASS) && !strstr(text, "other-secret") && !strstr(text, "password"));
	/* A redacted spec reads back only as such. */
	struct spec_group *back = NULL;
	CHECK(spec_from_json(red, &back, NULL, &err) < 0);
	CHECK_STR_CONTAINS(err.msg, "properties.imageRegistryCredentials[0].password: required");
	CHECK(spec_from_json_ex(red, SPEC_PARSE_REDACTED, &back, NULL, &err) == 0);
	CHECK(back && back->n_registry_credentials == 2 && !back->registry_credentials[0].password);
	spec_free(back);

	_cleanup_json_ struct json_object *full = spec_to_json(g, SPEC_WITH_SECRETS);
	back = NULL;
	CHECK(spec_from_json(full, &back, NULL, &err) == 0);
	CHECK(back && !strcmp(back->registry_credentials[1].password, "other-secret"));
	spec_free(back);
	spec_free(g);
}

static void expect_error(const char *creds, const char *want)
{
	char *text = with_creds(creds);
	struct spec_group *g = NULL;
	struct capsid_error err = {0};
	CHECK(spec_parse(text, strlen(text), &g, NULL, &err) < 0 && !g);
	CHECK_STR_CONTAINS(err.msg, want);
	CHECK(!strstr(err.msg, PASS));
	spec_free(g);
	free(text);
}

static void test_rules(void)
{
	expect_error("{}", "properties.imageRegistryCredentials: must be an array");
	expect_error("[1]", "properties.imageRegistryCredentials[0]: must be an object");
	expect_error("[{\"username\":\"u\",\"password\":\"" PASS "\"}]",
		     "properties.imageRegistryCredentials[0].server");
	expect_error("[{\"server\":\"r.io\",\"password\":\"" PASS "\"}]",
		     "properties.imageRegistryCredentials[0].username");
	expect_error("[{\"server\":\"r.io\",\"username\":\"u\"}]",
		     "properties.imageRegistryCredentials[0].password: required");
	expect_error("[{\"server\":\"r.io\",\"username\":\"u\",\"password\":\"\"}]",
		     "properties.imageRegistryCredentials[0].password: must be 1-");
	expect_error("[{\"server\":\"r.io\",\"username\":\"u\",\"password\":\"" PASS "\\n\"}]",
		     "properties.imageRegistryCredentials[0].password: must be 1-");
	expect_error("[{\"server\":\"r.io\",\"username\":\"u\",\"password\":7}]",
		     "properties.imageRegistryCredentials[0].password: must be a string");
	expect_error("[{\"server\":\"r .io\",\"username\":\"u\",\"password\":\"" PASS "\"}]",
		     "properties.imageRegistryCredentials[0].server: must be a registry host name");
	expect_error("[{\"server\":\"r.io\",\"username\":\"a:b\",\"password\":\"" PASS "\"}]",
		     "properties.imageRegistryCredentials[0].username: must be 1-");
	expect_error("[{\"server\":\"r.io\",\"username\":\"u\",\"password\":\"" PASS "\"},"
		     "{\"server\":\"R.IO\",\"username\":\"v\",\"password\":\"" PASS "\"}]",
		     "properties.imageRegistryCredentials[1].server: R.IO is listed twice");
}

int main(void)
{
	RUN_TEST(test_parse_and_redact);
	RUN_TEST(test_rules);
	TEST_EXIT();
}
