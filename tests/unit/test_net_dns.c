/* DNS protocol: well-formed queries get exact answers (A, NODATA with SOA,
 * NXDOMAIN, REFUSED outside the zone, the apex SOA), letter case is kept,
 * and malformed packets (truncated, pointers, long labels, responses,
 * other opcodes, random bytes) are dropped or answered FORMERR/NOTIMP
 * without reading out of bounds. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "net_internal.h"
#include "testlib.h"

static const struct net_dns_record records[] = {
    {"web", 0xc0000201}, /* 192.0.2.1 */
    {"db", 0x0a580003},	 /* 10.88.0.3 */
};
static const struct net_dns_zone zone = {
    .zone = "capsid.local", .records = records, .n_records = 2, .serial = 42};

/* A query for name (dotted) with type and class, id 0x1234, RD set. */
static size_t make_query(uint8_t *buf, const char *name, uint16_t type, uint16_t klass)
{
	static const uint8_t hdr[12] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
	memcpy(buf, hdr, 12);
	size_t o = 12;
	while (*name) {
		size_t l = strcspn(name, ".");
		buf[o++] = (uint8_t)l;
		memcpy(buf + o, name, l);
		o += l;
		name += l + (name[l] == '.');
	}
	buf[o++] = 0;
	buf[o++] = (uint8_t)(type >> 8);
	buf[o++] = (uint8_t)type;
	buf[o++] = (uint8_t)(klass >> 8);
	buf[o++] = (uint8_t)klass;
	return o;
}

static unsigned rd16(const uint8_t *p)
{
	return (unsigned)(p[0] << 8 | p[1]);
}

struct reply {
	size_t len;
	unsigned id, flags, rcode, qd, an, ns, ar;
	uint8_t buf[NET_DNS_MAX_PACKET];
};

static void ask(const uint8_t *q, size_t qlen, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	r->len = net_dns_answer(&zone, q, qlen, r->buf, sizeof(r->buf));
	if (r->len >= 12) {
		r->id = rd16(r->buf);
		r->flags = rd16(r->buf + 2);
		r->rcode = r->flags & 0xf;
		r->qd = rd16(r->buf + 4);
		r->an = rd16(r->buf + 6);
		r->ns = rd16(r->buf + 8);
		r->ar = rd16(r->buf + 10);
	}
}

static void test_answers(void)
{
	uint8_t q[300];
	struct reply r;
	size_t n = make_query(q, "web.capsid.local", 1, 1);
	ask(q, n, &r);
	CHECK(r.len == n + 16 && r.id == 0x1234 && r.rcode == 0 && r.qd == 1 && r.an == 1 && r.ns == 0);
	CHECK((r.flags & 0x8000) && (r.flags & 0x0400) && (r.flags & 0x0100) &&
	      !(r.flags & 0x0080));		    /* QR AA RD, no RA */
	CHECK(!memcmp(r.buf + 12, q + 12, n - 12)); /* question echoed */
	const uint8_t *a = r.buf + n;
	CHECK(rd16(a) == 0xc00c && rd16(a + 2) == 1 && rd16(a + 4) == 1 && rd16(a + 8) == NET_DNS_TTL &&
	      rd16(a + 10) == 4);
	CHECK(a[12] == 192 && a[13] == 0 && a[14] == 2 && a[15] == 1);

	/* Letter case: matched case-insensitively, echoed as asked (0x20). */
	n = make_query(q, "DB.CapSid.LOCAL", 1, 1);
	ask(q, n, &r);
	CHECK(r.rcode == 0 && r.an == 1 && !memcmp(r.buf + 12, q + 12, n - 12));
	CHECK(r.len == n + 16 && r.buf[n + 12] == 10 && r.buf[n + 15] == 3);

	/* ANY gets the A record too; AAAA and MX get NODATA with the SOA. */
	n = make_query(q, "web.capsid.local", 255, 1);
	ask(q, n, &r);
	CHECK(r.rcode == 0 && r.an == 1);
	n = make_query(q, "web.capsid.local", 28, 1);
	ask(q, n, &r);
	CHECK(r.rcode == 0 && r.an == 0 && r.ns == 1 && (r.flags & 0x0400));
	/* The SOA owner points at the zone inside the question: offset 12+4. */
	CHECK(rd16(r.buf + n) == (0xc000 | 16) && rd16(r.buf + n + 2) == 6);
	unsigned rdlen = rd16(r.buf + n + 10);
	CHECK(r.len == n + 12 + rdlen && rdlen == 3 + 2 + 11 + 2 + 20);
	CHECK(rd16(r.buf + r.len - 20) == 0 && rd16(r.buf + r.len - 18) == 42); /* serial */

	/* Unknown names in the zone: NXDOMAIN with the SOA; deeper names too. */
	static const char *const nx[] = {"nope.capsid.local", "a.web.capsid.local", "web-.capsid.local"};
	for (size_t i = 0; i < ARRAY_SIZE(nx); i++) {
		n = make_query(q, nx[i], 1, 1);
		ask(q, n, &r);
		CHECK(r.rcode == 3 && r.an == 0 && r.ns == 1 && (r.flags & 0x0400));
	}
	/* The apex: SOA answer for SOA, NODATA for A. */
	n = make_query(q, "capsid.local", 6, 1);
	ask(q, n, &r);
	CHECK(r.rcode == 0 && r.an == 1 && r.ns == 0 && rd16(r.buf + n) == 0xc00c);
	n = make_query(q, "capsid.local", 1, 1);
	ask(q, n, &r);
	CHECK(r.rcode == 0 && r.an == 0 && r.ns == 1);

	/* Outside the zone: REFUSED, never recursion, not authoritative. */
	static const char *const out[] = {"example.com", "web.capsid.localx", "xcapsid.local", "local", ""};
	for (size_t i = 0; i < ARRAY_SIZE(out); i++) {
		n = make_query(q, out[i], 1, 1);
		ask(q, n, &r);
		CHECK(r.rcode == 5 && r.an == 0 && r.ns == 0 && !(r.flags & 0x0400) && r.qd == 1);
	}
	/* Class CH (chaos): refused even in the zone. */
	n = make_query(q, "web.capsid.local", 1, 3);
	ask(q, n, &r);
	CHECK(r.rcode == 5 && r.an == 0);
	/* A trailing EDNS OPT record is ignored, the answer has none. */
	n = make_query(q, "web.capsid.local", 1, 1);
	static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
	memcpy(q + n, opt, sizeof(opt));
	q[11] = 1; /* ARCOUNT */
	ask(q, n + sizeof(opt), &r);
	CHECK(r.rcode == 0 && r.an == 1 && r.ar == 0 && r.len == n + 16);
}

static void test_malformed(void)
{
	uint8_t q[600];
	struct reply r;
	size_t n = make_query(q, "web.capsid.local", 1, 1);
	/* Every truncation: short header dropped, the rest FORMERR. */
	for (size_t len = 0; len < n; len++) {
		ask(q, len, &r);
		CHECK(len < 12 ? r.len == 0 : (r.len == 12 && r.rcode == 1 && r.qd == 0));
	}
	/* A response (QR set) is never answered. */
	q[2] |= 0x80;
	ask(q, n, &r);
	CHECK(r.len == 0);
	q[2] &= 0x7f;
	/* Other opcodes: NOTIMP. */
	q[2] |= 0x10; /* opcode 2 (STATUS) */
	ask(q, n, &r);
	CHECK(r.len == 12 && r.rcode == 4 && r.id == 0x1234);
	q[2] &= (uint8_t)~0x78;
	/* Question counts other than one, or answers in a query: FORMERR. */
	q[5] = 2;
	ask(q, n, &r);
	CHECK(r.rcode == 1);
	q[5] = 0;
	ask(q, n, &r);
	CHECK(r.rcode == 1);
	q[5] = 1;
	q[7] = 1;
	ask(q, n, &r);
	CHECK(r.rcode == 1);
	q[7] = 0;
	/* A compression pointer (to itself) in the name: FORMERR, no loop. */
	uint8_t p[] = {0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
	ask(p, sizeof(p), &r);
	CHECK(r.len == 12 && r.rcode == 1);
	/* Label length 64 (reserved bits): FORMERR. */
	p[12] = 64;
	ask(p, sizeof(p), &r);
	CHECK(r.rcode == 1);
	/* A label running past the end of the packet. */
	p[12] = 20;
	ask(p, sizeof(p), &r);
	CHECK(r.rcode == 1);
	/* Names over 255 bytes: FORMERR; 63-byte labels up to the limit: fine. */
	size_t o = 12;
	memcpy(q, (uint8_t[12]){0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 12);
	for (int i = 0; i < 5; i++) {
		q[o++] = 63;
		memset(q + o, 'a', 63);
		o += 63;
	}
	q[o++] = 0;
	memcpy(q + o, (uint8_t[4]){0, 1, 0, 1}, 4);
	ask(q, o + 4, &r);
	CHECK(r.rcode == 1);
	o = 12;
	for (int i = 0; i < 3; i++) {
		q[o++] = 63;
		memset(q + o, 'a', 63);
		o += 63;
	}
	q[o++] = 61; /* 3*64 + 62 = 254 name bytes + root = 255 */
	memset(q + o, 'a', 61);
	o += 61;
	q[o++] = 0;
	memcpy(q + o, (uint8_t[4]){0, 1, 0, 1}, 4);
	ask(q, o + 4, &r);
	CHECK(r.len > 12 && r.rcode == 5);
	/* Dots and control bytes inside a label never match a record:
	 * "web.capsid" as one label, then "local". */
	uint8_t dot[] = {0x12, 0x34, 1,	  0,   0,   1,	 0, 0,	 0,   0,   0,	0,   10, 'w', 'e', 'b', '.',
			 'c',  'a',  'p', 's', 'i', 'd', 5, 'l', 'o', 'c', 'a', 'l', 0,	 0,   1,   0,	1};
	ask(dot, sizeof(dot), &r);
	CHECK(r.rcode == 5);
	uint8_t ctl[] = {0x12, 0x34, 1,	  0,   0,   1,	 0, 0,	 0,   0,   0,	0,   3, 'w', 0, 'b', 6,
			 'c',  'a',  's', 'p', 'i', 'd', 5, 'l', 'o', 'c', 'a', 'l', 0, 0,   1, 0,   1};
	ask(ctl, sizeof(ctl), &r);
	CHECK(r.rcode == 5); /* "w?b.caspid.local": not our zone */
	ctl[17] = 'c', ctl[18] = 'a', ctl[19] = 'p', ctl[20] = 's';
	ask(ctl, sizeof(ctl), &r);
	CHECK(r.rcode == 3); /* "w?b.capsid.local": in the zone, no such name */
	/* An output buffer below 512 bytes is refused rather than overrun. */
	uint8_t small[100];
	n = make_query(q, "web.capsid.local", 1, 1);
	CHECK(net_dns_answer(&zone, q, n, small, sizeof(small)) == 0);
}

/* Random and mutated packets: whatever comes back stays within bounds and
 * is a response to the same id. Run under ASan/valgrind for the full
 * effect; the libFuzzer target (fuzz_net_dns) goes further. */
static void test_random_packets(void)
{
	uint32_t seed = 7;
	uint8_t base[300], q[600];
	size_t bn = make_query(base, "web.capsid.local", 1, 1);
	for (int round = 0; round < 20000; round++) {
		size_t n;
		if (round % 2) {
			memcpy(q, base, bn);
			n = bn;
			for (int k = 0; k < 1 + round % 5; k++) {
				seed = seed * 1103515245u + 12345u;
				q[(seed >> 8) % n] = (uint8_t)(seed >> 20);
			}
		} else {
			seed = seed * 1103515245u + 12345u;
			n = (seed >> 8) % sizeof(q);
			for (size_t i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				q[i] = (uint8_t)(seed >> 16);
			}
		}
		struct reply r;
		ask(q, n, &r);
		CHECK(r.len == 0 ||
		      (r.len >= 12 && r.len <= NET_DNS_MAX_PACKET && r.id == rd16(q) && (r.flags & 0x8000)));
	}
}

int main(void)
{
	RUN_TEST(test_answers);
	RUN_TEST(test_malformed);
	RUN_TEST(test_random_packets);
	TEST_EXIT();
}
