/* Links through libnl-route: bridges with their gateway address, and
 * persistent taps (made with TUNSETIFF + TUNSETPERSIST, since rtnetlink
 * cannot create tun devices) enslaved to them. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cleanup.h"
#include "net_internal.h"
#include "util.h"

struct net_link {
	struct nl_sock *sk;
};

static int nl_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_EXIST:
		return EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return ENODEV;
	case NLE_PERM:
	case NLE_NOACCESS:
		return EPERM;
	case NLE_NOMEM:
		return ENOMEM;
	case NLE_BUSY:
		return EBUSY;
	case NLE_INVAL:
		return EINVAL;
	case NLE_OPNOTSUPP:
		return EOPNOTSUPP;
	case NLE_NOADDR:
		return EADDRNOTAVAIL;
	default:
		return EIO;
	}
}

static int nl_fail(struct capsid_error *err, int nlerr, const char *what, const char *name)
{
	return capsid_error_set(err, nl_errno(nlerr), "%s %s: %s", what, name, nl_geterror(nlerr));
}

static void linkp_put(struct rtnl_link **l)
{
	if (*l)
		rtnl_link_put(*l);
}
#define _cleanup_link_ _cleanup_(linkp_put)

static void addrp_put(struct nl_addr **a)
{
	if (*a)
		nl_addr_put(*a);
}
#define _cleanup_nladdr_ _cleanup_(addrp_put)

int net_link_open(struct net_link **out, struct capsid_error *err)
{
	*out = NULL;
	struct net_link *l = calloc(1, sizeof(*l));
	if (!l)
		return capsid_error_set(err, ENOMEM, "out of memory");
	l->sk = nl_socket_alloc();
	if (!l->sk) {
		free(l);
		return capsid_error_set(err, ENOMEM, "out of memory");
	}
	int rc = nl_connect(l->sk, NETLINK_ROUTE);
	if (rc < 0) {
		nl_socket_free(l->sk);
		free(l);
		return capsid_error_set(err, nl_errno(rc), "rtnetlink: %s", nl_geterror(rc));
	}
	*out = l;
	return 0;
}

void net_link_close(struct net_link *l)
{
	if (!l)
		return;
	nl_socket_free(l->sk);
	free(l);
}

int net_sysctl_write(const char *path, const char *value)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return util_write_all(fd, value, strlen(value));
}

static void disable_ipv6(const char *ifname)
{
	/* Guests get IPv4 only; a link-local IPv6 address on the host side
	 * would be one more way to reach the host. Absent IPv6 is fine. */
	char path[96];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	net_sysctl_write(path, "1");
}

int net_link_exists(struct net_link *l, const char *name)
{
	struct rtnl_link *link = NULL;
	int rc = rtnl_link_get_kernel(l->sk, 0, name, &link);
	if (link)
		rtnl_link_put(link);
	if (rc == 0)
		return 1;
	return nl_errno(rc) == ENODEV ? 0 : -nl_errno(rc);
}

/* Set flags (and a master when master_ifindex > 0) on an existing link. */
static int link_up(struct net_link *l, const char *name, int master_ifindex, struct capsid_error *err)
{
	_cleanup_link_ struct rtnl_link *cur = NULL;
	int rc = rtnl_link_get_kernel(l->sk, 0, name, &cur);
	if (rc < 0)
		return nl_fail(err, rc, "find link", name);
	_cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
	if (!change)
		return capsid_error_set(err, ENOMEM, "out of memory");
	if (master_ifindex > 0)
		rtnl_link_set_master(change, master_ifindex);
	rtnl_link_set_flags(change, IFF_UP);
	rc = rtnl_link_change(l->sk, cur, change, 0);
	if (rc < 0)
		return nl_fail(err, rc, master_ifindex > 0 ? "enslave and bring up" : "bring up", name);
	return 0;
}

int net_link_bridge_ensure(struct net_link *l, const struct net_network *n, bool *created,
			   struct capsid_error *err)
{
	char name[16];
	net_bridge_name(n, name);
	*created = false;
	int exists = net_link_exists(l, name);
	if (exists < 0)
		return capsid_error_errno(err, -exists, "look up bridge %s", name);
	if (!exists) {
		_cleanup_link_ struct rtnl_link *br = rtnl_link_bridge_alloc();
		if (!br)
			return capsid_error_set(err, ENOMEM, "out of memory");
		rtnl_link_set_name(br, name);
		/* A fixed MAC: a bridge otherwise takes the lowest MAC of its
		 * ports, and changes it (breaking the guests' ARP entry for the
		 * gateway) as taps come and go. 02: locally administered. */
		uint8_t mac[6] = {0x02, 0xca, 0x51, 0xd0, (uint8_t)(n->id >> 8), (uint8_t)n->id};
		_cleanup_nladdr_ struct nl_addr *lladdr = nl_addr_build(AF_LLC, mac, sizeof(mac));
		if (!lladdr)
			return capsid_error_set(err, ENOMEM, "out of memory");
		rtnl_link_set_addr(br, lladdr);
		int rc = rtnl_link_add(l->sk, br, NLM_F_CREATE | NLM_F_EXCL);
		if (rc < 0)
			return nl_fail(err, rc, "create bridge", name);
		*created = true;
	}
	disable_ipv6(name);

	int ifindex = (int)if_nametoindex(name);
	if (ifindex <= 0)
		return capsid_error_errno(err, errno, "bridge %s vanished", name);
	uint32_t gw_be = htonl(net_gateway(n)), bcast_be = htonl(n->subnet | ~net_prefix_mask(n->prefix));
	_cleanup_nladdr_ struct nl_addr *local = nl_addr_build(AF_INET, &gw_be, 4);
	_cleanup_nladdr_ struct nl_addr *bcast = nl_addr_build(AF_INET, &bcast_be, 4);
	struct rtnl_addr *addr = rtnl_addr_alloc();
	if (!local || !bcast || !addr) {
		if (addr)
			rtnl_addr_put(addr);
		return capsid_error_set(err, ENOMEM, "out of memory");
	}
	nl_addr_set_prefixlen(local, (int)n->prefix);
	rtnl_addr_set_ifindex(addr, ifindex);
	rtnl_addr_set_local(addr, local);
	rtnl_addr_set_broadcast(addr, bcast);
	int rc = rtnl_addr_add(l->sk, addr, NLM_F_EXCL);
	rtnl_addr_put(addr);
	if (rc < 0 && nl_errno(rc) != EEXIST)
		return nl_fail(err, rc, "add gateway address to", name);
	return link_up(l, name, 0, err);
}

int net_link_tap_create(struct net_link *l, const char *tap, const char *bridge, struct capsid_error *err)
{
	int br = bridge ? (int)if_nametoindex(bridge) : 0;
	if (bridge && br <= 0)
		return capsid_error_errno(err, errno, "bridge %s", bridge);
	/* Attaching an attached group again keeps a tap that is already on
	 * its bridge (QEMU may hold it); any other one with the name was left
	 * by a crash and is replaced. */
	_cleanup_link_ struct rtnl_link *cur = NULL;
	if (bridge && rtnl_link_get_kernel(l->sk, 0, tap, &cur) == 0 && rtnl_link_get_master(cur) == br) {
		disable_ipv6(tap);
		return link_up(l, tap, br, err);
	}
	int rc = net_link_delete(l, tap, err);
	if (rc < 0)
		return rc;
	_cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return capsid_error_errno(err, errno, "open /dev/net/tun");
	/* The flags QEMU opens it with again: IFF_TAP | IFF_NO_PI, single queue. */
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return capsid_error_errno(err, errno, "create tap %s", tap);
	if (ioctl(fd, TUNSETPERSIST, 1) < 0) {
		rc = capsid_error_errno(err, errno, "make tap %s persistent", tap);
		return rc; /* closing fd removes the non-persistent device */
	}
	disable_ipv6(tap);
	if (!bridge)
		return 0; /* on no bridge, and down: it can reach nothing */
	rc = link_up(l, tap, br, err);
	if (rc < 0) {
		ioctl(fd, TUNSETPERSIST, 0);
		return rc;
	}
	return 0;
}

int net_link_tap_enslave(struct net_link *l, const char *tap, const char *bridge, struct capsid_error *err)
{
	int br = (int)if_nametoindex(bridge);
	if (br <= 0)
		return capsid_error_errno(err, errno, "bridge %s", bridge);
	disable_ipv6(tap);
	return link_up(l, tap, br, err);
}

int net_link_tap_adopt(struct net_link *l, const char *from, const char *tap, const char *bridge,
		       struct capsid_error *err)
{
	_cleanup_link_ struct rtnl_link *cur = NULL;
	int rc = rtnl_link_get_kernel(l->sk, 0, from, &cur);
	if (rc < 0)
		return nl_fail(err, rc, "find tap", from);
	/* A tap of the group's name can only be a crash's leftover. */
	if ((rc = net_link_delete(l, tap, err)) < 0)
		return rc;
	_cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
	if (!change)
		return capsid_error_set(err, ENOMEM, "out of memory");
	rtnl_link_set_name(change, tap);
	rc = rtnl_link_change(l->sk, cur, change, 0);
	if (rc < 0)
		return nl_fail(err, rc, "rename tap", from);
	return bridge ? net_link_tap_enslave(l, tap, bridge, err) : 0;
}

int net_link_delete(struct net_link *l, const char *name, struct capsid_error *err)
{
	_cleanup_link_ struct rtnl_link *link = rtnl_link_alloc();
	if (!link)
		return capsid_error_set(err, ENOMEM, "out of memory");
	rtnl_link_set_name(link, name);
	int rc = rtnl_link_delete(l->sk, link);
	if (rc == 0 || nl_errno(rc) == ENODEV)
		return 0;
	/* Kernels without rtnetlink deletion for tun devices: clear the
	 * persist flag instead (the device goes when its last user closes). */
	_cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) == 0 && ioctl(fd, TUNSETPERSIST, 0) == 0)
		return 0;
	return nl_fail(err, rc, "delete link", name);
}

int net_link_list_prefix(struct net_link *l, const char *prefix, char (*names)[16], size_t max, size_t *n,
			 struct capsid_error *err)
{
	*n = 0;
	struct nl_cache *cache = NULL;
	int rc = rtnl_link_alloc_cache(l->sk, AF_UNSPEC, &cache);
	if (rc < 0)
		return capsid_error_set(err, nl_errno(rc), "list links: %s", nl_geterror(rc));
	size_t plen = strlen(prefix);
	for (struct nl_object *o = nl_cache_get_first(cache); o && *n < max; o = nl_cache_get_next(o)) {
		const char *name = rtnl_link_get_name((struct rtnl_link *)o);
		if (name && !strncmp(name, prefix, plen) && strlen(name) < 16)
			snprintf(names[(*n)++], 16, "%s", name);
	}
	nl_cache_free(cache);
	return 0;
}
