/* The monitor's VM state machine (host/monitor/vm_fsm.c) without QEMU:
 * the whole transition table, every (state, event) pair, then the
 * sequences the monitor goes through (create, monitor restart, VM death
 * during boot, stop and delete during a restart, restart during boot). */
#include <stdio.h>
#include <string.h>

#include "testlib.h"
#include "vm_fsm.h"

/* "Next [action,action] -> follow", or "refused". */
static void render(const struct vm_step *st, char *buf, size_t len)
{
	if (st->refused) {
		snprintf(buf, len, "refused");
		return;
	}
	size_t n = (size_t)snprintf(buf, len, "%s [", vm_state_name(st->next));
	for (size_t i = 0; i < st->n && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "," : "", vm_action_name(st->actions[i]));
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, "]");
	if (st->follow != VM_EVENT_COUNT && n < len)
		snprintf(buf + n, len - n, " -> %s", vm_event_name(st->follow));
}

static int check_step(enum vm_state from, bool user_stop, enum vm_event ev, struct vm_facts facts,
		      const char *want, const char *file, int line)
{
	struct vm_fsm f = {.state = from, .user_stop = user_stop};
	struct vm_step st;
	vm_fsm_step(&f, ev, &facts, &st);
	char got[512];
	render(&st, got, sizeof(got));
	test_checks++;
	if (strcmp(got, want) != 0) {
		test_failures++;
		fprintf(stderr, "%s:%d: %s + %s: got \"%s\", want \"%s\"\n", file, line, vm_state_name(from),
			vm_event_name(ev), got, want);
		return -1;
	}
	/* The machine is where the step says, and a refusal changes nothing. */
	CHECK(f.state == st.next);
	if (st.refused)
		CHECK(f.state == from && f.user_stop == user_stop);
	return 0;
}

#define STEP(from, ev, want)	      check_step(from, false, ev, (struct vm_facts){0}, want, __FILE__, __LINE__)
#define STEP_F(from, ev, facts, want) check_step(from, false, ev, facts, want, __FILE__, __LINE__)

#define FAILED_TAIL "teardown-killed,start-done-error,note-failed,broadcast-end,stop-done"
#define ASKED_STOP  "cancel-restarts,killing-events,update-phase"
#define DOWN_TAIL                                                                                            \
	"teardown-stopped,note-stopped,report-ready-ok,start-done-ok,update-phase,save-state,broadcast-end," \
	"stop-done"

/* The expected outcome of every (state, event) pair with no facts set. */
static const char *const table[VM_STATE_COUNT][VM_EVENT_COUNT] = {
    [VM_DOWN] =
	{
	    [VM_EV_MONITOR_START] = "Booting [boot]",
	    [VM_EV_START] = "Booting [boot]",
	    [VM_EV_RESTART] = "Booting [boot]",
	    [VM_EV_STOP] = "Down [cancel-restarts,update-phase,stop-done]",
	    [VM_EV_DELETE] = "Down [cancel-restarts,update-phase,stop-done,exit]",
	    [VM_EV_BOOT_FAILED] = "refused",
	    [VM_EV_HELLO] = "refused",
	    [VM_EV_GUEST_READY] = "refused",
	    [VM_EV_ALL_ENDED] = "refused",
	    [VM_EV_QEMU_EXITED] = "refused",
	    [VM_EV_AGENT_LOST] = "refused",
	    [VM_EV_BOOT_TIMEOUT] = "refused",
	    [VM_EV_STOP_TIMEOUT] = "refused",
	},
    [VM_BOOTING] =
	{
	    [VM_EV_MONITOR_START] = "refused",
	    [VM_EV_START] = "refused",
	    [VM_EV_RESTART] = "Restarting [" ASKED_STOP ",terminate] -> qemu-exited",
	    [VM_EV_STOP] = "Stopping [" ASKED_STOP ",terminate] -> qemu-exited",
	    [VM_EV_DELETE] = "Exiting [" ASKED_STOP ",terminate] -> qemu-exited",
	    [VM_EV_BOOT_FAILED] = "Down [" FAILED_TAIL "]",
	    [VM_EV_HELLO] = "Negotiate []",
	    [VM_EV_GUEST_READY] = "refused",
	    [VM_EV_ALL_ENDED] = "refused",
	    [VM_EV_QEMU_EXITED] = "Down [" FAILED_TAIL "]",
	    [VM_EV_AGENT_LOST] = "Down [terminate," FAILED_TAIL "]",
	    [VM_EV_BOOT_TIMEOUT] = "Down [terminate," FAILED_TAIL "]",
	    [VM_EV_STOP_TIMEOUT] = "refused",
	},
    [VM_NEGOTIATE] =
	{
	    [VM_EV_MONITOR_START] = "refused",
	    [VM_EV_START] = "refused",
	    [VM_EV_RESTART] = "Restarting [" ASKED_STOP ",terminate] -> qemu-exited",
	    [VM_EV_STOP] = "Stopping [" ASKED_STOP ",terminate] -> qemu-exited",
	    [VM_EV_DELETE] = "Exiting [" ASKED_STOP ",terminate] -> qemu-exited",
	    [VM_EV_BOOT_FAILED] = "refused",
	    [VM_EV_HELLO] = "refused",
	    [VM_EV_GUEST_READY] = "Ready [release-boot-files,start-containers,update-phase]",
	    [VM_EV_ALL_ENDED] = "refused",
	    [VM_EV_QEMU_EXITED] = "Down [" FAILED_TAIL "]",
	    [VM_EV_AGENT_LOST] = "Down [terminate," FAILED_TAIL "]",
	    [VM_EV_BOOT_TIMEOUT] = "Down [terminate," FAILED_TAIL "]",
	    [VM_EV_STOP_TIMEOUT] = "refused",
	},
    [VM_READY] =
	{
	    [VM_EV_MONITOR_START] = "refused",
	    [VM_EV_START] = "refused",
	    [VM_EV_RESTART] = "Restarting [" ASKED_STOP ",shutdown]",
	    [VM_EV_STOP] = "Stopping [" ASKED_STOP ",shutdown]",
	    [VM_EV_DELETE] = "Exiting [" ASKED_STOP ",shutdown]",
	    [VM_EV_BOOT_FAILED] = "refused",
	    [VM_EV_HELLO] = "refused",
	    [VM_EV_GUEST_READY] = "refused",
	    [VM_EV_ALL_ENDED] = "Stopping [cancel-restarts,update-phase,shutdown]",
	    [VM_EV_QEMU_EXITED] = "Down [" FAILED_TAIL "]",
	    [VM_EV_AGENT_LOST] = "Down [terminate," FAILED_TAIL "]",
	    [VM_EV_BOOT_TIMEOUT] = "refused",
	    [VM_EV_STOP_TIMEOUT] = "refused",
	},
    [VM_STOPPING] =
	{
	    [VM_EV_MONITOR_START] = "refused",
	    [VM_EV_START] = "refused",
	    [VM_EV_RESTART] = "Restarting [cancel-restarts]",
	    [VM_EV_STOP] = "Stopping [cancel-restarts]",
	    [VM_EV_DELETE] = "Exiting [cancel-restarts]",
	    [VM_EV_BOOT_FAILED] = "refused",
	    [VM_EV_HELLO] = "refused",
	    [VM_EV_GUEST_READY] = "refused",
	    [VM_EV_ALL_ENDED] = "refused",
	    [VM_EV_QEMU_EXITED] = "Down [" DOWN_TAIL "]",
	    [VM_EV_AGENT_LOST] = "Stopping [terminate] -> qemu-exited",
	    [VM_EV_BOOT_TIMEOUT] = "refused",
	    [VM_EV_STOP_TIMEOUT] = "Stopping [terminate] -> qemu-exited",
	},
    [VM_RESTARTING] =
	{
	    [VM_EV_MONITOR_START] = "refused",
	    [VM_EV_START] = "refused",
	    [VM_EV_RESTART] = "Restarting [cancel-restarts]",
	    [VM_EV_STOP] = "Stopping [cancel-restarts]",
	    [VM_EV_DELETE] = "Exiting [cancel-restarts]",
	    [VM_EV_BOOT_FAILED] = "refused",
	    [VM_EV_HELLO] = "refused",
	    [VM_EV_GUEST_READY] = "refused",
	    [VM_EV_ALL_ENDED] = "refused",
	    [VM_EV_QEMU_EXITED] = "Down [teardown-stopped,note-stopped,update-phase,save-state,broadcast-end,"
				  "stop-done] -> start",
	    [VM_EV_AGENT_LOST] = "Restarting [terminate] -> qemu-exited",
	    [VM_EV_BOOT_TIMEOUT] = "refused",
	    [VM_EV_STOP_TIMEOUT] = "Restarting [terminate] -> qemu-exited",
	},
    [VM_EXITING] =
	{
	    [VM_EV_MONITOR_START] = "refused",
	    [VM_EV_START] = "refused",
	    [VM_EV_RESTART] = "Exiting [cancel-restarts]",
	    [VM_EV_STOP] = "Exiting [cancel-restarts]",
	    [VM_EV_DELETE] = "Exiting [cancel-restarts]",
	    [VM_EV_BOOT_FAILED] = "refused",
	    [VM_EV_HELLO] = "refused",
	    [VM_EV_GUEST_READY] = "refused",
	    [VM_EV_ALL_ENDED] = "refused",
	    [VM_EV_QEMU_EXITED] = "Down [" DOWN_TAIL ",exit]",
	    [VM_EV_AGENT_LOST] = "Exiting [terminate] -> qemu-exited",
	    [VM_EV_BOOT_TIMEOUT] = "refused",
	    [VM_EV_STOP_TIMEOUT] = "Exiting [terminate] -> qemu-exited",
	},
};

/* Every pair has an outcome, and it is the one in the table. */
static void test_every_transition(void)
{
	for (int s = 0; s < VM_STATE_COUNT; s++)
		for (int e = 0; e < VM_EVENT_COUNT; e++) {
			CHECK(table[s][e] != NULL);
			if (table[s][e])
				STEP((enum vm_state)s, (enum vm_event)e, table[s][e]);
		}
	/* The names the diagram and the log use are all there. */
	for (int s = 0; s < VM_STATE_COUNT; s++)
		CHECK(strcmp(vm_state_name((enum vm_state)s), "?") != 0);
	for (int e = 0; e < VM_EVENT_COUNT; e++)
		CHECK(strcmp(vm_event_name((enum vm_event)e), "?") != 0);
	for (int a = 0; a < VM_ACTION_COUNT; a++)
		CHECK(strcmp(vm_action_name((enum vm_action)a), "?") != 0);
}

/* The facts change only the failure outcomes. */
static void test_facts(void)
{
	struct vm_facts creating = {.creating = true};
	struct vm_facts waits = {.caller_waits = true};
	/* A create that waits hears the reason; the monitor exits (the CLI removes the group). */
	for (enum vm_state s = VM_BOOTING; s <= VM_READY; s++) {
		STEP_F(s, VM_EV_QEMU_EXITED, creating, "Down [teardown-killed,report-ready-error,exit]");
		STEP_F(s, VM_EV_AGENT_LOST, creating,
		       "Down [terminate,teardown-killed,report-ready-error,exit]");
	}
	STEP_F(VM_BOOTING, VM_EV_BOOT_TIMEOUT, creating,
	       "Down [terminate,teardown-killed,report-ready-error,exit]");
	/* A boot that a request asked for: the request reports the error, nothing else happens. */
	STEP_F(VM_BOOTING, VM_EV_BOOT_FAILED, waits, "Down []");
	STEP_F(VM_BOOTING, VM_EV_BOOT_FAILED, creating, "Down [teardown-killed,report-ready-error,exit]");
	/* A stop's outcome does not depend on them. */
	STEP_F(VM_STOPPING, VM_EV_QEMU_EXITED, creating, "Down [" DOWN_TAIL "]");
	STEP_F(VM_READY, VM_EV_STOP, creating, "Stopping [" ASKED_STOP ",shutdown]");
}

/* Drive the machine as the monitor does: each follow-up right after. */
static void drive(struct vm_fsm *f, enum vm_event ev, struct vm_facts facts, char *trace, size_t len)
{
	size_t n = strlen(trace);
	for (;;) {
		struct vm_step st;
		vm_fsm_step(f, ev, &facts, &st);
		n += (size_t)snprintf(trace + n, len - n, "%s%s:%s", n ? " " : "", vm_event_name(ev),
				      st.refused ? "refused" : vm_state_name(st.next));
		if (st.refused || st.follow == VM_EVENT_COUNT || n >= len)
			return;
		ev = st.follow;
	}
}

static void run(struct vm_fsm *f, const enum vm_event *evs, size_t n, struct vm_facts facts, char *trace,
		size_t len)
{
	trace[0] = '\0';
	for (size_t i = 0; i < n; i++)
		drive(f, evs[i], facts, trace, len);
}

#define RUN(f, facts, trace, ...)                                                                            \
	do {                                                                                                 \
		const enum vm_event _evs[] = {__VA_ARGS__};                                                  \
		run(f, _evs, ARRAY_LEN(_evs), facts, trace, sizeof(trace));                                  \
	} while (0)
static const struct vm_facts NOFACTS = {0}, CREATING = {.creating = true},
			     CREATE_WAITS = {.creating = true, .caller_waits = true};
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void test_create_to_end(void)
{
	struct vm_fsm f;
	vm_fsm_init(&f);
	char t[512];
	RUN(&f, NOFACTS, t, VM_EV_MONITOR_START, VM_EV_HELLO, VM_EV_GUEST_READY, VM_EV_ALL_ENDED,
	    VM_EV_QEMU_EXITED);
	CHECK_STR_CONTAINS(t, "monitor-start:Booting hello:Negotiate guest-ready:Ready all-ended:Stopping "
			      "qemu-exited:Down");
	CHECK(f.state == VM_DOWN);
	CHECK(!f.user_stop); /* ended by itself: the group keeps Succeeded/Failed */
	/* Idle and down, it can be started again. */
	RUN(&f, NOFACTS, t, VM_EV_START);
	CHECK(f.state == VM_BOOTING);
}

/* A monitor that was lost (SIGKILL) is replaced by a new one: it starts
 * down, whatever the old one's VM was doing, and boots; a ready clone's
 * adoption is a boot whose HELLO comes from the standby. */
static void test_monitor_restart(void)
{
	struct vm_fsm f;
	vm_fsm_init(&f);
	CHECK(f.state == VM_DOWN && !f.user_stop);
	char t[256];
	RUN(&f, CREATING, t, VM_EV_MONITOR_START, VM_EV_HELLO, VM_EV_GUEST_READY);
	CHECK_STR_CONTAINS(t, "monitor-start:Booting hello:Negotiate guest-ready:Ready");
	/* A second start while the first runs is refused. */
	RUN(&f, NOFACTS, t, VM_EV_MONITOR_START, VM_EV_START);
	CHECK_STR_CONTAINS(t, "monitor-start:refused start:refused");
	CHECK(f.state == VM_READY);
	/* A monitor whose first boot failed: its caller (monitor_main) reports. */
	vm_fsm_init(&f);
	RUN(&f, CREATE_WAITS, t, VM_EV_MONITOR_START, VM_EV_BOOT_FAILED);
	CHECK_STR_CONTAINS(t, "monitor-start:Booting boot-failed:Down");
}

static void test_vm_death_during_boot(void)
{
	struct vm_fsm f;
	char t[256];
	struct vm_step st;
	/* With the creating CLI waiting: it gets the reason, the monitor exits. */
	vm_fsm_init(&f);
	RUN(&f, CREATING, t, VM_EV_MONITOR_START, VM_EV_QEMU_EXITED);
	CHECK_STR_CONTAINS(t, "monitor-start:Booting qemu-exited:Down");
	/* Without: the group Failed, start waiters hear why. */
	f = (struct vm_fsm){.state = VM_NEGOTIATE};
	vm_fsm_step(&f, VM_EV_QEMU_EXITED, &(struct vm_facts){0}, &st);
	CHECK(st.next == VM_DOWN && st.n == 5 && st.actions[1] == VM_ACT_START_DONE_ERROR &&
	      st.actions[2] == VM_ACT_NOTE_FAILED);
	/* Dead during boot after a restart: the restart's boot failed, the group Failed. */
	f = (struct vm_fsm){.state = VM_BOOTING};
	vm_fsm_step(&f, VM_EV_BOOT_FAILED, &(struct vm_facts){0}, &st);
	CHECK(st.next == VM_DOWN && st.actions[2] == VM_ACT_NOTE_FAILED);
	/* A late HELLO or answer of the dead VM changes nothing. */
	RUN(&f, NOFACTS, t, VM_EV_HELLO, VM_EV_GUEST_READY, VM_EV_QEMU_EXITED, VM_EV_AGENT_LOST);
	CHECK_STR_CONTAINS(t, "hello:refused guest-ready:refused qemu-exited:refused agent-lost:refused");
	CHECK(f.state == VM_DOWN);
}

static void test_restart(void)
{
	struct vm_fsm f = {.state = VM_READY};
	char t[256];
	RUN(&f, NOFACTS, t, VM_EV_RESTART, VM_EV_QEMU_EXITED);
	CHECK_STR_CONTAINS(t, "restart:Restarting qemu-exited:Down start:Booting");
	CHECK(!f.user_stop); /* the new VM's group is Pending, not Stopped */
	/* Restart during boot: QEMU ended at once, then the new boot. */
	f = (struct vm_fsm){.state = VM_BOOTING};
	RUN(&f, NOFACTS, t, VM_EV_RESTART);
	CHECK_STR_CONTAINS(t, "restart:Restarting qemu-exited:Down start:Booting");
	/* The agent breaks during the restart's shutdown: QEMU is ended, the restart goes on. */
	f = (struct vm_fsm){.state = VM_READY};
	RUN(&f, NOFACTS, t, VM_EV_RESTART, VM_EV_AGENT_LOST);
	CHECK_STR_CONTAINS(t, "agent-lost:Restarting qemu-exited:Down start:Booting");
	/* Restart of a group that is down is a start. */
	f = (struct vm_fsm){.state = VM_DOWN, .user_stop = true};
	RUN(&f, NOFACTS, t, VM_EV_RESTART);
	CHECK(f.state == VM_BOOTING && !f.user_stop);
}

/* Stop while a restart is under way (the old VM's shutdown, or a
 * container's back-off): the later request wins, the VM stays down. */
static void test_stop_during_restart(void)
{
	struct vm_fsm f = {.state = VM_READY};
	char t[256];
	RUN(&f, NOFACTS, t, VM_EV_RESTART, VM_EV_STOP, VM_EV_QEMU_EXITED);
	CHECK_STR_CONTAINS(t, "restart:Restarting stop:Stopping qemu-exited:Down");
	CHECK(f.state == VM_DOWN && f.user_stop);
	/* The shutdown timed out meanwhile: forced down, still no boot. */
	f = (struct vm_fsm){.state = VM_RESTARTING, .user_stop = true};
	RUN(&f, NOFACTS, t, VM_EV_STOP, VM_EV_STOP_TIMEOUT);
	CHECK_STR_CONTAINS(t, "stop:Stopping stop-timeout:Stopping qemu-exited:Down");
	CHECK(f.state == VM_DOWN);
	/* Containers in back-off: a stop cancels their restarts first. */
	struct vm_step st;
	f = (struct vm_fsm){.state = VM_READY};
	vm_fsm_step(&f, VM_EV_STOP, &(struct vm_facts){0}, &st);
	CHECK(st.n > 0 && st.actions[0] == VM_ACT_CANCEL_RESTARTS && f.user_stop);
	/* Delete wins over a pending restart and over a later restart. */
	f = (struct vm_fsm){.state = VM_READY};
	RUN(&f, NOFACTS, t, VM_EV_RESTART, VM_EV_DELETE, VM_EV_RESTART, VM_EV_QEMU_EXITED);
	CHECK_STR_CONTAINS(t, "restart:Restarting delete:Exiting restart:Exiting qemu-exited:Down");
	CHECK(f.state == VM_DOWN);
	/* A restart asked during a stop boots once the VM is down. */
	f = (struct vm_fsm){.state = VM_STOPPING, .user_stop = true};
	RUN(&f, NOFACTS, t, VM_EV_RESTART, VM_EV_QEMU_EXITED);
	CHECK_STR_CONTAINS(t, "restart:Restarting qemu-exited:Down start:Booting");
}

static void test_stop_and_delete(void)
{
	struct vm_fsm f = {.state = VM_NEGOTIATE};
	char t[256];
	RUN(&f, NOFACTS, t, VM_EV_STOP);
	CHECK_STR_CONTAINS(t, "stop:Stopping qemu-exited:Down");
	CHECK(f.user_stop);
	/* A second stop of a group that is down only answers. */
	RUN(&f, NOFACTS, t, VM_EV_STOP);
	CHECK_STR_CONTAINS(t, "stop:Down");
	/* Delete during boot: down, then exit. */
	struct vm_step st;
	f = (struct vm_fsm){.state = VM_STOPPING};
	vm_fsm_step(&f, VM_EV_DELETE, &(struct vm_facts){0}, &st);
	vm_fsm_step(&f, VM_EV_QEMU_EXITED, &(struct vm_facts){0}, &st);
	CHECK(f.state == VM_DOWN && st.n > 0 && st.actions[st.n - 1] == VM_ACT_EXIT);
	/* The group that ended by itself and is then stopped is Stopped. */
	f = (struct vm_fsm){.state = VM_READY};
	RUN(&f, NOFACTS, t, VM_EV_ALL_ENDED, VM_EV_STOP, VM_EV_QEMU_EXITED);
	CHECK(f.state == VM_DOWN && f.user_stop);
}

int main(void)
{
	RUN_TEST(test_every_transition);
	RUN_TEST(test_facts);
	RUN_TEST(test_create_to_end);
	RUN_TEST(test_monitor_restart);
	RUN_TEST(test_vm_death_during_boot);
	RUN_TEST(test_restart);
	RUN_TEST(test_stop_during_restart);
	RUN_TEST(test_stop_and_delete);
	TEST_EXIT();
}
