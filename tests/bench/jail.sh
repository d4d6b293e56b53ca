#!/usr/bin/env bash
# Confinement's cost, confined against unconfined (CAPSID_CONFINE=0) in the
# same run: cold start of `capsid run` to the first output line (RUNS runs
# each, alternating), and the idle PSS (monitor + QEMU) per group with
# GROUPS idle groups side by side. Not a pass/fail test. Runs in a private
# netns (the integration lib).
# usage: CAPSID_BUILD_DIR=build bash tests/bench/jail.sh [RUNS] [GROUPS]
. "$(dirname "$0")/../integration/lib.sh"
RUNS=${1:-5}
GROUPS_N=${2:-10}

write_spec "$WORK/h.yaml" h Never 'h|1|0.25|echo first-line'
# An idle container that ends at once on SIGTERM (bench.py's IDLE_CMD).
write_spec "$WORK/idle.yaml" idle Always 'c|1|0.25|trap "exit 0" TERM; sleep 1000000 & wait'

first_line_ms() {
	local s e
	s=$(date +%s%N)
	capsid run --rm -f "$WORK/h.yaml" 2>/dev/null | while read -r _; do
		e=$(date +%s%N)
		echo $(((e - s) / 1000000))
		break
	done
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

declare -A cold
for i in $(seq 1 "$RUNS"); do
	for mode in 1 0; do
		cold[$mode]+="$(CAPSID_CONFINE=$mode first_line_ms) "
		sleep 1
	done
done

pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }

declare -A pss
for mode in 1 0; do
	for i in $(seq 1 "$GROUPS_N"); do
		sed "s/^name: idle/name: idle$i/" "$WORK/idle.yaml" >"$WORK/idle$i.yaml"
		CAPSID_CONFINE=$mode capsid create -f "$WORK/idle$i.yaml" >/dev/null 2>&1
	done
	sleep 15 # settle: boot files released, guests idle
	vals=""
	for i in $(seq 1 "$GROUPS_N"); do
		v=$(capsid show "idle$i" | json_get 'str(d["capsid"]["monitorPid"]) + " " + str(d["capsid"]["qemuPid"])')
		read -r mp qp <<<"$v"
		vals+="$(($(pss_kb "$mp") + $(pss_kb "$qp"))) "
	done
	pss[$mode]=$vals
	for i in $(seq 1 "$GROUPS_N"); do capsid delete "idle$i" >/dev/null; done
done

name() { [ "$1" = 1 ] && echo confined || echo unconfined; }
echo "| metric | $(name 1) | $(name 0) |"
echo "|---|---|---|"
echo "| cold start to first output, ms (median of $RUNS; all) | $(median <<<"${cold[1]}") (${cold[1]% }) | $(median <<<"${cold[0]}") (${cold[0]% }) |"
printf '| idle PSS per group at %s groups, MiB (median; min-max) | %s | %s |\n' "$GROUPS_N" \
	"$(median <<<"${pss[1]}" | awk '{printf "%.1f", $1/1024}') ($(tr ' ' '\n' <<<"${pss[1]}" | grep . | sort -n | sed -n '1p;$p' | awk '{printf "%.1f ", $1/1024}'))" \
	"$(median <<<"${pss[0]}" | awk '{printf "%.1f", $1/1024}') ($(tr ' ' '\n' <<<"${pss[0]}" | grep . | sort -n | sed -n '1p;$p' | awk '{printf "%.1f ", $1/1024}'))"
echo "loadavg at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
