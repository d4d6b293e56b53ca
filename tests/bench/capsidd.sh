#!/usr/bin/env bash
# capsidd's benchmark, in one run and one network namespace:
#  1. create to Running through the API (PUT, then GET every 50 ms until
#     the container's instance view says Running, which is when `capsid
#     create` returns) against `capsid create` of the same spec,
#     interleaved, ROUNDS times each;
#  2. GET requests per second on one group with GROUPS groups present
#     (wrk, CONNS connections, DURATION seconds), the rate limit off;
#  3. capsidd's RSS (VmRSS, VmHWM) after it.
# The GROUPS groups run `true` once (restartPolicy Never): each booted its
# VM, and each is a whole group for capsidd and libcapsid after it ended.
# Usage: tests/bench/capsidd.sh [--rounds N] [--groups N] [--duration S]
# Prints a table; CAPSID_BUILD_DIR selects the build (default build/).
set -eu
ROUNDS=3 NGROUPS=100 DURATION=10 CONNS=8
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift 2 ;;
	--groups) NGROUPS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	*) echo "usage: $0 [--rounds N] [--groups N] [--duration S]" >&2; exit 2 ;;
	esac
done
if [ -z "${CAPSID_TEST_NETNS:-}" ]; then
	command -v wrk >/dev/null || { echo "$0: wrk is missing (apt-get install wrk)" >&2; exit 1; }
	exec unshare --net -- env CAPSID_TEST_NETNS=1 bash "$0" --rounds "$ROUNDS" --groups "$NGROUPS" --duration "$DURATION"
fi
HERE=$(cd "$(dirname "$0")" && pwd)
export CAPSID_BUILD_DIR=${CAPSID_BUILD_DIR:-$HERE/../../build}
. "$HERE/../integration/lib.sh"
. "$HERE/../integration/capsidd_lib.sh"
start_capsidd --rate-limit 0 --quota-groups 100000 --quota-cores 100000 --quota-memory-gb 100000 --max-workers 4

spec() { # NAME COMMAND POLICY
	cat <<JSON
{"name": "$1", "location": "local", "properties": {"osType": "Linux", "restartPolicy": "$3",
 "containers": [{"name": "app", "properties": {"image": "capsid/demo:latest",
  "command": ["/bin/sh", "-c", "$2"], "resources": {"requests": {"cpu": 1, "memoryInGB": 0.5}}}}]}}
JSON
}
now_ms() { date +%s%3N; }

api_create_running() { # NAME: ms from the PUT to Running
	local t0 t1
	spec "$1" "exec sleep 3600" Always >"$WORK/spec.json"
	t0=$(now_ms)
	api "$TOKEN_A" PUT "$GROUPS_A/$1?$API" -H 'Content-Type: application/json' --data-binary "@$WORK/spec.json" >/dev/null
	expect_status 201 "create $1"
	# Running as `capsid create` returns: the container started, not only the VM.
	until api "$TOKEN_A" GET "$GROUPS_A/$1?$API" | grep -q '"currentState":{"state":"Running"'; do sleep 0.05; done
	t1=$(now_ms)
	# The create's worker ends just after Running: a DELETE before is a 409.
	until api "$TOKEN_A" GET "$GROUPS_A/$1?$API" | grep -q '"provisioningState":"Succeeded"'; do sleep 0.05; done
	echo $((t1 - t0))
}
cli_create_running() { # NAME
	local t0 t1
	spec "$1" "exec sleep 3600" Always >"$WORK/spec.json"
	t0=$(now_ms)
	capsid create -f "$WORK/spec.json" >/dev/null
	[ "$(group_state "$1")" = Running ] || fail "$1 not Running"
	t1=$(now_ms)
	echo $((t1 - t0))
}
api_delete() {
	api "$TOKEN_A" DELETE "$GROUPS_A/$1?$API" >/dev/null
	local loc
	loc=$(header Location)
	while [ "$(api "$TOKEN_A" GET "$loc" >/dev/null; status)" = 202 ]; do sleep 0.1; done
	expect_status 204 "delete $1"
}

echo "== create to Running ($ROUNDS rounds each, interleaved)"
api_ms=() cli_ms=()
for i in $(seq 1 "$ROUNDS"); do
	api_ms+=("$(api_create_running "api-$i")")
	api_delete "api-$i"
	cli_ms+=("$(cli_create_running "cli-$i")")
	capsid delete "cli-$i" >/dev/null
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "api ms: ${api_ms[*]}  (median $(median "${api_ms[@]}"))"
echo "cli ms: ${cli_ms[*]}  (median $(median "${cli_ms[@]}"))"

echo "== $NGROUPS groups"
t0=$(now_ms)
for i in $(seq 1 "$NGROUPS"); do
	spec "g$i" "true" Never >"$WORK/g.json"
	# Four workers at most (--max-workers): a 429 is retried, as the SDKs do.
	while api "$TOKEN_A" PUT "$GROUPS_A/g$i?$API" -H 'Content-Type: application/json' \
		--data-binary "@$WORK/g.json" >/dev/null && [ "$(status)" = 429 ]; do sleep 0.5; done
	expect_status 201 "create g$i"
done
until [ "$(api "$TOKEN_A" GET "/subscriptions/$SUB_A/providers/Microsoft.ContainerInstance/containerGroups?$API" |
	grep -o '"provisioningState":"Creating"' | wc -l)" = 0 ]; do sleep 0.5; done
echo "made in $(( ($(now_ms) - t0) / 1000 )) s; capsid list: $(capsid list -q | wc -l) groups"
spec target "exec sleep 3600" Always >"$WORK/t.json"
api "$TOKEN_A" PUT "$GROUPS_A/target?$API" -H 'Content-Type: application/json' --data-binary "@$WORK/t.json" >/dev/null
until api "$TOKEN_A" GET "$GROUPS_A/target?$API" | grep -q '"state":"Running"'; do sleep 0.1; done

echo "== GET one group, wrk -c$CONNS -d${DURATION}s"
grep -E 'Vm(RSS|HWM)' "/proc/$CD_PID/status" | sed 's/^/before: /'
wrk -t2 -c"$CONNS" -d"${DURATION}s" -H "Authorization: Bearer $TOKEN_A" "$CD_URL$GROUPS_A/target?$API" | tee "$WORK/wrk.out"
grep -E 'Vm(RSS|HWM)' "/proc/$CD_PID/status" | sed 's/^/after: /'
api "$TOKEN_A" GET "/subscriptions/$SUB_A/providers/Microsoft.ContainerInstance/containerGroups?$API" >/dev/null
t0=$(now_ms)
for i in 1 2 3 4 5; do api "$TOKEN_A" GET "/subscriptions/$SUB_A/providers/Microsoft.ContainerInstance/containerGroups?$API" >/dev/null; done
echo "list of $((NGROUPS + 1)) groups: $(( ($(now_ms) - t0) / 5 )) ms each (curl included)"
