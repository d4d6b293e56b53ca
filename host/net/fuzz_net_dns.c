/* libFuzzer target: the DNS responder's query parser and answer builder,
 * which read packets from guests and from the network. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct net_dns_record records[] = {{"web", 0xc0000201}, {"db", 0x0a580003}};
	const struct net_dns_zone zone = {
	    .zone = "capsid.local", .records = records, .n_records = 2, .serial = 1};
	uint8_t out[NET_DNS_MAX_PACKET];
	size_t n = net_dns_answer(&zone, data, size, out, sizeof(out));
	if (n > sizeof(out) || (n && n < 12))
		__builtin_trap();
	return 0;
}
