/* The guest's network, configured from the host's CAPSID_MSG_NETWORK
 * request:
 *
 *   {"interfaces":[{"mac":"52:54:00:..","address":"10.88.0.5/16",
 *                   "gateway":"10.88.0.1","mtu":1500}],
 *    "dns":{"nameservers":["10.88.0.1"],"search":["capsid.local"],
 *           "options":["ndots:2"]},
 *    "hosts":[{"ip":"10.88.0.5","names":["web.capsid.local"]}]}
 *
 * Each interface is found by its MAC (QEMU sets it; names depend on probe
 * order), brought up with its MTU, given its address, and the gateway
 * becomes the default route. The resolv.conf and the extra hosts lines
 * are rendered once, at parse time, from validated values only; the agent
 * binds them into every container (agent_net_write_files puts resolv.conf
 * in the guest's /etc, where container.c already looks for it).
 *
 * No libnl here (the agent is static): interfaces are configured with the
 * classic SIOCSIF* / SIOCADDRT ioctls, enough for one IPv4 address and a
 * default route per interface. */
#ifndef AGENT_NET_H
#define AGENT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct json_object;

#define AGENT_NET_MAX_IFACES  4
#define AGENT_NET_MAX_NS      3 /* glibc reads three nameserver lines */
#define AGENT_NET_MAX_SEARCH  6
#define AGENT_NET_MAX_OPTIONS 16
#define AGENT_NET_MAX_HOSTS   64
#define AGENT_NET_MAX_NAMES   8 /* names per hosts entry */

struct agent_net_iface {
	uint8_t mac[6];
	uint32_t address; /* host byte order */
	unsigned prefix;  /* 1..32 */
	uint32_t gateway; /* 0: no default route through it */
	unsigned mtu;
};

struct agent_net_config {
	struct agent_net_iface ifaces[AGENT_NET_MAX_IFACES];
	size_t n_ifaces;
	char resolv_conf[2048]; /* complete file */
	char hosts_extra[8192]; /* "IP\tname ...\n" lines from "hosts" */
};

/* Validate a NETWORK body into *out. Errors name the field:
 * "interfaces[0].address: ...". */
int agent_net_parse(struct json_object *body, struct agent_net_config *out, struct capsid_error *err);

/* Configure every interface of cfg (idempotent). */
int agent_net_apply(const struct agent_net_config *cfg, struct capsid_error *err);

/* The /etc/hosts of a container: localhost lines, the group's first
 * address under hostname, then the request's entries. -ENOSPC if it does
 * not fit in len. */
int agent_net_hosts(const struct agent_net_config *cfg, const char *hostname, char *buf, size_t len);

/* Write etc_dir/resolv.conf (atomically). */
int agent_net_write_files(const struct agent_net_config *cfg, const char *etc_dir, struct capsid_error *err);

/* Serve a NETWORK request: parse, apply, write /etc/resolv.conf. *out
 * keeps the result for agent_net_hosts() when containers are created. */
int agent_net_configure(struct json_object *body, struct agent_net_config *out, struct capsid_error *err);

#endif
