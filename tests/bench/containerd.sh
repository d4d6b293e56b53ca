#!/usr/bin/env bash
# ctr run --rm to the first output line, under a private containerd (see
# tests/e2e/containerd_lib.sh), in the same run: capsid's shim
# (io.containerd.capsid.v2) with its first start of the image (the guest's
# erofs image of the snapshot is built) and the later ones (cached), runc
# (io.containerd.runc.v2) and gVisor (runsc through io.containerd.runc.v2's
# BinaryName: Debian's runsc ships no shim of its own). Prints a table.
# usage: BUILD_DIR=build tests/bench/containerd.sh [RUNS]
set -eu
if [ -z "${CAPSID_TEST_NETNS:-}" ]; then
	exec unshare --net -- env CAPSID_TEST_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
RUNS=${1:-3}
BUILD_DIR=$(cd "${BUILD_DIR:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../e2e/containerd_lib.sh"
containerd_require_tools
ROOT=$(mktemp -d /tmp/cs-bctd.XXXXXX)
CTD=$ROOT/c
export CAPSID_ROOT=$ROOT/capsid CAPSID_QUIET_ACCEL=1
cleanup() {
	containerd_stop
	# every shim of this containerd (runc's too: a task that failed to start
	# can leave one)
	for s in $(pgrep -f "[c]ontainerd-shim-.* -address $CTD/c.sock" || true); do kill -9 "$s" 2>/dev/null || true; done
	# and what outlives a shim: gVisor's sandbox and gofer log under $ROOT
	pkill -9 -f -- "--log=$ROOT/" 2>/dev/null || true
	grep -o " $ROOT/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$ROOT"
}
trap cleanup EXIT
containerd_config
containerd_start
containerd_import_app

# first_line LABEL ARGS...: seconds from the ctr run to its first output line.
first_line() {
	local label=$1
	shift
	python3 - "$label" "$@" <<'PY'
import subprocess, sys, time
label, args = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
line = p.stdout.readline()
t1 = time.monotonic()
p.stdout.read()
rc = p.wait()
t2 = time.monotonic()
print("%-22s %8.3f %8.3f  rc=%d %s" % (label, t1 - t0, t2 - t0, rc, line.decode().strip()))
PY
}

echo "runtime                first-line  exit"
n=0
first_line "capsid (first start)" $CTR run --rm --runtime io.containerd.capsid.v2 --fifo-dir "$ROOT/fifo" localhost/app:v1 b$((n++)) cat /etc/greeting
for i in $(seq 1 "$RUNS"); do
	first_line "capsid" $CTR run --rm --runtime io.containerd.capsid.v2 --fifo-dir "$ROOT/fifo" localhost/app:v1 b$((n++)) cat /etc/greeting
done
for i in $(seq 1 "$RUNS"); do
	first_line "runc" $CTR run --rm --runtime io.containerd.runc.v2 --runc-root "$ROOT/runc" --fifo-dir "$ROOT/fifo" localhost/app:v1 b$((n++)) cat /etc/greeting
done
if command -v runsc >/dev/null; then
	# No network: this containerd gives tasks none, and runsc refuses the
	# host's namespace otherwise.
	printf '#!/bin/sh\nexec %s --network=none "$@"\n' "$(command -v runsc)" >"$ROOT/runsc-nonet"
	chmod +x "$ROOT/runsc-nonet"
	for i in $(seq 1 "$RUNS"); do
		first_line "runsc (gVisor)" $CTR run --rm --runtime io.containerd.runc.v2 --runc-root "$ROOT/runsc" --fifo-dir "$ROOT/fifo" --runc-binary "$ROOT/runsc-nonet" \
			localhost/app:v1 b$((n++)) cat /etc/greeting
	done
fi
