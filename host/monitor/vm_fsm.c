/* The monitor's VM lifecycle: states, events, one transition function
 * (vm_fsm.h). Pure: no I/O, no clock, no allocation. */
#include "vm_fsm.h"

static void act(struct vm_step *out, enum vm_action a)
{
	if (out->n < VM_STEP_MAX_ACTIONS)
		out->actions[out->n++] = a;
}

bool vm_state_has_vm(enum vm_state s)
{
	return s != VM_DOWN;
}

bool vm_state_stopping(enum vm_state s)
{
	return s == VM_STOPPING || s == VM_RESTARTING || s == VM_EXITING;
}

void vm_fsm_init(struct vm_fsm *f)
{
	*f = (struct vm_fsm){.state = VM_DOWN};
}

/* Down: a boot, with the reason it was asked for gone (a stop asked for
 * earlier no longer makes the group Stopped). */
static void to_boot(struct vm_fsm *f, struct vm_step *out)
{
	f->user_stop = false;
	out->next = VM_BOOTING;
	act(out, VM_ACT_BOOT);
}

/* QEMU is gone after a stop (from_state says what comes next): the
 * containers were stopped, the group is Stopped (asked for) or keeps the
 * phase its containers gave it, and waiting clients hear of it. */
static void down_after_stop(enum vm_state from_state, struct vm_step *out)
{
	act(out, VM_ACT_TEARDOWN_STOPPED);
	act(out, VM_ACT_NOTE_STOPPED);
	/* A group that ended before every container started: whoever waits
	 * for the start hears "done" now (show has the failure). A restart's
	 * waiters hear it once the new VM's containers started. */
	if (from_state != VM_RESTARTING) {
		act(out, VM_ACT_REPORT_READY_OK);
		act(out, VM_ACT_START_DONE_OK);
	}
	act(out, VM_ACT_UPDATE_PHASE);
	act(out, VM_ACT_SAVE_STATE);
	act(out, VM_ACT_BROADCAST_END);
	act(out, VM_ACT_STOP_DONE);
	out->next = VM_DOWN;
	if (from_state == VM_RESTARTING)
		out->follow = VM_EV_START; /* down first (the group Stopped), then the boot */
	else if (from_state == VM_EXITING)
		act(out, VM_ACT_EXIT);
}

/* QEMU is gone, nobody asked for it (it died, the agent broke, the boot
 * timed out or failed): the group Failed. A create that still waits gets
 * the reason and undoes the group; the monitor exits. */
static void down_failed(const struct vm_facts *facts, struct vm_step *out)
{
	act(out, VM_ACT_TEARDOWN_KILLED);
	if (facts->creating) {
		act(out, VM_ACT_REPORT_READY_ERROR);
		act(out, VM_ACT_EXIT);
	} else {
		act(out, VM_ACT_START_DONE_ERROR);
		act(out, VM_ACT_NOTE_FAILED);
		act(out, VM_ACT_BROADCAST_END);
		act(out, VM_ACT_STOP_DONE);
	}
	out->next = VM_DOWN;
}

static enum vm_state stop_target(enum vm_event ev)
{
	return ev == VM_EV_RESTART ? VM_RESTARTING : ev == VM_EV_DELETE ? VM_EXITING : VM_STOPPING;
}

/* A stop of a VM that is up or coming up. A ready agent stops the
 * containers and powers off; before that QEMU is ended at once. ev is
 * VM_EV_ALL_ENDED (the group ended by itself) or a client's request. */
static void begin_stop(struct vm_fsm *f, enum vm_event ev, struct vm_step *out)
{
	bool asked = ev != VM_EV_ALL_ENDED;
	enum vm_state target = stop_target(ev);
	if (asked)
		f->user_stop = true;
	act(out, VM_ACT_CANCEL_RESTARTS);
	if (asked)
		act(out, VM_ACT_KILLING_EVENTS);
	act(out, VM_ACT_UPDATE_PHASE);
	act(out, f->state == VM_READY ? VM_ACT_SHUTDOWN : VM_ACT_TERMINATE);
	out->next = target;
	if (f->state != VM_READY)
		out->follow = VM_EV_QEMU_EXITED; /* ended at once: down as after its exit */
}

static void step_down(struct vm_fsm *f, enum vm_event ev, struct vm_step *out)
{
	switch (ev) {
	case VM_EV_MONITOR_START:
	case VM_EV_START:
	case VM_EV_RESTART: /* nothing to stop: a start */
		to_boot(f, out);
		return;
	case VM_EV_STOP:
	case VM_EV_DELETE:
		f->user_stop = true;
		act(out, VM_ACT_CANCEL_RESTARTS);
		act(out, VM_ACT_UPDATE_PHASE);
		act(out, VM_ACT_STOP_DONE);
		if (ev == VM_EV_DELETE)
			act(out, VM_ACT_EXIT);
		return;
	default:
		out->refused = true;
		return;
	}
}

/* BOOTING, NEGOTIATE and READY: a VM that is up or coming up. */
static void step_up(struct vm_fsm *f, enum vm_event ev, const struct vm_facts *facts, struct vm_step *out)
{
	enum vm_state s = f->state;
	switch (ev) {
	case VM_EV_RESTART:
	case VM_EV_STOP:
	case VM_EV_DELETE:
		begin_stop(f, ev, out);
		return;
	case VM_EV_ALL_ENDED:
		if (s != VM_READY)
			break;
		begin_stop(f, ev, out);
		return;
	case VM_EV_BOOT_FAILED:
		if (s != VM_BOOTING)
			break;
		if (facts->caller_waits) {
			out->next = VM_DOWN; /* the request that asked for it reports the error */
			return;
		}
		down_failed(facts, out);
		return;
	case VM_EV_HELLO:
		if (s != VM_BOOTING)
			break;
		out->next = VM_NEGOTIATE;
		return;
	case VM_EV_GUEST_READY:
		if (s != VM_NEGOTIATE)
			break;
		out->next = VM_READY;
		act(out, VM_ACT_RELEASE_BOOT_FILES);
		act(out, VM_ACT_START_CONTAINERS);
		act(out, VM_ACT_UPDATE_PHASE);
		return;
	case VM_EV_QEMU_EXITED:
		down_failed(facts, out);
		return;
	case VM_EV_AGENT_LOST:
		act(out, VM_ACT_TERMINATE);
		down_failed(facts, out);
		return;
	case VM_EV_BOOT_TIMEOUT:
		if (s == VM_READY)
			break;
		act(out, VM_ACT_TERMINATE);
		down_failed(facts, out);
		return;
	default:
		break;
	}
	out->refused = true; /* MONITOR_START and START: already running */
}

/* STOPPING, RESTARTING, EXITING: waiting for QEMU to exit. A later
 * request decides what follows the stop: delete wins over everything,
 * stop cancels a pending restart, restart adds a boot to a stop. */
static void step_stopping(struct vm_fsm *f, enum vm_event ev, struct vm_step *out)
{
	enum vm_state s = f->state;
	switch (ev) {
	case VM_EV_RESTART:
	case VM_EV_STOP:
	case VM_EV_DELETE:
		f->user_stop = true;
		out->next = s == VM_EXITING ? VM_EXITING : stop_target(ev);
		act(out, VM_ACT_CANCEL_RESTARTS);
		return;
	case VM_EV_QEMU_EXITED:
		down_after_stop(s, out);
		return;
	case VM_EV_AGENT_LOST:
	case VM_EV_STOP_TIMEOUT:
		act(out, VM_ACT_TERMINATE);
		out->follow = VM_EV_QEMU_EXITED;
		return;
	default:
		out->refused = true;
		return;
	}
}

void vm_fsm_step(struct vm_fsm *f, enum vm_event ev, const struct vm_facts *facts, struct vm_step *out)
{
	*out = (struct vm_step){.next = f->state, .follow = VM_EVENT_COUNT};
	struct vm_fsm before = *f;
	switch (f->state) {
	case VM_DOWN:
		step_down(f, ev, out);
		break;
	case VM_BOOTING:
	case VM_NEGOTIATE:
	case VM_READY:
		step_up(f, ev, facts, out);
		break;
	case VM_STOPPING:
	case VM_RESTARTING:
	case VM_EXITING:
		step_stopping(f, ev, out);
		break;
	default:
		out->refused = true;
		break;
	}
	if (out->refused) {
		*f = before;
		out->next = f->state;
		out->n = 0;
		out->follow = VM_EVENT_COUNT;
		return;
	}
	f->state = out->next;
}

const char *vm_state_name(enum vm_state s)
{
	static const char *const names[VM_STATE_COUNT] = {
	    [VM_DOWN] = "Down",	      [VM_BOOTING] = "Booting",	  [VM_NEGOTIATE] = "Negotiate",
	    [VM_READY] = "Ready",     [VM_STOPPING] = "Stopping", [VM_RESTARTING] = "Restarting",
	    [VM_EXITING] = "Exiting",
	};
	return (unsigned)s < VM_STATE_COUNT ? names[s] : "?";
}

const char *vm_event_name(enum vm_event e)
{
	static const char *const names[VM_EVENT_COUNT] = {
	    [VM_EV_MONITOR_START] = "monitor-start",
	    [VM_EV_START] = "start",
	    [VM_EV_RESTART] = "restart",
	    [VM_EV_STOP] = "stop",
	    [VM_EV_DELETE] = "delete",
	    [VM_EV_BOOT_FAILED] = "boot-failed",
	    [VM_EV_HELLO] = "hello",
	    [VM_EV_GUEST_READY] = "guest-ready",
	    [VM_EV_ALL_ENDED] = "all-ended",
	    [VM_EV_QEMU_EXITED] = "qemu-exited",
	    [VM_EV_AGENT_LOST] = "agent-lost",
	    [VM_EV_BOOT_TIMEOUT] = "boot-timeout",
	    [VM_EV_STOP_TIMEOUT] = "stop-timeout",
	};
	return (unsigned)e < VM_EVENT_COUNT ? names[e] : "?";
}

const char *vm_action_name(enum vm_action a)
{
	static const char *const names[VM_ACTION_COUNT] = {
	    [VM_ACT_BOOT] = "boot",
	    [VM_ACT_CANCEL_RESTARTS] = "cancel-restarts",
	    [VM_ACT_KILLING_EVENTS] = "killing-events",
	    [VM_ACT_SHUTDOWN] = "shutdown",
	    [VM_ACT_TERMINATE] = "terminate",
	    [VM_ACT_START_CONTAINERS] = "start-containers",
	    [VM_ACT_RELEASE_BOOT_FILES] = "release-boot-files",
	    [VM_ACT_TEARDOWN_STOPPED] = "teardown-stopped",
	    [VM_ACT_TEARDOWN_KILLED] = "teardown-killed",
	    [VM_ACT_NOTE_STOPPED] = "note-stopped",
	    [VM_ACT_NOTE_FAILED] = "note-failed",
	    [VM_ACT_REPORT_READY_OK] = "report-ready-ok",
	    [VM_ACT_REPORT_READY_ERROR] = "report-ready-error",
	    [VM_ACT_START_DONE_OK] = "start-done-ok",
	    [VM_ACT_START_DONE_ERROR] = "start-done-error",
	    [VM_ACT_STOP_DONE] = "stop-done",
	    [VM_ACT_UPDATE_PHASE] = "update-phase",
	    [VM_ACT_SAVE_STATE] = "save-state",
	    [VM_ACT_BROADCAST_END] = "broadcast-end",
	    [VM_ACT_EXIT] = "exit",
	};
	return (unsigned)a < VM_ACTION_COUNT ? names[a] : "?";
}
