/* The monitor's agent read loop takes a bounded amount per wake-up
 * (monitor_agent_readable: 16 reads of at most 64 KiB), so a guest that
 * keeps its channel full cannot keep the monitor from its clients: with
 * 4 MiB of valid STDOUT frames waiting on a real socket pair, one call
 * leaves most of them queued. Needs SO_SNDBUFFORCE (root) to queue that
 * much; skips otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "monitor.h"
#include "proto.h"
#include "testlib.h"

#define QUEUED (4u << 20)
#define BODY   (64u << 10)

static void test_bounded_per_wakeup(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
	int big = 2 * QUEUED;
	if (setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0) {
		TEST_SKIP("SO_SNDBUFFORCE: %s (needs CAP_NET_ADMIN)", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return;
	}
	/* The guest's side: STDOUT frames of a stream no container has (the
	 * monitor drops them after parsing), queued up front. */
	char *body = malloc(BODY);
	CHECK(body != NULL);
	memset(body, 'x', BODY);
	size_t queued = 0;
	while (queued < QUEUED) {
		int rc = frame_write_blocking(sv[1], CAPSID_MSG_STDOUT, 99, body, BODY);
		if (rc < 0)
			break;
		queued += 16 + BODY;
	}
	free(body);
	int before = 0;
	CHECK(ioctl(sv[0], SIOCINQ, &before) == 0);
	CHECK((size_t)before >= QUEUED);

	struct monitor m = {.log_fd = -1, .signal_fd = -1, .agent = {.fd = sv[0]}};
	m.vm.fsm.state = VM_READY;
	m.agent.in = frame_reader_new(CAPSID_FRAME_MAX_BODY);
	CHECK(m.agent.in != NULL);
	monitor_agent_readable(&m);
	int after = 0;
	CHECK(ioctl(sv[0], SIOCINQ, &after) == 0);
	CHECK(m.agent.fd == sv[0]); /* valid frames: the channel stays open */
	/* At most 16 reads of 64 KiB came off the socket; the rest waits for
	 * the next wake-up, after the monitor's clients. */
	CHECK(before - after <= 16 * 65536);
	CHECK(after >= before - 16 * 65536 && after > 0);
	/* And the next call takes the next share. */
	monitor_agent_readable(&m);
	int later = 0;
	CHECK(ioctl(sv[0], SIOCINQ, &later) == 0 && later < after);
	frame_reader_free(m.agent.in);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	RUN_TEST(test_bounded_per_wakeup);
	TEST_EXIT();
}
