#!/bin/bash
# libvirtd_private.sh DIR: run a libvirtd of its own under DIR, in the
# foreground (the caller backgrounds it and kills it by pid). Its
# configuration (an overlay over /etc, DIR/etc's files in /etc/libvirt), state (an overlay over /var:
# /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt land in DIR/var-up)
# and runtime directory (a tmpfs over /run) live in a mount namespace of its
# own, so nothing of the host's libvirt (if any) is read or touched; its
# socket is DIR/sock/libvirt-sock, reached with
#   qemu+unix:///system?socket=DIR/sock/libvirt-sock
# It runs in the caller's network namespace: the taps capsid makes there are
# the ones its QEMUs open. QEMU runs as Debian's default user libvirt-qemu
# under libvirt's DAC driver (qemu.conf's user and group;
# LIBVIRTD_QEMU_USER=root for root instead), with its seccomp sandbox and
# cgroups.
set -eu
DIR=${1:?usage: libvirtd_private.sh DIR}
if [ -z "${CAPSID_LIBVIRTD_NS:-}" ]; then
	mkdir -p "$DIR/etc" "$DIR/sock" "$DIR/var-up" "$DIR/var-work"
	cat >"$DIR/etc/libvirtd.conf" <<CONF
unix_sock_dir = "$DIR/sock"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:$DIR/libvirtd.log"
CONF
	cat >"$DIR/etc/qemu.conf" <<CONF
user = "${LIBVIRTD_QEMU_USER:-libvirt-qemu}"
group = "${LIBVIRTD_QEMU_USER:-libvirt-qemu}"
stdio_handler = "file"
seccomp_sandbox = 1
CONF
	exec unshare --mount --propagation private -- env CAPSID_LIBVIRTD_NS=1 bash "$0" "$@"
fi
# libvirt's QEMU driver resolves its built-in default user (libvirt-qemu)
# before it reads qemu.conf: that user exists in this namespace's /etc only.
mkdir -p "$DIR/etc-up" "$DIR/etc-work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$DIR/etc-up,workdir=$DIR/etc-work" /etc
getent passwd libvirt-qemu >/dev/null || useradd --system --no-create-home --shell /usr/sbin/nologin libvirt-qemu
mkdir -p /etc/libvirt
cp "$DIR/etc/libvirtd.conf" "$DIR/etc/qemu.conf" /etc/libvirt/
mount -t overlay overlay -o "lowerdir=/var,upperdir=$DIR/var-up,workdir=$DIR/var-work" /var
mount -t tmpfs -o mode=0755 tmpfs /run
exec libvirtd --config "$DIR/etc/libvirtd.conf"
