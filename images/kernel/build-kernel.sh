#!/bin/bash
# build-kernel.sh OUTDIR
#
# Builds capsid's minimal guest kernel from Debian's linux-source-6.1:
# `make tinyconfig` plus the fragment capsid.config (next to this script),
# everything built in, no modules.
#   OUTDIR/vmlinuz        bzImage (LZ4), what QEMU's -kernel boots
#   OUTDIR/vmlinux        the uncompressed ELF (PVH entry; QEMU boots it too)
#   OUTDIR/config         the resulting .config
#   OUTDIR/kernel.json    {"hash","source","version","buildSeconds",...}
#
# Explicit and cached: the work is skipped when OUTDIR/kernel.json carries
# the hash of this script, the fragment, the source tarball's package
# version and the compiler version. The unpacked source and the object tree
# are kept under OUTDIR/.cache, so a rebuild after a fragment change is
# incremental.
#
# Environment:
#   CAPSID_KERNEL_SOURCE  the source tarball (default: the one the Debian
#                         package linux-source-6.1 installs)
#   CAPSID_KERNEL_JOBS    make -j (default: nproc)
set -euo pipefail
export LC_ALL=C

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
OUTDIR=$1
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
SELF="$SCRIPT_DIR/$(basename "$0")"
FRAGMENT="$SCRIPT_DIR/capsid.config"
SRC_TAR=${CAPSID_KERNEL_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
JOBS=${CAPSID_KERNEL_JOBS:-$(nproc)}

die() {
	echo "build-kernel: $*" >&2
	exit 1
}

[ -f "$SRC_TAR" ] || die "$SRC_TAR is missing (apt-get install linux-source-6.1)"
[ -f "$FRAGMENT" ] || die "$FRAGMENT is missing"
for tool in make gcc flex bison bc perl tar xz sha256sum; do
	command -v "$tool" >/dev/null || die "$tool is required (apt-get install build-essential flex bison bc)"
done
[ -f /usr/include/libelf.h ] || die "libelf headers are required (apt-get install libelf-dev)"
[ -f /usr/include/openssl/ssl.h ] || die "openssl headers are required (apt-get install libssl-dev)"

# The package version names the source exactly and costs nothing to read;
# a tarball given by hand is hashed instead.
if [ -z "${CAPSID_KERNEL_SOURCE:-}" ] && dpkg-query -W -f='${Version}' linux-source-6.1 >/dev/null 2>&1; then
	SRC_ID="linux-source-6.1 $(dpkg-query -W -f='${Version}' linux-source-6.1)"
else
	SRC_ID="$(basename "$SRC_TAR") $(sha256sum "$SRC_TAR" | cut -d' ' -f1)"
fi
HASH=$({
	echo "$SRC_ID"
	gcc --version | head -n 1
	sha256sum "$SELF" "$FRAGMENT" | cut -d' ' -f1
} | sha256sum | cut -d' ' -f1)

if [ -f "$OUTDIR/kernel.json" ] && [ -f "$OUTDIR/vmlinuz" ] && grep -q "\"hash\": *\"$HASH\"" "$OUTDIR/kernel.json"; then
	echo "minimal kernel up to date: $OUTDIR/vmlinuz"
	exit 0
fi

mkdir -p "$OUTDIR"
OUTDIR=$(realpath "$OUTDIR")
CACHE="$OUTDIR/.cache"
SRC_KEY=$(echo "$SRC_ID" | sha256sum | cut -c1-16)
SRC="$CACHE/src-$SRC_KEY"
OBJ="$CACHE/obj-$SRC_KEY"
start=$(date +%s)

if [ ! -f "$SRC/.complete" ]; then
	rm -rf "$SRC"
	mkdir -p "$SRC"
	echo "build-kernel: unpacking $SRC_TAR"
	tar -xf "$SRC_TAR" -C "$SRC" --strip-components=1
	touch "$SRC/.complete"
fi
mkdir -p "$OBJ"

# Fixed build identity: the same inputs give the same kernel version string.
export KBUILD_BUILD_USER=capsid KBUILD_BUILD_HOST=capsid KBUILD_BUILD_TIMESTAMP="1970-01-01"
kmake() { make -s -C "$SRC" O="$OBJ" ARCH=x86_64 "$@"; }

kmake tinyconfig >/dev/null
"$SRC/scripts/kconfig/merge_config.sh" -m -O "$OBJ" "$OBJ/.config" "$FRAGMENT" >/dev/null
kmake olddefconfig >/dev/null

# Every symbol the fragment asks for must have landed: Kconfig silently drops
# a symbol whose dependencies are unmet.
# Likewise a symbol it turns off must not come back through a `select`.
missing=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$FRAGMENT" | while IFS= read -r line; do
	grep -qxF "$line" "$OBJ/.config" || echo "$line"
done)
missing+=$(sed -nE 's/^# (CONFIG_[A-Z0-9_]+) is not set$/\1/p' "$FRAGMENT" | while IFS= read -r sym; do
	if grep -qE "^$sym=" "$OBJ/.config"; then echo " $sym (wanted off)"; fi
done)
[ -z "$missing" ] || die "these fragment lines did not survive olddefconfig: $(echo $missing)"

echo "build-kernel: building with -j$JOBS (takes minutes)"
kmake -j"$JOBS" bzImage
version=$(kmake -s kernelrelease)
seconds=$(($(date +%s) - start))

install -m 0644 "$OBJ/arch/x86/boot/bzImage" "$OUTDIR/vmlinuz.new"
install -m 0644 "$OBJ/vmlinux" "$OUTDIR/vmlinux.new"
strip --strip-debug "$OUTDIR/vmlinux.new" 2>/dev/null || true
install -m 0644 "$OBJ/.config" "$OUTDIR/config"
rm -f "$OUTDIR/kernel.json"
mv -f "$OUTDIR/vmlinuz.new" "$OUTDIR/vmlinuz"
mv -f "$OUTDIR/vmlinux.new" "$OUTDIR/vmlinux"
# The manifest goes last: an interrupted build never looks up to date.
cat >"$OUTDIR/kernel.json.new" <<JSON
{
  "hash": "$HASH",
  "source": "$SRC_ID",
  "version": "$version",
  "fragment": "images/kernel/capsid.config",
  "bzImageBytes": $(stat -c %s "$OUTDIR/vmlinuz"),
  "buildSeconds": $seconds,
  "jobs": $JOBS
}
JSON
mv -f "$OUTDIR/kernel.json.new" "$OUTDIR/kernel.json"
echo "minimal kernel built: $OUTDIR/vmlinuz ($version, $(stat -c %s "$OUTDIR/vmlinuz") bytes, ${seconds}s)"
