#!/usr/bin/env bash
# Install everything capsid needs on a fresh Debian 12 machine, from Debian's
# archive only. Idempotent.
#
# The guest kernel is built from Debian's linux-source-6.1 by the build
# (images/kernel). Debian's cloud kernel package is downloaded too: the
# libguestfs appliance (persistent disks) boots it, and with
# CAPSID_GUEST_KERNEL=cloud (the variable ci/build.sh passes to CMake) the
# guests boot it as well.
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
	# registry pull tests: a real registry, a client to fill it, htpasswd, TLS
	docker-registry skopeo apache2-utils openssl curl
	# the embedded SMB service (volumes) and its tests
	samba smbclient cifs-utils git
	# the minimal guest kernel (images/kernel/build-kernel.sh): its source and
	# what a kernel build needs beyond build-essential (objtool: libelf;
	# certificate tools: libssl-dev, above; patch: images/kernel/patches)
	linux-source-6.1 flex bison bc libelf-dev perl patch
	# persistent disks (capsid volume): libguestfs and its appliance
	libguestfs-dev libguestfs-tools
	# the metrics endpoint's test: a real Prometheus scrapes it
	prometheus
	# benchmarks (tests/bench/run.sh): gVisor as a baseline
	runsc
	# capsidd: its SDK test runs Node (its npm packages are pinned in
	# tests/e2e/capsidd-sdk and installed by the test into the build tree);
	# its benchmark loads it with wrk
	nodejs wrk
	# the libvirt VM backend (--vmm libvirt) and its tests' private libvirtd
	libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
	# containerd-shim-capsid-v2: protobuf-c and containerd's own .proto files
	# (compiled at build time), the well-known types' .proto files; its tests
	# start a private containerd (ships runc's shim, ctr)
	protobuf-c-compiler libprotobuf-c-dev golang-github-containerd-containerd-dev
	golang-github-containerd-cgroups-dev libprotobuf-dev containerd
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

case "${CAPSID_GUEST_KERNEL:-minimal}" in
minimal | cloud) ;;
*)
	echo "setup: CAPSID_GUEST_KERNEL must be minimal or cloud" >&2
	exit 1
	;;
esac
# Debian's cloud kernel package, unpacked where it is used (the image build,
# the libguestfs appliance), never installed into the host's /boot.
bash images/guest/fetch-kernel.sh
# supermin copies the host's /lib/modules into the libguestfs appliance; a
# host running a kernel of its own may have none.
mkdir -p /lib/modules
