#!/usr/bin/env bash
# Two containers of one group share the guest's network stack (they reach
# each other on localhost) but not their pid namespaces; resources follow the
# ACI rule: vCPUs = ceil(sum of CPU requests), memory = sum + overhead.
. "$(dirname "$0")/lib.sh"

case_ "two containers of a group reach each other on localhost"
write_spec "$WORK/pair.yaml" pair Never \
	'server|0.5|0.25|echo "ns $(for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done | tr "\n" " ")"; echo "cg $(cat /sys/fs/cgroup/memory.max) $(cat /sys/fs/cgroup/cpu.weight)"; echo pong-from-server | nc -l -p 9000; echo server done; sleep 3' \
	'client|0.75|0.25|echo "ns $(for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done | tr "\n" " ")"; echo "cg $(cat /sys/fs/cgroup/memory.max) $(cat /sys/fs/cgroup/cpu.weight)"; for i in $(seq 1 200); do nc 127.0.0.1 9000 </dev/null && break; sleep 0.1; done; echo "procs $(ps -o comm= | tr "\n" " ")"; echo "nproc=$(nproc) mem=$(sed -n "s/MemTotal: *//p" /proc/meminfo)"'
out=$(capsid run -f "$WORK/pair.yaml")
echo "$out"
grep -q '^client | pong-from-server$' <<<"$out" || fail "client did not reach server over localhost"
grep -q '^server | server done$' <<<"$out" || fail "server output missing"
case_ "vCPUs and memory follow the ACI rule (ceil of CPU requests, sum plus overhead)"
# 0.5 + 0.75 CPU -> 2 vCPUs
grep -q '^client | nproc=2 ' <<<"$out" || fail "nproc is not 2"
memkb=$(sed -n 's/^client | nproc=2 mem=\([0-9]*\) kB$/\1/p' <<<"$out")
# 0.5 GiB of requests + 128 MiB overhead = 640 MiB of guest RAM; the kernel
# reserves some, so MemTotal lands a little below.
[ "$memkb" -gt $((560 * 1024)) ] && [ "$memkb" -le $((640 * 1024)) ] || fail "MemTotal $memkb kB not near 640 MiB"
case_ "each container has its own pid, mount, uts and ipc namespaces; the network one is shared"
read -r spid smnt suts sipc snet <<<"$(sed -n 's/^server | ns //p' <<<"$out")"
read -r cpid cmnt cuts cipc cnet <<<"$(sed -n 's/^client | ns //p' <<<"$out")"
[ -n "$spid" ] && [ "$spid" != "$cpid" ] && [ "$smnt" != "$cmnt" ] && [ "$suts" != "$cuts" ] && [ "$sipc" != "$cipc" ] ||
	fail "containers share a pid/mnt/uts/ipc namespace: $spid $cpid $smnt $cmnt $suts $cuts $sipc $cipc"
[ "$snet" = "$cnet" ] || fail "containers do not share the network namespace"
grep -q '^client | procs .*ps' <<<"$out" || fail "client cannot see its own processes"
grep '^client | procs' <<<"$out" | grep -q 'sleep' && fail "client sees the server's processes"
case_ "cgroups: memory.max is the request, cpu.weight follows the CPU request"
# cgroups: memory limit = the request (no limit given), CPU weight
# proportional to the request (0.5 vs 0.75 CPU).
smem=$(sed -n 's/^server | cg \([0-9]*\) .*/\1/p' <<<"$out"); cmem=$(sed -n 's/^client | cg \([0-9]*\) .*/\1/p' <<<"$out")
[ "$smem" = $((256 * 1024 * 1024)) ] && [ "$cmem" = $((256 * 1024 * 1024)) ] || fail "memory.max: $smem $cmem"
sw=$(sed -n 's/^server | cg [0-9]* \([0-9]*\)/\1/p' <<<"$out"); cw=$(sed -n 's/^client | cg [0-9]* \([0-9]*\)/\1/p' <<<"$out")
python3 -c "import sys; s,c=int(sys.argv[1]),int(sys.argv[2]); sys.exit(0 if abs(c/s-1.5)<0.1 else 1)" "$sw" "$cw" ||
	fail "cpu.weight not proportional to requests: server $sw client $cw"
case_ "logs after the end: run's lines in run's order; --tail 1"
# After the end, `logs` merges the containers' files by time: the same lines
# in the same order as `run` showed them live.
[ "$(capsid logs pair 2>/dev/null)" = "$out" ] || fail "logs after the end differ from run's output: $(capsid logs pair 2>&1)"
[ "$(capsid logs pair --tail 1 2>/dev/null)" = "$(tail -n 1 <<<"$out")" ] || fail "logs --tail 1: $(capsid logs pair --tail 1 2>&1)"
echo PASS
