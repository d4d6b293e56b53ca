#!/bin/bash
# make-guest-variant.sh SRC_GUEST_DIR OUT_DIR [options]
#
# A variant of a built guest directory (vmlinuz + initrd.img + manifest.json,
# as images/guest/build-guest.sh makes it) for lever measurements, without
# touching the build: the initramfs is unpacked, changed and repacked.
#   --kernel PATH        use this kernel (a bzImage, or an ELF vmlinux: QEMU
#                        boots its PVH entry) instead of SRC's vmlinuz
#   --pvh                use the uncompressed vmlinux inside SRC's bzImage
#                        (extracted with the kernel's extract-vmlinux logic)
#   --compress lz4|gzip|none   initramfs compression (default: lz4, as built)
#   --no-modules         drop the kernel modules and empty load-order (for a
#                        kernel with everything built in)
#   --no-runc            drop runc (measures what its 10+ MB cost)
#   --reporting-order N  run reporting_shim.c as /init first: it sets the
#                        guest's free page reporting order, then execs the
#                        agent (kept as /init.agent) as PID 1
# The manifest gets a "variant" field naming the changes.
set -euo pipefail
export LC_ALL=C
umask 022

[ $# -ge 2 ] || {
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}
SRC=$(realpath "$1")
OUT=$2
shift 2
KERNEL=
PVH=0
COMPRESS=lz4
NOMOD=0
NORUNC=0
ORDER=
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) KERNEL=$(realpath "$2"); shift 2 ;;
	--pvh) PVH=1; shift ;;
	--compress) COMPRESS=$2; shift 2 ;;
	--no-modules) NOMOD=1; shift ;;
	--no-runc) NORUNC=1; shift ;;
	--reporting-order) ORDER=$2; shift 2 ;;
	*) echo "make-guest-variant: unknown option $1" >&2; exit 2 ;;
	esac
done
die() {
	echo "make-guest-variant: $*" >&2
	exit 1
}
[ -f "$SRC/initrd.img" ] && [ -f "$SRC/vmlinuz" ] || die "$SRC is not a guest directory"

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/root" "$OUT"

# The built initrd is lz4 (legacy frame), gzip or a bare cpio.
case "$(file -b "$SRC/initrd.img")" in
*LZ4*) lz4 -dc "$SRC/initrd.img" >"$STAGE/in.cpio" ;;
*gzip*) gzip -dc "$SRC/initrd.img" >"$STAGE/in.cpio" ;;
*cpio*) cp "$SRC/initrd.img" "$STAGE/in.cpio" ;;
*) die "unknown initrd format: $(file -b "$SRC/initrd.img")" ;;
esac
(cd "$STAGE/root" && cpio --quiet -id --no-absolute-filenames <"$STAGE/in.cpio")

changes=()
if [ "$NOMOD" = 1 ]; then
	rm -f "$STAGE"/root/lib/modules/*.ko
	: >"$STAGE/root/lib/modules/load-order"
	: >"$STAGE/root/lib/modules/load-order-cifs"
	changes+=("no-modules")
fi
if [ "$NORUNC" = 1 ]; then
	rm -f "$STAGE/root/usr/sbin/runc"
	changes+=("no-runc")
fi
if [ -n "$ORDER" ]; then
	[[ "$ORDER" =~ ^[0-9]+$ ]] || die "--reporting-order takes a number"
	mv "$STAGE/root/init" "$STAGE/root/init.agent"
	gcc -static -Os -Wall -Wextra -Werror -DORDER="$ORDER" -o "$STAGE/root/init" "$(dirname "$0")/reporting_shim.c"
	changes+=("reporting-order-$ORDER")
fi
find "$STAGE/root" -exec touch -h -d @0 {} +
(cd "$STAGE/root" && find . -mindepth 1 | sort | cpio --quiet -o -H newc -R 0:0 --reproducible) >"$STAGE/out.cpio"
case "$COMPRESS" in
lz4) lz4 -q -l -9 -c "$STAGE/out.cpio" >"$OUT/initrd.img" ;;
gzip) gzip -n -9 -c "$STAGE/out.cpio" >"$OUT/initrd.img" ;;
none) cp "$STAGE/out.cpio" "$OUT/initrd.img" ;;
*) die "--compress must be lz4, gzip or none" ;;
esac
changes+=("initrd-$COMPRESS")

if [ -n "$KERNEL" ]; then
	cp "$KERNEL" "$OUT/vmlinuz"
	changes+=("kernel=$(basename "$(dirname "$KERNEL")")/$(basename "$KERNEL")")
elif [ "$PVH" = 1 ]; then
	# The bzImage's payload is compressed with one of the kernel's formats:
	# find the magic, decompress from there, keep the first valid ELF
	# (what scripts/extract-vmlinux does).
	python3 - "$SRC/vmlinuz" "$OUT/vmlinuz" <<'PY'
import subprocess, sys
data = open(sys.argv[1], "rb").read()
magics = [(b"\x02\x21\x4c\x18", ["lz4", "-dc"]), (b"\x1f\x8b\x08", ["gzip", "-dc"]),
          (b"\xfd7zXZ\x00", ["xz", "-dc"]), (b"\x28\xb5\x2f\xfd", ["zstd", "-dc"])]
for magic, cmd in magics:
    pos = data.find(magic)
    while pos >= 0:
        r = subprocess.run(cmd, input=data[pos:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if r.stdout[:4] == b"\x7fELF":
            open(sys.argv[2], "wb").write(r.stdout)
            sys.exit(0)
        pos = data.find(magic, pos + 1)
sys.exit("no ELF payload found in " + sys.argv[1])
PY
	changes+=("pvh-vmlinux")
else
	cp "$SRC/vmlinuz" "$OUT/vmlinuz"
fi

python3 - "$SRC/manifest.json" "$OUT/manifest.json" "$OUT/initrd.img" "${changes[*]}" <<'PY'
import json, os, sys
m = json.load(open(sys.argv[1]))
m["variant"] = sys.argv[4].split()
m["hash"] = "variant"
m["initrdBytes"] = os.path.getsize(sys.argv[3])
json.dump(m, open(sys.argv[2], "w"), indent=2)
PY
echo "guest variant $OUT: ${changes[*]} (initrd $(stat -c %s "$OUT/initrd.img") bytes, kernel $(stat -c %s "$OUT/vmlinuz") bytes)"
