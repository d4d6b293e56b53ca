/* The monitor's VM lifecycle as one state machine (docs/ARCHITECTURE.md
 * "Lifecycle and states" has the diagram). Pure: vm_fsm_step() reads the
 * machine, an event and two facts, and returns the next state with the
 * actions the monitor carries out, in order; it does no I/O and keeps no
 * time. The monitor (monitor.c, monitor_vm_event) is the only caller that
 * changes the state; everything else reads it.
 *
 * A step may name a follow-up event, fed right after its actions (QEMU
 * ended at once is down as after its own exit; a restart is a stop, then a
 * start). Two actions can fail, and their failure comes back as an event:
 * VM_ACT_BOOT as VM_EV_BOOT_FAILED, VM_ACT_SHUTDOWN as VM_EV_AGENT_LOST. */
#ifndef CAPSID_VM_FSM_H
#define CAPSID_VM_FSM_H

#include <stdbool.h>
#include <stddef.h>

enum vm_state {
	VM_DOWN,       /* no QEMU: before the first boot, after a stop, after a failure */
	VM_BOOTING,    /* QEMU started (or a ready clone adopted), waiting for HELLO */
	VM_NEGOTIATE,  /* HELLO seen: NEGOTIATE and the guest's setup sent, waiting for VOLUMES' answer */
	VM_READY,      /* the agent runs the containers */
	VM_STOPPING,   /* SHUTDOWN asked, waiting for QEMU to exit; then stay down */
	VM_RESTARTING, /* as VM_STOPPING, then boot again */
	VM_EXITING,    /* as VM_STOPPING, then the monitor exits (delete, SIGTERM) */
	VM_STATE_COUNT
};

enum vm_event {
	VM_EV_MONITOR_START, /* a monitor took the group (create, start after a lost monitor) */
	VM_EV_START,	     /* a client's start */
	VM_EV_RESTART,	     /* a client's restart */
	VM_EV_STOP,	     /* a client's stop */
	VM_EV_DELETE,	     /* a client's delete, or SIGTERM/SIGINT: stop, then exit */
	VM_EV_BOOT_FAILED,   /* VM_ACT_BOOT did not start a VM */
	VM_EV_HELLO,	     /* the agent said HELLO */
	VM_EV_GUEST_READY,   /* the agent accepted the guest's setup (VOLUMES answered) */
	VM_EV_ALL_ENDED,     /* every container terminated and none restarts */
	VM_EV_QEMU_EXITED,   /* QEMU exited by itself (SIGCHLD) */
	VM_EV_AGENT_LOST,    /* the agent channel broke, or SHUTDOWN could not be sent */
	VM_EV_BOOT_TIMEOUT,  /* no ready agent within the boot timeout */
	VM_EV_STOP_TIMEOUT,  /* QEMU still up after the stop's grace */
	VM_EVENT_COUNT
};

enum vm_action {
	VM_ACT_BOOT,		   /* spawn QEMU (or take the ready clone), set the boot deadline */
	VM_ACT_CANCEL_RESTARTS,	   /* no container restarts after its back-off */
	VM_ACT_KILLING_EVENTS,	   /* a "Killing" event per running container (a stop asked for) */
	VM_ACT_SHUTDOWN,	   /* the agent stops the containers, powers off; stop deadline armed */
	VM_ACT_TERMINATE,	   /* end QEMU (QMP quit, then SIGKILL) and reap it */
	VM_ACT_START_CONTAINERS,   /* the agent is ready: log it, create and start every container */
	VM_ACT_RELEASE_BOOT_FILES, /* QEMU's copies of kernel and initramfs to the host, 1 s later */
	VM_ACT_TEARDOWN_STOPPED,   /* QEMU gone: channel, volumes; containers Terminated "Stopped" */
	VM_ACT_TEARDOWN_KILLED,	   /* the same, containers "Killed: the VM exited"; logged */
	VM_ACT_NOTE_STOPPED,	   /* the "Stopped" event, logged */
	VM_ACT_NOTE_FAILED,	   /* the group Failed with the reason: detail, "Failed" event, state saved */
	VM_ACT_REPORT_READY_OK,	   /* the creating CLI (if it still waits) hears "ok" */
	VM_ACT_REPORT_READY_ERROR, /* the creating CLI hears the reason */
	VM_ACT_START_DONE_OK,	   /* clients waiting on start/restart are answered */
	VM_ACT_START_DONE_ERROR,   /* ... with the reason */
	VM_ACT_STOP_DONE,	   /* clients waiting on stop/delete are answered */
	VM_ACT_UPDATE_PHASE,	   /* recompute the group's phase from the VM and the containers */
	VM_ACT_SAVE_STATE,	   /* state.json */
	VM_ACT_BROADCAST_END,	   /* attached clients hear the group ended, if it did */
	VM_ACT_EXIT,		   /* the monitor's loop ends */
	VM_ACTION_COUNT
};

struct vm_fsm {
	enum vm_state state;
	bool user_stop; /* the last stop was asked for: down means group Stopped */
};

/* What the transition depends on besides the machine and the event. */
struct vm_facts {
	bool creating;	   /* the creating CLI still waits for "ok" (ready pipe open) */
	bool caller_waits; /* VM_EV_BOOT_FAILED: the request that asked for the boot gets the error */
};

#define VM_STEP_MAX_ACTIONS 16

struct vm_step {
	enum vm_state next;
	bool refused;	      /* the event does not apply in this state: nothing changes */
	enum vm_event follow; /* fed to the machine right after the actions, VM_EVENT_COUNT: none */
	size_t n;
	enum vm_action actions[VM_STEP_MAX_ACTIONS];
};

void vm_fsm_init(struct vm_fsm *f);
/* Apply ev: f is updated (state, user_stop) and *out says what to do. */
void vm_fsm_step(struct vm_fsm *f, enum vm_event ev, const struct vm_facts *facts, struct vm_step *out);
/* A QEMU is up or coming up (not down). */
bool vm_state_has_vm(enum vm_state s);
/* Waiting for QEMU to exit after a stop (STOPPING, RESTARTING, EXITING). */
bool vm_state_stopping(enum vm_state s);
const char *vm_state_name(enum vm_state s);
const char *vm_event_name(enum vm_event e);
const char *vm_action_name(enum vm_action a);

#endif
