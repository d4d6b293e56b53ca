#!/usr/bin/env bash
# capsid metrics serve: a real Prometheus (Debian's, started here on
# loopback with a private config and data directory) scrapes the endpoint,
# and a PromQL query returns the group's CPU series; the text has the
# per-group and per-container series of ACI's metrics and capsid's own.
. "$(dirname "$0")/lib.sh"
command -v prometheus >/dev/null || { echo "SKIP: prometheus is not installed (ci/setup.sh installs it)"; exit 77; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MPORT=$(free_port)
PPORT=$(free_port)

write_spec "$WORK/busy.yaml" busy Always \
	'burner|0.5|0.25|while :; do :; done' \
	'idle|0.5|0.25|sleep 600'
capsid create -f "$WORK/busy.yaml" >/dev/null

"$CAPSID_BIN" metrics serve --listen "127.0.0.1:$MPORT" 2>"$WORK/metrics.log" &
CLEANUP_PIDS+=($!)
wait_for "the metrics endpoint" curl -sf "http://127.0.0.1:$MPORT/metrics"

case_ "the exposition has ACI's metrics per group and per container, and capsid's own"
curl -sf "http://127.0.0.1:$MPORT/metrics" >/dev/null # a first render: rates need two
sleep 1
text=$(curl -sf "http://127.0.0.1:$MPORT/metrics")
for series in 'capsid_group_up{group="busy"} 1' 'capsid_group_info{group="busy",state="Running"} 1' \
	'capsid_group_cpu_usage_cores{group="busy"}' 'capsid_group_memory_working_set_bytes{group="busy"}' \
	'capsid_group_network_received_bytes_per_second{group="busy"}' \
	'capsid_group_network_transmitted_bytes_per_second{group="busy"}' 'capsid_group_boot_seconds{group="busy"}' \
	'capsid_group_start_failures_total{group="busy"} 0' \
	'capsid_container_cpu_usage_cores{group="busy",container="burner"}' \
	'capsid_container_memory_working_set_bytes{group="busy",container="idle"}' \
	'capsid_container_restarts_total{group="busy",container="burner"} 0'; do
	grep -qF "$series" <<<"$text" || fail "no $series in: $text"
done
grep -q '^# TYPE capsid_container_cpu_usage_seconds_total counter$' <<<"$text" || fail "no TYPE line"
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/other" | grep -q 404 || fail "not 404 for another path"

case_ "Prometheus scrapes it and a PromQL query returns the group's CPU series"
mkdir -p "$WORK/prom"
cat >"$WORK/prom/prometheus.yml" <<Y
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
- job_name: capsid
  static_configs: [{targets: ['127.0.0.1:$MPORT']}]
Y
prometheus --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
	--web.listen-address="127.0.0.1:$PPORT" >"$WORK/prom/log" 2>&1 &
CLEANUP_PIDS+=($!)
query() {
	curl -sfG "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1"
}
cpu_series() {
	query 'capsid_group_cpu_usage_cores{group="busy"} > 0' | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
assert r and r[0]["metric"]["group"] == "busy" and float(r[0]["value"][1]) > 0, r
'
}
wait_for "Prometheus to hold the group's CPU series" cpu_series
query 'capsid_group_cpu_usage_cores{group="busy"}'
echo
rate_series() {
	query 'rate(capsid_container_cpu_usage_seconds_total{group="busy",container="burner"}[10s])' | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
assert r and float(r[0]["value"][1]) > 0, r
'
}
wait_for "rate() over the CPU counter" rate_series
echo PASS
