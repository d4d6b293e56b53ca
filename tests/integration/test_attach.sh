#!/usr/bin/env bash
# A container's own stdin and terminal (the spec's properties.stdin and
# .tty) through libcapsid's capsid_group_attach (capsid_attach_tool): input
# reaches the process and its end ends it; a tty container's process has a
# pty sized by the session; a container without either refuses the attach,
# as does an ended run; a bad value is refused naming its field.
. "$(dirname "$0")/lib.sh"
TOOL=$BUILD_DIR/bin/capsid_attach_tool
[ -x "$TOOL" ] || fail "missing $TOOL"

case_ "a stdin or tty that is not a boolean is refused with its field path"
cat >"$WORK/bad.yaml" <<'YAML'
name: bad
properties:
  containers:
  - name: c
    properties:
      image: capsid/demo:latest
      stdin: "yes"
      resources:
        requests: {cpu: 1, memoryInGB: 0.5}
YAML
if capsid create -f "$WORK/bad.yaml" 2>"$WORK/e"; then fail "stdin: \"yes\" was accepted"; fi
grep -q 'properties.containers\[0\].properties.stdin: must be a boolean, not a string' "$WORK/e" ||
	fail "bad stdin: $(cat "$WORK/e")"

cat >"$WORK/att.yaml" <<'YAML'
name: att
properties:
  restartPolicy: Never
  containers:
  - name: reader
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "cat; echo reader-done; exit 3"]
      stdin: true
      resources:
        requests: {cpu: 0.5, memoryInGB: 0.25}
  - name: term
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "read line; tty; stty size; echo \"got $line\"; exit 4"]
      stdin: true
      tty: true
      resources:
        requests: {cpu: 0.5, memoryInGB: 0.25}
  - name: plain
    properties:
      image: capsid/demo:latest
      command: ["sleep", "3600"]
      resources:
        requests: {cpu: 0.5, memoryInGB: 0.25}
YAML
capsid create -f "$WORK/att.yaml" >/dev/null
capsid export att | grep -Eq 'stdin"?: true' || fail "export lost stdin: $(capsid export att)"

case_ "stdin: what the client writes reaches the process, the end of input ends it"
set +e
printf 'hello-reader\nsecond line\n' | "$TOOL" att reader 2>"$WORK/e"
rc=$?
set -e
[ $rc = 3 ] || fail "reader's exit code through the session: $rc ($(cat "$WORK/e"))"
[ "$(capsid logs att --container reader)" = "$(printf 'hello-reader\nsecond line\nreader-done')" ] ||
	fail "reader's log: $(capsid logs att --container reader)"

case_ "tty: the process has a pty of the session's size"
set +e
echo hello-term | "$TOOL" att term 40 120 2>"$WORK/e"
rc=$?
set -e
[ $rc = 4 ] || fail "term's exit code through the session: $rc ($(cat "$WORK/e"))"
out=$(capsid logs att --container term | tr -d '\r')
grep -q '^/dev/pts/[0-9]' <<<"$out" || fail "term has no pty: $out"
grep -qx '40 120' <<<"$out" || fail "term's size: $out"
grep -qx 'got hello-term' <<<"$out" || fail "term's input: $out"

case_ "a container without stdin or tty, and an ended run, refuse the attach"
if "$TOOL" att plain </dev/null 2>"$WORK/e"; then fail "attach to plain was accepted"; fi
grep -q 'container plain has neither stdin nor tty in its spec' "$WORK/e" || fail "plain: $(cat "$WORK/e")"
if "$TOOL" att reader </dev/null 2>"$WORK/e"; then fail "attach to the ended reader was accepted"; fi
grep -q 'container reader is not running' "$WORK/e" || fail "ended reader: $(cat "$WORK/e")"
capsid exec att --container plain -- true || fail "the group does not serve exec any more"

capsid delete att >/dev/null
echo PASS
