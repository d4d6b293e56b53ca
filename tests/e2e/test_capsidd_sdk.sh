#!/usr/bin/env bash
# capsidd driven by Microsoft's own JavaScript SDK for ACI
# (@azure/arm-containerinstance, pinned by capsidd-sdk/package-lock.json and
# installed into the build tree with npm ci): the whole API against real
# VMs, with a second tenant, bad requests and a slow client. Skipped (77)
# without node and npm, or when the packages cannot be installed.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD_DIR=${CAPSID_BUILD_DIR:?CAPSID_BUILD_DIR must point at the build tree}
NPM_DIR=$BUILD_DIR/npm/capsidd-sdk
if [ -z "${CAPSID_TEST_NETNS:-}" ]; then
	# The packages come before the test's network namespace, which has no way out.
	command -v node >/dev/null && command -v npm >/dev/null || {
		echo "SKIP: node or npm missing"
		exit 77
	}
	if ! cmp -s "$HERE/capsidd-sdk/package-lock.json" "$NPM_DIR/package-lock.json" ||
		[ ! -d "$NPM_DIR/node_modules/@azure/arm-containerinstance" ]; then
		rm -rf "$NPM_DIR"
		mkdir -p "$NPM_DIR"
		cp "$HERE/capsidd-sdk/package.json" "$HERE/capsidd-sdk/package-lock.json" "$NPM_DIR/"
		if ! (cd "$NPM_DIR" && npm ci --no-audit --no-fund --loglevel=error); then
			rm -rf "$NPM_DIR"
			echo "SKIP: npm ci of the SDK failed"
			exit 77
		fi
	fi
fi
. "$HERE/../integration/lib.sh"
. "$HERE/../integration/capsidd_lib.sh"
start_capsidd --header-timeout 3000 --max-body 65536 --page-size 1
export NODE_EXTRA_CA_CERTS=$CD_CA NODE_PATH=$NPM_DIR/node_modules
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1,localhost
export CD_URL CD_HOST=127.0.0.1 CD_PORT TOKEN_A TOKEN_B SUB_A SUB_B
node "$HERE/capsidd-sdk/sdk_test.js" || fail "the SDK's flows (capsidd's log: $(tail -n 20 "$WORK/capsidd.err"))"
[ -z "$("$CAPSID_BIN" list -q)" ] || fail "groups left: $("$CAPSID_BIN" list -q)"
echo PASS
