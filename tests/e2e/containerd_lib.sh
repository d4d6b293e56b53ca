# A private containerd for the shim's tests and benchmarks: its own root,
# state, sockets and config under $CTD (never the host's containerd), the
# CRI plugin off, the build's bin/ (containerd-shim-capsid-v2, capsid) first
# on its PATH.
#
# Needs: $CTD (a private, short directory: socket paths), $BUILD_DIR.
# Sets CTR (the ctr command line for namespace capsid-test), CTD_PID.

containerd_require_tools() {
	local t
	for t in containerd ctr containerd-shim-runc-v2 python3 script; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "SKIP: $t not installed (ci/setup.sh installs containerd)" >&2
			exit 77
		fi
	done
}

containerd_config() {
	mkdir -p "$CTD"
	cat >"$CTD/config.toml" <<T
version = 2
root = "$CTD/root"
state = "$CTD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTD/c.sock"
[ttrpc]
  address = "$CTD/c.sock.ttrpc"
[debug]
  level = "info"
[plugins."io.containerd.runtime.v1.linux"]
  shim_debug = false
T
	export PATH="$BUILD_DIR/bin:$PATH"
	CTR="ctr -a $CTD/c.sock -n capsid-test"
}

containerd_start() {
	containerd --config "$CTD/config.toml" >>"$CTD/log" 2>&1 &
	CTD_PID=$!
	local i
	for i in $(seq 1 100); do
		$CTR version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "FAIL: containerd did not start: $(tail -5 "$CTD/log")" >&2
	return 1
}

containerd_stop() {
	[ -n "${CTD_PID:-}" ] || return 0
	kill "$CTD_PID" 2>/dev/null || true
	wait "$CTD_PID" 2>/dev/null || true
	CTD_PID=
}

# The shims this containerd started (their command lines name its socket).
containerd_shims() { pgrep -f "[c]ontainerd-shim-capsid-v2 .*-address $CTD/c.sock" || true; }

# Import an OCI archive the test builds (registry_fixtures.py: busybox and
# /etc/greeting) as localhost/app:v1.
containerd_import_app() {
	local lib
	lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	python3 "$lib/registry_fixtures.py" "$CTD/fixtures" >/dev/null
	tar -C "$CTD/fixtures/app" -cf "$CTD/app.tar" .
	$CTR image import --base-name localhost/app "$CTD/app.tar" >/dev/null
}
