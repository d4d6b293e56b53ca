#!/usr/bin/env python3
"""Before and after in one run: cold start to the first output line and
`exec -- true`, interleaved round by round between builds (or settings), so
that the machine's drift falls on every variant alike.

  compare.py --variant before=/path/to/old/build --variant after=build \
             --variant unconfined=build:CAPSID_CONFINE=0 [--runs 7] [--json F]

Each variant gets a state root of its own with the build's demo image.
Run it through compare.sh (its own network namespace)."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_lib as L  # noqa: E402

SPEC = """name: {name}
properties:
  restartPolicy: Never
  containers:
  - name: c
    properties:
      image: capsid/demo:latest
      command: ["/bin/sh", "-c", "{cmd}"]
      resources: {{requests: {{cpu: 1, memoryInGB: 0.125}}}}
"""


class Variant:
    def __init__(self, text, work):
        name, rest = text.split("=", 1)
        build, _, envs = rest.partition(":")
        self.name = name
        self.bin = os.path.join(os.path.abspath(build), "bin", "capsid")
        self.demo = os.path.join(os.path.abspath(build), "share", "capsid", "demo-image.tar")
        self.root = tempfile.mkdtemp(prefix=f"cmp-{name}.", dir="/tmp")
        self.env = dict(os.environ, CAPSID_ROOT=self.root, CAPSID_QUIET_ACCEL="1")
        for kv in filter(None, envs.split(",")):
            k, v = kv.split("=", 1)
            self.env[k] = v
        self.spec_dir = os.path.join(work, name)
        os.makedirs(self.spec_dir)
        self.run("image", "import", self.demo)

    def run(self, *args, check=True):
        r = subprocess.run([self.bin, *args], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=300)
        if check and r.returncode != 0:
            raise RuntimeError(f"{self.name}: capsid {' '.join(args)}: {r.stderr.decode()[-600:]}")
        return r

    def spec(self, name, cmd):
        path = os.path.join(self.spec_dir, name + ".yaml")
        with open(path, "w") as f:
            f.write(SPEC.format(name=name, cmd=cmd))
        return path

    def cold(self, i):
        t1, _, rc, _ = L.time_to_line([self.bin, "run", "--rm", "-f", self.spec(f"cold{i}", "echo ready-now")],
                                      want="ready-now", env=self.env)
        if rc != 0:
            raise RuntimeError(f"{self.name}: cold run {i} exited {rc}")
        return t1

    def close(self):
        for g in self.run("list", "-q", check=False).stdout.decode().split():
            self.run("delete", g, check=False)
        self.run("system", "stop", "--force", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", action="append", required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="cmp.", dir="/tmp")
    variants = [Variant(v, work) for v in a.variant]
    cold = {v.name: [] for v in variants}
    execs = {v.name: [] for v in variants}
    try:
        for i in range(a.runs):
            order = variants[i % len(variants):] + variants[:i % len(variants)]
            for v in order:
                cold[v.name].append(v.cold(i))
            print(f"cold {i + 1}/{a.runs}: " + ", ".join(f"{v.name} {cold[v.name][-1]:.3f}s" for v in variants),
                  flush=True)
        for v in variants:
            v.run("create", "-f", v.spec("idle", "exec sleep 3600"))
        for i in range(a.runs * 2):
            for v in variants:
                execs[v.name].append(L.time_cmd([v.bin, "exec", "idle", "--", "true"], env=v.env))
    finally:
        for v in variants:
            v.close()
        shutil.rmtree(work, ignore_errors=True)
    base = variants[0].name
    doc = {"machine": L.machine_info(), "runs": a.runs, "variants": a.variant, "results": {}}
    print(f"{'variant':<12} {'cold start (median, min-max)':<30} {'ratio':>6}   {'exec -- true':<14} {'ratio':>6}")
    for v in variants:
        c, e = L.stats(cold[v.name]), L.stats(execs[v.name])
        cb, eb = L.stats(cold[base])["median"], L.stats(execs[base])["median"]
        doc["results"][v.name] = {"coldStart": c, "exec": e}
        print(f"{v.name:<12} {c['median']:.3f} s ({c['min']:.3f}-{c['max']:.3f}){'':<8} {c['median'] / cb:>6.2f}   "
              f"{e['median'] * 1000:.1f} ms{'':<7} {e['median'] / eb:>6.2f}")
    if a.json:
        L.dump_json(a.json, doc)


if __name__ == "__main__":
    main()
