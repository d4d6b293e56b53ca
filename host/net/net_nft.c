/* The nftables ruleset, generated from the store and replaced as a whole
 * in one libnftables transaction (one netlink batch: either all of it
 * applies or none). Two tables named capsid, because one family cannot do
 * both jobs:
 *
 *   table bridge capsid  per-tap anti-spoofing at layer 2: within a
 *                        network guests talk through the bridge without
 *                        ever reaching the IP hooks, so a forged source IP,
 *                        MAC or ARP sender must be stopped as it enters.
 *   table inet capsid    published ports (DNAT, also for the host's own
 *                        connections), masquerade, guest -> host and
 *                        network -> network isolation, egress.
 *
 * Rule order in each chain is the policy; see the comments in the output.
 * Other tables may still drop what we accept: we never accept on behalf of
 * the host's own firewall, we only add restrictions and NAT. */
#include <errno.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "net_internal.h"

static const char *proto_word(int protocol)
{
	return protocol == IPPROTO_UDP ? "udp" : "tcp";
}

static void render_bridge(FILE *f, const struct net_state *st)
{
	fputs("table bridge capsid {\n"
	      "\tchain prerouting {\n"
	      "\t\ttype filter hook prerouting priority -300; policy accept;\n",
	      f);
	fputs("\t\tiifname vmap {", f);
	for (size_t i = 0; i < st->n_groups; i++) {
		char tap[16];
		net_tap_name(&st->groups[i], tap);
		fprintf(f, "%s \"%s\" : jump tap_%u", i ? "," : "", tap, st->groups[i].id);
	}
	fputs(" }\n", f);
	/* A capsid tap the store does not know (left by a crash) passes nothing. */
	fputs("\t\tiifname \"" NET_TAP_PREFIX "*\" drop\n\t}\n", f);
	for (size_t i = 0; i < st->n_groups; i++) {
		const struct net_group *g = &st->groups[i];
		char ip[16], mac[18];
		net_format_ipv4(g->ip, ip);
		net_format_mac(g->mac, mac);
		fprintf(f,
			"\tchain tap_%u {\n"
			"\t\t# group %s may only send IPv4 and ARP as %s / %s\n"
			"\t\tether type != { ip, arp } drop\n"
			"\t\tether saddr != %s drop\n"
			"\t\tarp htype != 1 drop\n"
			"\t\tarp ptype != ip drop\n"
			"\t\tarp hlen != 6 drop\n"
			"\t\tarp plen != 4 drop\n"
			"\t\tarp saddr ether != %s drop\n"
			"\t\tarp saddr ip != { 0.0.0.0, %s } drop\n"
			"\t\tip saddr != %s drop\n"
			"\t\taccept\n" /* not the catch-all drop below the vmap */
			"\t}\n",
			g->id, g->name, ip, mac, mac, mac, ip, ip);
	}
	fputs("}\n", f);
}

static void render_sets(FILE *f, const struct net_state *st, uint32_t publish)
{
	fputs("\tset bridges {\n\t\ttype ifname\n\t\telements = {", f);
	for (size_t i = 0; i < st->n_networks; i++) {
		char br[16];
		net_bridge_name(&st->networks[i], br);
		fprintf(f, "%s \"%s\"", i ? "," : "", br);
	}
	fputs(" }\n\t}\n", f);
	/* Group address . protocol . port of every published port: the only
	 * new connections let into a guest network from outside it. */
	fputs("\tset published {\n\t\ttype ipv4_addr . inet_proto . inet_service\n", f);
	bool first = true;
	for (size_t i = 0; publish && i < st->n_groups; i++) {
		const struct net_group *g = &st->groups[i];
		char ip[16];
		net_format_ipv4(g->ip, ip);
		for (size_t k = 0; g->public_ip && k < g->n_ports; k++) {
			fprintf(f, "%s %s . %s . %u", first ? "\t\telements = {" : ",", ip,
				proto_word(g->ports[k].protocol), g->ports[k].port);
			first = false;
		}
	}
	fputs(first ? "\t}\n" : " }\n\t}\n", f);
}

static void render_nat(FILE *f, const struct net_state *st, uint32_t publish)
{
	char pub[16];
	net_format_ipv4(publish, pub);
	fputs("\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
	      "\t\tjump publish\n\t}\n"
	      "\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n"
	      "\t\tjump publish\n\t}\n"
	      "\tchain publish {\n",
	      f);
	for (size_t i = 0; publish && i < st->n_groups; i++) {
		const struct net_group *g = &st->groups[i];
		char ip[16];
		net_format_ipv4(g->ip, ip);
		/* Every local address but loopback (Docker's ADDRTYPE LOCAL rule):
		 * a packet from 127.0.0.1 cannot be forwarded to a bridge. */
		for (size_t k = 0; g->public_ip && k < g->n_ports; k++)
			if (publish == NET_PUBLISH_ALL)
				fprintf(f,
					"\t\tfib daddr type local ip daddr != 127.0.0.0/8 %s dport %u dnat "
					"ip to %s\n",
					proto_word(g->ports[k].protocol), g->ports[k].port, ip);
			else
				fprintf(f, "\t\tip daddr %s %s dport %u dnat ip to %s\n", pub,
					proto_word(g->ports[k].protocol), g->ports[k].port, ip);
	}
	fputs("\t}\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n",
	      f);
	for (size_t i = 0; i < st->n_networks; i++) {
		const struct net_network *n = &st->networks[i];
		char cidr[19];
		net_format_cidr(n->subnet, n->prefix, cidr);
		/* A guest reaching a published port through the host (hairpin):
		 * the target answers the host, which un-NATs, as for any client. */
		fprintf(f, "\t\toifname @bridges ct status dnat ip saddr %s masquerade\n", cidr);
		if (n->egress)
			fprintf(f, "\t\toifname != @bridges ip saddr %s masquerade\n", cidr);
	}
	fputs("\t}\n", f);
}

static void render_filter(FILE *f, const struct net_state *st)
{
	fputs("\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
	      "\t\tiifname @bridges jump guest_to_host\n\t}\n"
	      "\tchain guest_to_host {\n"
	      "\t\tct state established,related accept\n",
	      f);
	for (size_t i = 0; i < st->n_networks; i++) {
		const struct net_network *n = &st->networks[i];
		char br[16], gw[16];
		net_bridge_name(n, br);
		net_format_ipv4(net_gateway(n), gw);
		fprintf(f, "\t\tiifname \"%s\" ip daddr %s udp dport 53 accept\n", br, gw);
	}
	for (size_t i = 0; i < st->n_groups; i++) {
		const struct net_group *g = &st->groups[i];
		const struct net_network *n = net_state_network(st, g->network);
		char br[16], gw[16], ip[16];
		if (!n)
			continue;
		net_bridge_name(n, br);
		net_format_ipv4(net_gateway(n), gw);
		net_format_ipv4(g->ip, ip);
		for (size_t k = 0; k < g->n_services; k++)
			fprintf(f, "\t\tiifname \"%s\" ip saddr %s ip daddr %s %s dport %u accept\n", br, ip,
				gw, proto_word(g->services[k].protocol), g->services[k].port);
	}
	fputs("\t\tdrop\n\t}\n", f);

	fputs("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n"
	      "\t\toifname @bridges jump to_guest\n"
	      "\t\tiifname @bridges jump from_guest\n\t}\n"
	      "\tchain to_guest {\n",
	      f);
	/* Within a network (seen here when br_netfilter passes bridged
	 * traffic to the IP hooks) everything goes. */
	for (size_t i = 0; i < st->n_networks; i++) {
		char br[16];
		net_bridge_name(&st->networks[i], br);
		fprintf(f, "\t\tiifname \"%s\" oifname \"%s\" accept\n", br, br);
	}
	fputs("\t\tct state established,related accept\n"
	      "\t\tct status dnat ip daddr . meta l4proto . th dport @published accept\n"
	      "\t\tdrop\n\t}\n"
	      "\tchain from_guest {\n"
	      /* Invalid packets (bad checksum, out of window) have no
	       * conntrack entry, so NAT would skip them: they would leave
	       * with the guest's internal address. */
	      "\t\tct state invalid drop\n"
	      "\t\tct state established,related accept\n"
	      "\t\tip daddr 169.254.0.0/16 drop\n",
	      f);
	for (size_t i = 0; i < st->n_networks; i++) {
		char br[16];
		net_bridge_name(&st->networks[i], br);
		if (st->networks[i].egress)
			fprintf(f, "\t\tiifname \"%s\" accept\n", br);
	}
	fputs("\t\tdrop\n\t}\n", f);
}

int net_nft_render(const struct net_state *st, uint32_t publish, char **out, struct capsid_error *err)
{
	*out = NULL;
	char *buf = NULL;
	size_t len = 0;
	_cleanup_fclose_ FILE *f = open_memstream(&buf, &len);
	if (!f)
		return capsid_error_set(err, ENOMEM, "out of memory");
	/* "table X" then "delete table X": removes X whether or not it exists,
	 * inside the same transaction as its replacement. */
	fputs("# capsid: generated from the network store; replaced as a whole on every change\n"
	      "table inet capsid\ndelete table inet capsid\n"
	      "table bridge capsid\ndelete table bridge capsid\n",
	      f);
	if (st->n_groups) {
		render_bridge(f, st);
		fputs("table inet capsid {\n", f);
		render_sets(f, st, publish);
		render_nat(f, st, publish);
		render_filter(f, st);
		fputs("}\n", f);
	}
	bool failed = ferror(f);
	fclose(f);
	f = NULL;
	if (failed || !buf) {
		free(buf);
		return capsid_error_set(err, ENOMEM, "out of memory");
	}
	*out = buf;
	return 0;
}

static void nft_ctx_freep(struct nft_ctx **c)
{
	if (*c)
		nft_ctx_free(*c);
}

int net_nft_run(const char *text, bool dry_run, struct capsid_error *err)
{
	_cleanup_(nft_ctx_freep) struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft)
		return capsid_error_set(err, ENOMEM, "nftables: out of memory");
	/* Keep libnftables quiet: its messages go into err, not to stderr. */
	if (nft_ctx_buffer_output(nft) < 0 || nft_ctx_buffer_error(nft) < 0)
		return capsid_error_set(err, ENOMEM, "nftables: out of memory");
	nft_ctx_set_dry_run(nft, dry_run);
	if (nft_run_cmd_from_buffer(nft, text) != 0) {
		const char *msg = nft_ctx_get_error_buffer(nft);
		/* The first line names the problem; the rest echoes the input. */
		size_t n = msg ? strcspn(msg, "\n") : 0;
		return capsid_error_set(err, EIO, "nftables: %.*s", (int)(n > 600 ? 600 : n),
					n ? msg : "transaction failed");
	}
	return 0;
}

int net_nft_apply_state(const struct net_state *st, uint32_t publish, struct capsid_error *err)
{
	_cleanup_free_ char *text = NULL;
	int rc = net_nft_render(st, publish, &text, err);
	if (rc < 0)
		return rc;
	return net_nft_run(text, false, err);
}
