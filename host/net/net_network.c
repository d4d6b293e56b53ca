/* Virtual networks: create, remove, list. A network is only a store entry
 * until a group attaches (net_attach makes its bridge), so creating one
 * needs no privilege; removing one deletes a bridge left behind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "net_internal.h"

static void statep_free(struct net_state *st)
{
	net_state_free(st);
}
#define _cleanup_state_ _cleanup_(statep_free)

static void linkp_close(struct net_link **l)
{
	net_link_close(*l);
}

int net_network_create(const struct net_config *cfg, const char *name, const char *cidr, bool egress,
		       struct capsid_error *err)
{
	if (!net_valid_network_name(name))
		return capsid_error_set(
		    err, EINVAL,
		    "network name \"%.64s\": use 1-63 letters, digits, '.', '_' or '-', starting "
		    "with a letter or digit",
		    name ? name : "");
	uint32_t subnet;
	unsigned prefix;
	if (net_parse_cidr(cidr, &subnet, &prefix) < 0)
		return capsid_error_set(
		    err, EINVAL, "subnet \"%.32s\" is not an IPv4 network (A.B.C.D/N with no host bits set)",
		    cidr ? cidr : "");
	_cleanup_close_ int lock = -1;
	_cleanup_state_ struct net_state st = {0};
	int rc = net_store_open(cfg, true, &lock, &st, err);
	if (rc < 0 || (rc = net_state_ensure_default(cfg, &st, err)) < 0)
		return rc;
	if (net_state_network(&st, name))
		return capsid_error_set(err, EEXIST, "network \"%s\" already exists", name);
	if ((rc = net_check_subnet(&st, name, subnet, prefix, err)) < 0 ||
	    (rc = net_state_add_network(&st, name, subnet, prefix, egress, err)) < 0)
		return rc;
	return net_store_save(cfg, &st, err);
}

int net_network_remove(const struct net_config *cfg, const char *name, struct capsid_error *err)
{
	if (name && !strcmp(name, NET_DEFAULT_NETWORK))
		return capsid_error_set(err, EPERM, "the default network cannot be removed");
	_cleanup_close_ int lock = -1;
	_cleanup_state_ struct net_state st = {0};
	int rc = net_store_open(cfg, true, &lock, &st, err);
	if (rc < 0)
		return rc;
	const struct net_network *n = net_state_network(&st, name);
	if (!n)
		return capsid_error_set(err, ENOENT, "network \"%.64s\" does not exist", name ? name : "");
	if (net_state_count_groups(&st, name)) {
		/* Name a few users: enough to act on, bounded in size. */
		char users[256] = "";
		size_t shown = 0;
		for (size_t i = 0; i < st.n_groups; i++) {
			if (strcmp(st.groups[i].network, name))
				continue;
			if (shown++ < 5)
				snprintf(users + strlen(users), sizeof(users) - strlen(users), "%s\"%s\"",
					 shown > 1 ? ", " : "", st.groups[i].name);
		}
		return capsid_error_set(err, EBUSY, "network \"%s\" is used by %zu group%s: %s%s", name,
					shown, shown == 1 ? "" : "s", users, shown > 5 ? ", ..." : "");
	}
	char bridge[16];
	net_bridge_name(n, bridge);
	_cleanup_(linkp_close) struct net_link *link = NULL;
	if ((rc = net_link_open(&link, err)) < 0)
		return rc;
	/* Only ask to delete what exists, so removing an unused network needs
	 * no privilege in the usual case. */
	rc = net_link_exists(link, bridge);
	if (rc > 0)
		rc = net_link_delete(link, bridge, err);
	else if (rc < 0)
		rc = capsid_error_errno(err, -rc, "look up bridge %s", bridge);
	if (rc < 0)
		return rc;
	net_state_remove_network(&st, name);
	return net_store_save(cfg, &st, err);
}

static int cmp_info(const void *a, const void *b)
{
	return strcmp(((const struct net_network_info *)a)->name, ((const struct net_network_info *)b)->name);
}

int net_network_list(const struct net_config *cfg, struct net_network_info **out, size_t *n,
		     struct capsid_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_close_ int lock = -1;
	_cleanup_state_ struct net_state st = {0};
	int rc = net_store_open(cfg, false, &lock, &st, err);
	if (rc < 0 || (rc = net_state_ensure_default(cfg, &st, err)) < 0)
		return rc;
	struct net_network_info *info = calloc(st.n_networks + 1, sizeof(*info));
	if (!info)
		return capsid_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < st.n_networks; i++) {
		const struct net_network *nw = &st.networks[i];
		snprintf(info[i].name, sizeof(info[i].name), "%s", nw->name);
		net_format_cidr(nw->subnet, nw->prefix, info[i].subnet);
		net_format_ipv4(net_gateway(nw), info[i].gateway);
		net_bridge_name(nw, info[i].bridge);
		info[i].egress = nw->egress;
		info[i].n_groups = net_state_count_groups(&st, nw->name);
	}
	qsort(info, st.n_networks, sizeof(*info), cmp_info);
	*out = info;
	*n = st.n_networks;
	return 0;
}
