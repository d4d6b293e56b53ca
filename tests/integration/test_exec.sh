#!/usr/bin/env bash
# exec: exit codes, stdin, and a TTY whose size follows the client's.
. "$(dirname "$0")/lib.sh"

write_spec "$WORK/sleeper.yaml" sleeper Never 'main|1|0.25|echo ready; exec sleep 3600'
capsid create -f "$WORK/sleeper.yaml" >/dev/null
wait_for "main to run" sh -c "$CAPSID_BIN show sleeper | grep -q '\"state\": \"Running\"'"

case_ "exec: exit code, stdout and stderr come back apart"
set +e
capsid exec sleeper -- sh -c 'echo out; echo err >&2; exit 7' >"$WORK/o" 2>"$WORK/e"
rc=$?
set -e
[ $rc = 7 ] || fail "exec exit code $rc, want 7"
[ "$(cat "$WORK/o")" = out ] || fail "exec stdout: $(cat "$WORK/o")"
[ "$(cat "$WORK/e")" = err ] || fail "exec stderr: $(cat "$WORK/e")"

case_ "exec -i: stdin reaches the command"
got=$(printf 'line1\nline2\n' | capsid exec -i sleeper -- sh -c 'wc -l')
[ "$(echo $got)" = 2 ] || fail "exec -i stdin: $got"

case_ "exec sees the container's processes (the same pid namespace)"
capsid exec sleeper -- ps -o comm= | grep -q sleep || fail "exec does not see the container's processes"

case_ "exec -t: a pty whose size follows the client's"
# TTY: `script` gives the client a terminal of a known size
out=$(script -qec "stty rows 33 cols 101; $CAPSID_BIN exec -t sleeper -- sh -c 'tty; stty size'" /dev/null | tr -d '\r')
echo "$out"
grep -q '^/dev/pts/' <<<"$out" || fail "exec -t has no pty: $out"
grep -q '^33 101$' <<<"$out" || fail "exec -t window size: $out"

case_ "exec into a missing container is an error that says so"
set +e
capsid exec sleeper --container nope -- true 2>"$WORK/e"
rc=$?
set -e
[ $rc != 0 ] && grep -q 'no such container' "$WORK/e" || fail "exec into a missing container: $(cat "$WORK/e")"
echo PASS
