#!/usr/bin/env bash
# Two containers of one group share the guest's network stack (they reach
# each other on localhost) but not their pid namespaces; resources follow the
# ACI rule: vCPUs = ceil(sum of CPU requests), memory = sum + overhead.
. "$(dirname "$0")/lib.sh"

write_spec "$WORK/pair.yaml" pair Never \
	'server|0.5|0.25|echo pong-from-server | nc -l -p 9000; echo server done' \
	'client|0.75|0.25|for i in $(seq 1 200); do nc 127.0.0.1 9000 </dev/null && break; sleep 0.1; done; echo "client sees $(ps -o pid= | wc -l) procs"; echo "nproc=$(nproc) mem=$(sed -n "s/MemTotal: *//p" /proc/meminfo)"'
out=$(capsid run -f "$WORK/pair.yaml")
echo "$out"
grep -q '^client | pong-from-server$' <<<"$out" || fail "client did not reach server over localhost"
grep -q '^server | server done$' <<<"$out" || fail "server output missing"
# 0.5 + 0.75 CPU -> 2 vCPUs
grep -q '^client | nproc=2 ' <<<"$out" || fail "nproc is not 2"
memkb=$(sed -n 's/^client | nproc=2 mem=\([0-9]*\) kB$/\1/p' <<<"$out")
# 0.5 GiB of requests + 128 MiB overhead = 640 MiB of guest RAM; the kernel
# reserves some, so MemTotal lands a little below.
[ "$memkb" -gt $((560 * 1024)) ] && [ "$memkb" -le $((640 * 1024)) ] || fail "MemTotal $memkb kB not near 640 MiB"
echo PASS
