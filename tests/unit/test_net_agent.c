/* The guest agent's network piece, on the host: NETWORK bodies are
 * validated field by field, resolv.conf and hosts come out exactly, and
 * (as root, in a network namespace this test creates) an interface found
 * by its MAC gets its MTU, address, state and default route. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
/* Both sides name their header net.h: spell out which is which. */
#include "../../guest-agent/agent_net.h"
#include "../../host/net/net.h"
#include "testlib.h"
#include "util.h"

static const char good[] =
    "{\"interfaces\":[{\"mac\":\"52:54:00:12:34:56\",\"address\":\"10.88.0.5/16\",\"gateway\":\"10.88.0.1\","
    "\"mtu\":1400}],"
    "\"dns\":{\"nameservers\":[\"10.88.0.1\",\"192.0.2.53\"],\"search\":[\"capsid.local\",\"corp.example\"],"
    "\"options\":[\"ndots:2\",\"timeout:1\"]},"
    "\"hosts\":[{\"ip\":\"10.88.0.5\",\"names\":[\"web.capsid.local\",\"web\"]}]}";

static int parse_text(const char *text, struct agent_net_config *cfg, struct capsid_error *err)
{
	_cleanup_json_ struct json_object *o = json_tokener_parse(text);
	if (!o) {
		fprintf(stderr, "test bug: bad json %s\n", text);
		abort();
	}
	return agent_net_parse(o, cfg, err);
}

static void test_parse_and_render(void)
{
	struct agent_net_config cfg;
	struct capsid_error err = {0};
	CHECK(parse_text(good, &cfg, &err) == 0);
	CHECK(cfg.n_ifaces == 1 && cfg.ifaces[0].address == 0x0a580005 && cfg.ifaces[0].prefix == 16);
	CHECK(cfg.ifaces[0].gateway == 0x0a580001 && cfg.ifaces[0].mtu == 1400 &&
	      cfg.ifaces[0].mac[5] == 0x56);
	CHECK(!strcmp(cfg.resolv_conf, "# written by capsid-agent\n"
				       "nameserver 10.88.0.1\nnameserver 192.0.2.53\n"
				       "search capsid.local corp.example\n"
				       "options ndots:2 timeout:1\n"));
	char hosts[1024];
	CHECK(agent_net_hosts(&cfg, "web", hosts, sizeof(hosts)) == 0);
	CHECK(!strcmp(hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
			     "10.88.0.5\tweb\n10.88.0.5\tweb.capsid.local web\n"));
	CHECK(agent_net_hosts(&cfg, "web", hosts, 40) == -ENOSPC);
	CHECK(agent_net_hosts(NULL, "c1", hosts, sizeof(hosts)) == 0);
	CHECK_STR_CONTAINS(hosts, "127.0.1.1\tc1\n");
	CHECK(agent_net_hosts(&cfg, "bad name\n1.2.3.4 evil", hosts, sizeof(hosts)) == 0);
	CHECK(strstr(hosts, "evil") == NULL);

	/* Minimal body: no dns, no hosts, default MTU, no gateway. */
	CHECK(parse_text("{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.1.2.3/24\"}]}",
			 &cfg, &err) == 0);
	CHECK(cfg.ifaces[0].mtu == 1500 && cfg.ifaces[0].gateway == 0 && cfg.hosts_extra[0] == '\0');
	CHECK(!strcmp(cfg.resolv_conf, "# written by capsid-agent\n"));

	/* Writing resolv.conf where the agent's containers pick it up. */
	char dir[] = "/tmp/test_net_agent.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	CHECK(parse_text(good, &cfg, &err) == 0 && agent_net_write_files(&cfg, dir, &err) == 0);
	char path[64];
	snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	_cleanup_free_ char *text = NULL;
	CHECK(util_read_file_at(AT_FDCWD, path, 4096, &text, NULL) == 0 && text &&
	      !strcmp(text, cfg.resolv_conf));
	util_rm_rf(dir);
}

static const struct {
	const char *body, *msg;
} bad[] = {
    {"[]", "the body is not an object"},
    {"{}", "interfaces: missing or empty"},
    {"{\"interfaces\":{}}", "interfaces: not an array"},
    {"{\"interfaces\":[1]}", "interfaces[0]: not an object"},
    {"{\"interfaces\":[{\"address\":\"10.0.0.2/24\"}]}", "interfaces[0].mac: missing"},
    {"{\"interfaces\":[{\"mac\":\"01:00:5e:00:00:01\",\"address\":\"10.0.0.2/24\"}]}",
     "interfaces[0].mac: not a unicast MAC address"},
    {"{\"interfaces\":[{\"mac\":\"52:54:00:00:00:0g\",\"address\":\"10.0.0.2/24\"}]}",
     "interfaces[0].mac: not a unicast MAC address"},
    {"{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.0.2\"}]}",
     "interfaces[0].address: not IPv4/prefix"},
    {"{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.0.2/33\"}]}",
     "interfaces[0].address: not IPv4/prefix"},
    {"{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.0.2/24x\"}]}",
     "interfaces[0].address: not IPv4/prefix"},
    {"{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.0.2/"
     "24\",\"gateway\":\"10.0.1.1\"}]}",
     "interfaces[0].gateway: not an address of the interface's subnet"},
    {"{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.0.2/24\",\"mtu\":9999999}]}",
     "interfaces[0].mtu: not an integer from 68 to 65535"},
    {"{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.0.2/24\"},"
     "{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.1.2/24\"}]}",
     "interfaces[1].mac: listed twice"},
    {"{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.0.2/24\"}],"
     "\"dns\":{\"nameservers\":[\"1.1.1.1\",\"2.2.2.2\",\"3.3.3.3\",\"4.4.4.4\"]}}",
     "dns.nameservers: at most 3 entries"},
    {"{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.0.2/24\"}],"
     "\"dns\":{\"nameservers\":[\"1.1.1.1\\nsearch evil\"]}}",
     "dns.nameservers[0]: not an IPv4 address"},
    {"{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.0.2/24\"}],"
     "\"dns\":{\"search\":[\"ok.example\",\"bad domain\"]}}",
     "dns.search[1]: not a domain name"},
    {"{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.0.2/24\"}],"
     "\"dns\":{\"options\":[\"ndots:2\\nnameserver 6.6.6.6\"]}}",
     "dns.options[0]: not a resolv.conf option"},
    {"{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.0.2/24\"}],"
     "\"hosts\":[{\"ip\":\"10.0.0.9\",\"names\":[\"a\\tb\"]}]}",
     "hosts[0].names[0]: not a host name"},
    {"{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.0.2/24\"}],"
     "\"hosts\":[{\"ip\":\"10.0.0.9\",\"names\":[]}]}",
     "hosts[0].names: missing or empty"},
    {"{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.0.2/24\"}],"
     "\"hosts\":[{\"ip\":\"x\",\"names\":[\"a\"]}]}",
     "hosts[0].ip: not an IPv4 address"},
};

static void test_bad_bodies(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct agent_net_config cfg;
		struct capsid_error err = {0};
		CHECK(parse_text(bad[i].body, &cfg, &err) < 0);
		test_checks++;
		if (strcmp(err.msg, bad[i].msg)) {
			test_failures++;
			fprintf(stderr, "bad[%zu]: expected \"%s\", got \"%s\"\n", i, bad[i].msg, err.msg);
		}
	}
	/* Search domains longer than glibc's 256 characters in all. */
	char body[2048];
	snprintf(body, sizeof(body),
		 "{\"interfaces\":[{\"mac\":\"52:54:00:00:00:01\",\"address\":\"10.0.0.2/24\"}],"
		 "\"dns\":{\"search\":[\"%s.a\",\"%s.b\",\"%s.c\",\"%s.d\",\"%s.e\"]}}",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		 "cccccccccccccccccccccccccccccccccccccccccccccccccccc",
		 "dddddddddddddddddddddddddddddddddddddddddddddddddddd",
		 "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
	struct agent_net_config cfg;
	struct capsid_error err = {0};
	CHECK(parse_text(body, &cfg, &err) == -EINVAL);
	CHECK(!strcmp(err.msg, "dns.search: longer than 256 characters in all"));
}

static uint32_t if_ipv4(int s, unsigned long req, const char *name)
{
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, req, &ifr) < 0)
		return 0;
	return ntohl(((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr);
}

/* In a namespace: a dummy interface plays the guest's virtio NIC. */
static void test_apply_in_namespace(void)
{
	if (geteuid() != 0) {
		TEST_SKIP("test_apply_in_namespace: needs root to create a network namespace");
		return;
	}
	CHECK(unshare(CLONE_NEWNET) == 0);
	/* A tap plays the NIC (this kernel build has no dummy links). */
	CHECK(system("ip tuntap add dev eth7 mode tap && ip link set eth7 address 52:54:00:12:34:56") == 0);
	struct agent_net_config cfg;
	struct capsid_error err = {0};
	CHECK(parse_text(good, &cfg, &err) == 0);
	CHECK(agent_net_apply(&cfg, &err) == 0);
	if (err.code)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK(agent_net_apply(&cfg, &err) == 0); /* idempotent */
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(if_ipv4(s, SIOCGIFADDR, "eth7") == 0x0a580005);
	CHECK(if_ipv4(s, SIOCGIFNETMASK, "eth7") == 0xffff0000);
	CHECK(if_ipv4(s, SIOCGIFBRDADDR, "eth7") == 0x0a58ffff);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth7");
	CHECK(ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu == 1400);
	CHECK(ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP));
	/* /proc/net/route is this namespace's table: default via 10.88.0.1
	 * (little-endian hex: 01 00 58 0A). */
	_cleanup_free_ char *routes = NULL;
	CHECK(util_read_file_at(AT_FDCWD, "/proc/net/route", 65536, &routes, NULL) == 0);
	CHECK_STR_CONTAINS(routes, "eth7\t00000000\t0100580A\t0003");
	/* A MAC nobody has is a clear error. */
	cfg.ifaces[0].mac[5] = 0x57;
	CHECK(agent_net_apply(&cfg, &err) == -ENODEV);
	CHECK_STR_CONTAINS(err.msg, "no interface with MAC 52:54:00:12:34:57");
}

/* The contract: what the host library builds for an attachment is what
 * the agent accepts, with capsid's DNS first and the zone searched. */
static void test_host_request_contract(void)
{
	char root[] = "/tmp/test_net_agent_root.XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	struct net_config cfg;
	struct capsid_error err = {0};
	CHECK(net_config_load(root, NULL, &cfg, &err) == 0);
	CHECK(net_network_create(&cfg, "closed", "10.90.0.0/24", false, &err) == 0);
	struct net_attachment att = {.network = "closed",
				     .mac = "52:54:00:aa:bb:cc",
				     .ip = "10.90.0.2",
				     .prefix = 24,
				     .gateway = "10.90.0.1",
				     .dns_server = "10.90.0.1",
				     .fqdn = "web.capsid.local"};
	struct json_object *body = NULL;
	CHECK(net_guest_request(&cfg, &att, NULL, &body, &err) == 0 && body);
	struct agent_net_config ac;
	CHECK(agent_net_parse(body, &ac, &err) == 0);
	CHECK(ac.n_ifaces == 1 && ac.ifaces[0].address == 0x0a5a0002 && ac.ifaces[0].gateway == 0x0a5a0001);
	CHECK(!strcmp(ac.resolv_conf,
		      "# written by capsid-agent\nnameserver 10.90.0.1\nsearch capsid.local\n"));
	CHECK(!strcmp(ac.hosts_extra, "10.90.0.2\tweb.capsid.local\n"));
	json_object_put(body);

	/* With egress, the host's own servers follow ours (at most 3 in all). */
	snprintf(att.network, sizeof(att.network), "default");
	CHECK(net_guest_request(&cfg, &att, NULL, &body, &err) == 0 && agent_net_parse(body, &ac, &err) == 0);
	CHECK_STR_CONTAINS(ac.resolv_conf, "\nnameserver 10.90.0.1\n");
	json_object_put(body);

	/* dnsConfig from the spec replaces the defaults. */
	const char *ns[] = {"192.0.2.53"}, *search[] = {"corp.example"}, *opts[] = {"ndots:2"};
	struct net_dns_settings dns = {ns, 1, search, 1, opts, 1};
	CHECK(net_guest_request(&cfg, &att, &dns, &body, &err) == 0 && agent_net_parse(body, &ac, &err) == 0);
	CHECK(!strcmp(ac.resolv_conf,
		      "# written by capsid-agent\nnameserver 192.0.2.53\nsearch corp.example\n"
		      "options ndots:2\n"));
	json_object_put(body);
	util_rm_rf(root);
}

int main(void)
{
	RUN_TEST(test_parse_and_render);
	RUN_TEST(test_bad_bodies);
	RUN_TEST(test_host_request_contract);
	RUN_TEST(test_apply_in_namespace);
	TEST_EXIT();
}
