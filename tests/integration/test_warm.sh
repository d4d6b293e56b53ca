#!/usr/bin/env bash
# Warm start by VM templating (CAPSID_WARM_START=1): the first group builds
# the template and both groups start as clones of it; a clone gets a fresh
# identity (hostname, clock, entropy), its own MAC and network, and behaves
# like a cold group (exec, stop, start, delete); nothing of QEMU is left.
# Without the variable nothing is templated.
. "$(dirname "$0")/lib.sh"
export CAPSID_WARM_START=1

case_ "the first group builds the template and starts as its clone"
# A web server the clone reaches over the group network, by address.
write_web_spec "$WORK/web.yaml"
capsid create -f "$WORK/web.yaml" >/dev/null
glog web | grep -q 'warm start: built template' || fail "the first group built no template: $(glog web)"
glog web | grep -q 'warm start: restored from template' || fail "the first group did not restore: $(glog web)"
tdir=$(ls -d "$ROOT"/templates/*/)
for f in ram state placeholder meta.json; do [ -e "$tdir/$f" ] || fail "template lacks $f"; done
web_ip=$(capsid show web | json_get 'd["capsid"]["network"]["privateIp"]')

case_ "a second group is a clone with its own hostname, clock and MAC that reaches another group"
# The second group is a clone of the same template, not a new build. The
# template's clock stopped at its save: let it fall behind first, so a clone
# with the right time shows that IDENTITY set it.
sleep 6
write_spec "$WORK/probe.yaml" probe Never 'probe|1|0.25|echo "host=$(hostname)"; echo "etc=$(cat /etc/hostname)"; echo "epoch=$(date +%s)"; echo "boot=$(cat /proc/sys/kernel/random/boot_id)"; echo "rnd=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n")"; echo "mac=$(cat /sys/class/net/eth0/address)"; printf "GET / HTTP/1.0\r\n\r\n" | nc -w 3 '"$web_ip"' 8080 | tail -n 1; sleep 1000000'
capsid create -f "$WORK/probe.yaml" >/dev/null
host_epoch=$(date +%s)
glog probe | grep -q 'warm start: restored from template' || fail "the second group was not restored: $(glog probe)"
glog probe | grep -q 'warm start: built template' && fail "the second group built a template again"
wait_for "probe output" sh -c "\"$CAPSID_BIN\" logs probe | grep -q web-says-hi"
out=$(capsid logs probe)
echo "$out"
grep -qx 'host=probe' <<<"$out" || fail "hostname is not the group's: $out"
grep -qx 'etc=probe' <<<"$out" || fail "/etc/hostname is not the group's: $out"
guest_epoch=$(sed -n 's/^epoch=//p' <<<"$out")
skew=$((host_epoch - guest_epoch))
[ ${skew#-} -le 3 ] || fail "the clone's clock is ${skew}s off the host's"
want_mac=$(capsid show probe | json_get 'd["capsid"]["network"]["mac"]')
grep -qx "mac=$want_mac" <<<"$out" || fail "the clone's NIC has not the group's MAC $want_mac: $out"
grep -qx 'web-says-hi' <<<"$out" || fail "the clone cannot reach another group: $out"

case_ "exec into the clone"
# exec into the clone; kernel entropy was credited by IDENTITY
got=$(capsid exec probe -- sh -c 'hostname; cat /proc/sys/kernel/random/boot_id')
echo "exec: $got"
[ "$(head -n 1 <<<"$got")" = probe ] || fail "exec hostname: $got"

case_ "a clone's RAM is closed to KSM unless CAPSID_KSM=1"
# A clone maps the template's RAM copy-on-write: private pages KSM could
# merge across tenants if QEMU marked them mergeable, as it does by default.
qpid=$(qemu_pid probe)
[ "$(mergeable_kb "$qpid")" = 0 ] || fail "the clone's QEMU has mappings open to KSM: $(mergeable_kb "$qpid") kB"
write_spec "$WORK/ksm.yaml" ksm Never 'ksm|1|0.25|sleep 1000000'
CAPSID_KSM=1 capsid create -f "$WORK/ksm.yaml" >/dev/null
glog ksm | grep -q 'warm start: restored from template' || fail "the KSM group was not restored: $(glog ksm)"
kpid=$(qemu_pid ksm)
# Its whole RAM (0.25 GB + the 128 MiB overhead) is open to KSM.
[ "$(mergeable_kb "$kpid")" -ge $((384 * 1024)) ] || fail "CAPSID_KSM=1: mergeable $(mergeable_kb "$kpid") kB"
capsid delete ksm

case_ "clones differ in boot_id and CRNG output"
# A third clone: boot_id and CRNG output differ between clones.
write_spec "$WORK/p2.yaml" p2 Never 'p2|1|0.25|echo "boot=$(cat /proc/sys/kernel/random/boot_id)"; echo "rnd=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n")"'
out2=$(capsid run --rm -f "$WORK/p2.yaml")
echo "$out2"
b1=$(sed -n 's/^boot=//p' <<<"$out")
b2=$(sed -n 's/^p2 | boot=//p' <<<"$out2")
r1=$(sed -n 's/^rnd=//p' <<<"$out")
r2=$(sed -n 's/^p2 | rnd=//p' <<<"$out2")
[ -n "$b2" ] && [ "$b1" != "$b2" ] || fail "two clones share boot_id $b1"
[ -n "$r2" ] && [ "$r1" != "$r2" ] || fail "two clones read the same urandom bytes"

case_ "stop, start and delete of a clone: the restart is a clone again, no QEMU left"
capsid stop probe
state_is probe Stopped || fail "stop: state $(group_state probe)"
! pgrep -f "[q]emu-system.*$ROOT/groups/probe/" >/dev/null || fail "QEMU of a stopped clone still runs"
capsid start probe
[ "$(glog probe | grep -c 'warm start: restored from template')" = 2 ] || fail "start did not restore again"
state_is probe Running || fail "start: state $(group_state probe)"
[ "$(capsid exec probe -- hostname)" = probe ] || fail "hostname after start"
capsid delete probe
capsid delete web
[ -z "$(qemu_of_root)" ] || fail "QEMU left after delete: $(qemu_of_root)"

case_ "a template whose state does not load: the group boots cold"
# A template whose state does not load (e.g. a QEMU changed under it) does
# not stop a group: its clone is killed and the group boots cold.
echo "not a migration stream" >"$tdir/state"
write_spec "$WORK/fb.yaml" fb Never 'fb|1|0.25|hostname'
out=$(capsid run -f "$WORK/fb.yaml")
grep -qx 'fb | fb' <<<"$out" || fail "fallback run: $out"
glog fb | grep -q 'warm start: restore failed.*booting cold' || fail "no cold fallback: $(glog fb)"
capsid delete fb
[ -z "$(qemu_of_root)" ] || fail "QEMU left after the fallback: $(qemu_of_root)"

case_ "without CAPSID_WARM_START a group boots cold and never mentions templates"
unset CAPSID_WARM_START
write_spec "$WORK/cold.yaml" cold Never 'cold|1|0.25|hostname'
out=$(capsid run -f "$WORK/cold.yaml")
grep -qx 'cold | cold' <<<"$out" || fail "cold run: $out"
glog cold | grep -q 'warm start' && fail "a cold group used warm start: $(glog cold)"
echo PASS
