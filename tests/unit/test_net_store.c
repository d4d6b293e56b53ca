/* Network store and IPAM without the kernel: addresses and names parse
 * strictly, IPAM hands out the lowest free address and survives a reload,
 * ports/labels/subnets conflict with clear messages, hostile state files
 * are rejected, the state file is replaced atomically and concurrent
 * writers serialise on the lock, and the configuration layers apply. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "net_internal.h"
#include "testlib.h"
#include "util.h"

static char root[64];

static void make_cfg(struct net_config *cfg)
{
	struct capsid_error err = {0};
	CHECK(net_config_load(root, NULL, cfg, &err) == 0);
}

static void write_text(const char *leaf, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/networks/%s", root, leaf);
	util_mkdir_p(path, 0700);
	rmdir(path);
	CHECK(util_write_file_atomic(path, text, strlen(text), 0600) == 0);
}

static void test_addresses_and_names(void)
{
	uint32_t a, s;
	unsigned p;
	char buf[19];
	CHECK(net_parse_ipv4("10.88.0.5", &a) == 0 && a == 0x0a580005);
	CHECK(net_parse_ipv4("10.88.5", &a) < 0 && net_parse_ipv4("010.1.1.1", &a) < 0);
	CHECK(net_parse_ipv4("1.2.3.4 ", &a) < 0 && net_parse_ipv4("", &a) < 0 &&
	      net_parse_ipv4(NULL, &a) < 0);
	CHECK(net_parse_cidr("10.88.0.0/16", &s, &p) == 0 && s == 0x0a580000 && p == 16);
	CHECK(net_parse_cidr("10.88.0.1/16", &s, &p) == -EINVAL); /* host bits */
	CHECK(net_parse_cidr("10.88.0.0/33", &s, &p) < 0 && net_parse_cidr("10.88.0.0/", &s, &p) < 0);
	CHECK(net_parse_cidr("10.88.0.0/016", &s, &p) < 0 && net_parse_cidr("10.88.0.0", &s, &p) < 0);
	CHECK(net_parse_cidr("10.88.0.0/16x", &s, &p) < 0);
	net_format_cidr(0xc0a80100, 24, buf);
	CHECK(!strcmp(buf, "192.168.1.0/24"));
	uint8_t mac[6];
	char ms[18];
	CHECK(net_parse_mac("52:54:00:ab:cd:ef", mac) == 0 && mac[3] == 0xab && mac[5] == 0xef);
	net_format_mac(mac, ms);
	CHECK(!strcmp(ms, "52:54:00:ab:cd:ef"));
	CHECK(net_parse_mac("52:54:00:ab:cd:e", mac) < 0 && net_parse_mac("52-54-00-ab-cd-ef", mac) < 0);
	CHECK(net_valid_label("web-1") && !net_valid_label("Web") && !net_valid_label("-a") &&
	      !net_valid_label(""));
	CHECK(net_valid_network_name("Vnet_1.a-b") && !net_valid_network_name(".x") &&
	      !net_valid_network_name("a/b") && !net_valid_network_name(""));
	CHECK(net_valid_zone("capsid.local") && net_valid_zone("a") && !net_valid_zone("a..b") &&
	      !net_valid_zone(".a") && !net_valid_zone("a.") && !net_valid_zone("A.b"));
}

static struct net_group *add_group(struct net_state *st, const char *name, const char *network, uint32_t ip)
{
	st->groups = realloc(st->groups, (st->n_groups + 1) * sizeof(*st->groups));
	struct net_group *g = &st->groups[st->n_groups++];
	*g = (struct net_group){.ip = ip, .id = net_free_group_id(st)};
	snprintf(g->name, sizeof(g->name), "%s", name);
	snprintf(g->network, sizeof(g->network), "%s", network);
	net_make_mac(st, name, g->mac);
	return g;
}

static void test_ipam(void)
{
	struct net_config cfg;
	make_cfg(&cfg);
	struct net_state st = {0};
	struct capsid_error err = {0};
	CHECK(net_state_ensure_default(&cfg, &st, &err) == 0 && st.n_networks == 1);
	CHECK(net_state_add_network(&st, "small", 0xc0a80a00, 29, false, &err) == 0); /* .2 - .6 */
	const struct net_network *small = net_state_network(&st, "small");
	uint32_t ip = 0;
	CHECK(small && small->id == 1 && net_gateway(small) == 0xc0a80a01);
	for (int i = 0; i < 5; i++) {
		char name[8];
		snprintf(name, sizeof(name), "g%d", i);
		CHECK(net_ipam_alloc(&st, net_state_network(&st, "small"), name, NULL, &ip, &err) == 0);
		CHECK(ip == 0xc0a80a02u + (uint32_t)i);
		add_group(&st, name, "small", ip);
	}
	CHECK(net_ipam_alloc(&st, net_state_network(&st, "small"), "g9", NULL, &ip, &err) == -ENOSPC);
	CHECK_STR_CONTAINS(err.msg, "network \"small\" (192.168.10.0/29) has no free address left");
	/* A released address is the next one handed out (lowest free). */
	net_state_remove_group(&st, "g2");
	CHECK(net_ipam_alloc(&st, net_state_network(&st, "small"), "g9", NULL, &ip, &err) == 0 &&
	      ip == 0xc0a80a04);
	/* A group asking again gets its own address back as free. */
	CHECK(net_ipam_alloc(&st, net_state_network(&st, "small"), "g0", "192.168.10.2", &ip, &err) == 0);
	/* Requested addresses: inside, not the gateway/broadcast, not taken. */
	const struct {
		const char *ip;
		int rc;
		const char *msg;
	} req[] = {
	    {"192.168.10.4", 0, NULL},
	    {"192.168.10.3", -EADDRINUSE, "address 192.168.10.3 is already used by group \"g1\""},
	    {"192.168.10.1", -EINVAL, "is not a free host address of network \"small\""},
	    {"192.168.10.7", -EINVAL, "(192.168.10.0/29, gateway and broadcast excluded)"},
	    {"10.88.0.9", -EINVAL, "not a free host address"},
	    {"300.1.1.1", -EINVAL, "is not an IPv4 address"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(req); i++) {
		int rc = net_ipam_alloc(&st, net_state_network(&st, "small"), "g9", req[i].ip, &ip, &err);
		CHECK(rc == req[i].rc);
		if (req[i].msg)
			CHECK_STR_CONTAINS(err.msg, req[i].msg);
	}
	/* Ids and MACs: lowest free id, MAC stable per name and unique. */
	CHECK(net_free_group_id(&st) == 3);
	uint8_t m1[6], m2[6];
	net_make_mac(&st, "newgroup", m1);
	net_make_mac(&st, "newgroup", m2);
	CHECK(!memcmp(m1, m2, 6) && m1[0] == 0x52 && m1[1] == 0x54 && m1[2] == 0);
	struct net_group *clash = add_group(&st, "other", "small", 0);
	memcpy(clash->mac, m1, 6);
	net_make_mac(&st, "newgroup", m2);
	CHECK(memcmp(m1, m2, 6) != 0);

	/* Persistence: save, load, same leases; then allocation continues. */
	capsid_error_clear(&err);
	CHECK(net_store_save(&cfg, &st, &err) == 0);
	if (err.code)
		fprintf(stderr, "  %s\n", err.msg);
	struct net_state back = {0};
	CHECK(net_store_load(&cfg, &back, &err) == 0);
	CHECK(back.n_groups == st.n_groups && back.n_networks == 2);
	for (size_t i = 0; i < back.n_groups && i < st.n_groups; i++) {
		const struct net_group *x = &back.groups[i], *y = &st.groups[i];
		CHECK(!strcmp(x->name, y->name) && !strcmp(x->network, y->network) && x->id == y->id &&
		      x->ip == y->ip && !memcmp(x->mac, y->mac, 6) && x->public_ip == y->public_ip &&
		      x->n_ports == y->n_ports && !strcmp(x->dns_label, y->dns_label));
	}
	CHECK(net_state_network(&back, "small") &&
	      net_ipam_alloc(&back, net_state_network(&back, "small"), "g9", NULL, &ip, &err) == 0 &&
	      ip == 0xc0a80a04);
	net_state_free(&back);
	net_state_free(&st);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/networks/state.json", root);
	unlink(path);
}

static void test_conflicts(void)
{
	struct net_config cfg;
	make_cfg(&cfg);
	struct net_state st = {0};
	struct capsid_error err = {0};
	CHECK(net_state_ensure_default(&cfg, &st, &err) == 0);
	struct net_group *web = add_group(&st, "web", "default", 0x0a580002);
	web->public_ip = true;
	web->ports[web->n_ports++] = (struct net_port){80, IPPROTO_TCP};
	snprintf(web->dns_label, sizeof(web->dns_label), "shop");
	struct net_group *priv = add_group(&st, "priv", "default", 0x0a580003);
	priv->ports[priv->n_ports++] = (struct net_port){443, IPPROTO_TCP}; /* Private: not published */

	struct net_port p80t = {80, IPPROTO_TCP}, p80u = {80, IPPROTO_UDP}, p443 = {443, IPPROTO_TCP},
			dup[2] = {{8080, IPPROTO_TCP}, {8080, IPPROTO_TCP}}, dns = {53, IPPROTO_UDP};
	CHECK(net_check_ports(&st, &cfg, "api", &p80t, 1, &err) == -EADDRINUSE);
	CHECK(!strcmp(err.msg, "port 80/TCP on the publish address is already used by group \"web\""));
	CHECK(net_check_ports(&st, &cfg, "web", &p80t, 1, &err) == 0); /* its own port */
	CHECK(net_check_ports(&st, &cfg, "api", &p80u, 1, &err) == 0); /* other protocol */
	CHECK(net_check_ports(&st, &cfg, "api", &p443, 1, &err) == 0); /* priv does not publish */
	CHECK(net_check_ports(&st, &cfg, "api", dup, 2, &err) == -EINVAL);
	CHECK(!strcmp(err.msg, "port 8080/TCP is published twice"));
	CHECK(net_check_ports(&st, &cfg, "api", &dns, 1, &err) == -EADDRINUSE);
	CHECK_STR_CONTAINS(err.msg, "capsid's DNS responder");

	CHECK(net_check_label(&st, "api", "shop", &err) == -EADDRINUSE);
	CHECK(!strcmp(err.msg, "DNS name label \"shop\" is already used by group \"web\""));
	CHECK(net_check_label(&st, "web", "shop", &err) == 0 &&
	      net_check_label(&st, "api", "blog", &err) == 0);
	CHECK(net_check_label(&st, "api", "Bad_Label", &err) == -EINVAL);

	CHECK(net_check_subnet(&st, "n2", 0x0a000000, 8, &err) == -EADDRINUSE); /* 10/8 contains 10.88/16 */
	CHECK(!strcmp(err.msg, "subnet 10.0.0.0/8 overlaps network \"default\" (10.88.0.0/16)"));
	CHECK(net_check_subnet(&st, "n2", 0x0a580400, 24, &err) == -EADDRINUSE); /* inside it */
	CHECK(net_check_subnet(&st, "n2", 0x0a590000, 16, &err) == 0);
	CHECK(net_check_subnet(&st, "n2", 0x0a590000, 31, &err) == -EINVAL);
	CHECK(!strcmp(err.msg, "subnet 10.89.0.0/31: the prefix must be /8 to /30"));
	CHECK(net_check_subnet(&st, "n2", 0x7f000000, 8, &err) == -EINVAL);
	CHECK(net_check_subnet(&st, "n2", 0xa9fe0000, 16, &err) == -EINVAL);

	/* DNS records: Public with a publish address -> it, else the group IP. */
	struct net_dns_record *recs = NULL;
	size_t n = 0;
	snprintf(priv->dns_label, sizeof(priv->dns_label), "db");
	CHECK(net_dns_records(&st, 0xc0000201, &recs, &n) == 0 && n == 2);
	CHECK(n == 2 && !strcmp(recs[0].label, "shop") && recs[0].address == 0xc0000201);
	CHECK(n == 2 && !strcmp(recs[1].label, "db") && recs[1].address == 0x0a580003);
	free(recs);
	CHECK(net_dns_records(&st, 0, &recs, &n) == 0 && n == 2 && recs[0].address == 0x0a580002);
	free(recs);
	net_state_free(&st);
}

static void test_hostile_state_files(void)
{
	struct net_config cfg;
	make_cfg(&cfg);
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{\"version\": 2, \"networks\": [], \"groups\": []}",
	    "{\"version\": 1}",
	    "{\"version\": 1, \"networks\": {}, \"groups\": []}",
	    "{\"version\": 1, \"networks\": [{\"name\": \"a b\", \"subnet\": \"10.1.0.0/16\", \"egress\": "
	    "true, "
	    "\"id\": 0}], \"groups\": []}",
	    "{\"version\": 1, \"networks\": [{\"name\": \"n\", \"subnet\": \"10.1.0.1/16\", \"egress\": "
	    "true, "
	    "\"id\": 0}], \"groups\": []}",
	    "{\"version\": 1, \"networks\": [{\"name\": \"n\", \"subnet\": \"10.1.0.0/16\", \"egress\": "
	    "true, "
	    "\"id\": 0}, {\"name\": \"n\", \"subnet\": \"10.2.0.0/16\", \"egress\": true, \"id\": 1}], "
	    "\"groups\": []}",
	    "{\"version\": 1, \"networks\": [], \"groups\": [{\"name\": \"g\", \"network\": \"nope\", "
	    "\"id\": 1, "
	    "\"ip\": \"10.1.0.2\", \"mac\": \"52:54:00:00:00:01\", \"public\": false}]}",
	    "{\"version\": 1, \"networks\": [{\"name\": \"n\", \"subnet\": \"10.1.0.0/16\", \"egress\": "
	    "true, "
	    "\"id\": 0}], \"groups\": [{\"name\": \"g\", \"network\": \"n\", \"id\": 1, \"ip\": "
	    "\"10.1.0.2\", "
	    "\"mac\": \"52:54:00:00:00:01\", \"public\": false, \"ports\": [{\"port\": 70000, \"protocol\": "
	    "\"TCP\"}]}]}",
	    "{\"version\": 1, \"networks\": [{\"name\": \"n\", \"subnet\": \"10.1.0.0/16\", \"egress\": "
	    "true, "
	    "\"id\": 0}], \"groups\": [{\"name\": \"g\", \"network\": \"n\", \"id\": 1, \"ip\": "
	    "\"10.1.0.2\", "
	    "\"mac\": \"52:54:00:00:00:01\", \"public\": false, \"dnsLabel\": \"a\\u0000b\"}]}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		write_text("state.json", bad[i]);
		struct net_state st = {0};
		struct capsid_error err = {0};
		int rc = net_store_load(&cfg, &st, &err);
		CHECK(rc < 0 && st.groups == NULL && st.networks == NULL && err.msg[0]);
		if (rc == 0)
			fprintf(stderr, "  bad state %zu accepted\n", i);
		net_state_free(&st);
	}
	/* Deeply nested JSON stops at the tokener's depth limit. */
	char deep[4096];
	size_t o = 0;
	for (int i = 0; i < 1000; i++)
		deep[o++] = '[';
	deep[o] = '\0';
	write_text("state.json", deep);
	struct net_state st = {0};
	struct capsid_error err = {0};
	CHECK(net_store_load(&cfg, &st, &err) == -EINVAL);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/networks/state.json", root);
	unlink(path);
}

/* Writers in several processes, each adding networks under the lock:
 * every one lands and the file is always complete JSON. */
static void test_lock_and_atomicity(void)
{
	struct net_config cfg;
	make_cfg(&cfg);
	enum { PROCS = 4, EACH = 10 };
	for (int p = 0; p < PROCS; p++) {
		pid_t pid = fork();
		if (pid == 0) {
			for (int i = 0; i < EACH; i++) {
				char name[16], cidr[20];
				snprintf(name, sizeof(name), "p%dn%d", p, i);
				snprintf(cidr, sizeof(cidr), "10.%d.%d.0/24", 100 + p, i);
				struct capsid_error err = {0};
				if (net_network_create(&cfg, name, cidr, true, &err) < 0) {
					fprintf(stderr, "create %s: %s\n", name, err.msg);
					_exit(1);
				}
			}
			_exit(0);
		}
	}
	/* Meanwhile, every read sees a whole document. */
	int reads_ok = 0;
	for (int i = 0; i < 200; i++) {
		struct net_state st = {0};
		struct capsid_error err = {0};
		reads_ok += net_store_load(&cfg, &st, &err) == 0;
		net_state_free(&st);
	}
	CHECK(reads_ok == 200);
	for (int p = 0; p < PROCS; p++) {
		int status = -1;
		wait(&status);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	struct net_network_info *info = NULL;
	size_t n = 0;
	struct capsid_error err = {0};
	CHECK(net_network_list(&cfg, &info, &n, &err) == 0 && n == PROCS * EACH + 1);
	CHECK(n > 0 && !strcmp(info[0].name, "default") && !strcmp(info[0].bridge, "capsid-br0"));
	free(info);
	/* No temporary files remain next to the state. */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/networks", root);
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	for (struct dirent *de; d && (de = readdir(d));)
		CHECK(strstr(de->d_name, ".tmp.") == NULL);
	if (d)
		closedir(d);
	/* Removal: unknown, default, in use. */
	CHECK(net_network_remove(&cfg, "nope", &err) == -ENOENT);
	CHECK(net_network_remove(&cfg, "default", &err) == -EPERM);
	CHECK(!strcmp(err.msg, "the default network cannot be removed"));
	CHECK(net_network_create(&cfg, "p0n0", "10.200.0.0/24", true, &err) == -EEXIST);
	CHECK(net_network_create(&cfg, "x", "10.100.3.128/25", true, &err) == -EADDRINUSE);
	CHECK_STR_CONTAINS(err.msg, "overlaps network \"p0n3\"");
	CHECK(net_network_create(&cfg, "bad/name", "10.201.0.0/24", true, &err) == -EINVAL);
	CHECK(net_network_create(&cfg, "y", "10.201.0.1/24", true, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "no host bits set");
	util_rm_rf(dir);
}

static void test_config_layers(void)
{
	struct net_config cfg;
	struct capsid_error err = {0};
	CHECK(net_config_load(root, NULL, &cfg, &err) == 0);
	CHECK(!strcmp(cfg.zone, "capsid.local") && !strcmp(cfg.default_subnet, "10.88.0.0/16"));
	CHECK(cfg.publish_address[0] == 0 && cfg.dns_port == 53);
	write_text("config.json", "{\"publishAddress\": \"192.0.2.10\", \"dnsZone\": \"apps.example\", "
				  "\"defaultSubnet\": \"10.50.0.0/16\", \"dnsPort\": 5353}");
	CHECK(net_config_load(root, NULL, &cfg, &err) == 0);
	CHECK(!strcmp(cfg.publish_address, "192.0.2.10") && !strcmp(cfg.zone, "apps.example"));
	CHECK(!strcmp(cfg.default_subnet, "10.50.0.0/16") && cfg.dns_port == 5353);
	struct net_settings set = {.dns_zone = "env.zone"}; /* the edge's settings win */
	CHECK(net_config_load(root, &set, &cfg, &err) == 0 && !strcmp(cfg.zone, "env.zone"));
	set.default_subnet = "10.50.0.1/16";
	CHECK(net_config_load(root, &set, &cfg, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "CAPSID_DEFAULT_SUBNET: default subnet \"10.50.0.1/16\"");
	write_text("config.json", "{\"dnsZone\": \"Bad..Zone\"}");
	CHECK(net_config_load(root, NULL, &cfg, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "config.json: DNS zone \"Bad..Zone\" is not a lowercase domain name");
	write_text("config.json", "{\"dnsPort\": 70000}");
	CHECK(net_config_load(root, NULL, &cfg, &err) == -EINVAL);
	CHECK(net_config_load("relative", NULL, &cfg, &err) == -EINVAL);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/networks/config.json", root);
	unlink(path);

	/* A changed default subnet applies only while no group holds an address. */
	struct net_state st = {0};
	CHECK(net_config_load(root, NULL, &cfg, &err) == 0 && net_state_ensure_default(&cfg, &st, &err) == 0);
	snprintf(cfg.default_subnet, sizeof(cfg.default_subnet), "10.77.0.0/16");
	CHECK(net_state_ensure_default(&cfg, &st, &err) == 0 && st.networks[0].subnet == 0x0a4d0000);
	add_group(&st, "g", "default", 0x0a4d0002);
	snprintf(cfg.default_subnet, sizeof(cfg.default_subnet), "10.78.0.0/16");
	CHECK(net_state_ensure_default(&cfg, &st, &err) == 0 && st.networks[0].subnet == 0x0a4d0000);
	net_state_free(&st);
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/test_net_store.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	unsetenv("CAPSID_PUBLISH_ADDRESS");
	unsetenv("CAPSID_DNS_ZONE");
	unsetenv("CAPSID_DEFAULT_SUBNET");
	unsetenv("CAPSID_DNS_PORT");
	RUN_TEST(test_addresses_and_names);
	RUN_TEST(test_ipam);
	RUN_TEST(test_conflicts);
	RUN_TEST(test_hostile_state_files);
	RUN_TEST(test_lock_and_atomicity);
	RUN_TEST(test_config_layers);
	util_rm_rf(root);
	TEST_EXIT();
}
