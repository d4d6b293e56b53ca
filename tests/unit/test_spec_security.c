/* securityContext (ACI 2023-05-01): parsed, capability names made
 * canonical, serialised back and read again the same, bad fields refused
 * with their paths. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec.h"
#include "testlib.h"

/* base64 of {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["socket"],"action":"SCMP_ACT_ERRNO",
 * "args":[{"index":0,"value":10,"op":"SCMP_CMP_EQ"}]}]} */
#define PROFILE                                                                                              \
	"eyJkZWZhdWx0QWN0aW9uIjoiU0NNUF9BQ1RfQUxMT1ciLCJzeXNjYWxscyI6W3sibmFtZXMiOlsic29ja2V0Il0sImFjdGlvbiI6" \
	"IlNDTVBfQUNUX0VSUk5PIiwiYXJncyI6W3siaW5kZXgiOjAsInZhbHVlIjoxMCwib3AiOiJTQ01QX0NNUF9FUSJ9XX1dfQ=="

static const char yaml[] = "name: sec\n"
			   "properties:\n"
			   "  containers:\n"
			   "  - name: app\n"
			   "    properties:\n"
			   "      image: busybox\n"
			   "      resources: {requests: {cpu: 1, memoryInGB: 0.5}}\n"
			   "      securityContext:\n"
			   "        privileged: false\n"
			   "        allowPrivilegeEscalation: 'false'\n"
			   "        capabilities: {add: [cap_net_admin, SYS_TIME], drop: [ALL]}\n"
			   "        runAsUser: 1000\n"
			   "        runAsGroup: '1001'\n"
			   "        seccompProfile: " PROFILE "\n";

static void check_group(const struct spec_group *g)
{
	const struct spec_security *s = g->containers[0].security;
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK(!s->privileged && s->has_allow_privilege_escalation && !s->allow_privilege_escalation);
	CHECK(s->n_cap_add == 2 && !strcmp(s->cap_add[0], "NET_ADMIN") && !strcmp(s->cap_add[1], "SYS_TIME"));
	CHECK(s->n_cap_drop == 1 && !strcmp(s->cap_drop[0], "ALL"));
	CHECK(s->run_as_user == 1000 && s->run_as_group == 1001);
	CHECK(s->seccomp_profile && !strcmp(s->seccomp_profile, PROFILE));
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
	_cleanup_spec_ struct spec_group *g2 = NULL;
	CHECK(spec_parse(text, strlen(text), &g2, NULL, &err) == 0);
	if (g2)
		check_group(g2);
	/* Absent: no context, defaults apply in the guest. */
	const char *plain = "name: p\nproperties:\n  containers:\n  - name: c\n    properties:\n"
			    "      image: busybox\n      resources: {requests: {cpu: 1, memoryInGB: 1}}\n"
			    "      securityContext: {privileged: true}\n";
	_cleanup_spec_ struct spec_group *g3 = NULL;
	CHECK(spec_parse(plain, strlen(plain), &g3, NULL, &err) == 0);
	CHECK(g3 && g3->containers[0].security->privileged && g3->containers[0].security->run_as_user == -1);
}

static void expect_error(const char *sc, const char *want)
{
	char doc[2048];
	snprintf(doc, sizeof(doc),
		 "name: bad\nproperties:\n  containers:\n  - name: c\n    properties:\n"
		 "      image: busybox\n      resources: {requests: {cpu: 1, memoryInGB: 1}}\n"
		 "      securityContext: %s\n",
		 sc);
	struct capsid_error err = {0};
	_cleanup_spec_ struct spec_group *g = NULL;
	CHECK(spec_parse(doc, strlen(doc), &g, NULL, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, want);
	CHECK(!g);
}

#define P "properties.containers[0].properties.securityContext."

static void test_errors(void)
{
	expect_error("{privileged: maybe}", P "privileged: must be a boolean");
	expect_error("{capabilities: {add: [CAP_FLY]}}", P "capabilities.add[0]: unknown capability \"CAP_FLY\"");
	expect_error("{capabilities: {drop: NET_RAW}}", P "capabilities.drop: must be an array");
	expect_error("{runAsUser: -1}", P "runAsUser: must be a whole number from 0 to 4294967294");
	expect_error("{runAsGroup: 1.5}", P "runAsGroup: must be a whole number");
	expect_error("{seccompProfile: '%%%'}", P "seccompProfile: not valid base64");
	/* base64 of "[1]" */
	expect_error("{seccompProfile: WzFd}", P "seccompProfile: the decoded profile is not a JSON object");
	/* base64 of {"syscalls":[]} */
	expect_error("{seccompProfile: eyJzeXNjYWxscyI6W119}", P "seccompProfile: the profile needs a defaultAction");
	/* argument conditions: an unknown operator, an argument past the sixth */
	expect_error("{seccompProfile: eyJkZWZhdWx0QWN0aW9uIjoiU0NNUF9BQ1RfQUxMT1ciLCJzeXNjYWxscyI6W3sibmFtZXMiOlsic29ja2V0Il0sImFjdGlvbiI6IlNDTVBfQUNUX0VSUk5PIiwiYXJncyI6W3siaW5kZXgiOjAsInZhbHVlIjoxMCwib3AiOiJTQ01QX0NNUF9JTiJ9XX1dfQ==}",
		     P "seccompProfile: the profile's syscalls[0].args[0].op: \"SCMP_CMP_IN\" is unknown");
	expect_error("{seccompProfile: eyJkZWZhdWx0QWN0aW9uIjoiU0NNUF9BQ1RfQUxMT1ciLCJzeXNjYWxscyI6W3sibmFtZXMiOlsic29ja2V0Il0sImFjdGlvbiI6IlNDTVBfQUNUX0VSUk5PIiwiYXJncyI6W3siaW5kZXgiOjcsInZhbHVlIjoxMCwib3AiOiJTQ01QX0NNUF9FUSJ9XX1dfQ==}",
		     P "seccompProfile: the profile's syscalls[0].args[0].index: 7 is not an argument (0 to 5)");
}

int main(void)
{
	RUN_TEST(test_round_trip);
	RUN_TEST(test_errors);
	TEST_EXIT();
}
