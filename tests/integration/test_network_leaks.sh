#!/usr/bin/env bash
# No leaks: after many create/delete cycles, and after a monitor is
# SIGKILLed and its group deleted, no tap, nftables rule, IPAM lease or DNS
# record is left over.
. "$(dirname "$0")/lib.sh"
cycles=${CAPSID_LEAK_CYCLES:-100}
export CAPSID_PUBLISH_ADDRESS=192.0.2.1
ip addr add 192.0.2.1/32 dev lo

cat >"$WORK/g.yaml" <<'Y'
name: cycle
properties:
  ipAddress: {type: Public, dnsNameLabel: cycle, ports: [{port: 7000}]}
  containers:
  - name: c
    properties:
      image: capsid/demo:latest
      # ends at once on SIGTERM, so each delete is not a stop grace period
      command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"]
      ports: [{port: 7000}]
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
Y

leftovers() {
	ip -o link show | grep -c 'capsid-t' || true
}
case_ "$cycles create/delete cycles (every 25th after a SIGKILLed monitor): the tap and DNAT rule exist while the group does"
for i in $(seq 1 "$cycles"); do
	capsid create -f "$WORK/g.yaml" >/dev/null
	if [ "$i" = 1 ]; then
		[ "$(leftovers)" = 1 ] || fail "no tap while the group exists"
		nft list ruleset | grep -q 7000 || fail "no DNAT rule while the group exists"
	fi
	if [ $((i % 25)) = 0 ]; then
		# the hard way: the monitor dies, then the group is deleted
		kill -9 "$(cat "$ROOT/groups/cycle/monitor.pid")"
	fi
	capsid delete cycle
done

case_ "nothing left: no tap, nftables rule, IPAM lease or DNS record"
[ "$(leftovers)" = 0 ] || fail "taps left: $(ip -o link show | grep capsid-t)"
if nft list ruleset | grep -Eq 'dport 7000|192\.0\.2\.1'; then fail "rules left: $(nft list ruleset)"; fi
python3 - "$ROOT/networks/state.json" <<'P' || fail "IPAM leases or DNS records left"
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except FileNotFoundError:
    sys.exit(0)
groups = d.get("groups") or d.get("attachments") or []
sys.exit(1 if groups else 0)
P
answer=$(busybox nslookup cycle.capsid.local 127.0.0.1 2>&1 || true)
grep -q 'Address.*192\.0\.2\.1' <<<"$answer" && fail "DNS record left: $answer"
echo "PASS ($cycles cycles)"
