#!/usr/bin/env bash
# Bad specs are rejected with the field path, and leave nothing behind.
. "$(dirname "$0")/lib.sh"

expect_reject() {
	local file=$1 pattern=$2
	set +e
	capsid create -f "$file" >/dev/null 2>"$WORK/err"
	local rc=$?
	set -e
	[ $rc = 1 ] || fail "$file: exit $rc, want 1"
	grep -qF -- "$pattern" "$WORK/err" || fail "$file: want '$pattern' in: $(cat "$WORK/err")"
}

case_ "a container with cpu 0 is rejected naming its requests.cpu"
write_spec "$WORK/cpu.yaml" badcpu Never 'a|1|0.25|true' 'b|0|0.25|true'
expect_reject "$WORK/cpu.yaml" 'properties.containers[1].properties.resources.requests.cpu'

case_ "osType Windows is rejected naming properties.osType"
cat >"$WORK/win.yaml" <<'Y'
name: win
properties:
  osType: Windows
  containers:
  - name: a
    properties: {image: capsid/demo:latest, resources: {requests: {cpu: 1, memoryInGB: 1}}}
Y
expect_reject "$WORK/win.yaml" 'properties.osType'

case_ "two containers of one name are rejected"
write_spec "$WORK/dup.yaml" dup Never 'web|1|0.25|true' 'web|1|0.25|true'
expect_reject "$WORK/dup.yaml" 'properties.containers[1].name'

case_ "a container name with capitals and an underscore is rejected"
write_spec "$WORK/upper.yaml" upper Never 'Web_1|1|0.25|true'
expect_reject "$WORK/upper.yaml" 'properties.containers[0].name'

case_ "an image not in the store is rejected naming the image field"
cat >"$WORK/noimg.yaml" <<'Y'
name: noimg
properties:
  containers:
  - name: a
    properties: {image: no/such:image, resources: {requests: {cpu: 1, memoryInGB: 1}}}
Y
expect_reject "$WORK/noimg.yaml" 'properties.containers[0].properties.image'

case_ "a JSON spec whose container has no resources is rejected"
echo '{"name": "json", "properties": {"containers": [{"name": "a", "properties": {"image": "capsid/demo:latest"}}]}}' >"$WORK/nores.json"
expect_reject "$WORK/nores.json" 'properties.containers[0].properties.resources'

case_ "a file that is not YAML is rejected naming the file"
printf 'name: [unterminated\n' >"$WORK/garbage.yaml"
expect_reject "$WORK/garbage.yaml" 'garbage.yaml'

# volume rules, each error naming its field (the full set: unit.spec_volumes)
case_ "a volumeMount naming no volume is rejected"
cat >"$WORK/vol.yaml" <<'Y'
name: vol
properties:
  volumes: [{name: scratch, emptyDir: {}}]
  containers:
  - name: a
    properties:
      image: capsid/demo:latest
      volumeMounts: [{name: nosuch, mountPath: /data}]
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
Y
expect_reject "$WORK/vol.yaml" 'properties.containers[0].properties.volumeMounts[0].name'
case_ "a mountPath with a colon is rejected"
sed -i 's|{name: nosuch, mountPath: /data}|{name: scratch, mountPath: "data:x"}|' "$WORK/vol.yaml"
expect_reject "$WORK/vol.yaml" 'properties.containers[0].properties.volumeMounts[0].mountPath'
case_ "a volume of two kinds at once is rejected"
sed -i 's|{name: scratch, emptyDir: {}}|{name: scratch, emptyDir: {}, secret: {a: YQ==}}|; s|mountPath: "data:x"|mountPath: /data|' "$WORK/vol.yaml"
expect_reject "$WORK/vol.yaml" 'properties.volumes[0]'

case_ "rejected specs leave no group behind"
[ -z "$(ls -A "$ROOT/groups" 2>/dev/null)" ] || fail "rejected specs left groups: $(ls "$ROOT/groups")"

case_ "an unknown field is a warning, not an error"
cat >"$WORK/warn.yaml" <<'Y'
name: warn
properties:
  restartPolicy: Never
  frobnicate: true
  containers:
  - name: a
    properties: {image: capsid/demo:latest, command: ["true"], resources: {requests: {cpu: 1, memoryInGB: 0.25}}}
Y
capsid run -f "$WORK/warn.yaml" 2>"$WORK/err" >/dev/null || fail "unknown field made create fail: $(cat "$WORK/err")"
grep -q 'properties.frobnicate' "$WORK/err" || fail "no warning for unknown field: $(cat "$WORK/err")"
echo PASS
