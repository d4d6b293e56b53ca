/* The monitor's side of the VM state machine (vm_fsm.h): events go in
 * through monitor_vm_event, the transition function decides, and this file
 * carries out the actions it names. Nothing else changes the VM's state. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "logfile.h"
#include "monitor.h"
#include "proto.h"
#include "util.h"

#define VM_GONE_UNEXPECTEDLY "the VM exited unexpectedly (see console.log)"
/* Grace for the containers on stop, and for the agent to power off after. */
#define STOP_EXTRA_MS 5000

/* QEMU is gone (exited, or ended by us): its channel, its disks, the
 * containers that ran in it. */
static void teardown(struct monitor *m, bool stopped)
{
	monitor_libvirt_end(m);
	if (m->vm.qemu_pid > 0) {
		vmm_terminate(m->vm.qemu_pid, NULL, 0);
		m->vm.qemu_pid = 0;
	}
	monitor_agent_close(m, NULL);
	monitor_volumes_release(m); /* QEMU is gone: its disks are free */
	monitor_jail_vm_gone(m);
	monitor_usage_end(m);
	for (size_t i = 0; i < m->n_containers; i++) {
		struct mcontainer *c = &m->containers[i];
		if (c->log)
			log_writer_flush(c->log, NULL, NULL);
		if (c->running || (!c->exited && c->view->current.phase != CONTAINER_TERMINATED))
			view_container_transition(c->view, CONTAINER_TERMINATED, 137,
						  stopped ? "Stopped" : "Killed: the VM exited");
		c->running = c->created = false;
		c->exited = true;
		c->restart_at = 0;
		c->stream = 0;
	}
}

static void cancel_restarts(struct monitor *m)
{
	for (size_t i = 0; i < m->n_containers; i++)
		m->containers[i].restart_at = 0;
}

static void killing_events(struct monitor *m)
{
	for (size_t i = 0; i < m->n_containers; i++)
		if (m->containers[i].running)
			monitor_event(m, &m->containers[i], "Killing", "Normal", "stopping container %s",
				      m->containers[i].view->name);
}

/* Ask the agent to stop the containers and power off; QEMU's exit completes the stop. */
static int shutdown_vm(struct monitor *m)
{
	m->vm.deadline = util_now_ms() + m->opts->stop_timeout_ms + STOP_EXTRA_MS;
	struct json_object *body = json_object_new_object();
	json_object_object_add(body, "timeoutMs", json_object_new_int((int)m->opts->stop_timeout_ms));
	struct pending_req req = {.kind = REQ_SHUTDOWN};
	return monitor_agent_request(m, CAPSID_MSG_SHUTDOWN, body, &req);
}

static void note_failed(struct monitor *m, const char *reason)
{
	m->view.phase = GROUP_FAILED;
	snprintf(m->view.detail, sizeof(m->view.detail), "%s", reason);
	monitor_event(m, NULL, "Failed", "Warning", "%s", reason);
	monitor_save_state(m);
}

/* One action, with the reason of the failure being handled. Returns the
 * event its own failure raises (reason then says why, *rc the boot's
 * error), VM_EVENT_COUNT when it did its part. */
static enum vm_event run_action(struct monitor *m, enum vm_action a, char reason[CAPSID_ERROR_MAX],
				struct capsid_error *err, int *rc)
{
	switch (a) {
	case VM_ACT_BOOT:
		*rc = monitor_boot_vm(m, err);
		if (*rc >= 0)
			break;
		snprintf(reason, CAPSID_ERROR_MAX, "%s", err->msg[0] ? err->msg : "the VM did not start");
		return VM_EV_BOOT_FAILED;
	case VM_ACT_CANCEL_RESTARTS:
		cancel_restarts(m);
		break;
	case VM_ACT_KILLING_EVENTS:
		killing_events(m);
		break;
	case VM_ACT_SHUTDOWN:
		if (shutdown_vm(m) < 0) {
			snprintf(reason, CAPSID_ERROR_MAX, "cannot ask the agent to shut down");
			return VM_EV_AGENT_LOST;
		}
		break;
	case VM_ACT_TERMINATE:
		monitor_libvirt_end(m);
		vmm_terminate(m->vm.qemu_pid, m->paths->qmp, 2000);
		m->vm.qemu_pid = 0;
		break;
	case VM_ACT_START_CONTAINERS:
		monitor_log(m, "agent ready");
		monitor_start_all(m); /* init containers first (monitor_init.c) */
		break;
	case VM_ACT_RELEASE_BOOT_FILES:
		monitor_release_boot_files_later(m);
		break;
	case VM_ACT_TEARDOWN_STOPPED:
		teardown(m, true);
		break;
	case VM_ACT_TEARDOWN_KILLED:
		teardown(m, false);
		monitor_log(m, "vm gone: %s", reason);
		break;
	case VM_ACT_NOTE_STOPPED:
		monitor_event(m, NULL, "Stopped", "Normal", "VM stopped");
		monitor_log(m, "vm stopped");
		break;
	case VM_ACT_NOTE_FAILED:
		note_failed(m, reason);
		break;
	case VM_ACT_REPORT_READY_OK:
		monitor_report_ready(m, NULL);
		break;
	case VM_ACT_REPORT_READY_ERROR:
		monitor_report_ready(m, reason); /* the creating CLI removes what was made */
		break;
	case VM_ACT_START_DONE_OK:
		monitor_control_start_done(m, NULL);
		break;
	case VM_ACT_START_DONE_ERROR:
		monitor_control_start_done(m, reason);
		break;
	case VM_ACT_STOP_DONE:
		monitor_control_stop_done(m);
		break;
	case VM_ACT_UPDATE_PHASE:
		monitor_update_phase(m);
		break;
	case VM_ACT_SAVE_STATE:
		monitor_save_state(m);
		break;
	case VM_ACT_BROADCAST_END:
		if (!view_group_phase_active(m->view.phase))
			monitor_control_broadcast_end(m);
		break;
	case VM_ACT_EXIT:
		m->quit = true;
		break;
	case VM_ACTION_COUNT:
		break;
	}
	return VM_EVENT_COUNT;
}

/* ev and what follows from it (follow-up events, failed actions). */
static int dispatch(struct monitor *m, enum vm_event ev, const char *why, struct capsid_error *err)
{
	/* A boot asked by a request: its error goes back to the request. */
	bool caller_waits = ev == VM_EV_MONITOR_START || ev == VM_EV_START || ev == VM_EV_RESTART;
	char reason[CAPSID_ERROR_MAX];
	snprintf(reason, sizeof(reason), "%s", why ? why : VM_GONE_UNEXPECTEDLY);
	int rc = 0;
	for (bool first = true;; first = false) {
		struct vm_facts facts = {.creating = m->ctl.ready_fd >= 0, .caller_waits = caller_waits};
		enum vm_state was = m->vm.fsm.state;
		struct vm_step st;
		vm_fsm_step(&m->vm.fsm, ev, &facts, &st);
		if (st.refused)
			return first ? -EALREADY : rc;
		if (was != st.next)
			monitor_log(m, "vm %s -> %s (%s)", vm_state_name(was), vm_state_name(st.next),
				    vm_event_name(ev));
		enum vm_event next = st.follow;
		for (size_t i = 0; i < st.n; i++) {
			enum vm_event failed = run_action(m, st.actions[i], reason, err, &rc);
			if (failed != VM_EVENT_COUNT) {
				next = failed; /* the rest of the list does not apply */
				break;
			}
		}
		if (next == VM_EVENT_COUNT)
			return caller_waits ? rc : 0;
		ev = next;
	}
}

int monitor_vm_event(struct monitor *m, enum vm_event ev, const char *why, struct capsid_error *err)
{
	struct monitor_vm *v = &m->vm;
	if (v->dispatching) {
		/* Raised by an action (a phase update, a failed send): after it. */
		if (v->n_queued == ARRAY_SIZE(v->queue)) {
			monitor_log(m, "vm: event %s dropped: queue full", vm_event_name(ev));
			return 0;
		}
		v->queue[v->n_queued].ev = ev;
		v->queue[v->n_queued].has_why = why != NULL;
		snprintf(v->queue[v->n_queued].why, sizeof(v->queue[0].why), "%s", why ? why : "");
		v->n_queued++;
		return 0;
	}
	struct capsid_error local = {0};
	if (!err)
		err = &local;
	v->dispatching = true;
	int rc = dispatch(m, ev, why, err);
	for (size_t i = 0; i < v->n_queued; i++) {
		struct capsid_error qerr = {0};
		dispatch(m, v->queue[i].ev, v->queue[i].has_why ? v->queue[i].why : NULL, &qerr);
	}
	v->n_queued = 0;
	v->dispatching = false;
	return rc;
}
