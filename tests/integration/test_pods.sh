#!/usr/bin/env bash
# Pods: containers added to a running group (libcapsid's
# capsid_group_add_container, through capsid_pod_tool) share its VM, each
# with its own rootfs; an ended one is removed and frees its slot; a
# container beyond the slots is refused naming the limit.
. "$(dirname "$0")/lib.sh"
POD=$BUILD_DIR/bin/capsid_pod_tool
[ -x "$POD" ] || fail "missing $POD"

cat >"$WORK/pod.yaml" <<'YAML'
apiVersion: 2021-10-01
name: pod
tags:
  capsid.pod-slots: "4"
properties:
  osType: Linux
  restartPolicy: Never
  containers:
  - name: main
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "echo main-up; exec sleep 3600"]
      resources:
        requests: {cpu: 1, memoryInGB: 0.5}
YAML
capsid create -f "$WORK/pod.yaml" >/dev/null
wait_for "main to run" sh -c "$CAPSID_BIN show pod | grep -q '\"state\": \"Running\"'"

# container NAME COMMAND: an ACI container object of the demo image.
container() {
	python3 -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "properties": {"image": "capsid/demo:latest",
		"command": ["/bin/sh", "-c", sys.argv[2]], "resources": {"requests": {"cpu": 0.5, "memoryInGB": 0.25}}}}))' "$1" "$2"
}
cstate() {
	capsid show pod | json_get "[c['properties']['instanceView']['currentState'] for c in d['properties']['containers'] if c['name'] == '$1'][0]['$2']"
}

cstate_is() { [ "$(cstate "$1" state)" = "$2" ]; }

case_ "a container added to the running group runs in its VM with its own rootfs"
"$POD" add pod "$(container side 'echo side-up; exec sleep 3600')" || fail "add side"
wait_for "side to run" cstate_is side Running
main_boot=$(capsid exec pod --container main -- cat /proc/sys/kernel/random/boot_id)
side_boot=$(capsid exec pod --container side -- cat /proc/sys/kernel/random/boot_id)
[ -n "$main_boot" ] && [ "$main_boot" = "$side_boot" ] || fail "boot ids differ: $main_boot / $side_boot"
capsid exec pod --container main -- sh -c 'echo mine > /main-only'
capsid exec pod --container side -- test ! -e /main-only || fail "side sees main's rootfs"
capsid exec pod --container side -- test -e /bin/sh || fail "side has no rootfs"
wait_for "side's log" sh -c "$CAPSID_BIN logs pod --container side | grep -q side-up"

case_ "an added container ends with its exit code; removing it frees its slot"
"$POD" add pod "$(container quick 'exit 5')" || fail "add quick"
wait_for "quick to end" cstate_is quick Terminated
[ "$(cstate quick exitCode)" = 5 ] || fail "quick's exit code: $(cstate quick exitCode)"
"$POD" remove pod quick || fail "remove quick"
capsid show pod | grep -q '"quick"' && fail "quick still in the group"
set +e
"$POD" remove pod main 2>"$WORK/e"
rc=$?
set -e
[ $rc != 0 ] && grep -q 'was not added' "$WORK/e" || fail "removing the group's own container: $(cat "$WORK/e")"

case_ "a freed slot takes a new image; the fifth added container is refused naming the limit"
for n in two three four; do
	"$POD" add pod "$(container "$n" "echo $n-up; exec sleep 3600")" || fail "add $n"
done
wait_for "four to run" cstate_is four Running
[ "$(capsid exec pod --container two -- cat /proc/sys/kernel/random/boot_id)" = "$main_boot" ] || fail "two elsewhere"
set +e
"$POD" add pod "$(container five 'sleep 1')" 2>"$WORK/e"
rc=$?
set -e
[ $rc != 0 ] && grep -q 'all 4 spare disk slots are in use' "$WORK/e" || fail "fifth container: $(cat "$WORK/e")"

case_ "a signal ends one container, the others run on"
"$POD" signal pod side 9 || fail "signal side"
wait_for "side to end" cstate_is side Terminated
[ "$(cstate main state)" = Running ] || fail "main did not run on"

case_ "a group without slots refuses an added container naming the tag"
write_spec "$WORK/plain.yaml" plain Never 'main|1|0.25|exec sleep 3600'
capsid create -f "$WORK/plain.yaml" >/dev/null
set +e
"$POD" add pod-missing "$(container x 'true')" 2>"$WORK/e"
"$POD" add plain "$(container x 'true')" 2>"$WORK/e"
rc=$?
set -e
[ $rc != 0 ] && grep -q 'capsid.pod-slots' "$WORK/e" || fail "plain group: $(cat "$WORK/e")"

case_ "deleting the group leaves no QEMU"
capsid delete pod >/dev/null
capsid delete plain >/dev/null
[ -z "$(qemu_of_root)" ] || fail "QEMU left: $(qemu_of_root)"
echo PASS
