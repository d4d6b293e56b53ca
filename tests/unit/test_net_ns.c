/* Networking against a real kernel, inside a network namespace this test
 * creates (unshare(CLONE_NEWNET) first thing; nothing reaches the host's
 * namespace). Needs root; skips (exit 77) otherwise.
 *
 * A "guest" here is the test itself holding a group's tap open: it writes
 * Ethernet frames as a guest would send them and reads what the host sends
 * to the guest. That exercises the bridge, the tap and every nftables rule
 * (anti-spoofing, isolation, DNAT, masquerade, DNS) without a VM.
 *
 * The namespace gets an "uplink0" interface holding the publish address
 * 192.0.2.1/24 and the default route, like a host's public side. It is a
 * tap too (this kernel has no dummy links), held open by the test so that
 * it has carrier and egress frames can be read from it.
 *
 * This binary is also the DNS responder the library starts on demand: it
 * runs net_dns_main() when called as `test_net_ns --root ROOT __dns`. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "net_internal.h"
#include "testlib.h"
#include "util.h"

static char root[64];
static struct net_config cfg;
static int uplink_fd = -1;

static bool sh(const char *cmd)
{
	int rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "  command failed (%d): %s\n", rc, cmd);
	return rc == 0;
}

/* Output of a command (at most 64 KiB), for `nft list` checks. */
static char *capture(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return strdup("");
	char *buf = calloc(1, 65536);
	size_t n = buf ? fread(buf, 1, 65535, p) : 0;
	(void)n;
	pclose(p);
	return buf;
}

static bool link_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

static bool tables_present(void)
{
	_cleanup_free_ char *t = capture("nft list tables 2>&1");
	return t && strstr(t, "capsid");
}

static bool dns_lock_free(void)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/networks/" NET_DNS_LOCK, root);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return true;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return false;
	flock(fd, LOCK_UN);
	return true;
}

static bool wait_dns_exit(void)
{
	for (int i = 0; i < 100; i++) {
		if (dns_lock_free())
			return true;
		usleep(50 * 1000);
	}
	return false;
}

static unsigned state_groups(void)
{
	struct net_state st = {0};
	struct capsid_error err = {0};
	unsigned n = net_store_load(&cfg, &st, &err) == 0 ? (unsigned)st.n_groups : 9999;
	net_state_free(&st);
	return n;
}

static int attach(const char *group, const char *network, bool pub, const struct net_port *ports, size_t n,
		  const char *label, struct net_attachment *att, struct capsid_error *err)
{
	struct net_attach_request req = {.group = group,
					 .network = network,
					 .public_ip = pub,
					 .ports = ports,
					 .n_ports = n,
					 .dns_label = label};
	return net_attach(&cfg, &req, att, err);
}

/* ---- a fake guest: the test on the other side of a tap ------------------- */

struct ns_guest {
	int fd; /* the group's tap, opened as QEMU opens it */
	uint8_t mac[6], gw_mac[6];
	uint32_t ip, gateway;
	uint32_t last_src; /* source of the last frame ns_wait_udp matched */
};

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int hwaddr(const char *ifname, uint8_t mac[6])
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

static int ns_guest_open(struct ns_guest *g, const struct net_attachment *a)
{
	*g = (struct ns_guest){.fd = -1};
	if (net_parse_mac(a->mac, g->mac) < 0 || net_parse_ipv4(a->ip, &g->ip) < 0 ||
	    net_parse_ipv4(a->gateway, &g->gateway) < 0 || hwaddr(a->bridge, g->gw_mac) < 0)
		return -EINVAL;
	g->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", a->tap);
	if (g->fd < 0 || ioctl(g->fd, TUNSETIFF, &ifr) < 0)
		return -errno;
	/* The host learns guests' MACs by ARP; a static entry keeps the test
	 * free of ARP traffic on the taps. */
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "ip neigh replace %s lladdr %s dev %s nud permanent", a->ip, a->mac,
		 a->bridge);
	return sh(cmd) ? 0 : -EIO;
}

static void ns_guest_close(struct ns_guest *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
}

static uint16_t ip_checksum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An Ethernet + IPv4 + UDP frame (UDP checksum 0: none, valid for IPv4). */
static size_t udp_frame(uint8_t *f, const uint8_t src_mac[6], const uint8_t dst_mac[6], uint32_t src,
			uint32_t dst, uint16_t sport, uint16_t dport, uint16_t csum, const void *data,
			size_t len)
{
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)(28 + len));
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, ip_checksum(ip, 20));
	put16(ip + 20, sport);
	put16(ip + 22, dport);
	put16(ip + 24, (unsigned)(8 + len));
	put16(ip + 26, csum); /* 0: none, valid for IPv4 */
	memcpy(ip + 28, data, len);
	return 42 + len;
}

static void ns_send_csum(const struct ns_guest *g, const uint8_t dst_mac[6], uint32_t dst, uint16_t sport,
			 uint16_t dport, uint16_t csum, const void *data, size_t len)
{
	uint8_t f[1500];
	size_t n = udp_frame(f, g->mac, dst_mac, g->ip, dst, sport, dport, csum, data, len);
	if (write(g->fd, f, n) != (ssize_t)n)
		fprintf(stderr, "  tap write: %s\n", strerror(errno));
}

static void ns_send(const struct ns_guest *g, const uint8_t dst_mac[6], uint32_t dst, uint16_t sport,
		    uint16_t dport, const void *data, size_t len)
{
	ns_send_csum(g, dst_mac, dst, sport, dport, 0, data, len);
}

/* Wait for a UDP frame to dport on the guest's tap; payload optional. */
static bool ns_wait_udp(struct ns_guest *g, uint16_t dport, int timeout_ms, uint8_t *payload, size_t *plen)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		uint64_t now = util_now_ms();
		if (now >= deadline)
			return false;
		struct pollfd p = {.fd = g->fd, .events = POLLIN};
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		uint8_t f[2048];
		ssize_t n = read(g->fd, f, sizeof(f));
		if (n < 42 || f[12] != 0x08 || f[13] != 0 || f[23] != IPPROTO_UDP)
			continue;
		size_t ihl = (size_t)(f[14] & 0xf) * 4;
		if ((size_t)n < 14 + ihl + 8 || (unsigned)(f[14 + ihl + 2] << 8 | f[14 + ihl + 3]) != dport)
			continue;
		g->last_src = get32(f + 26);
		if (payload) {
			size_t len = (size_t)n - 14 - ihl - 8;
			memcpy(payload, f + 14 + ihl + 8, len < *plen ? len : *plen);
			*plen = len < *plen ? len : *plen;
		}
		return true;
	}
}

/* A DNS query for name; the answer's rcode, and its A record in *addr. */
static size_t dns_query_packet(uint8_t *q, const char *name)
{
	static const uint8_t hdr[12] = {0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
	memcpy(q, hdr, 12);
	size_t o = 12;
	while (*name) {
		size_t l = strcspn(name, ".");
		q[o++] = (uint8_t)l;
		memcpy(q + o, name, l);
		o += l;
		name += l + (name[l] == '.');
	}
	memcpy(q + o, (uint8_t[5]){0, 0, 1, 0, 1}, 5);
	return o + 5;
}

static int dns_parse_answer(const uint8_t *r, size_t n, size_t qlen, uint32_t *addr)
{
	if (n < 12 || r[0] != 0xab || r[1] != 0xcd)
		return -EBADMSG;
	int rcode = r[3] & 0xf;
	if (rcode == 0 && (r[6] << 8 | r[7]) == 1 && n >= qlen + 16)
		*addr = get32(r + qlen + 12);
	return rcode;
}

static int ns_guest_dns(struct ns_guest *g, const char *name, uint32_t *addr)
{
	uint8_t q[300], r[600];
	size_t qlen = dns_query_packet(q, name), rlen = sizeof(r);
	ns_send(g, g->gw_mac, g->gateway, 40053, 53, q, qlen);
	if (!ns_wait_udp(g, 40053, 1000, r, &rlen))
		return -ETIMEDOUT;
	return dns_parse_answer(r, rlen, qlen, addr);
}

static int ns_dns_query(uint32_t server, uint16_t port, const char *name, uint32_t *addr)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint8_t q[300], r[600];
	size_t qlen = dns_query_packet(q, name);
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(server)};
	if (s < 0 || sendto(s, q, qlen, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	struct pollfd p = {.fd = s, .events = POLLIN};
	if (poll(&p, 1, 2000) <= 0)
		return -ETIMEDOUT;
	ssize_t n = recv(s, r, sizeof(r), 0);
	return n < 0 ? -errno : dns_parse_answer(r, (size_t)n, qlen, addr);
}

/* Does a datagram from the guest to host_ip:port reach a host socket? */
static bool ns_host_receives(struct ns_guest *g, uint32_t host_ip, uint16_t port, bool expect)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(host_ip)};
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return false;
	ns_send(g, g->gw_mac, host_ip, 41000, port, "ping", 4);
	struct pollfd p = {.fd = s, .events = POLLIN};
	bool got = poll(&p, 1, expect ? 2000 : 400) > 0;
	return got == expect;
}

static bool ns_guest_send_expect(struct ns_guest *from, const uint8_t dst_mac[6], uint32_t dst,
				 uint16_t dport, struct ns_guest *to, bool expect)
{
	ns_send(from, dst_mac, dst, 42000, dport, "data", 4);
	bool got = ns_wait_udp(to, dport, expect ? 2000 : 400, NULL, NULL);
	return got == expect;
}

static bool ns_host_send_expect(uint32_t dst, uint16_t port, struct ns_guest *to, bool expect)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(dst)};
	if (s < 0 || sendto(s, "host", 4, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return false;
	bool got = ns_wait_udp(to, port, expect ? 2000 : 400, NULL, NULL);
	return got == expect;
}

/* Does the guest's datagram to dst leave through uplink0, and masqueraded?
 * csum: its UDP checksum (0: none; anything else here is wrong). */
static bool ns_egress_seen(struct ns_guest *g, uint32_t dst, uint16_t csum, bool expect)
{
	uint8_t f[2048];
	while (read(uplink_fd, f, sizeof(f)) > 0) /* drain what came before */
		;
	ns_send_csum(g, g->gw_mac, dst, 43000, 6000, csum, "out", 3);
	uint64_t deadline = util_now_ms() + (expect ? 2000 : 400);
	while (util_now_ms() < deadline) {
		struct pollfd p = {.fd = uplink_fd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = read(uplink_fd, f, sizeof(f));
		if (n >= 34 && f[12] == 0x08 && f[13] == 0 && get32(f + 30) == dst)
			return expect && get32(f + 26) == 0xc0000201; /* masqueraded to uplink0's address */
	}
	return !expect;
}

static int open_uplink(void)
{
	if (!sh("ip tuntap add dev uplink0 mode tap && ip link set uplink0 address 02:00:00:00:00:01 && "
		"ip addr add 192.0.2.1/24 dev uplink0 && ip link set uplink0 up && "
		"ip neigh add 192.0.2.254 lladdr 02:00:00:00:00:fe dev uplink0 nud permanent && "
		"ip route add default via 192.0.2.254 && ip route add 169.254.0.0/16 via 192.0.2.254"))
		return -1;
	net_sysctl_write("/proc/sys/net/ipv6/conf/uplink0/disable_ipv6", "1");
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "uplink0");
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0)
		return -1;
	return fd;
}

/* A gratuitous ARP (broadcast) from g claiming `claimed`: does `other`,
 * on the same bridge, see it? */
static bool ns_arp_seen(struct ns_guest *g, uint32_t claimed, struct ns_guest *other)
{
	uint8_t f[42];
	memset(f, 0xff, 6);
	memcpy(f + 6, g->mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);      /* ethernet */
	put16(f + 16, 0x0800); /* IPv4 */
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 2); /* reply */
	memcpy(f + 22, g->mac, 6);
	put32(f + 28, claimed);
	memset(f + 32, 0xff, 6);
	put32(f + 38, claimed);
	if (write(g->fd, f, sizeof(f)) != (ssize_t)sizeof(f))
		return false;
	uint64_t deadline = util_now_ms() + 600;
	while (util_now_ms() < deadline) {
		struct pollfd p = {.fd = other->fd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		uint8_t r[2048];
		ssize_t n = read(other->fd, r, sizeof(r));
		if (n >= 42 && r[12] == 0x08 && r[13] == 0x06 && get32(r + 28) == claimed)
			return true;
	}
	return false;
}

static void ns_kill_responder(const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/networks/" NET_DNS_LOCK, dir);
	_cleanup_free_ char *pid = NULL;
	if (!dns_lock_free() && util_read_file_at(AT_FDCWD, path, 64, &pid, NULL) == 0 && atoi(pid) > 1) {
		fprintf(stderr, "  a DNS responder (pid %d) was still running: stopped\n", atoi(pid));
		kill(atoi(pid), SIGTERM);
		test_failures++;
	}
}

/* ---- tests ---------------------------------------------------------------- */

static void test_nft_apply_and_remove(void)
{
	struct net_state st = {0};
	struct capsid_error err = {0};
	CHECK(net_state_add_network(&st, "default", 0x0a580000, 16, true, &err) == 0);
	st.groups = calloc(1, sizeof(*st.groups));
	st.n_groups = 1;
	st.groups[0] = (struct net_group){.name = "g",
					  .network = "default",
					  .id = 1,
					  .ip = 0x0a580002,
					  .mac = {0x52, 0x54, 0, 1, 2, 3},
					  .public_ip = true,
					  .n_ports = 1,
					  .ports = {{80, IPPROTO_TCP}}};
	_cleanup_free_ char *text = NULL;
	CHECK(net_nft_render(&st, 0xc0000201, &text, &err) == 0);
	CHECK(net_nft_run(text, true, &err) == 0); /* kernel accepts it */
	CHECK(!tables_present());		   /* dry run changed nothing */
	CHECK(net_nft_apply_state(&st, 0xc0000201, &err) == 0);
	_cleanup_free_ char *rules = capture("nft list ruleset 2>&1");
	CHECK_STR_CONTAINS(rules, "table inet capsid");
	CHECK_STR_CONTAINS(rules, "table bridge capsid");
	CHECK_STR_CONTAINS(rules, "ip daddr 192.0.2.1 tcp dport 80 dnat ip to 10.88.0.2");
	/* Applying again replaces, never duplicates. */
	CHECK(net_nft_apply_state(&st, 0xc0000201, &err) == 0);
	_cleanup_free_ char *again = capture("nft list ruleset 2>&1");
	CHECK(again && rules && !strcmp(again, rules));
	/* A broken transaction changes nothing and says why. */
	CHECK(net_nft_run("table inet capsid { chain x { bogus } }", false, &err) == -EIO);
	CHECK_STR_CONTAINS(err.msg, "nftables: ");
	_cleanup_free_ char *same = capture("nft list ruleset 2>&1");
	CHECK(same && rules && !strcmp(same, rules));
	st.n_groups = 0;
	CHECK(net_nft_apply_state(&st, 0, &err) == 0);
	CHECK(!tables_present());
	net_state_free(&st);
}

static void test_attach_and_conflicts(void)
{
	struct capsid_error err = {0};
	struct net_attachment web, tmp;
	struct net_port p80 = {80, IPPROTO_TCP};
	CHECK(attach("web", NULL, true, &p80, 1, "shop", &web, &err) == 0);
	if (err.code)
		fprintf(stderr, "  %s\n", err.msg);
	CHECK(!strcmp(web.tap, "capsid-t1") && !strcmp(web.bridge, "capsid-br0") &&
	      !strcmp(web.ip, "10.88.0.2"));
	CHECK(web.prefix == 16 && !strcmp(web.gateway, "10.88.0.1") && !strcmp(web.dns_server, "10.88.0.1"));
	CHECK(!strcmp(web.fqdn, "shop.capsid.local") && !strcmp(web.public_ip, "192.0.2.1"));
	CHECK(!strncmp(web.mac, "52:54:00:", 9));
	CHECK(link_exists("capsid-t1") && link_exists("capsid-br0") && tables_present() && !dns_lock_free());
	_cleanup_free_ char *br = capture("ip -o addr show dev capsid-br0 2>&1");
	CHECK_STR_CONTAINS(br, "inet 10.88.0.1/16");
	_cleanup_free_ char *master = capture("ip -o link show dev capsid-t1 2>&1");
	CHECK_STR_CONTAINS(master, "master capsid-br0");

	/* Conflicts fail cleanly: error names the other group, nothing made. */
	CHECK(attach("api", NULL, true, &p80, 1, NULL, &tmp, &err) == -EADDRINUSE);
	CHECK_STR_CONTAINS(err.msg, "port 80/TCP on the publish address is already used by group \"web\"");
	CHECK(attach("blog", NULL, false, NULL, 0, "shop", &tmp, &err) == -EADDRINUSE);
	CHECK_STR_CONTAINS(err.msg, "DNS name label \"shop\" is already used by group \"web\"");
	CHECK(attach("blog", "nonet", false, NULL, 0, NULL, &tmp, &err) == -ENOENT);
	CHECK_STR_CONTAINS(err.msg, "network \"nonet\" does not exist");
	struct net_attach_request req = {.group = "blog", .requested_ip = "10.88.0.2"};
	CHECK(net_attach(&cfg, &req, &tmp, &err) == -EADDRINUSE);
	CHECK(state_groups() == 1 && !link_exists("capsid-t2"));

	/* Attaching again keeps address, MAC and tap; another network is refused. */
	CHECK(attach("web", NULL, true, &p80, 1, "shop", &tmp, &err) == 0);
	CHECK(!strcmp(tmp.ip, web.ip) && !strcmp(tmp.mac, web.mac) && !strcmp(tmp.tap, web.tap));
	CHECK(net_network_create(&cfg, "other", "10.89.0.0/24", true, &err) == 0);
	CHECK(attach("web", "other", false, NULL, 0, NULL, &tmp, &err) == -EEXIST);
	CHECK(net_lookup(&cfg, "web", &tmp, &err) == 0 && !strcmp(tmp.ip, "10.88.0.2"));
	CHECK(net_lookup(&cfg, "nobody", &tmp, &err) == -ENOENT);

	/* Removal of a network in use is refused, then allowed. */
	CHECK(attach("db", "other", false, NULL, 0, NULL, &tmp, &err) == 0);
	CHECK(!strcmp(tmp.bridge, "capsid-br1") && !strcmp(tmp.ip, "10.89.0.2") && link_exists("capsid-br1"));
	CHECK(net_network_remove(&cfg, "other", &err) == -EBUSY);
	CHECK(!strcmp(err.msg, "network \"other\" is used by 1 group: \"db\""));
	CHECK(net_detach(&cfg, "db", &err) == 0 && !link_exists("capsid-br1") && link_exists("capsid-br0"));
	CHECK(net_network_remove(&cfg, "other", &err) == 0);

	/* The DNS responder answers from the host, on loopback's port. */
	uint32_t a = 0;
	CHECK(ns_dns_query(0x7f000001, cfg.dns_port, "shop.capsid.local", &a) == 0 && a == 0xc0000201);
	CHECK(ns_dns_query(0x7f000001, cfg.dns_port, "SHOP.capsid.local", &a) == 0 && a == 0xc0000201);
	CHECK(ns_dns_query(0x7f000001, cfg.dns_port, "nope.capsid.local", &a) == 3); /* NXDOMAIN */
	CHECK(ns_dns_query(0x7f000001, cfg.dns_port, "example.com", &a) == 5);	     /* REFUSED */

	/* Detach removes everything; twice is fine. */
	CHECK(net_detach(&cfg, "web", &err) == 0);
	CHECK(!link_exists("capsid-t1") && !link_exists("capsid-br0") && !tables_present());
	CHECK(state_groups() == 0 && wait_dns_exit());
	CHECK(net_detach(&cfg, "web", &err) == 0);
}

/* Traffic through the rules, with the test playing the guests. */
static void test_traffic(void)
{
	struct capsid_error err = {0};
	CHECK(net_network_create(&cfg, "blue", "10.89.0.0/24", true, &err) == 0);
	CHECK(net_network_create(&cfg, "closed", "10.90.0.0/24", false, &err) == 0);
	struct net_port a_ports[] = {{5353, IPPROTO_UDP}}, b_ports[] = {{7000, IPPROTO_UDP}};
	struct net_attachment A, B, C, D;
	struct net_port a_service = {9999, IPPROTO_UDP};
	struct net_attach_request ra = {.group = "ga",
					.public_ip = true,
					.ports = a_ports,
					.n_ports = 1,
					.dns_label = "alpha",
					.host_services = &a_service,
					.n_host_services = 1};
	CHECK(net_attach(&cfg, &ra, &A, &err) == 0);
	CHECK(attach("gb", "blue", true, b_ports, 1, NULL, &B, &err) == 0);
	CHECK(attach("gc", NULL, false, NULL, 0, NULL, &C, &err) == 0);
	CHECK(attach("gd", "closed", false, NULL, 0, NULL, &D, &err) == 0);
	if (err.code)
		fprintf(stderr, "  %s\n", err.msg);
	struct ns_guest ga, gb, gc, gd;
	CHECK(ns_guest_open(&ga, &A) == 0 && ns_guest_open(&gb, &B) == 0 && ns_guest_open(&gc, &C) == 0 &&
	      ns_guest_open(&gd, &D) == 0);

	/* DNS from a guest, to its gateway: answered. */
	uint32_t addr = 0;
	int dns_rc = ns_guest_dns(&ga, "alpha.capsid.local", &addr);
	CHECK(dns_rc == 0 && addr == 0xc0000201);
	if (dns_rc != 0) {
		char cmd[200];
		snprintf(cmd, sizeof(cmd), "cat %s/networks/dns.log", root);
		sh(cmd);
	}
	CHECK(ns_guest_dns(&gb, "alpha.capsid.local", &addr) == 0 && addr == 0xc0000201);
	CHECK(ns_guest_dns(&gd, "nothing.capsid.local", &addr) == 3);
	/* Forged source IP or MAC, or another group's address: dropped
	 * before anything answers. */
	struct ns_guest forged = ga;
	forged.ip = 0x0a580063;
	CHECK(ns_guest_dns(&forged, "alpha.capsid.local", &addr) == -ETIMEDOUT);
	forged = ga;
	forged.mac[5] ^= 1;
	CHECK(ns_guest_dns(&forged, "alpha.capsid.local", &addr) == -ETIMEDOUT);
	forged = ga;
	forged.ip = gc.ip;
	CHECK(ns_guest_dns(&forged, "alpha.capsid.local", &addr) == -ETIMEDOUT);
	/* ARP: announcing its own address reaches the neighbour; claiming the
	 * neighbour's address does not. */
	CHECK(ns_arp_seen(&ga, ga.ip, &gc));
	CHECK(!ns_arp_seen(&ga, gc.ip, &gc));

	/* Guest -> host: only its allowed service, only on its gateway. */
	CHECK(ns_host_receives(&ga, ga.gateway, 9999, true));
	CHECK(ns_host_receives(&gc, gc.gateway, 9999, false));
	CHECK(ns_host_receives(&ga, 0xc0000201, 9999, false));
	CHECK(ns_host_receives(&gb, gb.gateway, 9999, false));

	/* Same network: guests talk directly. */
	CHECK(ns_guest_send_expect(&ga, gc.mac, gc.ip, 4000, &gc, true));
	/* Another network: not directly... */
	CHECK(ns_guest_send_expect(&ga, ga.gw_mac, gb.ip, 7000, &gb, false));
	/* ...but through its published port, like any client (hairpin: the
	 * source becomes the target network's gateway). */
	CHECK(ns_guest_send_expect(&ga, ga.gw_mac, 0xc0000201, 7000, &gb, true));
	CHECK(gb.last_src == gb.gateway);
	/* A port that is not published reaches nobody; a Private group is
	 * not reachable from another network either. */
	CHECK(ns_guest_send_expect(&ga, ga.gw_mac, 0xc0000201, 7001, &gb, false));
	CHECK(ns_guest_send_expect(&gb, gb.gw_mac, gc.ip, 4000, &gc, false));

	/* The host's own connection to a published port (output DNAT). */
	CHECK(ns_host_send_expect(0xc0000201, 5353, &ga, true));
	CHECK(ns_host_send_expect(0xc0000201, 5354, &ga, false));

	/* Egress: masqueraded out of uplink0 for "default", nothing for
	 * "closed", and never to the metadata range. */
	CHECK(ns_egress_seen(&ga, 0xc6336407, 0, true)); /* 198.51.100.7 */
	CHECK(ns_egress_seen(&gd, 0xc6336407, 0, false));
	CHECK(ns_egress_seen(&ga, 0xa9fea9fe, 0, false)); /* 169.254.169.254 */
	/* A packet conntrack calls invalid (bad checksum) skips NAT: it must
	 * not leave with the guest's internal address. */
	CHECK(ns_egress_seen(&ga, 0xc6336408, 0x1234, false));

	ns_guest_close(&ga);
	ns_guest_close(&gb);
	ns_guest_close(&gc);
	ns_guest_close(&gd);
	static const char *const groups[] = {"ga", "gb", "gc", "gd"};
	for (size_t i = 0; i < ARRAY_SIZE(groups); i++)
		CHECK(net_detach(&cfg, groups[i], &err) == 0);
	CHECK(!tables_present() && state_groups() == 0 && wait_dns_exit());
	CHECK(net_network_remove(&cfg, "blue", &err) == 0 && net_network_remove(&cfg, "closed", &err) == 0);
}

/* No leaks: many create/delete cycles, a monitor killed mid-life, and a
 * crash's leftovers removed by reconcile. */
static void test_cycles_and_crashes(void)
{
	struct capsid_error err = {0};
	struct net_attachment att;
	struct net_port p = {8080, IPPROTO_TCP};
	int failures = 0;
	for (int i = 0; i < 100; i++) {
		char name[16];
		snprintf(name, sizeof(name), "cycle%d", i % 3);
		if (attach(name, NULL, true, &p, 1, "cycle", &att, &err) < 0 ||
		    net_detach(&cfg, name, &err) < 0) {
			if (failures++ < 3)
				fprintf(stderr, "  cycle %d: %s\n", i, err.msg);
		}
	}
	CHECK(failures == 0);
	_cleanup_free_ char *links = capture("ip -o link show 2>&1");
	CHECK(links && !strstr(links, "capsid-"));
	CHECK(!tables_present() && state_groups() == 0 && wait_dns_exit());

	/* A "monitor" attaches and is SIGKILLed; deleting the group cleans up. */
	pid_t pid = fork();
	if (pid == 0) {
		struct capsid_error e = {0};
		struct net_attachment a;
		if (attach("killed", NULL, true, &p, 1, "killed", &a, &e) == 0)
			raise(SIGKILL);
		_exit(1);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(link_exists("capsid-t1") && tables_present());
	CHECK(net_detach(&cfg, "killed", &err) == 0);
	CHECK(!link_exists("capsid-t1") && !link_exists("capsid-br0") && !tables_present() &&
	      wait_dns_exit());

	/* Leftovers of a crash between kernel changes and the store. */
	CHECK(sh("ip tuntap add dev capsid-t77 mode tap && ip link add capsid-br9 type bridge"));
	CHECK(attach("keep", NULL, false, NULL, 0, NULL, &att, &err) == 0);
	CHECK(sh("ip link set capsid-t1 nomaster")); /* and a known tap knocked off its bridge */
	CHECK(net_reconcile(&cfg, &err) == 0);
	CHECK(!link_exists("capsid-t77") && !link_exists("capsid-br9") && link_exists("capsid-t1"));
	_cleanup_free_ char *master = capture("ip -o link show dev capsid-t1 2>&1");
	CHECK_STR_CONTAINS(master, "master capsid-br0");
	CHECK(net_detach(&cfg, "keep", &err) == 0 && net_reconcile(&cfg, &err) == 0);
	CHECK(!tables_present() && !link_exists("capsid-br0") && wait_dns_exit());
}

static void test_publish_autodetect(void)
{
	struct net_config auto_cfg = cfg;
	auto_cfg.publish_address[0] = '\0';
	uint32_t a = 0;
	struct capsid_error err = {0};
	CHECK(net_publish_address(&auto_cfg, &a, &err) == 0 && a == 0xc0000201);
	CHECK(sh("ip route del default"));
	CHECK(net_publish_address(&auto_cfg, &a, &err) == -EADDRNOTAVAIL);
	CHECK_STR_CONTAINS(err.msg, "set CAPSID_PUBLISH_ADDRESS");
	CHECK(sh("ip route add default via 192.0.2.254"));
}

/* The state root removed under a running responder: it stops, without
 * creating the directory again; reconcile then clears the kernel. */
static void test_root_removed(void)
{
	struct capsid_error err = {0};
	struct net_attachment att;
	CHECK(attach("orphan", NULL, false, NULL, 0, "orphan", &att, &err) == 0);
	char lock[PATH_MAX], dir[PATH_MAX];
	snprintf(lock, sizeof(lock), "%s/networks/" NET_DNS_LOCK, root);
	snprintf(dir, sizeof(dir), "%s/networks", root);
	_cleanup_free_ char *pid = NULL;
	CHECK(util_read_file_at(AT_FDCWD, lock, 64, &pid, NULL) == 0 && pid && atoi(pid) > 1);
	CHECK(util_rm_rf(dir) == 0);
	bool gone = false;
	for (int i = 0; i < 100 && pid && !gone; i++) {
		gone = kill(atoi(pid), 0) < 0 && errno == ESRCH;
		usleep(50 * 1000);
	}
	CHECK(gone);
	CHECK(access(dir, F_OK) < 0);
	CHECK(net_reconcile(&cfg, &err) == 0);
	CHECK(!link_exists("capsid-t1") && !link_exists("capsid-br0") && !tables_present());
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--root") && !strcmp(argv[3], "__dns")) {
		/* The responder's edge: what its starter passed in the environment. */
		const struct net_settings set = {.publish_address = getenv("CAPSID_PUBLISH_ADDRESS"),
						 .dns_zone = getenv("CAPSID_DNS_ZONE"),
						 .default_subnet = getenv("CAPSID_DEFAULT_SUBNET"),
						 .dns_port = getenv("CAPSID_DNS_PORT")};
		return net_dns_main(argv[2], &set) < 0 ? 1 : 0;
	}
	if (geteuid() != 0) {
		TEST_SKIP("test_net_ns needs root (it creates a network namespace)");
		return TEST_SKIP_CODE;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 1;
	}
	if (!sh("ip link set lo up") || (uplink_fd = open_uplink()) < 0)
		return 1;
	snprintf(root, sizeof(root), "/tmp/test_net_ns.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	const struct net_settings set = {.publish_address = "192.0.2.1"};
	struct capsid_error err = {0};
	if (net_config_load(root, &set, &cfg, &err) < 0) {
		fprintf(stderr, "config: %s\n", err.msg);
		return 1;
	}
	RUN_TEST(test_nft_apply_and_remove);
	RUN_TEST(test_attach_and_conflicts);
	RUN_TEST(test_traffic);
	RUN_TEST(test_cycles_and_crashes);
	RUN_TEST(test_publish_autodetect);
	RUN_TEST(test_root_removed);
	ns_kill_responder(root);
	util_rm_rf(root);
	TEST_EXIT();
}
