#!/usr/bin/env bash
# Liveness and readiness probes run by the guest agent: a failing liveness
# probe kills the container and the restart policy restarts it, with
# Unhealthy and Killing events that count; readiness (an HTTP probe) shows
# in the instance view as it changes; an exec probe runs inside the
# container (its mount namespace, its user); bad probe specs are refused
# with field paths. Each case runs under the builtin runtime and runc.
# Timeouts are generous: a loaded machine under TCG takes seconds to fork
# and exec, and timing must not decide the outcome.
. "$(dirname "$0")/lib.sh"
export CAPSID_BACKOFF_BASE_MS=200 CAPSID_BACKOFF_MAX_MS=1000

civ() { # GROUP -> the first container's instance view (JSON)
	capsid show "$1" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["properties"]["containers"][0]["properties"]["instanceView"]))'
}
restarted() { [ "$(civ "$1" | json_get 'd["restartCount"]')" -ge "$2" ]; }
ready_is() { [ "$(civ "$1" | json_get 'd.get("ready")')" = "$2" ]; }

for runtime in builtin runc; do
	g=live-$runtime
	case_ "$runtime: a failing liveness probe kills the container; Always restarts it; Unhealthy and Killing count"
	cat >"$WORK/$g.yaml" <<'Y'
name: NAME
properties:
  restartPolicy: Always
  containers:
  - name: app
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "echo up; touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 600"]
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
      livenessProbe:
        exec: {command: [cat, /tmp/healthy]}
        periodSeconds: 1
        failureThreshold: 2
        timeoutSeconds: 30
Y
	sed -i "s/NAME/$g/" "$WORK/$g.yaml"
	capsid create --runtime "$runtime" -f "$WORK/$g.yaml" >/dev/null
	wait_for "$g to be restarted by its liveness probe" restarted "$g" 1
	iv=$(civ "$g")
	python3 -c '
import json, sys
v = json.loads(sys.argv[1])
ev = {e["name"]: e for e in v["events"]}
u = ev["Unhealthy"]
assert u["type"] == "Warning" and u["count"] >= 2, u
assert "Liveness probe failed: cat: can" in u["message"] and "/tmp/healthy" in u["message"], u
k = ev["Killing"]
assert k["message"] == "Container app failed liveness probe, will be restarted", k
prev = v.get("previousState") or {}
assert v["restartCount"] >= 1
' "$iv" || fail "liveness events: $iv"
	capsid logs "$g" | grep -c '^up$' | grep -q '^[2-9]' || fail "the container did not run again: $(capsid logs "$g")"
	capsid delete "$g"

	g=ready-$runtime
	case_ "$runtime: an HTTP readiness probe makes the container ready, then not ready; an exec probe runs in the container"
	cat >"$WORK/$g.yaml" <<'Y'
name: NAME
properties:
  restartPolicy: Never
  containers:
  - name: web
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "mkdir -p /www; httpd -p 8080 -h /www; while [ ! -f /tmp/probed-by ]; do sleep 0.2; done; echo \"probe ran as $(cat /tmp/probed-by)\"; echo ok > /www/ready; while [ ! -f /tmp/go-unready ]; do sleep 0.2; done; rm /www/ready; sleep 600"]
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
      readinessProbe:
        httpGet: {path: /ready, port: 8080, httpHeaders: [{name: X-Check, value: capsid}]}
        periodSeconds: 1
        failureThreshold: 1
        timeoutSeconds: 30
      livenessProbe:
        exec: {command: ["/bin/sh", "-c", "echo uid=$(id -u) > /tmp/probed-by"]}
        periodSeconds: 1
        timeoutSeconds: 30
Y
	sed -i "s/NAME/$g/" "$WORK/$g.yaml"
	capsid create --runtime "$runtime" -f "$WORK/$g.yaml" >/dev/null
	ready_is "$g" False || fail "a container with a readiness probe is ready before it succeeded: $(civ "$g")"
	wait_for "$g to be ready" ready_is "$g" True
	capsid logs "$g" | grep -q '^probe ran as uid=0$' || fail "the exec probe did not run in the container: $(capsid logs "$g")"
	capsid exec "$g" -- touch /tmp/go-unready
	wait_for "$g to be not ready" ready_is "$g" False
	civ "$g" | grep -q '"Readiness probe failed: HTTP probe failed with statuscode: 404"' ||
		fail "no Unhealthy event for the 404 that made it not ready: $(civ "$g")"
	[ "$(civ "$g" | json_get 'd["restartCount"]')" = 0 ] || fail "a readiness failure restarted the container"
	state_is "$g" Running || fail "state $(group_state "$g")"
	capsid delete "$g"
done

case_ "bad probe specs are refused with field paths, nothing created"
cat >"$WORK/bad.yaml" <<'Y'
name: badprobe
properties:
  containers:
  - name: app
    properties:
      image: capsid/demo:latest
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
      livenessProbe: {httpGet: {port: 8080, scheme: https}, periodSeconds: 0}
Y
capsid create -f "$WORK/bad.yaml" 2>"$WORK/err" && fail "a bad probe was accepted"
grep -q 'properties.containers\[0\].properties.livenessProbe.httpGet.scheme: https is not supported' "$WORK/err" ||
	fail "error: $(cat "$WORK/err")"
sed -i 's/scheme: https/path: \/x/' "$WORK/bad.yaml"
capsid create -f "$WORK/bad.yaml" 2>"$WORK/err" && fail "periodSeconds 0 was accepted"
grep -q 'properties.containers\[0\].properties.livenessProbe.periodSeconds: must be a whole number from 1 to 3600' "$WORK/err" ||
	fail "error: $(cat "$WORK/err")"
[ ! -e "$ROOT/groups/badprobe" ] || fail "a refused group left its directory"
echo PASS
