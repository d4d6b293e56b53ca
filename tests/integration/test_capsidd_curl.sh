#!/usr/bin/env bash
# capsidd driven with curl: ARM's container-group API over TLS, with
# tenants kept apart, async operations, logs, exec over the websocket,
# hostile and slow clients, and groups that outlive capsidd.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/capsidd_lib.sh"
CLIENT="python3 $(dirname "$0")/capsidd_client.py"

start_capsidd --header-timeout 3000 --max-body 65536 --page-size 1 --quota-groups 2
G=$GROUPS_A/web

body() {
	cat <<JSON
{"location": "westeurope", "tags": {"team": "blue"},
 "properties": {"osType": "Linux", "restartPolicy": "Always",
  "containers": [{"name": "app", "properties": {"image": "capsid/demo:latest",
   "command": ["/bin/sh", "-c", "echo hello-from-api; echo second-line; exec sleep 3600"],
   "resources": {"requests": {"cpu": 1, "memoryInGB": 0.5}}}}]}}
JSON
}

case_ "no token, a wrong token: 401 that says nothing of groups"
api "" GET "$G?$API" >/dev/null
expect_status 401 "no token"
[ "$(error_code)" = AuthenticationFailed ] || fail "no token: $(cat "$WORK/body")"
header WWW-Authenticate | grep -q Bearer || fail "401 without WWW-Authenticate"
api not-a-token-0123456789 GET "$G?$API" >/dev/null
expect_status 401 "wrong token"
[ "$(error_code)" = InvalidAuthenticationToken ] || fail "wrong token: $(cat "$WORK/body")"

case_ "TLS below 1.2 is refused"
if curl -sS --cacert "$CD_CA" --tlsv1.1 --tls-max 1.1 "$CD_URL/" >/dev/null 2>&1; then
	fail "a TLS 1.1 handshake succeeded"
fi

case_ "bad requests: malformed JSON, oversized body, unknown api-version, bad names"
api "$TOKEN_A" PUT "$G?$API" -H 'Content-Type: application/json' --data '{"location": ' >/dev/null
expect_status 400 "malformed JSON"
[ "$(error_code)" = InvalidRequestContent ] || fail "malformed JSON: $(cat "$WORK/body")"
head -c 70000 /dev/zero | tr '\0' ' ' >"$WORK/big.json"
api "$TOKEN_A" PUT "$G?$API" -H 'Content-Type: application/json' --data-binary "@$WORK/big.json" >/dev/null
expect_status 413 "oversized body"
api "$TOKEN_A" GET "$G?api-version=2019-12-01" >/dev/null
expect_status 400 "unknown api-version"
[ "$(error_code)" = NoRegisteredProviderFound ] || fail "api-version: $(cat "$WORK/body")"
api "$TOKEN_A" GET "$G" >/dev/null
expect_status 400 "no api-version"
api "$TOKEN_A" GET "$GROUPS_A/Bad_Name?$API" >/dev/null
expect_status 400 "bad group name"
[ "$(json_get 'd["error"]["target"]' <"$WORK/body")" = containerGroupName ] || fail "bad name target"
api "$TOKEN_A" GET "/subscriptions/$SUB_A/resourceGroups/bad%2Frg./providers/Microsoft.ContainerInstance/containerGroups/web?$API" >/dev/null
[ "$(status)" = 404 ] || [ "$(status)" = 400 ] || fail "bad resource group: $(status)"
body | sed 's/"cpu": 1/"cpu": -1/' >"$WORK/neg.json"
api "$TOKEN_A" PUT "$G?$API" -H 'Content-Type: application/json' --data-binary "@$WORK/neg.json" >/dev/null
expect_status 400 "negative cpu"
json_get 'd["error"]["target"]' <"$WORK/body" | grep -q 'containers\[0\].properties.resources.requests.cpu' ||
	fail "the spec error names no field: $(cat "$WORK/body")"

case_ "PUT creates: 201 Creating with Azure-AsyncOperation, which reports Succeeded"
body >"$WORK/web.json"
api "$TOKEN_A" PUT "$G?$API" -H 'Content-Type: application/json' --data-binary "@$WORK/web.json" >/dev/null
expect_status 201 "create"
ps_=$(json_get 'd["properties"]["provisioningState"]' <"$WORK/body")
[ "$ps_" = Creating ] || [ "$ps_" = Succeeded ] || fail "provisioningState after PUT: $ps_"
ASYNC=$(header Azure-AsyncOperation)
[ -n "$ASYNC" ] || fail "no Azure-AsyncOperation header"
op_status() { api "$TOKEN_A" GET "$ASYNC" | json_get 'd["status"]'; }
wait_for "the create operation to end" sh -c "[ \"\$(curl -sS --cacert $CD_CA -H 'Authorization: Bearer $TOKEN_A' '$ASYNC' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"status\"])')\" != InProgress ]"
[ "$(op_status)" = Succeeded ] || fail "create operation: $(cat "$WORK/body")"
api "$TOKEN_B" GET "$ASYNC" >/dev/null
expect_status 404 "another tenant reads the operation"

case_ "GET shows the group in ARM's shape, Running"
wait_for "Running" sh -c "curl -sS --cacert $CD_CA -H 'Authorization: Bearer $TOKEN_A' '$CD_URL$G?$API' | grep -q '\"state\":\"Running\"'"
api "$TOKEN_A" GET "$G?$API" >"$WORK/doc.json"
expect_status 200 "get"
[ "$(json_get 'd["id"]' <"$WORK/doc.json")" = "$G" ] || fail "id: $(json_get 'd["id"]' <"$WORK/doc.json")"
[ "$(json_get 'd["name"]' <"$WORK/doc.json")" = web ] || fail "name"
[ "$(json_get 'd["type"]' <"$WORK/doc.json")" = Microsoft.ContainerInstance/containerGroups ] || fail "type"
[ "$(json_get 'd["location"]' <"$WORK/doc.json")" = westeurope ] || fail "location"
[ "$(json_get 'd["tags"]["team"]' <"$WORK/doc.json")" = blue ] || fail "tags"
[ "$(json_get 'd["properties"]["provisioningState"]' <"$WORK/doc.json")" = Succeeded ] || fail "provisioningState"

case_ "capsid list shows the group under a name with tenant, subscription and resource group"
CS_NAME=$(capsid list -q | grep -E '^tenant-a-11111111-rg-one-web-[0-9a-f]{8}$') || fail "capsid list: $(capsid list -q)"

case_ "PATCH changes the tags; PUT of the same spec is an update of tags"
api "$TOKEN_A" PATCH "$G?$API" -H 'Content-Type: application/json' --data '{"tags": {"team": "red"}}' >/dev/null
expect_status 200 "patch"
[ "$(json_get 'd["tags"]["team"]' <"$WORK/body")" = red ] || fail "patch tags"
api "$TOKEN_A" PUT "$G?$API" -H 'Content-Type: application/json' --data-binary "@$WORK/web.json" >/dev/null
expect_status 200 "put again"

case_ "logs, with tail and timestamps"
wait_for "the log line" sh -c "curl -sS --cacert $CD_CA -H 'Authorization: Bearer $TOKEN_A' '$CD_URL$G/containers/app/logs?$API' | grep -q second-line"
api "$TOKEN_A" GET "$G/containers/app/logs?$API&tail=1" >/dev/null
[ "$(json_get 'd["content"]' <"$WORK/body")" = second-line ] || fail "tail=1: $(cat "$WORK/body")"
api "$TOKEN_A" GET "$G/containers/app/logs?$API&timestamps=true" >/dev/null
json_get 'd["content"]' <"$WORK/body" | grep -Eq '^20[0-9-]+T[0-9:.]+Z hello-from-api$' || fail "timestamps: $(cat "$WORK/body")"
api "$TOKEN_A" GET "$G/containers/nope/logs?$API" >/dev/null
expect_status 404 "logs of no such container"

case_ "exec: webSocketUri and password, then the command over the websocket with a terminal"
api "$TOKEN_A" POST "$G/containers/app/exec?$API" -H 'Content-Type: application/json' \
	--data '{"command": "/bin/sh", "terminalSize": {"rows": 30, "cols": 90}}' >/dev/null
expect_status 200 "exec"
WS=$(json_get 'd["webSocketUri"]' <"$WORK/body")
PW=$(json_get 'd["password"]' <"$WORK/body")
out=$(timeout 120 $CLIENT exec "$WS" "$PW" "$CD_CA" $'stty size; echo exec-$((6*7)); exit 3\n' 40x100)
echo "$out" | grep -q 'exec-42' || fail "exec output: $out"
echo "$out" | grep -q '40 100' || fail "resize not seen by the terminal: $out"
echo "$out" | grep -q 'close 1000 exit code 3' || fail "exec close: $out"
case_ "an exec session opens once, and only with its password"
out=$(timeout 60 $CLIENT exec "$WS" "$PW" "$CD_CA" 'echo again' || true)
echo "$out" | grep -q 'upgrade refused' || fail "a session opened twice: $out"
api "$TOKEN_A" POST "$G/containers/app/exec?$API" -H 'Content-Type: application/json' --data '{"command": "echo hi"}' >/dev/null
WS=$(json_get 'd["webSocketUri"]' <"$WORK/body")
out=$(timeout 60 $CLIENT exec "$WS" wrong-password "$CD_CA" 'echo x' || true)
echo "$out" | grep -q 'close 1008' || fail "a wrong password: $out"

case_ "attach: the container's output over a websocket"
api "$TOKEN_A" POST "$G/containers/app/attach?$API" >/dev/null
expect_status 200 "attach"
WS=$(json_get 'd["webSocketUri"]' <"$WORK/body")
PW=$(json_get 'd["password"]' <"$WORK/body")
out=$(timeout 60 $CLIENT exec "$WS" "$PW" "$CD_CA" "" - second-line) || fail "attach: $out"
echo "$out" | grep -q 'hello-from-api' || fail "attach output: $out"

case_ "PUT of other properties updates: the group is redeployed from them (200, Updating, then Succeeded)"
sed 's/hello-from-api/hello-updated/; s/"memoryInGB": 0.5/"memoryInGB": 0.75/' "$WORK/web.json" >"$WORK/web2.json"
api "$TOKEN_A" PUT "$G?$API" -H 'Content-Type: application/json' --data-binary "@$WORK/web2.json" >/dev/null
expect_status 200 "put with other properties"
ps_=$(json_get 'd["properties"]["provisioningState"]' <"$WORK/body")
[ "$ps_" = Updating ] || [ "$ps_" = Succeeded ] || fail "provisioningState after an update PUT: $ps_"
ASYNC_U=$(header Azure-AsyncOperation)
[ -n "$ASYNC_U" ] || fail "an update without Azure-AsyncOperation"
wait_for "the update to end" sh -c "curl -sS --cacert $CD_CA -H 'Authorization: Bearer $TOKEN_A' '$ASYNC_U' | grep -Eq '\"status\":\"(Succeeded|Failed)\"'"
api "$TOKEN_A" GET "$ASYNC_U" >/dev/null
[ "$(json_get 'd["status"]' <"$WORK/body")" = Succeeded ] || fail "update operation: $(cat "$WORK/body")"
api "$TOKEN_A" GET "$G?$API" >"$WORK/doc.json"
[ "$(json_get 'd["properties"]["containers"][0]["properties"]["resources"]["requests"]["memoryInGB"]' <"$WORK/doc.json")" = 0.75 ] ||
	fail "the update's memory is not shown: $(cat "$WORK/doc.json")"
wait_for "the updated command's output" sh -c "curl -sS --cacert $CD_CA -H 'Authorization: Bearer $TOKEN_A' '$CD_URL$G/containers/app/logs?$API' | grep -q hello-updated"
capsid list -q | grep -qx "$CS_NAME" || fail "the update changed the group's capsid name: $(capsid list -q)"

case_ "tenant B: 404 on tenant A's group, its subscription and its operations; lists nothing"
api "$TOKEN_B" GET "$G?$API" >/dev/null
expect_status 404 "tenant B on A's subscription"
GB=/subscriptions/$SUB_B/resourceGroups/rg-one/providers/Microsoft.ContainerInstance/containerGroups/web
for m in GET DELETE; do
	api "$TOKEN_B" $m "$GB?$API" >/dev/null
	[ "$(status)" = 404 ] || [ "$m" = DELETE ] || fail "tenant B $m: $(status)"
done
api "$TOKEN_B" GET "$GB/containers/app/logs?$API" >/dev/null
expect_status 404 "tenant B logs"
[ "$(error_code)" = ResourceNotFound ] || fail "tenant B logs: $(cat "$WORK/body")"
api "$TOKEN_B" POST "$GB/containers/app/exec?$API" --data '{"command": "ls"}' >/dev/null
expect_status 404 "tenant B exec"
api "$TOKEN_B" POST "$GB/stop?$API" >/dev/null
expect_status 404 "tenant B stop"
api "$TOKEN_B" POST "$GB/containers/app/attach?$API" >/dev/null
expect_status 404 "tenant B attach"
api "$TOKEN_B" GET "/subscriptions/$SUB_B/providers/Microsoft.ContainerInstance/containerGroups?$API" >/dev/null
[ "$(json_get 'len(d["value"])' <"$WORK/body")" = 0 ] || fail "tenant B lists: $(cat "$WORK/body")"
api "$TOKEN_B" GET "/subscriptions/$SUB_A/providers/Microsoft.ContainerInstance/containerGroups?$API" >/dev/null
expect_status 404 "tenant B lists A's subscription"
capsid show "$CS_NAME" >/dev/null || fail "tenant B's DELETE touched A's group"

case_ "a failed create stays as Failed; lists page with nextLink; the group quota"
sed 's#capsid/demo:latest#127.0.0.1:1/absent:1#' "$WORK/web.json" >"$WORK/bad.json"
api "$TOKEN_A" PUT "$GROUPS_A/broken?$API" -H 'Content-Type: application/json' --data-binary "@$WORK/bad.json" >/dev/null
expect_status 201 "create that will fail"
ASYNC2=$(header Azure-AsyncOperation)
wait_for "the failed create to end" sh -c "curl -sS --cacert $CD_CA -H 'Authorization: Bearer $TOKEN_A' '$ASYNC2' | grep -q '\"status\":\"Failed\"'"
api "$TOKEN_A" GET "$GROUPS_A/broken?$API" >/dev/null
[ "$(json_get 'd["properties"]["provisioningState"]' <"$WORK/body")" = Failed ] || fail "failed create: $(cat "$WORK/body")"
api "$TOKEN_A" GET "$GROUPS_A?$API" >/dev/null
[ "$(json_get 'len(d["value"])' <"$WORK/body")" = 1 ] || fail "page 1: $(cat "$WORK/body")"
NEXT=$(json_get 'd["nextLink"]' <"$WORK/body")
first=$(json_get 'd["value"][0]["name"]' <"$WORK/body")
api "$TOKEN_A" GET "$NEXT" >/dev/null
second=$(json_get 'd["value"][0]["name"]' <"$WORK/body")
[ "$first $second" = "broken web" ] || fail "pages: $first $second"
json_get '"nextLink" not in d' <"$WORK/body" | grep -q True || fail "a third page"
api "$TOKEN_A" PUT "$GROUPS_A/third?$API" -H 'Content-Type: application/json' --data-binary "@$WORK/web.json" >/dev/null
expect_status 409 "over the group quota"
[ "$(error_code)" = ContainerGroupQuotaReached ] || fail "quota: $(cat "$WORK/body")"
api "$TOKEN_A" GET "/subscriptions/$SUB_A/providers/Microsoft.ContainerInstance/locations/westeurope/usages?$API" >/dev/null
[ "$(json_get 'd["value"][0]["currentValue"]' <"$WORK/body")" = 2 ] || fail "usages: $(cat "$WORK/body")"
api "$TOKEN_A" GET "/subscriptions/$SUB_A/providers/Microsoft.ContainerInstance/locations/westeurope/capabilities?$API" >/dev/null
expect_status 200 "capabilities"
api "$TOKEN_A" DELETE "$GROUPS_A/broken?$API" >/dev/null
expect_status 202 "delete the failed group"

case_ "a slow-loris client is cut at its deadline while another client is served"
$CLIENT loris 127.0.0.1 "$CD_PORT" "$CD_CA" 20 >"$WORK/loris.out" &
LORIS=$!
sleep 1
api "$TOKEN_A" GET "$G?$API" >/dev/null
expect_status 200 "served beside the slow client"
kill -0 $LORIS 2>/dev/null || fail "the slow client ended before the other was served"
wait $LORIS
grep -q '408' "$WORK/loris.out" || fail "slow client: $(cat "$WORK/loris.out")"

case_ "stop (204), start and restart (202 with Location until done)"
api "$TOKEN_A" POST "$G/stop?$API" >/dev/null
expect_status 204 "stop"
[ "$(group_state "$CS_NAME")" = Stopped ] || fail "after stop: $(group_state "$CS_NAME")"
poll_location() {
	local loc=$1 i
	for i in $(seq 1 600); do
		api "$TOKEN_A" GET "$loc" >/dev/null
		[ "$(status)" = 202 ] || break
		sleep 0.5
	done
	[ "$(status)" = 204 ] || fail "$2: Location answered $(status): $(cat "$WORK/body")"
}
api "$TOKEN_A" POST "$G/start?$API" >/dev/null
expect_status 202 "start"
poll_location "$(header Location)" start
[ "$(group_state "$CS_NAME")" = Running ] || fail "after start: $(group_state "$CS_NAME")"
api "$TOKEN_A" POST "$G/restart?$API" >/dev/null
expect_status 202 "restart"
poll_location "$(header Location)" restart

case_ "killing capsidd in the middle of a create loses nothing and stops no group; a new capsidd serves both"
api "$TOKEN_A" PUT "$GROUPS_A/late?$API" -H 'Content-Type: application/json' --data-binary "@$WORK/web.json" >/dev/null
expect_status 201 "create before the kill"
ASYNC3=$(header Azure-AsyncOperation)
stop_capsidd -KILL
[ "$(group_state "$CS_NAME")" = Running ] || fail "the group after capsidd died: $(group_state "$CS_NAME")"
start_capsidd --header-timeout 3000
api "$TOKEN_A" GET "$G?$API" >/dev/null
expect_status 200 "get after restart"
wait_for "the create's worker to end" sh -c "curl -sS --cacert $CD_CA -H 'Authorization: Bearer $TOKEN_A' '$ASYNC3' | grep -q '\"status\":\"Succeeded\"'"
wait_for "late Running" sh -c "curl -sS --cacert $CD_CA -H 'Authorization: Bearer $TOKEN_A' '$CD_URL$GROUPS_A/late?$API' | grep -q '\"state\":\"Running\"'"
api "$TOKEN_A" DELETE "$GROUPS_A/late?$API" >/dev/null
expect_status 202 "delete late"
LATE_LOC=$(header Location)

case_ "SIGHUP reads the tokens again"
api token-tenant-c-0123456789abcdef GET "$G?$API" >/dev/null
expect_status 401 "a token not yet in the file"
echo "token-tenant-c-0123456789abcdef tenant-c 33333333-cccc-4ccc-8ccc-333333333333" >>"$CD_TOKENS"
kill -HUP "$CD_PID"
wait_for "the new token" sh -c "curl -s -o /dev/null -w '%{http_code}' --cacert $CD_CA -H 'Authorization: Bearer token-tenant-c-0123456789abcdef' '$CD_URL/subscriptions/33333333-cccc-4ccc-8ccc-333333333333/providers/Microsoft.ContainerInstance/containerGroups?$API' | grep -q 200"

case_ "DELETE: 202 with Location, then 404"
api "$TOKEN_A" DELETE "$G?$API" >/dev/null
expect_status 202 "delete"
poll_location "$(header Location)" delete
poll_location "$LATE_LOC" "delete late"
api "$TOKEN_A" GET "$G?$API" >/dev/null
expect_status 404 "get after delete"
[ "$(error_code)" = ResourceNotFound ] || fail "after delete: $(cat "$WORK/body")"
[ -z "$(capsid list -q)" ] || fail "groups left: $(capsid list -q)"

case_ "per-tenant rate limit: 429 past the burst"
stop_capsidd
start_capsidd --rate-limit 1 --rate-burst 3
codes=""
for i in 1 2 3 4 5 6; do
	api "$TOKEN_B" GET "/subscriptions/$SUB_B/providers/Microsoft.ContainerInstance/containerGroups?$API" >/dev/null
	codes="$codes $(status)"
done
echo "$codes" | grep -q 429 || fail "no 429 in $codes"
api "$TOKEN_A" GET "/subscriptions/$SUB_A/providers/Microsoft.ContainerInstance/containerGroups?$API" >/dev/null
expect_status 200 "another tenant is not limited by B's rate"
case_ "per-tenant core and memory quotas: ARM's quota error before anything is made"
stop_capsidd
start_capsidd --quota-cores 1 --quota-memory-gb 1
sed 's/"cpu": 1/"cpu": 2/' "$WORK/web.json" >"$WORK/cores.json"
api "$TOKEN_A" PUT "$G?$API" -H 'Content-Type: application/json' --data-binary "@$WORK/cores.json" >/dev/null
expect_status 409 "over the core quota"
[ "$(error_code)" = ContainerGroupQuotaReached ] && grep -q StandardCores "$WORK/body" || fail "cores: $(cat "$WORK/body")"
sed 's/"memoryInGB": 0.5/"memoryInGB": 1.5/' "$WORK/web.json" >"$WORK/mem.json"
api "$TOKEN_A" PUT "$G?$API" -H 'Content-Type: application/json' --data-binary "@$WORK/mem.json" >/dev/null
expect_status 409 "over the memory quota"
grep -q StandardMemoryInGB "$WORK/body" || fail "memory: $(cat "$WORK/body")"
[ -z "$(capsid list -q)" ] || fail "a group over quota was made: $(capsid list -q)"
echo "PASS"
