#!/usr/bin/env bash
# Requests that arrive while the VM changes state (the monitor's state
# machine, host/monitor/vm_fsm.c): a stop while a restart's shutdown is
# under way wins (the group stays Stopped, no QEMU boots again), and a stop
# while the VM boots ends it and answers the waiting start. Each request is
# sent once the monitor's log shows the state it is meant for.
. "$(dirname "$0")/lib.sh"

write_spec "$WORK/svc.yaml" svc Always 'web|1|0.25|echo started; exec sleep 3600'
capsid create -f "$WORK/svc.yaml" >/dev/null
wait_for "svc running" sh -c "$CAPSID_BIN show svc | grep -q '\"state\": \"Running\"'"

case_ "stop during a restart's shutdown"
# The container ignores SIGTERM: the shutdown lasts CAPSID_STOP_TIMEOUT_MS.
capsid restart svc &
restart_pid=$!
wait_for "the restart under way" sh -c "grep -q 'vm Ready -> Restarting' '$ROOT/groups/svc/monitor.log'"
capsid stop svc >/dev/null || fail "stop during restart failed"
wait "$restart_pid" || fail "the restart's client failed"
state_is svc Stopped || fail "after stop during restart: $(group_state svc)"
! qemu_of_root | grep -q . || fail "a VM runs after the stop that followed the restart"
glog svc | grep -q 'vm Restarting -> Stopping (stop)' || fail "the stop did not cancel the restart: $(glog svc | tail)"
! glog svc | grep -q 'vm Down -> Booting (start)' || fail "the VM booted again after the stop"

case_ "stop while the VM boots"
capsid start svc &
start_pid=$!
wait_for "the boot under way" sh -c "grep -q 'vm Down -> Booting (start)' '$ROOT/groups/svc/monitor.log'"
capsid stop svc >/dev/null || fail "stop during boot failed"
wait "$start_pid" || fail "the start's client failed"
state_is svc Stopped || fail "after stop during boot: $(group_state svc)"
! qemu_of_root | grep -q . || fail "stop during boot left QEMU running"

case_ "start again after both"
capsid start svc
wait_for "svc running again" sh -c "$CAPSID_BIN show svc | grep -q '\"state\": \"Running\"'"
capsid delete svc
[ ! -e "$ROOT/groups/svc" ] || fail "delete left $ROOT/groups/svc"
echo PASS
