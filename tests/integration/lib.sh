# Shared helpers for integration tests: each test gets its own short-lived
# state root, the demo image imported into it, and a trap that deletes every
# group it made and fails the test if any QEMU of that root is left behind.
# No pipefail: `cmd | grep -q` must not fail when grep exits early and cmd
# gets SIGPIPE; the grep is the assertion.
set -eu

# Every test runs in a network namespace of its own: bridges, taps, nftables
# rules and the DNS responder that groups get live and die there, and no
# traffic can leave it.
# A test that sets CAPSID_TEST_PRIVATE_ETC=1 before sourcing this also gets
# a mount namespace with an overlay over /etc, so the unix users that SMB
# accounts need (capsid-ACCOUNT) vanish with it.
if [ -z "${CAPSID_TEST_NETNS:-}" ]; then
	if [ "${CAPSID_TEST_PRIVATE_ETC:-0}" = 1 ]; then
		exec unshare --net --mount --propagation private -- env CAPSID_TEST_NETNS=1 bash "$0" "$@"
	fi
	exec unshare --net -- env CAPSID_TEST_NETNS=1 bash "$0" "$@"
fi
ip link set lo up

BUILD_DIR=${CAPSID_BUILD_DIR:?CAPSID_BUILD_DIR must point at the build tree}
CAPSID_BIN="$BUILD_DIR/bin/capsid"
DEMO_TAR="$BUILD_DIR/share/capsid/demo-image.tar"
export CAPSID_QUIET_ACCEL=1
# Containers that ignore SIGTERM (a shell's `sleep` as PID 1) are killed
# after this grace; the default (10 s, like docker stop) only slows tests.
export CAPSID_STOP_TIMEOUT_MS=${CAPSID_STOP_TIMEOUT_MS:-3000}

# Socket paths must fit in 108 bytes: keep the root short.
ROOT=$(mktemp -d /tmp/cs.XXXXXX)
export CAPSID_ROOT=$ROOT
WORK=$ROOT/work
mkdir -p "$WORK"

capsid() { "$CAPSID_BIN" "$@"; }

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# case_ DESCRIPTION...: name the case that follows in the test's output.
case_() { echo "--- case: $*"; }

qemu_of_root() { pgrep -f "[q]emu-system.*$ROOT/" || true; }

# Extra processes a test starts (servers): killed on exit.
CLEANUP_PIDS=()

cleanup() {
	local rc=$?
	if [ ${#CLEANUP_PIDS[@]} -gt 0 ]; then kill "${CLEANUP_PIDS[@]}" 2>/dev/null || true; fi
	if [ $rc -ne 0 ] && [ -d "$ROOT/groups" ]; then
		for f in "$ROOT"/groups/*/monitor.log "$ROOT"/groups/*/console.log; do
			[ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; } >&2
		done
	fi
	for g in $("$CAPSID_BIN" list -q 2>/dev/null || true); do
		"$CAPSID_BIN" delete "$g" >/dev/null 2>&1 || true
	done
	# Warm start's ready clones (CAPSID_WARM_STANDBY) outlive groups by design.
	"$CAPSID_BIN" standby stop >/dev/null 2>&1 || true
	# The embedded SMB service ends on its own once no group uses it; one
	# pinned by hand (`__smbd start`) or still stopping goes now.
	if [ -f "$ROOT/smb/smbd.lock" ]; then
		"$CAPSID_BIN" __smbd stop >/dev/null 2>&1 || true
	fi
	local left
	left=$(qemu_of_root)
	if [ -n "$left" ]; then
		echo "FAIL: QEMU processes left behind: $left" >&2
		kill -9 $left 2>/dev/null || true
		rc=1
	fi
	# Quota filesystems of shares, then the private /etc (its own namespace
	# would drop them too: this keeps $ROOT removable).
	if [ "${CAPSID_TEST_PRIVATE_ETC:-0}" = 1 ]; then
		grep -o " $ROOT/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
		umount -l /etc 2>/dev/null || true
	fi
	rm -rf "$ROOT"
	exit $rc
}
trap cleanup EXIT

if [ "${CAPSID_TEST_PRIVATE_ETC:-0}" = 1 ]; then
	mkdir -p "$WORK/etc-up" "$WORK/etc-work"
	mount -t overlay overlay -o "lowerdir=/etc,upperdir=$WORK/etc-up,workdir=$WORK/etc-work" /etc
fi

capsid image import "$DEMO_TAR" >/dev/null

# json_get FILE-or-- EXPR: evaluate a Python expression on the parsed JSON `d`.
json_get() {
	python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

group_state() { capsid show "$1" | json_get 'd["properties"]["instanceView"]["state"]'; }

# wait_for DESCRIPTION COMMAND...: poll until COMMAND succeeds. The bound is
# generous (slow CI machines under TCG); it exists only so a broken build
# fails instead of hanging.
# Rss (kB) of process $1's mappings of the file $2 (matched by inode).
mapped_rss_kb() {
	awk -v ino="$(stat -c %i "$2")" '$1 ~ /-/ && NF >= 5 { on = ($5 == ino) } on && $1 == "Rss:" { s += $2 }
		END { print s + 0 }' "/proc/$1/smaps"
}

# The pids a group's state records: its monitor and its QEMU.
monitor_pid() { capsid show "$1" | json_get 'd["capsid"]["monitorPid"]'; }
qemu_pid() { capsid show "$1" | json_get 'd["capsid"]["qemuPid"]'; }

# field PID KEY: the value of KEY in /proc/PID/status.
field() { awk -v k="$2:" '$1 == k { $1 = ""; print substr($0, 2) }' "/proc/$1/status"; }

# Size (kB) of process $1's mappings open to KSM (VmFlags "mg").
mergeable_kb() {
	awk '$1 ~ /-/ && NF >= 5 { size = 0 } $1 == "Size:" { size = $2 }
		$1 == "VmFlags:" { for (i = 2; i <= NF; i++) if ($i == "mg") s += size } END { print s + 0 }' "/proc/$1/smaps"
}

wait_for() {
	local what=$1
	shift
	local i
	for i in $(seq 1 600); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	fail "timed out waiting for: $what"
}

state_is() { [ "$(group_state "$1")" = "$2" ]; }

# The monitor's log of group $1.
glog() { cat "$ROOT/groups/$1/monitor.log"; }

# write_web_spec FILE: group "web", an httpd answering web-says-hi on 8080
# (what a probe in another group fetches over the group network).
write_web_spec() {
	write_spec "$1" web Always \
		'httpd|1|0.25|mkdir -p /www && echo web-says-hi > /www/index.html && exec httpd -f -p 8080 -h /www'
}

# write_spec FILE NAME POLICY then container lines "name|cpu|mem|command"
write_spec() {
	local file=$1 name=$2 policy=$3
	shift 3
	{
		echo "apiVersion: 2021-10-01"
		echo "name: $name"
		echo "properties:"
		echo "  osType: Linux"
		echo "  restartPolicy: $policy"
		echo "  containers:"
		local c
		for c in "$@"; do
			IFS='|' read -r cname cpu mem cmd <<<"$c"
			echo "  - name: $cname"
			echo "    properties:"
			echo "      image: capsid/demo:latest"
			echo "      command: [\"/bin/sh\", \"-c\", $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$cmd")]"
			echo "      resources:"
			echo "        requests: {cpu: $cpu, memoryInGB: $mem}"
		done
	} >"$file"
}
