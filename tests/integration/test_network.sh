#!/usr/bin/env bash
# Host-side networking end to end, in this test's own network namespace:
# published ports reached from the host, group to group on one network,
# isolation across networks and from the host, DNS labels from the host and
# from guests, port conflicts, and `show` reporting ip and fqdn.
. "$(dirname "$0")/lib.sh"

# The namespace's "public" address, where Public groups publish their ports.
ip addr add 192.0.2.1/32 dev lo
export CAPSID_PUBLISH_ADDRESS=192.0.2.1

fetch() { python3 - "$1" <<'P'
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode().strip())
P
}

cat >"$WORK/web.yaml" <<'Y'
name: web
properties:
  ipAddress:
    type: Public
    dnsNameLabel: web
    ports: [{port: 8080, protocol: TCP}]
  containers:
  - name: httpd
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "mkdir -p /www && echo web-says-hi > /www/index.html && exec httpd -f -p 8080 -h /www"]
      ports: [{port: 8080}]
      resources: {requests: {cpu: 1, memoryInGB: 0.25}}
Y
case_ "show reports a Public group's ip and fqdn"
capsid create -f "$WORK/web.yaml" >/dev/null
ip_pub=$(capsid show web | json_get 'd["properties"]["ipAddress"]["ip"]')
fqdn=$(capsid show web | json_get 'd["properties"]["ipAddress"]["fqdn"]')
web_ip=$(capsid show web | json_get 'd["capsid"]["network"]["privateIp"]')
[ "$ip_pub" = 192.0.2.1 ] || fail "show ip: $ip_pub"
[ "$fqdn" = web.capsid.local ] || fail "show fqdn: $fqdn"

case_ "the host reaches a group through its published address"
wait_for "httpd through the published port" fetch http://192.0.2.1:8080/
[ "$(fetch http://192.0.2.1:8080/)" = web-says-hi ] || fail "published port content"

case_ "a DNS label resolves from the host"
answer=$(busybox nslookup web.capsid.local 127.0.0.1 2>&1 || true)
grep -q 'Address.*192\.0\.2\.1' <<<"$answer" || fail "host DNS lookup: $answer"

case_ "a port another Public group publishes is a create error that leaves nothing"
sed 's/^name: web$/name: web2/; s/dnsNameLabel: web$/dnsNameLabel: web2/' "$WORK/web.yaml" >"$WORK/web2.yaml"
set +e
capsid create -f "$WORK/web2.yaml" 2>"$WORK/err" >/dev/null
rc=$?
set -e
[ $rc = 1 ] && grep -q '8080' "$WORK/err" || fail "port conflict not reported: $(cat "$WORK/err")"
[ ! -e "$ROOT/groups/web2" ] || fail "failed create left web2 behind"

# a host service the guests are not entitled to
python3 -m http.server 9999 --bind 0.0.0.0 >/dev/null 2>&1 &
CLEANUP_PIDS+=($!)

probe() {
	# name network command -> output of the group's single container
	local name=$1 net=$2 cmd=$3
	{
		echo "name: $name"
		echo "properties:"
		echo "  restartPolicy: Never"
		[ -n "$net" ] && echo "  subnetIds: [{id: $net}]"
		echo "  containers:"
		echo "  - name: probe"
		echo "    properties:"
		echo "      image: capsid/demo:latest"
		echo "      command: [\"/bin/sh\", \"-c\", $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$cmd")]"
		echo "      resources: {requests: {cpu: 1, memoryInGB: 0.25}}"
	} >"$WORK/$name.yaml"
	capsid run --rm -f "$WORK/$name.yaml" 2>/dev/null || true
}

gw=$(capsid show web | json_get 'd["capsid"]["network"]["gateway"]')
# busybox-static's wget needs glibc's NSS libraries, which the demo image
# does not carry: HTTP requests go through nc.
get() { echo "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $1 $2 | tail -n 1"; }
case_ "group to group on one network, a DNS label from a guest, a host service blocked"
out=$(probe same "" "$(get "$web_ip" 8080) | grep -q web-says-hi && echo same-net-ok; nslookup web.capsid.local 2>&1 | grep Address; $(get "$gw" 9999) | grep -q . && echo host-reached || echo host-blocked")
echo "$out"
grep -q 'same-net-ok' <<<"$out" || fail "group to group on one network failed"
grep -q '192\.0\.2\.1' <<<"$out" || fail "DNS label from a guest failed"
grep -q 'host-blocked' <<<"$out" || fail "guest reached a host service it is not entitled to"

case_ "a group on another network is isolated yet reaches the published port"
capsid network create other --subnet 10.99.0.0/24
capsid network list | grep -q '^other' || fail "network list: $(capsid network list)"
out=$(probe far other "$(get "$web_ip" 8080) | grep -q . && echo crossed || echo isolated; $(get 192.0.2.1 8080)")
echo "$out"
grep -q 'isolated' <<<"$out" || fail "a group reached another network"
grep -q 'web-says-hi' <<<"$out" || fail "published port not reachable like an outside client would"

case_ "network rm of a network in use fails"
set +e
capsid network rm default 2>"$WORK/err"
rc=$?
set -e
[ $rc = 1 ] || fail "network rm of a network in use succeeded"
capsid delete web
capsid network rm other
echo PASS
