#!/usr/bin/env bash
# Per-second metering: a group's usage records run from the start of its
# create to its VM's stop; over a run the totals match wall time x size
# within 1 %; a monitor killed with SIGKILL loses at most its last second;
# `capsid usage` in table, JSON and CSV, with --since.
. "$(dirname "$0")/lib.sh"

now() { date +%s.%N; }
usage_of() { # GROUP FIELD -> its value from `capsid usage -o json`
	capsid usage -o json | python3 -c 'import json,sys; print(next((u[sys.argv[2]] for u in json.load(sys.stdin) if u["group"] == sys.argv[1]), 0))' "$1" "$2"
}

case_ "a run's vCPU-seconds and GiB-seconds are its wall time x its size, within 1 %"
# 1.5 CPU -> 2 vCPUs; 0.75 GiB of memory requests.
write_spec "$WORK/meter.yaml" meter Always 'a|1|0.5|sleep 600' 'b|0.5|0.25|sleep 600'
t0=$(now)
capsid create -f "$WORK/meter.yaml" >/dev/null
sleep 60
capsid stop meter
t1=$(now)
vs=$(usage_of meter vcpuSeconds)
gs=$(usage_of meter gibSeconds)
secs=$(usage_of meter seconds)
echo "wall $(python3 -c "print($t1 - $t0)") s; metered $secs s, $vs vCPU-s, $gs GiB-s"
python3 - "$t0" "$t1" "$secs" "$vs" "$gs" <<'P' || fail "usage does not match wall time x size"
import sys
t0, t1, secs, vs, gs = map(float, sys.argv[1:])
wall = t1 - t0
# The metered span lies inside [t0, t1]: create began after t0, the stop
# returned after the VM was gone.
assert secs <= wall + 0.01, (secs, wall)
assert abs(secs - wall) / wall < 0.01, (secs, wall)
assert abs(vs - 2 * secs) < 1e-6 and abs(gs - 0.75 * secs) < 1e-6, (vs, gs, secs)
P

case_ "a stopped group meters nothing; a start meters again from its boot"
before=$(usage_of meter seconds)
sleep 3
[ "$(usage_of meter seconds)" = "$before" ] || fail "a stopped group was metered"
capsid start meter
sleep 5
after=$(usage_of meter seconds)
python3 -c "import sys; sys.exit(0 if float('$after') - float('$before') >= 4 else 1)" || fail "start not metered: $before -> $after"

case_ "a monitor killed with SIGKILL loses at most its last second"
pid=$(cat "$ROOT/groups/meter/monitor.pid")
sleep 3
tk=$(now)
kill -9 "$pid"
sleep 2
last=$(capsid usage -o json | python3 -c 'import json,sys,calendar,time; u=[x for x in json.load(sys.stdin) if x["group"]=="meter"][0]; print(u["to"])')
python3 - "$tk" "$last" <<'P' || fail "more than a second lost: killed at $tk, metered to $last"
import sys, datetime
tk = float(sys.argv[1])
to = datetime.datetime.strptime(sys.argv[2][:26].rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
assert tk - to <= 1.25 and to <= tk + 0.05, (tk, to)
P

case_ "usage -o csv, the table, and --since"
capsid usage -o csv | head -n 1 | grep -q '^group,seconds,vcpuSeconds,gibSeconds,from,to$' || fail "csv header"
capsid usage -o csv | grep -q '^meter,' || fail "csv row"
capsid usage | grep -q '^meter ' || fail "table row"
recent=$(capsid usage --since 1s -o json | python3 -c 'import json,sys; print(sum(u["seconds"] for u in json.load(sys.stdin)))')
python3 -c "import sys; sys.exit(0 if float('$recent') < 2 else 1)" || fail "--since 1s counted $recent s"
capsid usage --since yesterday 2>/dev/null && fail "a bad --since was accepted"
echo PASS
