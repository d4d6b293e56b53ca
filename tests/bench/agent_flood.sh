#!/usr/bin/env bash
# A guest flooding its agent channel against a victim group beside it: how
# long the victim's show, exec and logs take with no flood, then with one
# flooding group (fake_qemu.py's flood mode), ROUNDS of each, in the same
# run. Not a pass/fail test (integration.redteam_agent_flood is). Runs in a
# private netns (the integration lib).
# usage: CAPSID_BUILD_DIR=build bash tests/bench/agent_flood.sh [ROUNDS]
. "$(dirname "$0")/../integration/lib.sh"
ROUNDS=${1:-10}

write_spec "$WORK/victim.yaml" victim Always 'c|1|0.25|i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done'
write_spec "$WORK/evil.yaml" evil Never 'c|1|0.25|true'
capsid create -f "$WORK/victim.yaml" >/dev/null
sleep 5

ms() {
	local s e
	s=$(date +%s%N)
	"$@" >/dev/null 2>&1
	e=$(date +%s%N)
	echo $(((e - s) / 1000000))
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

declare -A t
measure() {
	local phase=$1 i
	for i in $(seq 1 "$ROUNDS"); do
		t[$phase.show]+="$(ms capsid show victim) "
		t[$phase.exec]+="$(ms capsid exec victim -- true) "
		t[$phase.logs]+="$(ms capsid logs victim) "
	done
}

measure baseline
CAPSID_QEMU="$(realpath "$(dirname "$0")/../integration/fake_qemu.py")" CAPSID_CONFINE=0 FAKE_AGENT_MODE=flood \
	CAPSID_LOG_MAX_BYTES=1048576 CAPSID_LOG_MAX_FILES=2 capsid create -f "$WORK/evil.yaml" >/dev/null 2>&1
while [ ! -e "$ROOT/groups/evil/logs/c.log.1" ]; do sleep 0.2; done
measure flood
capsid delete evil >/dev/null

echo "| victim operation, ms (median of $ROUNDS; min-max) | no flood | beside a flooding group |"
echo "|---|---|---|"
for op in show exec logs; do
	range() { tr ' ' '\n' <<<"$1" | grep . | sort -n | sed -n '1p;$p' | paste -sd-; }
	echo "| $op | $(median <<<"${t[baseline.$op]}") ($(range "${t[baseline.$op]}")) | $(median <<<"${t[flood.$op]}") ($(range "${t[flood.$op]}")) |"
done
echo "loadavg at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
