/* Addresses, names, and the decisions taken on a state before anything is
 * written: IPAM, port, label and subnet conflicts, ids and MACs. Pure
 * functions, unit-tested without root. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "net_internal.h"

const char *net_protocol_name(int protocol)
{
	return protocol == IPPROTO_TCP ? "TCP" : protocol == IPPROTO_UDP ? "UDP" : "?";
}

int net_parse_ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;
	/* inet_pton accepts only the dotted-quad form: no "10.1", no octal. */
	if (!s || strlen(s) > 15 || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

void net_format_ipv4(uint32_t a, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

uint32_t net_prefix_mask(unsigned prefix)
{
	return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
}

int net_parse_cidr(const char *s, uint32_t *subnet, unsigned *prefix)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	if (!slash || slash - s > 15)
		return -EINVAL;
	char ip[16];
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	const char *p = slash + 1;
	size_t digits = strspn(p, "0123456789");
	if (digits == 0 || digits > 2 || p[digits] || (digits == 2 && p[0] == '0'))
		return -EINVAL;
	unsigned n = (unsigned)atoi(p);
	uint32_t a;
	if (n > 32 || net_parse_ipv4(ip, &a) < 0)
		return -EINVAL;
	if (a & ~net_prefix_mask(n))
		return -EINVAL; /* host bits set: 10.88.0.1/16 is an address, not a network */
	*subnet = a;
	*prefix = n;
	return 0;
}

void net_format_cidr(uint32_t subnet, unsigned prefix, char out[19])
{
	char ip[16];
	net_format_ipv4(subnet, ip);
	snprintf(out, 19, "%s/%u", ip, prefix);
}

void net_format_mac(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

int net_parse_mac(const char *s, uint8_t mac[6])
{
	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		const char *p = s + i * 3;
		if ((i < 5 && p[2] != ':') || !strchr("0123456789abcdef", p[0]) ||
		    !strchr("0123456789abcdef", p[1]) || !p[0] || !p[1])
			return -EINVAL;
		mac[i] = (uint8_t)strtoul((char[3]){p[0], p[1], 0}, NULL, 16);
	}
	return 0;
}

bool net_valid_label(const char *s)
{
	size_t len = s ? strlen(s) : 0;
	return len >= 1 && len <= NET_NAME_MAX && s[0] != '-' && s[len - 1] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

bool net_valid_network_name(const char *s)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t len = s ? strlen(s) : 0;
	return len >= 1 && len <= NET_NAME_MAX && strchr(alnum, s[0]) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

bool net_valid_zone(const char *s)
{
	size_t len = s ? strlen(s) : 0;
	if (len == 0 || len > NET_ZONE_MAX)
		return false;
	char buf[NET_ZONE_MAX + 1];
	memcpy(buf, s, len + 1);
	char *save = NULL;
	size_t labels = 0, seen = 0;
	for (char *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
		if (!net_valid_label(tok))
			return false;
		labels++;
		seen += strlen(tok) + 1;
	}
	/* strtok_r skips empty labels ("a..b", ".a", "a."): the lengths catch them. */
	return labels > 0 && seen == len + 1;
}

uint32_t net_gateway(const struct net_network *n)
{
	return n->subnet + 1;
}

void net_bridge_name(const struct net_network *n, char out[16])
{
	snprintf(out, 16, NET_BRIDGE_PREFIX "%u", n->id % 100000u);
}

void net_tap_name(const struct net_group *g, char out[16])
{
	snprintf(out, 16, NET_TAP_PREFIX "%u", g->id % 10000000u);
}

struct net_network *net_state_network(const struct net_state *st, const char *name)
{
	for (size_t i = 0; name && i < st->n_networks; i++)
		if (!strcmp(st->networks[i].name, name))
			return &st->networks[i];
	return NULL;
}

struct net_group *net_state_group(const struct net_state *st, const char *name)
{
	for (size_t i = 0; name && i < st->n_groups; i++)
		if (!strcmp(st->groups[i].name, name))
			return &st->groups[i];
	return NULL;
}

unsigned net_state_count_groups(const struct net_state *st, const char *network)
{
	unsigned n = 0;
	for (size_t i = 0; i < st->n_groups; i++)
		n += !strcmp(st->groups[i].network, network);
	return n;
}

int net_check_subnet(const struct net_state *st, const char *name, uint32_t subnet, unsigned prefix,
		     struct capsid_error *err)
{
	char cidr[19];
	net_format_cidr(subnet, prefix, cidr);
	if (prefix < NET_MIN_PREFIX || prefix > NET_MAX_PREFIX)
		return capsid_error_set(err, EINVAL, "subnet %s: the prefix must be /%d to /%d", cidr,
					NET_MIN_PREFIX, NET_MAX_PREFIX);
	/* 127/8 and 0/8 cannot be routed; 169.254/16 is the metadata range that
	 * guests are kept away from; multicast and class E are not unicast. */
	uint32_t first = subnet >> 24;
	if (first == 0 || first == 127 || first >= 224 || (subnet >> 16) == 0xa9fe)
		return capsid_error_set(err, EINVAL, "subnet %s: not a usable unicast range", cidr);
	for (size_t i = 0; i < st->n_networks; i++) {
		const struct net_network *o = &st->networks[i];
		if (name && !strcmp(o->name, name))
			continue;
		uint32_t mask = net_prefix_mask(prefix < o->prefix ? prefix : o->prefix);
		if ((subnet & mask) == (o->subnet & mask)) {
			char other[19];
			net_format_cidr(o->subnet, o->prefix, other);
			return capsid_error_set(err, EADDRINUSE, "subnet %s overlaps network \"%s\" (%s)",
						cidr, o->name, other);
		}
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int net_ipam_alloc(const struct net_state *st, const struct net_network *n, const char *group,
		   const char *requested, uint32_t *ip, struct capsid_error *err)
{
	uint32_t mask = net_prefix_mask(n->prefix);
	uint32_t first = n->subnet + 2,
		 last = (n->subnet | ~mask) - 1; /* after the gateway, before broadcast */
	if (requested) {
		uint32_t a;
		if (net_parse_ipv4(requested, &a) < 0)
			return capsid_error_set(
			    err, EINVAL, "requested address \"%.20s\" is not an IPv4 address", requested);
		char cidr[19];
		net_format_cidr(n->subnet, n->prefix, cidr);
		if ((a & mask) != n->subnet || a < first || a > last)
			return capsid_error_set(
			    err, EINVAL,
			    "requested address %s is not a free host address of network \"%s\" "
			    "(%s, gateway and broadcast excluded)",
			    requested, n->name, cidr);
		for (size_t i = 0; i < st->n_groups; i++)
			if (st->groups[i].ip == a && strcmp(st->groups[i].name, group) &&
			    !strcmp(st->groups[i].network, n->name))
				return capsid_error_set(err, EADDRINUSE,
							"address %s is already used by group \"%s\"",
							requested, st->groups[i].name);
		*ip = a;
		return 0;
	}
	/* Lowest free address: sort the network's leases and find the first gap. */
	_cleanup_free_ uint32_t *used = malloc((st->n_groups + 1) * sizeof(*used));
	if (!used)
		return capsid_error_set(err, ENOMEM, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < st->n_groups; i++)
		if (!strcmp(st->groups[i].network, n->name) && strcmp(st->groups[i].name, group))
			used[k++] = st->groups[i].ip;
	qsort(used, k, sizeof(*used), cmp_u32);
	uint32_t cand = first;
	for (size_t i = 0; i < k && cand <= last; i++) {
		if (used[i] < cand)
			continue;
		if (used[i] > cand)
			break;
		cand++;
	}
	if (cand > last || cand < first) {
		char cidr[19];
		net_format_cidr(n->subnet, n->prefix, cidr);
		return capsid_error_set(err, ENOSPC, "network \"%s\" (%s) has no free address left", n->name,
					cidr);
	}
	*ip = cand;
	return 0;
}

int net_check_ports(const struct net_state *st, const struct net_config *cfg, const char *group,
		    const struct net_port *ports, size_t n, struct capsid_error *err)
{
	if (n > NET_MAX_PORTS)
		return capsid_error_set(err, EINVAL, "at most %d published ports per group, not %zu",
					NET_MAX_PORTS, n);
	for (size_t i = 0; i < n; i++) {
		const struct net_port *p = &ports[i];
		if (p->port == 0 || (p->protocol != IPPROTO_TCP && p->protocol != IPPROTO_UDP))
			return capsid_error_set(err, EINVAL, "published port %zu: invalid port or protocol",
						i);
		for (size_t j = 0; j < i; j++)
			if (ports[j].port == p->port && ports[j].protocol == p->protocol)
				return capsid_error_set(err, EINVAL, "port %u/%s is published twice", p->port,
							net_protocol_name(p->protocol));
		/* Our own responder owns that one on the publish address. */
		if (cfg->dns_port && p->port == cfg->dns_port && p->protocol == IPPROTO_UDP)
			return capsid_error_set(
			    err, EADDRINUSE, "port %u/UDP on the publish address is capsid's DNS responder",
			    p->port);
		for (size_t g = 0; g < st->n_groups; g++) {
			const struct net_group *o = &st->groups[g];
			if (!o->public_ip || !strcmp(o->name, group))
				continue;
			for (size_t k = 0; k < o->n_ports; k++)
				if (o->ports[k].port == p->port && o->ports[k].protocol == p->protocol)
					return capsid_error_set(err, EADDRINUSE,
								"port %u/%s on the publish address is "
								"already used by group \"%s\"",
								p->port, net_protocol_name(p->protocol),
								o->name);
		}
	}
	return 0;
}

int net_check_label(const struct net_state *st, const char *group, const char *label,
		    struct capsid_error *err)
{
	if (!label || !*label)
		return 0;
	if (!net_valid_label(label))
		return capsid_error_set(err, EINVAL, "DNS name label \"%.64s\" is not a DNS label", label);
	for (size_t i = 0; i < st->n_groups; i++)
		if (!strcmp(st->groups[i].dns_label, label) && strcmp(st->groups[i].name, group))
			return capsid_error_set(err, EADDRINUSE,
						"DNS name label \"%s\" is already used by group \"%s\"",
						label, st->groups[i].name);
	return 0;
}

unsigned net_free_group_id(const struct net_state *st)
{
	/* Lowest free id, so tap names stay short and are reused. */
	for (unsigned id = 1;; id++) {
		bool used = false;
		for (size_t i = 0; i < st->n_groups && !used; i++)
			used = st->groups[i].id == id;
		if (!used)
			return id;
	}
}

/* FNV-1a: a group keeps its MAC for as long as it keeps its name. */
static uint32_t fnv1a(const char *s, uint32_t salt)
{
	uint32_t h = 2166136261u ^ salt;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

void net_make_mac(const struct net_state *st, const char *group, uint8_t mac[6])
{
	/* 52:54:00 is QEMU's prefix (locally administered, unicast). */
	for (uint32_t salt = 0;; salt++) {
		uint32_t h = fnv1a(group, salt);
		uint8_t m[6] = {0x52, 0x54, 0x00, (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h};
		bool taken = false;
		for (size_t i = 0; i < st->n_groups && !taken; i++)
			taken = strcmp(st->groups[i].name, group) && !memcmp(st->groups[i].mac, m, 6);
		if (!taken) {
			memcpy(mac, m, 6);
			return;
		}
	}
}

uint32_t net_group_dns_address(const struct net_group *g, uint32_t publish)
{
	return g->public_ip && publish && publish != NET_PUBLISH_ALL ? publish : g->ip;
}

int net_dns_records(const struct net_state *st, uint32_t publish, struct net_dns_record **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	struct net_dns_record *r = calloc(st->n_groups + 1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < st->n_groups; i++) {
		const struct net_group *g = &st->groups[i];
		if (!g->dns_label[0])
			continue;
		snprintf(r[k].label, sizeof(r[k].label), "%s", g->dns_label);
		r[k].address = net_group_dns_address(g, publish);
		k++;
	}
	*out = r;
	*n = k;
	return 0;
}
