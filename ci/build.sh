#!/usr/bin/env bash
# Configure and build everything (host tools, agent, guest kernel and image,
# demo image). The guest kernel is the minimal one of images/kernel, built
# once (about 6 minutes on 2 cores) and then taken from its cache;
# CAPSID_GUEST_KERNEL=cloud selects Debian's cloud kernel instead (run
# ci/setup.sh with the same variable first: it downloads that package).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
# Only when asked: otherwise a build tree keeps what it was configured with.
if [ -n "${CAPSID_GUEST_KERNEL:-}" ]; then
	args+=("-DCAPSID_GUEST_KERNEL=$CAPSID_GUEST_KERNEL")
fi
cmake -S . -B "$BUILD_DIR" "${args[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
