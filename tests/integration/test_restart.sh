#!/usr/bin/env bash
# Restart policies with restartCount and back-off: Never, OnFailure, Always.
. "$(dirname "$0")/lib.sh"
export CAPSID_BACKOFF_BASE_MS=200 CAPSID_BACKOFF_MAX_MS=1000

restarts() { capsid show "$1" | json_get 'd["properties"]["containers"][0]["properties"]["instanceView"]["restartCount"]'; }

case_ "Never: a failed container is not restarted"
write_spec "$WORK/never.yaml" never Never 'c|1|0.25|exit 1'
capsid create -f "$WORK/never.yaml" >/dev/null
wait_for "never to fail" state_is never Failed
[ "$(restarts never)" = 0 ] || fail "Never restarted"

case_ "OnFailure: a container that succeeds is not restarted"
write_spec "$WORK/onf-ok.yaml" onf-ok OnFailure 'c|1|0.25|exit 0'
capsid create -f "$WORK/onf-ok.yaml" >/dev/null
wait_for "onf-ok to succeed" state_is onf-ok Succeeded
[ "$(restarts onf-ok)" = 0 ] || fail "OnFailure restarted a successful container"

case_ "OnFailure: a failing container restarts with back-off, its exit code and logs kept"
write_spec "$WORK/onf-bad.yaml" onf-bad OnFailure 'c|1|0.25|echo run; exit 2'
capsid create -f "$WORK/onf-bad.yaml" >/dev/null
wait_for "onf-bad to restart twice" sh -c "[ \$($CAPSID_BIN show onf-bad | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"properties\"][\"containers\"][0][\"properties\"][\"instanceView\"][\"restartCount\"])') -ge 2 ]"
state_is onf-bad Running || fail "OnFailure group should stay Running while restarting"
capsid show onf-bad | grep -q '"BackOff"' || fail "no BackOff event"
# One snapshot: between two reads the container may restart (Terminated(2)
# becomes previousState, Running the current one).
iv=$(capsid show onf-bad | json_get 'd["properties"]["containers"][0]["properties"]["instanceView"]')
python3 -c 'import ast,sys; v=ast.literal_eval(sys.argv[1]); sys.exit(0 if 2 in (v["currentState"].get("exitCode"), v.get("previousState",{}).get("exitCode")) else 1)' "$iv" ||
	fail "exit code 2 not recorded: $iv"
[ "$(capsid logs onf-bad | grep -c '^run$')" -ge 2 ] || fail "logs of earlier runs lost"

case_ "Always: a container that exits 0 restarts until stopped"
write_spec "$WORK/always.yaml" always Always 'c|1|0.25|echo tick; exit 0'
capsid create -f "$WORK/always.yaml" >/dev/null
wait_for "always to restart twice" sh -c "[ \$($CAPSID_BIN show always | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"properties\"][\"containers\"][0][\"properties\"][\"instanceView\"][\"restartCount\"])') -ge 2 ]"
capsid stop always
state_is always Stopped || fail "stop: state $(group_state always)"
echo PASS
