#!/bin/bash
# tests/bench/levers.sh [--build DIR] [--kernel-dir DIR] [--runs N] [--mem-runs N] [--only LIST] [--json PATH]
#
# Measures the start-up and memory levers one at a time, interleaved round
# by round (see levers.py): TCG translation-cache size, guest memory
# overhead, initramfs compression and size, the PVH entry, kernel command
# line, crun vs runc, guest RAM backend, and the minimal kernel built by
# images/kernel/build-kernel.sh (default BUILD/share/capsid/kernel; its
# variants are skipped when it is not built). The base is the cloud-kernel
# guest (make guest-image-cloud), see levers.py. Prints a table, writes JSON (default
# BUILD/levers.json). Takes about 10 minutes with the defaults.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/../.." && pwd)
BUILD=$TOP/build
KDIR=
# shellcheck source=tests/bench/lib.sh
. "$BENCH_DIR/lib.sh"

args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--build) BUILD=$(realpath "$2"); shift 2 ;;
	--kernel-dir) KDIR=$(realpath "$2"); shift 2 ;;
	--runs | --mem-runs | --only | --json | --settle) args+=("$1" "$2"); shift 2 ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "levers.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
KDIR=${KDIR:-$BUILD/share/capsid/kernel}

bench_require_root
bench_require_tools python3 gcc cpio lz4 file qemu-system-x86_64 runc runsc
BENCH_TMP=$(mktemp -d /tmp/cbl.XXXXXX)
bench_build_floor "$BENCH_TMP"
mkdir -p "$BENCH_TMP/wrap"
ln -s "$BENCH_DIR/qemu-wrap.sh" "$BENCH_TMP/wrap/qemu-system-x86_64"
bench_run_python "$BENCH_DIR/levers.py" --build "$BUILD" --kernel-dir "$KDIR" --floor-initrd "$BENCH_TMP/floor.cpio" \
	--wrap-dir "$BENCH_TMP/wrap" ${args[@]+"${args[@]}"}
