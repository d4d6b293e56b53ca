#!/usr/bin/env bash
# Red team: hostile containers on the network, beside a victim group. An
# attacker on the victim's network sends, through a packet socket (which
# containers have), UDP with the victim's MAC as its source, with the
# victim's IP as its source, and ARP replies claiming the victim's IP: none
# of it reaches the victim's tap or the host's neighbour table, while the
# same datagram with its own addresses does (the control). It cannot reach
# a host service on the gateway or 169.254.169.254 (both listening in this
# namespace). An attacker on another network (another tenant) cannot reach
# the victim's private IP, which a group on the victim's network can. The
# victim keeps its QEMU, its data and every log line, and keeps answering.
. "$(dirname "$0")/lib.sh"
PROBE=$BUILD_DIR/bin/capsid_spoof_probe
[ -x "$PROBE" ] || fail "$PROBE missing"

cat >"$WORK/victim.yaml" <<'Y'
name: victim
properties:
  restartPolicy: Always
  containers:
  - name: web
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "mkdir -p /www && echo victim-page > /www/index.html && httpd -p 8080 -h /www && echo secret-data > /victim-file; i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done"]
      resources: {requests: {cpu: 0.25, memoryInGB: 0.25}}
Y
capsid create -f "$WORK/victim.yaml" >/dev/null
wait_for "victim ticks" sh -c "'$CAPSID_BIN' logs victim | grep -q 'tick 1'"
vpid=$(qemu_pid victim)
V_IP=$(capsid show victim | json_get 'd["capsid"]["network"]["privateIp"]')
V_MAC=$(capsid show victim | json_get 'd["capsid"]["network"]["mac"]')
V_TAP=$(capsid show victim | json_get 'd["capsid"]["network"]["tap"]')
GW=$(capsid show victim | json_get 'd["capsid"]["network"]["gateway"]')

# Host services the guests are not entitled to: one on every address (the
# gateway among them), one on the metadata address.
ip addr add 169.254.169.254/32 dev lo
python3 -m http.server 9999 --bind 0.0.0.0 >/dev/null 2>&1 &
CLEANUP_PIDS+=($!)
python3 -m http.server 80 --bind 169.254.169.254 >/dev/null 2>&1 &
CLEANUP_PIDS+=($!)

# Everything the victim's tap carries, by payload tag; ARP by the IP and MAC
# it claims.
python3 - "$V_TAP" "$WORK/seen" <<'P' &
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(1)
end = time.time() + 600
with open(sys.argv[2], "a") as out:
    while time.time() < end:
        try:
            frame = s.recv(65535)
        except socket.timeout:
            continue
        if frame[12:14] == b"\x08\x06":  # ARP: which IP it claims, for which MAC
            out.write("arp %s %s\n" % (socket.inet_ntoa(frame[28:32]), frame[22:28].hex(":")))
        for tag in (b"legit-", b"spoofmac-", b"spoofip-"):
            i = frame.find(tag)
            if i >= 0:
                out.write(frame[i:].split(b"\0")[0].decode(errors="replace") + "\n")
        out.flush()
P
CLEANUP_PIDS+=($!)
sleep 1

# attacker NAME NETWORK COMMAND: a group whose container has the spoofing
# probe at /probe/spoof (a secret volume), runs COMMAND and prints.
attacker() {
	local name=$1 net=$2 cmd=$3
	{
		echo "name: $name"
		echo "properties:"
		echo "  restartPolicy: Never"
		[ -n "$net" ] && echo "  subnetIds: [{id: $net}]"
		echo "  volumes:"
		echo "  - name: probe"
		echo "    secret: {spoof: $(base64 -w0 "$PROBE")}"
		echo "  containers:"
		echo "  - name: a"
		echo "    properties:"
		echo "      image: capsid/demo:latest"
		echo "      command: [\"/bin/sh\", \"-c\", $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$cmd")]"
		echo "      resources: {requests: {cpu: 0.5, memoryInGB: 0.25}}"
		echo "      volumeMounts: [{name: probe, mountPath: /probe}]"
	} >"$WORK/$name.yaml"
	capsid run --rm -f "$WORK/$name.yaml" 2>&1 || true
}
get() { echo "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $1 $2 | tail -n 1"; }

case_ "spoofing the victim's MAC, IP and ARP from its own network; host services and 169.254.169.254"
out=$(attacker near "" "cp /probe/spoof /tmp/spoof && chmod 0755 /tmp/spoof
ifc=\$(ls /sys/class/net | grep -v '^lo\$' | head -n 1)
/tmp/spoof \$ifc $V_IP 5555 $V_IP $V_MAC t1
$(get "$V_IP" 8080) | grep -q victim-page && echo victim-reached
$(get "$GW" 9999) | grep -q . && echo host-reached || echo host-blocked
$(get 169.254.169.254 80) | grep -q . && echo metadata-reached || echo metadata-blocked")
echo "$out"
grep -Eq '(^| )sent$' <<<"$out" || fail "the probe did not send: $out"
grep -q victim-reached <<<"$out" || fail "a group on the victim's network cannot reach it (the control)"
grep -q host-blocked <<<"$out" || fail "a container reached a host service on the gateway"
grep -q metadata-blocked <<<"$out" || fail "a container reached 169.254.169.254"
sleep 1
echo "seen on the victim's tap:"; sort "$WORK/seen" | uniq -c
grep -qx legit-t1 "$WORK/seen" || fail "the control datagram never reached the victim's tap: the capture proves nothing"
! grep -q '^spoofmac-' "$WORK/seen" || fail "a frame with the victim's MAC as source reached the victim"
! grep -q '^spoofip-' "$WORK/seen" || fail "a datagram with the victim's IP as source reached the victim"
# (The victim's own ARP, its IP with its MAC, passes its tap outwards.)
! grep "^arp $V_IP " "$WORK/seen" | grep -vq " $V_MAC\$" || fail "an ARP claiming the victim's IP for another MAC reached the victim"
# The host (its bridge) still has the victim's MAC for its IP, if anything.
n=$(ip neigh show "$V_IP" | grep -o 'lladdr [0-9a-f:]*' | awk '{print $2}')
[ -z "$n" ] || [ "$n" = "$V_MAC" ] || fail "the host's neighbour table maps $V_IP to $n, not the victim's $V_MAC"

case_ "another tenant's network: the victim's private IP is out of reach"
capsid network create other --subnet 10.99.0.0/24 >/dev/null
out=$(attacker far other "$(get "$V_IP" 8080) | grep -q . && echo crossed || echo isolated
cp /probe/spoof /tmp/spoof && chmod 0755 /tmp/spoof
ifc=\$(ls /sys/class/net | grep -v '^lo\$' | head -n 1)
/tmp/spoof \$ifc $V_IP 5555 $V_IP $V_MAC t2")
echo "$out"
grep -q isolated <<<"$out" || fail "a group on another network reached the victim's private IP"
grep -Eq '(^| )sent$' <<<"$out" || fail "the probe did not send from the other network: $out"
sleep 1
! grep -q -- '-t2$' "$WORK/seen" || fail "a frame from another network reached the victim's tap: $(grep -- '-t2$' "$WORK/seen")"

case_ "the victim: the same QEMU, its data, every log line, still answering"
[ "$(qemu_pid victim)" = "$vpid" ] || fail "the victim's QEMU changed"
[ "$(capsid exec victim -- cat /victim-file)" = secret-data ] || fail "victim file"
last=$(capsid logs victim | grep -c '^tick ')
wait_for "victim keeps ticking" sh -c "[ \$('$CAPSID_BIN' logs victim | grep -c '^tick ') -gt $last ]"
capsid logs victim | awk '/^tick / { if ($2 != n) { print "gap at " n; exit 1 } n++ }' || fail "victim log lost lines"
echo PASS
