#!/usr/bin/env bash
# Cold start of `capsid run` to the first output line against `runc run` on the
# host with the same busybox content (5 runs each), and the PSS of QEMU and the
# monitor of one idle single-container group. Runs in a private netns.
# usage: CAPSID_BUILD_DIR=build bash tests/bench/start_and_memory.sh
. "$(dirname "$0")/../integration/lib.sh"
write_spec "$WORK/h.yaml" h Never 'h|1|0.5|echo first-line'
t=()
for i in 1 2 3 4 5; do
  s=$(date +%s%N)
  capsid run --rm -f "$WORK/h.yaml" 2>/dev/null | while read -r l; do e=$(date +%s%N); echo $(( (e - s)/1000000 )); break; done > $WORK/t
  t+=($(cat $WORK/t)); sleep 1
done
echo "capsid run -> first line ms: ${t[*]}"
# runc on the host, same image content
B=$WORK/bundle; mkdir -p $B/rootfs; tar -xf $DEMO_TAR -C $WORK; for l in $WORK/*/layer.tar; do tar -xf $l -C $B/rootfs; done
cd $B && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"echo", "first-line"/' config.json
r=()
for i in 1 2 3 4 5; do s=$(date +%s%N); runc run r$i | head -1 >/dev/null; e=$(date +%s%N); r+=($(( (e-s)/1000000 ))); runc delete -f r$i 2>/dev/null; done
echo "runc run -> first line ms: ${r[*]}"
write_spec "$WORK/idle.yaml" idle Always 'c|1|0.5|exec sleep 3600'
capsid create -f "$WORK/idle.yaml" >/dev/null; sleep 5
mp=$(cat $ROOT/groups/idle/monitor.pid); qp=$(pgrep -f "[q]emu-system.*$ROOT/")
echo "PSS qemu: $(awk '/^Pss:/{print $2}' /proc/$qp/smaps_rollup) kB monitor: $(awk '/^Pss:/{print $2}' /proc/$mp/smaps_rollup) kB"
