#!/usr/bin/env bash
# The README's test command: set up, build, and run the whole test suite
# (unit tests, then integration tests that boot real VMs under TCG).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
bash ci/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j2 "$@"
