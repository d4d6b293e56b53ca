#!/bin/bash
# tests/bench/run.sh [--quick] [--json PATH] [--build DIR] [--runs N] [--phases LIST] [--label TEXT]
#
# The capsid benchmark, in one run on this machine: cold start (capsid, runc,
# runsc, the VM floor), exec latency, idle memory (PSS at 1/10/50 groups,
# against runsc's idle sandbox) and create rate (20 groups at a time). Prints
# a table and writes JSON (default BUILD/bench.json). Every figure is the
# median of >= 5 runs (3 with --quick, which also uses 1/5 groups) with min
# and max, and capsid's figures are given as ratios to the baselines.
#
# Needs: a build (bash ci/build.sh), runc, runsc (Debian package `runsc`),
# qemu-system-x86, gcc (static libc: libc6-dev), cpio. Root.
# The guest knobs the monitor reads (CAPSID_TB_SIZE_MIB,
# CAPSID_MEMORY_OVERHEAD_MIB, CAPSID_RUNTIME, CAPSID_GUEST_DIR) apply to the
# capsid runs and to the VM floor alike.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=$TOP/build
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--build)
		BUILD=$(realpath "$2")
		shift 2
		;;
	--quick)
		args+=("$1")
		shift
		;;
	--json | --runs | --phases | --label | --mem-gb | --settle)
		args+=("$1" "$2")
		shift 2
		;;
	-h | --help)
		sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "run.sh: unknown option $1 (see --help)" >&2
		exit 2
		;;
	esac
done

[ "$(id -u)" = 0 ] || {
	echo "run.sh: must run as root (QEMU, runc, runsc)" >&2
	exit 1
}
for tool in python3 gcc cpio runc runsc qemu-system-x86_64; do
	command -v "$tool" >/dev/null || {
		echo "run.sh: $tool is missing" >&2
		exit 1
	}
done

# The VM floor's initramfs: /init is floor_init.c, static, plus /dev/console
# so the kernel can give it a stdout. Tiny, so it is rebuilt every run.
FLOOR=$(mktemp -d /tmp/cbf.XXXXXX)
bench_pid=
cleanup() {
	local rc=$?
	# The harness cleans its own groups and containers (finally:); this is
	# the last resort if it was killed: end it, then whatever still names
	# its temporary root.
	if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
		kill -TERM "$bench_pid" 2>/dev/null || true
		wait "$bench_pid" 2>/dev/null || true
	fi
	rm -rf "$FLOOR"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$FLOOR/root/dev"
gcc -static -Os -Wall -Wextra -Werror -o "$FLOOR/root/init" "$HERE/floor_init.c"
mknod "$FLOOR/root/dev/console" c 5 1
(cd "$FLOOR/root" && find . -mindepth 1 | sort | cpio --quiet -o -H newc -R 0:0) >"$FLOOR/floor.cpio"

python3 "$HERE/bench.py" --build "$BUILD" --floor-initrd "$FLOOR/floor.cpio" ${args[@]+"${args[@]}"} &
bench_pid=$!
wait "$bench_pid"
