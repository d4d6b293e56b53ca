#!/bin/bash
# Stand-in for qemu-system-x86_64 during lever measurements (levers.sh puts a
# link named qemu-system-x86_64 to this first on PATH; capsid's monitor and
# the bench's VM floor both exec QEMU through PATH). It appends
# $CAPSID_BENCH_MACHINE_OPTS to the -M value and $CAPSID_BENCH_APPEND to the
# kernel command line, then execs the real QEMU: levers that need a change in
# vmm/qemu.c or host/monitor/monitor.c can be measured before anyone edits
# them. Cost: one bash start, a few ms, paid by every variant alike.
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	-M)
		args+=("$1" "$2${CAPSID_BENCH_MACHINE_OPTS:+,$CAPSID_BENCH_MACHINE_OPTS}")
		shift 2
		;;
	-append)
		args+=("$1" "$2${CAPSID_BENCH_APPEND:+ $CAPSID_BENCH_APPEND}")
		shift 2
		;;
	*)
		args+=("$1")
		shift
		;;
	esac
done
exec "${CAPSID_BENCH_REAL_QEMU:-/usr/bin/qemu-system-x86_64}" "${args[@]}"
