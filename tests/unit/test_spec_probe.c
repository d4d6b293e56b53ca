/* livenessProbe / readinessProbe: ACI's shape parsed with Kubernetes'
 * defaults, serialised back and read again the same, and every bad field
 * refused with its exact path. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec.h"
#include "testlib.h"

static const char yaml[] = "name: probes\n"
			   "properties:\n"
			   "  containers:\n"
			   "  - name: web\n"
			   "    properties:\n"
			   "      image: busybox\n"
			   "      resources: {requests: {cpu: 1, memoryInGB: 0.5}}\n"
			   "      livenessProbe:\n"
			   "        httpGet:\n"
			   "          path: /healthz\n"
			   "          port: '8080'\n"
			   "          scheme: HTTP\n"
			   "          httpHeaders: [{name: X-Probe, value: yes please}]\n"
			   "        initialDelaySeconds: 2\n"
			   "        periodSeconds: 3\n"
			   "        failureThreshold: 4\n"
			   "        timeoutSeconds: 5\n"
			   "      readinessProbe:\n"
			   "        exec: {command: [cat, /tmp/ready]}\n"
			   "        successThreshold: 2\n";

static void check_group(const struct spec_group *g)
{
	const struct spec_probe *l = g->containers[0].liveness_probe, *r = g->containers[0].readiness_probe;
	CHECK(l && r);
	if (!l || !r)
		return;
	CHECK(l->kind == SPEC_PROBE_HTTP_GET && !strcmp(l->http_path, "/healthz") && l->http_port == 8080);
	CHECK(l->n_http_headers == 1 && !strcmp(l->http_headers[0].name, "X-Probe") &&
	      !strcmp(l->http_headers[0].value, "yes please"));
	CHECK(l->initial_delay_s == 2 && l->period_s == 3 && l->failure_threshold == 4 && l->timeout_s == 5 &&
	      l->success_threshold == 1);
	CHECK(r->kind == SPEC_PROBE_EXEC && r->n_exec_command == 2 && !strcmp(r->exec_command[0], "cat"));
	CHECK(r->period_s == 10 && r->timeout_s == 1 && r->failure_threshold == 3 && r->success_threshold == 2 &&
	      r->initial_delay_s == 0);
}

static void test_round_trip(void)
{
	struct capsid_error err = {0};
	_cleanup_spec_ struct spec_group *g = NULL;
	CHECK(spec_parse(yaml, strlen(yaml), &g, NULL, &err) == 0);
	if (!g) {
		fprintf(stderr, "%s\n", err.msg);
		return;
	}
	check_group(g);
	_cleanup_json_ struct json_object *j = spec_to_json(g, SPEC_REDACT);
	const char *text = json_object_to_json_string(j);
	CHECK_STR_CONTAINS(text, "\"livenessProbe\"");
	CHECK_STR_CONTAINS(text, "\"scheme\": \"http\"");
	_cleanup_spec_ struct spec_group *g2 = NULL;
	CHECK(spec_parse(text, strlen(text), &g2, NULL, &err) == 0);
	if (g2)
		check_group(g2);
	/* An httpGet without a path probes "/". */
	const char *nopath = "name: p\nproperties:\n  containers:\n  - name: c\n    properties:\n"
			     "      image: busybox\n      resources: {requests: {cpu: 1, memoryInGB: 1}}\n"
			     "      readinessProbe: {httpGet: {port: 80}}\n";
	_cleanup_spec_ struct spec_group *g3 = NULL;
	CHECK(spec_parse(nopath, strlen(nopath), &g3, NULL, &err) == 0);
	CHECK(g3 && !strcmp(g3->containers[0].readiness_probe->http_path, "/"));
}

static void expect_error(const char *probe, const char *want)
{
	char doc[2048];
	snprintf(doc, sizeof(doc),
		 "name: bad\nproperties:\n  containers:\n  - name: c\n    properties:\n"
		 "      image: busybox\n      resources: {requests: {cpu: 1, memoryInGB: 1}}\n%s",
		 probe);
	struct capsid_error err = {0};
	_cleanup_spec_ struct spec_group *g = NULL;
	CHECK(spec_parse(doc, strlen(doc), &g, NULL, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, want);
	CHECK(!g);
}

#define P "properties.containers[0].properties."

static void test_errors(void)
{
	expect_error("      livenessProbe: {periodSeconds: 1}\n",
		     P "livenessProbe: exactly one of exec or httpGet must be set");
	expect_error("      livenessProbe: {exec: {command: [a]}, httpGet: {port: 80}}\n",
		     P "livenessProbe: exactly one of exec or httpGet must be set");
	expect_error("      livenessProbe: [1]\n", P "livenessProbe: must be an object");
	expect_error("      livenessProbe: {exec: {command: []}}\n", P "livenessProbe.exec.command: must not be empty");
	expect_error("      livenessProbe: {exec: {}}\n", P "livenessProbe.exec.command: is required");
	expect_error("      livenessProbe: {exec: {command: ['']}}\n",
		     P "livenessProbe.exec.command[0]: must not be empty");
	expect_error("      readinessProbe: {httpGet: {path: /}}\n", P "readinessProbe.httpGet.port: is required");
	expect_error("      readinessProbe: {httpGet: {port: 70000}}\n",
		     P "readinessProbe.httpGet.port: must be a whole number from 1 to 65535");
	expect_error("      readinessProbe: {httpGet: {port: 80, path: healthz}}\n",
		     P "readinessProbe.httpGet.path: must start with '/'");
	expect_error("      readinessProbe: {httpGet: {port: 80, path: \"/a b\"}}\n",
		     P "readinessProbe.httpGet.path: at most 1024 characters, without spaces");
	expect_error("      readinessProbe: {httpGet: {port: 80, scheme: https}}\n",
		     P "readinessProbe.httpGet.scheme: https is not supported");
	expect_error("      readinessProbe: {httpGet: {port: 80, scheme: ftp}}\n",
		     P "readinessProbe.httpGet.scheme: unsupported value \"ftp\"");
	expect_error("      readinessProbe: {httpGet: {port: 80, httpHeaders: [{name: \"A:B\", value: x}]}}\n",
		     P "readinessProbe.httpGet.httpHeaders[0].name: must be an HTTP header name");
	expect_error("      readinessProbe: {httpGet: {port: 80, httpHeaders: [{name: A, value: \"x\\ny\"}]}}\n",
		     P "readinessProbe.httpGet.httpHeaders[0].value: at most 1024 characters, without line breaks");
	expect_error("      readinessProbe: {httpGet: {port: 80, httpHeaders: [{name: A}]}}\n",
		     P "readinessProbe.httpGet.httpHeaders[0].value: is required");
	expect_error("      readinessProbe: {exec: {command: [a]}, periodSeconds: 0}\n",
		     P "readinessProbe.periodSeconds: must be a whole number from 1 to 3600");
	expect_error("      readinessProbe: {exec: {command: [a]}, timeoutSeconds: 1.5}\n",
		     P "readinessProbe.timeoutSeconds: must be a whole number from 1 to 3600");
	expect_error("      readinessProbe: {exec: {command: [a]}, initialDelaySeconds: -1}\n",
		     P "readinessProbe.initialDelaySeconds: must be a whole number from 0 to 3600");
	expect_error("      readinessProbe: {exec: {command: [a]}, failureThreshold: 0}\n",
		     P "readinessProbe.failureThreshold: must be a whole number from 1 to 1000");
	expect_error("      livenessProbe: {exec: {command: [a]}, successThreshold: 2}\n",
		     P "livenessProbe.successThreshold: must be 1 for a liveness probe");
	expect_error("      livenessProbe: {exec: {command: [a]}, periodSeconds: often}\n",
		     P "livenessProbe.periodSeconds");
}

int main(void)
{
	RUN_TEST(test_round_trip);
	RUN_TEST(test_errors);
	TEST_EXIT();
}
