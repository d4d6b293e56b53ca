/* Shared between the net module's files; not part of the public API.
 * Addresses are IPv4 in host byte order (uint32_t). */
#ifndef CAPSID_NET_INTERNAL_H
#define CAPSID_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "net.h"

#define NET_STATE_FILE	  "state.json"
#define NET_LOCK_FILE	  "lock"
#define NET_CONFIG_FILE	  "config.json"
#define NET_DNS_LOCK	  "dns.lock"
#define NET_DNS_SPAWN	  "dns.spawn.lock"
#define NET_DNS_LOG	  "dns.log"
#define NET_STATE_MAX	  (8u << 20) /* bytes of state.json accepted */
#define NET_BRIDGE_PREFIX "capsid-br"
#define NET_TAP_PREFIX	  "capsid-t"
#define NET_MIN_PREFIX	  8
#define NET_MAX_PREFIX	  30

struct net_network {
	char name[NET_NAME_MAX + 1];
	uint32_t subnet;
	unsigned prefix;
	bool egress;
	unsigned id; /* names the bridge: capsid-br<id> */
};

struct net_group {
	char name[NET_NAME_MAX + 1];
	char network[NET_NAME_MAX + 1];
	unsigned id; /* names the tap: capsid-t<id> */
	uint32_t ip;
	uint8_t mac[6];
	bool public_ip;
	struct net_port ports[NET_MAX_PORTS];
	size_t n_ports;
	char dns_label[NET_NAME_MAX + 1]; /* "" when none */
	struct net_port services[NET_MAX_SERVICES];
	size_t n_services;
};

struct net_state {
	struct net_network *networks;
	size_t n_networks;
	struct net_group *groups;
	size_t n_groups;
};

/* ---- addresses and names (net_ipam.c) ----------------------------------- */

int net_parse_ipv4(const char *s, uint32_t *out);
void net_format_ipv4(uint32_t a, char out[16]);
/* "A.B.C.D/N" with 0 <= N <= 32 and no host bits set. */
int net_parse_cidr(const char *s, uint32_t *subnet, unsigned *prefix);
void net_format_cidr(uint32_t subnet, unsigned prefix, char out[19]);
uint32_t net_prefix_mask(unsigned prefix);
void net_format_mac(const uint8_t mac[6], char out[18]);
int net_parse_mac(const char *s, uint8_t mac[6]);
bool net_valid_network_name(const char *s);
bool net_valid_label(const char *s); /* DNS label, lowercase */
bool net_valid_zone(const char *s);  /* dotted DNS labels, lowercase */

uint32_t net_gateway(const struct net_network *n);
void net_bridge_name(const struct net_network *n, char out[16]);
void net_tap_name(const struct net_group *g, char out[16]);

/* ---- the state (net_store.c, net_ipam.c) -------------------------------- */

void net_state_free(struct net_state *st);
int net_state_copy(const struct net_state *src, struct net_state *dst);
int net_state_from_json(struct json_object *doc, struct net_state *st, struct capsid_error *err);
struct json_object *net_state_to_json(const struct net_state *st);

struct net_network *net_state_network(const struct net_state *st, const char *name);
struct net_group *net_state_group(const struct net_state *st, const char *name);
unsigned net_state_count_groups(const struct net_state *st, const char *network);
/* Add the default network from cfg if missing; follow a changed default
 * subnet while no group uses it. */
int net_state_ensure_default(const struct net_config *cfg, struct net_state *st, struct capsid_error *err);
int net_state_add_network(struct net_state *st, const char *name, uint32_t subnet, unsigned prefix,
			  bool egress, struct capsid_error *err);
void net_state_remove_network(struct net_state *st, const char *name);
void net_state_remove_group(struct net_state *st, const char *name);

/* IPAM and conflict checks on a state (pure). */
int net_ipam_alloc(const struct net_state *st, const struct net_network *n, const char *group,
		   const char *requested, uint32_t *ip, struct capsid_error *err);
int net_check_ports(const struct net_state *st, const struct net_config *cfg, const char *group,
		    const struct net_port *ports, size_t n, struct capsid_error *err);
int net_check_label(const struct net_state *st, const char *group, const char *label,
		    struct capsid_error *err);
int net_check_subnet(const struct net_state *st, const char *name, uint32_t subnet, unsigned prefix,
		     struct capsid_error *err);
unsigned net_free_group_id(const struct net_state *st);
void net_make_mac(const struct net_state *st, const char *group, uint8_t mac[6]);
/* The address a group's DNS name resolves to. */
uint32_t net_group_dns_address(const struct net_group *g, uint32_t publish);

/* The store: <root>/networks/{lock,state.json}. net_store_lock takes an
 * exclusive (or shared) flock, creating the directory; close the fd to
 * release it. A missing state file is an empty state. */
int net_store_dir(const struct net_config *cfg, const char *leaf, char *out, size_t len);
int net_store_lock(const struct net_config *cfg, bool exclusive, int *fd, struct capsid_error *err);
int net_store_load(const struct net_config *cfg, struct net_state *st, struct capsid_error *err);
/* Both: the lock taken (the caller closes *lock) and the state loaded. */
int net_store_open(const struct net_config *cfg, bool exclusive, int *lock, struct net_state *st,
		   struct capsid_error *err);
int net_store_save(const struct net_config *cfg, const struct net_state *st, struct capsid_error *err);

/* The publish address as a number: configured, else the default route's
 * source; 0 with an error when neither exists. */
int net_publish_address(const struct net_config *cfg, uint32_t *out, struct capsid_error *err);
/* publishAddress "all" (or 0.0.0.0): published on every local address of
 * the host, as `docker run -p` does. 255.255.255.255 is never a host's
 * address, so it stands for that. Records and `show` then give the group's
 * own address. */
#define NET_PUBLISH_ALL 0xffffffffu

/* The publish address the rules and records use for st: 0 when no group
 * publishes ports or no address is known (then no DNAT rule is written). */
uint32_t net_effective_publish(const struct net_config *cfg, const struct net_state *st);

/* ---- kernel links (net_link.c) ------------------------------------------ */

struct net_link;
int net_link_open(struct net_link **out, struct capsid_error *err);
void net_link_close(struct net_link *l);
/* Create the bridge if missing (fixed MAC, no IPv6), add the gateway
 * address, bring it up. *created tells whether it was made here. */
int net_link_bridge_ensure(struct net_link *l, const struct net_network *n, bool *created,
			   struct capsid_error *err);
/* A persistent tap enslaved to bridge and up; a stale one is replaced.
 * bridge NULL: a new tap on no bridge, left down. */
int net_link_tap_create(struct net_link *l, const char *tap, const char *bridge, struct capsid_error *err);
/* Rename the existing tap `from` (down, on no bridge) to `tap`, enslave it
 * to bridge and bring it up (bridge NULL: only rename): QEMU keeps the tap
 * it holds. */
int net_link_tap_adopt(struct net_link *l, const char *from, const char *tap, const char *bridge,
		       struct capsid_error *err);
/* An existing tap enslaved to bridge and up. */
int net_link_tap_enslave(struct net_link *l, const char *tap, const char *bridge, struct capsid_error *err);
/* Delete a link by name; a missing one is success. */
int net_link_delete(struct net_link *l, const char *name, struct capsid_error *err);
/* 1 if a link of that name exists, 0 if not, -errno. */
int net_link_exists(struct net_link *l, const char *name);
/* Names of links starting with prefix (at most max). */
int net_link_list_prefix(struct net_link *l, const char *prefix, char (*names)[16], size_t max, size_t *n,
			 struct capsid_error *err);
int net_sysctl_write(const char *path, const char *value);

/* ---- nftables (net_nft.c) ----------------------------------------------- */

/* The ruleset for st as nft input: both capsid tables deleted and, when a
 * group is attached, recreated, all in one transaction. publish is 0 when
 * no group publishes ports. Free *out. */
int net_nft_render(const struct net_state *st, uint32_t publish, char **out, struct capsid_error *err);
/* Run nft input as one transaction (dry_run: only check it). */
int net_nft_run(const char *text, bool dry_run, struct capsid_error *err);
/* Render and apply. */
int net_nft_apply_state(const struct net_state *st, uint32_t publish, struct capsid_error *err);

/* ---- DNS protocol (net_dns.c) ------------------------------------------- */

#define NET_DNS_TTL	   5 /* records change with every create/delete */
#define NET_DNS_MAX_PACKET 512

struct net_dns_record {
	char label[NET_NAME_MAX + 1];
	uint32_t address;
};

struct net_dns_zone {
	const char *zone; /* lowercase, no trailing dot */
	const struct net_dns_record *records;
	size_t n_records;
	uint32_t serial;
};

struct net_dns_query {
	uint16_t id;
	uint16_t flags;
	char name[256]; /* lowercase, dotted, no trailing dot; "" for the root */
	uint16_t qtype, qclass;
	size_t question_end; /* offset just past the question */
};

/* Parse a query: 0, -EINVAL (not worth an answer: too short or a
 * response), -EBADMSG (answer FORMERR), -EOPNOTSUPP (answer NOTIMP). */
int net_dns_parse_query(const uint8_t *pkt, size_t len, struct net_dns_query *q);
/* The answer to pkt, at most cap bytes (>= NET_DNS_MAX_PACKET); 0: send
 * nothing. Authoritative for the zone, REFUSED for every other name, never
 * recursive. */
size_t net_dns_answer(const struct net_dns_zone *z, const uint8_t *pkt, size_t len, uint8_t *out, size_t cap);

/* The records a state publishes (label -> address). Free *out. */
int net_dns_records(const struct net_state *st, uint32_t publish, struct net_dns_record **out, size_t *n);

#endif
