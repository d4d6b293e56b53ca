#!/usr/bin/env bash
# The libvirt backend against direct QEMU, in the same run: cold start of
# `capsid run` to the first output line (RUNS runs each, alternating), and
# the idle PSS per group of N idle single-container groups each: QEMU plus
# the monitor, and for libvirt also its libvirtd's PSS (with N domains)
# divided by N; and, from the idle groups' monitor logs, how long the VMM
# took to start (the monitor's start to QEMU's pid: the spawn, or
# virDomainCreateXML) and the guest to say hello. libvirtd is a private one (tests/integration/libvirt_lib.sh)
# in this script's network namespace.
# usage: CAPSID_BUILD_DIR=build bash tests/bench/libvirt.sh [RUNS] [N]
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/libvirt_lib.sh"
RUNS=${1:-5}
N=${2:-2}
export CAPSID_LIBVIRT_URI=$URI

pss() { awk '/^Pss:/{print $2}' "/proc/$1/smaps_rollup"; }
ms_to_first_line() {
	local s e
	s=$(date +%s%N)
	capsid run --rm --vmm "$1" -f "$WORK/h.yaml" 2>/dev/null | while read -r _; do
		e=$(date +%s%N)
		echo $(((e - s) / 1000000))
		break
	done
}
median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

write_spec "$WORK/h.yaml" h Never 'h|1|0.25|echo first-line'
declare -A t=([qemu]="" [libvirt]="")
for i in $(seq 1 "$RUNS"); do
	for vmm in qemu libvirt; do
		t[$vmm]+=" $(ms_to_first_line $vmm)"
		sleep 1
	done
done
for vmm in qemu libvirt; do
	echo "cold start to first line, $vmm (ms):${t[$vmm]} (median $(median <<<"${t[$vmm]}"))"
done

lvd_before=$(pss "$LVD_PID")
for vmm in qemu libvirt; do
	for i in $(seq 1 "$N"); do
		write_spec "$WORK/idle-$vmm-$i.yaml" "idle-$vmm-$i" Always 'c|1|0.25|exec sleep 3600'
		capsid create --vmm "$vmm" -f "$WORK/idle-$vmm-$i.yaml" >/dev/null
	done
done
sleep 10
# ms between the first lines matching $2 and $3 of monitor log $1
span() {
	python3 - "$@" <<'P'
import re, sys, datetime
def t(line):
    return datetime.datetime.fromisoformat(line.split()[0][:26])
lines = open(sys.argv[1]).read().splitlines()
a = next(l for l in lines if re.search(sys.argv[2], l))
b = next(l for l in lines if re.search(sys.argv[3], l))
print(int((t(b) - t(a)).total_seconds() * 1000))
P
}
for vmm in qemu libvirt; do
	v="" h=""
	for i in $(seq 1 "$N"); do
		log=$ROOT/groups/idle-$vmm-$i/monitor.log
		v+=" $(span "$log" 'monitor [0-9]+ starting' 'qemu pid')"
		h+=" $(span "$log" 'qemu pid' 'Negotiate')"
	done
	echo "VMM start (monitor start to QEMU's pid), $vmm (ms):$v; then to the guest's hello (ms):$h"
done
for vmm in qemu libvirt; do
	q=0 m=0
	for i in $(seq 1 "$N"); do
		g=idle-$vmm-$i
		qp=$(capsid show "$g" | json_get 'd["capsid"]["qemuPid"]')
		q=$((q + $(pss "$qp")))
		m=$((m + $(pss "$(cat "$ROOT/groups/$g/monitor.pid")")))
	done
	line="idle PSS per group, $vmm: QEMU $((q / N)) kB, monitor $((m / N)) kB"
	if [ $vmm = libvirt ]; then
		l=$(pss "$LVD_PID")
		line+=", libvirtd $((l / N)) kB (its $l kB with $N domains / $N; $lvd_before kB with none)"
		line+=", total $(((q + m + l) / N)) kB"
	else
		line+=", total $(((q + m) / N)) kB"
	fi
	echo "$line"
done
