#!/usr/bin/env bash
# The libvirt backend (--vmm libvirt) against a libvirtd this test starts
# privately (libvirtd_private.sh: its own configuration, socket, state and
# runtime directories) in the test's network namespace: a group is a
# transient domain named capsid-NAME with capsid's metadata, shown by virsh;
# run, logs, exec, stop/start/restart, networking and volumes behave as
# with direct QEMU; delete and a SIGKILLed monitor leave no domain.
# Skips (77) when libvirtd or virsh is missing; fails when the libvirtd it
# started does not answer.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/libvirt_lib.sh"

export CAPSID_LIBVIRT_URI=$URI
domains() { vsh list --name | sed '/^$/d'; }
has_domain() { domains | grep -qx "capsid-$1"; }

case_ "run --vmm libvirt: output, exit code, and the domain gone with the group's end"
write_spec "$WORK/hello.yaml" hello Never 'hello|1|0.25|echo "hello from $(uname -r)"; exit 3'
set +e
out=$(capsid run --vmm libvirt -f "$WORK/hello.yaml" 2>"$WORK/err")
rc=$?
set -e
grep -q '^hello | hello from ' <<<"$out" || fail "no hello line: $out $(cat "$WORK/err")"
[ $rc = 3 ] || fail "run exit code $rc, want 3"
[ "$(capsid show hello | json_get 'd["capsid"]["vmm"]')" = libvirt ] || fail "show does not say vmm libvirt"
! has_domain hello || fail "the ended group's domain is still listed"
capsid delete hello

case_ "create: a domain capsid-NAME with capsid's metadata, in virsh list and dominfo"
write_web_spec "$WORK/web.yaml"
cat >>"$WORK/web.yaml" <<'Y'
  ipAddress:
    type: Public
    ports: [{port: 8080, protocol: TCP}]
  volumes:
  - name: scratch
    emptyDir: {}
Y
python3 - "$WORK/web.yaml" <<'P'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("      resources:", "      ports: [{port: 8080}]\n      volumeMounts: [{name: scratch, mountPath: /scratch}]\n      resources:", 1)
open(p, "w").write(s)
P
ip addr add 192.0.2.1/32 dev lo
export CAPSID_PUBLISH_ADDRESS=192.0.2.1
capsid create --vmm libvirt -f "$WORK/web.yaml" >/dev/null
has_domain web || fail "virsh list: $(domains)"
vsh dominfo capsid-web | grep -Eq '^State: +running' || fail "dominfo: $(vsh dominfo capsid-web)"
xml=$(vsh dumpxml capsid-web)
grep -q "<name>web</name>" <<<"$xml" || fail "no group name in the domain's metadata"
grep -q "<root>$ROOT</root>" <<<"$xml" || fail "no state root in the domain's metadata"
grep -q "machine='microvm'" <<<"$xml" || fail "the domain is not a microvm"
[ "$(capsid show web | json_get 'd["capsid"]["domain"]')" = capsid-web ] || fail "show does not name the domain"
qpid=$(qemu_pid web)
[ "$qpid" -gt 0 ] && grep -q "guest=capsid-web" "/proc/$qpid/cmdline" || fail "qemuPid $qpid is not the domain's QEMU"

case_ "libvirt's confinement: QEMU as libvirt-qemu (its disks passed as descriptors), seccomp, its own cgroup"
# libvirt-qemu exists in the private libvirtd's /etc only (libvirtd_private.sh).
qemu_uid=$(awk -F: '$1 == "libvirt-qemu" {print $3}' "$LVD/etc-up/passwd")
[ -n "$qemu_uid" ] && [ "$(stat -c %u "/proc/$qpid")" = "$qemu_uid" ] ||
	fail "QEMU runs as uid $(stat -c %u "/proc/$qpid"), libvirt-qemu is ${qemu_uid:-missing}"
grep -Eq '^Seccomp:[[:space:]]+2' "/proc/$qpid/status" || fail "QEMU has no seccomp filter"
grep -q 'machine/qemu-[0-9]*-capsid-web' "/proc/$qpid/cgroup" || fail "QEMU not in its libvirt cgroup: $(cat "/proc/$qpid/cgroup")"

case_ "networking: the published port reaches the group through libvirt's tap"
fetch() { python3 -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode().strip())' "$1"; }
wait_for "httpd through the published port" fetch http://192.0.2.1:8080/
[ "$(fetch http://192.0.2.1:8080/)" = web-says-hi ] || fail "published port content"

case_ "exec and logs; an emptyDir volume is mounted"
[ "$(capsid exec web -- sh -c 'echo x > /scratch/f && cat /scratch/f')" = x ] || fail "exec into the volume"
capsid exec web -- sh -c 'echo exec-ok' | grep -qx exec-ok || fail "exec output"

case_ "stop ends the domain; start boots it again through libvirt"
capsid stop web
! has_domain web || fail "stopped group's domain still listed"
state_is web Stopped || fail "state $(group_state web), want Stopped"
capsid start web
wait_for "web running after start" state_is web Running
has_domain web || fail "no domain after start: $(domains)"
wait_for "httpd after start" fetch http://192.0.2.1:8080/

case_ "restart: a new domain, the group Running"
old=$(vsh domid capsid-web)
capsid restart web
wait_for "web running after restart" state_is web Running
new=$(vsh domid capsid-web)
[ -n "$new" ] && [ "$new" != "$old" ] || fail "restart kept domain id $old"

case_ "restart policy: a container that exits is restarted inside the domain"
write_spec "$WORK/flap.yaml" flap Always 'flap|1|0.25|echo tick; sleep 1; exit 1'
capsid create --vmm libvirt -f "$WORK/flap.yaml" >/dev/null
wait_for "two runs of flap" sh -c "[ \$($CAPSID_BIN logs flap | grep -c tick) -ge 2 ]"
has_domain flap || fail "flap's domain is gone"
capsid delete flap
! has_domain flap || fail "delete left flap's domain"

case_ "virsh destroy: the monitor learns of its VM's end from libvirt; the group Failed, then starts again"
vsh destroy capsid-web >/dev/null
wait_for "web Failed after virsh destroy" state_is web Failed
glog web | grep -q "libvirt domain capsid-web ended" || fail "the monitor did not log the domain's end"
capsid start web
wait_for "web running after start" state_is web Running

case_ "SIGKILL of the monitor destroys its domain (autodestroy), not orphaned"
kill -9 "$(cat "$ROOT/groups/web/monitor.pid")"
wait_for "the domain to go with its monitor" sh -c "! virsh -q -c '$URI' list --name | grep -qx capsid-web"
wait_for "QEMU to die with its monitor" sh -c "! pgrep -f '[q]emu-system.*$ROOT/' >/dev/null"

case_ "a new monitor boots the group through the libvirt and URI it kept (no --vmm, no CAPSID_LIBVIRT_URI)"
(unset CAPSID_LIBVIRT_URI; capsid start web)
wait_for "web running after a lost monitor" state_is web Running
has_domain web || fail "no domain after start by a new monitor: $(domains)"
[ "$(capsid show web | json_get 'd["capsid"]["libvirtUri"]')" = "$URI" ] || fail "the group lost its libvirt URI"

case_ "delete leaves no domain, defined or running"
capsid delete web
[ -z "$(domains)" ] || fail "domains left: $(domains)"
[ -z "$(vsh list --all --name | sed '/^$/d')" ] || fail "defined domains left: $(vsh list --all --name)"

case_ "volumes through libvirt: a capsidDisk (its qcow2 passed as a descriptor) written by one group, read by the next; a secret"
capsid volume create pdata --size 64M >/dev/null
# disk_spec FILE NAME COMMAND
disk_spec() {
	cat >"$1" <<Y
name: $2
properties:
  restartPolicy: Never
  volumes:
  - name: store
    capsidDisk: {volumeName: pdata}
  - name: creds
    secret: {token: $(printf 's3cret' | base64)}
  containers:
  - name: app
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$3")]
      volumeMounts: [{name: store, mountPath: /store}, {name: creds, mountPath: /creds}]
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
Y
}
disk_spec "$WORK/d1.yaml" d1 'seq 1 1000 > /store/numbers && sync && cat /creds/token && echo " wrote"'
capsid run --rm --vmm libvirt -f "$WORK/d1.yaml" >"$WORK/d1.out" 2>&1 || fail "the writer failed: $(cat "$WORK/d1.out")"
grep -q 's3cret wrote' "$WORK/d1.out" || fail "the writer's output: $(cat "$WORK/d1.out")"
disk_spec "$WORK/d2.yaml" d2 'sha256sum /store/numbers'
capsid run --rm --vmm libvirt -f "$WORK/d2.yaml" >"$WORK/d2.out" 2>&1 || fail "the reader failed: $(cat "$WORK/d2.out")"
grep -q "$(seq 1 1000 | sha256sum | cut -d' ' -f1)" "$WORK/d2.out" || fail "the disk's data did not survive: $(cat "$WORK/d2.out")"
[ -z "$(domains)" ] || fail "domains left after run --rm: $(domains)"

case_ "the state root's vmm.json chooses libvirt and its URI for a group created without --vmm"
printf '{"vmm": "libvirt", "libvirtUri": "%s"}\n' "$URI" >"$ROOT/vmm.json"
write_spec "$WORK/rootvmm.yaml" rootvmm Always 'c|1|0.25|exec sleep 3600'
(unset CAPSID_LIBVIRT_URI; capsid create -f "$WORK/rootvmm.yaml" >/dev/null)
has_domain rootvmm || fail "vmm.json did not choose libvirt: $(domains)"
capsid delete rootvmm
echo '{"vmm": "xen"}' >"$ROOT/vmm.json"
set +e
capsid create -f "$WORK/rootvmm.yaml" >/dev/null 2>"$WORK/err"
rc=$?
set -e
[ $rc != 0 ] && grep -q 'vmm.json' "$WORK/err" || fail "a bad vmm.json not reported: $(cat "$WORK/err")"
[ ! -e "$ROOT/groups/rootvmm" ] || fail "a refused create left the group"
rm "$ROOT/vmm.json"

case_ "a libvirt URI nothing answers is a create error that leaves nothing"
write_spec "$WORK/lost.yaml" lost Never 'c|1|0.25|true'
set +e
capsid create --vmm libvirt --libvirt-uri "qemu+unix:///system?socket=$LVD/none" -f "$WORK/lost.yaml" >/dev/null 2>"$WORK/err"
rc=$?
set -e
[ $rc != 0 ] && grep -q 'libvirt' "$WORK/err" || fail "bad URI not reported: $(cat "$WORK/err")"
[ ! -e "$ROOT/groups/lost" ] || fail "failed create left the group"
echo PASS
