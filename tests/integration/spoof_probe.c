/* A hostile container's packets for integration.redteam_network, sent on
 * the guest's interface through a packet socket (CAP_NET_RAW, which
 * containers have by default): each a UDP datagram to DST_IP:DST_PORT
 * behind the Ethernet broadcast address, its payload naming it:
 *   legit-<tag>     the container's own MAC and IP (the control)
 *   spoofmac-<tag>  SPOOF_MAC as the Ethernet source
 *   spoofip-<tag>   its own MAC, SPOOF_IP as the IP source
 * and an ARP reply claiming SPOOF_IP for its own MAC; three rounds.
 * No libc (x86-64 system calls, _start of its own): a few KiB, so the test
 * hands it to the container in a secret volume.
 * usage: spoof_probe IFACE DST_IP DST_PORT SPOOF_IP SPOOF_MAC TAG */
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/sockios.h>
#include <linux/udp.h>
#include <stddef.h>
#include <stdint.h>

static long sys(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

enum { SYS_WRITE = 1, SYS_IOCTL = 16, SYS_NANOSLEEP = 35, SYS_SOCKET = 41, SYS_SENDTO = 44, SYS_EXIT = 60 };

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static void say(const char *s)
{
	sys(SYS_WRITE, 1, (long)s, (long)slen(s), 0, 0, 0);
}

static __attribute__((noreturn)) void quit(int code)
{
	for (;;)
		sys(SYS_EXIT, code, 0, 0, 0, 0, 0);
}

static void *mcpy(void *d, const void *s, size_t n)
{
	uint8_t *dd = d;
	const uint8_t *ss = s;
	while (n--)
		*dd++ = *ss++;
	return d;
}

/* The compiler may emit calls to these for struct initialisers. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n)
{
	uint8_t *p = d;
	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	return mcpy(d, s, n);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		int h = hexval(s[0]), l = hexval(s[1]);
		if (h < 0 || l < 0 || (i < 5 && s[2] != ':'))
			return -1;
		mac[i] = (uint8_t)(h << 4 | l);
		s += 3;
	}
	return 0;
}

static int parse_ip(const char *s, uint32_t *out)
{
	uint8_t b[4];
	for (int i = 0; i < 4; i++) {
		unsigned v = 0, digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 3)
			v = v * 10 + (unsigned)(*s++ - '0'), digits++;
		if (!digits || v > 255 || (i < 3 ? *s++ != '.' : *s != '\0'))
			return -1;
		b[i] = (uint8_t)v;
	}
	mcpy(out, b, 4); /* network order, as on the wire */
	return 0;
}

static uint16_t be16(unsigned v)
{
	return (uint16_t)((v >> 8 & 0xff) | (v & 0xff) << 8);
}

static uint16_t csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return be16(~sum & 0xffff);
}

static char *cat(char *d, const char *a, const char *b)
{
	size_t n = slen(a);
	mcpy(d, a, n);
	mcpy(d + n, b, slen(b) + 1);
	return d;
}

static int send_frame(int fd, struct sockaddr_ll *to, const void *buf, size_t len)
{
	return sys(SYS_SENDTO, fd, (long)buf, (long)len, 0, (long)to, sizeof(*to)) == (long)len ? 0 : -1;
}

static int send_udp(int fd, struct sockaddr_ll *to, const uint8_t src_mac[6], uint32_t src_ip,
		    uint32_t dst_ip, unsigned port, const char *payload)
{
	uint8_t buf[256] = {0};
	size_t plen = slen(payload);
	struct ethhdr *eh = (struct ethhdr *)buf;
	memset(eh->h_dest, 0xff, 6);
	mcpy(eh->h_source, src_mac, 6);
	eh->h_proto = be16(ETH_P_IP);
	struct iphdr *ip = (struct iphdr *)(buf + sizeof(*eh));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = be16((unsigned)(sizeof(*ip) + sizeof(struct udphdr) + plen));
	ip->saddr = src_ip;
	ip->daddr = dst_ip;
	ip->check = csum(ip, sizeof(*ip));
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	udp->source = be16(40000);
	udp->dest = be16(port);
	udp->len = be16((unsigned)(sizeof(*udp) + plen));
	mcpy(udp + 1, payload, plen);
	return send_frame(fd, to, buf, sizeof(*eh) + sizeof(*ip) + sizeof(*udp) + plen);
}

static int send_arp(int fd, struct sockaddr_ll *to, const uint8_t mac[6], uint32_t claimed_ip)
{
	uint8_t buf[42];
	memset(buf, 0xff, 6);
	mcpy(buf + 6, mac, 6);
	buf[12] = 0x08, buf[13] = 0x06;
	const uint8_t head[8] = {0, 1, 8, 0, 6, 4, 0, 2}; /* Ethernet, IPv4, reply */
	mcpy(buf + 14, head, 8);
	mcpy(buf + 22, mac, 6);
	mcpy(buf + 28, &claimed_ip, 4);
	memset(buf + 32, 0xff, 6);
	mcpy(buf + 38, &claimed_ip, 4);
	return send_frame(fd, to, buf, sizeof(buf));
}

static int run(int argc, char **argv)
{
	if (argc != 7) {
		say("usage: spoof_probe IFACE DST_IP DST_PORT SPOOF_IP SPOOF_MAC TAG\n");
		return 2;
	}
	uint32_t dst_ip, spoof_ip;
	uint8_t spoof_mac[6];
	unsigned port = 0;
	for (const char *p = argv[3]; *p >= '0' && *p <= '9'; p++)
		port = port * 10 + (unsigned)(*p - '0');
	if (parse_ip(argv[2], &dst_ip) < 0 || parse_ip(argv[4], &spoof_ip) < 0 ||
	    parse_mac(argv[5], spoof_mac) < 0 || !port || port > 65535) {
		say("spoof_probe: bad address, port or MAC\n");
		return 2;
	}
	int fd = (int)sys(SYS_SOCKET, AF_PACKET, SOCK_RAW, be16(ETH_P_ALL), 0, 0, 0);
	int ufd = (int)sys(SYS_SOCKET, AF_INET, SOCK_DGRAM, 0, 0, 0, 0);
	if (fd < 0 || ufd < 0) {
		say("spoof_probe: no packet socket\n");
		return 1;
	}
	struct ifreq ifr = {0};
	mcpy(ifr.ifr_name, argv[1], slen(argv[1]) < IFNAMSIZ ? slen(argv[1]) : IFNAMSIZ - 1);
	if (sys(SYS_IOCTL, fd, SIOCGIFHWADDR, (long)&ifr, 0, 0, 0) < 0) {
		say("spoof_probe: no such interface\n");
		return 1;
	}
	uint8_t own_mac[6];
	mcpy(own_mac, ifr.ifr_hwaddr.sa_data, 6);
	if (sys(SYS_IOCTL, ufd, SIOCGIFADDR, (long)&ifr, 0, 0, 0) < 0 ||
	    sys(SYS_IOCTL, fd, SIOCGIFINDEX, (long)&ifr, 0, 0, 0) < 0) {
		say("spoof_probe: no address or index\n");
		return 1;
	}
	uint32_t own_ip;
	/* SIOCGIFINDEX overwrote the union: read the address first. */
	struct ifreq ifa = {0};
	mcpy(ifa.ifr_name, ifr.ifr_name, IFNAMSIZ);
	sys(SYS_IOCTL, ufd, SIOCGIFADDR, (long)&ifa, 0, 0, 0);
	mcpy(&own_ip, &((struct sockaddr_in *)&ifa.ifr_addr)->sin_addr, 4);
	struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = ifr.ifr_ifindex, .sll_halen = 6};
	memset(to.sll_addr, 0xff, 6);
	char p[128];
	int bad = 0;
	for (int round = 0; round < 3; round++) {
		bad |= send_udp(fd, &to, own_mac, own_ip, dst_ip, port, cat(p, "legit-", argv[6]));
		bad |= send_udp(fd, &to, spoof_mac, own_ip, dst_ip, port, cat(p, "spoofmac-", argv[6]));
		bad |= send_udp(fd, &to, own_mac, spoof_ip, dst_ip, port, cat(p, "spoofip-", argv[6]));
		bad |= send_arp(fd, &to, own_mac, spoof_ip);
		const long ts[2] = {0, 200000000}; /* struct timespec */
		sys(SYS_NANOSLEEP, (long)ts, 0, 0, 0, 0, 0);
	}
	say(bad ? "spoof_probe: a send failed\n" : "sent\n");
	return bad ? 1 : 0;
}

__attribute__((used)) static void start_c(long *sp)
{
	quit(run((int)sp[0], (char **)(sp + 1)));
}

__asm__(".text\n.global _start\n_start:\n\txor %rbp, %rbp\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall "
	"start_c\n\thlt\n");
