/* unit.shim_ttrpc: ttrpc's framing and one served connection, fed by a
 * socketpair: calls answered, and hostile frames (truncated, oversized,
 * unknown service or method, garbage envelopes, even stream ids, random
 * bytes) each an error, never a crash. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testlib.h"
#include "ttrpc.h"

static int echo(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len,
		struct capsid_error *err)
{
	(void)ctx;
	if (len == 4 && memcmp(req, "fail", 4) == 0)
		return capsid_error_set(err, ENOENT, "no such thing");
	*resp = malloc(len + 1);
	memcpy(*resp, req, len);
	*resp_len = len;
	return 0;
}

static const struct ttrpc_method methods[] = {
    {"test.Echo", "Echo", echo},
};

struct server {
	int fd;
	int rc;
	struct capsid_error err;
	pthread_t t;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	s->rc = ttrpc_serve_conn(s->fd, methods, 1, NULL, &s->err);
	close(s->fd);
	return NULL;
}

static int start(struct server *s)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	memset(s, 0, sizeof(*s));
	s->fd = sv[1];
	pthread_create(&s->t, NULL, serve, s);
	return sv[0];
}

static void call(int fd, uint32_t stream, const char *svc, const char *method, const char *payload)
{
	uint8_t *buf;
	size_t n;
	CHECK(ttrpc_call_encode(svc, method, payload, strlen(payload), &buf, &n) == 0);
	CHECK(ttrpc_write_message(fd, stream, TTRPC_TYPE_REQUEST, buf, n) == 0);
	free(buf);
}

/* Reads one response: its stream, code and payload (as a string). */
static int answer(int fd, uint32_t *stream, enum ttrpc_code *code, char **payload)
{
	struct ttrpc_header h;
	uint8_t *msg = NULL;
	struct capsid_error err = {0};
	int r = ttrpc_read_message(fd, TTRPC_MAX_MESSAGE, &h, &msg, &err);
	if (r <= 0)
		return r ? r : -EPIPE;
	CHECK(h.type == TTRPC_TYPE_RESPONSE);
	*stream = h.stream_id;
	char *m = NULL;
	uint8_t *p = NULL;
	size_t pn = 0;
	r = ttrpc_response_decode(msg, h.length, code, &m, &p, &pn, &err);
	free(msg);
	free(m);
	if (r < 0)
		return r;
	*payload = calloc(1, pn + 1);
	memcpy(*payload, p, pn);
	free(p);
	return 1;
}

static void test_header(void)
{
	struct ttrpc_header h = {.length = 0x01020304, .stream_id = 0xa0b0c0d, .type = 2, .flags = 5}, d;
	uint8_t b[TTRPC_HEADER_SIZE];
	ttrpc_header_encode(&h, b);
	CHECK(b[0] == 1 && b[3] == 4 && b[4] == 0x0a && b[8] == 2 && b[9] == 5);
	ttrpc_header_decode(b, &d);
	CHECK(d.length == h.length && d.stream_id == h.stream_id && d.type == 2 && d.flags == 5);
}

static void test_read_bounds(void)
{
	int sv[2];
	struct ttrpc_header h;
	uint8_t *p;
	struct capsid_error err = {0};
	/* truncated header */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	CHECK(write(sv[0], "\0\0\0", 3) == 3);
	close(sv[0]);
	CHECK(ttrpc_read_message(sv[1], TTRPC_MAX_MESSAGE, &h, &p, &err) == -EPROTO);
	close(sv[1]);
	/* truncated payload */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	uint8_t hdr[TTRPC_HEADER_SIZE];
	ttrpc_header_encode(&(struct ttrpc_header){.length = 100, .stream_id = 1, .type = 1}, hdr);
	CHECK(write(sv[0], hdr, sizeof(hdr)) == sizeof(hdr));
	CHECK(write(sv[0], "abc", 3) == 3);
	close(sv[0]);
	CHECK(ttrpc_read_message(sv[1], TTRPC_MAX_MESSAGE, &h, &p, &err) == -EPROTO);
	CHECK_STR_CONTAINS(err.msg, "100 bytes announced");
	close(sv[1]);
	/* oversized: refused before any allocation */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	ttrpc_header_encode(&(struct ttrpc_header){.length = 0xffffffffu, .stream_id = 1, .type = 1}, hdr);
	CHECK(write(sv[0], hdr, sizeof(hdr)) == sizeof(hdr));
	CHECK(ttrpc_read_message(sv[1], TTRPC_MAX_MESSAGE, &h, &p, &err) == -EMSGSIZE);
	CHECK(h.stream_id == 1 && p == NULL);
	CHECK_STR_CONTAINS(err.msg, "exceeds the maximum");
	close(sv[0]);
	/* clean end */
	CHECK(ttrpc_read_message(sv[1], TTRPC_MAX_MESSAGE, &h, &p, &err) == 0);
	close(sv[1]);
}

static void test_calls(void)
{
	struct server s;
	int fd = start(&s);
	uint32_t stream;
	enum ttrpc_code code;
	char *payload = NULL;
	call(fd, 1, "test.Echo", "Echo", "hello");
	CHECK(answer(fd, &stream, &code, &payload) == 1);
	CHECK(stream == 1 && code == TTRPC_OK && strcmp(payload, "hello") == 0);
	free(payload);
	call(fd, 3, "test.Echo", "Echo", "fail");
	CHECK(answer(fd, &stream, &code, &payload) == 1);
	CHECK(stream == 3 && code == TTRPC_NOT_FOUND);
	free(payload);
	call(fd, 5, "test.Nope", "Echo", "x");
	CHECK(answer(fd, &stream, &code, &payload) == 1);
	CHECK(stream == 5 && code == TTRPC_UNIMPLEMENTED);
	free(payload);
	call(fd, 7, "test.Echo", "Nope", "x");
	CHECK(answer(fd, &stream, &code, &payload) == 1);
	CHECK(stream == 7 && code == TTRPC_UNIMPLEMENTED);
	free(payload);
	/* garbage envelope: an answer, and the connection goes on */
	CHECK(ttrpc_write_message(fd, 9, TTRPC_TYPE_REQUEST, "\xff\xff\xff\xff\xff\xff", 6) == 0);
	CHECK(answer(fd, &stream, &code, &payload) == 1);
	CHECK(stream == 9 && code == TTRPC_INVALID_ARGUMENT);
	free(payload);
	/* an empty service name */
	call(fd, 11, "", "Echo", "x");
	CHECK(answer(fd, &stream, &code, &payload) == 1);
	CHECK(stream == 11 && code == TTRPC_INVALID_ARGUMENT);
	free(payload);
	/* an even stream id */
	call(fd, 2, "test.Echo", "Echo", "x");
	CHECK(answer(fd, &stream, &code, &payload) == 1);
	CHECK(stream == 2 && code == TTRPC_INVALID_ARGUMENT);
	free(payload);
	call(fd, 13, "test.Echo", "Echo", "still here");
	CHECK(answer(fd, &stream, &code, &payload) == 1);
	CHECK(stream == 13 && code == TTRPC_OK && strcmp(payload, "still here") == 0);
	free(payload);
	/* oversized: answered, then the connection ends */
	uint8_t hdr[TTRPC_HEADER_SIZE];
	ttrpc_header_encode(
	    &(struct ttrpc_header){.length = TTRPC_MAX_MESSAGE + 1, .stream_id = 15, .type = 1}, hdr);
	CHECK(write(fd, hdr, sizeof(hdr)) == sizeof(hdr));
	CHECK(answer(fd, &stream, &code, &payload) == 1);
	CHECK(stream == 15 && code == TTRPC_RESOURCE_EXHAUSTED);
	free(payload);
	CHECK(answer(fd, &stream, &code, &payload) == -EPIPE);
	pthread_join(s.t, NULL);
	CHECK(s.rc == -EMSGSIZE);
	close(fd);
}

static void test_hostile_ends(void)
{
	struct server s;
	uint32_t stream;
	enum ttrpc_code code;
	char *payload;
	/* a data message where a request was due */
	int fd = start(&s);
	CHECK(ttrpc_write_message(fd, 1, TTRPC_TYPE_DATA, "x", 1) == 0);
	CHECK(answer(fd, &stream, &code, &payload) == -EPIPE);
	pthread_join(s.t, NULL);
	CHECK(s.rc == -EPROTO);
	close(fd);
	/* truncated inside a payload */
	fd = start(&s);
	uint8_t hdr[TTRPC_HEADER_SIZE];
	ttrpc_header_encode(&(struct ttrpc_header){.length = 50, .stream_id = 1, .type = 1}, hdr);
	CHECK(write(fd, hdr, sizeof(hdr)) == sizeof(hdr));
	CHECK(write(fd, "\x0a\x03", 2) == 2);
	shutdown(fd, SHUT_WR);
	pthread_join(s.t, NULL);
	CHECK(s.rc == -EPROTO);
	close(fd);
	/* random payloads in well-formed frames: every one answered */
	fd = start(&s);
	unsigned seed = 16;
	int answered = 0;
	for (uint32_t i = 0; i < 500; i++) {
		uint8_t buf[64];
		size_t n = (size_t)(rand_r(&seed) % sizeof(buf));
		for (size_t k = 0; k < n; k++)
			buf[k] = (uint8_t)rand_r(&seed);
		CHECK(ttrpc_write_message(fd, 2 * i + 1, TTRPC_TYPE_REQUEST, buf, n) == 0);
		payload = NULL;
		if (answer(fd, &stream, &code, &payload) == 1 && stream == 2 * i + 1 && code != TTRPC_OK)
			answered++;
		free(payload);
	}
	CHECK(answered == 500);
	close(fd);
	pthread_join(s.t, NULL);
	CHECK(s.rc == 0);
}

int main(void)
{
	RUN_TEST(test_header);
	RUN_TEST(test_read_bounds);
	RUN_TEST(test_calls);
	RUN_TEST(test_hostile_ends);
	TEST_EXIT();
}
