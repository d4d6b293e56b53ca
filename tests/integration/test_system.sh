#!/usr/bin/env bash
# No helper outlives its need, and `capsid system status|stop`:
#   - smbd (with its keeper) runs while a group mounts a share of the
#     embedded service, and ends on its own, within a bounded wait, once
#     that group is deleted (the share still exists);
#   - a state root removed from under a running smbd: it ends on its own;
#   - `system status` lists a running group's monitor and VM (QEMU) and the
#     services (DNS responder, smbd with their pids and addresses);
#   - `system stop` refuses while a group keeps secure values only in its
#     monitor (nothing is stopped), and with no such group stops everything:
#     afterwards no process names the root on its command line, the group
#     shows Stopped with its logs (not Failed/MonitorLost), and `capsid
#     start` boots it again; `--force` also stops a group with a secure
#     value, with a warning, and `start` then refuses it.
# Processes are found by their command line naming this test's own root:
# other roots' smbd and monitors on the machine are never touched.
export CAPSID_TEST_PRIVATE_ETC=1 # the SMB accounts' unix users live in a private /etc
. "$(dirname "$0")/lib.sh"

command -v smbd >/dev/null || { echo "SKIP: smbd is not installed" >&2; exit 77; }

smbd_of() { pgrep -f "[s]mbd .*$1/" || true; }
keeper_of() { pgrep -f -- "[-]-root $1 __smbd serve" || true; }
processes_of() { pgrep -f -- "$1( |/|$)" || true; }
no_smbd_of() { [ -z "$(smbd_of "$1")" ] && [ -z "$(keeper_of "$1")" ]; }
status_get() { capsid system status -o json | json_get "$1"; }

case_ "a state root removed from under a running smbd: it ends on its own"
ROOT2=$(mktemp -d /tmp/cs2.XXXXXX)
ip addr add 10.251.0.1/32 dev lo
"$CAPSID_BIN" --root "$ROOT2" share create acct2/data >/dev/null
"$CAPSID_BIN" --root "$ROOT2" __smbd start 10.251.0.1 >/dev/null
[ -n "$(smbd_of "$ROOT2")" ] && [ -n "$(keeper_of "$ROOT2")" ] || fail "smbd of the second root did not start"
# Should the keeper not notice, the test's cleanup ends them.
CLEANUP_PIDS+=($(keeper_of "$ROOT2") $(smbd_of "$ROOT2"))
rm -rf "$ROOT2"
wait_for "smbd to end once its state root is removed" no_smbd_of "$ROOT2"
CLEANUP_PIDS=() # gone: their pids may be another's by now

case_ "smbd runs while a group mounts a share of the embedded service"
capsid share create acct1/data >/dev/null
KEY=$(capsid share key acct1)
SHARE_DIR=$(capsid share list -o json | json_get '[s["path"] for s in d if s["share"] == "data"][0]')
cat >"$WORK/sharer.yaml" <<Y
name: sharer
properties:
  restartPolicy: Never
  volumes:
  - name: files
    azureFile: {shareName: data, storageAccountName: acct1, storageAccountKey: "$KEY"}
  containers:
  - name: app
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "echo from-sharer > /mnt/files/hello; sleep 600"]
      volumeMounts: [{name: files, mountPath: /mnt/files}]
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
Y
capsid create -f "$WORK/sharer.yaml" >/dev/null
wait_for "the group's file in the share" test -s "$SHARE_DIR/hello"
KEEPER=$(keeper_of "$ROOT")
[ -n "$(smbd_of "$ROOT")" ] && [ -n "$KEEPER" ] || fail "smbd does not run while a group mounts its share"

case_ "system status lists the monitor, the VM and both services with their real pids and addresses"
capsid system status -o json >"$WORK/status.json"
MON=$(json_get '[g["monitorPid"] for g in d["groups"] if g["name"] == "sharer"][0]' <"$WORK/status.json")
QEMU=$(json_get '[g["qemuPid"] for g in d["groups"] if g["name"] == "sharer"][0]' <"$WORK/status.json")
[ "$MON" = "$(cat "$ROOT/groups/sharer/monitor.pid")" ] || fail "status: monitor pid $MON"
pgrep -f "[q]emu-system.*$ROOT/groups/sharer/" | grep -qx "$QEMU" || fail "status: QEMU pid $QEMU is not the group's QEMU"
[ "$(json_get '[s["pid"] for s in d["services"] if s["name"] == "smbd"][0]' <"$WORK/status.json")" = "$KEEPER" ] ||
	fail "status: smbd keeper pid: $(cat "$WORK/status.json")"
SMBD_PID=$(json_get '[s["smbdPid"] for s in d["services"] if s["name"] == "smbd"][0]' <"$WORK/status.json")
smbd_of "$ROOT" | grep -qx "$SMBD_PID" || fail "status: smbd pid $SMBD_PID is not an smbd of the root"
GATEWAY=$(capsid show sharer | json_get 'd["capsid"]["network"]["gateway"]')
json_get '[s["addresses"] for s in d["services"] if s["name"] == "smbd"][0]' <"$WORK/status.json" | grep -q "'$GATEWAY:445'" ||
	fail "status: smbd addresses: $(cat "$WORK/status.json")"
DNS=$(json_get '[s["pid"] for s in d["services"] if s["name"] == "dns"][0]' <"$WORK/status.json")
[ "$DNS" = "$(head -n 1 "$ROOT/networks/dns.lock")" ] || fail "status: DNS responder pid $DNS"
json_get '[s["addresses"] for s in d["services"] if s["name"] == "dns"][0]' <"$WORK/status.json" | grep -q "'$GATEWAY:53'" ||
	fail "status: DNS addresses: $(cat "$WORK/status.json")"
capsid system status >"$WORK/status.txt"
grep -Eq "^monitor +sharer +$MON +Running" "$WORK/status.txt" || fail "status table: $(cat "$WORK/status.txt")"
grep -Eq "^vm +sharer +$QEMU " "$WORK/status.txt" || fail "status table: $(cat "$WORK/status.txt")"
grep -Eq "^service +smbd +$KEEPER " "$WORK/status.txt" || fail "status table: $(cat "$WORK/status.txt")"

case_ "system stop refuses while a group's share key lives only in its monitor; nothing is stopped"
if capsid system stop >"$WORK/stop.out" 2>&1; then fail "system stop ended a group with secure values without --force"; fi
grep -q 'group sharer has volume secrets' "$WORK/stop.out" || fail "stop does not name the group: $(cat "$WORK/stop.out")"
grep -q -- '--force' "$WORK/stop.out" || fail "stop does not name --force: $(cat "$WORK/stop.out")"
state_is sharer Running || fail "a refused stop changed the group: $(group_state sharer)"
[ "$(keeper_of "$ROOT")" = "$KEEPER" ] || fail "a refused stop ended smbd"

case_ "the group goes, the share stays: smbd ends on its own"
capsid delete sharer >/dev/null
wait_for "smbd to end with the last group using it" no_smbd_of "$ROOT"
capsid share list | grep -Eq '^acct1 +data ' || fail "the share went with smbd"
capsid share rm acct1/data >/dev/null

case_ "system stop ends every process of the root; the group shows Stopped with its logs"
write_spec "$WORK/plain.yaml" plain Always 'a|1|0.25|echo plain-says-hi; sleep 600'
capsid create -f "$WORK/plain.yaml" >/dev/null
wait_for "plain's output" sh -c "'$CAPSID_BIN' logs plain | grep -q plain-says-hi"
capsid system status -o json >"$WORK/status.json"
[ "$(json_get '[g["state"] for g in d["groups"] if g["name"] == "plain"][0]' <"$WORK/status.json")" = Running ] ||
	fail "status: $(cat "$WORK/status.json")"
json_get '[s["name"] for s in d["services"]]' <"$WORK/status.json" | grep -q "'dns'" || fail "status: no DNS responder"
[ -n "$(processes_of "$ROOT")" ] || fail "no process names the root while a group runs"

capsid system stop >"$WORK/stop.out" 2>&1 || fail "system stop: $(cat "$WORK/stop.out")"
grep -q 'group plain: stopped' "$WORK/stop.out" || fail "stop output: $(cat "$WORK/stop.out")"
left=$(processes_of "$ROOT")
[ -z "$left" ] || fail "processes of the root left after system stop: $(ps -o pid,args -p "$(echo $left | tr ' ' ,)")"
[ -z "$(qemu_of_root)" ] || fail "QEMU left after system stop"
[ "$(group_state plain)" = Stopped ] || fail "after system stop the group is $(group_state plain)"
if capsid show plain | grep -q MonitorLost; then fail "system stop lost the monitor: $(capsid show plain)"; fi
capsid logs plain | grep -q plain-says-hi || fail "the group's logs went with system stop"
[ "$(capsid system status -o json | json_get 'len(d["groups"]) + len(d["services"]) + len(d["standbys"])')" = 0 ] ||
	fail "status after stop: $(capsid system status)"

case_ "a group system stop ended starts again, with the services it needs"
capsid start plain >/dev/null
wait_for "plain runs again" state_is plain Running
wait_for "plain's second output" sh -c "[ \"\$('$CAPSID_BIN' logs plain | grep -c plain-says-hi)\" -ge 2 ]"
[ -n "$(status_get '[s["pid"] for s in d["services"] if s["name"] == "dns"][0]')" ] || fail "no DNS responder after start"

case_ "system stop refuses a group with a secure value; --force stops it with a warning and start then refuses it"
# --force: a group with a secure value is stopped too, with a warning, and
# cannot be started again (the value died with its monitor).
cat >"$WORK/secret.yaml" <<'Y'
name: secret
properties:
  restartPolicy: Never
  containers:
  - name: app
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "sleep 600"]
      environmentVariables: [{name: TOKEN, secureValue: s3cr3t-value}]
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
Y
capsid create -f "$WORK/secret.yaml" >/dev/null
if capsid system stop >"$WORK/stop.out" 2>&1; then fail "system stop ended a group with a secure value without --force"; fi
grep -q 'group secret has secure environment variables' "$WORK/stop.out" || fail "stop: $(cat "$WORK/stop.out")"
state_is plain Running && state_is secret Running || fail "a refused stop changed a group"
capsid system stop --force >"$WORK/stop.out" 2>&1 || fail "system stop --force: $(cat "$WORK/stop.out")"
grep -q 'group secret has .*cannot be started again' "$WORK/stop.out" || fail "no warning: $(cat "$WORK/stop.out")"
grep -q 'group plain: stopped' "$WORK/stop.out" && grep -q 'group secret: stopped' "$WORK/stop.out" ||
	fail "stop --force output: $(cat "$WORK/stop.out")"
[ -z "$(processes_of "$ROOT")" ] || fail "processes of the root left after system stop --force"
state_is secret Stopped || fail "after system stop --force the group is $(group_state secret)"
if capsid start secret >"$WORK/start.out" 2>&1; then fail "a group whose secure value is gone started"; fi
grep -q "only in its monitor's memory" "$WORK/start.out" || fail "start: $(cat "$WORK/start.out")"
echo PASS
