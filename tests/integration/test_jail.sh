#!/usr/bin/env bash
# Confinement (vmm/jail.h, on by default): each group's QEMU runs as a uid
# of its own from the range, with no capabilities, no_new_privs, QEMU's
# seccomp filter, a minimal environment, only the descriptors it needs, in
# namespaces of its own with a root that holds nothing of the host's state,
# in a cgroup with its limits while its monitor stays outside; delete
# releases the uid and the cgroup. CAPSID_CONFINE=0 turns it off, with a
# warning.
. "$(dirname "$0")/lib.sh"

OVERHEAD=96
case_ "a confined create does not warn"
write_spec "$WORK/a.yaml" jaila Always 'c|1|0.25|echo up; exec sleep 3600'
write_spec "$WORK/b.yaml" jailb Always 'c|1|0.25|echo up; exec sleep 3600'
capsid create -f "$WORK/a.yaml" >/dev/null 2>"$WORK/err-a"
capsid create -f "$WORK/b.yaml" >/dev/null
! grep -q 'confinement is off' "$WORK/err-a" || fail "a confined create warned: $(cat "$WORK/err-a")"


# check_confined GROUP [warm]: warm, its QEMU maps the template's RAM file
# (the one file of the state root it sees, by the shared gid).
check_confined() {
	local g=$1 warm=${2:-} pid uid
	pid=$(qemu_pid "$g")
	[ "$pid" -gt 0 ] || fail "$g: no QEMU pid"
	uid=$(field "$pid" Uid | awk '{print $1}')
	[ "$uid" -ge 1500000001 ] && [ "$uid" -le 1500065535 ] || fail "$g: QEMU uid $uid not from the default range"
	[ "$(field "$pid" Uid)" = "$uid $uid $uid $uid" ] || fail "$g: uids $(field "$pid" Uid)"
	[ "$(field "$pid" Gid)" = "$uid $uid $uid $uid" ] || fail "$g: gids $(field "$pid" Gid)"
	if [ -n "$warm" ]; then
		[ "$(field "$pid" Groups)" = 1500000000 ] || fail "$g: supplementary groups $(field "$pid" Groups)"
	else
		[ -z "$(field "$pid" Groups)" ] || fail "$g: supplementary groups $(field "$pid" Groups)"
	fi
	local c
	for c in CapInh CapPrm CapEff CapBnd CapAmb; do
		[ "$(field "$pid" $c)" = 0000000000000000 ] || fail "$g: $c $(field "$pid" $c)"
	done
	[ "$(field "$pid" NoNewPrivs)" = 1 ] || fail "$g: no_new_privs not set"
	[ "$(field "$pid" Seccomp)" = 2 ] || fail "$g: no seccomp filter (Seccomp: $(field "$pid" Seccomp))"
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- '-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny' ||
		fail "$g: QEMU runs without -sandbox"
	[ "$(tr '\0' '\n' <"/proc/$pid/environ")" = "PATH=/usr/bin:/bin" ] ||
		fail "$g: environment $(tr '\0' ' ' <"/proc/$pid/environ")"
	[ "$(cat "$ROOT/jail/uids/$uid")" = "$g" ] || fail "$g: uid $uid not recorded for it"
	local ns
	for ns in mnt pid ipc uts net cgroup; do
		[ "$(readlink "/proc/$pid/ns/$ns")" != "$(readlink /proc/self/ns/$ns)" ] || fail "$g: host $ns namespace"
	done
	# Its root: nothing of the state root but what it opens by path
	# (none for a cold boot), a /dev with only the harmless nodes.
	if [ -n "$warm" ]; then
		local seen
		seen=$(cd "/proc/$pid/root$ROOT" && find . -type f)
		[[ "$seen" =~ ^\./templates/[0-9a-f]+/ram$ ]] || fail "$g: the jail shows of the state root: $seen"
	else
		[ ! -e "/proc/$pid/root$ROOT" ] || fail "$g: the state root is visible in the jail"
	fi
	[ ! -e "/proc/$pid/root/home" ] && [ ! -e "/proc/$pid/root/var" ] ||
		fail "$g: host directories in the jail: $(ls "/proc/$pid/root")"
	# A /tmp in it holds only what it was given: the guest's boot files (a
	# build tree under /tmp) and, warm, the template.
	if [ -e "/proc/$pid/root/tmp" ]; then
		local extra
		extra=$(cd "/proc/$pid/root" && find tmp -type f | grep -v -e "^${BUILD_DIR#/}/share/capsid/" -e "^${ROOT#/}/templates/" || true)
		[ -z "$extra" ] || fail "$g: the jail's /tmp shows: $extra"
	fi
	[ "$(ls "/proc/$pid/root/dev" | tr '\n' ' ')" = "full null random urandom zero " ] ||
		fail "$g: jail /dev has $(ls "/proc/$pid/root/dev" | tr '\n' ' ')"
	[ ! -e "/proc/$pid/root/etc/passwd" ] || fail "$g: /etc/passwd in the jail"
	# Descriptors: /dev/null (opened before the pivot: "/null"), the pipe to
	# the monitor's log (stdout, stderr), two listening sockets, the
	# console, the image disk, the tap; nothing else of the host.
	local fds f
	fds=$(for f in "/proc/$pid/fd"/*; do readlink "$f"; done)
	while read -r t; do
		case "$t" in
		/dev/null | /null | /memfd:* | pipe:* | "$ROOT/groups/$g/monitor.log" | "$ROOT/groups/$g/console.log" | socket:* | \
			anon_inode:* | /dev/net/tun | "$ROOT"/images/*) ;;
		"$ROOT"/templates/*/ram | "$ROOT"/templates/*/placeholder) [ -n "$warm" ] || fail "$g: QEMU holds $t" ;;
		# A ready clone's stdout and stderr stay the standby's log it was started with.
		"$ROOT"/standby/*/standby.log) [ -n "$warm" ] || fail "$g: QEMU holds $t" ;;
		*) fail "$g: QEMU holds $t" ;;
		esac
	done <<<"$fds"
	# Its cgroup has the limits; the monitor is outside it.
	local cg
	cg=$(awk -F: '$2 ~ /memory/ || $2 == "" {print $3; exit}' "/proc/$pid/cgroup")
	grep -q "capsid.slice/[0-9a-f]*-$g" "/proc/$pid/cgroup" || fail "$g: QEMU not in its cgroup: $(cat "/proc/$pid/cgroup")"
	local mon
	mon=$(monitor_pid "$g")
	! grep -q capsid.slice "/proc/$mon/cgroup" || fail "$g: the monitor is inside the group's cgroup"
	local want_mem=$(((256 + 128 + OVERHEAD) << 20))
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		local d=/sys/fs/cgroup/capsid.slice/$(basename "$cg")
		[ "$(cat "$d/memory.max")" = $want_mem ] || fail "$g: memory.max $(cat "$d/memory.max")"
		[ "$(cat "$d/cpu.max")" = "200000 100000" ] || fail "$g: cpu.max $(cat "$d/cpu.max")"
		[ "$(cat "$d/pids.max")" = 256 ] || fail "$g: pids.max $(cat "$d/pids.max")"
	else
		local name
		name=$(grep -o "capsid.slice/[0-9a-f]*-$g" "/proc/$pid/cgroup" | head -1)
		[ "$(cat "/sys/fs/cgroup/memory/$name/memory.limit_in_bytes")" = $want_mem ] ||
			fail "$g: memory limit $(cat "/sys/fs/cgroup/memory/$name/memory.limit_in_bytes")"
		[ "$(cat "/sys/fs/cgroup/cpu/$name/cpu.cfs_quota_us")" = 200000 ] || fail "$g: cpu quota"
		[ "$(cat "/sys/fs/cgroup/pids/$name/pids.max")" = 256 ] || fail "$g: pids.max"
		grep -qx "$pid" "/sys/fs/cgroup/pids/$name/cgroup.procs" || fail "$g: QEMU not in the pids cgroup"
		echo "$name" >"$WORK/cg-$g"
	fi
	echo "$uid" >"$WORK/uid-$g"
}

case_ "each group's QEMU is confined (own uid, no capabilities, seccomp, a bare root, few descriptors, its cgroup); two groups, two uids"
check_confined jaila
check_confined jailb
[ "$(cat "$WORK/uid-jaila")" != "$(cat "$WORK/uid-jailb")" ] || fail "two groups share a uid"
case_ "a confined group still works: exec, logs"
[ "$(capsid exec jaila -- echo hi)" = hi ] || fail "exec in a confined group"
capsid logs jaila | grep -q '^up$' || fail "logs of a confined group"

case_ "delete releases the uid and the cgroup; the other group keeps its own"
capsid delete jaila >/dev/null
[ ! -e "$ROOT/jail/uids/$(cat "$WORK/uid-jaila")" ] || fail "delete kept the uid"
if [ -f "$WORK/cg-jaila" ]; then
	for c in cpu memory pids; do
		[ ! -d "/sys/fs/cgroup/$c/$(cat "$WORK/cg-jaila")" ] || fail "delete kept the $c cgroup"
	done
fi
[ -e "$ROOT/jail/uids/$(cat "$WORK/uid-jailb")" ] || fail "the other group lost its uid"
case_ "a new group takes the lowest free uid again"
write_spec "$WORK/c.yaml" jailc Always 'c|1|0.25|exec sleep 3600'
capsid create -f "$WORK/c.yaml" >/dev/null
check_confined jailc
[ "$(cat "$WORK/uid-jailc")" = "$(cat "$WORK/uid-jaila")" ] || fail "the released uid was not reused"
capsid delete jailc >/dev/null

case_ "warm start in the jail: a template clone and an adopted ready clone are confined, the uid becomes the group's"
# Warm start in the jail: a clone of the template (built confined), then a
# ready clone whose uid and cgroup become the adopting group's.
export CAPSID_WARM_START=1 CAPSID_WARM_STANDBY=1
write_spec "$WORK/w1.yaml" warm1 Always 'c|1|0.25|exec sleep 3600'
write_spec "$WORK/w2.yaml" warm2 Always 'c|1|0.25|exec sleep 3600'
capsid create -f "$WORK/w1.yaml" >/dev/null
glog warm1 | grep -q 'warm start: restored from template' || fail "warm1 did not restore: $(glog warm1)"
check_confined warm1 warm
wait_for "a ready clone" sh -c "'$CAPSID_BIN' standby list | grep -q ready"
capsid create -f "$WORK/w2.yaml" >/dev/null
glog warm2 | grep -q 'warm start: adopted the ready clone' || fail "warm2 did not adopt: $(glog warm2)"
check_confined warm2 warm
[ -z "$(grep -l '^standby-' "$ROOT"/jail/uids/* 2>/dev/null | xargs -r -n1 basename | grep -x "$(cat "$WORK/uid-warm2")")" ] ||
	fail "warm2's uid is still the standby's"
capsid delete warm1 >/dev/null
capsid delete warm2 >/dev/null
capsid standby stop >/dev/null
wait_for "the standby's uid released" sh -c "! grep -q '^standby-' '$ROOT'/jail/uids/* 2>/dev/null"
unset CAPSID_WARM_START CAPSID_WARM_STANDBY

case_ "CAPSID_CONFINE=0 and --no-confine: a warning, QEMU as root"
write_spec "$WORK/d.yaml" loose Always 'c|1|0.25|exec sleep 3600'
CAPSID_CONFINE=0 capsid create -f "$WORK/d.yaml" >/dev/null 2>"$WORK/err-d"
[ "$(grep -c 'warning: confinement is off' "$WORK/err-d")" = 1 ] || fail "no warning: $(cat "$WORK/err-d")"
[ "$(field "$(qemu_pid loose)" Uid | awk '{print $1}')" = 0 ] || fail "unconfined QEMU not as root"
capsid delete loose >/dev/null
capsid --no-confine create -f "$WORK/d.yaml" >/dev/null 2>"$WORK/err-d"
grep -q 'warning: confinement is off' "$WORK/err-d" || fail "--no-confine: no warning"
capsid delete loose >/dev/null
echo PASS
