#!/usr/bin/env python3
"""Warm start by VM templating: a working prototype (entry point:
tests/bench/warm.sh), QEMU + the unchanged capsid agent, no monitor.

1. Template: boot a guest to agent-ready (HELLO) with its RAM in a file
   (memory-backend-file, share=on) and a placeholder image disk (a sparse
   file, serial img0), then save the device state with
   `migrate` + x-ignore-shared: the RAM stays in the file, the state file is
   tiny.
2. Clone, per group: start QEMU with the same machine, RAM mapped from the
   template file MAP_PRIVATE (share=off: copy-on-write, so clones share the
   template's unchanged pages), the group's real image file at the
   placeholder's slot, fresh sockets, and `-incoming defer`;
   migrate-incoming restores the device state. The agent sees a new host
   connection (SIGIO), says HELLO, and the host creates and starts the
   container as after a cold boot.
3. Timed: clone command to the container's first output line, against a cold
   boot of the same guest through the same client (so the monitor's share is
   out of both), median of --runs.
4. Findings recorded for the integrator: what a clone inherits from the
   template (hostname, boot_id, CRNG state, clock) and must be given fresh.

Why the placeholder disk works: microvm has no hotplug, so the disk must be
there at template boot. The guest reads a virtio-blk disk's capacity once at
probe (the placeholder is large and sparse, so any image fits below it) and
reads only the serial live; the partition scan at probe leaves no cached
blocks (the bdev page cache is dropped when its last opener closes), and the
image is first mounted by CREATE, after the swap."""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import agent_client as AC  # noqa: E402
import bench_lib as L  # noqa: E402

READY = "bench-ready"


class Qmp:
    """Just enough QMP: capabilities, commands, polling."""

    def __init__(self, path, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.f = self.s.makefile("rwb", buffering=0)
        self.f.readline()  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg).encode() + b"\n")
        while True:
            line = json.loads(self.f.readline())
            if "return" in line:
                return line["return"]
            if "error" in line:
                raise RuntimeError(f"QMP {name}: {line['error']}")
            # events ({"event": ...}) are skipped

    def close(self):
        self.s.close()


class Warm:
    def __init__(self, a):
        self.a = a
        self.build = os.path.abspath(a.build)
        self.guest = os.environ.get("CAPSID_GUEST_DIR") or os.path.join(self.build, "share", "capsid", "guest")
        self.work = tempfile.mkdtemp(prefix="cw.", dir="/tmp")
        self.procs = []
        self.mem_mib = a.mem_mib
        self.tb = int(os.environ.get("CAPSID_TB_SIZE_MIB") or 64)
        self.extra_append = os.environ.get("CAPSID_BENCH_APPEND", "")
        self.machine_extra = os.environ.get("CAPSID_BENCH_MACHINE_OPTS", "")

    # --- the image and QEMU command line ---------------------------------------------------
    def image(self):
        """The demo image's erofs disk, made by capsid's own image store."""
        root = os.path.join(self.work, "root")
        env = dict(os.environ, CAPSID_ROOT=root)
        subprocess.run([os.path.join(self.build, "bin", "capsid"), "image", "import",
                        os.path.join(self.build, "share", "capsid", "demo-image.tar")],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        for dirpath, _, files in os.walk(os.path.join(root, "images")):
            if "rootfs.erofs" in files:
                return os.path.join(dirpath, "rootfs.erofs")
        raise RuntimeError("capsid image import made no rootfs.erofs")

    def argv(self, d, ram_share, disk, incoming, file_ram=True):
        """Mirrors vmm/qemu.c's microvm command line (as the monitor builds
        it), plus file-backed RAM and, for a clone, -incoming."""
        append = "console=ttyS0 quiet panic=-1 capsid.hostname=template"
        khz = L.host_tsc_khz()
        if khz:
            append += f" tsc_early_khz={khz}"
        if self.extra_append:
            append += " " + self.extra_append
        machine = "microvm,rtc=on,isa-serial=on" + ("," + self.machine_extra if self.machine_extra else "")
        v = ["qemu-system-x86_64", "-M", machine, "-accel", f"tcg,thread=multi,tb-size={self.tb}",
             "-cpu", "max", "-smp", "1", "-m", f"{self.mem_mib}M"]
        if file_ram:
            v += ["-object", f"memory-backend-file,id=ram0,size={self.mem_mib}M,mem-path={self.ram},"
                             f"share={'on' if ram_share else 'off'}",
                  "-machine", "memory-backend=ram0"]
        v += ["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
             "-kernel", os.path.join(self.guest, "vmlinuz"), "-initrd", os.path.join(self.guest, "initrd.img"),
             "-append", append, "-serial", f"file:{d}/console.log",
             "-device", "virtio-serial-device",
             "-chardev", f"socket,id=agent,path={d}/agent.sock,server=on,wait=off",
             "-device", "virtserialport,chardev=agent,name=org.capsid.agent",
             "-qmp", f"unix:{d}/qmp.sock,server=on,wait=off",
             "-drive", f"file={disk},if=none,id=disk0,format=raw,readonly=on,cache=none,aio=threads",
             "-device", "virtio-blk-device,drive=disk0,serial=img0"]
        if incoming:
            v += ["-incoming", "defer"]
        return v

    def spawn(self, argv, d):
        os.makedirs(d, exist_ok=True)
        log = open(os.path.join(d, "qemu.log"), "wb")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.kill()
        p.wait()

    # --- template ---------------------------------------------------------------------------
    def make_template(self):
        t0 = time.monotonic()
        self.tdir = os.path.join(self.work, "t")
        self.ram = os.path.join(self.work, "t.ram")
        self.state = os.path.join(self.work, "t.state")
        placeholder = os.path.join(self.work, "placeholder.img")
        with open(placeholder, "wb") as f:
            f.truncate(1 << 30)  # sparse; capacity the guest keeps, reads nothing
        p = self.spawn(self.argv(self.tdir, True, placeholder, False), self.tdir)
        c = AC.AgentClient.connect(os.path.join(self.tdir, "agent.sock"))
        c.hello(negotiate=False)
        booted = time.monotonic() - t0
        c.close()
        # Let the agent see the host go away (SIGIO) before the freeze.
        time.sleep(0.3)
        q = Qmp(os.path.join(self.tdir, "qmp.sock"))
        q.cmd("stop")
        q.cmd("migrate-set-capabilities", capabilities=[{"capability": "x-ignore-shared", "state": True}])
        q.cmd("migrate", uri=f"exec:cat > {self.state}")
        while True:
            st = q.cmd("query-migrate")
            if st.get("status") == "completed":
                break
            if st.get("status") in ("failed", "cancelled"):
                raise RuntimeError(f"template save failed: {st}")
            time.sleep(0.02)
        q.cmd("quit")
        q.close()
        p.wait(timeout=30)
        return {"bootToAgentS": round(booted, 3), "totalS": round(time.monotonic() - t0, 3),
                "stateBytes": os.path.getsize(self.state), "ramFileMiB": self.mem_mib}

    # --- a group: clone or cold ---------------------------------------------------------------
    def run_group(self, name, disk, clone, args, wait_exit=True):
        """Command to first output line of a container; returns (seconds,
        the container's full stdout, the client, the process)."""
        d = os.path.join(self.work, name)
        t0 = time.monotonic()
        if clone:
            p = self.spawn(self.argv(d, False, disk, True), d)
            q = Qmp(os.path.join(d, "qmp.sock"))
            q.cmd("migrate-set-capabilities", capabilities=[{"capability": "x-ignore-shared", "state": True}])
            q.cmd("migrate-incoming", uri=f"exec:cat {self.state}")
            # Connect only once the device state is loaded: a connection
            # made earlier would be overwritten by the template's
            # "host disconnected", and the agent would never hear of it.
            # The template was saved paused, so the clone stays paused
            # after the load: wait for it, then continue.
            while True:
                st = q.cmd("query-migrate").get("status")
                if st == "completed":
                    break
                if st in ("failed", "cancelled"):
                    raise RuntimeError(f"clone restore failed: {st}")
                time.sleep(0.002)
            q.cmd("cont")
        else:
            # A cold boot exactly as capsid's monitor starts one (anonymous RAM).
            p = self.spawn(self.argv(d, False, disk, False, file_ram=False), d)
            q = None
        c = AC.AgentClient.connect(os.path.join(d, "agent.sock"))
        c.hello()
        c.create("c", 1, args)
        c.request(AC.START, {"container": "c"})
        c.wait_output(1, READY.encode(), timeout=120)
        t = time.monotonic() - t0
        st = c.wait_exit(1, timeout=60) if wait_exit else c.stream(1)
        if q:
            q.close()
        return t, st.stdout.decode(errors="replace"), c, p

    def main(self):
        disk = self.image()
        doc = {"template": self.make_template(), "guestDir": self.guest}
        probe = f"echo {READY}; hostname; cat /proc/sys/kernel/random/boot_id; date +%s; " \
                "head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'; echo"
        samples = {"capsid-clone": [], "cold-same-client": []}
        findings = []
        for i in range(self.a.runs):
            for kind in ("capsid-clone", "cold-same-client"):
                t, out, c, p = self.run_group(f"{kind[:4]}{i}", disk, kind == "capsid-clone",
                                              ["/bin/sh", "-c", probe])
                samples[kind].append(t)
                if kind == "capsid-clone":
                    lines = out.split("\n")
                    findings.append({"hostname": lines[1], "bootId": lines[2], "guestEpoch": int(lines[3]),
                                     "hostEpoch": int(time.time()), "urandom16": lines[4]})
                c.close()
                self.stop(p)
            print(f"[warm] run {i + 1}/{self.a.runs}: clone {samples['capsid-clone'][-1]:.3f}s, "
                  f"cold {samples['cold-same-client'][-1]:.3f}s", file=sys.stderr, flush=True)
        doc["samples"] = samples
        doc["stats"] = {k: L.stats(v) for k, v in samples.items()}
        doc["cloneInherits"] = {
            "sameHostname": len({f["hostname"] for f in findings}) == 1,
            "sameBootId": len({f["bootId"] for f in findings}) == 1,
            "sameUrandom": len({f["urandom16"] for f in findings}) < len(findings),
            "clockBehindSeconds": [f["hostEpoch"] - f["guestEpoch"] for f in findings],
        }
        doc["findings"] = findings
        doc["memory"] = self.memory(disk)
        return doc

    def memory(self, disk, n=5, settle=4.0):
        """PSS of n idle clones side by side against n idle cold guests: the
        clones map the template's RAM file copy-on-write, so the pages they
        have not written are shared (Pss_File), which is the cross-tenant
        sharing to weigh (see BENCHMARKS.md)."""
        idle = ["/bin/sh", "-c", f"echo {READY}; trap 'exit 0' TERM; sleep 1000000 & wait"]
        out = {}
        for kind in ("clone", "cold"):
            live = [self.run_group(f"m{kind[:2]}{i}", disk, kind == "clone", idle, wait_exit=False)
                    for i in range(n)]
            time.sleep(settle)
            pss = [L.smaps_rollup(p.pid) for _, _, _, p in live]
            out[kind] = {"n": n, "pssMiB": L.stats([x["Pss"] / 1024 for x in pss]),
                         "pssFileMiB": L.stats([x.get("Pss_File", 0) / 1024 for x in pss]),
                         "pssAnonMiB": L.stats([x.get("Pss_Anon", 0) / 1024 for x in pss])}
            for _, _, c, p in live:
                c.close()
                self.stop(p)
        return out

    def cleanup(self):
        for p in self.procs:
            self.stop(p)
        shutil.rmtree(self.work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mem-mib", type=int, default=256)
    ap.add_argument("--json", action="store_true", help="print the result as one JSON line on stdout")
    a = ap.parse_args()
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    w = Warm(a)
    try:
        doc = w.main()
    finally:
        w.cleanup()
    if a.json:
        print(json.dumps(doc))
    else:
        print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
