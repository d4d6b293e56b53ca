/* Spec networking fields: ipAddress, containers[].properties.ports,
 * dnsConfig and subnetIds parse from YAML and JSON, follow the ACI rules
 * (group ports declared by a container, no duplicate ports across
 * containers, no port mapping, Private in a subnet) with exact field
 * paths in every error, and survive the JSON round trip. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "spec.h"
#include "testlib.h"
#include "util.h"

static const char web_yaml[] = "name: shop\n"
			       "properties:\n"
			       "  containers:\n"
			       "  - name: web\n"
			       "    properties:\n"
			       "      image: nginx\n"
			       "      resources: {requests: {cpu: 1, memoryInGB: 1}}\n"
			       "      ports: [{port: 80}, {port: 443, protocol: TCP}]\n"
			       "  - name: dns\n"
			       "    properties:\n"
			       "      image: coredns\n"
			       "      resources: {requests: {cpu: 0.5, memoryInGB: 0.5}}\n"
			       "      ports: [{port: 53, protocol: udp}, {port: 53, protocol: TCP}]\n"
			       "  ipAddress:\n"
			       "    type: public\n"
			       "    ports: [{port: 80}, {port: 53, protocol: UDP}]\n"
			       "    dnsNameLabel: shop\n"
			       "    fqdn: shop.example.test   # output only: ignored\n"
			       "  dnsConfig:\n"
			       "    nameServers: [10.0.0.10, 10.0.0.11]\n"
			       "    searchDomains: corp.example   svc.example\n"
			       "    options: ndots:2 timeout:1\n";

/* Minimal JSON group with two containers; %s inserts extra properties
 * (with a leading comma) and the containers' ports. */
static const char doc_fmt[] =
    "{\"name\": \"g\", \"properties\": {\"containers\": ["
    "{\"name\": \"a\", \"properties\": {\"image\": \"x\", \"resources\": {\"requests\": {\"cpu\": 1, "
    "\"memoryInGB\": 1}}%s}},"
    "{\"name\": \"b\", \"properties\": {\"image\": \"x\", \"resources\": {\"requests\": {\"cpu\": 1, "
    "\"memoryInGB\": 1}}%s}}]%s}}";

static int parse(const char *text, struct spec_group **g, struct capsid_error *err)
{
	*g = NULL;
	return spec_parse(text, strlen(text), g, NULL, err);
}

static void test_full_example(void)
{
	struct spec_group *g = NULL;
	struct spec_warnings w = {0};
	struct capsid_error err = {0};
	CHECK(spec_parse(web_yaml, strlen(web_yaml), &g, &w, &err) == 0 && g);
	if (!g) {
		fprintf(stderr, "  %s\n", err.msg);
		return;
	}
	CHECK(w.n == 0);
	const struct spec_container *web = &g->containers[0], *dns = &g->containers[1];
	CHECK(web->n_ports == 2 && web->ports[0].port == 80 && web->ports[0].protocol == SPEC_PROTO_TCP);
	CHECK(dns->n_ports == 2 && dns->ports[0].protocol == SPEC_PROTO_UDP &&
	      dns->ports[1].protocol == SPEC_PROTO_TCP);
	const struct spec_ip_address *ip = g->ip_address;
	CHECK(ip && ip->type == SPEC_IP_PUBLIC && ip->n_ports == 2 && !strcmp(ip->dns_name_label, "shop"));
	CHECK(ip && ip->ports[1].port == 53 && ip->ports[1].protocol == SPEC_PROTO_UDP && ip->ip == NULL);
	const struct spec_dns_config *d = g->dns_config;
	CHECK(d && d->n_name_servers == 2 && !strcmp(d->name_servers[1], "10.0.0.11"));
	CHECK(d && !strcmp(d->search_domains, "corp.example   svc.example") &&
	      !strcmp(d->options, "ndots:2 timeout:1"));
	CHECK(g->n_subnets == 0 && spec_group_network(g) == NULL);

	/* Round trip: canonical words, everything back. */
	struct json_object *j = spec_to_json(g, SPEC_REDACT);
	const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	CHECK_STR_CONTAINS(text,
			   "\"ipAddress\":{\"type\":\"Public\",\"ports\":[{\"port\":80,\"protocol\":\"TCP\"},"
			   "{\"port\":53,\"protocol\":\"UDP\"}],\"dnsNameLabel\":\"shop\"}");
	CHECK_STR_CONTAINS(
	    text, "\"ports\":[{\"port\":53,\"protocol\":\"UDP\"},{\"port\":53,\"protocol\":\"TCP\"}]");
	CHECK_STR_CONTAINS(text,
			   "\"dnsConfig\":{\"nameServers\":[\"10.0.0.10\",\"10.0.0.11\"],\"searchDomains\":"
			   "\"corp.example   svc.example\",\"options\":\"ndots:2 timeout:1\"}");
	CHECK(strstr(text, "fqdn") == NULL);
	struct spec_group *back = NULL;
	CHECK(parse(text, &back, &err) == 0 && back);
	struct json_object *j2 = back ? spec_to_json(back, SPEC_REDACT) : NULL;
	CHECK(j2 && !strcmp(json_object_to_json_string(j2), json_object_to_json_string(j)));
	json_object_put(j);
	json_object_put(j2);
	spec_free(back);
	spec_free(g);
}

static void test_subnets(void)
{
	char buf[2048];
	struct spec_group *g = NULL;
	struct capsid_error err = {0};
	static const struct {
		const char *id, *network;
	} ok[] = {
	    {"backend", "backend"},
	    {"/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/"
	     "back_end.1",
	     "back_end.1"},
	    {"/x/y/Net-2/", "Net-2"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		char extra[512];
		snprintf(extra, sizeof(extra),
			 ", \"subnetIds\": [{\"id\": \"%s\", \"name\": \"n\"}], \"ipAddress\": {\"type\": "
			 "\"Private\", "
			 "\"ports\": [{\"port\": 8080}], \"ip\": \"10.1.0.7\"}",
			 ok[i].id);
		snprintf(buf, sizeof(buf), doc_fmt, ", \"ports\": [{\"port\": 8080}]", "", extra);
		CHECK(parse(buf, &g, &err) == 0 && g);
		if (!g) {
			fprintf(stderr, "  %s\n", err.msg);
			continue;
		}
		CHECK(!strcmp(spec_group_network(g), ok[i].network) && !strcmp(g->subnets[0].name, "n"));
		CHECK(g->ip_address->type == SPEC_IP_PRIVATE && !strcmp(g->ip_address->ip, "10.1.0.7"));
		struct json_object *j = spec_to_json(g, SPEC_REDACT);
		CHECK_STR_CONTAINS(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
				   "\"subnetIds\":[{\"id\":");
		json_object_put(j);
		spec_free(g);
	}
	/* No subnet: an empty list is the default network. */
	snprintf(buf, sizeof(buf), doc_fmt, "", "", ", \"subnetIds\": []");
	CHECK(parse(buf, &g, &err) == 0 && g && spec_group_network(g) == NULL);
	spec_free(g);
}

#define IP  "properties.ipAddress"
#define PA  "properties.containers[0].properties.ports"
#define PB  "properties.containers[1].properties.ports"
#define DNS "properties.dnsConfig"
#define SUB "properties.subnetIds"
#define SEG_MSG                                                                                              \
	"its last path segment must name a capsid network (1-63 letters, digits, '.', '_' or '-', starting " \
	"with "                                                                                              \
	"a letter or digit)"

/* Ports of container a, of container b, extra group properties; the exact error. */
static const struct {
	const char *a, *b, *extra, *msg;
} cases[] = {
    /* container ports */
    {", \"ports\": {}", "", "", PA ": must be an array, not an object"},
    {", \"ports\": [80]", "", "", PA "[0]: must be an object, not a number"},
    {", \"ports\": [{}]", "", "", PA "[0].port: is required"},
    {", \"ports\": [{\"port\": 0}]", "", "", PA "[0].port: must be an integer from 1 to 65535"},
    {", \"ports\": [{\"port\": 65536}]", "", "", PA "[0].port: must be an integer from 1 to 65535"},
    {", \"ports\": [{\"port\": 80.5}]", "", "", PA "[0].port: must be an integer from 1 to 65535"},
    {", \"ports\": [{\"port\": \"http\"}]", "", "",
     PA "[0].port: must be an integer from 1 to 65535, not a string"},
    {", \"ports\": [{\"port\": 80, \"protocol\": \"SCTP\"}]", "", "",
     PA "[0].protocol: unsupported value \"SCTP\" (allowed: TCP, UDP)"},
    {", \"ports\": [{\"port\": 80}, {\"port\": 80, \"protocol\": \"tcp\"}]", "", "",
     PA "[1]: duplicate port 80/TCP"},
    {", \"ports\": [{\"port\": 80, \"targetPort\": 8080}]", "", "",
     PA "[0].targetPort: port mapping is not supported (a group port is the same port of its container)"},
    /* two containers, one port */
    {", \"ports\": [{\"port\": 80}]", ", \"ports\": [{\"port\": 81}, {\"port\": 80}]", "",
     PB "[1]: port 80/TCP is already declared by container \"a\""},
    /* ipAddress */
    {"", "", ", \"ipAddress\": []", IP ": must be an object, not an array"},
    {"", "", ", \"ipAddress\": {\"ports\": [{\"port\": 80}]}", IP ".type: is required"},
    {"", "", ", \"ipAddress\": {\"type\": \"Elastic\", \"ports\": [{\"port\": 80}]}",
     IP ".type: unsupported value \"Elastic\" (allowed: Public, Private)"},
    {"", "", ", \"ipAddress\": {\"type\": \"Public\"}", IP ".ports: is required"},
    {"", "", ", \"ipAddress\": {\"type\": \"Public\", \"ports\": []}",
     IP ".ports: must contain at least one port"},
    {", \"ports\": [{\"port\": 80}]", "",
     ", \"ipAddress\": {\"type\": \"Public\", \"ports\": [{\"port\": 80, "
     "\"protocol\": \"UDP\"}]}",
     IP ".ports[0]: port 80/UDP is not declared by any container (properties.containers[].properties.ports)"},
    {", \"ports\": [{\"port\": 80}]", "",
     ", \"ipAddress\": {\"type\": \"Public\", \"ports\": [{\"port\": 80, "
     "\"hostPort\": 8080}]}",
     IP ".ports[0].hostPort: port mapping is not supported (a group port is the same port of its container)"},
    {", \"ports\": [{\"port\": 80}]", "",
     ", \"ipAddress\": {\"type\": \"Public\", \"ports\": [{\"port\": 80}], \"dnsNameLabel\": \"My_Shop\"}",
     IP ".dnsNameLabel: \"My_Shop\" is not a valid name: use " UTIL_NAME_RULE},
    {", \"ports\": [{\"port\": 80}]", "",
     ", \"ipAddress\": {\"type\": \"Private\", \"ports\": [{\"port\": 80}], \"ip\": \"10.0.0.300\"}",
     IP ".ip: \"10.0.0.300\" is not an IPv4 address"},
    {", \"ports\": [{\"port\": 80}]", "",
     ", \"ipAddress\": {\"type\": \"Public\", \"ports\": [{\"port\": 80}]}, \"subnetIds\": [{\"id\": \"n\"}]",
     IP ".type: must be Private for a group in a subnet (subnetIds), as in ACI"},
    /* dnsConfig */
    {"", "", ", \"dnsConfig\": {}", DNS ".nameServers: is required"},
    {"", "", ", \"dnsConfig\": {\"nameServers\": []}", DNS ".nameServers: must contain at least one address"},
    {"", "", ", \"dnsConfig\": {\"nameServers\": [\"1.1.1.1\", \"2.2.2.2\", \"3.3.3.3\", \"4.4.4.4\"]}",
     DNS ".nameServers: at most 3 name servers are allowed, not 4"},
    {"", "", ", \"dnsConfig\": {\"nameServers\": [\"1.1.1.1\\nnameserver 6.6.6.6\"]}",
     DNS ".nameServers[0]: \"1.1.1.1\\x0anameserver 6.6.6.6\" is not an IPv4 address"},
    {"", "", ", \"dnsConfig\": {\"nameServers\": [\"1.1.1.1\"], \"searchDomains\": [\"a.example\"]}",
     DNS ".searchDomains: must be a string, not an array"},
    {"", "",
     ", \"dnsConfig\": {\"nameServers\": [\"1.1.1.1\"], \"searchDomains\": \"ok.example bad_domain\"}",
     DNS ".searchDomains: \"bad_domain\" is not a domain name"},
    {"", "", ", \"dnsConfig\": {\"nameServers\": [\"1.1.1.1\"], \"searchDomains\": \"a b c d e f g\"}",
     DNS ".searchDomains: at most 6 entries are allowed"},
    {"", "", ", \"dnsConfig\": {\"nameServers\": [\"1.1.1.1\"], \"options\": \"ndots:2 rotate;reboot\"}",
     DNS ".options: \"rotate;reboot\" is not a resolv.conf option"},
    /* subnetIds */
    {"", "", ", \"subnetIds\": {\"id\": \"n\"}", SUB ": must be an array, not an object"},
    {"", "", ", \"subnetIds\": [{\"id\": \"a\"}, {\"id\": \"b\"}]",
     SUB ": at most one subnet is supported, not 2"},
    {"", "", ", \"subnetIds\": [{\"name\": \"a\"}]", SUB "[0].id: is required"},
    {"", "", ", \"subnetIds\": [{\"id\": \"///\"}]", SUB "[0].id: \"///\": " SEG_MSG},
    {"", "", ", \"subnetIds\": [{\"id\": \"\"}]", SUB "[0].id: \"\": " SEG_MSG},
    {"", "", ", \"subnetIds\": [{\"id\": \"/x/-net\"}]", SUB "[0].id: \"/x/-net\": " SEG_MSG},
    {"", "", ", \"subnetIds\": [{\"id\": \"/x/a b\"}]", SUB "[0].id: \"/x/a b\": " SEG_MSG},
};

static void test_errors(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char buf[4096];
		snprintf(buf, sizeof(buf), doc_fmt, cases[i].a, cases[i].b, cases[i].extra);
		struct spec_group *g = NULL;
		struct capsid_error err = {0};
		int rc = parse(buf, &g, &err);
		CHECK(rc == -EINVAL && g == NULL);
		test_checks++;
		if (strcmp(err.msg, cases[i].msg)) {
			test_failures++;
			fprintf(stderr, "case %zu: expected\n  \"%s\"\ngot\n  \"%s\"\n", i, cases[i].msg,
				err.msg);
		}
		spec_free(g);
	}
	/* Search domains: 256 characters in all at most. */
	char big[301], extra[1024];
	memset(big, 'a', 300);
	big[300] = '\0';
	snprintf(extra, sizeof(extra),
		 ", \"dnsConfig\": {\"nameServers\": [\"1.1.1.1\"], \"searchDomains\": \"%s\"}", big);
	char buf[8192];
	snprintf(buf, sizeof(buf), doc_fmt, "", "", extra);
	struct spec_group *g = NULL;
	struct capsid_error err = {0};
	CHECK(parse(buf, &g, &err) == -EINVAL &&
	      !strcmp(err.msg, DNS ".searchDomains: must be at most 256 characters"));
	/* 64 ports per container are fine, 65 are not. */
	char ports[2048] = ", \"ports\": [";
	for (int i = 1; i <= 65; i++)
		snprintf(ports + strlen(ports), sizeof(ports) - strlen(ports), "%s{\"port\": %d}",
			 i > 1 ? "," : "", i);
	strcat(ports, "]");
	snprintf(buf, sizeof(buf), doc_fmt, ports, "", "");
	CHECK(parse(buf, &g, &err) == -EINVAL &&
	      !strcmp(err.msg, PA ": at most 64 ports are allowed, not 65"));
	strcpy(strrchr(ports, ','), "]");
	snprintf(buf, sizeof(buf), doc_fmt, ports, "", "");
	CHECK(parse(buf, &g, &err) == 0 && g && g->containers[0].n_ports == 64);
	spec_free(g);
}

int main(void)
{
	RUN_TEST(test_full_example);
	RUN_TEST(test_subnets);
	RUN_TEST(test_errors);
	TEST_EXIT();
}
