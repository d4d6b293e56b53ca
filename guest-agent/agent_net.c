#include "agent_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

#define PATH_SZ 96

/* ---- validation ---------------------------------------------------------- */

static int ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (!s || strlen(s) > 15 || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

/* Dot-separated labels of [A-Za-z0-9-] (1-63, no '-' at either end),
 * at most 253 characters: safe to put on a resolv.conf or hosts line. */
static bool valid_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;
	if (len == 0 || len > 253 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			   c == '-') {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

/* resolv.conf options: "ndots:2", "rotate", "timeout:1", "edns0"... */
static bool valid_option(const char *s)
{
	size_t len = strlen(s);
	return len >= 1 && len <= 64 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:._-") == len;
}

static int str_field(struct json_object *o, const char *key, const char *path, bool required,
		     const char **out, struct capsid_error *err)
{
	struct json_object *v = NULL;
	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return required ? capsid_error_set(err, EINVAL, "%s.%s: missing", path, key) : 0;
	if (!json_object_is_type(v, json_type_string) ||
	    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return capsid_error_set(err, EINVAL, "%s.%s: not a string", path, key);
	*out = json_object_get_string(v);
	return 0;
}

/* Array at key (absent: *n = 0) with at most max items. */
static int array_field(struct json_object *o, const char *key, const char *path, size_t max,
		       struct json_object **arr, size_t *n, struct capsid_error *err)
{
	*arr = NULL;
	*n = 0;
	if (!json_object_object_get_ex(o, key, arr) || !*arr)
		return 0;
	if (!json_object_is_type(*arr, json_type_array))
		return capsid_error_set(err, EINVAL, "%s%s%s: not an array", path, *path ? "." : "", key);
	*n = json_object_array_length(*arr);
	if (*n > max)
		return capsid_error_set(err, EINVAL, "%s%s%s: at most %zu entries", path, *path ? "." : "",
					key, max);
	return 0;
}

static int string_item(struct json_object *arr, size_t i, const char *path, const char **out,
		       struct capsid_error *err)
{
	struct json_object *v = json_object_array_get_idx(arr, i);
	if (!json_object_is_type(v, json_type_string) ||
	    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return capsid_error_set(err, EINVAL, "%s[%zu]: not a string", path, i);
	*out = json_object_get_string(v);
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char end;
	if (!s || strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return (mac[0] & 1) ? -EINVAL : 0; /* multicast bit: not a NIC address */
}

static int parse_iface(struct json_object *o, const char *path, struct agent_net_iface *ifc,
		       struct capsid_error *err)
{
	if (!json_object_is_type(o, json_type_object))
		return capsid_error_set(err, EINVAL, "%s: not an object", path);
	const char *mac, *address, *gateway;
	int rc;
	if ((rc = str_field(o, "mac", path, true, &mac, err)) < 0 ||
	    (rc = str_field(o, "address", path, true, &address, err)) < 0 ||
	    (rc = str_field(o, "gateway", path, false, &gateway, err)) < 0)
		return rc;
	if (parse_mac(mac, ifc->mac) < 0)
		return capsid_error_set(err, EINVAL, "%s.mac: not a unicast MAC address", path);
	char ip[16];
	const char *slash = strchr(address, '/');
	char *end;
	unsigned long prefix = slash ? strtoul(slash + 1, &end, 10) : 0;
	if (!slash || (size_t)(slash - address) >= sizeof(ip) || !slash[1] || *end || prefix < 1 ||
	    prefix > 32)
		return capsid_error_set(err, EINVAL, "%s.address: not IPv4/prefix", path);
	memcpy(ip, address, (size_t)(slash - address));
	ip[slash - address] = '\0';
	if (ipv4(ip, &ifc->address) < 0)
		return capsid_error_set(err, EINVAL, "%s.address: not IPv4/prefix", path);
	ifc->prefix = (unsigned)prefix;
	ifc->gateway = 0;
	if (gateway) {
		uint32_t mask = ifc->prefix == 32 ? 0xffffffffu : ~((1u << (32 - ifc->prefix)) - 1);
		if (ipv4(gateway, &ifc->gateway) < 0 || (ifc->gateway & mask) != (ifc->address & mask) ||
		    ifc->gateway == ifc->address)
			return capsid_error_set(err, EINVAL,
						"%s.gateway: not an address of the interface's subnet", path);
	}
	ifc->mtu = 1500;
	struct json_object *m = NULL;
	if (json_object_object_get_ex(o, "mtu", &m) && m) {
		errno = 0;
		int64_t v = json_object_get_int64(m);
		if (!json_object_is_type(m, json_type_int) || errno || v < 68 || v > 65535)
			return capsid_error_set(err, EINVAL, "%s.mtu: not an integer from 68 to 65535", path);
		ifc->mtu = (unsigned)v;
	}
	return 0;
}

/* Append to a fixed buffer; false when it would not fit. */
__attribute__((format(printf, 3, 4))) static bool append(char *buf, size_t size, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + used, size - used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - used) {
		buf[used] = '\0';
		return false;
	}
	return true;
}

static int parse_dns(struct json_object *d, struct agent_net_config *out, struct capsid_error *err)
{
	if (!json_object_is_type(d, json_type_object))
		return capsid_error_set(err, EINVAL, "dns: not an object");
	char *rc_text = out->resolv_conf;
	size_t size = sizeof(out->resolv_conf);
	rc_text[0] = '\0';
	append(rc_text, size, "# written by capsid-agent\n");
	struct json_object *arr;
	size_t n;
	const char *s;
	int rc = array_field(d, "nameservers", "dns", AGENT_NET_MAX_NS, &arr, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		uint32_t a;
		if ((rc = string_item(arr, i, "dns.nameservers", &s, err)) < 0)
			break;
		if (ipv4(s, &a) < 0)
			return capsid_error_set(err, EINVAL, "dns.nameservers[%zu]: not an IPv4 address", i);
		append(rc_text, size, "nameserver %s\n", s);
	}
	if (rc < 0 || (rc = array_field(d, "search", "dns", AGENT_NET_MAX_SEARCH, &arr, &n, err)) < 0)
		return rc;
	size_t search_len = 0;
	for (size_t i = 0; i < n; i++) {
		if ((rc = string_item(arr, i, "dns.search", &s, err)) < 0)
			return rc;
		if (!valid_hostname(s))
			return capsid_error_set(err, EINVAL, "dns.search[%zu]: not a domain name", i);
		search_len += strlen(s) + 1;
		if (search_len > 256) /* glibc's limit for the search line */
			return capsid_error_set(err, EINVAL, "dns.search: longer than 256 characters in all");
		append(rc_text, size, "%s%s%s", i ? " " : "search ", s, i + 1 == n ? "\n" : "");
	}
	if ((rc = array_field(d, "options", "dns", AGENT_NET_MAX_OPTIONS, &arr, &n, err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if ((rc = string_item(arr, i, "dns.options", &s, err)) < 0)
			return rc;
		if (!valid_option(s))
			return capsid_error_set(err, EINVAL, "dns.options[%zu]: not a resolv.conf option", i);
		append(rc_text, size, "%s%s%s", i ? " " : "options ", s, i + 1 == n ? "\n" : "");
	}
	return 0;
}

static int parse_hosts(struct json_object *arr, size_t n, struct agent_net_config *out,
		       struct capsid_error *err)
{
	for (size_t i = 0; i < n; i++) {
		char path[PATH_SZ];
		snprintf(path, sizeof(path), "hosts[%zu]", i);
		struct json_object *h = json_object_array_get_idx(arr, i), *names;
		const char *ip, *name;
		size_t k;
		uint32_t a;
		int rc;
		if (!json_object_is_type(h, json_type_object))
			return capsid_error_set(err, EINVAL, "%s: not an object", path);
		if ((rc = str_field(h, "ip", path, true, &ip, err)) < 0 ||
		    (rc = array_field(h, "names", path, AGENT_NET_MAX_NAMES, &names, &k, err)) < 0)
			return rc;
		if (ipv4(ip, &a) < 0)
			return capsid_error_set(err, EINVAL, "%s.ip: not an IPv4 address", path);
		if (k == 0)
			return capsid_error_set(err, EINVAL, "%s.names: missing or empty", path);
		bool fits = append(out->hosts_extra, sizeof(out->hosts_extra), "%s\t", ip);
		for (size_t j = 0; j < k; j++) {
			char npath[PATH_SZ + 8];
			snprintf(npath, sizeof(npath), "%s.names", path);
			if ((rc = string_item(names, j, npath, &name, err)) < 0)
				return rc;
			if (!valid_hostname(name))
				return capsid_error_set(err, EINVAL, "%s.names[%zu]: not a host name", path,
							j);
			fits = fits &&
			       append(out->hosts_extra, sizeof(out->hosts_extra), "%s%s", j ? " " : "", name);
		}
		if (!fits || !append(out->hosts_extra, sizeof(out->hosts_extra), "\n"))
			return capsid_error_set(err, EINVAL, "hosts: more than %zu bytes in all",
						sizeof(out->hosts_extra) - 1);
	}
	return 0;
}

int agent_net_parse(struct json_object *body, struct agent_net_config *out, struct capsid_error *err)
{
	*out = (struct agent_net_config){0};
	if (!json_object_is_type(body, json_type_object))
		return capsid_error_set(err, EINVAL, "the body is not an object");
	struct json_object *arr, *d = NULL;
	size_t n;
	int rc = array_field(body, "interfaces", "", AGENT_NET_MAX_IFACES, &arr, &n, err);
	if (rc < 0)
		return rc;
	if (n == 0)
		return capsid_error_set(err, EINVAL, "interfaces: missing or empty");
	for (size_t i = 0; i < n; i++) {
		char path[PATH_SZ];
		snprintf(path, sizeof(path), "interfaces[%zu]", i);
		if ((rc = parse_iface(json_object_array_get_idx(arr, i), path, &out->ifaces[i], err)) < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!memcmp(out->ifaces[j].mac, out->ifaces[i].mac, 6))
				return capsid_error_set(err, EINVAL, "%s.mac: listed twice", path);
		out->n_ifaces++;
	}
	if (json_object_object_get_ex(body, "dns", &d) && d) {
		if ((rc = parse_dns(d, out, err)) < 0)
			return rc;
	} else {
		snprintf(out->resolv_conf, sizeof(out->resolv_conf), "# written by capsid-agent\n");
	}
	if ((rc = array_field(body, "hosts", "", AGENT_NET_MAX_HOSTS, &arr, &n, err)) < 0)
		return rc;
	return parse_hosts(arr, n, out, err);
}

/* ---- the kernel side ------------------------------------------------------ */

/* The interface whose MAC is mac (into name, IFNAMSIZ). */
static int find_by_mac(int s, const uint8_t mac[6], char *name)
{
	struct if_nameindex *all = if_nameindex();
	if (!all)
		return -errno;
	int rc = -ENODEV;
	for (struct if_nameindex *i = all; i->if_index && rc == -ENODEV; i++) {
		struct ifreq ifr = {0};
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->if_name);
		if (ioctl(s, SIOCGIFHWADDR, &ifr) == 0 && !memcmp(ifr.ifr_hwaddr.sa_data, mac, 6)) {
			snprintf(name, IFNAMSIZ, "%s", i->if_name);
			rc = 0;
		}
	}
	if_freenameindex(all);
	return rc;
}

static void set_sin(struct sockaddr *sa, uint32_t addr)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(addr)};
	memcpy(sa, &sin, sizeof(sin));
}

/* A guest restored from a warm-start template has the template's MAC on
 * its NIC (the device state is the template's): no interface carries the
 * group's MAC. Then interface idx (eth<idx>) takes it (the host bridge
 * only passes the group's MAC): while up when the device can (virtio-net
 * with VIRTIO_NET_F_CTRL_MAC_ADDR: the NIC is up since boot, see init.c),
 * else with the link down. A cold guest always finds its MAC and never
 * gets here. */
static int adopt_mac(int s, const uint8_t mac[6], size_t idx, char *name)
{
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth%zu", idx);
	snprintf(name, IFNAMSIZ, "%s", ifr.ifr_name);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	/* virtio-net changes it while up (VIRTIO_NET_F_CTRL_MAC_ADDR). */
	if (ioctl(s, SIOCSIFHWADDR, &ifr) == 0)
		return 0;
	if (errno != EBUSY)
		return -errno;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	if (ifr.ifr_flags & IFF_UP) {
		ifr.ifr_flags &= ~IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			return -errno;
	}
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0)
		return -errno;
	snprintf(name, IFNAMSIZ, "%s", ifr.ifr_name);
	return 0;
}

static int apply_iface(int s, const struct agent_net_iface *ifc, size_t idx, struct capsid_error *err)
{
	char name[IFNAMSIZ];
	int rc = find_by_mac(s, ifc->mac, name);
	if (rc == -ENODEV)
		rc = adopt_mac(s, ifc->mac, idx, name);
	if (rc < 0)
		return capsid_error_set(
		    err, ENODEV,
		    "interfaces[%zu]: no interface with MAC %02x:%02x:%02x:%02x:%02x:%02x "
		    "(is virtio_net loaded?)",
		    idx, ifc->mac[0], ifc->mac[1], ifc->mac[2], ifc->mac[3], ifc->mac[4], ifc->mac[5]);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_mtu = (int)ifc->mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		return capsid_error_errno(err, errno, "%s: set MTU %u", name, ifc->mtu);
	uint32_t mask = ifc->prefix == 32 ? 0xffffffffu : ~((1u << (32 - ifc->prefix)) - 1);
	set_sin(&ifr.ifr_addr, ifc->address);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
		return capsid_error_errno(err, errno, "%s: set address", name);
	set_sin(&ifr.ifr_netmask, mask);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
		return capsid_error_errno(err, errno, "%s: set netmask", name);
	set_sin(&ifr.ifr_broadaddr, ifc->address | ~mask);
	if (ifc->prefix < 31 && ioctl(s, SIOCSIFBRDADDR, &ifr) < 0)
		return capsid_error_errno(err, errno, "%s: set broadcast", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return capsid_error_errno(err, errno, "%s: get flags", name);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return capsid_error_errno(err, errno, "%s: bring up", name);
	if (!ifc->gateway)
		return 0;
	struct rtentry rt = {0};
	set_sin(&rt.rt_dst, 0);
	set_sin(&rt.rt_genmask, 0);
	set_sin(&rt.rt_gateway, ifc->gateway);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	rt.rt_dev = name;
	if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST)
		return capsid_error_errno(err, errno, "%s: add the default route", name);
	return 0;
}

int agent_net_apply(const struct agent_net_config *cfg, struct capsid_error *err)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return capsid_error_errno(err, errno, "socket");
	for (size_t i = 0; i < cfg->n_ifaces; i++) {
		int rc = apply_iface(s, &cfg->ifaces[i], i, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int agent_net_hosts(const struct agent_net_config *cfg, const char *hostname, char *buf, size_t len)
{
	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	bool ok = append(buf, len, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
	if (hostname && *hostname && valid_hostname(hostname)) {
		char ip[16] = "127.0.1.1";
		if (cfg && cfg->n_ifaces) {
			uint32_t a = cfg->ifaces[0].address;
			snprintf(ip, sizeof(ip), "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
				 a & 0xff);
		}
		ok = ok && append(buf, len, "%s\t%s\n", ip, hostname);
	}
	ok = ok && (!cfg || append(buf, len, "%s", cfg->hosts_extra));
	return ok ? 0 : -ENOSPC;
}

int agent_net_write_files(const struct agent_net_config *cfg, const char *etc_dir, struct capsid_error *err)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/resolv.conf", etc_dir) >= sizeof(path))
		return capsid_error_set(err, ENAMETOOLONG, "%s: path too long", etc_dir);
	int rc = util_write_file_atomic(path, cfg->resolv_conf, strlen(cfg->resolv_conf), 0644);
	return rc < 0 ? capsid_error_errno(err, -rc, "write %s", path) : 0;
}

int agent_net_configure(struct json_object *body, struct agent_net_config *out, struct capsid_error *err)
{
	int rc = agent_net_parse(body, out, err);
	if (rc < 0 || (rc = agent_net_apply(out, err)) < 0 ||
	    (rc = agent_net_write_files(out, "/etc", err)) < 0)
		return rc;
	return 0;
}
