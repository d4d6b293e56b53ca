#!/usr/bin/env bash
# Build the demo container image capsid/demo:latest as a `docker save` tar
# (manifest.json + <config-digest>.json + <id>/layer.tar), from the host's
# busybox-static. The result is reproducible: fixed mtimes, numeric root
# ownership, sorted entries, fixed config timestamps; building twice on the
# same machine gives byte-identical tars and so the same image digest.
#
# usage: build-demo.sh OUT.tar      (BUSYBOX=/path overrides /bin/busybox)
set -euo pipefail

out=${1:?usage: build-demo.sh OUT.tar}
out=$(realpath -m -- "$out")
mkdir -p -- "$(dirname -- "$out")"
busybox=${BUSYBOX:-/bin/busybox}
if [ ! -x "$busybox" ]; then
	echo "build-demo.sh: $busybox not found (install busybox-static)" >&2
	exit 1
fi
# The image has no libc: a dynamically linked busybox would not run in it.
if ldd "$busybox" >/dev/null 2>&1; then
	echo "build-demo.sh: $busybox is not statically linked (install busybox-static)" >&2
	exit 1
fi
case "$(uname -m)" in
x86_64) arch=amd64 ;;
aarch64) arch=arm64 ;;
*) arch=$(uname -m) ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/bin "$root"/etc "$root"/tmp "$root"/root "$root"/home
cp "$busybox" "$root/bin/busybox"
applets="sh echo cat ls sleep env id uname nproc hostname httpd wget nc grep head tail wc true false
mkdir rm touch ps kill date seq yes dd sync test tr sed awk cut sort free df mount ip ifconfig ping vi"
for a in $applets; do
	ln -s busybox "$root/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
# Modes set explicitly: the builder's umask must not change the digest.
chmod 0755 "$root" "$root/bin" "$root/etc" "$root/home" "$root/bin/busybox"
chmod 0644 "$root/etc/passwd" "$root/etc/group"
chmod 0700 "$root/root"
chmod 1777 "$root/tmp"

tar_repro=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu)
layer=$work/layer.tar
tar -C "$root" "${tar_repro[@]}" -cf "$layer" .
diff_id=$(sha256sum "$layer" | cut -d' ' -f1)

env_path="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
config="{\"architecture\":\"$arch\",\"os\":\"linux\",\"created\":\"1970-01-01T00:00:00Z\",\
\"config\":{\"Env\":[\"$env_path\"],\"Cmd\":[\"/bin/sh\"],\"WorkingDir\":\"/\"},\
\"history\":[{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"images/demo/build-demo.sh\"}],\
\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$diff_id\"]}}"

pkg=$work/pkg
mkdir -p "$pkg/$diff_id"
mv "$layer" "$pkg/$diff_id/layer.tar"
printf '%s' "$config" >"$pkg/config.json"
config_id=$(sha256sum "$pkg/config.json" | cut -d' ' -f1)
mv "$pkg/config.json" "$pkg/$config_id.json"
printf '[{"Config":"%s.json","RepoTags":["capsid/demo:latest"],"Layers":["%s/layer.tar"]}]' \
	"$config_id" "$diff_id" >"$pkg/manifest.json"
printf '{"capsid/demo":{"latest":"%s"}}' "$diff_id" >"$pkg/repositories"
chmod 0644 "$pkg"/*.json "$pkg/repositories" "$pkg/$diff_id/layer.tar"
chmod 0755 "$pkg/$diff_id"

tmp_out="$out.tmp.$$"
tar -C "$pkg" "${tar_repro[@]}" -cf "$tmp_out" manifest.json repositories "$config_id.json" "$diff_id"
mv "$tmp_out" "$out"
