#!/usr/bin/env bash
# runc stays supported inside the guest (crun is the default).
. "$(dirname "$0")/lib.sh"

case_ "runc runs a container: its output and exit code, the runtime recorded"
write_spec "$WORK/r.yaml" viarunc Never 'c|1|0.25|echo runtime-ok; cat /proc/self/cgroup; exit 4'
set +e
out=$(capsid run --runtime runc -f "$WORK/r.yaml")
rc=$?
set -e
echo "$out"
[ $rc = 4 ] || fail "exit code $rc under runc"
grep -q '^c | runtime-ok$' <<<"$out" || fail "no output under runc"
capsid show viarunc | grep -q '"runtime": "runc"' || fail "runtime not recorded"
echo PASS
