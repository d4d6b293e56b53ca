#!/usr/bin/env bash
# Disk-backed volumes in the guest: a gitRepo cloned on the host at a given
# revision from a local bare repository this test makes (with `directory`
# honoured, read-only, and a clear error naming a repository that does not
# exist), and a persistent capsidDisk: written by one group, refused to a
# second writer while attached, read by the next group after the first is
# deleted, readOnly enforced, and copied out through libguestfs.
. "$(dirname "$0")/lib.sh"

done_running() { ! state_is "$1" Running && ! state_is "$1" Pending; }

case_ "a gitRepo at a revision, with directory honoured, read-only"
REPO=$WORK/app.git
git init -q --bare "$REPO"
git clone -q "$REPO" "$WORK/src" 2>/dev/null
(
	cd "$WORK/src"
	git config user.email t@example.invalid
	git config user.name test
	echo version-1 >app.txt
	git add app.txt
	git commit -qm one
	git tag v1
	echo version-2 >app.txt
	git commit -qam two
	git push -q origin HEAD:refs/heads/main --tags
)
git -C "$REPO" symbolic-ref HEAD refs/heads/main

cat >"$WORK/git.yaml" <<Y
name: git
properties:
  restartPolicy: Never
  volumes:
  - name: pinned
    gitRepo: {repository: "$REPO", revision: v1, directory: .}
  - name: latest
    gitRepo: {repository: "$REPO"}
  containers:
  - name: app
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "cat /pinned/app.txt /latest/app/app.txt; echo x > /pinned/new 2>&1 || true"]
      volumeMounts: [{name: pinned, mountPath: /pinned}, {name: latest, mountPath: /latest}]
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
Y
capsid run --rm -f "$WORK/git.yaml" >"$WORK/git.out" 2>&1 || fail "gitRepo group: $(cat "$WORK/git.out")"
grep -q 'app | version-1' "$WORK/git.out" || fail "revision v1 not checked out at the volume root: $(cat "$WORK/git.out")"
grep -q 'app | version-2' "$WORK/git.out" || fail "default branch not in the repository's directory: $(cat "$WORK/git.out")"
grep -q 'Read-only file system' "$WORK/git.out" || fail "gitRepo volume is writable: $(cat "$WORK/git.out")"

case_ "a gitRepo of a repository that does not exist: create names it and leaves nothing"
sed "s|$REPO|$WORK/missing.git|g; s/name: git/name: gitbad/" "$WORK/git.yaml" >"$WORK/gitbad.yaml"
if capsid create -f "$WORK/gitbad.yaml" >"$WORK/gitbad.out" 2>&1; then fail "a missing repository was accepted"; fi
grep -q "$WORK/missing.git" "$WORK/gitbad.out" || fail "the error does not name the repository: $(cat "$WORK/gitbad.out")"
[ ! -e "$ROOT/groups/gitbad" ] || fail "a failed create left its group directory"

case_ "a capsidDisk written by one group"
capsid volume create pdata --size 64M >/dev/null

# disk_spec FILE NAME COMMAND [VOLUME-EXTRA]
disk_spec() {
	cat >"$1" <<Y
name: $2
properties:
  restartPolicy: Never
  volumes:
  - name: store
    capsidDisk: {volumeName: pdata${4:-}}
  containers:
  - name: app
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$3")]
      volumeMounts: [{name: store, mountPath: /store}]
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
Y
}

disk_spec "$WORK/d1.yaml" d1 'seq 1 1000 > /store/numbers; sync; echo wrote; sleep 600'
capsid create -f "$WORK/d1.yaml" >/dev/null
wait_for "d1 writes" sh -c "'$CAPSID_BIN' logs d1 | grep -q wrote"

case_ "a second writer is refused while the first has the disk, naming the holder"
disk_spec "$WORK/d2.yaml" d2 'echo should-not-run'
if capsid create -f "$WORK/d2.yaml" >"$WORK/d2.out" 2>&1; then fail "a second writer was attached"; fi
grep -q 'attached read-write by group d1' "$WORK/d2.out" || fail "second writer message: $(cat "$WORK/d2.out")"
[ ! -e "$ROOT/groups/d2" ] || fail "the refused group left its directory"

case_ "the next group reads the disk after the first is deleted"
capsid delete d1 >/dev/null
disk_spec "$WORK/d3.yaml" d3 'sha256sum /store/numbers'
capsid run --rm -f "$WORK/d3.yaml" >"$WORK/d3.out"
want=$(seq 1 1000 | sha256sum | cut -d' ' -f1)
grep -q "$want" "$WORK/d3.out" || fail "disk data did not survive the group: $(cat "$WORK/d3.out")"

case_ "readOnly on a capsidDisk is enforced"
disk_spec "$WORK/d4.yaml" d4 'cat /store/numbers | wc -l; echo x > /store/new 2>&1 || true' ', readOnly: true'
capsid run --rm -f "$WORK/d4.yaml" >"$WORK/d4.out" 2>&1
grep -q 'app | 1000' "$WORK/d4.out" || fail "read-only attach cannot read: $(cat "$WORK/d4.out")"
grep -q 'Read-only file system' "$WORK/d4.out" || fail "readOnly disk is writable: $(cat "$WORK/d4.out")"

case_ "volume cp copies the disk's data out"
mkdir "$WORK/out"
capsid volume cp pdata:/numbers "$WORK/out" >/dev/null
[ "$(sha256sum <"$WORK/out/numbers" | cut -d' ' -f1)" = "$want" ] || fail "volume cp out: content differs"
echo PASS
