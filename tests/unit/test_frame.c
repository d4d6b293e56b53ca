/* Frame codec: round trips, and the hostile cases the host must survive:
 * truncated, oversized, garbage and unknown-type frames. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "testlib.h"

static void test_round_trip(void)
{
	struct frame_writer *w = frame_writer_new(1 << 20);
	struct frame_reader *r = frame_reader_new(CAPSID_FRAME_MAX_BODY);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(frame_writer_queue(w, CAPSID_MSG_STDOUT, 7, "hello", 5) == 0);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "exitCode", json_object_new_int(3));
	CHECK(frame_writer_queue_json(w, CAPSID_MSG_EXIT, 7, o) == 0);
	json_object_put(o);
	CHECK(frame_writer_flush(w, sv[0]) == 1);
	CHECK(frame_reader_fill(r, sv[1]) > 0);
	struct frame f;
	CHECK(frame_reader_next(r, &f) == 1);
	CHECK(f.type == CAPSID_MSG_STDOUT && f.id == 7 && f.length == 5 && memcmp(f.body, "hello", 5) == 0);
	CHECK(frame_reader_next(r, &f) == 1);
	CHECK(f.type == CAPSID_MSG_EXIT);
	struct json_object *body = frame_body_json(&f);
	CHECK(body && json_object_get_int(json_object_object_get(body, "exitCode")) == 3);
	json_object_put(body);
	CHECK(frame_reader_next(r, &f) == 0);
	close(sv[0]);
	CHECK(frame_reader_fill(r, sv[1]) == -EPIPE);
	close(sv[1]);
	frame_reader_free(r);
	frame_writer_free(w);
}

static void test_truncated(void)
{
	struct frame_reader *r = frame_reader_new(1024);
	uint8_t hdr[16];
	frame_header_encode(hdr, CAPSID_MSG_STDOUT, 0, 1, 10);
	CHECK(frame_reader_feed(r, hdr, 10) == 0);
	struct frame f;
	CHECK(frame_reader_next(r, &f) == 0); /* half a header: wait */
	CHECK(frame_reader_feed(r, hdr + 10, 6) == 0);
	CHECK(frame_reader_feed(r, "abc", 3) == 0);
	CHECK(frame_reader_next(r, &f) == 0); /* body incomplete: wait */
	CHECK(frame_reader_feed(r, "defghij", 7) == 0);
	CHECK(frame_reader_next(r, &f) == 1);
	CHECK(f.length == 10 && memcmp(f.body, "abcdefghij", 10) == 0);
	frame_reader_free(r);
}

static void test_oversized(void)
{
	struct frame_reader *r = frame_reader_new(1024);
	uint8_t hdr[16];
	frame_header_encode(hdr, CAPSID_MSG_STDOUT, 0, 1, 1025);
	CHECK(frame_reader_feed(r, hdr, 16) == 0);
	struct frame f;
	CHECK(frame_reader_next(r, &f) == -EMSGSIZE);
	CHECK(frame_reader_next(r, &f) == -EMSGSIZE); /* stays broken */
	frame_reader_free(r);

	/* A 4 GiB length claim must not make the reader allocate it. */
	r = frame_reader_new(CAPSID_FRAME_MAX_BODY);
	frame_header_encode(hdr, CAPSID_MSG_STDOUT, 0, 1, 0xffffffffu);
	CHECK(frame_reader_feed(r, hdr, 16) == 0);
	CHECK(frame_reader_next(r, &f) == -EMSGSIZE);
	frame_reader_free(r);

	struct frame_writer *w = frame_writer_new(64);
	char big[128] = {0};
	CHECK(frame_writer_queue(w, CAPSID_MSG_STDIN, 1, big, sizeof(big)) == -ENOBUFS);
	frame_writer_free(w);
}

static void test_garbage(void)
{
	struct frame_reader *r = frame_reader_new(1024);
	const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	CHECK(frame_reader_feed(r, junk, sizeof(junk)) == 0);
	struct frame f;
	CHECK(frame_reader_next(r, &f) == -EBADMSG);
	frame_reader_free(r);

	r = frame_reader_new(1024);
	uint8_t hdr[16];
	frame_header_encode(hdr, 999, 0, 1, 0); /* unknown type */
	CHECK(frame_reader_feed(r, hdr, 16) == 0);
	CHECK(frame_reader_next(r, &f) == -EBADMSG);
	frame_reader_free(r);

	r = frame_reader_new(1024);
	frame_header_encode(hdr, CAPSID_MSG_EXIT, 0x8000, 1, 0); /* unknown flag */
	CHECK(frame_reader_feed(r, hdr, 16) == 0);
	CHECK(frame_reader_next(r, &f) == -EBADMSG);
	frame_reader_free(r);

	/* Valid header, body that is not a JSON object. */
	r = frame_reader_new(1024);
	frame_header_encode(hdr, CAPSID_MSG_EXIT, 0, 1, 5);
	CHECK(frame_reader_feed(r, hdr, 16) == 0);
	CHECK(frame_reader_feed(r, "[1,2]", 5) == 0);
	CHECK(frame_reader_next(r, &f) == 1);
	CHECK(frame_body_json(&f) == NULL);
	frame_reader_free(r);

	/* Trailing bytes after a JSON object are rejected. */
	r = frame_reader_new(1024);
	frame_header_encode(hdr, CAPSID_MSG_EXIT, 0, 1, 8);
	CHECK(frame_reader_feed(r, hdr, 16) == 0);
	CHECK(frame_reader_feed(r, "{}garbag", 8) == 0);
	CHECK(frame_reader_next(r, &f) == 1);
	CHECK(frame_body_json(&f) == NULL);
	frame_reader_free(r);
}

/* Garbage never crashes the reader, and whatever it hands out is a frame
 * the validation allowed: a known type, no flags, a length within the cap. */
static void test_random_bytes_never_crash(void)
{
	srand(42);
	int rejected = 0, frames = 0;
	for (int round = 0; round < 2000; round++) {
		struct frame_reader *r = frame_reader_new(4096);
		uint8_t buf[256];
		size_t n = (size_t)(rand() % (int)sizeof(buf));
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rand();
		if (n >= 4 && round % 2) {
			uint32_t m = CAPSID_PROTO_MAGIC;
			memcpy(buf, &m, 4);
		}
		if (frame_reader_feed(r, buf, n) == 0) {
			struct frame f;
			int rc;
			while ((rc = frame_reader_next(r, &f)) == 1) {
				frames++;
				CHECK(frame_type_known(f.type) && f.flags == 0 && f.length <= 4096);
				struct json_object *o = frame_body_json(&f);
				json_object_put(o);
			}
			CHECK(rc == 0 || rc == -EBADMSG || rc == -EMSGSIZE);
			rejected += rc < 0;
		}
		frame_reader_free(r);
	}
	/* Half the rounds start with the magic: random types and flags must
	 * have been refused many times over. */
	CHECK(rejected > 500);
	(void)frames;
}

static void test_blocking_helpers(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(frame_write_blocking(sv[0], CAPSID_CTL_STATUS, 9, "{}", 2) == 0);
	struct frame f;
	uint8_t *body = NULL;
	CHECK(frame_read_blocking(sv[1], 1024, &f, &body) == 1);
	CHECK(f.type == CAPSID_CTL_STATUS && f.id == 9 && f.length == 2);
	free(body);
	CHECK(frame_write_blocking(sv[0], CAPSID_MSG_STDOUT, 1, "0123456789", 10) == 0);
	CHECK(frame_read_blocking(sv[1], 4, &f, &body) == -EMSGSIZE);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	RUN_TEST(test_round_trip);
	RUN_TEST(test_truncated);
	RUN_TEST(test_oversized);
	RUN_TEST(test_garbage);
	RUN_TEST(test_random_bytes_never_crash);
	RUN_TEST(test_blocking_helpers);
	TEST_EXIT();
}
