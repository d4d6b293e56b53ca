#!/usr/bin/env bash
# Red team: a guest flooding its agent channel (fake_qemu.py's flood mode:
# a valid start, then STDOUT frames as fast as the channel takes them) keeps
# only its own monitor busy. Its monitor still answers show and delete (its
# loop reads a bounded amount per wake-up and serves its clients between),
# its container log stays within its cap, and a victim group beside it
# (real QEMU, confined) keeps answering show, exec and logs and loses
# nothing. How long the victim's operations take with and without the
# flood is tests/bench/agent_flood.sh's; timing decides nothing here.
. "$(dirname "$0")/lib.sh"

CAP=1048576
write_spec "$WORK/victim.yaml" victim Always \
	'c|1|0.25|echo secret-data > /victim-file; i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done'
capsid create -f "$WORK/victim.yaml" >/dev/null
vpid=$(qemu_pid victim)

case_ "a guest floods its agent channel with valid STDOUT frames"
write_spec "$WORK/evil.yaml" evil Never 'c|1|0.25|true'
# The stand-in plays a hostile guest, not a hostile QEMU: it serves the
# agent socket by path, which a jailed QEMU has not.
CAPSID_QEMU="$(realpath "$(dirname "$0")/fake_qemu.py")" CAPSID_CONFINE=0 FAKE_AGENT_MODE=flood \
	CAPSID_LOG_MAX_BYTES=$CAP CAPSID_LOG_MAX_FILES=2 capsid create -f "$WORK/evil.yaml" >/dev/null 2>&1
wait_for "the flood to rotate evil's log" test -e "$ROOT/groups/evil/logs/c.log.1"
epid=$(monitor_pid evil)
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
c0=$(cpu "$epid")

case_ "the victim keeps answering show, exec and logs during the flood"
for i in 1 2 3 4 5; do
	[ "$(timeout 60 "$CAPSID_BIN" show victim | json_get 'd["properties"]["instanceView"]["state"]')" = Running ] ||
		fail "victim show during the flood (round $i)"
	[ "$(timeout 60 "$CAPSID_BIN" exec victim -- cat /victim-file)" = secret-data ] ||
		fail "victim exec during the flood (round $i)"
	timeout 60 "$CAPSID_BIN" logs victim | grep -q '^tick ' || fail "victim logs during the flood (round $i)"
done

case_ "the flooding group's own monitor still answers its clients"
[ "$(timeout 60 "$CAPSID_BIN" show evil | json_get 'd["capsid"]["monitorPid"]')" = "$epid" ] ||
	fail "evil's monitor does not answer show during its flood"
c1=$(cpu "$epid")
[ "$c1" -gt "$c0" ] || fail "evil's monitor used no CPU: no flood reached it"
bytes=$(cat "$ROOT"/groups/evil/logs/c.log* | wc -c)
n_logs=$(ls "$ROOT/groups/evil/logs/" | wc -l)
[ "$n_logs" -le 2 ] || fail "evil keeps $n_logs log files: $(ls "$ROOT/groups/evil/logs/")"
for f in "$ROOT"/groups/evil/logs/c.log*; do
	# A line in flight may pass the cap by one frame's worth.
	[ "$(stat -c %s "$f")" -le $((CAP + (1 << 20) + 4096)) ] || fail "$f is $(stat -c %s "$f") bytes, cap $CAP"
done
cat "$ROOT"/groups/evil/logs/c.log* | grep -q ' stdout F flood [0-9]\{12\}$' || fail "evil's log holds none of the flood's lines"
echo "evil's monitor: $((c1 - c0)) ticks of CPU over the victim's 15 operations; its logs hold $bytes bytes"

case_ "delete of the flooding group during its flood"
timeout 120 "$CAPSID_BIN" delete evil >/dev/null || fail "delete of the flooding group"
[ ! -e "$ROOT/groups/evil" ] || fail "evil's directory left behind"
pgrep -f "[f]ake_qemu.py.*$ROOT/" >/dev/null && fail "the flooding stand-in was left running"

case_ "the victim: the same QEMU, its data, every log line"
[ "$(qemu_pid victim)" = "$vpid" ] || fail "the victim's QEMU changed"
[ "$(capsid exec victim -- cat /victim-file)" = secret-data ] || fail "victim file"
last=$(capsid logs victim | grep -c '^tick ')
wait_for "victim keeps ticking" sh -c "[ \$('$CAPSID_BIN' logs victim | grep -c '^tick ') -gt $last ]"
capsid logs victim | awk '/^tick / { if ($2 != n) { print "gap at " n; exit 1 } n++ }' || fail "victim log lost lines"
echo PASS
