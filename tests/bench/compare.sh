#!/usr/bin/env bash
# Before and after in one run (tests/bench/compare.py): cold start and exec,
# interleaved between builds or settings, in a network namespace of its own.
#   bash tests/bench/compare.sh --variant before=OLD/build --variant after=build [--runs 7] [--json F]
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
if [ -z "${CAPSID_BENCH_NETNS:-}" ]; then
	exec unshare --net -- env CAPSID_BENCH_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
exec python3 "$BENCH_DIR/compare.py" "$@"
