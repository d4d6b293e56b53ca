/* libFuzzer target for capsidd's request parsing: the head, then a
 * chunked body of what follows it. Beyond "no crash, no sanitizer report":
 * every pointer the parser hands out lies in the buffer, and a decoded body
 * is no longer than what it was decoded from, nor than the cap. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_MAX 4096

static void in_buffer(const char *p, const char *buf, size_t len)
{
	if (p && (p < buf || p > buf + len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0'; /* as the connection's buffer is */
	char *e = memmem(buf, size, "\r\n\r\n", 4);
	if (e) {
		size_t head = (size_t)(e - buf) + 4;
		struct cd_request r = {.content_length = -1};
		if (cd_http_parse_head(buf, head, &r) == 0) {
			in_buffer(r.target, buf, size);
			in_buffer(r.query, buf, size);
			in_buffer(r.authorization, buf, size);
			in_buffer(r.host, buf, size);
			if (strlen(r.method) >= sizeof(r.method))
				abort();
			int rc = cd_http_dechunk(buf + head, size - head, BODY_MAX, &r);
			if (rc == 1 &&
			    (r.body_len > BODY_MAX || r.body_len > r.raw_len || r.raw_len > size - head))
				abort();
			if (rc != 0 && rc != 1 && rc != -EFBIG && rc != -EINVAL)
				abort();
		}
	}
	free(buf);
	return 0;
}
