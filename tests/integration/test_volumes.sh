#!/usr/bin/env bash
# Volumes in the guest: an emptyDir shared by two containers and kept across
# a container restart (gone with the group), a secret's content and mode, an
# Azure-Files-like share of the embedded SMB service written by one group and
# read by another and on the host, readOnly enforced, a wrong key and a
# missing share failing with an event naming the volume (no hang), the key
# in no state file, output or process argument, two groups appending to one
# file concurrently without losing a line, and share data surviving group
# deletion and a restart of the SMB service (which ends with its last group).
export CAPSID_TEST_PRIVATE_ETC=1 # the SMB accounts' unix users live in a private /etc
. "$(dirname "$0")/lib.sh"

containers_of() { capsid show "$1" | json_get 'd["properties"]["containers"]'; }
# events_of GROUP CONTAINER: every event message of the container, one per line
events_of() {
	capsid show "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for c in d["properties"]["containers"]:
    if c["name"] == sys.argv[1]:
        for e in c["properties"]["instanceView"].get("events", []):
            print(e["name"], e["message"])' "$2"
}
container_state() {
	capsid show "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for c in d["properties"]["containers"]:
    if c["name"] == sys.argv[1]:
        print(c["properties"]["instanceView"]["currentState"]["state"])' "$2"
}
done_running() { ! state_is "$1" Running && ! state_is "$1" Pending; }

case_ "an emptyDir shared by two containers (one read-only) survives a restart; a secret's content and mode, nowhere on the host"
# c1 counts its runs in the emptyDir and fails its first run: OnFailure
# restarts it, and the second run finds the count of the first. c2 reads
# the count through a read-only mount of the same emptyDir.
cat >"$WORK/ed.yaml" <<'Y'
name: ed
properties:
  restartPolicy: OnFailure
  volumes:
  - name: cache
    emptyDir: {}
  - name: creds
    secret:
      token: c2VjcmV0LXRva2VuLTQy
      app.ini: W2FwcF0Ka2V5PXZhbHVlCg==
  containers:
  - name: c1
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "n=$(cat /cache/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /cache/n.tmp; mv /cache/n.tmp /cache/n; echo run-$n; [ $n -ge 2 ] || exit 1; stat -c '%a %U %s %n' /creds/token /creds/app.ini; sha256sum /creds/token; touch /creds/new 2>&1 || true; sleep 600"]
      volumeMounts: [{name: cache, mountPath: /cache}, {name: creds, mountPath: /creds}]
      resources: {requests: {cpu: 0.5, memoryInGB: 0.25}}
  - name: c2
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "while [ \"$(cat /shared/n 2>/dev/null)\" != 2 ]; do sleep 0.1; done; echo c2-sees-2; echo x > /shared/w || echo c2-readonly; sleep 600"]
      volumeMounts: [{name: cache, mountPath: /shared, readOnly: true}]
      resources: {requests: {cpu: 0.5, memoryInGB: 0.25}}
Y
capsid create -f "$WORK/ed.yaml" >/dev/null
wait_for "c1's second run" sh -c "'$CAPSID_BIN' logs ed --container c1 | grep -q 'Read-only'"
wait_for "c2 reads the count" sh -c "'$CAPSID_BIN' logs ed --container c2 | grep -q c2-readonly"
capsid logs ed --container c1 >"$WORK/c1.log"
grep -qx 'run-1' "$WORK/c1.log" || fail "no first run: $(cat "$WORK/c1.log")"
grep -qx 'run-2' "$WORK/c1.log" || fail "the emptyDir did not survive the restart: $(cat "$WORK/c1.log")"
grep -qx '400 root 15 /creds/token' "$WORK/c1.log" || fail "secret file mode/owner/size: $(cat "$WORK/c1.log")"
grep -qx '400 root 16 /creds/app.ini' "$WORK/c1.log" || fail "secret file app.ini: $(cat "$WORK/c1.log")"
grep -q "^$(printf secret-token-42 | sha256sum | cut -d' ' -f1)  /creds/token" "$WORK/c1.log" ||
	fail "secret content: $(cat "$WORK/c1.log")"
grep -q 'Read-only file system' "$WORK/c1.log" || fail "the secret volume is writable: $(cat "$WORK/c1.log")"
capsid logs ed --container c2 | grep -qx c2-sees-2 || fail "c2 does not share c1's emptyDir"
# The secret is nowhere on the host's disk, decoded or not (spec and state
# are redacted); $WORK holds the test's own spec file.
if grep -rqs --exclude-dir=work -e 'secret-token-42' -e 'c2VjcmV0LXRva2VuLTQy' "$ROOT"; then
	fail "secret on host disk: $(grep -rls --exclude-dir=work -e 'secret-token-42' -e 'c2VjcmV0LXRva2VuLTQy' "$ROOT")"
fi
capsid delete ed >/dev/null
case_ "a new group of the same name starts with an empty emptyDir"
sed -i 's/restartPolicy: OnFailure/restartPolicy: Never/' "$WORK/ed.yaml"
capsid create -f "$WORK/ed.yaml" >/dev/null
wait_for "c1 ends" sh -c "'$CAPSID_BIN' logs ed --container c1 | grep -q run-"
capsid logs ed --container c1 | grep -qx 'run-1' || fail "emptyDir outlived its group: $(capsid logs ed --container c1)"
capsid delete ed >/dev/null

case_ "an SMB share of the embedded service: written by one group, seen on the host, read by another"
capsid share create acct1/data >/dev/null
KEY=$(capsid share key acct1)
SHARE_DIR=$(capsid share list -o json | json_get '[s["path"] for s in d if s["share"] == "data"][0]')
[ -d "$SHARE_DIR" ] || fail "share directory $SHARE_DIR missing"

# share_spec FILE NAME COMMAND [VOLUME-YAML-EXTRA] [MOUNT-EXTRA] [KEY] [SHARE]
share_spec() {
	local file=$1 name=$2 cmd=$3 volextra=${4:-} mountextra=${5:-} key=${6:-$KEY} share=${7:-data}
	cat >"$file" <<Y
name: $name
properties:
  restartPolicy: Never
  volumes:
  - name: files
    azureFile: {shareName: $share, storageAccountName: acct1, storageAccountKey: "$key"$volextra}
  containers:
  - name: app
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$cmd")]
      volumeMounts: [{name: files, mountPath: /mnt/files$mountextra}]
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
Y
}

share_spec "$WORK/w.yaml" writer 'echo written-by-writer > /mnt/files/from-writer; sleep 600'
capsid create -f "$WORK/w.yaml" >/dev/null
wait_for "the writer's file on the host" test -s "$SHARE_DIR/from-writer"
[ "$(cat "$SHARE_DIR/from-writer")" = written-by-writer ] || fail "host sees: $(cat "$SHARE_DIR/from-writer")"
share_spec "$WORK/r.yaml" reader 'cat /mnt/files/from-writer'
capsid run --rm -f "$WORK/r.yaml" >"$WORK/r.out"
grep -q 'written-by-writer' "$WORK/r.out" || fail "second group cannot read the first's file: $(cat "$WORK/r.out")"
case_ "the same through the address map (CAPSID_SMB_ADDRESSES)"
# The same through the address map: the server name ACCOUNT.file.ZONE mapped
# to the gateway by configuration rather than found in the embedded service.
GATEWAY=$(capsid show writer | json_get 'd["capsid"]["network"]["gateway"]')
CAPSID_SMB_ADDRESSES="acct1.file.capsid.local=$GATEWAY" capsid run --rm -f "$WORK/r.yaml" >"$WORK/r.out"
grep -q 'written-by-writer' "$WORK/r.out" || fail "mapped server: $(cat "$WORK/r.out")"
case_ "an account no configuration knows: create fails naming the volume and account"
sed 's/storageAccountName: acct1/storageAccountName: nobody1/; s/name: reader/name: nobody/' "$WORK/r.yaml" >"$WORK/nobody.yaml"
if capsid create -f "$WORK/nobody.yaml" >"$WORK/nobody.out" 2>&1; then fail "an unknown storage account was accepted"; fi
grep -q 'volume files: storage account nobody1' "$WORK/nobody.out" || fail "unknown account message: $(cat "$WORK/nobody.out")"
[ ! -e "$ROOT/groups/nobody" ] || fail "the failed create left its group"
case_ "SMB on the gateway is for groups with share volumes only"
write_spec "$WORK/noshare-net.yaml" plain Never "a|1|0.25|nc -w 3 $GATEWAY 445 </dev/null && echo SMB-OPEN || echo SMB-CLOSED"
capsid run --rm -f "$WORK/noshare-net.yaml" >"$WORK/plain.out" 2>&1 || true
grep -q SMB-CLOSED "$WORK/plain.out" || fail "a group without share volumes reaches smbd: $(cat "$WORK/plain.out")"

case_ "the key is in no output, state file or host process argument"
capsid show writer >"$WORK/show.json"
capsid show writer -o yaml >>"$WORK/show.json"
capsid logs writer >>"$WORK/show.json"
if grep -qF "$KEY" "$WORK/show.json"; then fail "the key is in show/logs output"; fi
for f in $(find "$ROOT/groups" "$ROOT/networks" -type f 2>/dev/null); do
	if grep -qF "$KEY" "$f"; then fail "the key is in $f"; fi
done
for p in /proc/[0-9]*/cmdline; do
	if { tr '\0' ' ' <"$p"; } 2>/dev/null | grep -qF "$KEY"; then fail "the key is in the arguments of $p"; fi
done
capsid delete writer >/dev/null

case_ "readOnly on the volume and on the mount: writes are refused"
share_spec "$WORK/ro1.yaml" ro-vol 'echo x > /mnt/files/ro-attempt && echo WROTE || echo REFUSED' ', readOnly: true'
capsid run --rm -f "$WORK/ro1.yaml" >"$WORK/ro1.out" || true
grep -q REFUSED "$WORK/ro1.out" || fail "azureFile readOnly not enforced: $(cat "$WORK/ro1.out")"
share_spec "$WORK/ro2.yaml" ro-mount 'echo x > /mnt/files/ro-attempt && echo WROTE || echo REFUSED' '' ', readOnly: true'
capsid run --rm -f "$WORK/ro2.yaml" >"$WORK/ro2.out" || true
grep -q REFUSED "$WORK/ro2.out" || fail "volumeMounts readOnly not enforced: $(cat "$WORK/ro2.out")"
[ ! -e "$SHARE_DIR/ro-attempt" ] || fail "a read-only mount wrote to the share"

case_ "a wrong key: the container fails with an event naming the volume, and create returns"
# A wrong key and a missing share: the container fails with an event naming
# the volume (restartPolicy Never: the group fails), and create returns.
WRONG=$(printf '%088d' 0 | tr 0 A)
share_spec "$WORK/bad.yaml" badkey 'echo should-not-run' '' '' "$WRONG"
capsid create -f "$WORK/bad.yaml" >/dev/null 2>&1 || true
wait_for "badkey ends" done_running badkey
events_of badkey app >"$WORK/ev"
grep -q 'volume files' "$WORK/ev" || fail "wrong key: no event naming the volume: $(cat "$WORK/ev")"
grep -qi 'access denied\|permission denied' "$WORK/ev" || fail "wrong key: event does not say why: $(cat "$WORK/ev")"
[ "$(group_state badkey)" = Failed ] || fail "wrong key: group is $(group_state badkey)"
if capsid logs badkey | grep -q should-not-run; then fail "the container ran without its volume"; fi
capsid delete badkey >/dev/null
case_ "a missing share: the container fails with an event naming the volume and share"
share_spec "$WORK/noshare.yaml" noshare 'echo should-not-run' '' '' "$KEY" nosuchshare
capsid create -f "$WORK/noshare.yaml" >/dev/null 2>&1 || true
wait_for "noshare ends" done_running noshare
events_of noshare app >"$WORK/ev"
grep -q 'volume files' "$WORK/ev" && grep -q 'nosuchshare' "$WORK/ev" ||
	fail "missing share: no event naming the volume and share: $(cat "$WORK/ev")"
capsid delete noshare >/dev/null

case_ "two groups append to one file at once: nothing lost or duplicated"
# Two groups append to one file at once, 150 lines each. SMB has no atomic
# append across clients (Azure Files neither): writers take a lock, here a
# directory (mkdir is atomic on the server); each append then opens the
# file afresh. Nothing may be lost or duplicated.
APPEND='while [ ! -e /mnt/files/go ]; do sleep 0.05; done
for i in $(seq 1 150); do
  until mkdir /mnt/files/append.lock 2>/dev/null; do :; done
  echo "$(hostname)-line-$i" >> /mnt/files/appended
  rmdir /mnt/files/append.lock
done
echo appended-all'
share_spec "$WORK/a1.yaml" app1 "$APPEND"
share_spec "$WORK/a2.yaml" app2 "$APPEND"
capsid create -f "$WORK/a1.yaml" >/dev/null
capsid create -f "$WORK/a2.yaml" >/dev/null
touch "$SHARE_DIR/go"
wait_for "app1 appends" done_running app1
wait_for "app2 appends" done_running app2
capsid logs app1 | grep -q appended-all || fail "app1 did not finish: $(capsid logs app1)"
capsid logs app2 | grep -q appended-all || fail "app2 did not finish: $(capsid logs app2)"
[ "$(grep -c '^app1-line-' "$SHARE_DIR/appended")" = 150 ] || fail "app1 lines: $(grep -c '^app1-line-' "$SHARE_DIR/appended") of 150"
[ "$(grep -c '^app2-line-' "$SHARE_DIR/appended")" = 150 ] || fail "app2 lines: $(grep -c '^app2-line-' "$SHARE_DIR/appended") of 150"
[ "$(sort -u "$SHARE_DIR/appended" | wc -l)" = 300 ] || fail "duplicate or torn lines in the appended file"
capsid delete app1 >/dev/null
capsid delete app2 >/dev/null

case_ "share data survives every group's deletion and a restart of smbd"
# Share data survives the deletion of every group and a restart of smbd:
# the next group that mounts the share starts the service again.
"$CAPSID_BIN" __smbd stop >/dev/null
! pgrep -f "[s]mbd .*$ROOT/" >/dev/null || fail "smbd still running after stop"
capsid run --rm -f "$WORK/r.yaml" >"$WORK/r2.out"
grep -q 'written-by-writer' "$WORK/r2.out" || fail "share data lost across an smbd restart: $(cat "$WORK/r2.out")"
case_ "that group gone, nothing uses the service: smbd ends on its own"
wait_for "smbd to end with its last group" sh -c "! pgrep -f '[s]mbd .*$ROOT/'"
echo PASS
