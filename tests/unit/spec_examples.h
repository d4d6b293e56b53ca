/* The unit tests of the spec parser share these: ACI's example in YAML and
 * in JSON (a secure value among its variables), the smallest valid JSON,
 * the smallest YAML with one container, a parse that must succeed, and a
 * string comparison that takes NULLs. */
#ifndef CAPSID_TEST_SPEC_EXAMPLES_H
#define CAPSID_TEST_SPEC_EXAMPLES_H

#include <stdio.h>
#include <string.h>

#include "spec.h"
#include "testlib.h"

static const char example_yaml[] =
    "apiVersion: 2021-10-01\n"
    "name: hello\n"
    "properties:\n"
    "  osType: Linux\n"
    "  restartPolicy: Never            # Always (default) | OnFailure | Never\n"
    "  containers:\n"
    "  - name: hello\n"
    "    properties:\n"
    "      image: capsid/demo:latest\n"
    "      command: [\"/bin/sh\", \"-c\", \"echo hello from $(uname -r)\"]\n"
    "      environmentVariables:\n"
    "      - name: GREETING\n"
    "        value: hi\n"
    "      - name: TOKEN\n"
    "        secureValue: s3cret\n"
    "      resources:\n"
    "        requests: {cpu: 1, memoryInGB: 0.5}\n"
    "        limits: {cpu: 1, memoryInGB: 0.5}\n";

static const char example_json[] =
    "{\"apiVersion\": \"2021-10-01\", \"name\": \"hello\",\n"
    " \"properties\": {\"osType\": \"Linux\", \"restartPolicy\": \"Never\", \"containers\": [\n"
    "  {\"name\": \"hello\", \"properties\": {\"image\": \"capsid/demo:latest\",\n"
    "   \"command\": [\"/bin/sh\", \"-c\", \"echo hello from $(uname -r)\"],\n"
    "   \"environmentVariables\": [{\"name\": \"GREETING\", \"value\": \"hi\"},\n"
    "                            {\"name\": \"TOKEN\", \"secureValue\": \"s3cret\"}],\n"
    "   \"resources\": {\"requests\": {\"cpu\": 1, \"memoryInGB\": 0.5},\n"
    "                 \"limits\": {\"cpu\": 1, \"memoryInGB\": 0.5}}}}]}}\n";

/* Smallest valid document: every optional field left out. */
static const char minimal_json[] = "{\"name\": \"min\", \"properties\": {\"containers\": [{\"name\": \"c\", "
				   "\"properties\": {\"image\": \"busybox\", \"resources\": {\"requests\": "
				   "{\"cpu\": 0.5, \"memoryInGB\": 0.25}}}}]}}";

#define YAML_C0 "name: a\nproperties:\n  containers:\n  - name: c\n    properties:\n      image: x\n"

static struct spec_group *parse_ok(const char *text, struct spec_warnings *warn)
{
	struct spec_group *g = NULL;
	struct capsid_error err = {0};
	int rc = spec_parse(text, strlen(text), &g, warn, &err);
	CHECK(rc == 0);
	if (rc < 0)
		fprintf(stderr, "  unexpected error: %s\n", err.msg);
	return g;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

#endif
