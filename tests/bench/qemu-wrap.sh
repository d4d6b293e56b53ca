#!/bin/bash
# Stand-in for qemu-system-x86_64 during lever measurements (levers.sh puts a
# link named qemu-system-x86_64 to this first on PATH; capsid's monitor and
# the bench's VM floor both exec QEMU through PATH). Levers that need a
# change in vmm/qemu.c or host/monitor/monitor.c are measured this way
# before anyone edits those files:
#   CAPSID_BENCH_MACHINE_OPTS  appended to the -M value (e.g. acpi=off)
#   CAPSID_BENCH_APPEND        appended to the kernel command line
#   CAPSID_BENCH_RAM=memfd     guest RAM from memory-backend-memfd (shmem:
#                              4 KiB pages, no THP) instead of anonymous RAM
#   CAPSID_BENCH_EXTRA_ARGS    extra arguments, split on spaces
# Cost: one bash start, a few ms, paid by every variant alike.
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
	-m)
		args+=("$1" "$2")
		if [ "${CAPSID_BENCH_RAM:-}" = memfd ]; then
			args+=(-object "memory-backend-memfd,id=ram0,size=$2" -machine memory-backend=ram0)
		fi
		shift 2
		;;
	*)
		args+=("$1")
		shift
		;;
	esac
done
# shellcheck disable=SC2206 # split on purpose
extra=(${CAPSID_BENCH_EXTRA_ARGS:-})
exec "${CAPSID_BENCH_REAL_QEMU:-/usr/bin/qemu-system-x86_64}" "${args[@]}" "${extra[@]}"
