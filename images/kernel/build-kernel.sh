#!/bin/bash
# build-kernel.sh OUTDIR
#
# Builds capsid's minimal guest kernel from Debian's linux-source-6.1:
# `make tinyconfig` plus the fragment capsid.config (next to this script),
# everything built in, no modules, with the patches in patches/ (applied in
# name order; each says why).
#   OUTDIR/vmlinuz        bzImage (LZ4), what QEMU's -kernel boots
#   OUTDIR/vmlinux        the uncompressed ELF (PVH entry; QEMU boots it too)
#   OUTDIR/config         the resulting .config
#   OUTDIR/kernel.json    {"hash","source","version","buildSeconds",...}
#
# Cached by content: the hash of this script, the fragment, the source
# package version and the compiler names a kernel. OUTDIR is left alone when
# its kernel.json carries that hash; otherwise the kernel comes from a cache
# shared by every build tree on the machine (CAPSID_KERNEL_CACHE/out-HASH),
# and only a hash the cache has never seen is built (minutes). The cache
# also keeps the unpacked source and the object tree, so a fragment change
# rebuilds incrementally. A lock on the cache makes concurrent builds (two
# build trees, two engineers) wait for one another instead of building the
# same kernel twice on the same cores.
#
# Environment:
#   CAPSID_KERNEL_SOURCE  the source tarball (default: the one the Debian
#                         package linux-source-6.1 installs)
#   CAPSID_KERNEL_JOBS    make -j (default: nproc)
#   CAPSID_KERNEL_CACHE   the shared cache (default /var/cache/capsid/kernel,
#                         or ~/.cache/capsid/kernel when that is not writable)
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
shopt -s nullglob
PATCHES=("$SCRIPT_DIR"/patches/*.patch)
shopt -u nullglob
SRC_TAR=${CAPSID_KERNEL_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
JOBS=${CAPSID_KERNEL_JOBS:-$(nproc)}

die() {
	echo "build-kernel: $*" >&2
	exit 1
}

[ -f "$SRC_TAR" ] || die "$SRC_TAR is missing (apt-get install linux-source-6.1)"
[ -f "$FRAGMENT" ] || die "$FRAGMENT is missing"
for tool in make gcc flex bison bc perl tar xz sha256sum flock strip patch; do
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
	sha256sum "$SELF" "$FRAGMENT" ${PATCHES[@]+"${PATCHES[@]}"} | cut -d' ' -f1
} | sha256sum | cut -d' ' -f1)

if [ -f "$OUTDIR/kernel.json" ] && [ -f "$OUTDIR/vmlinuz" ] && grep -q "\"hash\": *\"$HASH\"" "$OUTDIR/kernel.json"; then
	echo "minimal kernel up to date: $OUTDIR/vmlinuz"
	exit 0
fi

mkdir -p "$OUTDIR"
OUTDIR=$(realpath "$OUTDIR")

default_cache() {
	if mkdir -p /var/cache/capsid/kernel 2>/dev/null && [ -w /var/cache/capsid/kernel ]; then
		echo /var/cache/capsid/kernel
	else
		echo "${XDG_CACHE_HOME:-$HOME/.cache}/capsid/kernel"
	fi
}
CACHE=${CAPSID_KERNEL_CACHE:-$(default_cache)}
mkdir -p "$CACHE"
CACHE=$(realpath "$CACHE")
RESULT="$CACHE/out-$HASH"

# One build at a time per cache; whoever waited finds the result made.
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
	echo "build-kernel: waiting for another kernel build ($CACHE/.lock)"
	flock 9
fi
rm -rf "$CACHE"/.out.* # stages of interrupted builds

# build_into_cache: tinyconfig + fragment, checked, built; the result goes
# to $RESULT with its manifest last, so an interrupted build never counts.
build_into_cache() {
	local src_key src obj start version seconds missing stage
	# The patched source (and its objects) is its own tree: another
	# checkout with other patches never builds on top of this one's.
	src_key=$({
		echo "$SRC_ID"
		if [ ${#PATCHES[@]} -gt 0 ]; then sha256sum "${PATCHES[@]}" | cut -d' ' -f1; fi
	} | sha256sum | cut -c1-16)
	src="$CACHE/src-$src_key"
	obj="$CACHE/obj-$src_key"
	start=$(date +%s)

	if [ ! -f "$src/.complete" ]; then
		rm -rf "$src"
		mkdir -p "$src"
		echo "build-kernel: unpacking $SRC_TAR"
		tar -xf "$SRC_TAR" -C "$src" --strip-components=1
		for p in ${PATCHES[@]+"${PATCHES[@]}"}; do
			patch -s -p1 -d "$src" <"$p" || die "patch $(basename "$p") does not apply to $SRC_ID"
		done
		touch "$src/.complete"
	fi
	mkdir -p "$obj"

	# Fixed build identity: the same inputs give the same kernel version string.
	export KBUILD_BUILD_USER=capsid KBUILD_BUILD_HOST=capsid KBUILD_BUILD_TIMESTAMP="1970-01-01" KBUILD_BUILD_VERSION=1
	# Run from a CMake/make build, the parent's jobserver flags would leak in.
	unset MAKEFLAGS MFLAGS MAKELEVEL
	kmake() { make -s -C "$src" O="$obj" ARCH=x86_64 "$@"; }

	# Kconfig's chatter (the fragment overriding tinyconfig's choices) goes
	# to a log; the check below is what decides.
	{
		kmake tinyconfig &&
			"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$FRAGMENT" &&
			kmake olddefconfig
	} >"$obj/config.log" 2>&1 || die "configuring failed: $(tail -n 20 "$obj/config.log")"

	# Every symbol the fragment asks for must have landed: Kconfig silently
	# drops a symbol whose dependencies are unmet. Likewise a symbol it turns
	# off must not come back through a `select`.
	missing=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$FRAGMENT" | while IFS= read -r line; do
		grep -qxF "$line" "$obj/.config" || echo "$line"
	done)
	missing+=$(sed -nE 's/^# (CONFIG_[A-Z0-9_]+) is not set$/\1/p' "$FRAGMENT" | while IFS= read -r sym; do
		if grep -qE "^$sym=" "$obj/.config"; then echo " $sym (wanted off)"; fi
	done)
	[ -z "$missing" ] || die "these fragment lines did not survive olddefconfig: $(tr '\n' ' ' <<<"$missing")"

	echo "build-kernel: building with -j$JOBS (takes minutes)"
	kmake -j"$JOBS" bzImage
	version=$(kmake -s kernelrelease)
	seconds=$(($(date +%s) - start))

	stage=$(mktemp -d "$CACHE/.out.XXXXXX")
	install -m 0644 "$obj/arch/x86/boot/bzImage" "$stage/vmlinuz"
	install -m 0644 "$obj/vmlinux" "$stage/vmlinux"
	strip --strip-debug "$stage/vmlinux" 2>/dev/null || true
	install -m 0644 "$obj/.config" "$stage/config"
	cat >"$stage/kernel.json" <<JSON
{
  "hash": "$HASH",
  "source": "$SRC_ID",
  "version": "$version",
  "fragment": "images/kernel/capsid.config",
  "bzImageBytes": $(stat -c %s "$stage/vmlinuz"),
  "buildSeconds": $seconds,
  "jobs": $JOBS
}
JSON
	rm -rf "$RESULT"
	mv "$stage" "$RESULT"
	echo "minimal kernel built: $version, $(stat -c %s "$RESULT/vmlinuz") bytes, ${seconds}s"

	# Source and object trees of other patch sets are gigabytes each: only
	# the one just used stays.
	find "$CACHE" -maxdepth 1 \( -name 'src-*' -o -name 'obj-*' \) ! -name "src-$src_key" ! -name "obj-$src_key" \
		-exec rm -rf {} +
	# Older results are a few MB each: keep the newest four.
	# shellcheck disable=SC2012 # the names are out-<hex hash>
	ls -1dt "$CACHE"/out-* | tail -n +5 | xargs -r rm -rf
}

if [ -f "$RESULT/kernel.json" ]; then
	echo "build-kernel: kernel $HASH from the cache $CACHE"
	touch "$RESULT" # recently used: kept by the pruning above
else
	build_into_cache
fi

rm -f "$OUTDIR/kernel.json"
for f in vmlinuz vmlinux config; do
	install -m 0644 "$RESULT/$f" "$OUTDIR/$f.new"
	mv -f "$OUTDIR/$f.new" "$OUTDIR/$f"
done
# The manifest goes last: an interrupted copy never looks up to date.
install -m 0644 "$RESULT/kernel.json" "$OUTDIR/kernel.json.new"
mv -f "$OUTDIR/kernel.json.new" "$OUTDIR/kernel.json"
echo "minimal kernel in $OUTDIR/vmlinuz"
