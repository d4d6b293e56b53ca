#!/usr/bin/env bash
# Red team: a compromised QEMU. capsid starts tests/integration/jail_probe.c
# as a group's QEMU, through the jail's own code path (the same uid,
# namespaces, cgroup and descriptors; it loads QEMU's seccomp filter from
# its -sandbox option as QEMU does). Beside it runs a victim group. The
# probe tries to read the victim's disk, console, state and sockets, signal
# and ptrace its QEMU, open host files, change cgroup limits, load modules,
# make raw sockets and reach host services; then, one start each, the
# attempts QEMU's filter kills it for (mount, unshare, setuid, execve, fork,
# reboot). Every attempt must be denied, and the victim keeps answering
# with nothing lost.
. "$(dirname "$0")/lib.sh"

PROBE=$BUILD_DIR/bin/capsid_jail_probe
[ -x "$PROBE" ] || fail "no $PROBE (build the tests)"

write_spec "$WORK/victim.yaml" victim Always \
	'c|1|0.25|echo secret-data > /victim-file; i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done'
write_spec "$WORK/attacker.yaml" attacker Always 'c|1|0.25|exec sleep 3600'
capsid create -f "$WORK/victim.yaml" >/dev/null
capsid create -f "$WORK/attacker.yaml" >/dev/null
wait_for "victim ticks" sh -c "'$CAPSID_BIN' logs victim | grep -q 'tick 1'"
vpid=$(qemu_pid victim)
[ "$(capsid exec victim -- cat /victim-file)" = secret-data ] || fail "victim file before the attack"

# The attacker's monitor goes (its QEMU with it); a start with the probe
# as QEMU makes a new monitor that launches the probe in the jail.
amon=$(monitor_pid attacker)
kill -9 "$amon"
wait_for "attacker monitor gone" sh -c "! kill -0 $amon 2>/dev/null"
sleep 0.5

disk=$(tr '\0' '\n' <"/proc/$vpid/cmdline" | sed -n 's/.*opaque=disk:\(.*\)/\1/p' | head -1)
[ -n "$disk" ] && [ -r "$disk" ] || fail "cannot find the victim's disk in its QEMU command line"
vcg=$(awk -F: '$2 ~ /memory/ || $2 == "" {print $3; exit}' "/proc/$vpid/cgroup")
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	climit=/sys/fs/cgroup$vcg/memory.max
	cprocs=/sys/fs/cgroup$vcg/cgroup.procs
else
	climit=/sys/fs/cgroup/memory$vcg/memory.limit_in_bytes
	cprocs=/sys/fs/cgroup/pids$vcg/cgroup.procs
fi
[ -f "$climit" ] || fail "no cgroup limit file $climit"
G=$ROOT/groups/victim
make_probe() {
	cp "$PROBE" "$WORK/probe-$1"
	{
		printf '\n#CAPSID-PROBE\nmode %s\n' "$1"
		printf 'disk %s\nconsole %s\nstate %s\nspec %s\nmonitor-log %s\n' "$disk" "$G/console.log" \
			"$G/state.json" "$G/spec.json" "$G/monitor.log"
		printf 'shadow /etc/shadow\nqemu-binary-w %s\n' "$(command -v qemu-system-x86_64)"
		printf 'cgroup-limit %s\ncgroup-procs %s\n' "$climit" "$cprocs"
		printf 'agent-sock %s\nqmp-sock %s\ncontrol-sock %s\nvictim-pid %s\n' "$G/agent.sock" "$G/qmp.sock" \
			"$G/control.sock" "$vpid"
	} >>"$WORK/probe-$1"
	chmod 755 "$WORK/probe-$1"
}

ALOG=$ROOT/groups/attacker/monitor.log
for mode in main mount unshare setuid execve fork reboot; do
	case_ "a compromised QEMU, probe mode $mode: every attempt is denied or killed by QEMU's filter"
	make_probe $mode
	before=$(wc -l <"$ALOG")
	CAPSID_QEMU=$WORK/probe-$mode capsid start attacker >/dev/null 2>&1 || true
	# The probe's end fails the start: the monitor exits.
	wait_for "the $mode probe ends" sh -c "tail -n +$((before + 1)) '$ALOG' | grep -q 'monitor exiting\|start failed'"
	tail -n +$((before + 1)) "$ALOG" | grep 'probe\|start failed' >"$WORK/out-$mode"
	cat "$WORK/out-$mode"
	grep -q "probe: mode $mode, QEMU's filter loaded" "$WORK/out-$mode" || fail "$mode: the probe did not run confined"
	! grep -q ESCAPED "$WORK/out-$mode" || fail "$mode: an attack succeeded: $(grep ESCAPED "$WORK/out-$mode")"
	mp=$(tail -n +$((before + 1)) "$ALOG" | sed -n 's/.* monitor \([0-9]*\) starting$/\1/p' | tail -1)
	wait_for "the attacker's monitor ends" sh -c "! kill -0 $mp 2>/dev/null"
	if [ $mode = main ]; then
		grep -q '^.*probe: done$' "$WORK/out-main" || fail "main: the probe did not finish its attacks"
		n=$(grep -c ': denied (' "$WORK/out-main")
		[ "$n" -ge 30 ] || fail "main: only $n attempts were made"
		grep -q "probe: uid 15000" "$WORK/out-main" || fail "main: the probe ran as $(grep 'probe: uid' "$WORK/out-main")"
	else
		grep -q "probe: $mode: attempting" "$WORK/out-$mode" || fail "$mode: not attempted"
		# Killed by the filter: it never returns to say so.
		! grep -q "probe: $mode: survived" "$WORK/out-$mode" || fail "$mode: the attempt returned"
		! grep -q "probe: done" "$WORK/out-$mode" || fail "$mode: the probe went on"
	fi
done

case_ "a QEMU that floods its stderr: the monitor's log stays within its cap"
# A QEMU that floods its stderr (the monitor's log, through a pipe the
# monitor drains): the log never passes the cap, the rest is dropped.
make_probe flood
CAPSID_LOG_MAX_BYTES=1048576 CAPSID_QEMU=$WORK/probe-flood capsid start attacker >/dev/null 2>&1 || true
wait_for "the flood probe ends" sh -c "! pgrep -f '[_]_monitor attacker' >/dev/null"
grep -q 'probe: mode flood' "$ALOG" || fail "flood: the probe did not run"
grep -q "QEMU's output: the log is at its cap" "$ALOG" || fail "flood: nothing was dropped: $(grep -v xxxx "$ALOG" | tail -5)"
size=$(stat -c %s "$ALOG")
[ "$size" -le $((1048576 + 65536)) ] || fail "flood: monitor.log is $size bytes"
echo "flood: monitor.log $size bytes"

case_ "the victim: the same QEMU, still answering, its data and logs whole"
[ "$(qemu_pid victim)" = "$vpid" ] || fail "the victim's QEMU changed"
kill -0 "$vpid" || fail "the victim's QEMU is gone"
[ "$(capsid exec victim -- cat /victim-file)" = secret-data ] || fail "victim file after the attack"
state_is victim Running || fail "victim is $(group_state victim)"
last=$(capsid logs victim | grep -c '^tick ')
wait_for "victim keeps ticking" sh -c "[ \$('$CAPSID_BIN' logs victim | grep -c '^tick ') -gt $last ]"
capsid logs victim | awk '/^tick / { if ($2 != n) { print "gap at " n; exit 1 } n++ }' || fail "victim log lost lines"
echo PASS
