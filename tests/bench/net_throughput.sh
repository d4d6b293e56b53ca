#!/usr/bin/env bash
# TCP throughput host -> group through its published port, against host ->
# a veth peer in a network namespace, measured in the same run (issue 3's
# benchmark). Runs entirely inside a private network namespace.
# usage: CAPSID_BUILD_DIR=build bash tests/bench/net_throughput.sh [MiB] [runs]
. "$(dirname "$0")/../integration/lib.sh"
mib=${1:-64}
runs=${2:-5}
ip addr add 192.0.2.1/32 dev lo
export CAPSID_PUBLISH_ADDRESS=192.0.2.1

# send MiB to HOST:PORT, print MB/s; the receiver discards and closes at EOF
send() {
	python3 - "$1" "$2" "$mib" <<'P'
import socket, sys, time
host, port, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for attempt in range(100):
    try:
        s = socket.create_connection((host, port), timeout=5); break
    except OSError:
        time.sleep(0.2)
buf = b"x" * (1 << 20)
t = time.monotonic()
for _ in range(mib):
    s.sendall(buf)
s.shutdown(socket.SHUT_WR)
s.settimeout(120)
while s.recv(65536):
    pass
print(f"{mib / (time.monotonic() - t):.1f}")
P
}

cat >"$WORK/sink.yaml" <<'Y'
name: sink
properties:
  ipAddress: {type: Public, ports: [{port: 8080}]}
  containers:
  - name: sink
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "while true; do nc -l -p 8080 > /dev/null; done"]
      ports: [{port: 8080}]
      resources: {requests: {cpu: 1, memoryInGB: 0.5}}
Y
capsid create -f "$WORK/sink.yaml" >/dev/null

ip netns add peer-$$ 2>/dev/null || true
ip link add vh type veth peer name vp netns peer-$$
ip addr add 198.51.100.1/24 dev vh && ip link set vh up
ip netns exec peer-$$ ip addr add 198.51.100.2/24 dev vp
ip netns exec peer-$$ ip link set vp up
ip netns exec peer-$$ ip link set lo up
ip netns exec peer-$$ sh -c 'while true; do busybox nc -l -p 8080 > /dev/null; done' &
CLEANUP_PIDS+=($!)

group=() veth=()
for i in $(seq 1 "$runs"); do
	group+=("$(send 192.0.2.1 8080)")
	veth+=("$(send 198.51.100.2 8080)")
done
ip netns pids peer-$$ | xargs -r kill 2>/dev/null || true
ip netns del peer-$$
python3 - "${group[*]}" "${veth[*]}" "$mib" <<'P'
import statistics, sys
g = [float(x) for x in sys.argv[1].split()]
v = [float(x) for x in sys.argv[2].split()]
mg, mv = statistics.median(g), statistics.median(v)
print(f"{sys.argv[3]} MiB per run, {len(g)} runs")
print(f"host -> group (published port): median {mg:.1f} MiB/s  min {min(g):.1f}  max {max(g):.1f}")
print(f"host -> veth peer (baseline):   median {mv:.1f} MiB/s  min {min(v):.1f}  max {max(v):.1f}")
print(f"ratio group/veth: {mg / mv:.3f}")
P
