#!/bin/bash
# integration.agent: boots the guest image under TCG with a tiny busybox
# rootfs (erofs) as its image disk and drives the agent directly over the
# virtio-serial socket with agent_client.py — no host-side capsid code. Runs
# every check once per runtime (builtin, crun, runc), then SHUTDOWN must end QEMU.
#
# Environment: CAPSID_GUEST_DIR (vmlinuz, initrd.img) or CAPSID_BUILD_DIR
# (uses its share/capsid/guest); AGENT_TEST_RUNTIMES="builtin crun runc".
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
GUEST_DIR=${CAPSID_GUEST_DIR:-${CAPSID_BUILD_DIR:?set CAPSID_BUILD_DIR or CAPSID_GUEST_DIR}/share/capsid/guest}
RUNTIMES=${AGENT_TEST_RUNTIMES:-builtin crun runc}
for f in vmlinuz initrd.img manifest.json; do
	[ -f "$GUEST_DIR/$f" ] || { echo "FAIL: $GUEST_DIR/$f missing (build the guest-image target)" >&2; exit 1; }
done
for tool in qemu-system-x86_64 mkfs.erofs python3; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is required" >&2; exit 1; }
done
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] && file -L "$BUSYBOX" | grep -q 'statically linked' ||
	{ echo "FAIL: a static busybox is required (busybox-static)" >&2; exit 1; }

# Short path: the chardev socket path must fit in 108 bytes.
WORK=$(mktemp -d /tmp/agt.XXXXXX)
QEMU_PID=
cleanup() {
	local rc=$?
	if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
		kill -9 "$QEMU_PID" 2>/dev/null || true
		wait "$QEMU_PID" 2>/dev/null || true
	fi
	if [ $rc -ne 0 ]; then
		for f in "$WORK/qemu.out" "$WORK/console.log"; do
			[ -s "$f" ] && { echo "--- $f (last 40 lines)"; tail -n 40 "$f"; } >&2
		done
	fi
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT INT TERM

# The image: busybox, users and groups for user resolution, a web root.
R=$WORK/rootfs
mkdir -p "$R"/{bin,etc,proc,sys,dev,tmp,root,var/www}
cp "$BUSYBOX" "$R/bin/busybox"
for app in sh echo cat ls sleep uname id nc httpd wget head dd env true false kill hostname stty tty wc seq \
	tr printf test; do
	ln -s busybox "$R/bin/$app"
done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n' >"$R/etc/group"
echo "hello from web" >"$R/var/www/index.html"
mkfs.erofs --quiet --all-root "$WORK/rootfs.erofs" "$R"

# Under TCG the guest's TSC is the host's. The guest calibrates it against
# the PIT, which fails now and then under TCG (the vCPU runs too slowly in
# those 10 ms); microvm has no HPET or PM timer to fall back on, and the
# kernel then hangs for ever in calibrate_delay() waiting for a tick. Telling
# it the frequency avoids the calibration (and tsc=reliable keeps the TSC as
# clocksource instead of 4 ms jiffies). The host side must do the same.
host_tsc_khz() {
	local mhz
	mhz=$(dmesg 2>/dev/null | sed -n -E 's/.*tsc: Refined TSC clocksource calibration: ([0-9]+)\.([0-9]{3}).*/\1\2/p; s/.*tsc: Detected ([0-9]+)\.([0-9]{3}) MHz processor.*/\1\2/p' | tail -n 1)
	if [ -z "$mhz" ] && grep -qw constant_tsc /proc/cpuinfo; then
		mhz=$(awk -F: '/^cpu MHz/{gsub(/ /,"",$2); split($2,p,"."); printf "%d%03d", p[1], substr(p[2]"000",1,3); exit}' /proc/cpuinfo)
	fi
	echo "$mhz"
}
TSC_KHZ=$(host_tsc_khz)
TSC_ARGS=
[ -n "$TSC_KHZ" ] && TSC_ARGS="tsc_early_khz=$TSC_KHZ tsc=reliable"
# A kernel without ACPI (the minimal one, its manifest says so) learns of
# the virtio-mmio devices from the command line, which QEMU writes with
# acpi=off, and ends QEMU by rebooting.
MACHINE=microvm,rtc=on
NOACPI_ARGS=
if [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("acpi", True))' "$GUEST_DIR/manifest.json")" = False ]; then
	MACHINE+=,acpi=off
	NOACPI_ARGS=reboot=t
fi

# boot RUNTIME: with the initramfs the manifest names for that runtime.
boot() {
	local initrd
	initrd=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("initrds", {}).get(sys.argv[2], "initrd.img"))' \
		"$GUEST_DIR/manifest.json" "$1")
	rm -f "$WORK/agent.sock" "$WORK/console.log"
	BOOT_START=$(date +%s.%N)
	qemu-system-x86_64 -M "$MACHINE" -accel tcg,thread=multi -cpu max -smp 2 -m 512 \
		-nodefaults -no-user-config -nographic -no-reboot \
		-kernel "$GUEST_DIR/vmlinuz" -initrd "$GUEST_DIR/$initrd" \
		-append "console=ttyS0 quiet panic=-1 $TSC_ARGS $NOACPI_ARGS capsid.hostname=test" \
		-serial "file:$WORK/console.log" \
		-device virtio-serial-device \
		-chardev "socket,id=agent,path=$WORK/agent.sock,server=on,wait=off" \
		-device virtserialport,chardev=agent,name=org.capsid.agent \
		-drive "file=$WORK/rootfs.erofs,if=none,id=img0,format=raw,readonly=on" \
		-device virtio-blk-device,drive=img0,serial=img0 \
		>"$WORK/qemu.out" 2>&1 &
	QEMU_PID=$!
}

# wait_qemu_exit SECONDS: SHUTDOWN must power the guest off, ending QEMU.
wait_qemu_exit() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		kill -0 "$QEMU_PID" 2>/dev/null || { wait "$QEMU_PID" || true; QEMU_PID=; return 0; }
		sleep 0.1
	done
	echo "FAIL: QEMU still running $1 s after SHUTDOWN" >&2
	return 1
}

KERNEL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kernel"])' "$GUEST_DIR/manifest.json")
for runtime in $RUNTIMES; do
	echo "=== agent checks with $runtime"
	boot "$runtime"
	python3 "$HERE/agent_checks.py" "$WORK/agent.sock" "$runtime" "$KERNEL" "$BOOT_START"
	wait_qemu_exit 30
	echo "=== $runtime: ok"
done
echo "PASS: integration.agent ($RUNTIMES)"
