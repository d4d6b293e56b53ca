#!/usr/bin/env bash
# Sequential write and read throughput from inside a guest, each against the
# same operation on the host in the same run (issue 4's benchmark):
#   - an SMB volume of the embedded service, against the share's directory on the host;
#   - an emptyDir (tmpfs in the guest), against a tmpfs on the host.
# busybox dd in a container (write with conv=fsync, then read back the
# file), SIZE MiB, RUNS runs each; median, min, max in MiB/s and the ratio of
# the medians. The guest reads what it just wrote (its page cache may hold
# it), as the host does: both sides measure the same sequence.
#   CAPSID_BUILD_DIR=build bash tests/bench/volume_throughput.sh [SIZE_MIB] [RUNS]
set -eu
SIZE=${1:-64}
RUNS=${2:-5}
if [ -z "${CAPSID_BENCH_NS:-}" ]; then
	exec unshare --net --mount --propagation private -- env CAPSID_BENCH_NS=1 bash "$0" "$@"
fi
BUILD_DIR=$(cd "${CAPSID_BUILD_DIR:-build}" && pwd)
B="$BUILD_DIR/bin/capsid"
ROOT=$(mktemp -d /tmp/cb.XXXXXX)
export CAPSID_ROOT=$ROOT CAPSID_QUIET_ACCEL=1
mkdir -p "$ROOT/etc-up" "$ROOT/etc-work" "$ROOT/tmpfs"
cleanup() {
	for g in $("$B" list -q 2>/dev/null || true); do "$B" delete "$g" >/dev/null 2>&1 || true; done
	"$B" __smbd stop >/dev/null 2>&1 || true
	umount -l "$ROOT/tmpfs" 2>/dev/null || true
	umount -l /etc 2>/dev/null || true
	rm -rf "$ROOT"
}
trap cleanup EXIT
# The SMB account's unix user lives in a private /etc.
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$ROOT/etc-up,workdir=$ROOT/etc-work" /etc
mount -t tmpfs -o size=$((SIZE * 2 + 16))m tmpfs "$ROOT/tmpfs"
ip link set lo up
"$B" image import "$BUILD_DIR/share/capsid/demo-image.tar" >/dev/null
"$B" share create bench/data >/dev/null
KEY=$("$B" share key bench)
SHARE_DIR=$("$B" share list -o json | python3 -c 'import json,sys; print([s["path"] for s in json.load(sys.stdin)][0])')

# One container per volume, one after the other (the emptyDir one waits for
# the SMB one's "go" file in the emptyDir): RUNS x (write with fsync, read
# back) with busybox dd, timed by /proc/uptime (10 ms resolution: busybox
# has neither dd's summary line nor date +%N).
python3 - "$ROOT/g.json" "$KEY" "$SIZE" "$RUNS" <<'PY'
import json, sys
path, key, size, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def passes(d):
    return (f"for i in $(seq 1 {runs}); do "
            f"t0=$(cut -d' ' -f1 /proc/uptime); dd if=/dev/zero of={d}/f bs=1M count={size} conv=fsync 2>/dev/null; "
            f"t1=$(cut -d' ' -f1 /proc/uptime); dd if={d}/f of=/dev/null bs=1M 2>/dev/null; "
            f"t2=$(cut -d' ' -f1 /proc/uptime); echo write $t0 $t1; echo read $t1 $t2; rm -f {d}/f; done")
mem = round((size * 2 + 256) / 1024, 2)
def container(name, cmd, mounts):
    return {"name": name, "properties": {"image": "capsid/demo:latest", "command": ["/bin/sh", "-c", cmd],
            "volumeMounts": mounts, "resources": {"requests": {"cpu": 1, "memoryInGB": mem}}}}
spec = {"name": "bench", "properties": {"restartPolicy": "Never",
    "volumes": [{"name": "smb", "azureFile": {"shareName": "data", "storageAccountName": "bench",
                                               "storageAccountKey": key}},
                {"name": "scratch", "emptyDir": {}}],
    "containers": [
        container("smb", passes("/mnt/smb") + "; touch /mnt/scratch/go",
                  [{"name": "smb", "mountPath": "/mnt/smb"}, {"name": "scratch", "mountPath": "/mnt/scratch"}]),
        container("emptydir", "while [ ! -e /mnt/scratch/go ]; do sleep 0.2; done; " + passes("/mnt/scratch/d")
                  .replace("for i in", "mkdir -p /mnt/scratch/d; for i in", 1),
                  [{"name": "scratch", "mountPath": "/mnt/scratch"}])]}}
open(path, "w").write(json.dumps(spec))
PY
"$B" run -f "$ROOT/g.json" >"$ROOT/guest.out" 2>&1 || { cat "$ROOT/guest.out" >&2; exit 1; }
cat "$ROOT/guest.out" >&2

host_runs() {
	local dir=$1 i
	local t0 t1 t2
	for i in $(seq 1 "$RUNS"); do
		t0=$(date +%s.%N)
		dd if=/dev/zero of="$dir/f" bs=1M count="$SIZE" conv=fsync 2>/dev/null
		t1=$(date +%s.%N)
		dd if="$dir/f" of=/dev/null bs=1M 2>/dev/null
		t2=$(date +%s.%N)
		echo "write $t0 $t1"
		echo "read $t1 $t2"
		rm -f "$dir/f"
	done
}
host_runs "$SHARE_DIR" | sed 's/^/smb-host | /' >"$ROOT/host.out"
host_runs "$ROOT/tmpfs" | sed 's/^/tmpfs-host | /' >>"$ROOT/host.out"

python3 - "$ROOT/guest.out" "$ROOT/host.out" "$SIZE" <<'PY'
import re, statistics, sys, json
size = int(sys.argv[3])
runs = {}
for path in sys.argv[1:3]:
    for line in open(path):
        m = re.match(r"(\S+) \| (write|read) ([0-9.]+) ([0-9.]+)$", line.strip())
        if not m:
            continue
        who, op = m.group(1), m.group(2)
        secs = float(m.group(4)) - float(m.group(3))
        if not who.endswith("-host"):
            secs = max(secs, 0.01)  # the guest's /proc/uptime ticks in 10 ms
        runs.setdefault((who, op), []).append(size / secs)
names = {"smb": "SMB volume (guest)", "smb-host": "share directory (host)",
         "emptydir": "emptyDir (guest)", "tmpfs-host": "tmpfs (host)"}
out = []
print(f"{'what':26} {'op':6} {'median':>9} {'min':>9} {'max':>9}  MiB/s  n")
for who in ("smb", "smb-host", "emptydir", "tmpfs-host"):
    for op in ("write", "read"):
        v = runs.get((who, op), [])
        if not v:
            continue
        print(f"{names[who]:26} {op:6} {statistics.median(v):9.1f} {min(v):9.1f} {max(v):9.1f}        {len(v)}")
        out.append({"what": who, "op": op, "medianMiBs": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)})
for g, h in (("smb", "smb-host"), ("emptydir", "tmpfs-host")):
    for op in ("write", "read"):
        if runs.get((g, op)) and runs.get((h, op)):
            r = statistics.median(runs[(g, op)]) / statistics.median(runs[(h, op)])
            print(f"ratio {names[g]} / {names[h]} {op}: {r:.3f}")
print(json.dumps({"sizeMiB": size, "results": out}))
PY
