#!/usr/bin/env bash
# capsid stats: per-container CPU (cores), memory working set, the group's
# network bytes and block I/O, read from the guest through its agent; the
# table, -o json, --follow, and a group that is not running.
. "$(dirname "$0")/lib.sh"

write_spec "$WORK/busy.yaml" busy Always \
	'burner|0.5|0.25|while :; do :; done' \
	'hog|0.5|0.25|dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 2>/dev/null; for i in $(seq 1 30); do nslookup capsid.local 10.88.0.1 >/dev/null 2>&1; done; cat /bin/busybox >/dev/null; echo filled; sleep 600'
capsid create -f "$WORK/busy.yaml" >/dev/null
wait_for "hog to fill its memory" sh -c "$CAPSID_BIN logs busy --container hog | grep -q filled"

case_ "stats -o json: CPU in cores, working set, network and block counters per container"
json=$(capsid stats busy -o json)
echo "$json"
python3 -c '
import json, sys
rows = {r["container"]: r for r in json.loads(sys.argv[1])}
b, h = rows["burner"], rows["hog"]
assert set(rows) == {"burner", "hog"}, rows
assert b["group"] == "busy"
# A busy loop uses a good part of a core; an idle container almost none.
assert b["cpuCores"] > 0.1 and b["cpuCores"] > h["cpuCores"], (b, h)
assert b["cpuUsageMicroseconds"] > 0
# 48 MiB in /dev/shm count in the hog'"'"'s working set, not in the burner'"'"'s.
assert h["memoryWorkingSetBytes"] >= 44 << 20, h
assert b["memoryWorkingSetBytes"] < 30 << 20, b
assert h["networkBytesTransmitted"] > 0 and h["networkBytesReceived"] >= 0, h
assert b["networkBytesTransmitted"] == h["networkBytesTransmitted"], "one network stack per group"
for r in rows.values():
    # -1: the guest kernel has no io controller (the minimal one has none).
    assert r["blockReadBytes"] >= -1 and r["blockWriteBytes"] >= -1, r
' "$json" || fail "stats: $json"

case_ "stats: the table of every running group"
table=$(capsid stats)
echo "$table"
head -n 1 <<<"$table" | grep -q '^GROUP  *CONTAINER  *CPU  *MEMORY_MIB  *NET_IN  *NET_OUT  *BLOCK_READ  *BLOCK_WRITE$' || fail "header"
grep -q '^busy  *burner ' <<<"$table" || fail "no burner row"
grep -q '^busy  *hog ' <<<"$table" || fail "no hog row"

case_ "stats --follow: a line per container every second until interrupted"
"$CAPSID_BIN" stats busy --follow -o json >"$WORK/follow" &
pid=$!
wait_for "three samples" sh -c "[ \$(wc -l <$WORK/follow) -ge 6 ]"
kill -INT $pid
wait $pid || true
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$WORK/follow" || fail "follow lines are not JSON"

case_ "stats of a stopped group fails, naming it"
capsid stop busy
capsid stats busy 2>"$WORK/err" && fail "stats of a stopped group succeeded"
grep -q 'busy' "$WORK/err" || fail "error: $(cat "$WORK/err")"
echo PASS
