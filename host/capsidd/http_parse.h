/* capsidd's HTTP/1.1 request parsing, apart from the sockets so that it
 * can be tested and fuzzed alone. */
#ifndef CAPSIDD_HTTP_PARSE_H
#define CAPSIDD_HTTP_PARSE_H

#include <stddef.h>

#include "capsidd.h"

/* Parse the request line and headers: buf's first head_len bytes, which
 * end in "\r\n\r\n", parsed in place into r (whose pointers then point
 * into buf; r must be reset: content_length -1). Returns 0, or the HTTP
 * status to answer (400, 431). */
int cd_http_parse_head(char *buf, size_t head_len, struct cd_request *r);
/* A chunked body (RFC 9112 7.1) in the avail bytes at p: 0 while
 * incomplete; 1 when whole, then decoded in place (r->body, body_len, and
 * raw_len, the bytes it took); -EFBIG past max_body; -EINVAL when
 * malformed. */
int cd_http_dechunk(char *p, size_t avail, size_t max_body, struct cd_request *r);

#endif
