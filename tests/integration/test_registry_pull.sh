#!/usr/bin/env bash
# A group runs from an image create pulls: a registry the test starts
# (docker-registry with TLS and htpasswd, see tests/e2e/registry_lib.sh)
# holds the image, the spec's imageRegistryCredentials authenticate, and
# the password appears nowhere (show, the state root, process arguments).
# A pull that fails names the container's image field with the registry's
# reason and leaves no group behind; --pull never does not pull.
. "$(dirname "$0")/lib.sh"
REG_WORK=$WORK/reg
. "$(dirname "$0")/../e2e/registry_lib.sh"
registry_setup
export CAPSID_REGISTRY_CA=$REG_CA

# write_pull_spec FILE NAME IMAGE PASSWORD
write_pull_spec() {
	cat >"$1" <<EOF
apiVersion: 2021-10-01
name: $2
properties:
  osType: Linux
  restartPolicy: Never
  imageRegistryCredentials:
  - server: https://$REG_AUTH
    username: $REG_USER
    password: "$4"
  containers:
  - name: app
    properties:
      image: $3
      resources:
        requests: {cpu: 1, memoryInGB: 0.5}
EOF
}

case_ "run pulls an image not in the store with the spec's credentials"
# The image is not in the store: run pulls it with the spec's credentials.
write_pull_spec "$WORK/pulled.yaml" pulled "$REG_AUTH/test/app:v1" "$REG_PASS"
capsid image list | grep -q "test/app" && fail "image present before the run"
( while sleep 0.2; do ps -eo args= | grep -F -- "$REG_PASS" | grep -v grep || true; done ) >"$WORK/argv-hits" 2>/dev/null &
watcher=$!
CLEANUP_PIDS+=($watcher)
out=$(capsid run -f "$WORK/pulled.yaml" 2>"$WORK/err") || fail "run: $(cat "$WORK/err")"
kill $watcher 2>/dev/null || fail "the argv watcher died"
echo "$out"
grep -q '^app | hello from the registry$' <<<"$out" || fail "no greeting from the pulled image: $out / $(cat "$WORK/err")"
grep -q "pulling $REG_AUTH/test/app:v1" "$WORK/err" || fail "no pull reported: $(cat "$WORK/err")"
state_is pulled Succeeded || fail "state $(group_state pulled)"
capsid image list | grep -q "^$REG_AUTH/test/app:v1 .* registry $REG_AUTH/test/app\$" ||
	fail "image list: $(capsid image list)"

case_ "the registry password is in neither show, the state root nor any process's arguments"
# The password: not in show, not in the state root, not in any argv.
capsid show pulled >"$WORK/show.json"
grep -q imageRegistryCredentials "$WORK/show.json" || fail "show lacks imageRegistryCredentials"
grep -qF "$REG_USER" "$WORK/show.json" || fail "show lacks the username"
grep -qF -- "$REG_PASS" "$WORK/show.json" && fail "show reveals the registry password"
grep -rlF --exclude-dir=work -- "$REG_PASS" "$ROOT" && fail "password stored in: $(grep -rlF --exclude-dir=work -- "$REG_PASS" "$ROOT")"
[ ! -s "$WORK/argv-hits" ] || fail "password in a process's arguments: $(head -n 3 "$WORK/argv-hits")"

case_ "an image in the store is not pulled again (--pull missing)"
# Present now: a second group starts without pulling (--pull missing).
write_pull_spec "$WORK/again.yaml" again "$REG_AUTH/test/app:v1" "$REG_PASS"
capsid run -f "$WORK/again.yaml" >/dev/null 2>"$WORK/err" || fail "second run: $(cat "$WORK/err")"
grep -q "pulling" "$WORK/err" && fail "an image in the store was pulled again"

case_ "a wrong password: create names the image field with the registry's reason and leaves nothing"
# Wrong password: create fails naming the field with the registry's reason;
# no group, no image, no blob left.
write_pull_spec "$WORK/bad.yaml" badpull "$REG_AUTH/test/multi:v1" "not-the-password"
blobs_before=$(ls "$ROOT/images/blobs/sha256" | wc -l)
if capsid create -f "$WORK/bad.yaml" >/dev/null 2>"$WORK/err"; then fail "create with a wrong password succeeded"; fi
cat "$WORK/err"
grep -q "properties.containers\[0\].properties.image: pull $REG_AUTH/test/multi:v1: .*unauthorized" "$WORK/err" ||
	fail "error: $(cat "$WORK/err")"
grep -qF -- "not-the-password" "$WORK/err" && fail "the error shows the password"
[ ! -e "$ROOT/groups/badpull" ] || fail "a failed pull left the group directory"
capsid image list | grep -q "test/multi" && fail "a refused pull left an image"
[ "$(ls "$ROOT/images/blobs/sha256" | wc -l)" = "$blobs_before" ] || fail "a refused pull left blobs"

case_ "--pull never: a missing image is an error; --pull sometimes is refused"
# --pull never: a missing image is an error, nothing is fetched.
write_pull_spec "$WORK/never.yaml" never "$REG_AUTH/test/multi:v1" "$REG_PASS"
if capsid create --pull never -f "$WORK/never.yaml" >/dev/null 2>"$WORK/err"; then fail "--pull never pulled"; fi
grep -q "properties.containers\[0\].properties.image: image $REG_AUTH/test/multi:v1 not found" "$WORK/err" ||
	fail "--pull never: $(cat "$WORK/err")"
if capsid create --pull sometimes -f "$WORK/never.yaml" >/dev/null 2>"$WORK/err"; then fail "--pull sometimes accepted"; fi
grep -q "expected missing, always or never" "$WORK/err" || fail "--pull sometimes: $(cat "$WORK/err")"
echo PASS
