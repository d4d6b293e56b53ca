#!/usr/bin/env bash
# Install everything capsid needs on a fresh Debian 12 machine, from Debian's
# archive only, and fetch the guest kernel package. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
	# build
	build-essential cmake pkg-config
	libjson-c-dev libyaml-dev libarchive-dev libcurl4-openssl-dev libmicrohttpd-dev
	libnl-3-dev libnl-route-3-dev libnftables-dev libseccomp-dev libssl-dev
	# run: hypervisor, container runtimes for the guest image, image tools
	qemu-system-x86 qemu-utils runc crun busybox-static erofs-utils e2fsprogs
	cpio kmod zstd lz4 xz-utils iproute2 nftables
	# tests
	python3 socat bsdutils procps util-linux
	# the embedded SMB service (volumes) and its tests
	samba smbclient cifs-utils git
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The guest kernel: Debian's cloud kernel package, unpacked by the image
# build (never installed into the host's /boot).
bash images/guest/fetch-kernel.sh
