/* Groups on networks: attach (lease + bridge + tap + rules + DNS, all or
 * nothing), detach (idempotent), lookup, and reconcile after a crash.
 *
 * Order matters for "nothing leaks": attach writes the lease before it
 * makes kernel objects, detach removes kernel objects before the lease, so
 * at any instant everything that exists is named by the store (a tap,
 * bridge or rule the store does not name can only be one net_reconcile
 * removes). Everything runs under the store's exclusive lock. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "net_internal.h"
#include "util.h"

static void statep_free(struct net_state *st)
{
	net_state_free(st);
}
#define _cleanup_state_ _cleanup_(statep_free)

static void linkp_close(struct net_link **l)
{
	net_link_close(*l);
}
#define _cleanup_netlink_ _cleanup_(linkp_close)

static bool needs_publish(const struct net_state *st)
{
	for (size_t i = 0; i < st->n_groups; i++)
		if (st->groups[i].public_ip && st->groups[i].n_ports)
			return true;
	return false;
}

uint32_t net_effective_publish(const struct net_config *cfg, const struct net_state *st)
{
	uint32_t a = 0;
	if (needs_publish(st))
		net_publish_address(cfg, &a, NULL);
	return a;
}

static void fill_attachment(const struct net_config *cfg, const struct net_state *st,
			    const struct net_group *g, uint32_t publish, struct net_attachment *out)
{
	const struct net_network *n = net_state_network(st, g->network);
	*out = (struct net_attachment){0};
	snprintf(out->group, sizeof(out->group), "%s", g->name);
	snprintf(out->network, sizeof(out->network), "%s", g->network);
	net_tap_name(g, out->tap);
	net_format_mac(g->mac, out->mac);
	net_format_ipv4(g->ip, out->ip);
	if (n) {
		net_bridge_name(n, out->bridge);
		out->prefix = n->prefix;
		net_format_ipv4(net_gateway(n), out->gateway);
		net_format_ipv4(net_gateway(n), out->dns_server);
	}
	if (g->dns_label[0])
		snprintf(out->fqdn, sizeof(out->fqdn), "%.63s.%.189s", g->dns_label, cfg->zone);
	if (g->public_ip && publish && publish != NET_PUBLISH_ALL)
		net_format_ipv4(publish, out->public_ip);
}

static int ip_forward_on(struct capsid_error *err)
{
	static const char path[] = "/proc/sys/net/ipv4/ip_forward";
	_cleanup_free_ char *cur = NULL;
	if (util_read_file_at(AT_FDCWD, path, 16, &cur, NULL) == 0 && cur[0] == '1')
		return 0;
	int rc = net_sysctl_write(path, "1");
	return rc < 0 ? capsid_error_errno(err, -rc, "enable IPv4 forwarding (%s)", path) : 0;
}

static int check_request(const struct net_attach_request *req, struct capsid_error *err)
{
	if (!net_valid_label(req->group))
		return capsid_error_set(err, EINVAL, "group name \"%.64s\" is not a DNS label",
					req->group ? req->group : "");
	if (req->network && !net_valid_network_name(req->network))
		return capsid_error_set(err, EINVAL, "network name \"%.64s\" is not valid", req->network);
	if (req->n_host_services > NET_MAX_SERVICES)
		return capsid_error_set(err, EINVAL, "at most %d host services per group", NET_MAX_SERVICES);
	for (size_t i = 0; i < req->n_host_services; i++)
		if (!req->host_services[i].port || (req->host_services[i].protocol != IPPROTO_TCP &&
						    req->host_services[i].protocol != IPPROTO_UDP))
			return capsid_error_set(err, EINVAL, "host service %zu: invalid port or protocol", i);
	if (!req->public_ip && req->n_ports > NET_MAX_PORTS)
		return capsid_error_set(err, EINVAL, "at most %d ports per group", NET_MAX_PORTS);
	return 0;
}

/* The lease for req in st (a new one, or the group's current one updated). */
static int build_group(const struct net_config *cfg, const struct net_state *st, const struct net_network *n,
		       const struct net_attach_request *req, struct net_group *g, struct capsid_error *err)
{
	const struct net_group *cur = net_state_group(st, req->group);
	int rc;
	if (req->public_ip && (rc = net_check_ports(st, cfg, req->group, req->ports, req->n_ports, err)) < 0)
		return rc;
	if ((rc = net_check_label(st, req->group, req->dns_label, err)) < 0)
		return rc;
	*g = (struct net_group){0};
	snprintf(g->name, sizeof(g->name), "%s", req->group);
	snprintf(g->network, sizeof(g->network), "%s", n->name);
	if (cur && !req->requested_ip) {
		g->ip = cur->ip;
	} else if ((rc = net_ipam_alloc(st, n, req->group, req->requested_ip, &g->ip, err)) < 0) {
		return rc;
	}
	g->id = cur ? cur->id : net_free_group_id(st);
	if (cur)
		memcpy(g->mac, cur->mac, sizeof(g->mac));
	else
		net_make_mac(st, req->group, g->mac);
	g->public_ip = req->public_ip;
	/* Private groups keep their ports only as a record; nothing is published. */
	g->n_ports = req->n_ports > NET_MAX_PORTS ? NET_MAX_PORTS : req->n_ports;
	if (g->n_ports)
		memcpy(g->ports, req->ports, g->n_ports * sizeof(*g->ports));
	snprintf(g->dns_label, sizeof(g->dns_label), "%s", req->dns_label ? req->dns_label : "");
	g->n_services = req->n_host_services;
	if (g->n_services)
		memcpy(g->services, req->host_services, g->n_services * sizeof(*g->services));
	return 0;
}

static int state_put_group(struct net_state *st, const struct net_group *g)
{
	struct net_group *cur = net_state_group(st, g->name);
	if (cur) {
		*cur = *g;
		return 0;
	}
	if (st->n_groups >= NET_MAX_GROUPS)
		return -ENOSPC;
	struct net_group *groups = realloc(st->groups, (st->n_groups + 1) * sizeof(*groups));
	if (!groups)
		return -ENOMEM;
	st->groups = groups;
	groups[st->n_groups++] = *g;
	return 0;
}

/* The kernel half of an attach; undone by the caller on failure. */
static int attach_kernel(struct net_link *link, const struct net_state *st, const struct net_network *n,
			 const struct net_group *g, const char *adopt_tap, uint32_t publish, bool *bridge_created,
			 struct capsid_error *err)
{
	char bridge[16], tap[16];
	net_bridge_name(n, bridge);
	net_tap_name(g, tap);
	int rc;
	/* The rules first: the tap joins the bridge with them in place. */
	if ((rc = ip_forward_on(err)) < 0 ||
	    (rc = net_link_bridge_ensure(link, n, bridge_created, err)) < 0 ||
	    (rc = net_nft_apply_state(st, publish, err)) < 0)
		return rc;
	if (adopt_tap)
		return net_link_tap_adopt(link, adopt_tap, tap, bridge, err);
	return net_link_tap_create(link, tap, bridge, err);
}

/* The first step of a deferred attach (tap_only): the network's bridge
 * (its gateway address is where host services such as SMB listen) and the
 * group's tap, down on no bridge (QEMU can open it; nothing passes), or the
 * adopted one renamed. */
static int attach_tap_only(struct net_link *link, const struct net_network *n, const struct net_group *g,
			   const char *adopt_tap, bool *bridge_created, struct capsid_error *err)
{
	char tap[16];
	net_tap_name(g, tap);
	int rc;
	if ((rc = ip_forward_on(err)) < 0 || (rc = net_link_bridge_ensure(link, n, bridge_created, err)) < 0)
		return rc;
	if (adopt_tap)
		return net_link_tap_adopt(link, adopt_tap, tap, NULL, err);
	return net_link_tap_create(link, tap, NULL, err);
}

static int attach_locked(const struct net_config *cfg, const struct net_attach_request *req,
			 struct net_attachment *out, bool *was_attached, struct capsid_error *err)
{
	const char *netname = req->network ? req->network : NET_DEFAULT_NETWORK;
	_cleanup_state_ struct net_state old = {0}, st = {0};
	int rc;
	if ((rc = net_store_load(cfg, &old, err)) < 0 || (rc = net_state_ensure_default(cfg, &old, err)) < 0)
		return rc;
	const struct net_network *n = net_state_network(&old, netname);
	if (!n)
		return capsid_error_set(
		    err, ENOENT, "network \"%s\" does not exist (create it with `capsid network create`)",
		    netname);
	const struct net_group *cur = net_state_group(&old, req->group);
	if (cur && strcmp(cur->network, netname))
		return capsid_error_set(err, EEXIST, "group \"%s\" is already attached to network \"%s\"",
					req->group, cur->network);
	*was_attached = cur != NULL;
	uint32_t publish = 0;
	if (req->public_ip && req->n_ports && (rc = net_publish_address(cfg, &publish, err)) < 0)
		return rc;
	struct net_group g;
	if ((rc = build_group(cfg, &old, n, req, &g, err)) < 0)
		return rc;
	if ((rc = net_state_copy(&old, &st)) < 0 || (rc = state_put_group(&st, &g)) < 0)
		return capsid_error_set(err, -rc, "%s", rc == -ENOSPC ? "too many groups" : "out of memory");
	if (!publish)
		publish = net_effective_publish(cfg, &st);

	if ((rc = net_store_save(cfg, &st, err)) < 0)
		return rc;
	_cleanup_netlink_ struct net_link *link = NULL;
	bool bridge_created = false;
	rc = net_link_open(&link, err);
	if (rc == 0)
		rc = req->tap_only ? attach_tap_only(link, n, &g, req->adopt_tap, &bridge_created, err)
				   : attach_kernel(link, &st, n, &g, req->adopt_tap, publish, &bridge_created, err);
	if (rc < 0) {
		/* Undo in reverse; the store goes last so a crash here still
		 * leaves the lease that names what to clean. */
		char tap[16], bridge[16];
		net_tap_name(&g, tap);
		net_bridge_name(n, bridge);
		if (link) {
			if (!cur)
				net_link_delete(link, tap, NULL);
			net_nft_apply_state(&old, net_effective_publish(cfg, &old), NULL);
			if (bridge_created)
				net_link_delete(link, bridge, NULL);
		}
		net_store_save(cfg, &old, NULL);
		return capsid_error_prefix(err, "attach group %s to network %s", req->group, netname);
	}
	fill_attachment(cfg, &st, &g, publish, out);
	return 0;
}

int net_attach(const struct net_config *cfg, const struct net_attach_request *req, struct net_attachment *out,
	       struct capsid_error *err)
{
	*out = (struct net_attachment){0};
	int rc = check_request(req, err);
	if (rc < 0)
		return rc;
	bool was_attached = false;
	{
		_cleanup_close_ int lock = -1;
		if ((rc = net_store_lock(cfg, true, &lock, err)) < 0)
			return rc;
		if ((rc = attach_locked(cfg, req, out, &was_attached, err)) < 0)
			return rc;
	}
	if (req->tap_only)
		return 0;
	/* Outside the store lock: the responder takes it to read the store. */
	rc = net_dns_ensure_running(cfg, err);
	if (rc < 0) {
		capsid_error_prefix(err, "attach group %s", req->group);
		if (!was_attached)
			net_detach(cfg, req->group, NULL);
		*out = (struct net_attachment){0};
		return rc;
	}
	return 0;
}

int net_attach_finish(const struct net_config *cfg, const char *group, struct capsid_error *err)
{
	{
		_cleanup_close_ int lock = -1;
		_cleanup_state_ struct net_state st = {0};
		int rc = net_store_open(cfg, true, &lock, &st, err);
		if (rc < 0)
			return rc;
		const struct net_group *g = net_state_group(&st, group);
		const struct net_network *n = g ? net_state_network(&st, g->network) : NULL;
		if (!n)
			return capsid_error_set(err, ENOENT, "group \"%.64s\" is not attached to a network", group);
		char tap[16], bridge[16];
		net_tap_name(g, tap);
		net_bridge_name(n, bridge);
		_cleanup_netlink_ struct net_link *link = NULL;
		bool created;
		if ((rc = net_link_open(&link, err)) < 0 || (rc = ip_forward_on(err)) < 0 ||
		    (rc = net_link_bridge_ensure(link, n, &created, err)) < 0 ||
		    (rc = net_nft_apply_state(&st, net_effective_publish(cfg, &st), err)) < 0 ||
		    (rc = net_link_tap_enslave(link, tap, bridge, err)) < 0)
			return capsid_error_prefix(err, "attach group %s to network %s", group, n->name);
	}
	/* Outside the store lock: the responder takes it to read the store. */
	int rc = net_dns_ensure_running(cfg, err);
	return rc < 0 ? capsid_error_prefix(err, "attach group %s", group) : 0;
}

/* Delete bridges of networks without groups (and unknown capsid bridges). */
static void prune_bridges(struct net_link *link, const struct net_state *st)
{
	char names[NET_MAX_NETWORKS + 16][16];
	size_t n = 0;
	if (net_link_list_prefix(link, NET_BRIDGE_PREFIX, names, ARRAY_SIZE(names), &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		bool keep = false;
		for (size_t k = 0; k < st->n_networks && !keep; k++) {
			char br[16];
			net_bridge_name(&st->networks[k], br);
			keep = !strcmp(br, names[i]) && net_state_count_groups(st, st->networks[k].name) > 0;
		}
		if (!keep)
			net_link_delete(link, names[i], NULL);
	}
}

int net_detach(const struct net_config *cfg, const char *group, struct capsid_error *err)
{
	if (!net_valid_label(group))
		return capsid_error_set(err, EINVAL, "group name \"%.64s\" is not a DNS label",
					group ? group : "");
	_cleanup_close_ int lock = -1;
	_cleanup_state_ struct net_state st = {0};
	int rc = net_store_open(cfg, true, &lock, &st, err);
	if (rc < 0)
		return rc;
	const struct net_group *g = net_state_group(&st, group);
	if (!g)
		return 0;
	char tap[16];
	net_tap_name(g, tap);
	net_state_remove_group(&st, group);
	_cleanup_netlink_ struct net_link *link = NULL;
	if ((rc = net_link_open(&link, err)) < 0 || (rc = net_link_delete(link, tap, err)) < 0 ||
	    (rc = net_nft_apply_state(&st, net_effective_publish(cfg, &st), err)) < 0 ||
	    (rc = net_store_save(cfg, &st, err)) < 0)
		return capsid_error_prefix(err, "detach group %s", group);
	prune_bridges(link, &st);
	return 0;
}

int net_lookup(const struct net_config *cfg, const char *group, struct net_attachment *out,
	       struct capsid_error *err)
{
	*out = (struct net_attachment){0};
	_cleanup_close_ int lock = -1;
	_cleanup_state_ struct net_state st = {0};
	int rc = net_store_open(cfg, false, &lock, &st, err);
	if (rc < 0)
		return rc;
	const struct net_group *g = net_state_group(&st, group);
	if (!g)
		return capsid_error_set(err, ENOENT, "group \"%.64s\" is not attached to a network",
					group ? group : "");
	fill_attachment(cfg, &st, g, net_effective_publish(cfg, &st), out);
	return 0;
}

int net_reconcile(const struct net_config *cfg, struct capsid_error *err)
{
	_cleanup_close_ int lock = -1;
	_cleanup_state_ struct net_state st = {0};
	_cleanup_netlink_ struct net_link *link = NULL;
	int rc = net_store_open(cfg, true, &lock, &st, err);
	if (rc < 0 || (rc = net_link_open(&link, err)) < 0)
		return rc;
	/* Unknown taps first, then bridges, so no bridge is busy with one. */
	const size_t max_taps = NET_MAX_GROUPS + 64;
	_cleanup_free_ char(*taps)[16] = calloc(max_taps, sizeof(*taps));
	size_t n = 0;
	if (!taps)
		return capsid_error_set(err, ENOMEM, "out of memory");
	if ((rc = net_link_list_prefix(link, NET_TAP_PREFIX, taps, max_taps, &n, err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		bool known = false;
		for (size_t k = 0; k < st.n_groups && !known; k++) {
			char tap[16];
			net_tap_name(&st.groups[k], tap);
			known = !strcmp(tap, taps[i]);
		}
		if (!known && (rc = net_link_delete(link, taps[i], err)) < 0)
			return rc;
	}
	prune_bridges(link, &st);
	for (size_t i = 0; i < st.n_groups; i++) {
		const struct net_group *g = &st.groups[i];
		const struct net_network *nw = net_state_network(&st, g->network);
		char tap[16], bridge[16];
		bool created;
		net_tap_name(g, tap);
		net_bridge_name(nw, bridge);
		if ((rc = net_link_bridge_ensure(link, nw, &created, err)) < 0 ||
		    (rc = net_link_tap_create(link, tap, bridge, err)) < 0)
			return capsid_error_prefix(err, "reconcile group %s", g->name);
	}
	return net_nft_apply_state(&st, net_effective_publish(cfg, &st), err);
}

int net_standby_tap_create(pid_t owner, char name[16], struct capsid_error *err)
{
	snprintf(name, 16, NET_STANDBY_TAP_PREFIX "%d", (int)owner);
	_cleanup_netlink_ struct net_link *link = NULL;
	int rc = net_link_open(&link, err);
	if (rc < 0)
		return rc;
	return net_link_tap_create(link, name, NULL, err);
}

void net_standby_tap_delete(const char *name)
{
	_cleanup_netlink_ struct net_link *link = NULL;
	if (net_link_open(&link, NULL) == 0)
		net_link_delete(link, name, NULL);
}

void net_standby_tap_prune(void)
{
	_cleanup_netlink_ struct net_link *link = NULL;
	char names[64][16];
	size_t n = 0;
	if (net_link_open(&link, NULL) < 0 ||
	    net_link_list_prefix(link, NET_STANDBY_TAP_PREFIX, names, ARRAY_SIZE(names), &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char *end;
		long pid = strtol(names[i] + strlen(NET_STANDBY_TAP_PREFIX), &end, 10);
		if (*end == '\0' && pid > 0 && !util_pid_running((pid_t)pid))
			net_link_delete(link, names[i], NULL);
	}
}
