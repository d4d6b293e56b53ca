/* The agent's channel loop (channel_serve): bounded reads, and every
 * complete frame handled before it returns. The guest's virtio-serial port
 * hands out one receive buffer per read; a SOCK_SEQPACKET socketpair does
 * the same with one packet per read, so which read brings which bytes is
 * exact here. A frame completed by the last read of a round was once left
 * in the reader's buffer: poll() saw nothing more in the port and the frame
 * (a STDIN_CLOSE) waited until the host sent something else. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "frame.h"
#include "proto.h"
#include "testlib.h"

#define MAX_SEEN 64
#define HEADER	 sizeof(struct capsid_frame_header)

struct seen {
	size_t n;
	uint32_t ids[MAX_SEEN];
	uint32_t lengths[MAX_SEEN];
};

static void record(void *ctx, const struct frame *f)
{
	struct seen *s = ctx;
	if (s->n < MAX_SEEN) {
		s->ids[s->n] = f->id;
		s->lengths[s->n] = f->length;
	}
	s->n++;
}

/* A host end (sv[0]) and the agent's channel on the other. */
static struct channel *open_pair(int *host)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return NULL;
	struct channel *ch = NULL;
	if (channel_open_fd(&ch, sv[1]) < 0) {
		close(sv[0]);
		return NULL;
	}
	*host = sv[0];
	return ch;
}

static size_t encode(uint8_t *out, uint16_t type, uint32_t id, size_t body_len)
{
	frame_header_encode(out, type, 0, id, (uint32_t)body_len);
	memset(out + HEADER, 'x', body_len);
	return HEADER + body_len;
}

/* One packet: one read on the agent's side. */
static void send_packet(int fd, const void *data, size_t len)
{
	CHECK(send(fd, data, len, 0) == (ssize_t)len);
}

static void send_frame(int fd, uint16_t type, uint32_t id, size_t body_len)
{
	uint8_t buf[4096];
	send_packet(fd, buf, encode(buf, type, id, body_len));
}

/* What the agent's loop does: serve the channel while poll() reports input. */
static void serve_while_readable(struct channel *ch, struct seen *s)
{
	for (;;) {
		struct pollfd p = {.fd = channel_fd(ch), .events = POLLIN};
		if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
			return;
		CHECK(channel_serve(ch, 16, record, s) == 0);
	}
}

static void test_every_burst_length(void)
{
	/* Bursts of 1 to 40 reads, each ending in a STDIN_CLOSE: whichever
	 * read of a round brings it, it is handled before poll() sleeps. */
	for (uint32_t n = 1; n <= 40; n++) {
		int host;
		struct channel *ch = open_pair(&host);
		CHECK(ch != NULL);
		if (!ch)
			return;
		for (uint32_t i = 1; i < n; i++)
			send_frame(host, CAPSID_MSG_STDIN, i, 100);
		send_frame(host, CAPSID_MSG_STDIN_CLOSE, n, 0);
		struct seen s = {0};
		serve_while_readable(ch, &s);
		CHECK(s.n == n);
		if (s.n != n)
			fprintf(stderr, "  a burst of %u reads: %zu frames handled\n", n, s.n);
		CHECK(s.n != n || n > MAX_SEEN || (s.ids[n - 1] == n && s.lengths[n - 1] == 0));
		channel_free(ch);
		close(host);
	}
}

static void test_more_than_a_round(void)
{
	int host;
	struct channel *ch = open_pair(&host);
	CHECK(ch != NULL);
	if (!ch)
		return;
	for (uint32_t i = 1; i <= 20; i++)
		send_frame(host, CAPSID_MSG_STDIN, i, 10);
	struct seen s = {0};
	/* Bounded: a round reads 16 times and handles what those brought... */
	CHECK(channel_serve(ch, 16, record, &s) == 0 && s.n == 16 && s.ids[15] == 16);
	/* ...and the next one the rest, which is still in the socket. */
	CHECK(channel_serve(ch, 16, record, &s) == 0 && s.n == 20 && s.ids[19] == 20);
	channel_free(ch);
	close(host);
}

static void test_frames_across_reads(void)
{
	int host;
	struct channel *ch = open_pair(&host);
	CHECK(ch != NULL);
	if (!ch)
		return;
	/* Frame 1 spans three reads, the third read also carries frame 2 and
	 * frame 3 whole, and the last one completes frame 4. */
	uint8_t buf[8192];
	size_t a = encode(buf, CAPSID_MSG_STDIN, 1, 3000);
	size_t b = encode(buf + a, CAPSID_MSG_STDIN, 2, 5);
	size_t c = encode(buf + a + b, CAPSID_MSG_STATS, 3, 2);
	size_t d = encode(buf + a + b + c, CAPSID_MSG_STDIN_CLOSE, 4, 0);
	send_packet(host, buf, 7);
	send_packet(host, buf + 7, 1000);
	send_packet(host, buf + 1007, a + b + c - 1007);
	send_packet(host, buf + a + b + c, d - 3);
	send_packet(host, buf + a + b + c + d - 3, 3);
	struct seen s = {0};
	CHECK(channel_serve(ch, 5, record, &s) == 0);
	CHECK(s.n == 4);
	CHECK(s.n == 4 && s.ids[0] == 1 && s.lengths[0] == 3000 && s.ids[2] == 3 && s.ids[3] == 4);
	channel_free(ch);
	close(host);
}

static void test_malformed_and_hangup(void)
{
	int host;
	struct channel *ch = open_pair(&host);
	CHECK(ch != NULL);
	if (!ch)
		return;
	CHECK(channel_connected(ch));
	static const uint8_t garbage[32] = {0xde, 0xad, 0xbe, 0xef};
	send_packet(host, garbage, sizeof(garbage));
	struct seen s = {0};
	CHECK(channel_serve(ch, 16, record, &s) == -EBADMSG && s.n == 0);
	CHECK(channel_resync(ch) == 0);
	send_frame(host, CAPSID_MSG_STATS, 7, 2);
	CHECK(channel_serve(ch, 16, record, &s) == 0 && s.n == 1 && s.ids[0] == 7);
	/* The host goes away: end of file marks the channel disconnected. */
	close(host);
	CHECK(channel_serve(ch, 16, record, &s) == 0 && s.n == 1);
	CHECK(!channel_connected(ch));
	channel_free(ch);
}

int main(void)
{
	/* The channel asks for SIGIO (O_ASYNC), whose default action ends us. */
	signal(SIGIO, SIG_IGN);
	RUN_TEST(test_every_burst_length);
	RUN_TEST(test_more_than_a_round);
	RUN_TEST(test_frames_across_reads);
	RUN_TEST(test_malformed_and_hangup);
	TEST_EXIT();
}
