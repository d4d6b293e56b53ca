#!/usr/bin/env bash
# Init containers (properties.initContainers): run in the guest one after
# another, each to completion, before the group's containers start; a
# failure fails the group under Never (the containers never start) and
# restarts the init container under OnFailure; their instance view is shown;
# bad specs are refused with field paths and leave nothing behind.
. "$(dirname "$0")/lib.sh"
export CAPSID_BACKOFF_BASE_MS=200 CAPSID_BACKOFF_MAX_MS=1000

# write_init_spec FILE NAME POLICY FIRST_CMD SECOND_CMD APP_CMD
write_init_spec() {
	local q=(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))')
	cat >"$1" <<Y
name: $2
properties:
  restartPolicy: $3
  volumes: [{name: work, emptyDir: {}}]
  containers:
  - name: app
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", $("${q[@]}" "$6")]
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
      volumeMounts: [{name: work, mountPath: /work}]
  initContainers:
  - name: first
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", $("${q[@]}" "$4")]
      environmentVariables: [{name: STEP, value: one}, {name: HIDDEN, secureValue: init-secret-value}]
      volumeMounts: [{name: work, mountPath: /work}]
  - name: second
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", $("${q[@]}" "$5")]
      volumeMounts: [{name: work, mountPath: /work}]
Y
}

init_iv() { # GROUP INDEX -> the init container's instance view (JSON)
	capsid show "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps(d["properties"]["initContainers"][int(sys.argv[1])]["properties"]["instanceView"]))' "$2"
}

case_ "two init containers run in order, to completion, before the container; env and volumes reach them"
write_init_spec "$WORK/ok.yaml" init-ok Never \
	'echo "first sees $STEP $HIDDEN"; sleep 1; echo one > /work/order' \
	'[ -f /work/order ] || { echo "first has not finished"; exit 9; }; echo two >> /work/order; echo second done' \
	'echo "app sees $(cat /work/order | tr "\n" " ")"'
out=$(capsid run -f "$WORK/ok.yaml")
echo "$out"
grep -q '^first | first sees one init-secret-value$' <<<"$out" || fail "first init container's output or env missing"
grep -q '^second | second done$' <<<"$out" || fail "second init container did not run after the first"
grep -q '^app | app sees one two $' <<<"$out" || fail "the container did not start after both init containers"
[ "$(group_state init-ok)" = Succeeded ] || fail "state $(group_state init-ok)"

case_ "the instance view shows each init container terminated with 0, in order, before the container started"
capsid show init-ok | python3 -c '
import json, sys
d = json.load(sys.stdin)
p = d["properties"]
inits = [c["properties"]["instanceView"] for c in p["initContainers"]]
app = p["containers"][0]["properties"]["instanceView"]
for iv in inits:
    s = iv["currentState"]
    assert s["state"] == "Terminated" and s["exitCode"] == 0 and s["detailStatus"] == "Completed", iv
    assert iv["restartCount"] == 0, iv
assert inits[0]["currentState"]["finishTime"] <= inits[1]["currentState"]["startTime"], inits
assert inits[1]["currentState"]["finishTime"] <= app["currentState"]["startTime"], (inits, app)
assert any(e["name"] == "Started" for e in inits[1]["events"]), inits[1]
' || fail "instance view of the init containers: $(capsid show init-ok)"
capsid show init-ok | grep -q 'init-secret-value' && fail "a secure value of an init container reached show"
capsid logs init-ok --container second | grep -q '^second done$' || fail "logs --container of an init container"

case_ "export keeps the init containers (secure values left out) and create accepts it"
capsid export init-ok >"$WORK/exported.yaml"
cat "$WORK/exported.yaml"
grep -q 'initContainers:' "$WORK/exported.yaml" || fail "export lost initContainers"
grep -q 'name: "HIDDEN"' "$WORK/exported.yaml" && fail "export kept a secure variable"
sed -i 's/^name: .*/name: init-again/' "$WORK/exported.yaml"
capsid run -f "$WORK/exported.yaml" | grep -q '^app | app sees one two $' || fail "the exported group does not run"

case_ "Never: a failing init container fails the group; later ones and the container never start"
write_init_spec "$WORK/bad.yaml" init-bad Never 'echo failing; exit 3' 'echo must-not-run' 'echo must-not-run'
set +e
out=$(capsid run -f "$WORK/bad.yaml" 2>"$WORK/bad.err")
rc=$?
set -e
echo "$out"
cat "$WORK/bad.err"
[ $rc = 3 ] || fail "run exited $rc, not the init container's 3"
grep -q 'must-not-run' <<<"$out" && fail "something started after a failed init container"
grep -q 'init container first failed with exit code 3' "$WORK/bad.err" || fail "no warning naming the failed init container"
[ "$(group_state init-bad)" = Failed ] || fail "state $(group_state init-bad)"
capsid show init-bad | python3 -c '
import json, sys
p = json.load(sys.stdin)["properties"]
assert p["containers"][0]["properties"]["instanceView"]["currentState"]["state"] == "Waiting", p["containers"]
first = p["initContainers"][0]["properties"]["instanceView"]["currentState"]
assert first["state"] == "Terminated" and first["exitCode"] == 3, first
second = p["initContainers"][1]["properties"]["instanceView"]["currentState"]
assert second["state"] == "Waiting", second
assert any(e["name"] == "Failed" and "init container first" in e["message"] for e in p["instanceView"]["events"])
' || fail "instance view after a failed init container: $(capsid show init-bad)"

case_ "OnFailure: a failed init container restarts with back-off; once it succeeds the container starts"
write_init_spec "$WORK/retry.yaml" init-retry OnFailure \
	'if [ -f /work/tried ]; then echo second try; exit 0; fi; touch /work/tried; echo first try; exit 1' \
	'echo two > /work/order' 'echo "app ran after $(cat /work/order)"'
capsid create -f "$WORK/retry.yaml" >/dev/null
wait_for "init-retry to succeed" state_is init-retry Succeeded
iv=$(init_iv init-retry 0)
python3 -c 'import json,sys; v=json.loads(sys.argv[1]); assert v["restartCount"] == 1 and v["currentState"]["exitCode"] == 0, v; assert any(e["name"] == "BackOff" for e in v["events"]), v' "$iv" ||
	fail "init container's restart not recorded: $iv"
capsid logs init-retry | grep -q '^app | app ran after two$' || fail "the container did not run after the retried init container"
logs=$(capsid logs init-retry --container first)
[ "$logs" = "$(printf 'first try\nsecond try')" ] || fail "the init container's runs: $logs"

case_ "bad init container specs are refused with field paths, nothing created"
cat >"$WORK/badspec.yaml" <<'Y'
name: init-badspec
properties:
  containers:
  - name: app
    properties: {image: capsid/demo:latest, resources: {requests: {cpu: 1, memoryInGB: 0.25}}}
  initContainers:
  - name: app
    properties: {image: capsid/demo:latest}
Y
capsid create -f "$WORK/badspec.yaml" 2>"$WORK/err" && fail "a duplicate name was accepted"
grep -q 'properties.initContainers\[0\].name: "app" is already the name of properties.containers\[0\]' "$WORK/err" ||
	fail "error: $(cat "$WORK/err")"
python3 - "$WORK/badspec.yaml" <<'P'
import sys
p = sys.argv[1]
s = open(p).read().replace("  - name: app\n    properties: {image: capsid/demo:latest}\n", "  - name: fetch\n    properties: {image: no/such-image:1}\n", 1)
open(p, "w").write(s)
P
capsid create --pull never -f "$WORK/badspec.yaml" 2>"$WORK/err" && fail "a missing init image was accepted"
grep -q 'properties.initContainers\[0\].properties.image' "$WORK/err" || fail "error: $(cat "$WORK/err")"
[ ! -e "$ROOT/groups/init-badspec" ] || fail "a refused group left its directory"
echo PASS
