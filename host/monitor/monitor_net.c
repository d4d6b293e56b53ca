/* The monitor's use of host networking: the group's attachment (tap, MAC,
 * address, published ports, DNS name) is made at the first boot and
 * kept for the life of the group (in two steps: the lease, the bridge and
 * the tap, down on no bridge, before QEMU starts; the rules and the tap on
 * the bridge while QEMU starts), so its address is stable across stop and
 * start; `capsid delete` detaches it. The guest side is configured by the
 * agent from a NETWORK request sent right after negotiation. */
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "monitor.h"
#include "proto.h"
#include "spec.h"

/* Split a space-separated ACI string ("a b c") into a NULL-terminated
 * vector of pointers into buf. */
static size_t split_words(char *buf, const char **out, size_t max)
{
	size_t n = 0;
	for (char *tok = strtok(buf, " \t"); tok && n < max; tok = strtok(NULL, " \t"))
		out[n++] = tok;
	return n;
}

int monitor_net_attach(struct monitor *m, struct vmm_config *cfg, struct capsid_error *err)
{
	if (!m->net.attached) {
		int rc = net_config_load(m->paths->root, m->opts->net, &m->net.cfg, err);
		if (rc < 0)
			return rc;
		if (net_lookup(&m->net.cfg, m->paths->name, &m->net.att, NULL) == 0) {
			m->net.attached = true;
		} else {
			const struct spec_group *g = m->spec;
			const struct spec_ip_address *ip = g->ip_address;
			struct net_port ports[NET_MAX_PORTS];
			size_t n_ports = 0;
			for (size_t i = 0; ip && i < ip->n_ports && n_ports < NET_MAX_PORTS; i++)
				ports[n_ports++] = (struct net_port){
					.port = (uint16_t)ip->ports[i].port,
					.protocol = ip->ports[i].protocol == SPEC_PROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP,
				};
			struct net_attach_request req = {
				.group = m->paths->name,
				.network = spec_group_network(g),
				.public_ip = ip && ip->type == SPEC_IP_PUBLIC,
				.ports = ports,
				.n_ports = n_ports,
				.dns_label = ip ? ip->dns_name_label : NULL,
				.requested_ip = ip ? ip->ip : NULL,
			};
			/* azureFile volumes may be served by the embedded SMB service on the gateway. */
			static const struct net_port smb = {.port = 445, .protocol = IPPROTO_TCP};
			if (monitor_volumes_use_smb(m)) {
				req.host_services = &smb;
				req.n_host_services = 1;
			}
			/* A ready clone's QEMU holds its standby tap: that becomes the group's. */
			req.adopt_tap = m->warm.adopt ? m->warm.adopt->tap : NULL;
			req.tap_only = true; /* the rest while QEMU starts: monitor_net_finish */
			rc = net_attach(&m->net.cfg, &req, &m->net.att, err);
			if (rc < 0)
				return capsid_error_prefix(err, "network");
			m->net.attached = true;
			m->net.unfinished = true;
			m->warm.tap_adopted = m->warm.adopt != NULL;
			monitor_log(m, "network %s: %s/%u on %s (tap %s, mac %s)%s%s", m->net.att.network, m->net.att.ip,
				    m->net.att.prefix, m->net.att.bridge, m->net.att.tap, m->net.att.mac, m->net.att.fqdn[0] ? ", " : "",
				    m->net.att.fqdn);
		}
	}
	cfg->nics[0] = (struct vmm_nic){.tap = m->net.att.tap, .mac = m->net.att.mac};
	cfg->n_nics = 1;
	return 0;
}

int monitor_net_finish(struct monitor *m, struct capsid_error *err)
{
	if (!m->net.unfinished)
		return net_dns_ensure_running(&m->net.cfg, err) < 0 ? capsid_error_prefix(err, "DNS responder") : 0;
	if (net_attach_finish(&m->net.cfg, m->paths->name, err) < 0)
		return capsid_error_prefix(err, "network");
	m->net.unfinished = false;
	return 0;
}

int monitor_net_configure_guest(struct monitor *m)
{
	const struct spec_dns_config *dc = m->spec->dns_config;
	const char *ns[8], *search[8], *options[8];
	_cleanup_free_ char *search_buf = dc && dc->search_domains ? strdup(dc->search_domains) : NULL;
	_cleanup_free_ char *options_buf = dc && dc->options ? strdup(dc->options) : NULL;
	struct net_dns_settings dns = {0};
	if (dc) {
		for (size_t i = 0; i < dc->n_name_servers && i < ARRAY_SIZE(ns); i++)
			ns[dns.n_nameservers++] = dc->name_servers[i];
		dns.nameservers = ns;
		dns.search = search;
		dns.n_search = search_buf ? split_words(search_buf, search, ARRAY_SIZE(search)) : 0;
		dns.options = options;
		dns.n_options = options_buf ? split_words(options_buf, options, ARRAY_SIZE(options)) : 0;
	}
	struct json_object *body = NULL;
	struct capsid_error err = {0};
	if (net_guest_request(&m->net.cfg, &m->net.att, dc ? &dns : NULL, &body, &err) < 0) {
		monitor_log(m, "network request: %s", err.msg);
		return -EINVAL;
	}
	struct pending_req req = {.kind = REQ_NETWORK};
	return monitor_agent_request(m, CAPSID_MSG_NETWORK, body, &req);
}

void monitor_net_describe(struct monitor *m, struct json_object *props, struct json_object *ext)
{
	if (!m->net.attached)
		return;
	struct json_object *ip = NULL;
	if (!json_object_object_get_ex(props, "ipAddress", &ip)) {
		ip = json_object_new_object();
		json_object_object_add(ip, "type", json_object_new_string("Private"));
		json_object_object_add(props, "ipAddress", ip);
	}
	/* ACI reports the address clients use: the public one when published. */
	json_object_object_add(ip, "ip", json_object_new_string(m->net.att.public_ip[0] ? m->net.att.public_ip : m->net.att.ip));
	if (m->net.att.fqdn[0])
		json_object_object_add(ip, "fqdn", json_object_new_string(m->net.att.fqdn));
	struct json_object *net = json_object_new_object();
	json_object_object_add(net, "network", json_object_new_string(m->net.att.network));
	json_object_object_add(net, "privateIp", json_object_new_string(m->net.att.ip));
	json_object_object_add(net, "prefix", json_object_new_int((int)m->net.att.prefix));
	json_object_object_add(net, "gateway", json_object_new_string(m->net.att.gateway));
	json_object_object_add(net, "mac", json_object_new_string(m->net.att.mac));
	json_object_object_add(net, "tap", json_object_new_string(m->net.att.tap));
	json_object_object_add(ext, "network", net);
}
