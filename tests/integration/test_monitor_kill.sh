#!/usr/bin/env bash
# SIGKILL of a monitor: its VM dies with it (no QEMU left), list and show
# report the truth without hanging, logs survive, and start/delete work.
. "$(dirname "$0")/lib.sh"

case_ "SIGKILL of a monitor: its QEMU dies with it"
write_spec "$WORK/victim.yaml" victim Always 'c|1|0.25|echo before-kill; exec sleep 3600'
capsid create -f "$WORK/victim.yaml" >/dev/null
wait_for "victim running" sh -c "$CAPSID_BIN show victim | grep -q '\"state\": \"Running\"'"
wait_for "first log line" sh -c "$CAPSID_BIN logs victim | grep -q before-kill"
monitor_pid=$(cat "$ROOT/groups/victim/monitor.pid")
kill -9 "$monitor_pid"
wait_for "QEMU to die with its monitor" sh -c "! pgrep -f '[q]emu-system.*$ROOT/' >/dev/null"

case_ "list and show report the lost monitor without hanging; logs survive"
timeout 20 "$CAPSID_BIN" list | grep -Eq '^victim +Failed' || fail "list after kill: $(capsid list)"
view=$(timeout 20 "$CAPSID_BIN" show victim)
grep -q '"MonitorLost"' <<<"$view" || fail "no MonitorLost event"
grep -q 'Killed: monitor lost' <<<"$view" || fail "container not reported terminated"
capsid logs victim | grep -q before-kill || fail "logs lost with the monitor"

case_ "start and delete work after the monitor was lost"
capsid start victim
wait_for "victim running after start" sh -c "$CAPSID_BIN show victim | grep -q '\"state\": \"Running\"'"
capsid delete victim
[ ! -e "$ROOT/groups/victim" ] || fail "delete left files"
echo PASS
