#!/usr/bin/env bash
# secureValue reaches the container but never show, logs, state files, or
# any host process's arguments.
. "$(dirname "$0")/lib.sh"

secret="s3cret-$(date +%s%N)"
cat >"$WORK/sec.yaml" <<Y
name: sec
properties:
  restartPolicy: Never
  containers:
  - name: app
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "echo token=\$(echo \$TOKEN | tr 0-9 a-j); echo plain=\$PLAIN; sleep 2"]
      environmentVariables:
      - {name: TOKEN, secureValue: $secret}
      - {name: PLAIN, value: visible}
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
Y
case_ "a secure value is in no host process's arguments"
capsid create -f "$WORK/sec.yaml" >/dev/null
if grep -q -- "$secret" /proc/[0-9]*/cmdline 2>/dev/null; then fail "secret in a process command line"; fi
case_ "the container gets the secure value and the plain one"
wait_for "sec to end" state_is sec Succeeded
# The container prints the value transformed (digits to letters), so the
# clear text itself never has a reason to be in the logs.
want=$(echo "$secret" | tr 0-9 a-j)
capsid logs sec | grep -q "^token=$want\$" || fail "container did not get the secure value: $(capsid logs sec 2>&1)"
capsid logs sec | grep -q '^plain=visible$' || fail "plain value missing"
case_ "the secure value is in neither show, logs nor state files; its name is listed"
capsid show sec | grep -q -- "$secret" && fail "secret in show"
capsid logs sec | grep -q -- "$secret" && fail "secret in logs"
capsid show sec -o yaml | grep -q -- "$secret" && fail "secret in show -o yaml"
capsid show sec | grep -q '"TOKEN"' || fail "secure variable name should still be listed"
grep -rq -- "$secret" "$ROOT/groups" && fail "secret in state files: $(grep -rl -- "$secret" "$ROOT/groups")"
echo PASS
