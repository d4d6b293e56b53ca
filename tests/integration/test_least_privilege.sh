#!/usr/bin/env bash
# Least privilege on the host side (host/monitor/monitor_caps.c): a group's
# monitor runs as root but keeps only the capabilities docs/ARCHITECTURE.md
# lists, in its effective, permitted and bounding sets alike, none
# inheritable or ambient, with no_new_privs; QEMU holds none and the DNS
# responder only cap_net_bind_service; and the group works through its lifecycle with
# a published port, a DNS name and volumes.
. "$(dirname "$0")/lib.sh"

# The set ARCHITECTURE.md documents for `capsid __monitor`, by name.
KEPT="cap_chown cap_dac_override cap_kill cap_setgid cap_setuid cap_setpcap cap_net_bind_service cap_net_admin
cap_sys_ptrace cap_sys_admin cap_sys_nice cap_mknod"
command -v capsh >/dev/null || { echo "SKIP: capsh missing"; exit 77; }
# The kernel's number of capabilities bounds what a set can hold.
EXPECT=$(python3 - $KEPT <<'P'
import sys
nums = {"cap_chown": 0, "cap_dac_override": 1, "cap_fowner": 3, "cap_kill": 5, "cap_setgid": 6, "cap_setuid": 7,
        "cap_setpcap": 8, "cap_net_bind_service": 10, "cap_net_admin": 12, "cap_sys_ptrace": 19,
        "cap_sys_admin": 21, "cap_sys_nice": 23, "cap_mknod": 27}
print("%016x" % sum(1 << nums[n] for n in sys.argv[1:]))
P
)

# check_caps PID WHAT: PID holds exactly the monitor's set.
check_caps() {
	local pid=$1 what=$2 c
	for c in CapEff CapPrm CapBnd; do
		[ "$(field "$pid" $c)" = "$EXPECT" ] ||
			fail "$what: $c $(field "$pid" $c) ($(capsh --decode="$(field "$pid" $c)")), expected $EXPECT ($(capsh --decode="$EXPECT"))"
	done
	for c in CapInh CapAmb; do
		[ "$(field "$pid" $c)" = 0000000000000000 ] || fail "$what: $c $(field "$pid" $c)"
	done
	[ "$(field "$pid" NoNewPrivs)" = 1 ] || fail "$what: no_new_privs not set"
	[ "$(field "$pid" Uid)" = "0	0	0	0" ] || [ "$(field "$pid" Uid | tr -s ' \t' ' ')" = "0 0 0 0" ] ||
		fail "$what: uids $(field "$pid" Uid)"
}

ip addr add 192.0.2.1/32 dev lo
export CAPSID_PUBLISH_ADDRESS=192.0.2.1
cat >"$WORK/lp.yaml" <<'Y'
name: lp
properties:
  restartPolicy: Always
  ipAddress:
    type: Public
    dnsNameLabel: lp
    ports: [{port: 8080, protocol: TCP}]
  volumes:
  - name: scratch
    emptyDir: {}
  - name: cfg
    secret: {token: c2VjcmV0LXZhbHVl}
  containers:
  - name: web
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "mkdir -p /www && cat /cfg/token > /www/index.html && echo up && exec httpd -f -p 8080 -h /www"]
      ports: [{port: 8080}]
      resources: {requests: {cpu: 0.25, memoryInGB: 0.25}}
      volumeMounts:
      - {name: scratch, mountPath: /scratch}
      - {name: cfg, mountPath: /cfg}
Y
fetch() { python3 - "$1" <<'P'
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode().strip())
P
}

case_ "a running group's monitor keeps exactly the documented capabilities"
capsid create -f "$WORK/lp.yaml" >/dev/null
wait_for "lp's first output" sh -c "\"$CAPSID_BIN\" logs lp | grep -q up"
mon=$(monitor_pid lp)
check_caps "$mon" "monitor"

case_ "what the monitor starts holds no more: QEMU none, the DNS responder cap_net_bind_service"
qpid=$(qemu_pid lp)
for c in CapEff CapPrm CapBnd; do
	[ "$(field "$qpid" $c)" = 0000000000000000 ] || fail "QEMU $c $(field "$qpid" $c)"
done
dns=$(pgrep -f -- "--root $ROOT __dns" | head -n1 || true)
[ -n "$dns" ] || fail "no DNS responder for the group's network"
# It binds port 53 and nothing more, whoever started it.
for c in CapEff CapPrm CapBnd; do
	[ "$(field "$dns" $c)" = 0000000000000400 ] || fail "DNS responder $c $(field "$dns" $c), expected cap_net_bind_service only"
done
[ "$(field "$dns" NoNewPrivs)" = 1 ] || fail "DNS responder: no_new_privs not set"

case_ "the group works: its published port, its DNS name, exec, its volumes"
wait_for "the published port" sh -c "python3 -c 'import urllib.request; urllib.request.urlopen(\"http://192.0.2.1:8080/\", timeout=3)'"
[ "$(fetch http://192.0.2.1:8080/)" = secret-value ] || fail "published port: $(fetch http://192.0.2.1:8080/)"
gw=$(capsid show lp | json_get 'd["capsid"]["network"]["gateway"]')
out=$(capsid exec lp -- sh -c "echo kept > /scratch/f && cat /scratch/f && nslookup lp.capsid.local $gw 2>&1 || true")
grep -q kept <<<"$out" || fail "exec with the emptyDir: $out"
grep -q "Address: $(capsid show lp | json_get 'd["properties"]["ipAddress"]["ip"]')" <<<"$out" || fail "DNS name from the guest: $out"

case_ "stop, start and restart keep working, the new monitor dropped the same"
capsid stop lp >/dev/null
wait_for "lp stopped" state_is lp Stopped
capsid start lp >/dev/null
wait_for "lp running again" state_is lp Running
wait_for "lp's output after start" sh -c "\"$CAPSID_BIN\" logs lp | grep -q up"
check_caps "$(monitor_pid lp)" "monitor after start"
capsid restart lp >/dev/null
wait_for "lp running after restart" state_is lp Running
wait_for "the published port after restart" sh -c "python3 -c 'import urllib.request; urllib.request.urlopen(\"http://192.0.2.1:8080/\", timeout=3)'"
check_caps "$(monitor_pid lp)" "monitor after restart"
[ "$(capsid exec lp -- cat /cfg/token)" = secret-value ] || fail "the secret after restart"

case_ "delete releases everything the monitor held"
capsid delete lp >/dev/null
[ -z "$(ls "$ROOT/jail/uids" 2>/dev/null)" ] || fail "uid left after delete: $(ls "$ROOT/jail/uids")"
! ip link show | grep -q 'cs-\|capsid' || true
echo "least_privilege: ok"
