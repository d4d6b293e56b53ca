/* The DNS protocol side of the responder: parse one query (hostile input:
 * every length checked against the packet, no compression pointers
 * followed) and build the answer. Authoritative for the zone only: A
 * records for LABEL.ZONE, an SOA at the apex (and in the authority section
 * of negative answers, so resolvers cache them briefly), NXDOMAIN for
 * unknown names in the zone, REFUSED for everything else. It never
 * recurses, so it cannot be used to reach or amplify anything outside.
 * Written by hand: the whole job is ~200 lines and a library (ldns,
 * c-ares) would bring a resolver we must not have. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net_internal.h"

enum {
	DNS_HEADER = 12,
	DNS_QR = 0x8000,
	DNS_OPCODE = 0x7800,
	DNS_AA = 0x0400,
	DNS_RD = 0x0100,
	RCODE_NOERROR = 0,
	RCODE_FORMERR = 1,
	RCODE_NXDOMAIN = 3,
	RCODE_NOTIMP = 4,
	RCODE_REFUSED = 5,
	TYPE_A = 1,
	TYPE_SOA = 6,
	TYPE_ANY = 255,
	CLASS_IN = 1,
	CLASS_ANY = 255,
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int net_dns_parse_query(const uint8_t *pkt, size_t len, struct net_dns_query *q)
{
	*q = (struct net_dns_query){0};
	if (len < DNS_HEADER)
		return -EINVAL;
	q->id = rd16(pkt);
	q->flags = rd16(pkt + 2);
	if (q->flags & DNS_QR)
		return -EINVAL; /* a response: answering it could start a loop */
	if (q->flags & DNS_OPCODE)
		return -EOPNOTSUPP;
	if (rd16(pkt + 4) != 1 || rd16(pkt + 6) != 0 || rd16(pkt + 8) != 0)
		return -EBADMSG;
	size_t off = DNS_HEADER, out = 0;
	for (;;) {
		if (off >= len)
			return -EBADMSG;
		uint8_t n = pkt[off++];
		if (n == 0)
			break;
		if (n > 63) /* 0xc0: a compression pointer, meaningless in a query's only name */
			return -EBADMSG;
		/* 253 dotted characters is the 255-byte wire limit. */
		if (n > len - off || (out ? out + 1 : 0) + n > 253)
			return -EBADMSG;
		if (out)
			q->name[out++] = '.';
		for (size_t i = 0; i < n; i++) {
			uint8_t ch = pkt[off + i];
			if (ch >= 'A' && ch <= 'Z')
				ch = (uint8_t)(ch - 'A' + 'a');
			/* A dot or control byte inside a label can never match a
			 * record, and must not be mistaken for a label boundary. */
			else if (ch == '.' || ch <= ' ' || ch >= 0x7f)
				ch = '?';
			q->name[out++] = (char)ch;
		}
		off += n;
	}
	q->name[out] = '\0';
	if (len - off < 4)
		return -EBADMSG;
	q->qtype = rd16(pkt + off);
	q->qclass = rd16(pkt + off + 2);
	q->question_end = off + 4;
	return 0;
}

struct writer {
	uint8_t *buf;
	size_t cap, len;
	bool overflow;
};

static void put(struct writer *w, const void *data, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, data, n);
	w->len += n;
}

static void put16(struct writer *w, uint16_t v)
{
	put(w, (uint8_t[]){(uint8_t)(v >> 8), (uint8_t)v}, 2);
}

static void put32(struct writer *w, uint32_t v)
{
	put16(w, (uint16_t)(v >> 16));
	put16(w, (uint16_t)v);
}

static void put_label(struct writer *w, const char *label)
{
	uint8_t n = (uint8_t)strlen(label);
	put(w, &n, 1);
	put(w, label, n);
}

/* Offset in the packet of the zone suffix inside the question's name, for
 * compression pointers: skip the labels before it. */
static uint16_t zone_offset(const struct net_dns_query *q, const char *zone)
{
	size_t skip = strlen(q->name) - strlen(zone), off = DNS_HEADER;
	/* Each dotted label of length L took L+1 bytes on the wire; the parser
	 * kept lengths intact (odd bytes became '?', never '.'). */
	for (const char *p = q->name; (size_t)(p - q->name) < skip;) {
		size_t l = strcspn(p, ".");
		off += l + 1;
		p += l + 1;
	}
	return (uint16_t)(0xc000 | off);
}

static void put_soa(struct writer *w, uint16_t zone_ptr, uint32_t serial)
{
	put16(w, zone_ptr);
	put16(w, TYPE_SOA);
	put16(w, CLASS_IN);
	put32(w, NET_DNS_TTL);
	size_t rdlen_at = w->len;
	put16(w, 0);
	size_t start = w->len;
	put_label(w, "ns");
	put16(w, zone_ptr);
	put_label(w, "hostmaster");
	put16(w, zone_ptr);
	put32(w, serial);
	put32(w, 60);	       /* refresh */
	put32(w, 60);	       /* retry */
	put32(w, 3600);	       /* expire */
	put32(w, NET_DNS_TTL); /* negative-caching TTL */
	if (!w->overflow) {
		size_t rdlen = w->len - start;
		w->buf[rdlen_at] = (uint8_t)(rdlen >> 8);
		w->buf[rdlen_at + 1] = (uint8_t)rdlen;
	}
}

size_t net_dns_answer(const struct net_dns_zone *z, const uint8_t *pkt, size_t len, uint8_t *out, size_t cap)
{
	struct net_dns_query q;
	int rc = net_dns_parse_query(pkt, len, &q);
	if (rc == -EINVAL || cap < NET_DNS_MAX_PACKET)
		return 0;
	struct writer w = {.buf = out, .cap = cap};
	uint16_t flags = (uint16_t)(DNS_QR | (q.flags & (DNS_OPCODE | DNS_RD)));
	put16(&w, q.id);
	if (rc < 0) {
		/* No question echoed: we could not make sense of it. */
		put16(&w, (uint16_t)(flags | (rc == -EOPNOTSUPP ? RCODE_NOTIMP : RCODE_FORMERR)));
		put(&w, (uint8_t[8]){0}, 8);
		return w.overflow ? 0 : w.len;
	}
	size_t zlen = strlen(z->zone), nlen = strlen(q.name);
	bool apex = !strcmp(q.name, z->zone);
	bool in_zone = apex || (nlen > zlen + 1 && q.name[nlen - zlen - 1] == '.' &&
				!strcmp(q.name + nlen - zlen, z->zone));
	bool class_ok = q.qclass == CLASS_IN || q.qclass == CLASS_ANY;
	const struct net_dns_record *rec = NULL;
	if (in_zone && !apex) {
		size_t llen = nlen - zlen - 1;
		for (size_t i = 0; i < z->n_records && !rec; i++)
			if (strlen(z->records[i].label) == llen && !memcmp(z->records[i].label, q.name, llen))
				rec = &z->records[i];
	}
	bool want_a = q.qtype == TYPE_A || q.qtype == TYPE_ANY;
	bool want_soa = q.qtype == TYPE_SOA || q.qtype == TYPE_ANY;
	uint16_t rcode = !in_zone || !class_ok ? RCODE_REFUSED
			 : (!apex && !rec)     ? RCODE_NXDOMAIN
					       : RCODE_NOERROR;
	uint16_t answers = rcode == RCODE_NOERROR && ((rec && want_a) || (apex && want_soa));
	uint16_t authority = in_zone && class_ok && !answers;
	put16(&w, (uint16_t)(flags | (rcode != RCODE_REFUSED ? DNS_AA : 0) | rcode));
	put16(&w, 1);
	put16(&w, answers);
	put16(&w, authority);
	put16(&w, 0);
	/* The question exactly as asked (keeps the client's 0x20 letter case). */
	put(&w, pkt + DNS_HEADER, q.question_end - DNS_HEADER);
	uint16_t zptr = in_zone ? zone_offset(&q, z->zone) : 0;
	if (answers && rec) {
		put16(&w, 0xc000 | DNS_HEADER); /* the question's name */
		put16(&w, TYPE_A);
		put16(&w, CLASS_IN);
		put32(&w, NET_DNS_TTL);
		put16(&w, 4);
		put32(&w, rec->address);
	} else if (answers || authority) {
		put_soa(&w, zptr, z->serial);
	}
	return w.overflow ? 0 : w.len;
}
