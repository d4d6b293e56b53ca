/* Host networking for container groups (the ACI network model):
 *
 *   - virtual networks: each one a Linux bridge (capsid-brN) whose address
 *     is the network's gateway, created when its first group attaches and
 *     removed with its last one; "default" always exists;
 *   - one persistent tap per group (capsid-tN) on its network's bridge, a
 *     stable MAC and an IPv4 address from persisted IPAM;
 *   - nftables: the `capsid` tables (inet: NAT, isolation, egress; bridge:
 *     per-tap anti-spoofing), regenerated from the store and replaced in
 *     one transaction on every change;
 *   - published ports: DNAT from the publish address to the group (also
 *     for the host's own connections), a port taken by another group is a
 *     create error;
 *   - DNS: LABEL.ZONE answered by a small authoritative responder that the
 *     library starts on demand (`capsid __dns`) and that exits when no
 *     group is attached.
 *
 * State: <root>/networks/state.json, replaced atomically, and changed only
 * under an exclusive flock of <root>/networks/lock. Kernel objects are
 * changed while that lock is held, so they always follow the store. A
 * group's entry is written before its kernel objects exist and removed
 * after they are gone, so net_detach() finds and removes everything even
 * after a crash in between.
 *
 * Names: groups and DNS labels are DNS labels (1-63 of a-z, 0-9, '-');
 * networks are 1-63 of A-Z, a-z, 0-9, '.', '_', '-' starting with a letter
 * or digit. Only one capsid state root per network namespace (interface
 * and table names are fixed). Everything here needs CAP_NET_ADMIN except
 * net_config_load, net_network_create/list and net_lookup. */
#ifndef CAPSID_NET_H
#define CAPSID_NET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct json_object;

#define NET_NAME_MAX	     63
#define NET_MAX_PORTS	     64 /* published ports per group */
#define NET_MAX_SERVICES     8	/* host services per group (SMB...) */
#define NET_MAX_NETWORKS     256
#define NET_MAX_GROUPS	     4096
#define NET_DEFAULT_NETWORK  "default"
#define NET_DEFAULT_ZONE     "capsid.local"
#define NET_DEFAULT_SUBNET   "10.88.0.0/16"
#define NET_DEFAULT_DNS_PORT 53
#define NET_ZONE_MAX	     (253 - NET_NAME_MAX - 1)

struct net_config {
	char root[PATH_MAX];
	/* Where Public groups' ports are published (an address of this host).
	 * Empty: the source address of the default route, looked up when a
	 * Public group attaches. */
	char publish_address[16];
	/* DNS zone of the labels: lowercase, no trailing dot, at most
	 * NET_ZONE_MAX characters so that any LABEL.ZONE is a valid name. */
	char zone[NET_ZONE_MAX + 1];
	char default_subnet[19]; /* CIDR of the default network */
	/* Port of the host-side DNS listeners (127.0.0.1 and the publish
	 * address); 0 disables them. Guests always use port 53 on their
	 * gateway. */
	uint16_t dns_port;
	/* Program started as `EXE --root ROOT __dns` for the DNS responder.
	 * Empty: this process's own executable. */
	char dns_exe[PATH_MAX];
};

/* Settings a program read at its edge (CAPSID_PUBLISH_ADDRESS,
 * CAPSID_DNS_ZONE, CAPSID_DEFAULT_SUBNET, CAPSID_DNS_PORT, CAPSID_DNS_EXE;
 * host/core/config.h): each, when not NULL, overrides the file's. */
struct net_settings {
	const char *publish_address; /* an address of this host, or "all" */
	const char *dns_zone;
	const char *default_subnet;
	const char *dns_port;
	const char *dns_exe; /* the responder's program */
};

/* Defaults, then <root>/networks/config.json ({"publishAddress", "dnsZone",
 * "defaultSubnet", "dnsPort"}), then set (may be NULL). Every value is
 * validated; err names the source of a bad one (the variable's name for
 * set's). */
int net_config_load(const char *root, const struct net_settings *set, struct net_config *cfg,
		    struct capsid_error *err);

/* ---- virtual networks --------------------------------------------------- */

struct net_network_info {
	char name[NET_NAME_MAX + 1];
	char subnet[19];
	char gateway[16];
	char bridge[16];
	bool egress;
	unsigned n_groups;
};

/* cidr: IPv4 network with a prefix of 8..30 and no host bits set, not
 * overlapping another network. egress=false: the network's groups cannot
 * open connections to anything outside capsid (published ports still work). */
int net_network_create(const struct net_config *cfg, const char *name, const char *cidr, bool egress,
		       struct capsid_error *err);
/* Refused (-EBUSY) while a group uses it; "default" cannot be removed. */
int net_network_remove(const struct net_config *cfg, const char *name, struct capsid_error *err);
/* Sorted by name, "default" included. Free *out with free(). */
int net_network_list(const struct net_config *cfg, struct net_network_info **out, size_t *n,
		     struct capsid_error *err);

/* ---- groups ------------------------------------------------------------- */

struct net_port {
	uint16_t port;
	int protocol; /* IPPROTO_TCP or IPPROTO_UDP */
};

struct net_attach_request {
	const char *group;
	const char *network; /* NULL: "default" */
	bool public_ip;	     /* publish `ports` on the publish address */
	const struct net_port *ports;
	size_t n_ports;
	const char *dns_label;	  /* NULL: no DNS name */
	const char *requested_ip; /* NULL: allocate */
	/* Services on the gateway address this group may reach besides DNS
	 * (e.g. the SMB server of its own volumes: {445, IPPROTO_TCP}). */
	const struct net_port *host_services;
	size_t n_host_services;
	/* Warm start's ready clone: its QEMU already holds this tap (a
	 * standby tap): it becomes the group's tap instead of a new one. */
	const char *adopt_tap;
	/* Only the lease, the network's bridge and the group's tap, down on
	 * no bridge (QEMU can open it, nothing passes): net_attach_finish
	 * does the rest (rules, tap on the bridge, DNS) while the VM starts. */
	bool tap_only;
};

struct net_attachment {
	char group[NET_NAME_MAX + 1];
	char network[NET_NAME_MAX + 1];
	char bridge[16];
	char tap[16]; /* give it to QEMU: -netdev tap,ifname=TAP,script=no,downscript=no */
	char mac[18]; /* the guest's MAC: -device virtio-net-device,mac=MAC */
	char ip[16];
	unsigned prefix;
	char gateway[16];
	char dns_server[16]; /* the gateway: the DNS responder listens there */
	char fqdn[256];	     /* LABEL.ZONE, "" without a label */
	char public_ip[16];  /* the publish address for Public groups, else "" */
};

/* Attach a group: lease, tap, rules, DNS record and a running responder,
 * all or nothing. Attaching a group that is already attached to the same
 * network updates its ports/label/services and keeps its address, MAC and
 * tap (restart, crash recovery); another network is -EEXIST. Conflicts
 * (port taken, label taken, address taken, unknown network) are -EADDRINUSE,
 * -EEXIST or -ENOENT with a message naming the other group. */
int net_attach(const struct net_config *cfg, const struct net_attach_request *req, struct net_attachment *out,
	       struct capsid_error *err);
/* The second step of an attach made with tap_only: the rules, then the
 * tap enslaved and up, and the DNS responder. On failure the caller
 * detaches the group. */
int net_attach_finish(const struct net_config *cfg, const char *group, struct capsid_error *err);
/* Remove everything a group has: tap, lease, ports, DNS record, rules, and
 * its network's bridge when it was the last group there. Idempotent: a
 * group that is not attached is success. */
int net_detach(const struct net_config *cfg, const char *group, struct capsid_error *err);
/* The attachment of an attached group (-ENOENT otherwise); no kernel access. */
int net_lookup(const struct net_config *cfg, const char *group, struct net_attachment *out,
	       struct capsid_error *err);
/* Make the kernel follow the store: re-apply the rules, delete capsid taps
 * and bridges the store does not know (left by a crash), and drop the
 * tables when nothing is attached. */
int net_reconcile(const struct net_config *cfg, struct capsid_error *err);

/* ---- standby taps (warm start's ready clone, host/monitor/standby.c) ---- */

/* Standby taps are NET_STANDBY_TAP_PREFIX + the owner's pid; net_reconcile
 * leaves them alone (not NET_TAP_PREFIX). */
#define NET_STANDBY_TAP_PREFIX "capsid-s"
/* A persistent tap on no bridge, down: a VM on it reaches nothing. */
int net_standby_tap_create(pid_t owner, char name[16], struct capsid_error *err);
void net_standby_tap_delete(const char *name);
/* Delete standby taps whose owner is gone (a standby that was killed). */
void net_standby_tap_prune(void);

/* ---- DNS responder ------------------------------------------------------ */

/* Start the responder unless one runs for this root, and wait until it
 * listens. net_attach calls it; exposed for callers that need it earlier. */
int net_dns_ensure_running(const struct net_config *cfg, struct capsid_error *err);
/* Body of `capsid --root ROOT __dns`: serve until no group is attached.
 * Returns 0 on a normal exit, -errno on a fatal error (logged to stderr). */
int net_dns_main(const char *root, const struct net_settings *set);
/* The running responder's pid, 0 when none runs (its lock is free). */
pid_t net_dns_pid(const struct net_config *cfg);
/* End the running responder (SIGTERM; SIGKILL after timeout_ms) and wait
 * until its lock is free; 0 when none runs. The next attach or boot
 * starts it again. */
int net_dns_stop(const struct net_config *cfg, unsigned timeout_ms, struct capsid_error *err);

/* ---- the guest side ------------------------------------------------------ */

/* DNS settings for the guest; NULL/0 lists take the defaults: the gateway
 * (capsid names) followed by the host's own upstream name servers when the
 * network has egress, and the zone as search domain. */
struct net_dns_settings {
	const char *const *nameservers;
	size_t n_nameservers;
	const char *const *search;
	size_t n_search;
	const char *const *options;
	size_t n_options;
};

/* Body of the agent's CAPSID_MSG_NETWORK request for an attachment:
 * {"interfaces":[{"mac","address":"IP/PREFIX","gateway","mtu"}],
 *  "dns":{"nameservers","search","options"},"hosts":[{"ip","names"}]}. */
int net_guest_request(const struct net_config *cfg, const struct net_attachment *att,
		      const struct net_dns_settings *dns, struct json_object **out, struct capsid_error *err);

/* "TCP"/"UDP" for IPPROTO_TCP/IPPROTO_UDP, "?" otherwise. */
const char *net_protocol_name(int protocol);

#endif
