#!/usr/bin/env bash
# The README's first command: set up, build, import the demo image and boot
# a demo group in its own micro-VM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
bash ci/build.sh
BUILD_DIR=${BUILD_DIR:-build}
CAPSID="$BUILD_DIR/bin/capsid"
"$CAPSID" image import "$BUILD_DIR/share/capsid/demo-image.tar" >/dev/null
"$CAPSID" delete demo >/dev/null 2>&1 || true
"$CAPSID" run --rm -f examples/demo.yaml
