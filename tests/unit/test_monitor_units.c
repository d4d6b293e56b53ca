/* Monitor building blocks without a VM: the instance view, CRI log files,
 * group paths and the liveness lock, the ready clone's hand-over string
 * and directory. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "group.h"
#include "logfile.h"
#include "monitor.h"
#include "testlib.h"
#include "util.h"
#include "view.h"

static char tmpdir[] = "/tmp/capsid-test-monitor.XXXXXX";

static void test_events_merge(void)
{
	struct view_events ev = {0};
	view_event_add(&ev, "Started", "Normal", "started container %s", "web");
	view_event_add(&ev, "Started", "Normal", "started container %s", "web");
	view_event_add(&ev, "BackOff", "Warning", "back-off");
	CHECK(ev.n == 2);
	CHECK(ev.items[0].count == 2);
	CHECK(strcmp(ev.items[1].type, "Warning") == 0);
	for (int i = 0; i < 100; i++)
		view_event_add(&ev, "Spam", "Normal", "message %d", i);
	CHECK(ev.n == VIEW_MAX_EVENTS);
	CHECK(strcmp(ev.items[VIEW_MAX_EVENTS - 1].message, "message 99") == 0);

	struct json_object *arr = view_events_to_json(&ev);
	struct view_events back = {0};
	view_events_from_json(&back, arr);
	CHECK(back.n == ev.n);
	CHECK(strcmp(back.items[0].message, ev.items[0].message) == 0);
	json_object_put(arr);
}

/* The longest error an agent sends, behind the monitor's prefix, is kept
 * whole in an event and a detail status (show cuts nothing). */
static void test_messages_whole(void)
{
	static char cause[CAPSID_AGENT_ERROR_MAX + 1];
	memset(cause, 'x', CAPSID_AGENT_ERROR_MAX);
	cause[CAPSID_AGENT_ERROR_MAX - 1] = 'Z';
	struct view_events ev = {0};
	view_event_add(&ev, "Failed", "Warning", "start failed: %s", cause);
	CHECK(strlen(ev.items[0].message) == strlen("start failed: ") + CAPSID_AGENT_ERROR_MAX);
	CHECK(ev.items[0].message[strlen(ev.items[0].message) - 1] == 'Z');
	static struct view_container c;
	char detail[VIEW_MESSAGE_MAX];
	snprintf(detail, sizeof(detail), "create failed: %s", cause);
	view_container_transition(&c, CONTAINER_TERMINATED, 128, detail);
	CHECK(strcmp(c.current.detail, detail) == 0 && strlen(detail) > CAPSID_AGENT_ERROR_MAX);
}

static void test_container_states(void)
{
	struct view_container c = {0};
	view_container_transition(&c, CONTAINER_RUNNING, 0, "");
	CHECK(c.current.phase == CONTAINER_RUNNING && c.current.start_time[0]);
	CHECK(!c.has_previous);
	view_container_transition(&c, CONTAINER_TERMINATED, 3, "Error");
	CHECK(c.current.phase == CONTAINER_TERMINATED && c.current.exit_code == 3);
	CHECK(c.has_previous && c.previous.phase == CONTAINER_RUNNING);
	CHECK(strcmp(c.current.start_time, c.previous.start_time) == 0);
	CHECK(c.current.finish_time[0]);
	c.restart_count = 4;

	struct json_object *j = view_container_to_json(&c);
	struct json_object *cur, *code;
	CHECK(json_object_object_get_ex(j, "currentState", &cur));
	CHECK(json_object_object_get_ex(cur, "exitCode", &code) && json_object_get_int(code) == 3);
	struct view_container back = {0};
	view_container_from_json(&back, j);
	CHECK(back.restart_count == 4);
	CHECK(back.current.phase == CONTAINER_TERMINATED && back.current.exit_code == 3);
	CHECK(back.has_previous && back.previous.phase == CONTAINER_RUNNING);
	json_object_put(j);

	enum group_phase p;
	CHECK(view_group_phase_parse("Succeeded", &p) == 0 && p == GROUP_SUCCEEDED);
	CHECK(view_group_phase_parse("Bogus", &p) < 0);
	CHECK(view_group_phase_active(GROUP_RUNNING) && !view_group_phase_active(GROUP_STOPPED));
}

struct collected {
	char text[8192];
	int records;
	int partials;
	int stderr_records;
};

static void collect(const struct log_record *rec, void *ud)
{
	struct collected *c = ud;
	size_t len = strlen(c->text);
	snprintf(c->text + len, sizeof(c->text) - len, "%s%.*s%s", rec->stream == LOG_STDERR ? "E:" : "",
		 (int)(rec->len > 100 ? 100 : rec->len), rec->content, rec->partial ? "" : "\n");
	c->records++;
	c->partials += rec->partial;
	c->stderr_records += rec->stream == LOG_STDERR;
}

static void test_log_roundtrip(void)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/c.log", tmpdir);
	struct log_writer *w = NULL;
	CHECK(log_writer_open(path, &w) == 0);
	struct collected live = {0};
	CHECK(log_writer_append(w, LOG_STDOUT, (const uint8_t *)"hel", 3, collect, &live) == 0);
	CHECK(live.records == 0); /* no newline yet */
	CHECK(log_writer_append(w, LOG_STDOUT, (const uint8_t *)"lo\nworld\n", 9, collect, &live) == 0);
	CHECK(log_writer_append(w, LOG_STDERR, (const uint8_t *)"oops\n", 5, collect, &live) == 0);
	CHECK(log_writer_append(w, LOG_STDOUT, (const uint8_t *)"tail-without-newline", 20, collect, &live) == 0);
	CHECK(log_writer_flush(w, collect, &live) == 0);
	CHECK(live.records == 4);
	CHECK(strcmp(live.text, "hello\nworld\nE:oops\ntail-without-newline\n") == 0);

	/* an over-long line is split into partial records, nothing lost */
	size_t big = LOG_MAX_LINE * 2 + 10;
	char *buf = malloc(big + 1);
	memset(buf, 'x', big);
	buf[big] = '\n';
	CHECK(log_writer_append(w, LOG_STDOUT, (const uint8_t *)buf, big + 1, NULL, NULL) == 0);
	free(buf);
	log_writer_close(w);

	struct collected file = {0};
	CHECK(log_read_file(path, -1, collect, &file) == 0);
	CHECK(file.records == 7);
	CHECK(file.partials == 2);
	CHECK(file.stderr_records == 1);
	CHECK(strncmp(file.text, "hello\nworld\nE:oops\ntail-without-newline\n", 39) == 0);

	struct collected tail = {0};
	CHECK(log_read_file(path, 2, collect, &tail) == 0);
	CHECK(tail.records == 2);

	struct collected none = {0};
	CHECK(log_read_file("/nonexistent/x.log", -1, collect, &none) == 0 && none.records == 0);

	char bad[] = "garbage-without-fields";
	struct log_record rec;
	CHECK(log_parse_line(bad, strlen(bad), &rec) == -EINVAL);
	char good[] = "2026-01-01T00:00:00.000000000Z stderr F some text";
	CHECK(log_parse_line(good, strlen(good), &rec) == 0);
	CHECK(rec.stream == LOG_STDERR && !rec.partial && rec.len == 9);
	char empty[] = "2026-01-01T00:00:00.000000000Z stdout F";
	CHECK(log_parse_line(empty, strlen(empty), &rec) == 0 && rec.len == 0);
}

static void test_group_paths_and_lock(void)
{
	struct group_paths p;
	struct capsid_error err = {0};
	CHECK(group_paths_init(tmpdir, "Bad_Name", &p, &err) == -EINVAL);
	CHECK_STR_CONTAINS(err.msg, "1-63 lowercase letters");
	CHECK(group_paths_init(tmpdir, "-x", &p, &err) == -EINVAL);
	char longroot[200];
	memset(longroot, 'a', sizeof(longroot) - 1);
	longroot[0] = '/';
	longroot[sizeof(longroot) - 1] = '\0';
	CHECK(group_paths_init(longroot, "web", &p, &err) == -ENAMETOOLONG);
	CHECK_STR_CONTAINS(err.msg, "shorter --root");

	CHECK(group_paths_init(tmpdir, "web", &p, &err) == 0);
	CHECK(util_mkdir_p(p.dir, 0700) == 0);
	CHECK(group_monitor_alive(&p) == 0);
	int fd = group_lock(&p);
	CHECK(fd >= 0);
	/* another process sees the lock held */
	pid_t pid = fork();
	if (pid == 0)
		_exit(group_monitor_alive(&p) == 1 && group_lock(&p) == -EBUSY ? 0 : 1);
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd);
	CHECK(group_monitor_alive(&p) == 0);

	char **names;
	size_t n;
	CHECK(util_mkdir_p(tmpdir, 0700) == 0);
	char other[300];
	snprintf(other, sizeof(other), "%s/groups/alpha", tmpdir);
	CHECK(util_mkdir_p(other, 0700) == 0);
	snprintf(other, sizeof(other), "%s/groups/.hidden", tmpdir);
	CHECK(util_mkdir_p(other, 0700) == 0);
	CHECK(group_list_names(tmpdir, &names, &n) == 0);
	CHECK(n == 2 && strcmp(names[0], "alpha") == 0 && strcmp(names[1], "web") == 0);
	group_names_free(names, n);
}

/* `__monitor --adopt`: what a standby hands its exec'd monitor. */
static void test_adopt_parse(void)
{
	struct monitor_adopt a;
	CHECK(monitor_adopt_parse("qemu=4242,agent=5,out=6,tap=capsid-s17,key=0123456789abcdef,dir=/r/standby/b-1-384",
				  &a) == 0);
	CHECK(a.qemu_pid == 4242 && a.agent_fd == 5 && a.out_fd == 6);
	CHECK(strcmp(a.tap, "capsid-s17") == 0 && strcmp(a.key, "0123456789abcdef") == 0);
	CHECK(strcmp(a.dir, "/r/standby/b-1-384") == 0);
	/* A directory may hold commas: it is the rest of the string. */
	CHECK(monitor_adopt_parse("qemu=9,agent=5,out=-1,tap=t,key=k,dir=/a,b", &a) == 0 && strcmp(a.dir, "/a,b") == 0);
	CHECK(a.out_fd == -1); /* QEMU's output stayed in the standby's log */
	static const char *const bad[] = {
	    "",
	    "qemu=1,agent=5,out=6,tap=t,key=k,dir=/d", /* pid 1 is never a QEMU child */
	    "qemu=9,agent=2,out=6,tap=t,key=k,dir=/d", /* stdio is not a channel */
	    "qemu=9,agent=5,out=1,tap=t,key=k,dir=/d", /* nor QEMU's output */
	    "qemu=9,agent=5,out=5,tap=t,key=k,dir=/d", /* one descriptor for two */
	    "qemu=9,agent=5,tap=t,key=k,dir=/d",       /* no output descriptor */
	    "qemu=9,agent=5,out=6,tap=t,key=k,dir=",   /* no directory */
	    "qemu=9,agent=5,out=6,key=k,tap=t,dir=/d", /* out of order */
	    "qemu=9,agent=5,out=6,tap=waytoolongtapname,key=k,dir=/d",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(monitor_adopt_parse(bad[i], &a) < 0);
	char dir[128];
	CHECK(monitor_standby_dir("/var/lib/capsid", "builtin", 1, 384, 0, dir, sizeof(dir)) == 0);
	CHECK(strcmp(dir, "/var/lib/capsid/standby/builtin-1-384.0") == 0);
	CHECK(monitor_standby_dir("/var/lib/capsid", "crun", 2, 640, 63, dir, sizeof(dir)) == 0);
	CHECK(strcmp(dir, "/var/lib/capsid/standby/crun-2-640.63") == 0);
	/* Its sockets must fit in sun_path. */
	char longroot[100];
	memset(longroot, 'r', sizeof(longroot) - 1);
	longroot[0] = '/';
	longroot[sizeof(longroot) - 1] = '\0';
	CHECK(monitor_standby_dir(longroot, "builtin", 1, 384, 0, dir, sizeof(dir)) == -ENAMETOOLONG);
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		return 2;
	RUN_TEST(test_events_merge);
	RUN_TEST(test_messages_whole);
	RUN_TEST(test_container_states);
	RUN_TEST(test_log_roundtrip);
	RUN_TEST(test_group_paths_and_lock);
	RUN_TEST(test_adopt_parse);
	util_rm_rf(tmpdir);
	TEST_EXIT();
}
