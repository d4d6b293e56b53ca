#!/bin/bash
# tests/bench/warm.sh [--build DIR] [--runs N] [--mem-mib N] [--json]
#
# Warm start by VM templating, a prototype (see warm.py): boots a template
# guest to agent-ready, saves its device state (RAM stays in a file), then
# restores clones with the demo image attached and times clone command ->
# first container output against a cold boot through the same client.
# Honours CAPSID_GUEST_DIR, CAPSID_TB_SIZE_MIB, CAPSID_BENCH_APPEND and
# CAPSID_BENCH_MACHINE_OPTS (e.g. acpi=off for the minimal kernel).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/../.." && pwd)
BUILD=$TOP/build
# shellcheck source=tests/bench/lib.sh
. "$BENCH_DIR/lib.sh"
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--build) BUILD=$(realpath "$2"); shift 2 ;;
	--runs | --mem-mib) args+=("$1" "$2"); shift 2 ;;
	--json) args+=("$1"); shift ;;
	-h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "warm.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
bench_require_root
bench_require_tools python3 qemu-system-x86_64
bench_run_python "$BENCH_DIR/warm.py" --build "$BUILD" ${args[@]+"${args[@]}"}
