#!/bin/bash
# build-guest.sh AGENT_BINARY OUTDIR
#
# Builds the guest boot files from Debian packages, reproducibly:
#   OUTDIR/vmlinuz       the kernel QEMU's -kernel boots: Debian's cloud
#                        kernel (the bzImage from its .deb, never /boot), or
#                        with CAPSID_GUEST_KERNEL the minimal kernel of
#                        images/kernel (the build default) as its stripped,
#                        uncompressed ELF, booted through its PVH entry (no
#                        decompression: 60 ms less boot under TCG, measured)
#   OUTDIR/initrd-builtin.img  capsid-agent as /init and the kernel modules it
#                        loads: groups on the agent's own runtime (the default)
#   OUTDIR/initrd.img    capsid-agent as /init, the kernel modules it loads
#                        (/lib/modules/load-order; none for the minimal
#                        kernel), crun with its shared libraries and the
#                        dynamic loader
#   OUTDIR/initrd-runc.img  the same plus runc, for groups that ask for runc
#                        (runc is 8.7 MB: every crun group would unpack and
#                        keep it in guest memory for nothing)
#   OUTDIR/manifest.json {"hash","kernel","runtimes","acpi",...}: what the
#                        monitor and the tests learn about the guest
#
# Rebuilt only when an input changes: the sha256 of every input (this script,
# the agent, the kernel .deb or vmlinuz, runc, crun, their libraries) is the
# manifest's "hash"; an OUTDIR whose manifest carries the same hash is left
# alone.
#
# Environment:
#   CAPSID_DEB_CACHE        where fetch-kernel.sh put the kernel .deb
#   CAPSID_GUEST_COMPRESS   initramfs compression: lz4 (default), gzip, none
#   CAPSID_GUEST_BUSYBOX=1  add /bin/busybox (debugging only)
#   CAPSID_GUEST_KERNEL     a directory made by images/kernel/build-kernel.sh:
#                           boot that minimal kernel (everything built in, no
#                           ACPI) instead of Debian's cloud kernel; the
#                           initramfs then carries no modules and the manifest
#                           says "acpi": false, "freePageReporting": true,
#                           "apicTimerRate": true (it takes the local APIC
#                           timer's rate from the command line: the monitor
#                           gives it under TCG, see vmm/qemu.c)
set -euo pipefail
export LC_ALL=C
umask 022 # file modes end up in the archive

if [ $# -ne 2 ]; then
	echo "usage: $0 AGENT_BINARY OUTDIR" >&2
	exit 2
fi
AGENT=$(realpath "$1")
OUTDIR=$2
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
SELF="$SCRIPT_DIR/$(basename "$0")"
DEB_CACHE=${CAPSID_DEB_CACHE:-/var/cache/capsid/debs}
COMPRESS=${CAPSID_GUEST_COMPRESS:-lz4}
BUSYBOX=${CAPSID_GUEST_BUSYBOX:-0}
MINKERNEL=${CAPSID_GUEST_KERNEL:-}
RUNC=/usr/sbin/runc
CRUN=/usr/bin/crun

die() {
	echo "build-guest: $*" >&2
	exit 1
}

[ -x "$AGENT" ] || die "agent binary $AGENT is missing or not executable"
[ -x "$RUNC" ] || die "$RUNC is missing (apt-get install runc)"
[ -x "$CRUN" ] || die "$CRUN is missing (apt-get install crun)"
case "$COMPRESS" in lz4 | gzip | none) ;; *) die "CAPSID_GUEST_COMPRESS must be lz4, gzip or none" ;; esac
for tool in cpio sha256sum $([ -n "$MINKERNEL" ] && echo strip || echo dpkg-deb depmod); do
	command -v "$tool" >/dev/null || die "$tool is required"
done

if [ -n "$MINKERNEL" ]; then
	# The minimal kernel: its build's manifest names the version.
	[ -f "$MINKERNEL/vmlinux" ] && [ -f "$MINKERNEL/kernel.json" ] ||
		die "CAPSID_GUEST_KERNEL=$MINKERNEL holds no vmlinux/kernel.json (run images/kernel/build-kernel.sh)"
	KDEB="$MINKERNEL/vmlinux"
	KVER=$(sed -n -E 's/.*"version": *"([^"]+)".*/\1/p' "$MINKERNEL/kernel.json")
	[ -n "$KVER" ] || die "$MINKERNEL/kernel.json names no version"
	# What the manifest says the kernel came from.
	KSOURCE="images/kernel ($(sed -n -E 's/.*"source": *"([^"]+)".*/\1/p' "$MINKERNEL/kernel.json"))"
else
	# The newest cloud kernel package in the cache.
	shopt -s nullglob
	debs=("$DEB_CACHE"/linux-image-*-cloud-amd64_*.deb)
	shopt -u nullglob
	[ ${#debs[@]} -gt 0 ] ||
		die "no linux-image-*-cloud-amd64 .deb in $DEB_CACHE: run images/guest/fetch-kernel.sh (set CAPSID_DEB_CACHE to use another cache)"
	KDEB=$(printf '%s\n' "${debs[@]}" | sort -V | tail -n 1)
	# linux-image-6.1.0-56-cloud-amd64_6.1.192-2_amd64.deb -> 6.1.0-56-cloud-amd64
	KVER=$(basename "$KDEB" | sed -E 's/^linux-image-([^_]+)_.*/\1/')
	KSOURCE=$(basename "$KDEB")
fi

# Shared libraries of the runtimes (and the loader), resolved as the guest
# will see them: the path ldd names is the path the loader searches.
runtime_libs() {
	ldd "$RUNC" "$CRUN" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}' | sort -u
}
LIBS=$(runtime_libs)

inputs_hash() {
	{
		echo "compress=$COMPRESS busybox=$BUSYBOX kver=$KVER minkernel=${MINKERNEL:+yes}"
		sha256sum "$SELF" "$AGENT" "$KDEB" "$RUNC" "$CRUN"
		for l in $LIBS; do sha256sum "$(realpath "$l")"; done
		if [ "$BUSYBOX" = 1 ]; then sha256sum /bin/busybox; fi
	} | sed -E 's/ +.*\/([^/]+)$/ \1/' | sha256sum | cut -d' ' -f1
}
HASH=$(inputs_hash)

if [ -f "$OUTDIR/manifest.json" ] && [ -f "$OUTDIR/vmlinuz" ] && [ -f "$OUTDIR/initrd.img" ] &&
	[ -f "$OUTDIR/initrd-runc.img" ] && [ -f "$OUTDIR/initrd-builtin.img" ] &&
	grep -q "\"hash\": *\"$HASH\"" "$OUTDIR/manifest.json"; then
	echo "guest image up to date"
	exit 0
fi

mkdir -p "$OUTDIR"
OUTDIR=$(realpath "$OUTDIR")

# Unpack the kernel package once per .deb into a cache next to the output,
# and generate modules.dep there (the .deb ships none: depmod runs at install).
KCACHE="$OUTDIR/.cache/$(basename "$KDEB" .deb)"
if [ -n "$MINKERNEL" ]; then
	: # everything built in: nothing to unpack
elif [ ! -f "$KCACHE/.complete" ]; then
	rm -rf "$KCACHE"
	mkdir -p "$KCACHE"
	dpkg-deb -x "$KDEB" "$KCACHE"
	depmod -b "$KCACHE" "$KVER"
	touch "$KCACHE/.complete"
fi
MODDIR="$KCACHE/lib/modules/$KVER"
[ -n "$MINKERNEL" ] || [ -f "$KCACHE/boot/vmlinuz-$KVER" ] || die "$KDEB holds no boot/vmlinuz-$KVER"

STAGE=$(mktemp -d "$OUTDIR/.stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
ROOT="$STAGE/root"
mkdir -p "$ROOT"/{dev,proc,sys,run,tmp,lib/modules,usr/bin,usr/sbin}

# --- kernel modules -----------------------------------------------------------
# Wanted modules in the order FIELD-NOTES gives; each is preceded by its own
# dependencies (modules.dep), depth first, so finit_module never meets an
# unresolved symbol. Built-in modules (modules.builtin) need no loading.
# Two lists: load-order is loaded at boot, load-order-cifs (SMB volumes,
# ~0.4 s under TCG) only when a volume needs it.
BOOT_MODULES=(virtio_ring virtio virtio_mmio virtio_console virtio_blk virtio_rng
	failover net_failover virtio_net overlay erofs)
CIFS_MODULES=(gf128mul ghash-generic ctr ecb cmac ccm gcm sha512_generic md4 libdes des_generic
	netfs fscache cifs_md4 cifs_arc4 dns_resolver nls_utf8 cifs)
OPTIONAL=" virtio_rng "

# modname (with - and _ equivalent) -> path relative to $MODDIR
module_path() {
	local pat=${1//[-_]/[-_]}
	grep -m1 -E "(^|/)${pat}\.ko(\.xz|\.zst|\.gz)?:" "$MODDIR/modules.dep" | cut -d: -f1
}
module_deps() {
	grep -m1 -E "^$1:" "$MODDIR/modules.dep" | cut -d: -f2
}
module_builtin() {
	local pat=${1//[-_]/[-_]}
	grep -q -E "(^|/)${pat}\.ko$" "$MODDIR/modules.builtin"
}

declare -A SEEN=()
ORDER=()
add_module_path() {
	local path=$1 dep i
	[ -n "${SEEN[$path]:-}" ] && return 0
	SEEN[$path]=1
	# modules.dep lists the deepest dependency last: load from the end.
	local deps
	read -r -a deps <<<"$(module_deps "$path")"
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
		dep=${deps[i]}
		add_module_path "$dep"
	done
	ORDER+=("$path")
}

# install_modules LISTFILE MODULE...: copy (decompressed) and list them.
install_modules() {
	local list=$1 m p name
	shift
	ORDER=()
	for m in "$@"; do
		p=$(module_path "$m")
		if [ -z "$p" ]; then
			module_builtin "$m" && continue
			[[ "$OPTIONAL" == *" $m "* ]] && continue
			die "kernel $KVER has no module $m"
		fi
		add_module_path "$p"
	done
	: >"$ROOT/lib/modules/$list"
	for p in "${ORDER[@]}"; do
		name=$(basename "$p")
		case "$name" in
		*.ko.xz) xz -dc "$MODDIR/$p" >"$ROOT/lib/modules/${name%.xz}" ;;
		*.ko.zst) zstd -qdc "$MODDIR/$p" >"$ROOT/lib/modules/${name%.zst}" ;;
		*.ko.gz) gzip -dc "$MODDIR/$p" >"$ROOT/lib/modules/${name%.gz}" ;;
		*.ko) cp "$MODDIR/$p" "$ROOT/lib/modules/$name" ;;
		*) die "unexpected module file $p" ;;
		esac
		name=${name%.xz}
		name=${name%.zst}
		name=${name%.gz}
		echo "$name" >>"$ROOT/lib/modules/$list"
	done
}
if [ -n "$MINKERNEL" ]; then
	# Built in: the agent finds empty lists and loads nothing.
	: >"$ROOT/lib/modules/load-order"
	: >"$ROOT/lib/modules/load-order-cifs"
else
	install_modules load-order "${BOOT_MODULES[@]}"
	install_modules load-order-cifs "${CIFS_MODULES[@]}"
fi

# --- agent, runtimes, libraries -----------------------------------------------
install -m 0755 "$AGENT" "$ROOT/init"
if [ "$BUSYBOX" = 1 ]; then
	mkdir -p "$ROOT/bin"
	install -m 0755 /bin/busybox "$ROOT/bin/busybox"
	ln -s busybox "$ROOT/bin/sh"
fi

# --- archives -----------------------------------------------------------------
# Sorted names, one fixed mtime, root ownership, no device numbers: the same
# inputs give the same bytes. archive NAME: $ROOT as STAGE/NAME (moved to OUTDIR below).
archive() {
	find "$ROOT" -exec touch -h -d @0 {} +
	(cd "$ROOT" && find . -mindepth 1 | sort | cpio --quiet -o -H newc -R 0:0 --reproducible) >"$STAGE/initrd.cpio"
	case "$COMPRESS" in
	# The kernel only understands the legacy lz4 frame format (-l).
	lz4) lz4 -q -l -9 -c "$STAGE/initrd.cpio" >"$STAGE/$1" ;;
	gzip) gzip -n -9 -c "$STAGE/initrd.cpio" >"$STAGE/$1" ;;
	none) cp "$STAGE/initrd.cpio" "$STAGE/$1" ;;
	esac
	rm -f "$STAGE/initrd.cpio"
}
# One initramfs per runtime, each a superset of the one before: the agent
# alone (its builtin runtime: 0.8 MB), + crun and its libraries (3.9 MB),
# + runc (8.7 MB more). A guest unpacks and keeps only its runtime's files.
archive initrd-builtin.img
install -m 0755 "$CRUN" "$ROOT/usr/bin/crun"
for l in $LIBS; do
	mkdir -p "$ROOT$(dirname "$l")"
	install -m 0755 "$(realpath "$l")" "$ROOT$l"
done
archive initrd.img
install -m 0755 "$RUNC" "$ROOT/usr/sbin/runc"
archive initrd-runc.img
if [ -n "$MINKERNEL" ]; then
	strip --strip-all -o "$STAGE/vmlinuz" "$MINKERNEL/vmlinux"
	chmod 0644 "$STAGE/vmlinuz"
else
	install -m 0644 "$KCACHE/boot/vmlinuz-$KVER" "$STAGE/vmlinuz"
fi

runc_version=$("$RUNC" --version | awk 'NR==1{print $3}')
crun_version=$("$CRUN" --version | awk 'NR==1{print $3}')
modules_json=$(sed 's/.*/"&"/' "$ROOT/lib/modules/load-order" | paste -sd, -)
cifs_modules_json=$(sed 's/.*/"&"/' "$ROOT/lib/modules/load-order-cifs" | paste -sd, -)
cat >"$STAGE/manifest.json" <<JSON
{
  "hash": "$HASH",
  "kernel": "$KVER",
  "kernelPackage": "$KSOURCE",
  "kernelEntry": "$([ -n "$MINKERNEL" ] && echo pvh || echo bzImage)",
  "runtimes": ["builtin", "crun", "runc"],
  "initrds": {"builtin": "initrd-builtin.img", "crun": "initrd.img", "runc": "initrd-runc.img"},
  "runcVersion": "$runc_version",
  "crunVersion": "$crun_version",
  "compression": "$COMPRESS",
  "initrdBytes": $(stat -c %s "$STAGE/initrd.img"),
  "initrdBuiltinBytes": $(stat -c %s "$STAGE/initrd-builtin.img"),
  "initrdRuncBytes": $(stat -c %s "$STAGE/initrd-runc.img"),
  "modules": [$modules_json],
  "modulesOnDemand": {"cifs": [$cifs_modules_json]},
  "acpi": $([ -n "$MINKERNEL" ] && echo false || echo true),
  "freePageReporting": $([ -n "$MINKERNEL" ] && echo true || echo false),
  "apicTimerRate": $([ -n "$MINKERNEL" ] && echo true || echo false)
}
JSON

# Replace the outputs; the manifest goes last so an interrupted build never
# looks up to date.
rm -f "$OUTDIR/manifest.json"
mv -f "$STAGE/vmlinuz" "$OUTDIR/vmlinuz"
mv -f "$STAGE/initrd-builtin.img" "$OUTDIR/initrd-builtin.img"
mv -f "$STAGE/initrd.img" "$OUTDIR/initrd.img"
mv -f "$STAGE/initrd-runc.img" "$OUTDIR/initrd-runc.img"
mv -f "$STAGE/manifest.json" "$OUTDIR/manifest.json"
echo "guest image built: $OUTDIR (kernel $KVER, initrd $(stat -c %s "$OUTDIR/initrd.img") bytes, $COMPRESS)"
