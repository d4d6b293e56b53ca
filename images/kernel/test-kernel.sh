#!/bin/bash
# test-kernel.sh KERNEL_DIR
#
# Checks that a minimal kernel built by build-kernel.sh can do, for real,
# what capsid's guests need beyond booting the agent (the integration suite
# covers that): mount an ext4 disk read-write (persistent disks), and mount
# an SMB share with SMB 3.1.1, signed and then encrypted (volumes), against
# a private smbd. It boots KERNEL_DIR/vmlinuz under QEMU microvm exactly as
# the monitor does for this kernel (acpi=off, reboot=t), with a throwaway
# busybox initramfs whose /init runs the checks and prints "KTEST ..." lines.
#
# Runs in a network namespace of its own (tap + smbd live and die there;
# no traffic leaves it). Needs root, qemu-system-x86, busybox-static,
# samba (smbd, smbpasswd), e2fsprogs, cpio.
set -euo pipefail
export LC_ALL=C

if [ $# -ne 1 ]; then
	echo "usage: $0 KERNEL_DIR" >&2
	exit 2
fi
if [ -z "${CAPSID_KTEST_NETNS:-}" ]; then
	exec unshare --net -- env CAPSID_KTEST_NETNS=1 bash "$0" "$@"
fi
KERNEL=$(realpath "$1")/vmlinuz

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
[ -f "$KERNEL" ] || fail "$KERNEL is missing (images/kernel/build-kernel.sh)"
for tool in qemu-system-x86_64 smbd smbpasswd mkfs.ext4 debugfs cpio ip; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done
[ -x /bin/busybox ] || fail "/bin/busybox is required (busybox-static)"

T=$(mktemp -d /tmp/ktest.XXXXXX)
# An idle 2 s of a 2-vCPU guest on its local APIC timers takes a few dozen
# timer interrupts; on the PIT (one-shot reach 55 ms) one vCPU took 93, and
# a running tick takes HZ (100) a second on each CPU.
QUIET_TICKS=60
PIDS=()
cleanup() {
	local rc=$?
	if [ ${#PIDS[@]} -gt 0 ]; then kill "${PIDS[@]}" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	if [ $rc -ne 0 ]; then
		for f in "$T/console.log" "$T/smb/log.smbd"; do
			[ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; } >&2
		done
	fi
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT

HOST_IP=10.213.0.1
GUEST_IP=10.213.0.2
PASSWORD=ktest$RANDOM$RANDOM
ip link set lo up
ip tuntap add dev ktap0 mode tap
ip addr add "$HOST_IP/24" dev ktap0
ip link set ktap0 up

# --- a private smbd: SMB3 only, signing mandatory ---------------------------
S=$T/smb
mkdir -p "$S"/{private,lock,state,cache,run,share}
echo "written on the host" >"$S/share/from-host"
cat >"$S/smb.conf" <<EOF
[global]
	server role = standalone server
	netbios name = KTEST
	security = user
	passdb backend = tdbsam:$S/private/passdb.tdb
	private dir = $S/private
	lock directory = $S/lock
	state directory = $S/state
	cache directory = $S/cache
	pid directory = $S/run
	ncalrpc dir = $S/run/ncalrpc
	log file = $S/log.smbd
	log level = 1
	interfaces = $HOST_IP
	bind interfaces only = yes
	smb ports = 445
	server min protocol = SMB3
	server signing = mandatory
	disable netbios = yes
	map to guest = never
	load printers = no
	printing = bsd
	printcap name = /dev/null
	disable spoolss = yes
[vol]
	path = $S/share
	read only = no
EOF
# root exists on every host; the account lives only in this private passdb.
printf '%s\n%s\n' "$PASSWORD" "$PASSWORD" | smbpasswd -c "$S/smb.conf" -s -a root >"$S/smbpasswd.out" 2>&1 ||
	fail "smbpasswd: $(cat "$S/smbpasswd.out")"
# A session of its own: smbd signals its whole process group when it ends,
# which would otherwise be this script's caller.
setsid smbd --foreground --no-process-group -s "$S/smb.conf" </dev/null >"$S/smbd.out" 2>&1 &
PIDS+=($!)

# --- an ext4 disk, made as a tenant's persistent disk would be --------------
mkdir -p "$T/disk"
echo "written by mkfs" >"$T/disk/from-host"
mkfs.ext4 -q -F -d "$T/disk" "$T/disk.ext4" 32M >"$T/mkfs.out" 2>&1 || fail "mkfs.ext4: $(cat "$T/mkfs.out")"

# --- the initramfs: busybox and the checks ----------------------------------
R=$T/root
mkdir -p "$R"/{bin,dev,proc,sys,mnt/ext4,mnt/smb}
cp /bin/busybox "$R/bin/busybox"
cat >"$R/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "KTEST kernel \$(uname -r)"
for fs in erofs overlay tmpfs ext4 cifs; do
	grep -qw "\$fs" /proc/filesystems && echo "KTEST fs \$fs" || echo "KTEST nofs \$fs"
done

# Timers: given the local APIC timer's rate, every CPU's clock event is its
# local APIC timer, and an idle guest wakes only when something is due.
echo "KTEST cpus \$(cat /sys/devices/system/cpu/online)"
for c in /sys/devices/system/clockevents/clockevent*; do
	echo "KTEST clockevent \${c##*/} \$(cat \$c/current_device)"
done
echo "KTEST clocksource \$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
# The guest may still be busy right after boot: up to five windows of 2 s,
# the first quiet one ends the count.
ticks() { awk '/^ *(0|LOC):/ { for (i = 2; i <= NF && \$i ~ /^[0-9]+\$/; i++) s += \$i } END { print s }' /proc/interrupts; }
sleep 1
for w in 1 2 3 4 5; do
	t0=\$(ticks)
	sleep 2
	n=\$((\$(ticks) - t0))
	echo "KTEST timer interrupts over an idle 2 s: \$n"
	[ \$n -gt $QUIET_TICKS ] || break
done

if mount -t ext4 /dev/vda /mnt/ext4 && grep -q 'written by mkfs' /mnt/ext4/from-host &&
	echo "written in the guest" >/mnt/ext4/from-guest && umount /mnt/ext4; then
	echo "KTEST ext4 ok"
fi

ip link set lo up
ip addr add $GUEST_IP/24 dev eth0
ip link set eth0 up
opts=username=root,password=$PASSWORD,vers=3.1.1
# Signed (cmac(aes) under a 3.1.1 preauth sha512 session key), then sealed
# (aes gcm/ccm): each must succeed or the mount fails.
if mount -t cifs //$HOST_IP/vol /mnt/smb -o \$opts,sign; then
	grep -q 'written on the host' /mnt/smb/from-host && echo "KTEST smb read ok"
	echo "written in the guest" >/mnt/smb/from-guest && echo "KTEST smb write ok"
	grep -q 'Dialect 0x311' /proc/fs/cifs/DebugData && echo "KTEST smb dialect 3.1.1"
	grep -q ' signed' /proc/fs/cifs/DebugData && echo "KTEST smb signed"
	umount /mnt/smb
fi
if mount -t cifs //$HOST_IP/vol /mnt/smb -o \$opts,seal; then
	grep -q 'written in the guest' /mnt/smb/from-guest && echo "KTEST smb sealed read ok"
	grep -q 'Encrypted' /proc/fs/cifs/DebugData && echo "KTEST smb encrypted"
	umount /mnt/smb
fi
echo "KTEST done"
reboot -f
EOF
chmod 0755 "$R/init"
(cd "$R" && find . | cpio --quiet -o -H newc -R 0:0) >"$T/initrd.cpio"

# smbd must listen before the guest mounts.
for _ in $(seq 1 100); do
	if (exec 3<>/dev/tcp/$HOST_IP/445) 2>/dev/null; then break; fi
	sleep 0.1
done
(exec 3<>/dev/tcp/$HOST_IP/445) 2>/dev/null || fail "smbd does not listen on $HOST_IP:445 ($(cat "$S/smbd.out"))"

# The monitor's command line for this kernel, minus the agent devices. It
# gives the TSC's rate as the monitor does (vmm_host_tsc_khz): a guest left
# to calibrate against the PIT fails to on a loaded host, marks its TSC
# unstable and ticks at HZ on refined-jiffies.
tsc_khz=$(awk -F: '/^flags/ && / constant_tsc/ { c = 1 } /^cpu MHz/ && !m { m = $2 }
	END { if (c && m > 100) printf "%d", m * 1000 + 0.5 }' /proc/cpuinfo)
timeout 300 qemu-system-x86_64 -M microvm,rtc=on,acpi=off -accel tcg,thread=multi,tb-size=16 -cpu max \
	-smp 2 -m 256M -nodefaults -no-user-config -display none -no-reboot \
	-kernel "$KERNEL" -initrd "$T/initrd.cpio" \
	-append "console=ttyS0 panic=-1 ${tsc_khz:+tsc_early_khz=$tsc_khz }tsc=reliable lapic_timer_khz=1000000 no_timer_check reboot=t" \
	-serial "file:$T/console.log" \
	-drive "file=$T/disk.ext4,if=none,id=disk0,format=raw" -device virtio-blk-device,drive=disk0 \
	-netdev tap,id=net0,ifname=ktap0,script=no,downscript=no -device virtio-net-device,netdev=net0 \
	</dev/null >"$T/qemu.out" 2>&1 &
QEMU=$!
PIDS+=("$QEMU")
wait $QEMU || fail "QEMU failed or timed out: $(cat "$T/qemu.out")"

report=$(grep '^KTEST' "$T/console.log" | tr -d '\r')
echo "$report"
# Both CPUs up, each on its local APIC timer; the filesystems; the volumes.
want=("KTEST done" "KTEST fs erofs" "KTEST fs overlay" "KTEST fs tmpfs" "KTEST fs ext4" "KTEST fs cifs"
	"KTEST cpus 0-1" "KTEST clockevent clockevent0 lapic" "KTEST clockevent clockevent1 lapic"
	"KTEST ext4 ok" "KTEST smb read ok" "KTEST smb write ok" "KTEST smb dialect 3.1.1" "KTEST smb signed"
	"KTEST smb sealed read ok" "KTEST smb encrypted")
for w in "${want[@]}"; do
	grep -qxF "$w" <<<"$report" || fail "guest did not report \"$w\""
done
# The TSC keeps time (tsc-early until the kernel refines it), not jiffies,
# and an idle window is quiet.
grep -qxE 'KTEST clocksource tsc(-early)?' <<<"$report" ||
	fail "the guest's clocksource is not the TSC: $(grep 'KTEST clocksource' <<<"$report")"
counts=$(sed -n 's/^KTEST timer interrupts over an idle 2 s: //p' <<<"$report")
n=$(sort -n <<<"$counts" | head -n 1)
[ -n "$n" ] && [ "$n" -le $QUIET_TICKS ] ||
	fail "an idle guest never took at most $QUIET_TICKS timer interrupts in 2 s (windows: $(echo $counts))"
# What the guest wrote must be on the host, through both paths.
grep -qx 'written in the guest' "$S/share/from-guest" || fail "SMB write from the guest did not reach the share"
debugfs -R 'cat /from-guest' "$T/disk.ext4" 2>/dev/null | grep -qx 'written in the guest' ||
	fail "ext4 write from the guest is not on the disk"
echo PASS
