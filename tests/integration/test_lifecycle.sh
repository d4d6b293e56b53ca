#!/usr/bin/env bash
# create / list / show / stop / start / restart / delete, duplicate names,
# and a delete of a running group that leaves nothing behind.
. "$(dirname "$0")/lib.sh"

# The group boots from a private copy of the guest files: pages of the
# kernel that a QEMU of another test maps too are not reclaimed.
cp -a "${CAPSID_GUEST_DIR:-$BUILD_DIR/share/capsid/guest}" "$WORK/guest"
export CAPSID_GUEST_DIR=$WORK/guest
# Once the guest is up, QEMU's copies of the kernel and the initramfs (kept
# for a reset that -no-reboot makes an exit) go back to the host.
boot_files_released() {
	local qemu
	qemu=$(qemu_of_root)
	[ -n "$qemu" ] && [ "$(mapped_rss_kb "$qemu" "$WORK/guest/vmlinuz")" -lt 512 ]
}

case_ "create prints the name, the group runs and is listed, QEMU gives back the boot files"
write_spec "$WORK/svc.yaml" svc Always 'web|1|0.25|echo started; exec sleep 3600'
capsid create -f "$WORK/svc.yaml" | grep -qx svc || fail "create did not print the name"
wait_for "svc running" sh -c "$CAPSID_BIN show svc | grep -q '\"state\": \"Running\"'"
capsid list | grep -Eq '^svc +Running' || fail "list: $(capsid list)"
wait_for "QEMU's kernel pages released" boot_files_released

case_ "a duplicate name is rejected"
set +e
capsid create -f "$WORK/svc.yaml" 2>"$WORK/e"
rc=$?
set -e
[ $rc = 1 ] && grep -q 'already exists' "$WORK/e" || fail "duplicate name not rejected: $(cat "$WORK/e")"

case_ "stop: Stopped, no QEMU left, a Killing event"
capsid stop svc
state_is svc Stopped || fail "after stop: $(group_state svc)"
! qemu_of_root | grep -q . || fail "stop left QEMU running"
capsid show svc | grep -q '"Killing"' || fail "no Killing event"

case_ "start and restart: running again, every run logged"
capsid start svc
wait_for "svc running again" sh -c "$CAPSID_BIN show svc | grep -q '\"state\": \"Running\"'"
capsid restart svc
wait_for "svc running after restart" sh -c "$CAPSID_BIN show svc | grep -q '\"state\": \"Running\"'"
wait_for "the new QEMU's kernel pages released" boot_files_released
wait_for "three runs logged across stop/start" sh -c "[ \$($CAPSID_BIN logs svc | grep -c '^started\$') -ge 3 ]"

case_ "delete of a running group leaves nothing behind; show then says not found"
monitor_pid=$(cat "$ROOT/groups/svc/monitor.pid")
capsid delete svc
[ ! -e "$ROOT/groups/svc" ] || fail "delete left $ROOT/groups/svc"
# (a zombie waiting for this sandbox's init to reap it has exited)
state=$(ps -o stat= -p "$monitor_pid" 2>/dev/null || true)
[ -z "$state" ] || [[ "$state" == Z* ]] || fail "delete left the monitor running ($state)"
! qemu_of_root | grep -q . || fail "delete left QEMU running"
capsid list | grep -q '^svc ' && fail "deleted group still listed"
set +e
capsid show svc 2>"$WORK/e"
rc=$?
set -e
[ $rc = 1 ] && grep -q 'not found' "$WORK/e" || fail "show of a deleted group: $(cat "$WORK/e")"
echo PASS
