#!/bin/sh
# The builtin runtime's table of x86-64 system calls ({"name", number},)
# from the kernel headers' asm/unistd_64.h: syscalls.sh UNISTD_64_H OUT
set -eu
sed -n 's/^#define __NR_\([a-z0-9_]*\) \([0-9][0-9]*\)$/{"\1", \2},/p' "$1" >"$2.tmp"
[ -s "$2.tmp" ]
mv "$2.tmp" "$2"
