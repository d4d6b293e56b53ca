#!/usr/bin/env bash
# What a new user meets first: a container that cannot start says why on
# run's and create's stderr (wrong storage key, missing command), whole, and
# show keeps the whole message; ACI YAML as Microsoft's documentation writes
# it runs unchanged (tests/data/aci-docs); az container create's flags make
# the same group as a file; a Public group on a host without a default route
# names the publish-address setting, and "all" publishes on every local
# address.
export CAPSID_TEST_PRIVATE_ETC=1 # the SMB account's unix user lives in a private /etc
. "$(dirname "$0")/lib.sh"

DOCS=$(cd "$(dirname "$0")/../data/aci-docs" && pwd)
fetch() { python3 - "$1" <<'P'
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode().strip())
P
}
detail_of() { capsid show "$1" | json_get 'd["properties"]["containers"][0]["properties"]["instanceView"]["currentState"]["detailStatus"]'; }

case_ "a command that does not exist: run exits 128 and says why, whole"
# A long path: the reason is longer than the 128 bytes show used to keep.
missing=/opt/$(printf 'a%.0s' $(seq 1 150))/no-such-program
write_spec "$WORK/nocmd.yaml" nocmd Never "app|1|0.25|exec $missing"
sed -i "s|command: .*|command: [\"$missing\"]|" "$WORK/nocmd.yaml"
set +e
capsid run -f "$WORK/nocmd.yaml" >"$WORK/nocmd.out" 2>"$WORK/nocmd.err"
rc=$?
set -e
[ $rc = 128 ] || fail "run of a missing command exited $rc, want 128"
grep -q "^capsid: warning: app: Failed: start failed: .*$missing" "$WORK/nocmd.err" ||
	fail "run did not print why the container failed: $(cat "$WORK/nocmd.err")"
detail=$(detail_of nocmd)
[[ "$detail" == *"$missing"* ]] || fail "show cut the detail status: $detail"
capsid show nocmd | grep -q "no-such-program" || fail "show lost the event message"
capsid delete nocmd

case_ "the same through create: the warning is printed before it returns"
sed 's/^name: nocmd$/name: nocmd2/' "$WORK/nocmd.yaml" >"$WORK/nocmd2.yaml"
capsid create -f "$WORK/nocmd2.yaml" >"$WORK/c.out" 2>"$WORK/c.err"
grep -q "^capsid: warning: app: Failed: start failed: .*$missing" "$WORK/c.err" ||
	fail "create did not print the Warning event: $(cat "$WORK/c.err")"
capsid delete nocmd2

case_ "an azureFile volume with a wrong key: run says which volume and why"
capsid share create mystorageaccount/acishare >/dev/null
KEY=$(capsid share key mystorageaccount)
WRONG=$(printf '%088d' 0 | tr 0 A)
# Microsoft's example as written (Public, port 80, dnsNameLabel), published on
# every local address: this namespace has no default route.
export CAPSID_PUBLISH_ADDRESS=all
sed "s|storageAccountKey: .*|storageAccountKey: $WRONG|; s|^name: file-share-demo|name: badkey|; s|dnsNameLabel: aci-demo|dnsNameLabel: badkey|" \
	"$DOCS/azure-files.yaml" >"$WORK/badkey.yaml"
set +e
capsid run -f "$WORK/badkey.yaml" >"$WORK/badkey.out" 2>"$WORK/badkey.err"
rc=$?
set -e
[ $rc = 128 ] || fail "run with a wrong key exited $rc, want 128"
grep -q '^capsid: warning: hellofiles: Failed: .*volume filesharevolume' "$WORK/badkey.err" ||
	fail "run did not name the volume: $(cat "$WORK/badkey.err")"
grep -qi 'access denied\|permission denied' "$WORK/badkey.err" || fail "run did not say why: $(cat "$WORK/badkey.err")"
if grep -q "$WRONG" "$WORK/badkey.err"; then fail "the key reached the output"; fi
capsid delete badkey

case_ "ACI docs: Azure Files (sharename in lower case)"
sed "s|storageAccountKey: .*|storageAccountKey: $KEY|" "$DOCS/azure-files.yaml" >"$WORK/files.yaml"
capsid run -f "$WORK/files.yaml" >"$WORK/files.out" 2>"$WORK/files.err" || fail "azure-files example: $(cat "$WORK/files.err")"
grep -q '^hellofiles | hello-from-aci$' "$WORK/files.out" || fail "azure-files example output: $(cat "$WORK/files.out")"
SHARE_DIR=$(capsid share list -o json | json_get '[s["path"] for s in d if s["share"] == "acishare"][0]')
[ "$(cat "$SHARE_DIR/hello.txt")" = hello-from-aci ] || fail "the share did not get the file"
capsid delete file-share-demo

case_ "ACI docs: secure environment variables (apiVersion unquoted, tags: null)"
out=$(capsid run -f "$DOCS/secure-env.yaml" 2>"$WORK/err") || fail "secure-env example: $(cat "$WORK/err")"
grep -q '^mycontainer | my-exposed-value$' <<<"$out" && grep -q '^mycontainer | secret-ok$' <<<"$out" ||
	fail "secure-env example output: $out"
env=$(capsid show securetest | json_get 'd["properties"]["containers"][0]["properties"]["environmentVariables"]')
[[ "$env" == *NOTSECRET* && "$env" == *"'SECRET'"* && "$env" != *my-secret-value* ]] || fail "show's variables: $env"

case_ "export: a spec create accepts, secure values left out"
capsid export securetest >"$WORK/exported.yaml"
grep -q 'NOTSECRET' "$WORK/exported.yaml" || fail "export lost a variable: $(cat "$WORK/exported.yaml")"
if grep -q '"SECRET"' "$WORK/exported.yaml"; then fail "export kept a secure variable"; fi
capsid delete securetest
out=$(capsid run --rm -f "$WORK/exported.yaml" 2>&1 || true)
grep -q '^mycontainer | my-exposed-value$' <<<"$out" || fail "the exported spec does not run: $out"

case_ "ACI docs: secret volume (ports: [])"
out=$(capsid run -f "$DOCS/secret-volume.yaml" 2>"$WORK/err") || fail "secret-volume example: $(cat "$WORK/err")"
grep -q 'My first secret FOO' <<<"$out" && grep -q 'My second secret BAR' <<<"$out" ||
	fail "secret-volume example output: $out"
capsid delete secret-volume-demo

case_ "ACI docs: identity (shown back), a quoted port"
capsid run -f "$DOCS/identity.yaml" >"$WORK/id.out" 2>"$WORK/id.err" || fail "identity example: $(cat "$WORK/id.err")"
grep -q 'group names are case-insensitive: "myContainerGroup" is used as "mycontainergroup"' "$WORK/id.err" ||
	fail "no warning about the folded name: $(cat "$WORK/id.err")"
grep -q '^mycontainer | identity-example$' "$WORK/id.out" || fail "identity example output: $(cat "$WORK/id.out")"
capsid show myContainerGroup >"$WORK/id.json" # looked up as ARM does, whatever the case
[ "$(json_get 'd["identity"]["type"]' <"$WORK/id.json")" = UserAssigned ] || fail "identity not shown back"
[ "$(json_get 'd["type"]' <"$WORK/id.json")" = Microsoft.ContainerInstance/containerGroups ] || fail "type not shown back"
[ "$(json_get 'd["location"]' <"$WORK/id.json")" = eastus ] || fail "location not shown back"
capsid delete MyContainerGroup

case_ "ACI docs: multi-container (memoryInGb, protocol: tcp), published on every local address"
ip addr add 198.51.100.7/32 dev lo
capsid create -f "$DOCS/multi-container.yaml" >/dev/null 2>"$WORK/mc.err" || fail "multi-container example: $(cat "$WORK/mc.err")"
capsid show mycontainergroup >"$WORK/mc.json"
[ "$(json_get 'd["tags"]["exampleTag"]' <"$WORK/mc.json")" = tutorial ] || fail "tags not shown back"
[ "$(json_get 'd["properties"]["containers"][0]["properties"]["resources"]["requests"]["memoryInGB"]' <"$WORK/mc.json")" = 0.5 ] ||
	fail "memoryInGb not read"
wait_for "the app through 198.51.100.7:80" fetch http://198.51.100.7:80/
[ "$(fetch http://198.51.100.7:80/)" = app-says-hi ] || fail "published port content"
sidecar_saw_app() { capsid logs mycontainergroup --container aci-tutorial-sidecar | grep -q app-says-hi; }
wait_for "the sidecar reaches the app" sidecar_saw_app
capsid delete mycontainergroup

case_ "ACI docs: vnet (Private, subnetIds), DNS config"
capsid network create aci-subnet --subnet 10.77.0.0/24 >/dev/null
capsid create -f "$DOCS/vnet.yaml" >/dev/null 2>"$WORK/vnet.err" || fail "vnet example: $(cat "$WORK/vnet.err")"
vnet_ip=$(capsid show appcontaineryaml | json_get 'd["properties"]["ipAddress"]["ip"]')
[[ "$vnet_ip" == 10.77.0.* ]] || fail "vnet group address $vnet_ip, want one of aci-subnet"
capsid create -f "$DOCS/dns-config.yaml" >/dev/null 2>"$WORK/dns.err" || fail "dns-config example: $(cat "$WORK/dns.err")"
capsid exec pwsh-vnet-dns -- cat /etc/resolv.conf >"$WORK/resolv"
grep -q '^nameserver 10.0.0.10$' "$WORK/resolv" && grep -q '^search contoso.com$' "$WORK/resolv" ||
	fail "dnsConfig not applied: $(cat "$WORK/resolv")"
capsid delete appcontaineryaml
capsid delete pwsh-vnet-dns

case_ "az container create's flags: run"
out=$(X=unused capsid run --name Hello-Flags --image capsid/demo:latest --restart-policy Never \
	-e GREETING=hi "WHO=two words" --secure-environment-variables TOKEN=t0ken \
	--command-line "/bin/sh -c 'echo \$GREETING \$WHO; test \$TOKEN = t0ken && echo token-ok'" 2>"$WORK/err") ||
	fail "one-liner run: $(cat "$WORK/err")"
grep -q '^hello-flags | hi two words$' <<<"$out" && grep -q '^hello-flags | token-ok$' <<<"$out" ||
	fail "one-liner output: $out"
capsid show hello-flags >"$WORK/flags.json"
[ "$(json_get 'd["properties"]["containers"][0]["properties"]["resources"]["requests"]["memoryInGB"]' <"$WORK/flags.json")" = 1.5 ] ||
	fail "az's default memory not applied"
env=$(json_get 'd["properties"]["containers"][0]["properties"]["environmentVariables"]' <"$WORK/flags.json")
[[ "$env" == *"'TOKEN'"* && "$env" != *t0ken* ]] || fail "show's variables: $env"
capsid delete hello-flags

case_ "az container create's flags: create with ports, a public address and a DNS label"
capsid create -n flagweb --image capsid/demo:latest --cpu 0.5 --memory 0.25 --ports 8080 \
	--ip-address Public --dns-name-label flagweb \
	--command-line "/bin/sh -c 'mkdir -p /www && echo flags-say-hi > /www/index.html && exec httpd -f -p 8080 -h /www'" \
	>/dev/null 2>"$WORK/err" || fail "one-liner create: $(cat "$WORK/err")"
wait_for "flagweb through 198.51.100.7:8080" fetch http://198.51.100.7:8080/
[ "$(fetch http://198.51.100.7:8080/)" = flags-say-hi ] || fail "one-liner published port"
[ "$(capsid show flagweb | json_get 'd["properties"]["ipAddress"]["fqdn"]')" = flagweb.capsid.local ] || fail "dns label"
capsid delete flagweb
case_ "az's flags: a bad --cpu and -f with flags are errors that leave nothing"
if capsid create --name x --image capsid/demo:latest --cpu lots 2>"$WORK/err"; then fail "--cpu lots accepted"; fi
grep -q -- '--cpu lots: must be a number' "$WORK/err" || fail "bad --cpu message: $(cat "$WORK/err")"
if capsid create -f "$WORK/nocmd.yaml" --image x 2>"$WORK/err"; then fail "-f with flags accepted"; fi
grep -q 'not both' "$WORK/err" || fail "-f with flags: $(cat "$WORK/err")"
[ ! -e "$ROOT/groups/x" ] || fail "a refused create left its group"

case_ "a Public group without a default route names the publish setting"
unset CAPSID_PUBLISH_ADDRESS
if capsid create -n nopub --image capsid/demo:latest --ip-address Public --command-line "sleep 60" 2>"$WORK/err"; then
	fail "a Public group was created with no publish address"
fi
grep -q 'CAPSID_PUBLISH_ADDRESS' "$WORK/err" && grep -q '"all"' "$WORK/err" ||
	fail "the error does not name the setting: $(cat "$WORK/err")"
[ ! -e "$ROOT/groups/nopub" ] || fail "the failed create left its group"
case_ "the publish setting from the state root's network configuration, not the environment"
echo '{"publishAddress": "all"}' >"$ROOT/networks/config.json"
capsid create -n nopub --image capsid/demo:latest --ports 8081 --ip-address Public \
	--command-line "/bin/sh -c 'mkdir -p /w && echo via-config > /w/index.html && exec httpd -f -p 8081 -h /w'" >/dev/null
wait_for "nopub through 198.51.100.7:8081" fetch http://198.51.100.7:8081/
capsid delete nopub
echo PASS
