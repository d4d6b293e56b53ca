#!/usr/bin/env bash
# Hello world end to end: spec -> VM -> agent -> runtime -> output; the guest
# kernel (not the host's) answers uname; exit codes propagate; logs outlive
# the group; show reports the ACI instance view.
. "$(dirname "$0")/lib.sh"

case_ "hello world: output on its own streams, from the guest image's kernel with its filesystems"
write_spec "$WORK/hello.yaml" hello Never 'hello|1|0.5|echo "hello from $(uname -r)"; echo to-stderr >&2; echo "filesystems: $(awk "{print \$NF}" /proc/filesystems | tr "\n" " ")"'
out=$(capsid run -f "$WORK/hello.yaml" 2>"$WORK/err")
echo "$out"
grep -q '^hello | hello from ' <<<"$out" || fail "no hello line in: $out"
guest_kernel=$(sed -n 's/^hello | hello from //p' <<<"$out")
[ "$guest_kernel" != "$(uname -r)" ] || fail "uname -r shows the host kernel ($guest_kernel)"
# The kernel is the one the guest image says it boots (minimal or cloud).
GUEST_DIR=${CAPSID_GUEST_DIR:-$BUILD_DIR/share/capsid/guest}
want_kernel=$(json_get 'd["kernel"]' <"$GUEST_DIR/manifest.json")
[ -n "$want_kernel" ] || fail "$GUEST_DIR/manifest.json names no kernel"
[ "$guest_kernel" = "$want_kernel" ] || fail "guest kernel $guest_kernel, the guest image says $want_kernel"
# The filesystems guests mount: image disks, container roots, persistent
# disks, and SMB volumes when the kernel has cifs built in (the cloud
# kernel loads it on demand, so it is not listed before a volume).
fs=" $(sed -n 's/^hello | filesystems: //p' <<<"$out") "
want_fs="erofs overlay tmpfs ext4"
[ "$(json_get 'len(d["modulesOnDemand"]["cifs"])' <"$GUEST_DIR/manifest.json")" != 0 ] || want_fs+=" cifs"
for f in $want_fs; do
	[[ "$fs" == *" $f "* ]] || fail "guest kernel lacks $f (has:$fs)"
done
grep -q '^hello | to-stderr$' "$WORK/err" || fail "stderr line not on stderr: $(cat "$WORK/err")"
grep -q 'to-stderr' <<<"$out" && fail "stderr leaked into stdout"

case_ "a 2-vCPU guest keeps time on each vCPU's local APIC timer"
# Under TCG the monitor gives the minimal kernel the timer's rate
# (lapic_timer_khz: no calibration, no PIT); under KVM it is the
# TSC-deadline timer. integration.kernel counts an idle guest's wake-ups.
write_spec "$WORK/timer.yaml" timer Never 'timer|2|0.5|cat /proc/cmdline; cat /sys/devices/system/cpu/online; cat /sys/devices/system/clockevents/clockevent*/current_device'
out=$(capsid run -f "$WORK/timer.yaml" 2>"$WORK/err") || fail "timer group: $(cat "$WORK/err")"
echo "$out"
grep -qx 'timer | 0-1' <<<"$out" || fail "the guest does not run 2 vCPUs: $out"
if grep -q 'accel tcg' "$ROOT/groups/timer/monitor.log" && [ "$(json_get 'd.get("apicTimerRate")' <"$GUEST_DIR/manifest.json")" = True ]; then
	grep -q '^timer | .* lapic_timer_khz=1000000 ' <<<"$out" || fail "the guest kernel was not given the APIC timer's rate: $out"
fi
[ "$(grep -cE '^timer \| lapic(-deadline)?$' <<<"$out")" = 2 ] || fail "clock events are not both the local APIC timer: $out"

case_ "an ended group is Succeeded with exit code 0"
state_is hello Succeeded || fail "state is $(group_state hello), want Succeeded"
code=$(capsid show hello | json_get 'd["properties"]["containers"][0]["properties"]["instanceView"]["currentState"]["exitCode"]')
[ "$code" = 0 ] || fail "exitCode $code"

case_ "logs after the group ended: the VM is gone, the monitor idles"
logs=$(capsid logs hello 2>/dev/null)
grep -q "^hello from $guest_kernel\$" <<<"$logs" || fail "logs: $logs"
capsid logs hello 2>&1 >/dev/null | grep -q '^to-stderr$' || fail "logs: stderr line missing"
! qemu_of_root | grep -q . || fail "the VM of an ended group is still running"
# A group on QEMU never loads libvirt (vmm/libvirt_dl.h): its monitor maps none of it.
mpid=$(monitor_pid hello)
[ -r "/proc/$mpid/maps" ] || fail "hello's monitor ($mpid) is not running"
! grep -q 'libvirt' "/proc/$mpid/maps" || fail "the monitor of a QEMU group maps libvirt"

case_ "run's exit code is the container's; the group is Failed"
write_spec "$WORK/three.yaml" three Never 'three|1|0.25|echo about to fail; exit 3'
set +e
capsid run -f "$WORK/three.yaml" >/dev/null 2>&1
rc=$?
set -e
[ $rc = 3 ] || fail "run exit code $rc, want 3"
state_is three Failed || fail "state $(group_state three), want Failed"
capsid show three -o yaml | grep -q 'exitCode: 3' || fail "yaml view lacks exitCode 3"
echo PASS
