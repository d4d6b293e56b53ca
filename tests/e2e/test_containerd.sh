#!/usr/bin/env bash
# containerd-shim-capsid-v2 under a containerd the test starts (private
# root, state, sockets and config; the CRI plugin off), with an image the
# test builds and imports: ctr run in a VM (the guest's kernel, stdout and
# stderr through containerd's FIFOs, exit codes), runtime options, the
# task's own stdin and terminal (run -t, ResizePty), run -d,
# task ls/ps/metrics/exec (with stdin), kill with a signal the task handles and with one that ends it, run --rm leaving nothing, a two-container pod in one VM, hostile ttrpc frames on the
# shim's socket, a containerd restart with a task running, a SIGKILLed shim
# taking its VM with it. Boots VMs (TCG).
set -eu
if [ -z "${CAPSID_TEST_NETNS:-}" ]; then
	exec unshare --net -- env CAPSID_TEST_NETNS=1 bash "$0" "$@"
fi
ip link set lo up

BUILD_DIR=${CAPSID_BUILD_DIR:?CAPSID_BUILD_DIR must point at the build tree}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/containerd_lib.sh"
containerd_require_tools

ROOT=$(mktemp -d /tmp/cs-ctd.XXXXXX)
CTD=$ROOT/c
export CAPSID_ROOT=$ROOT/capsid CAPSID_QUIET_ACCEL=1 CAPSID_STOP_TIMEOUT_MS=3000
CAPSID_BIN=$BUILD_DIR/bin/capsid
GUEST_DIR=${CAPSID_GUEST_DIR:-$BUILD_DIR/share/capsid/guest}
RT=io.containerd.capsid.v2

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
case_() { echo "--- case: $*"; }
qemu_of_root() { pgrep -f "[q]emu-system.*$ROOT/" || true; }

cleanup() {
	local rc=$?
	if [ $rc -ne 0 ]; then
		echo "--- containerd log" >&2
		grep -v 'level=debug' "$CTD/log" 2>/dev/null | tail -n 20 >&2 || true
	fi
	for c in $($CTR task ls -q 2>/dev/null); do $CTR task kill -s KILL "$c" >/dev/null 2>&1 || true; done
	for c in $($CTR container ls -q 2>/dev/null); do
		$CTR task rm -f "$c" >/dev/null 2>&1 || true
		$CTR container rm "$c" >/dev/null 2>&1 || true
	done
	containerd_stop
	local s
	for s in $(containerd_shims); do kill -9 "$s" 2>/dev/null || true; done
	for g in $("$CAPSID_BIN" list -q 2>/dev/null || true); do "$CAPSID_BIN" delete "$g" >/dev/null 2>&1 || true; done
	grep -o " $ROOT/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	local left
	left=$(qemu_of_root)
	if [ -n "$left" ]; then
		echo "FAIL: QEMU processes left behind: $left" >&2
		kill -9 $left 2>/dev/null || true
		rc=1
	fi
	rm -rf "$ROOT"
	exit $rc
}
trap cleanup EXIT

containerd_config
containerd_start
containerd_import_app

no_shims() { [ -z "$(containerd_shims)" ]; }

# Nothing of a task may be left: no group, no rootfs mount, no shim, no socket.
nothing_left() {
	local what=$1
	[ -z "$("$CAPSID_BIN" list -q)" ] || fail "$what: groups left: $("$CAPSID_BIN" list -q)"
	! grep -q " $CTD/state/" /proc/mounts || fail "$what: mounts left: $(grep " $CTD/state/" /proc/mounts)"
	# A shim exits a moment after containerd has its answer to Shutdown.
	wait_until "$what: every shim to exit" no_shims
	[ -z "$(ls "$CTD/s" 2>/dev/null)" ] || fail "$what: shim sockets left: $(ls "$CTD/s")"
	[ -z "$(qemu_of_root)" ] || fail "$what: QEMU left"
}

wait_until() {
	local what=$1 i
	shift
	for i in $(seq 1 300); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	fail "timed out waiting for: $what"
}

case_ "ctr run --rm: the guest's kernel answers, stdout and stderr apart, nothing left"
want_kernel=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kernel"])' "$GUEST_DIR/manifest.json")
out=$($CTR run --fifo-dir "$CTD/fifo" --runtime $RT --rm localhost/app:v1 r1 sh -c 'uname -r; cat /etc/greeting; echo to-stderr >&2; read l </proc/meminfo; echo $l' \
	</dev/null 2>"$ROOT/err")
echo "$out"
[ "$(sed -n 1p <<<"$out")" = "$want_kernel" ] || fail "uname -r said '$(sed -n 1p <<<"$out")', the guest boots $want_kernel"
[ "$want_kernel" != "$(uname -r)" ] || fail "the guest kernel is the host's"
grep -qx 'hello from the registry' <<<"$out" || fail "the image's file is not in the rootfs: $out"
grep -qx 'to-stderr' "$ROOT/err" || fail "stderr lost: $(cat "$ROOT/err")"
! grep -q 'to-stderr' <<<"$out" || fail "stderr leaked into stdout"
nothing_left "run --rm"

mem_default=$(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' <<<"$out")
[ -n "$mem_default" ] || fail "no MemTotal line in: $out"

case_ "runtime options: ConfigPath's CAPSID_* settings reach the shim, bad ones fail clearly"
echo 'CAPSID_MEMORY_OVERHEAD_MIB=400' >"$ROOT/good.env"
printf '# capsid\nCAPSID_ACCEL=warp\n' >"$ROOT/bad.env"
out=$($CTR run --fifo-dir "$CTD/fifo" --runtime $RT --rm --runtime-config-path "$ROOT/good.env" localhost/app:v1 o1 \
	sh -c 'read l </proc/meminfo; echo $l' </dev/null)
mem=$(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' <<<"$out")
[ -n "$mem" ] && [ "$mem" -gt $((mem_default + 100 * 1024)) ] || fail "MemTotal $mem kB with 400 MiB overhead, $mem_default kB without"
if $CTR run --fifo-dir "$CTD/fifo" --runtime $RT --rm --runtime-config-path "$ROOT/bad.env" localhost/app:v1 o2 sh -c true \
	</dev/null 2>"$ROOT/err"; then fail "a bad runtime option was accepted"; fi
grep -q 'CAPSID_ACCEL=warp: must be auto, kvm or tcg' "$ROOT/err" || fail "bad option error: $(cat "$ROOT/err")"
$CTR container rm o2 >/dev/null 2>&1 || true
nothing_left "runtime options"

case_ "the exit code reaches ctr"
set +e
$CTR run --fifo-dir "$CTD/fifo" --runtime $RT --rm localhost/app:v1 r2 sh -c 'exit 7' </dev/null
rc=$?
set -e
[ $rc = 7 ] || fail "ctr run exit code $rc, want 7"
nothing_left "run --rm of a failing task"

case_ "the task's own stdin: piped input reaches its process, whose stdin then ends"
out=$(echo hello-stdin | $CTR run --fifo-dir "$CTD/fifo" --runtime $RT --rm localhost/app:v1 s1 sh -c 'cat; echo cat-done')
[ "$out" = "$(printf 'hello-stdin\ncat-done')" ] || fail "the init's stdin: '$out'"
nothing_left "run with stdin"

case_ "run -t: the task's own process gets a terminal in the guest, sized by ResizePty, input in and output out"
# script gives ctr a terminal of 33x111, whose size ctr sends with ResizePty
# after Start; the shell waits for it (24x80 is the size it starts with).
set +e
out=$( (sleep 2
	echo 'for i in $(seq 1 300); do [ "$(stty size)" = "33 111" ] && break; sleep 0.1; done'
	echo 'stty size; tty; test -t 0 && echo stdin-is-a-tty; exit 4') |
	script -qec "stty rows 33 cols 111; $CTR run --fifo-dir $CTD/fifo -t --runtime $RT --rm localhost/app:v1 t1 sh" /dev/null)
rc=$?
set -e
out=$(tr -d '\r' <<<"$out")
[ $rc = 4 ] || fail "run -t: exit $rc (want 4), output: $out"
grep -q '^/dev/pts/[0-9]' <<<"$out" || fail "run -t: no pty: $out"
grep -qx 'stdin-is-a-tty' <<<"$out" || fail "run -t: stdin is not a terminal: $out"
grep -qx '33 111' <<<"$out" || fail "run -t: ResizePty did not size the terminal: $out"
nothing_left "run -t"

case_ "run -d, task ls and ps, exec with its exit code and stdin"
$CTR run --fifo-dir "$CTD/fifo" -d --runtime $RT localhost/app:v1 d1 \
	sh -c 'trap "echo handled > /usr1" USR1; trap "exit 7" TERM; while true; do sleep 1; done' </dev/null
$CTR task ls | grep -Eq '^d1 +[0-9]+ +RUNNING' || fail "task ls: $($CTR task ls)"
pid=$($CTR task ps d1 | awk 'NR == 2 { print $1 }')
[ -n "$pid" ] && [ -d "/proc/$pid" ] || fail "task ps: $($CTR task ps d1)"
set +e
ex=$($CTR task exec --fifo-dir "$CTD/fifo" --exec-id e1 d1 sh -c 'echo in-exec; exit 3' </dev/null)
rc=$?
set -e
[ "$ex" = in-exec ] && [ $rc = 3 ] || fail "exec: output '$ex', exit $rc (want in-exec, 3)"
ex=$(echo piped-in | $CTR task exec --fifo-dir "$CTD/fifo" --exec-id e2 d1 cat)
[ "$ex" = piped-in ] || fail "exec stdin: '$ex'"
# a terminal for the exec (script gives ctr its own)
set +e
ex=$( (sleep 1; echo 'tty; exit 4') | script -qec "$CTR task exec --fifo-dir $CTD/fifo -t --exec-id e5 d1 sh" /dev/null)
rc=$?
set -e
[ $rc = 4 ] && grep -q '^/dev/pts/' <<<"$(tr -d '\r' <<<"$ex")" || fail "exec -t: exit $rc, output: $ex"
rss=$($CTR task metrics d1 | awk '$1 == "memory.usage" { print $2 }')
[ -n "$rss" ] && [ "$rss" -gt $((16 << 20)) ] || fail "task metrics: memory.usage '$rss' ($($CTR task metrics d1))"

case_ "hostile ttrpc frames on the shim's socket: errors, and the shim serves on"
sock=$(ls "$CTD"/s/capsid-*)
python3 "$HERE/ttrpc_hostile.py" "$sock" || fail "hostile frames"
$CTR task ls | grep -Eq '^d1 +[0-9]+ +RUNNING' || fail "after hostile frames: $($CTR task ls)"
ex=$($CTR task exec --fifo-dir "$CTD/fifo" --exec-id e3 d1 echo still-serving </dev/null)
[ "$ex" = still-serving ] || fail "exec after hostile frames: '$ex'"

case_ "containerd restarts: the task runs on and is listed"
containerd_stop
[ -n "$(containerd_shims)" ] || fail "the shim ended with containerd"
containerd_start
$CTR task ls | grep -Eq '^d1 +[0-9]+ +RUNNING' || fail "after the restart: $($CTR task ls)"
ex=$($CTR task exec --fifo-dir "$CTD/fifo" --exec-id e4 d1 echo after-restart </dev/null)
[ "$ex" = after-restart ] || fail "exec after the restart: '$ex'"

case_ "task kill: the signal reaches the task's process, which handles it and runs on"
$CTR task kill -s USR1 d1
sleep 2 # the shell runs its trap once the current sleep 1 ends
ex=$($CTR task exec --exec-id k1 d1 cat /usr1 </dev/null 2>&1) || true
[ "$ex" = handled ] || fail "the task's USR1 trap did not run: $ex"
$CTR task ls | grep -Eq '^d1 +[0-9]+ +RUNNING' || fail "after USR1: $($CTR task ls)"

case_ "task kill: SIGTERM ends the task through its trap, the exit code reaches containerd, rm leaves nothing"
$CTR task kill d1
wait_until "d1 STOPPED" sh -c "$CTR task ls | grep -Eq '^d1 +[0-9]+ +STOPPED'"
rm_out=$($CTR task rm d1 2>&1)
grep -q 'exit code 7' <<<"$rm_out" || fail "task rm: want exit code 7 from the TERM trap, got: $rm_out"
$CTR container rm d1
wait_until "the shim of d1 to end" sh -c "[ -z \"\$(pgrep -f '[c]ontainerd-shim-capsid-v2 .*-address $CTD/c.sock')\" ]"
nothing_left "kill and rm"

case_ "a pod: a container task joins its sandbox's VM (own rootfs, localhost shared, its exit code); the sandbox's delete ends all"
A=io.kubernetes.cri
$CTR run --fifo-dir "$CTD/fifo" -d --runtime $RT --annotation $A.container-type=sandbox --annotation $A.sandbox-id=p1 \
	--annotation $A.sandbox-memory=402653184 localhost/app:v1 p1 \
	sh -c 'echo sandbox > /sandbox-only; while true; do echo hello-over-localhost | busybox nc -l -p 7000; done' </dev/null
sandbox_boot=$($CTR task exec --exec-id b1 p1 cat /proc/sys/kernel/random/boot_id)
[ -n "$sandbox_boot" ] || fail "no boot id from the sandbox"
set +e
$CTR run --fifo-dir "$CTD/fifo" --rm --runtime $RT --annotation $A.container-type=container --annotation $A.sandbox-id=p1 \
	localhost/app:v1 p1c1 sh -c 'cat /proc/sys/kernel/random/boot_id; busybox nc 127.0.0.1 7000 </dev/null;
	if [ -e /sandbox-only ]; then echo shared-rootfs; else echo own-rootfs; fi; cat /etc/greeting; exit 3' \
	</dev/null >"$ROOT/out" 2>"$ROOT/err"
rc=$?
set -e
cat "$ROOT/out"
[ $rc = 3 ] || fail "the pod's container exit code $rc, want 3: $(cat "$ROOT/err")"
[ "$(head -n 1 "$ROOT/out")" = "$sandbox_boot" ] || fail "the container ran in another kernel than its sandbox"
grep -q '^hello-over-localhost$' "$ROOT/out" || fail "the container did not reach the sandbox on localhost"
grep -q '^own-rootfs$' "$ROOT/out" || fail "the container saw the sandbox's rootfs"
[ "$(containerd_shims | wc -l)" = 1 ] || fail "shims of the pod: $(containerd_shims | wc -l), want 1"
[ "$("$CAPSID_BIN" list -q | wc -l)" = 1 ] || fail "groups of the pod: $("$CAPSID_BIN" list -q)"
"$CAPSID_BIN" show "$("$CAPSID_BIN" list -q)" | grep -q '"name": "c-p1c1-' && fail "the removed container stays in the group"
case_ "a pod: a running container task, exec and kill per container, then the sandbox's delete"
$CTR run --fifo-dir "$CTD/fifo" -d --runtime $RT --annotation $A.container-type=container --annotation $A.sandbox-id=p1 \
	localhost/app:v1 p1c2 sleep 1000 </dev/null
[ "$($CTR task exec --exec-id e1 p1c2 cat /proc/sys/kernel/random/boot_id)" = "$sandbox_boot" ] || fail "p1c2 elsewhere"
$CTR task exec --exec-id e2 p1c2 sh -c '[ ! -e /sandbox-only ]' || fail "exec in p1c2 sees the sandbox's rootfs"
$CTR task ls | grep -Eq '^p1c2 +[0-9]+ +RUNNING' || fail "p1c2 not running: $($CTR task ls)"
$CTR task kill -s KILL p1c2
wait_until "p1c2 STOPPED" sh -c "$CTR task ls | grep -Eq '^p1c2 +[0-9]+ +STOPPED'"
$CTR task ls | grep -Eq '^p1 +[0-9]+ +RUNNING' || fail "the sandbox after its container's kill: $($CTR task ls)"
$CTR task rm p1c2 >/dev/null
$CTR container rm p1c2
$CTR task kill -s KILL p1
wait_until "p1 STOPPED" sh -c "$CTR task ls | grep -Eq '^p1 +[0-9]+ +STOPPED'"
$CTR task rm p1 >/dev/null
$CTR container rm p1
wait_until "the pod's shim to end" sh -c "[ -z \"\$(pgrep -f '[c]ontainerd-shim-capsid-v2 .*-address $CTD/c.sock')\" ]"
nothing_left "a pod"

case_ "a SIGKILLed shim takes its VM with it; containerd sees the task gone"
$CTR run --fifo-dir "$CTD/fifo" -d --runtime $RT localhost/app:v1 k1 sleep 1000 </dev/null
[ -n "$(qemu_of_root)" ] || fail "no VM for k1"
kill -9 $(containerd_shims)
wait_until "k1's task to go" sh -c "! $CTR task ls | grep -q '^k1 '"
wait_until "k1's VM to go" sh -c "[ -z \"\$(pgrep -f '[q]emu-system.*$ROOT/')\" ]"
# containerd's cleanup runs the shim's delete after the task is gone from
# its list: the delete kills the monitor (the VM goes), then the group.
wait_until "k1's group to go" sh -c "[ -z \"\$('$CAPSID_BIN' list -q)\" ]"
$CTR container rm k1
nothing_left "a SIGKILLed shim"
echo PASS
