#!/usr/bin/env bash
# Warm start's ready clone (CAPSID_WARM_STANDBY=1 with CAPSID_WARM_START=1):
# a warm group leaves a restored clone of its machine ready; the next group
# of that machine takes it (its monitor is the exec'd standby, no restore),
# gets its own identity, image, MAC and network and behaves like any group;
# a group whose template differs does not take it (the clone is ended and
# the group starts as before); a killed standby leaves nothing behind; one
# whose lock file is removed (as with its state root) ends on its own;
# `standby stop` ends them all.
. "$(dirname "$0")/lib.sh"
export CAPSID_WARM_START=1 CAPSID_WARM_STANDBY=1

ready_count() { "$CAPSID_BIN" standby list | grep -c ' ready$' || true; }
standby_pid() { "$CAPSID_BIN" standby list | awk -v m="$1" '$1 == m && $3 == "ready" {print $2}'; }
# has_standby MACHINE [NOT_PID]: a ready clone of MACHINE (other than NOT_PID) is up.
has_standby() {
	local p
	p=$(standby_pid "$1")
	[ -n "$p" ] && [ "$p" != "${2:-}" ]
}
MACHINE=builtin-1-384.0 # runtime, vCPUs, MiB (0.25 GB + 128 MiB overhead), slot

case_ "a warm group leaves a ready clone of its machine, its standby tap off any bridge"
write_web_spec "$WORK/web.yaml"
capsid create -f "$WORK/web.yaml" >/dev/null
glog web | grep -q 'warm start: restored from template' || fail "the first group did not restore: $(glog web)"
wait_for "a ready clone of $MACHINE" has_standby $MACHINE
spid=$(standby_pid $MACHINE)
sqemu=$(pgrep -P "$spid" -f qemu-system) || fail "the ready clone has no QEMU"
ip link show "capsid-s$spid" >/dev/null || fail "the ready clone has no standby tap"
ip -o link show "capsid-s$spid" | grep -q master && fail "the standby tap is on a bridge"
web_ip=$(capsid show web | json_get 'd["capsid"]["network"]["privateIp"]')
web_boot=$(capsid exec web -- cat /proc/sys/kernel/random/boot_id)

case_ "the next group of the machine takes the ready clone, with its own identity, image, MAC and network"
# The next group of the machine takes it. Let the clone's clock fall behind
# first: a clone with the right time shows that IDENTITY set it.
sleep 4
write_spec "$WORK/probe.yaml" probe Never 'probe|1|0.25|echo "host=$(hostname)"; echo "epoch=$(date +%s)"; echo "boot=$(cat /proc/sys/kernel/random/boot_id)"; echo "mac=$(cat /sys/class/net/eth0/address)"; echo "busybox=$(ls /bin/busybox)"; printf "GET / HTTP/1.0\r\n\r\n" | nc -w 3 '"$web_ip"' 8080 | tail -n 1; sleep 1000000'
capsid create -f "$WORK/probe.yaml" >/dev/null
host_epoch=$(date +%s)
glog probe | grep -q 'warm start: adopted the ready clone' || fail "probe did not take the ready clone: $(glog probe)"
glog probe | grep -q 'restored from template' && fail "probe restored instead of taking the ready clone"
[ "$(cat "$ROOT/groups/probe/monitor.pid")" = "$spid" ] || fail "probe's monitor is not the standby it claimed"
[ "$(qemu_pid probe)" = "$sqemu" ] || fail "probe's VM is not the ready clone's QEMU"
wait_for "probe output" sh -c "\"$CAPSID_BIN\" logs probe | grep -q web-says-hi"
out=$(capsid logs probe)
echo "$out"
grep -qx 'host=probe' <<<"$out" || fail "hostname is not the group's: $out"
grep -qx 'busybox=/bin/busybox' <<<"$out" || fail "the group's image is not the root: $out"
guest_epoch=$(sed -n 's/^epoch=//p' <<<"$out")
skew=$((host_epoch - guest_epoch))
[ ${skew#-} -le 3 ] || fail "the clone's clock is ${skew}s off the host's"
[ "$(sed -n 's/^boot=//p' <<<"$out")" != "$web_boot" ] || fail "two clones share boot_id"
want_mac=$(capsid show probe | json_get 'd["capsid"]["network"]["mac"]')
grep -qx "mac=$want_mac" <<<"$out" || fail "the NIC has not the group's MAC $want_mac: $out"
grep -qx 'web-says-hi' <<<"$out" || fail "the clone cannot reach another group: $out"
tap=$(capsid show probe | json_get 'd["capsid"]["network"]["tap"]')
ip -o link show "$tap" | grep -q 'master capsid-br' || fail "the group's tap $tap is not on its bridge"
! ip link show "capsid-s$spid" >/dev/null 2>&1 || fail "the standby tap is still there after the group took it"
[ "$(capsid exec probe -- hostname)" = probe ] || fail "exec into the clone"
# Its QEMU's stdout and stderr: a pipe whose read end only probe's monitor
# holds (drained into monitor.log under the cap), not the standby's log.
qout=$(readlink "/proc/$sqemu/fd/2")
[[ "$qout" == pipe:* ]] || fail "the adopted QEMU writes to $qout, not a pipe"
[ "$(readlink "/proc/$sqemu/fd/1")" = "$qout" ] || fail "the adopted QEMU's stdout and stderr differ"
ls -l "/proc/$spid/fd/" | grep -qF "$qout" || fail "probe's monitor does not hold its QEMU's output pipe"
[ -z "$(ls "$ROOT/standby/$MACHINE" | grep -v '^lock$\|^standby.log$\|^standby.pid$\|claim.sock\|\.[0-9]*\.\(sock\|log\)$')" ] ||
	fail "unexpected files in the standby directory: $(ls "$ROOT/standby/$MACHINE")"

case_ "the group that took the clone leaves a new one; its stop and start restore from the template"
# The group that took the clone left a new one; stop/start of that group
# restores from the template like any warm group.
wait_for "a new ready clone" has_standby $MACHINE "$spid"
capsid stop probe
capsid start probe
glog probe | grep -q 'warm start: restored from template' || fail "start did not restore: $(glog probe)"
[ "$(capsid exec probe -- hostname)" = probe ] || fail "hostname after start"

case_ "a group of another template does not take the clone: the clone is ended, nothing of it left"
# A different template (another translation cache size) for the same
# machine: the clone is not used, it is ended, the group restores from its
# own template; nothing of the clone is left.
spid=$(standby_pid $MACHINE)
write_spec "$WORK/tb.yaml" tb Never 'tb|1|0.25|hostname'
out=$(CAPSID_TB_SIZE_MIB=13 capsid run -f "$WORK/tb.yaml")
grep -qx 'tb | tb' <<<"$out" || fail "run with another template: $out"
glog tb | grep -q 'not using the ready clone: it is a clone of another template' || fail "no refusal: $(glog tb)"
glog tb | grep -q 'warm start: built template' || fail "tb did not build its own template: $(glog tb)"
! pgrep -P "$spid" -f qemu-system >/dev/null || fail "the refused clone's QEMU still runs"
capsid delete tb

case_ "a standby killed outright takes its QEMU with it; the next one removes its tap"
wait_for "a ready clone after tb" has_standby $MACHINE
spid=$(standby_pid $MACHINE)
kill -9 "$spid"
wait_for "the killed clone's QEMU to go" sh -c "! pgrep -f \"[q]emu-system.*standby/$MACHINE/agent.$spid.sock\""
write_spec "$WORK/p3.yaml" p3 Never 'p3|1|0.25|echo p3-up; sleep 1000000'
capsid create -f "$WORK/p3.yaml" >/dev/null
wait_for "a ready clone after the kill" has_standby $MACHINE "$spid"
! ip link show "capsid-s$spid" >/dev/null 2>&1 || fail "the killed standby's tap is left"

case_ "system status lists the ready clone; with its lock file removed it ends, with its QEMU"
# `system status` lists the ready clone. Its lock file removed from under it
# (as with its state root): the clone notices and ends, with its QEMU.
spid=$(standby_pid $MACHINE)
capsid system status -o json | json_get '[(s["machine"], s["pid"], s["state"]) for s in d["standbys"]]' |
	grep -q "('$MACHINE', $spid, 'ready')" || fail "system status: $(capsid system status)"
rm -rf "$ROOT/standby/$MACHINE"
wait_for "the ready clone to end once its directory is removed" sh -c "! pgrep -f -- '[-]-root $ROOT __standby'"
wait_for "its QEMU to go" sh -c "! pgrep -f \"[q]emu-system.*standby/$MACHINE/agent.$spid.sock\""

case_ "a pool of ready clones per machine: three creates at once take one each, and the pool fills again"
out=$(CAPSID_WARM_STANDBY_POOL=0 capsid list 2>&1) && fail "CAPSID_WARM_STANDBY_POOL=0 was accepted"
grep -q 'CAPSID_WARM_STANDBY_POOL=0: must be 1-64 ready clones per machine' <<<"$out" || fail "pool 0: $out"
out=$(CAPSID_WARM_STANDBY_POOL=65 capsid list 2>&1) && fail "CAPSID_WARM_STANDBY_POOL=65 was accepted"
grep -q 'CAPSID_WARM_STANDBY_POOL=65' <<<"$out" || fail "pool 65: $out"
export CAPSID_WARM_STANDBY_POOL=3
write_spec "$WORK/pa.yaml" pa Never 'pa|1|0.25|echo pa-up; sleep 1000000'
capsid create -f "$WORK/pa.yaml" >/dev/null
glog pa | grep -q 'warm start: restored from template' || fail "pa did not restore: $(glog pa)"
wait_for "three ready clones" sh -c "[ \"\$(\"$CAPSID_BIN\" standby list | grep -c ' ready\$')\" = 3 ]"
capsid standby list | grep -q "^builtin-1-384.2 " || fail "no clone in slot 2: $(capsid standby list)"
pids=()
for g in pb1 pb2 pb3; do
	write_spec "$WORK/$g.yaml" $g Never "$g|1|0.25|echo $g-up; sleep 1000000"
	capsid create -f "$WORK/$g.yaml" >/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a create of the burst failed"; done
for g in pb1 pb2 pb3; do
	glog $g | grep -q 'warm start: adopted the ready clone' || fail "$g did not take a ready clone: $(glog $g)"
	[ "$(capsid exec $g -- hostname)" = $g ] || fail "exec into $g"
done
wait_for "the pool to fill again" sh -c "[ \"\$(\"$CAPSID_BIN\" standby list | grep -c ' ready\$')\" = 3 ]"
[ "$(pgrep -fc -- "[-]-root $ROOT __standby")" = 3 ] || fail "standby processes: $(pgrep -fa -- "--root $ROOT __standby")"
unset CAPSID_WARM_STANDBY_POOL
# Their QEMUs were started as ready clones: their command lines name the
# standby directories, which the check below looks for.
for g in pa pb1 pb2 pb3; do capsid delete $g; done

# Off by default: without CAPSID_WARM_STANDBY no clone is kept.
case_ "standby stop ends every ready clone and its tap"
capsid standby stop
[ "$(ready_count)" = 0 ] || fail "standby stop left ready clones: $(capsid standby list)"
! ip -o link show | grep -q 'capsid-s[0-9]' || fail "standby taps left: $(ip -o link show | grep capsid-s)"
case_ "without CAPSID_WARM_STANDBY no clone is kept"
unset CAPSID_WARM_STANDBY
write_spec "$WORK/q.yaml" q Never 'q|1|0.25|echo q-up; sleep 1000000'
capsid create -f "$WORK/q.yaml" >/dev/null
sleep 3
[ "$(ready_count)" = 0 ] || fail "a ready clone without CAPSID_WARM_STANDBY"
[ -z "$(pgrep -f "[q]emu-system.*$ROOT/standby/")" ] ||
	fail "a standby QEMU without CAPSID_WARM_STANDBY: $(pgrep -fa "[q]emu-system.*$ROOT/standby/" | cut -c1-300)"
for g in web probe p3 q; do capsid delete $g; done
[ -z "$(qemu_of_root)" ] || fail "QEMU left after delete: $(qemu_of_root)"
echo PASS
