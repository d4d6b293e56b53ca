#!/usr/bin/env bash
# capsid image import/list/rm through the CLI; the image config's Cmd and Env
# are honoured when the spec gives no command.
. "$(dirname "$0")/lib.sh"

case_ "image list shows the demo; import --name adds a ref"
capsid image list | grep -q 'capsid/demo:latest' || fail "demo image not listed"
capsid image import "$DEMO_TAR" --name local/copy:v1 >/dev/null
capsid image list | grep -q 'local/copy:v1' || fail "renamed import not listed"

case_ "the image config's Cmd runs when the spec gives no command"
cat >"$WORK/cfg.yaml" <<'Y'
name: imgcfg
properties:
  restartPolicy: Never
  containers:
  - name: c
    properties:
      image: local/copy:v1
      environmentVariables: [{name: EXTRA, value: "1"}]
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
Y
# The demo image's Cmd is /bin/sh, which exits at once on empty stdin.
capsid run -f "$WORK/cfg.yaml" >/dev/null || fail "image Cmd did not run"

case_ "image rm removes one ref and keeps the other; a missing ref is an error"
capsid image rm local/copy:v1
capsid image list | grep -q 'local/copy:v1' && fail "rm did not remove the ref"
capsid image list | grep -q 'capsid/demo:latest' || fail "rm removed the other ref"
set +e
capsid image rm no/such:ref 2>"$WORK/e"
rc=$?
set -e
[ $rc = 1 ] || fail "rm of a missing ref exit $rc"
echo PASS
