#!/bin/bash
# tests/bench/run.sh [--quick] [--json PATH] [--build DIR] [--runs N] [--phases LIST] [--label TEXT]
#                    [--scale] [--scale-levels 10,100,300] [--scale-parts density,burst]
#                    [--scale-cold] [--scale-ksm] [--scale-ksm-pages N] [--scale-mem-gb G]
#                    [--scale-sample N] [--scale-timeout S]
#
# The capsid benchmark, in one run on this machine: cold start (capsid, runc,
# runsc, the VM floor), exec latency, idle memory (PSS at 1/10/50 groups,
# against runsc's idle sandbox) and create rate (20 groups at a time). Prints
# a table and writes JSON (default BUILD/bench.json). Every figure is the
# median of >= 5 runs (3 with --quick, which also uses 1/5 groups) with min
# and max, and capsid's figures are given as ratios to the baselines.
# Phases: cold,warm,exec,memory,rate (default all; warm: the same cold-start
# run with CAPSID_WARM_START=1, VM templating). --scale runs the scale phase
# alone (tests/bench/scale.py): PSS per group and exec into a sample with
# 10, 100 and 300 idle groups of 1 CPU / 0.5 GB, then bursts of 20
# concurrent creates (cold, warm, warm from a pool of ready clones) against
# runsc's; it needs about 15 GiB free.
#
# Needs: a build (bash ci/build.sh), runc, runsc (Debian package `runsc`),
# qemu-system-x86, gcc with static libc, cpio. Root.
# The guest knobs the monitor reads (CAPSID_TB_SIZE_MIB,
# CAPSID_MEMORY_OVERHEAD_MIB, CAPSID_RUNTIME, CAPSID_GUEST_DIR) apply to the
# capsid runs and to the VM floor alike.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/../.." && pwd)
BUILD=$TOP/build
# shellcheck source=tests/bench/lib.sh
. "$BENCH_DIR/lib.sh"

args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--build)
		BUILD=$(realpath "$2")
		shift 2
		;;
	--quick | --scale-cold | --scale-ksm)
		args+=("$1")
		shift
		;;
	--scale)
		args+=(--phases scale)
		shift
		;;
	--json | --runs | --phases | --label | --mem-gb | --settle | --scale-levels | --scale-parts | --scale-mem-gb | --scale-sample | --scale-ksm-pages | --scale-timeout)
		args+=("$1" "$2")
		shift 2
		;;
	-h | --help)
		sed -n '2,/^set /{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "run.sh: unknown option $1 (see --help)" >&2
		exit 2
		;;
	esac
done

bench_require_root
bench_require_tools python3 gcc cpio runc runsc qemu-system-x86_64
BENCH_TMP=$(mktemp -d /tmp/cbf.XXXXXX)
bench_build_floor "$BENCH_TMP"
bench_run_python "$BENCH_DIR/bench.py" --build "$BUILD" --floor-initrd "$BENCH_TMP/floor.cpio" ${args[@]+"${args[@]}"}
