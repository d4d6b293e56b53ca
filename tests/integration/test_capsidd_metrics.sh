#!/usr/bin/env bash
# capsidd's GET /metrics: a real Prometheus (Debian's, started here on
# loopback with a private config and data directory) scrapes capsidd over
# TLS with tenant A's bearer token and a PromQL query returns A's group's
# CPU series; B's token sees B's group only and nothing of A's; no token
# gets 401. Renders stuck on stopped monitors hold no one else's
# requests, are bounded in number (a tenant's share, then all: 429) and in
# time (503), and leave no process behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/capsidd_lib.sh"
command -v prometheus >/dev/null || { echo "SKIP: prometheus is not installed (ci/setup.sh installs it)"; exit 77; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CD_PORT=$(free_port)
CD_URL=https://127.0.0.1:$CD_PORT
PPORT=$(free_port)
start_capsidd --max-scrapes 3 --scrape-timeout 30000

group_body() {
	cat <<JSON
{"location": "westeurope",
 "properties": {"osType": "Linux", "restartPolicy": "Always",
  "containers": [{"name": "$1", "properties": {"image": "capsid/demo:latest",
   "command": ["/bin/sh", "-c", "$2"],
   "resources": {"requests": {"cpu": 1, "memoryInGB": 0.5}}}}]}}
JSON
}
GROUPS_B=/subscriptions/$SUB_B/resourceGroups/rg-two/providers/Microsoft.ContainerInstance/containerGroups
group_body burner 'while :; do :; done' >"$WORK/a.json"
group_body idle 'exec sleep 3600' >"$WORK/b.json"
api "$TOKEN_A" PUT "$GROUPS_A/busy?$API" -H 'Content-Type: application/json' --data-binary "@$WORK/a.json" >/dev/null
expect_status 201 "A's create"
api "$TOKEN_B" PUT "$GROUPS_B/other?$API" -H 'Content-Type: application/json' --data-binary "@$WORK/b.json" >/dev/null
expect_status 201 "B's create"
running() { curl -sS --cacert "$CD_CA" -H "Authorization: Bearer $1" "$CD_URL$2?$API" | grep -q '"state":"Running"'; }
wait_for "A's group Running" running "$TOKEN_A" "$GROUPS_A/busy"
wait_for "B's group Running" running "$TOKEN_B" "$GROUPS_B/other"
GA=$(capsid list -q | grep -- '-rg-one-busy' || true)
GB=$(capsid list -q | grep -- '-rg-two-other' || true)
[ -n "$GA" ] && [ -n "$GB" ] || fail "the groups' names: $(capsid list -q)"

scrape() { api "$1" GET /metrics; }
# The groups named in series lines (not comments), one a line.
groups_in() { grep -v '^#' "$WORK/body" | sed -n 's/^[a-z_]*{group="\([^"]*\)".*/\1/p' | sort -u; }

case_ "no token, a wrong token: 401 in ARM's shape"
scrape "" >/dev/null
expect_status 401 "no token"
[ "$(error_code)" = AuthenticationFailed ] || fail "no token: $(cat "$WORK/body")"
grep -q capsid_ "$WORK/body" && fail "a 401 that shows series: $(cat "$WORK/body")"
scrape not-a-token-0123456789 >/dev/null
expect_status 401 "wrong token"
api "$TOKEN_A" POST /metrics >/dev/null
expect_status 405 "POST /metrics"

case_ "A's token: A's group's series, per group and per container, and nothing else"
# Each series names the group as libcapsid does and as ARM does.
LA=",subscription=\"$SUB_A\",resource_group=\"rg-one\",container_group=\"busy\""
# The group is Running before its guest reports the container's counters.
burner_sampled() { scrape "$TOKEN_A" | grep -qF "capsid_container_cpu_usage_seconds_total{group=\"$GA\"$LA,container=\"burner\"}"; }
wait_for "the container's counters" burner_sampled
scrape "$TOKEN_A" >/dev/null # the previous render is the rates' base
expect_status 200 "A's scrape"
header Content-Type | grep -q '^text/plain; version=0.0.4' || fail "Content-Type: $(header Content-Type)"
for series in "capsid_group_up{group=\"$GA\"$LA} 1" "capsid_group_cpu_usage_cores{group=\"$GA\"$LA}" \
	"capsid_group_memory_working_set_bytes{group=\"$GA\"$LA}" \
	"capsid_group_network_received_bytes_per_second{group=\"$GA\"$LA}" \
	"capsid_group_network_transmitted_bytes_per_second{group=\"$GA\"$LA}" \
	"capsid_group_boot_seconds{group=\"$GA\"$LA}" "capsid_group_start_failures_total{group=\"$GA\"$LA} 0" \
	"capsid_container_cpu_usage_cores{group=\"$GA\"$LA,container=\"burner\"}" \
	"capsid_container_restarts_total{group=\"$GA\"$LA,container=\"burner\"} 0"; do
	grep -qF "$series" "$WORK/body" || fail "no $series in: $(cat "$WORK/body")"
done
[ "$(groups_in)" = "$GA" ] || fail "A's scrape shows the groups: $(groups_in)"
grep -q -e "$GB" -e tenant-b -e other "$WORK/body" && fail "A's scrape names B's group: $(cat "$WORK/body")"
python3 -c 'import json,sys; g=[x["name"] for x in json.load(open(sys.argv[1]))["groups"]]; assert g == [sys.argv[2]], g' \
	"$ROOT/capsidd/metrics/t-tenant-a.json" "$GA" || fail "A's rate base: $(cat "$ROOT/capsidd/metrics/t-tenant-a.json")"

case_ "B's token: B's group only, nothing of A's"
scrape "$TOKEN_B" >/dev/null
expect_status 200 "B's scrape"
[ "$(groups_in)" = "$GB" ] || fail "B's scrape shows the groups: $(groups_in)"
grep -q -e "$GA" -e tenant-a -e busy -e burner "$WORK/body" && fail "B's scrape names A's group: $(cat "$WORK/body")"

case_ "Prometheus scrapes capsidd with A's token and B's; PromQL returns A's CPU series to A's job only"
mkdir -p "$WORK/prom"
cat >"$WORK/prom/prometheus.yml" <<Y
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
- job_name: a
  scheme: https
  authorization: {credentials: $TOKEN_A}
  tls_config: {ca_file: $CD_CA}
  static_configs: [{targets: ['127.0.0.1:$CD_PORT']}]
- job_name: b
  scheme: https
  authorization: {credentials: $TOKEN_B}
  tls_config: {ca_file: $CD_CA}
  static_configs: [{targets: ['127.0.0.1:$CD_PORT']}]
Y
prometheus --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
	--web.listen-address="127.0.0.1:$PPORT" >"$WORK/prom/log" 2>&1 &
PROM_PID=$!
CLEANUP_PIDS+=("$PROM_PID")
query() { curl -sfG "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1"; }
# query_groups QUERY: the group labels of the result, one a line.
query_groups() {
	query "$1" | python3 -c '
import json, sys
for r in json.load(sys.stdin)["data"]["result"]:
    print(r["metric"].get("group", ""))' | sort -u
}
a_cpu() { [ "$(query_groups 'capsid_group_cpu_usage_cores{job="a",resource_group="rg-one",container_group="busy"} > 0')" = "$GA" ]; }
wait_for "Prometheus to hold A's group's CPU series" a_cpu
query 'capsid_group_cpu_usage_cores{job="a"}'
echo
b_seen() { [ "$(query_groups '{job="b",group!=""}')" = "$GB" ]; }
wait_for "Prometheus to hold B's series" b_seen
[ -z "$(query_groups "{group=\"$GA\",job=\"b\"}")" ] || fail "B's job holds A's series"
[ -z "$(query_groups "{group=\"$GB\",job=\"a\"}")" ] || fail "A's job holds B's series"
kill "$PROM_PID"
wait "$PROM_PID" 2>/dev/null || true

case_ "renders stuck on stopped monitors stall nothing else; a tenant's share, then the bound: 429; past the deadline: 503"
renders() { pgrep -P "$CD_PID" | wc -l; }
no_children() { [ "$(renders)" = 0 ]; }
# Prometheus' last renders end first: the bound counts renders, not clients.
wait_for "no render running" no_children
MON_A=$(cat "$ROOT/groups/$GA/monitor.pid")
MON_B=$(cat "$ROOT/groups/$GB/monitor.pid")
# A failing case must not leave a monitor stopped: the cleanup deletes through them.
trap 'rc=$?; kill -CONT "$MON_A" "$MON_B" 2>/dev/null || true; set +e; (exit $rc); cleanup' EXIT
kill -STOP "$MON_A"
stuck() { curl -sS --cacert "$CD_CA" -H "Authorization: Bearer $1" -o /dev/null -w '%{http_code}' "$CD_URL/metrics" >"$WORK/stuck.$2"; }
stuck "$TOKEN_A" a1 &
S1=$!
stuck "$TOKEN_A" a2 &
S2=$!
n_renders() { [ "$(renders)" = "$1" ]; }
wait_for "A's two renders running" n_renders 2
scrape "$TOKEN_A" >/dev/null
expect_status 429 "A's third render (A's share of 3 is 2)"
[ "$(error_code)" = TooManyRequests ] || fail "over A's share: $(cat "$WORK/body")"
grep -q "of this tenant" "$WORK/body" || fail "over A's share: $(cat "$WORK/body")"
scrape "$TOKEN_B" >/dev/null
expect_status 200 "B's render while A's two hang"
[ "$(groups_in)" = "$GB" ] || fail "B's scrape while A's hang shows: $(groups_in)"
wait_for "B's render reaped" n_renders 2
kill -STOP "$MON_B"
stuck "$TOKEN_B" b1 &
S3=$!
wait_for "three renders running" n_renders 3
scrape "$TOKEN_B" >/dev/null
expect_status 429 "a fourth render (the bound is 3)"
grep -q "of this tenant" "$WORK/body" && fail "the bound answered as A's share: $(cat "$WORK/body")"
api "$TOKEN_A" GET "$GROUPS_A/busy?$API" >/dev/null
expect_status 200 "A's GET while three renders hang"
api "$TOKEN_B" GET "$GROUPS_B/other?$API" >/dev/null
expect_status 200 "B's GET while three renders hang"
kill -0 "$S1" 2>/dev/null && kill -0 "$S2" 2>/dev/null && kill -0 "$S3" 2>/dev/null ||
	fail "the renders ended ($(cat "$WORK"/stuck.* 2>/dev/null)) before the GETs were answered"
wait "$S1" "$S2" "$S3" || true
for r in a1 a2 b1; do
	[ "$(cat "$WORK/stuck.$r")" = 503 ] || fail "stuck render $r answered $(cat "$WORK/stuck.$r"), want 503"
done
wait_for "the killed renders reaped" no_children
[ "$(ls "$ROOT/capsidd/metrics" | tr '\n' ' ')" = "t-tenant-a.json t-tenant-b.json " ] ||
	fail "the rates' bases after the kills: $(ls "$ROOT/capsidd/metrics")"
kill -CONT "$MON_A" "$MON_B"
scrape "$TOKEN_A" >/dev/null
expect_status 200 "a scrape after the monitors resumed"
grep -qF "capsid_group_up{group=\"$GA\"$LA} 1" "$WORK/body" || fail "after resuming: $(cat "$WORK/body")"

case_ "the groups are deleted through the API"
api "$TOKEN_A" DELETE "$GROUPS_A/busy?$API" >/dev/null
api "$TOKEN_B" DELETE "$GROUPS_B/other?$API" >/dev/null
gone() { [ -z "$(capsid list -q)" ]; }
wait_for "both groups gone" gone
scrape "$TOKEN_A" >/dev/null
expect_status 200 "a scrape with no groups"
[ -z "$(groups_in)" ] || fail "series of deleted groups: $(groups_in)"
echo PASS
