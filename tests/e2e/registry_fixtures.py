#!/usr/bin/env python3
"""Builds the OCI image layouts the registry tests push with skopeo.

  OUT/app    tag v1: three layers - busybox-static (gzip), /etc/greeting
             (uncompressed tar), RANDOM bytes of /data/random (zstd) - and a
             config that runs `cat /etc/greeting` (--random-layers N: N random
             layers, zstd and gzip alternating).
  OUT/multi  tag v1: an image index with linux/amd64 and linux/arm64 images
             that differ in /etc/arch.

Reproducible: fixed mtimes and ownership, sorted entries.
usage: registry_fixtures.py OUT [--random-bytes N] [--busybox PATH]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_TAR = "application/vnd.oci.image.layer.v1.tar"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def tar_bytes(entries):
    """entries: list of (name, kind, data_or_target, mode)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data, mode in sorted(entries):
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            ti.uid = ti.gid = 0
            ti.mode = mode
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            elif kind == "sym":
                ti.type = tarfile.SYMTYPE
                ti.linkname = data
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


class Layout:
    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

    def blob(self, data):
        d = sha(data)
        with open(os.path.join(self.path, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(data)
        return {"digest": d, "size": len(data)}

    def layer(self, tar, compression):
        if compression == "gzip":
            data, mt = gzip.compress(tar, mtime=0), MT_TAR + "+gzip"
        elif compression == "zstd":
            data = subprocess.run(["zstd", "-q", "-3", "-c"], input=tar, stdout=subprocess.PIPE, check=True).stdout
            mt = MT_TAR + "+zstd"
        else:
            data, mt = tar, MT_TAR
        d = self.blob(data)
        d["mediaType"] = mt
        return d, sha(tar)

    def image(self, layers, arch, cmd):
        descs, diff_ids = [], []
        for tar, comp in layers:
            d, diff = self.layer(tar, comp)
            descs.append(d)
            diff_ids.append(diff)
        config = {
            "architecture": arch,
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": {"Cmd": cmd, "Env": ["PATH=/bin"], "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        c = self.blob(json.dumps(config, sort_keys=True).encode())
        c["mediaType"] = MT_CONFIG
        manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": c, "layers": descs}
        m = self.blob(json.dumps(manifest, sort_keys=True).encode())
        m["mediaType"] = MT_MANIFEST
        return m

    def index(self, top, tag):
        top = dict(top)
        top["annotations"] = {"org.opencontainers.image.ref.name": tag}
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [top]}, f)


def busybox_layer(path):
    with open(path, "rb") as f:
        bb = f.read()
    entries = [("bin", "dir", None, 0o755), ("bin/busybox", "file", bb, 0o755)]
    for applet in ("sh", "cat", "echo", "ls", "sleep", "uname", "wc", "head"):
        entries.append(("bin/" + applet, "sym", "busybox", 0o777))
    return tar_bytes(entries)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--random-bytes", type=int, default=1 << 20)
    ap.add_argument("--random-layers", type=int, default=1)
    ap.add_argument("--busybox", default="/bin/busybox")
    a = ap.parse_args()
    bb = busybox_layer(a.busybox)
    greeting = tar_bytes([("etc", "dir", None, 0o755),
                          ("etc/greeting", "file", b"hello from the registry\n", 0o644)])
    rnd = [tar_bytes([("data", "dir", None, 0o755), ("data/random%s" % ("" if i == 0 else i), "file",
                                                        os.urandom(a.random_bytes), 0o644)])
           for i in range(a.random_layers)]
    cmd = ["/bin/sh", "-c", "cat /etc/greeting"]

    app = Layout(os.path.join(a.out, "app"))
    layers = [(bb, "gzip"), (greeting, "none")] + [(r, "zstd" if i % 2 == 0 else "gzip") for i, r in enumerate(rnd)]
    app.index(app.image(layers, "amd64", cmd), "v1")

    multi = Layout(os.path.join(a.out, "multi"))
    plats = []
    for arch in ("amd64", "arm64"):
        archl = tar_bytes([("etc", "dir", None, 0o755), ("etc/arch", "file", arch.encode() + b"\n", 0o644)])
        m = multi.image([(bb, "gzip"), (archl, "gzip")], arch, ["/bin/sh", "-c", "cat /etc/arch"])
        m["platform"] = {"os": "linux", "architecture": arch}
        plats.append(m)
    idx = multi.blob(json.dumps({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": plats}).encode())
    idx["mediaType"] = MT_INDEX
    multi.index(idx, "v1")
    json.dump({"app_layers": 2 + a.random_layers, "multi_platforms": [p["digest"] for p in plats]}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
