/* The agent's answers (reply.c): what reply_send puts on the channel for
 * each result, and the error prefix it makes from what the request is
 * about. The host end of a socketpair reads the frames back. */
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "channel.h"
#include "frame.h"
#include "proto.h"
#include "reply.h"
#include "testlib.h"

struct answer {
	uint16_t type;
	uint32_t id;
	struct json_object *body;
};

/* The next RESPONSE or ERROR the agent sent (LOG frames skipped). */
static int next_answer(struct agent *a, int host, struct answer *out)
{
	if (channel_flush_blocking(a->ch, 2000) < 0)
		return -1;
	for (;;) {
		struct frame f;
		uint8_t *body = NULL;
		if (frame_read_blocking(host, 1 << 20, &f, &body) < 0)
			return -1;
		f.body = body;
		if (f.type == CAPSID_MSG_LOG) {
			free(body);
			continue;
		}
		out->type = f.type;
		out->id = f.id;
		out->body = frame_body_json(&f);
		free(body);
		return 0;
	}
}

static const char *error_of(const struct answer *ans)
{
	struct json_object *e;
	if (ans->type != CAPSID_MSG_ERROR || !ans->body || !json_object_object_get_ex(ans->body, "error", &e))
		return NULL;
	return json_object_get_string(e);
}

/* Send an error about `to` and return its text as the host saw it. */
static char *sent_error(struct agent *a, int host, const struct reply_to *to, const char *cause)
{
	struct reply r = reply_error("%s", cause);
	reply_send(a, to, &r);
	struct answer ans = {0};
	if (next_answer(a, host, &ans) < 0)
		return NULL;
	const char *e = ans.id == to->id ? error_of(&ans) : NULL;
	char *copy = e ? strdup(e) : NULL;
	json_object_put(ans.body);
	return copy;
}

static void check_error(struct agent *a, int host, const struct reply_to *to, const char *want)
{
	char *got = sent_error(a, host, to, "it went wrong");
	CHECK(got && strcmp(got, want) == 0);
	if (got && strcmp(got, want) != 0)
		fprintf(stderr, "  got \"%s\", want \"%s\"\n", got, want);
	free(got);
}

/* The agent under test and the host end of its channel. */
static struct agent agent = {.kmsg_fd = -1, .console_fd = -1, .dev_filter_fd = -1};
static int host_fd = -1;

static void test_prefixes(void)
{
	struct agent *a = &agent;
	int host = host_fd;
	struct reply_to to = reply_to_frame(3, CAPSID_MSG_CREATE);
	check_error(a, host, &to, "CREATE: it went wrong");
	to.subject = REPLY_ABOUT_REQUEST;
	check_error(a, host, &to, "create: it went wrong");
	reply_about_container(&to, "web");
	check_error(a, host, &to, "create web: it went wrong");

	to = reply_to_frame(4, CAPSID_MSG_EXEC);
	to.subject = REPLY_ABOUT_REQUEST;
	check_error(a, host, &to, "exec: it went wrong");
	reply_about_container(&to, "db");
	check_error(a, host, &to, "exec in db: it went wrong");

	to = reply_to_frame(5, CAPSID_MSG_SIGNAL);
	reply_about_stream(&to, 42);
	check_error(a, host, &to, "signal stream 42: it went wrong");
	to = reply_to_frame(6, CAPSID_MSG_RESIZE);
	reply_about_stream(&to, 7);
	check_error(a, host, &to, "resize stream 7: it went wrong");
	to = reply_to_frame(7, CAPSID_MSG_DELETE);
	reply_about_container(&to, "web");
	check_error(a, host, &to, "delete web: it went wrong");

	/* Input that is no frame at all: the cause alone, on id 0. */
	to = (struct reply_to){.subject = REPLY_ABOUT_INPUT};
	check_error(a, host, &to, "it went wrong");
}

static void test_results(void)
{
	struct agent *a = &agent;
	int host = host_fd;
	struct reply_to to = reply_to_frame(9, CAPSID_MSG_STATS);
	struct reply r = reply_ok(NULL);
	reply_send(a, &to, &r);
	struct answer ans = {0};
	CHECK(next_answer(a, host, &ans) == 0);
	CHECK(ans.type == CAPSID_MSG_RESPONSE && ans.id == 9 && ans.body &&
	      json_object_object_length(ans.body) == 0);
	json_object_put(ans.body);

	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "pid", json_object_new_int(1234));
	to = reply_to_frame(10, CAPSID_MSG_START);
	r = reply_ok(o);
	reply_send(a, &to, &r); /* takes o */
	CHECK(r.body == NULL);
	CHECK(next_answer(a, host, &ans) == 0);
	struct json_object *pid;
	CHECK(ans.type == CAPSID_MSG_RESPONSE && ans.id == 10 && ans.body &&
	      json_object_object_get_ex(ans.body, "pid", &pid) && json_object_get_int(pid) == 1234);
	json_object_put(ans.body);

	/* Deferred: nothing now (the job answers later). */
	r = reply_deferred();
	reply_send(a, &to, &r);
	CHECK(channel_pending(a->ch) == 0);

	/* A module's error struct: its message, or its errno without one. */
	struct capsid_error err = {0};
	capsid_error_set(&err, EINVAL, "field x: bad");
	r = reply_failed(&err);
	CHECK(r.status == REPLY_ERROR && strcmp(r.error, "field x: bad") == 0);
	err = (struct capsid_error){.code = ENOMEM};
	r = reply_failed(&err);
	CHECK(r.status == REPLY_ERROR && strcmp(r.error, strerror(ENOMEM)) == 0);

	/* A long cause is cut, never overflowed. */
	char big[REPLY_TEXT_MAX * 2];
	memset(big, 'e', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	to = reply_to_frame(11, CAPSID_MSG_DELETE);
	reply_about_container(&to, "web");
	char *got = sent_error(a, host, &to, big);
	CHECK(got && strncmp(got, "delete web: eee", 15) == 0 && strlen(got) == REPLY_TEXT_MAX - 1);
	free(got);
}

int main(void)
{
	signal(SIGIO, SIG_IGN); /* the channel asks for it (O_ASYNC) */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		return 1;
	}
	host_fd = sv[0];
	CHECK(channel_open_fd(&agent.ch, sv[1]) == 0);
	if (!agent.ch)
		TEST_EXIT();
	RUN_TEST(test_prefixes);
	RUN_TEST(test_results);
	channel_free(agent.ch);
	close(sv[0]);
	TEST_EXIT();
}
