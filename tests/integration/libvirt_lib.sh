# A private libvirtd for a test or a benchmark that sourced lib.sh:
# libvirtd_private.sh under $ROOT/lvd in the caller's network namespace,
# reached at $URI (vsh runs virsh against it). Exits 77 (skipped) when
# libvirtd or virsh is missing, fails when the libvirtd does not answer.
# Its groups are deleted before it stops (a libvirtd that stops leaves its
# domains running), then lib.sh's cleanup runs. Sourced, not run.

for tool in libvirtd virsh; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not installed (ci/setup.sh installs libvirt-daemon-driver-qemu, libvirt-clients)"
		exit 77
	fi
done

LVD=$ROOT/lvd
mkdir -p "$LVD"
URI="qemu+unix:///system?socket=$LVD/sock/libvirt-sock"
bash "$(dirname "${BASH_SOURCE[0]}")/libvirtd_private.sh" "$LVD" >"$LVD/out" 2>&1 &
LVD_PID=$!
vsh() { virsh -q -c "$URI" "$@"; }

libvirt_cleanup() {
	local rc=$?
	for g in $("$CAPSID_BIN" list -q 2>/dev/null || true); do
		"$CAPSID_BIN" delete "$g" >/dev/null 2>&1 || true
	done
	if [ $rc -ne 0 ]; then
		{ echo "--- libvirtd"; tail -n 20 "$LVD/libvirtd.log" "$LVD/out" 2>/dev/null; } >&2
		tail -n 20 "$LVD"/var-up/log/libvirt/qemu/*.log 2>/dev/null >&2 || true
	fi
	kill "$LVD_PID" 2>/dev/null || true
	wait "$LVD_PID" 2>/dev/null || true
	# lib.sh's cleanup takes the status from $? (set -e must not end here).
	set +e
	(exit $rc)
	cleanup
}
trap libvirt_cleanup EXIT

lvd_up() { vsh version >/dev/null 2>&1; }
for i in $(seq 1 150); do
	lvd_up && break
	kill -0 "$LVD_PID" 2>/dev/null || fail "the private libvirtd exited: $(tail -n 5 "$LVD/libvirtd.log" "$LVD/out" 2>/dev/null)"
	sleep 0.2
done
lvd_up || fail "the private libvirtd does not answer at $URI"

