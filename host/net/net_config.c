/* Configuration (defaults < <root>/networks/config.json < environment), the
 * publish address, and the body of the guest's NETWORK request. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "net_internal.h"
#include "util.h"

#define CONFIG_MAX    (64u * 1024u)
#define GUEST_MTU     1500
#define RESOLV_MAX_NS 3 /* glibc reads at most three nameserver lines */

static int set_value(struct net_config *cfg, const char *key, const char *value, const char *source,
		     struct capsid_error *err)
{
	uint32_t a;
	unsigned prefix;
	if (!strcmp(key, "publishAddress")) {
		if (!strcmp(value, "0.0.0.0"))
			value = "all";
		if (*value && strcmp(value, "all") && (net_parse_ipv4(value, &a) < 0 || a == NET_PUBLISH_ALL))
			return capsid_error_set(
			    err, EINVAL,
			    "%s: publish address \"%.20s\" is not an IPv4 address of this "
			    "host, nor \"all\" (every local address)",
			    source, value);
		snprintf(cfg->publish_address, sizeof(cfg->publish_address), "%s", value);
	} else if (!strcmp(key, "dnsZone")) {
		if (!net_valid_zone(value))
			return capsid_error_set(err, EINVAL,
						"%s: DNS zone \"%.64s\" is not a lowercase domain name",
						source, value);
		snprintf(cfg->zone, sizeof(cfg->zone), "%s", value);
	} else if (!strcmp(key, "defaultSubnet")) {
		if (net_parse_cidr(value, &a, &prefix) < 0 || prefix < NET_MIN_PREFIX ||
		    prefix > NET_MAX_PREFIX)
			return capsid_error_set(
			    err, EINVAL,
			    "%s: default subnet \"%.20s\" is not an IPv4 network with a /%d-/%d "
			    "prefix and no host bits",
			    source, value, NET_MIN_PREFIX, NET_MAX_PREFIX);
		snprintf(cfg->default_subnet, sizeof(cfg->default_subnet), "%s", value);
	} else if (!strcmp(key, "dnsPort")) {
		char *end;
		errno = 0;
		unsigned long port = strtoul(value, &end, 10);
		if (!*value || *end || errno || port > 65535)
			return capsid_error_set(err, EINVAL, "%s: DNS port \"%.20s\" is not 0-65535", source,
						value);
		cfg->dns_port = (uint16_t)port;
	} else if (!strcmp(key, "dnsExe")) {
		if (value[0] != '/' || strlen(value) >= sizeof(cfg->dns_exe))
			return capsid_error_set(err, EINVAL, "%s: DNS program must be an absolute path",
						source);
		snprintf(cfg->dns_exe, sizeof(cfg->dns_exe), "%s", value);
	}
	return 0;
}

static int load_file(struct net_config *cfg, struct capsid_error *err)
{
	char path[PATH_MAX];
	if (net_store_dir(cfg, NET_CONFIG_FILE, path, sizeof(path)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	_cleanup_free_ char *text = NULL;
	int rc = util_read_file_at(AT_FDCWD, path, CONFIG_MAX, &text, NULL);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return capsid_error_errno(err, -rc, "read %s", path);
	_cleanup_json_ struct json_object *doc = json_tokener_parse(text);
	if (!json_object_is_type(doc, json_type_object))
		return capsid_error_set(err, EINVAL, "%s: not a JSON object", path);
	static const char *const keys[] = {"publishAddress", "dnsZone", "defaultSubnet", "dnsPort"};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		struct json_object *v;
		if (!json_object_object_get_ex(doc, keys[i], &v) || !v)
			continue;
		char num[24];
		const char *s;
		if (json_object_is_type(v, json_type_string)) {
			s = json_object_get_string(v);
		} else if (json_object_is_type(v, json_type_int)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_object_get_int64(v));
			s = num;
		} else {
			return capsid_error_set(err, EINVAL, "%s: %s: must be a string or a number", path,
						keys[i]);
		}
		rc = set_value(cfg, keys[i], s, path, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int net_config_load(const char *root, const struct net_settings *set, struct net_config *cfg,
		    struct capsid_error *err)
{
	*cfg = (struct net_config){.dns_port = NET_DEFAULT_DNS_PORT};
	if (!root || root[0] != '/' || strlen(root) >= sizeof(cfg->root) - 32)
		return capsid_error_set(err, EINVAL, "state root must be an absolute path");
	snprintf(cfg->root, sizeof(cfg->root), "%s", root);
	snprintf(cfg->zone, sizeof(cfg->zone), "%s", NET_DEFAULT_ZONE);
	snprintf(cfg->default_subnet, sizeof(cfg->default_subnet), "%s", NET_DEFAULT_SUBNET);
	int rc = load_file(cfg, err);
	if (rc < 0)
		return rc;
	if (!set)
		return 0;
	const struct {
		const char *value, *source, *key;
	} over[] = {
	    {set->publish_address, "CAPSID_PUBLISH_ADDRESS", "publishAddress"},
	    {set->dns_zone, "CAPSID_DNS_ZONE", "dnsZone"},
	    {set->default_subnet, "CAPSID_DEFAULT_SUBNET", "defaultSubnet"},
	    {set->dns_port, "CAPSID_DNS_PORT", "dnsPort"},
	    {set->dns_exe, "CAPSID_DNS_EXE", "dnsExe"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(over); i++)
		if (over[i].value && *over[i].value &&
		    (rc = set_value(cfg, over[i].key, over[i].value, over[i].source, err)) < 0)
			return rc;
	return 0;
}

int net_publish_address(const struct net_config *cfg, uint32_t *out, struct capsid_error *err)
{
	*out = 0;
	if (!strcmp(cfg->publish_address, "all")) {
		*out = NET_PUBLISH_ALL;
		return 0;
	}
	if (cfg->publish_address[0])
		return net_parse_ipv4(cfg->publish_address, out) < 0
			   ? capsid_error_set(err, EINVAL, "invalid publish address %s", cfg->publish_address)
			   : 0;
	/* Connecting a UDP socket sends nothing: it only asks the kernel which
	 * source address the default route would use. */
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return capsid_error_errno(err, errno, "socket");
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9)};
	inet_pton(AF_INET, "203.0.113.1", &dst.sin_addr); /* TEST-NET-3: any off-link address will do */
	struct sockaddr_in src;
	socklen_t len = sizeof(src);
	if (connect(s, (struct sockaddr *)&dst, sizeof(dst)) < 0 ||
	    getsockname(s, (struct sockaddr *)&src, &len) < 0 || src.sin_addr.s_addr == 0)
		return capsid_error_set(
		    err, EADDRNOTAVAIL,
		    "no publish address for a Public group: this host has no default route; "
		    "set CAPSID_PUBLISH_ADDRESS (or publishAddress in networks/config.json) "
		    "to one of its addresses, or to \"all\" to publish on every local "
		    "address as docker run -p does");
	*out = ntohl(src.sin_addr.s_addr);
	return 0;
}

/* ---- the guest's NETWORK request ---------------------------------------- */

/* Up to max IPv4 name servers of the host that a guest can reach (not on
 * loopback), from resolv.conf. */
static size_t host_nameservers(const char *path, char out[][16], size_t max)
{
	_cleanup_free_ char *text = NULL;
	if (util_read_file_at(AT_FDCWD, path, 64 * 1024, &text, NULL) < 0)
		return 0;
	size_t n = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
		char ip[64];
		uint32_t a;
		if (sscanf(line, " nameserver %63s", ip) != 1 || net_parse_ipv4(ip, &a) < 0 ||
		    (a >> 24) == 127 || a == 0)
			continue;
		net_format_ipv4(a, out[n++]);
	}
	return n;
}

static bool add_strings(struct json_object *parent, const char *key, const char *const *v, size_t n)
{
	struct json_object *arr = json_object_new_array();
	if (!arr || json_object_object_add(parent, key, arr) < 0) {
		json_object_put(arr);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_new_string(v[i]);
		if (!s || json_object_array_add(arr, s) < 0) {
			json_object_put(s);
			return false;
		}
	}
	return true;
}

int net_guest_request(const struct net_config *cfg, const struct net_attachment *att,
		      const struct net_dns_settings *dns, struct json_object **out, struct capsid_error *err)
{
	*out = NULL;
	const struct net_dns_settings none = {0};
	if (!dns)
		dns = &none;
	char address[24];
	snprintf(address, sizeof(address), "%s/%u", att->ip, att->prefix);

	/* Default name servers: capsid's responder first (it answers the zone
	 * and refuses the rest, so the resolver moves on to the next server),
	 * then the host's own servers when the network lets guests out. */
	char host_ns[RESOLV_MAX_NS][16];
	const char *ns_default[RESOLV_MAX_NS];
	size_t n_ns = 0;
	ns_default[n_ns++] = att->gateway;
	struct capsid_error ignored = {0};
	struct net_network_info *nets = NULL;
	size_t n_nets = 0;
	bool egress = false;
	if (net_network_list(cfg, &nets, &n_nets, &ignored) == 0)
		for (size_t i = 0; i < n_nets; i++)
			egress |= !strcmp(nets[i].name, att->network) && nets[i].egress;
	free(nets);
	if (egress) {
		size_t k = host_nameservers("/etc/resolv.conf", host_ns, RESOLV_MAX_NS - 1);
		for (size_t i = 0; i < k; i++)
			ns_default[n_ns++] = host_ns[i];
	}
	const char *search_default[] = {cfg->zone};

	bool ok = true;
	_cleanup_json_ struct json_object *body = json_object_new_object();
	struct json_object *ifaces = json_object_new_array(), *iface = json_object_new_object(),
			   *d = json_object_new_object(), *hosts = json_object_new_array();
	if (!body || !ifaces || !iface || !d || !hosts) {
		json_object_put(ifaces);
		json_object_put(iface);
		json_object_put(d);
		json_object_put(hosts);
		return capsid_error_set(err, ENOMEM, "out of memory");
	}
	json_object_object_add(body, "interfaces", ifaces);
	json_object_array_add(ifaces, iface);
	json_object_object_add(body, "dns", d);
	json_object_object_add(body, "hosts", hosts);
	ok &= json_object_object_add(iface, "mac", json_object_new_string(att->mac)) == 0;
	ok &= json_object_object_add(iface, "address", json_object_new_string(address)) == 0;
	ok &= json_object_object_add(iface, "gateway", json_object_new_string(att->gateway)) == 0;
	ok &= json_object_object_add(iface, "mtu", json_object_new_int(GUEST_MTU)) == 0;
	ok &= dns->n_nameservers ? add_strings(d, "nameservers", dns->nameservers, dns->n_nameservers)
				 : add_strings(d, "nameservers", ns_default, n_ns);
	ok &= dns->n_search ? add_strings(d, "search", dns->search, dns->n_search)
			    : add_strings(d, "search", search_default, 1);
	ok &= add_strings(d, "options", dns->options, dns->n_options);
	if (att->fqdn[0]) {
		/* The group's own name resolves to itself inside the group. */
		struct json_object *h = json_object_new_object();
		const char *names[] = {att->fqdn};
		ok &= h && json_object_array_add(hosts, h) == 0;
		ok &= h && json_object_object_add(h, "ip", json_object_new_string(att->ip)) == 0;
		ok &= h && add_strings(h, "names", names, 1);
	}
	if (!ok)
		return capsid_error_set(err, ENOMEM, "out of memory");
	*out = TAKE_PTR(body);
	return 0;
}
