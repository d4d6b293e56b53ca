/* The persisted network state: <root>/networks/state.json, one document
 * holding the networks and every group's lease (address, MAC, tap id,
 * published ports, DNS label, host services). Ports, records and rules are
 * all derived from the leases, so removing a lease removes everything.
 *
 *   {"version":1,
 *    "networks":[{"name","subnet":"10.88.0.0/16","egress":true,"id":0}],
 *    "groups":[{"name","network","id":1,"ip","mac","public":true,
 *               "ports":[{"port":80,"protocol":"TCP"}],"dnsLabel":"web",
 *               "hostServices":[{"port":445,"protocol":"TCP"}]}]}
 *
 * The file is read back as untrusted input: bounded, every field checked. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include "cleanup.h"
#include "net_internal.h"
#include "util.h"

#define STATE_VERSION 1

void net_state_free(struct net_state *st)
{
	if (!st)
		return;
	free(st->networks);
	free(st->groups);
	*st = (struct net_state){0};
}

int net_state_copy(const struct net_state *src, struct net_state *dst)
{
	*dst = (struct net_state){0};
	dst->networks = malloc((src->n_networks + 1) * sizeof(*dst->networks));
	dst->groups = malloc((src->n_groups + 1) * sizeof(*dst->groups));
	if (!dst->networks || !dst->groups) {
		net_state_free(dst);
		return -ENOMEM;
	}
	if (src->n_networks)
		memcpy(dst->networks, src->networks, src->n_networks * sizeof(*dst->networks));
	if (src->n_groups)
		memcpy(dst->groups, src->groups, src->n_groups * sizeof(*dst->groups));
	dst->n_networks = src->n_networks;
	dst->n_groups = src->n_groups;
	return 0;
}

/* ---- reading ------------------------------------------------------------ */

static int bad(struct capsid_error *err, const char *where, const char *what)
{
	return capsid_error_set(err, EINVAL, "state.json: %s: %s", where, what);
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	const char *s = json_object_get_string(v);
	return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

static bool get_int(struct json_object *o, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	errno = 0;
	int64_t x = json_object_get_int64(v);
	if (errno == ERANGE || x < lo || x > hi)
		return false;
	*out = x;
	return true;
}

static bool get_bool(struct json_object *o, const char *key, bool *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

static int read_ports(struct json_object *o, const char *key, size_t max, struct net_port *ports, size_t *n)
{
	struct json_object *arr;
	*n = 0;
	if (!json_object_object_get_ex(o, key, &arr) || !arr)
		return 0;
	if (!json_object_is_type(arr, json_type_array) || json_object_array_length(arr) > max)
		return -EINVAL;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *p = json_object_array_get_idx(arr, i);
		int64_t port;
		const char *proto = get_str(p, "protocol");
		if (!get_int(p, "port", 1, 65535, &port) || !proto)
			return -EINVAL;
		if (!strcasecmp(proto, "TCP"))
			ports[i].protocol = IPPROTO_TCP;
		else if (!strcasecmp(proto, "UDP"))
			ports[i].protocol = IPPROTO_UDP;
		else
			return -EINVAL;
		ports[i].port = (uint16_t)port;
		(*n)++;
	}
	return 0;
}

static int read_network(struct json_object *o, struct net_network *n, struct capsid_error *err)
{
	const char *name = get_str(o, "name"), *subnet = get_str(o, "subnet");
	int64_t id;
	if (!name || !net_valid_network_name(name))
		return bad(err, "networks", "invalid name");
	snprintf(n->name, sizeof(n->name), "%s", name);
	if (!subnet || net_parse_cidr(subnet, &n->subnet, &n->prefix) < 0 || n->prefix < NET_MIN_PREFIX ||
	    n->prefix > NET_MAX_PREFIX)
		return bad(err, name, "invalid subnet");
	if (!get_bool(o, "egress", &n->egress) || !get_int(o, "id", 0, 99999, &id))
		return bad(err, name, "invalid egress or id");
	n->id = (unsigned)id;
	return 0;
}

static int read_group(struct json_object *o, struct net_group *g, struct capsid_error *err)
{
	const char *name = get_str(o, "name"), *network = get_str(o, "network"), *ip = get_str(o, "ip"),
		   *mac = get_str(o, "mac"), *label = get_str(o, "dnsLabel");
	int64_t id;
	if (!name || !net_valid_label(name))
		return bad(err, "groups", "invalid name");
	snprintf(g->name, sizeof(g->name), "%s", name);
	if (!network || !net_valid_network_name(network))
		return bad(err, name, "invalid network");
	snprintf(g->network, sizeof(g->network), "%s", network);
	if (!get_int(o, "id", 1, 9999999, &id) || !ip || net_parse_ipv4(ip, &g->ip) < 0 || !mac ||
	    net_parse_mac(mac, g->mac) < 0 || !get_bool(o, "public", &g->public_ip))
		return bad(err, name, "invalid id, ip, mac or public");
	g->id = (unsigned)id;
	if ((!label && json_object_object_get_ex(o, "dnsLabel", NULL)) ||
	    (label && *label && !net_valid_label(label)))
		return bad(err, name, "invalid dnsLabel");
	snprintf(g->dns_label, sizeof(g->dns_label), "%s", label ? label : "");
	if (read_ports(o, "ports", NET_MAX_PORTS, g->ports, &g->n_ports) < 0 ||
	    read_ports(o, "hostServices", NET_MAX_SERVICES, g->services, &g->n_services) < 0)
		return bad(err, name, "invalid ports or hostServices");
	return 0;
}

int net_state_from_json(struct json_object *doc, struct net_state *st, struct capsid_error *err)
{
	*st = (struct net_state){0};
	int64_t version;
	struct json_object *nets, *groups;
	if (!json_object_is_type(doc, json_type_object) || !get_int(doc, "version", 1, 1000, &version))
		return bad(err, "version", "missing");
	if (version != STATE_VERSION)
		return capsid_error_set(err, ENOTSUP, "state.json: version %lld is not supported",
					(long long)version);
	if (!json_object_object_get_ex(doc, "networks", &nets) ||
	    !json_object_is_type(nets, json_type_array) ||
	    json_object_array_length(nets) > NET_MAX_NETWORKS ||
	    !json_object_object_get_ex(doc, "groups", &groups) ||
	    !json_object_is_type(groups, json_type_array) ||
	    json_object_array_length(groups) > NET_MAX_GROUPS)
		return bad(err, "networks/groups", "missing or too many");
	struct net_state s = {0};
	s.networks = calloc(json_object_array_length(nets) + 1, sizeof(*s.networks));
	s.groups = calloc(json_object_array_length(groups) + 1, sizeof(*s.groups));
	if (!s.networks || !s.groups) {
		net_state_free(&s);
		return capsid_error_set(err, ENOMEM, "out of memory");
	}
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < json_object_array_length(nets); i++) {
		rc = read_network(json_object_array_get_idx(nets, i), &s.networks[i], err);
		if (rc == 0 && (net_state_network(&s, s.networks[i].name)))
			rc = bad(err, s.networks[i].name, "duplicate network");
		if (rc == 0)
			s.n_networks++;
	}
	for (size_t i = 0; rc == 0 && i < json_object_array_length(groups); i++) {
		struct net_group *g = &s.groups[i];
		rc = read_group(json_object_array_get_idx(groups, i), g, err);
		if (rc == 0 && net_state_group(&s, g->name))
			rc = bad(err, g->name, "duplicate group");
		if (rc == 0 && !net_state_network(&s, g->network))
			rc = bad(err, g->name, "unknown network");
		if (rc == 0)
			s.n_groups++;
	}
	if (rc < 0) {
		net_state_free(&s);
		return rc;
	}
	*st = s;
	return 0;
}

/* ---- writing ------------------------------------------------------------ */

static bool add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return false;
	if ((key ? json_object_object_add(o, key, v) : json_object_array_add(o, v)) < 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

static struct json_object *ports_json(const struct net_port *ports, size_t n)
{
	_cleanup_json_ struct json_object *arr = json_object_new_array();
	for (size_t i = 0; arr && i < n; i++) {
		struct json_object *p = json_object_new_object();
		if (!add(arr, NULL, p) || !add(p, "port", json_object_new_int(ports[i].port)) ||
		    !add(p, "protocol", json_object_new_string(net_protocol_name(ports[i].protocol))))
			return NULL;
	}
	return TAKE_PTR(arr);
}

struct json_object *net_state_to_json(const struct net_state *st)
{
	_cleanup_json_ struct json_object *doc = json_object_new_object();
	if (!doc || !add(doc, "version", json_object_new_int(STATE_VERSION)))
		return NULL;
	struct json_object *nets = json_object_new_array();
	if (!add(doc, "networks", nets))
		return NULL;
	struct json_object *groups = json_object_new_array();
	if (!add(doc, "groups", groups))
		return NULL;
	for (size_t i = 0; i < st->n_networks; i++) {
		const struct net_network *n = &st->networks[i];
		char cidr[19];
		net_format_cidr(n->subnet, n->prefix, cidr);
		struct json_object *o = json_object_new_object();
		if (!add(nets, NULL, o) || !add(o, "name", json_object_new_string(n->name)) ||
		    !add(o, "subnet", json_object_new_string(cidr)) ||
		    !add(o, "egress", json_object_new_boolean(n->egress)) ||
		    !add(o, "id", json_object_new_int((int)n->id)))
			return NULL;
	}
	for (size_t i = 0; i < st->n_groups; i++) {
		const struct net_group *g = &st->groups[i];
		char ip[16], mac[18];
		net_format_ipv4(g->ip, ip);
		net_format_mac(g->mac, mac);
		struct json_object *o = json_object_new_object();
		if (!add(groups, NULL, o) || !add(o, "name", json_object_new_string(g->name)) ||
		    !add(o, "network", json_object_new_string(g->network)) ||
		    !add(o, "id", json_object_new_int((int)g->id)) ||
		    !add(o, "ip", json_object_new_string(ip)) ||
		    !add(o, "mac", json_object_new_string(mac)) ||
		    !add(o, "public", json_object_new_boolean(g->public_ip)) ||
		    !add(o, "ports", ports_json(g->ports, g->n_ports)) ||
		    !add(o, "dnsLabel", json_object_new_string(g->dns_label)) ||
		    !add(o, "hostServices", ports_json(g->services, g->n_services)))
			return NULL;
	}
	return TAKE_PTR(doc);
}

/* ---- changes ------------------------------------------------------------ */

int net_state_add_network(struct net_state *st, const char *name, uint32_t subnet, unsigned prefix,
			  bool egress, struct capsid_error *err)
{
	if (st->n_networks >= NET_MAX_NETWORKS)
		return capsid_error_set(err, ENOSPC, "at most %d networks", NET_MAX_NETWORKS);
	struct net_network *nets = realloc(st->networks, (st->n_networks + 1) * sizeof(*nets));
	if (!nets)
		return capsid_error_set(err, ENOMEM, "out of memory");
	st->networks = nets;
	/* Lowest free id, so bridge names are short and reused. */
	unsigned id = 0;
	for (size_t i = 0; i < st->n_networks; i++)
		if (st->networks[i].id == id) {
			id++;
			i = (size_t)-1; /* start over: the list is not sorted */
		}
	struct net_network *n = &nets[st->n_networks++];
	*n = (struct net_network){.subnet = subnet, .prefix = prefix, .egress = egress, .id = id};
	snprintf(n->name, sizeof(n->name), "%s", name);
	return 0;
}

void net_state_remove_network(struct net_state *st, const char *name)
{
	struct net_network *n = net_state_network(st, name);
	if (!n)
		return;
	size_t i = (size_t)(n - st->networks);
	memmove(n, n + 1, (st->n_networks - i - 1) * sizeof(*n));
	st->n_networks--;
}

void net_state_remove_group(struct net_state *st, const char *name)
{
	struct net_group *g = net_state_group(st, name);
	if (!g)
		return;
	size_t i = (size_t)(g - st->groups);
	memmove(g, g + 1, (st->n_groups - i - 1) * sizeof(*g));
	st->n_groups--;
}

int net_state_ensure_default(const struct net_config *cfg, struct net_state *st, struct capsid_error *err)
{
	uint32_t subnet;
	unsigned prefix;
	if (net_parse_cidr(cfg->default_subnet, &subnet, &prefix) < 0)
		return capsid_error_set(err, EINVAL, "default subnet \"%s\" is not a CIDR network",
					cfg->default_subnet);
	struct net_network *n = net_state_network(st, NET_DEFAULT_NETWORK);
	if (n && n->subnet == subnet && n->prefix == prefix)
		return 0;
	/* A changed default subnet applies once no group holds an old address. */
	if (n && net_state_count_groups(st, NET_DEFAULT_NETWORK) > 0)
		return 0;
	int rc = net_check_subnet(st, NET_DEFAULT_NETWORK, subnet, prefix, err);
	if (rc < 0)
		return capsid_error_prefix(err, "default network");
	if (n) {
		n->subnet = subnet;
		n->prefix = prefix;
		return 0;
	}
	return net_state_add_network(st, NET_DEFAULT_NETWORK, subnet, prefix, true, err);
}

/* ---- files -------------------------------------------------------------- */

int net_store_dir(const struct net_config *cfg, const char *leaf, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/networks%s%s", cfg->root, leaf ? "/" : "", leaf ? leaf : "");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int net_store_lock(const struct net_config *cfg, bool exclusive, int *fd, struct capsid_error *err)
{
	char dir[PATH_MAX], path[PATH_MAX];
	*fd = -1;
	if (net_store_dir(cfg, NULL, dir, sizeof(dir)) < 0 ||
	    net_store_dir(cfg, NET_LOCK_FILE, path, sizeof(path)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	int rc = util_mkdir_p(dir, 0700);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "create %s", dir);
	_cleanup_close_ int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0)
		return capsid_error_errno(err, errno, "open %s", path);
	while (flock(lfd, exclusive ? LOCK_EX : LOCK_SH) < 0)
		if (errno != EINTR)
			return capsid_error_errno(err, errno, "lock %s", path);
	*fd = TAKE_FD(lfd);
	return 0;
}

int net_store_open(const struct net_config *cfg, bool exclusive, int *lock, struct net_state *st,
		   struct capsid_error *err)
{
	*st = (struct net_state){0};
	int rc = net_store_lock(cfg, exclusive, lock, err);
	return rc < 0 ? rc : net_store_load(cfg, st, err);
}

int net_store_load(const struct net_config *cfg, struct net_state *st, struct capsid_error *err)
{
	*st = (struct net_state){0};
	char path[PATH_MAX];
	if (net_store_dir(cfg, NET_STATE_FILE, path, sizeof(path)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int rc = util_read_file_at(AT_FDCWD, path, NET_STATE_MAX, &text, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return capsid_error_errno(err, -rc, "read %s", path);
	struct json_tokener *tok = json_tokener_new_ex(16);
	if (!tok)
		return capsid_error_set(err, ENOMEM, "out of memory");
	_cleanup_json_ struct json_object *doc = json_tokener_parse_ex(tok, text, (int)len);
	bool ok = json_tokener_get_error(tok) == json_tokener_success;
	json_tokener_free(tok);
	if (!ok || !doc)
		return capsid_error_set(err, EINVAL, "%s: not valid JSON", path);
	return net_state_from_json(doc, st, err);
}

int net_store_save(const struct net_config *cfg, const struct net_state *st, struct capsid_error *err)
{
	char path[PATH_MAX], dir[PATH_MAX];
	if (net_store_dir(cfg, NET_STATE_FILE, path, sizeof(path)) < 0 ||
	    net_store_dir(cfg, NULL, dir, sizeof(dir)) < 0)
		return capsid_error_set(err, ENAMETOOLONG, "state root path too long");
	int rc = util_mkdir_p(dir, 0700);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "create %s", dir);
	_cleanup_json_ struct json_object *doc = net_state_to_json(st);
	if (!doc)
		return capsid_error_set(err, ENOMEM, "out of memory");
	size_t len;
	const char *text = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PRETTY, &len);
	if (!text)
		return capsid_error_set(err, ENOMEM, "out of memory");
	rc = util_write_file_atomic(path, text, len, 0600);
	if (rc < 0)
		return capsid_error_errno(err, -rc, "write %s", path);
	return 0;
}
