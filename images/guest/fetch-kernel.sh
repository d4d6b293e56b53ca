#!/bin/bash
# Fetch the Debian cloud kernel package the guest image is built from into
# ${CAPSID_DEB_CACHE:-/var/cache/capsid/debs}. A no-op when a cloud kernel
# .deb is already there, so build machines without network keep working.
set -euo pipefail

DEB_CACHE=${CAPSID_DEB_CACHE:-/var/cache/capsid/debs}
mkdir -p "$DEB_CACHE"

shopt -s nullglob
present=("$DEB_CACHE"/linux-image-*-cloud-amd64_*.deb)
if [ ${#present[@]} -gt 0 ]; then
	echo "guest kernel package present: ${present[*]##*/}"
	exit 0
fi

# linux-image-cloud-amd64 is a metapackage: download the versioned image
# package it depends on (not the metapackage, which holds no kernel).
pkgs=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2}')
if [ -z "$pkgs" ]; then
	echo "fetch-kernel: apt-cache knows no linux-image-cloud-amd64 dependency (run apt-get update?)" >&2
	exit 1
fi
cd "$DEB_CACHE"
# shellcheck disable=SC2086 # one package name per word
apt-get download $pkgs
ls -l "$DEB_CACHE"
