#!/usr/bin/env bash
# securityContext per container, applied by the guest's runtimes: the
# capability sets (default, drop ALL + add, privileged: all), runAsUser and
# runAsGroup, allowPrivilegeEscalation (no_new_privs), privileged's
# unmasked /proc inside the guest only, the default seccomp profile and a
# profile given in the spec, under the builtin runtime (its own BPF filter)
# and runc (libseccomp); a profile with argument conditions and an exec
# (and an exec probe) into a tightened container under all three runtimes;
# bad specs refused with paths.
. "$(dirname "$0")/lib.sh"

# {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}
NO_MKDIR=$(printf '%s' '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}' | base64 -w0)
REPORT='grep -E "^(CapBnd|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t" " "; echo "ids $(id -u) $(id -g)"; grep -q " /proc/sys proc ro" /proc/mounts && echo "procsys ro" || echo "procsys rw"'

# The capability mask of a list of capability numbers.
mask() { python3 -c 'import sys; print("%016x" % sum(1 << int(c) for c in sys.argv[1:]))' "$@"; }
DEFAULT_MASK=$(mask 0 1 3 4 5 6 7 8 10 13 18 27 29 31)
ALL_MASK=$(mask $(seq 0 40))
CHOWN_NETADMIN=$(mask 0 12)

cat >"$WORK/seccomp.yaml" <<Y
name: seccomp
properties:
  restartPolicy: Never
  containers:
  - name: denied
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "mkdir /tmp/x && echo made || echo refused"]
      resources: {requests: {cpu: 0.5, memoryInGB: 0.25}}
      securityContext: {seccompProfile: $NO_MKDIR}
  - name: allowed
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "mkdir /tmp/x && echo made || echo refused"]
      resources: {requests: {cpu: 0.5, memoryInGB: 0.25}}
Y

for runtime in builtin runc; do
	g=sec-$runtime
	case_ "$runtime: default, tightened and privileged containers get their capabilities, user, no_new_privs and /proc"
	cat >"$WORK/$g.yaml" <<Y
name: $g
properties:
  restartPolicy: Never
  containers:
  - name: plain
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$REPORT")]
      resources: {requests: {cpu: 0.5, memoryInGB: 0.25}}
  - name: tight
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$REPORT")]
      resources: {requests: {cpu: 0.25, memoryInGB: 0.25}}
      securityContext:
        allowPrivilegeEscalation: false
        capabilities: {drop: [ALL], add: [CHOWN, CAP_NET_ADMIN]}
        runAsUser: 1000
        runAsGroup: 1001
  - name: priv
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$REPORT")]
      resources: {requests: {cpu: 0.25, memoryInGB: 0.25}}
      securityContext: {privileged: true}
Y
	out=$(capsid run --runtime "$runtime" -f "$WORK/$g.yaml")
	echo "$out"
	grep -q "^plain | CapBnd: $DEFAULT_MASK$" <<<"$out" || fail "default capabilities"
	grep -q '^plain | NoNewPrivs: 0$' <<<"$out" || fail "default no_new_privs"
	grep -q '^plain | ids 0 0$' <<<"$out" || fail "default user"
	grep -q '^plain | procsys ro$' <<<"$out" || fail "default /proc/sys is not read-only"
	grep -q "^tight | CapBnd: $CHOWN_NETADMIN$" <<<"$out" || fail "drop ALL + add CHOWN, NET_ADMIN"
	grep -q '^tight | NoNewPrivs: 1$' <<<"$out" || fail "allowPrivilegeEscalation false"
	grep -q '^tight | ids 1000 1001$' <<<"$out" || fail "runAsUser/runAsGroup"
	grep -q "^priv | CapBnd: $ALL_MASK$" <<<"$out" || fail "privileged: every capability"
	grep -q '^priv | procsys rw$' <<<"$out" || fail "privileged: /proc/sys still read-only"
	grep -q '^priv | Seccomp: 0$' <<<"$out" || fail "privileged: a seccomp filter"
	grep -q '^plain | Seccomp: 2$' <<<"$out" || fail "$runtime: no default seccomp filter"
	grep -q '^tight | Seccomp: 2$' <<<"$out" || fail "$runtime: no default seccomp filter"

	case_ "$runtime: a seccomp profile from the spec is applied (mkdir fails), the default one lets mkdir work"
	sed "s/^name: seccomp$/name: seccomp-$runtime/" "$WORK/seccomp.yaml" >"$WORK/seccomp-$runtime.yaml"
	out=$(capsid run --runtime "$runtime" -f "$WORK/seccomp-$runtime.yaml")
	echo "$out"
	grep -q '^denied | refused$' <<<"$out" || fail "$runtime: the spec's seccomp profile was not applied"
	grep -q '^allowed | made$' <<<"$out" || fail "$runtime: the default profile refused mkdir"
done

# kill() refused for SIGUSR1 (arg 1 == 10) and for 12..15 ((arg 1 & 0xfc) == 12: USR2, PIPE, ALRM, TERM).
KILL_SOME=$(printf '%s' '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":[{"index":1,"value":10,"op":"SCMP_CMP_EQ"}]},{"names":["kill"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":252,"valueTwo":12,"op":"SCMP_CMP_MASKED_EQ"}]}]}' | base64 -w0)
# Which signals the shell may send itself (all ignored; in the shell itself,
# not a subshell: $$ is the shell's pid there too).
KILLS='trap "" HUP USR1 USR2 TERM; for s in HUP USR1 USR2 TERM; do kill -$s $$ 2>/dev/null && echo "$s sent" || echo "$s refused"; done'
EXEC_REPORT='grep -E "^(CapBnd|CapEff|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t" " "; echo "ids $(id -u) $(id -g)"'
json() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
kills_ok() { # OUTPUT WHAT
	grep -qx 'HUP sent' <<<"$1" && grep -qx 'USR1 refused' <<<"$1" && grep -qx 'USR2 refused' <<<"$1" &&
		grep -qx 'TERM refused' <<<"$1" || fail "$2: the profile's argument conditions were not applied: $1"
}

for runtime in builtin runc crun; do
	g=secexec-$runtime
	case_ "$runtime: a profile with argument conditions, and an exec and an exec probe get their container's securityContext"
	cat >"$WORK/$g.yaml" <<Y
name: $g
properties:
  restartPolicy: Never
  containers:
  - name: tight
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", $(json "($EXEC_REPORT) >/tmp/main.txt; exec sleep 3600")]
      resources: {requests: {cpu: 0.5, memoryInGB: 0.25}}
      securityContext:
        allowPrivilegeEscalation: false
        capabilities: {drop: [ALL], add: [CHOWN, CAP_NET_ADMIN]}
        runAsUser: 1000
        runAsGroup: 1001
      livenessProbe:
        exec: {command: ["/bin/sh", "-c", $(json "($EXEC_REPORT) >/tmp/probe.new && mv /tmp/probe.new /tmp/probe.txt")]}
        periodSeconds: 1
        timeoutSeconds: 60
  - name: argcond
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", $(json "{ $KILLS; } >/tmp/main.txt; exec sleep 3600")]
      resources: {requests: {cpu: 0.5, memoryInGB: 0.25}}
      securityContext: {seccompProfile: $KILL_SOME}
      livenessProbe:
        exec: {command: ["/bin/sh", "-c", $(json "{ $KILLS; } >/tmp/probe.new && mv /tmp/probe.new /tmp/probe.txt")]}
        periodSeconds: 1
        timeoutSeconds: 60
Y
	capsid create --runtime "$runtime" -f "$WORK/$g.yaml" >/dev/null
	wait_for "$g to run" state_is "$g" Running
	wait_for "$g's probes" sh -c "$CAPSID_BIN exec $g -- cat /tmp/probe.txt && $CAPSID_BIN exec $g --container argcond -- cat /tmp/probe.txt"

	main=$(capsid exec "$g" --container tight -- cat /tmp/main.txt)
	echo "main: $main"
	out=$(capsid exec "$g" --container tight -- sh -c "$EXEC_REPORT")
	echo "exec: $out"
	grep -qx "CapBnd: $CHOWN_NETADMIN" <<<"$out" || fail "$runtime: exec's bounding set: $out"
	# uid 1000 keeps none of them in effect (no ambient set without inheritable ones, as in Kubernetes)
	eff=$(grep '^CapEff:' <<<"$main")
	[ -n "$eff" ] && [ "$eff" != "CapEff: $DEFAULT_MASK" ] && grep -qx "$eff" <<<"$out" ||
		fail "$runtime: exec's effective set is not the container's ($eff): $out"
	grep -qx 'ids 1000 1001' <<<"$out" || fail "$runtime: exec's user: $out"
	grep -qx 'NoNewPrivs: 1' <<<"$out" || fail "$runtime: exec's no_new_privs: $out"
	grep -qx 'Seccomp: 2' <<<"$out" || fail "$runtime: exec without the default seccomp filter: $out"
	out=$(capsid exec "$g" --container tight -- cat /tmp/probe.txt)
	echo "probe: $out"
	grep -qx "CapBnd: $CHOWN_NETADMIN" <<<"$out" && grep -qx "$eff" <<<"$out" && grep -qx 'ids 1000 1001' <<<"$out" &&
		grep -qx 'NoNewPrivs: 1' <<<"$out" || fail "$runtime: the exec probe's user or capabilities: $out"
	grep -qx 'Seccomp: 2' <<<"$out" || fail "$runtime: exec probe without the default seccomp filter: $out"

	out=$(capsid exec "$g" --container argcond -- cat /tmp/main.txt)
	echo "main: $out"
	kills_ok "$out" "$runtime: the container"
	out=$(capsid exec "$g" --container argcond -- sh -c "$KILLS")
	echo "exec: $out"
	kills_ok "$out" "$runtime: an exec"
	out=$(capsid exec "$g" --container argcond -- cat /tmp/probe.txt)
	echo "probe: $out"
	kills_ok "$out" "$runtime: an exec probe"
	capsid delete "$g" >/dev/null
done

case_ "bad securityContext specs are refused with field paths"
cat >"$WORK/bad.yaml" <<'Y'
name: badsec
properties:
  containers:
  - name: app
    properties:
      image: capsid/demo:latest
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
      securityContext: {capabilities: {add: [CAP_FLY]}}
Y
capsid create -f "$WORK/bad.yaml" 2>"$WORK/err" && fail "an unknown capability was accepted"
grep -q 'properties.containers\[0\].properties.securityContext.capabilities.add\[0\]: unknown capability "CAP_FLY"' "$WORK/err" ||
	fail "error: $(cat "$WORK/err")"
[ ! -e "$ROOT/groups/badsec" ] || fail "a refused group left its directory"
# an argument condition with an unknown operator
BAD_OP=$(printf '%s' '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":10,"op":"SCMP_CMP_IS"}]}]}' | base64 -w0)
sed "s/securityContext: .*/securityContext: {seccompProfile: $BAD_OP}/" "$WORK/bad.yaml" >"$WORK/badop.yaml"
capsid create -f "$WORK/badop.yaml" 2>"$WORK/err" && fail "an unknown seccomp operator was accepted"
grep -q 'properties.containers\[0\].properties.securityContext.seccompProfile: the profile.s syscalls\[0\].args\[0\].op: "SCMP_CMP_IS" is unknown' "$WORK/err" ||
	fail "error: $(cat "$WORK/err")"
[ ! -e "$ROOT/groups/badsec" ] || fail "a refused group left its directory"
echo PASS
