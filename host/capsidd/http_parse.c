/* capsidd's HTTP/1.1 request parsing (http_parse.h): in place, bounded by
 * what the connection buffered, no allocation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_parse.h"

#define MAX_HEADER_LINES 100

/* Parse the request line and headers (the first head_len bytes, ending in
 * an empty line). Returns 0, or an HTTP status. */
int cd_http_parse_head(char *buf, size_t head_len, struct cd_request *r)
{
	if (head_len < 4 || memcmp(buf + head_len - 4, "\r\n\r\n", 4) != 0)
		return 400;
	char *p = buf, *end = buf + head_len;
	end[-2] = '\0'; /* the last "\r\n" of "\r\n\r\n" */
	char *eol = strstr(p, "\r\n");
	if (!eol)
		return 400;
	*eol = '\0';
	char *sp1 = strchr(p, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || (size_t)(sp1 - p) >= sizeof(r->method) || strcmp(sp2 + 1, "HTTP/1.1") != 0)
		return 400;
	memcpy(r->method, p, (size_t)(sp1 - p));
	r->method[sp1 - p] = '\0';
	*sp2 = '\0';
	r->target = sp1 + 1;
	if (r->target[0] != '/')
		return 400;
	for (const char *q = r->target; *q; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
			return 400;
	p = eol + 2;
	unsigned lines = 0;
	while (p < end - 2 && *p) {
		eol = strstr(p, "\r\n");
		if (eol)
			*eol = '\0';
		if (++lines > MAX_HEADER_LINES)
			return 431;
		char *colon = strchr(p, ':');
		if (!colon || colon == p || *p == ' ' || *p == '\t')
			return 400;
		*colon = '\0';
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		char *ve = v + strlen(v);
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			*--ve = '\0';
		if (strcasecmp(p, "authorization") == 0)
			r->authorization = v;
		else if (strcasecmp(p, "content-type") == 0)
			r->content_type = v;
		else if (strcasecmp(p, "host") == 0)
			r->host = v;
		else if (strcasecmp(p, "upgrade") == 0)
			r->upgrade = v;
		else if (strcasecmp(p, "sec-websocket-key") == 0)
			r->ws_key = v;
		else if (strcasecmp(p, "connection") == 0)
			r->connection = v;
		else if (strcasecmp(p, "expect") == 0)
			r->expect = v;
		else if (strcasecmp(p, "transfer-encoding") == 0)
			r->chunked = true;
		else if (strcasecmp(p, "content-length") == 0) {
			char *e2;
			errno = 0;
			long long n = strtoll(v, &e2, 10);
			if (!*v || *e2 || n < 0 || errno ||
			    (r->content_length >= 0 && r->content_length != n))
				return 400;
			r->content_length = n;
		}
		if (!eol)
			break;
		p = eol + 2;
	}
	r->path = r->target;
	char *q = strchr(r->target, '?');
	if (q) {
		*q = '\0';
		r->query = q + 1;
	}
	return 0;
}

/* A chunked body (RFC 9112 7.1): 0 while incomplete; 1 when whole, then
 * decoded in place after the headers; -EFBIG past max_body; -EINVAL. */
int cd_http_dechunk(char *p, size_t avail, size_t max_body, struct cd_request *r)
{
	char *end = p + avail;
	size_t total = 0;
	/* First only look: the chunks are moved once all are there. */
	for (int pass = 0; pass < 2; pass++) {
		char *q = p, *out = p;
		total = 0;
		for (;;) {
			char *eol = memmem(q, (size_t)(end - q), "\r\n", 2);
			if (!eol)
				return (size_t)(end - q) > 64 ? -EINVAL : 0;
			char *e;
			errno = 0;
			unsigned long long n = strtoull(q, &e, 16);
			if (e == q || errno || (*e != '\r' && *e != ';'))
				return -EINVAL;
			if (n > max_body || total + n > max_body)
				return -EFBIG;
			q = eol + 2;
			if (n == 0) {
				/* Trailers are ignored up to the empty line. */
				for (;;) {
					if (end - q >= 2 && q[0] == '\r' && q[1] == '\n') {
						q += 2;
						break;
					}
					char *t = memmem(q, (size_t)(end - q), "\r\n", 2);
					if (!t)
						return 0;
					q = t + 2;
				}
				if (pass == 1) {
					r->body = p;
					r->body_len = total;
					r->raw_len = (size_t)(q - p);
				}
				break;
			}
			if ((size_t)(end - q) < n + 2)
				return 0;
			if (q[n] != '\r' || q[n + 1] != '\n')
				return -EINVAL;
			if (pass == 1)
				memmove(out, q, n);
			out += n;
			total += n;
			q += n + 2;
		}
	}
	return 1;
}
