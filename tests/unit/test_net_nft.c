/* nftables ruleset generation, golden checks of the rules that carry the
 * policy: anti-spoofing per tap, isolation between networks and from the
 * host, DNAT of published ports only (also for the host's own traffic),
 * egress per network, and the empty ruleset when nothing is attached.
 * (test_net_ns applies the same text to a real kernel.) */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "net_internal.h"
#include "testlib.h"

#define PREAMBLE                                                                                             \
	"table inet capsid\ndelete table inet capsid\ntable bridge capsid\ndelete table bridge capsid\n"

static struct net_group *group(struct net_state *st, const char *name, const char *net, uint32_t ip,
			       unsigned id)
{
	st->groups = realloc(st->groups, (st->n_groups + 1) * sizeof(*st->groups));
	struct net_group *g = &st->groups[st->n_groups++];
	*g = (struct net_group){.ip = ip, .id = id, .mac = {0x52, 0x54, 0, 0, 0, (uint8_t)id}};
	snprintf(g->name, sizeof(g->name), "%s", name);
	snprintf(g->network, sizeof(g->network), "%s", net);
	return g;
}

static void sample(struct net_state *st)
{
	struct capsid_error err = {0};
	*st = (struct net_state){0};
	CHECK(net_state_add_network(st, "default", 0x0a580000, 16, true, &err) == 0);
	CHECK(net_state_add_network(st, "isol", 0x0a630000, 24, false, &err) == 0);
	struct net_group *web = group(st, "web", "default", 0x0a580002, 1);
	web->public_ip = true;
	web->ports[web->n_ports++] = (struct net_port){80, IPPROTO_TCP};
	web->ports[web->n_ports++] = (struct net_port){5353, IPPROTO_UDP};
	struct net_group *db = group(st, "db", "default", 0x0a580003, 2);
	db->ports[db->n_ports++] = (struct net_port){5432, IPPROTO_TCP}; /* Private */
	struct net_group *app = group(st, "app", "isol", 0x0a630002, 3);
	app->services[app->n_services++] = (struct net_port){445, IPPROTO_TCP};
}

/* The ruleset must contain this exact line (tabs included). */
#define CHECK_LINE(text, line) CHECK_STR_CONTAINS(text, "\n" line "\n")
#define CHECK_NO(text, s)      CHECK(strstr(text, s) == NULL)

static void test_full_ruleset(void)
{
	struct net_state st;
	sample(&st);
	char *t = NULL;
	struct capsid_error err = {0};
	CHECK(net_nft_render(&st, 0xc0000201, &t, &err) == 0 && t);
	if (!t)
		return;
	/* Both tables are dropped and rebuilt in the same transaction. */
	CHECK_STR_CONTAINS(t, "\n" PREAMBLE "table bridge capsid {\n");

	/* Layer 2: every tap jumps to its own chain; unknown capsid taps drop. */
	CHECK_LINE(t, "\t\tiifname vmap { \"capsid-t1\" : jump tap_1, \"capsid-t2\" : jump tap_2, "
		      "\"capsid-t3\" : jump tap_3 }");
	CHECK_LINE(t, "\t\tiifname \"capsid-t*\" drop");
	const char *web = strstr(t, "\tchain tap_1 {\n");
	CHECK(web != NULL);
	if (web) {
		const char *end = strstr(web, "\t}\n");
		CHECK(end != NULL);
		char chain[1024] = "";
		if (end)
			snprintf(chain, sizeof(chain), "%.*s", (int)(end - web), web);
		CHECK_LINE(chain, "\t\tether type != { ip, arp } drop");
		CHECK_LINE(chain, "\t\tether saddr != 52:54:00:00:00:01 drop");
		CHECK_LINE(chain, "\t\tarp hlen != 6 drop");
		CHECK_LINE(chain, "\t\tarp saddr ether != 52:54:00:00:00:01 drop");
		CHECK_LINE(chain, "\t\tarp saddr ip != { 0.0.0.0, 10.88.0.2 } drop");
		CHECK_STR_CONTAINS(chain, "\t\tip saddr != 10.88.0.2 drop\n\t\taccept\n");
		CHECK_NO(chain, "10.88.0.3");
	}
	CHECK_LINE(t, "\t\tip saddr != 10.99.0.2 drop");

	/* Published ports: the set, DNAT in prerouting and output; Private
	 * groups' ports appear nowhere. */
	CHECK_LINE(t, "\t\telements = { \"capsid-br0\", \"capsid-br1\" }");
	CHECK_LINE(t, "\t\telements = { 10.88.0.2 . tcp . 80, 10.88.0.2 . udp . 5353 }");
	CHECK_LINE(t, "\t\tip daddr 192.0.2.1 tcp dport 80 dnat ip to 10.88.0.2");
	CHECK_LINE(t, "\t\tip daddr 192.0.2.1 udp dport 5353 dnat ip to 10.88.0.2");
	CHECK_STR_CONTAINS(t, "\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n"
			      "\t\tjump publish\n");
	CHECK_STR_CONTAINS(t, "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy "
			      "accept;\n\t\tjump publish\n");
	CHECK_NO(t, "5432");

	/* NAT out: hairpin for both networks, egress only where enabled. */
	CHECK_LINE(t, "\t\toifname @bridges ct status dnat ip saddr 10.88.0.0/16 masquerade");
	CHECK_LINE(t, "\t\toifname @bridges ct status dnat ip saddr 10.99.0.0/24 masquerade");
	CHECK_LINE(t, "\t\toifname != @bridges ip saddr 10.88.0.0/16 masquerade");
	CHECK_NO(t, "oifname != @bridges ip saddr 10.99.0.0/24");

	/* Guest -> host: DNS to its own gateway, the group's host service,
	 * then nothing. */
	CHECK_STR_CONTAINS(
	    t, "\tchain guest_to_host {\n"
	       "\t\tct state established,related accept\n"
	       "\t\tiifname \"capsid-br0\" ip daddr 10.88.0.1 udp dport 53 accept\n"
	       "\t\tiifname \"capsid-br1\" ip daddr 10.99.0.1 udp dport 53 accept\n"
	       "\t\tiifname \"capsid-br1\" ip saddr 10.99.0.2 ip daddr 10.99.0.1 tcp dport 445 accept\n"
	       "\t\tdrop\n\t}\n");
	CHECK_LINE(t, "\t\tiifname @bridges jump guest_to_host");

	/* Into a network: same network, replies, or a published port reached
	 * through DNAT; nothing else (other networks, outside, Private). */
	CHECK_STR_CONTAINS(t, "\tchain to_guest {\n"
			      "\t\tiifname \"capsid-br0\" oifname \"capsid-br0\" accept\n"
			      "\t\tiifname \"capsid-br1\" oifname \"capsid-br1\" accept\n"
			      "\t\tct state established,related accept\n"
			      "\t\tct status dnat ip daddr . meta l4proto . th dport @published accept\n"
			      "\t\tdrop\n\t}\n");
	/* Out of a network: replies, never the metadata range, egress where on. */
	CHECK_STR_CONTAINS(t, "\tchain from_guest {\n"
			      "\t\tct state invalid drop\n"
			      "\t\tct state established,related accept\n"
			      "\t\tip daddr 169.254.0.0/16 drop\n"
			      "\t\tiifname \"capsid-br0\" accept\n"
			      "\t\tdrop\n\t}\n");
	/* Forward dispatch: towards a bridge first (covers bridge to bridge). */
	CHECK_STR_CONTAINS(t, "\t\toifname @bridges jump to_guest\n\t\tiifname @bridges jump from_guest\n");
	free(t);
	net_state_free(&st);
}

static void test_without_publish_address(void)
{
	struct net_state st;
	sample(&st);
	char *t = NULL;
	struct capsid_error err = {0};
	CHECK(net_nft_render(&st, 0, &t, &err) == 0 && t);
	CHECK(t && !strstr(t, "dnat ip to") && !strstr(t, ". tcp . 80"));
	CHECK(t && strstr(t, "\tchain publish {\n\t}\n"));
	free(t);
	net_state_free(&st);
}

/* publishAddress "all": every local address but loopback, no daddr of
 * its own; the published set is the same. */
static void test_publish_on_every_address(void)
{
	struct net_state st;
	sample(&st);
	char *t = NULL;
	struct capsid_error err = {0};
	CHECK(net_nft_render(&st, NET_PUBLISH_ALL, &t, &err) == 0 && t);
	if (t) {
		CHECK_LINE(
		    t, "\t\tfib daddr type local ip daddr != 127.0.0.0/8 tcp dport 80 dnat ip to 10.88.0.2");
		CHECK_LINE(
		    t,
		    "\t\tfib daddr type local ip daddr != 127.0.0.0/8 udp dport 5353 dnat ip to 10.88.0.2");
		CHECK_NO(t, "255.255.255.255");
		CHECK_STR_CONTAINS(t, "10.88.0.2 . tcp . 80");
	}
	free(t);
	net_state_free(&st);
	/* The setting: "all" and 0.0.0.0 mean it, 255.255.255.255 is no address. */
	struct net_config cfg = {0};
	uint32_t a = 0;
	struct net_settings set = {.publish_address = "0.0.0.0"};
	CHECK(net_config_load("/nonexistent-root", &set, &cfg, &err) == 0 && !strcmp(cfg.publish_address, "all"));
	CHECK(net_publish_address(&cfg, &a, &err) == 0 && a == NET_PUBLISH_ALL);
	set.publish_address = "255.255.255.255";
	CHECK(net_config_load("/nonexistent-root", &set, &cfg, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "CAPSID_PUBLISH_ADDRESS: publish address \"255.255.255.255\"");
}

static void test_nothing_attached(void)
{
	struct net_state st;
	sample(&st);
	st.n_groups = 0;
	char *t = NULL;
	struct capsid_error err = {0};
	CHECK(net_nft_render(&st, 0xc0000201, &t, &err) == 0 && t);
	/* Only the deletions: no table, no rule is left behind. */
	const char *body = t ? strchr(t, '\n') : NULL;
	CHECK(body && !strcmp(body + 1, PREAMBLE));
	free(t);
	net_state_free(&st);
}

int main(void)
{
	RUN_TEST(test_full_ruleset);
	RUN_TEST(test_without_publish_address);
	RUN_TEST(test_publish_on_every_address);
	RUN_TEST(test_nothing_attached);
	TEST_EXIT();
}
