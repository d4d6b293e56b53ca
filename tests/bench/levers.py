#!/usr/bin/env python3
"""Measure the start-up and memory levers one at a time (entry point:
tests/bench/levers.sh). Each variant changes one thing against the current
defaults (or against the minimal-kernel stack, for the levers that only make
sense there); the variants are interleaved round by round, so load from
other users of the machine spreads over all of them instead of landing on
one. For every variant: capsid cold start to first output (median of
--runs), the VM floor with the same QEMU/kernel/command line, and the idle
PSS of one group (QEMU + monitor) after --settle seconds.

Levers that need a change in files this harness does not own (QEMU
arguments, kernel command line) go through qemu-wrap.sh, see there.

Since the minimal kernel became the build's default guest (and the
fast-start levers the monitor's defaults), the "current defaults" base of
this table is the cloud-kernel guest of `make guest-image-cloud`
(share/capsid/guest-cloud) with the old defaults pinned: TCG cache 64 MiB,
anonymous RAM. The monitor gives a kernel whose manifest says
"apicTimerRate" (the minimal one) 'lapic_timer_khz=1000000 no_timer_check'
itself; the cloud-kernel base gets no timer option, so its "cmdline" row
measures the older 'noapictimer no_timer_check' against nothing."""

import argparse
import concurrent.futures as cf
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import bench_lib as L  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TCG_CMDLINE = "noapictimer no_timer_check"
NOACPI = {"CAPSID_BENCH_MACHINE_OPTS": "acpi=off", "CAPSID_BENCH_APPEND": "reboot=t"}
BALLOON = "-device virtio-balloon-device,free-page-reporting=on"


def variants(guests, have_kernel):
    """(name, what changes, env, guest) in measurement order. `guest` names
    an entry of `guests` (None: the build's guest directory)."""
    v = [
        ("default", "current defaults: Debian cloud kernel, lz4 initrd, tb 64 MiB, +128 MiB, crun", {}, None),
        ("tb-16", "CAPSID_TB_SIZE_MIB=16", {"CAPSID_TB_SIZE_MIB": "16"}, None),
        ("tb-32", "CAPSID_TB_SIZE_MIB=32", {"CAPSID_TB_SIZE_MIB": "32"}, None),
        ("tb-8", "CAPSID_TB_SIZE_MIB=8", {"CAPSID_TB_SIZE_MIB": "8"}, None),
        ("overhead-64", "CAPSID_MEMORY_OVERHEAD_MIB=64 (guest 192 MiB)", {"CAPSID_MEMORY_OVERHEAD_MIB": "64"}, None),
        ("overhead-384", "CAPSID_MEMORY_OVERHEAD_MIB=384 (guest 512 MiB)", {"CAPSID_MEMORY_OVERHEAD_MIB": "384"}, None),
        ("initrd-none", "uncompressed initramfs", {}, "cloud-none"),
        ("initrd-gzip", "gzip initramfs", {}, "cloud-gzip"),
        ("no-runc", "initramfs without runc (size effect only)", {}, "cloud-norunc"),
        ("pvh", "PVH entry: the cloud kernel's uncompressed vmlinux", {}, "cloud-pvh"),
        ("cmdline", f"kernel command line + '{TCG_CMDLINE}'", {"CAPSID_BENCH_APPEND": TCG_CMDLINE}, None),
        ("runc", "CAPSID_RUNTIME=runc", {"CAPSID_RUNTIME": "runc"}, None),
        ("memfd", "guest RAM from memory-backend-memfd (4 KiB pages, no THP)", {"CAPSID_BENCH_RAM": "memfd"}, None),
    ]
    if have_kernel:
        mk = dict(NOACPI)
        v += [
            ("min", "minimal kernel (images/kernel), microvm acpi=off, reboot=t", mk, "min"),
            ("min+cmdline", f"min + '{TCG_CMDLINE}'", {**mk, "CAPSID_BENCH_APPEND": f"reboot=t {TCG_CMDLINE}"}, "min"),
            ("min+cmdline+pvh", "min + cmdline, PVH vmlinux", {**mk, "CAPSID_BENCH_APPEND": f"reboot=t {TCG_CMDLINE}"},
             "min-pvh"),
            ("min+cmdline+none", "min + cmdline, uncompressed initramfs",
             {**mk, "CAPSID_BENCH_APPEND": f"reboot=t {TCG_CMDLINE}"}, "min-none"),
            ("min+mem", "min + cmdline + tb 16 + memfd RAM + free page reporting",
             {**mk, "CAPSID_BENCH_APPEND": f"reboot=t {TCG_CMDLINE}", "CAPSID_TB_SIZE_MIB": "16",
              "CAPSID_BENCH_RAM": "memfd", "CAPSID_BENCH_EXTRA_ARGS": BALLOON}, "min"),
            ("min+mem+order0", "min+mem, page reporting order 0 (default: pageblock, 4 MiB)",
             {**mk, "CAPSID_BENCH_APPEND": f"reboot=t {TCG_CMDLINE}", "CAPSID_TB_SIZE_MIB": "16",
              "CAPSID_BENCH_RAM": "memfd", "CAPSID_BENCH_EXTRA_ARGS": BALLOON}, "min-rep0"),
            ("min+mem+o0-norunc", "min+mem+order0, initramfs without runc",
             {**mk, "CAPSID_BENCH_APPEND": f"reboot=t {TCG_CMDLINE}", "CAPSID_TB_SIZE_MIB": "16",
              "CAPSID_BENCH_RAM": "memfd", "CAPSID_BENCH_EXTRA_ARGS": BALLOON}, "min-rep0-norunc"),
            ("min+mem+o0-norunc+tb8", "min+mem+o0-norunc, tb 8 MiB, overhead 64 MiB",
             {**mk, "CAPSID_BENCH_APPEND": f"reboot=t {TCG_CMDLINE}", "CAPSID_TB_SIZE_MIB": "8",
              "CAPSID_MEMORY_OVERHEAD_MIB": "64", "CAPSID_BENCH_RAM": "memfd", "CAPSID_BENCH_EXTRA_ARGS": BALLOON},
             "min-rep0-norunc"),
        ]
    return v


def cloud_guest_dir(build):
    d = os.path.join(build, "share", "capsid", "guest-cloud")
    if not os.path.exists(os.path.join(d, "vmlinuz")):
        sys.exit(f"levers: {d} is missing: make -C {build} guest-image-cloud "
                 "(needs the cloud kernel .deb: images/guest/fetch-kernel.sh)")
    return d


def make_guests(build, kernel_dir, out):
    """The guest-directory variants (cached in `out` across runs)."""
    src = cloud_guest_dir(build)
    mk = os.path.join(HERE, "make-guest-variant.sh")
    want = {
        "cloud-none": ["--compress", "none"],
        "cloud-gzip": ["--compress", "gzip"],
        "cloud-norunc": ["--no-runc"],
        "cloud-pvh": ["--pvh"],
    }
    if kernel_dir:
        k = os.path.join(kernel_dir, "vmlinuz")
        want.update({
            "min": ["--kernel", k, "--no-modules"],
            "min-pvh": ["--kernel", os.path.join(kernel_dir, "vmlinux"), "--no-modules"],
            "min-none": ["--kernel", k, "--no-modules", "--compress", "none"],
            "min-rep0": ["--kernel", k, "--no-modules", "--reporting-order", "0"],
            "min-rep0-norunc": ["--kernel", k, "--no-modules", "--reporting-order", "0", "--no-runc"],
        })
    guests = {}
    for name, opts in want.items():
        d = os.path.join(out, name)
        subprocess.run(["bash", mk, src, d, *opts], check=True, stdout=subprocess.DEVNULL)
        guests[name] = d
    return guests


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build")
    ap.add_argument("--kernel-dir", default=None)
    ap.add_argument("--floor-initrd", required=True)
    ap.add_argument("--wrap-dir", required=True, help="directory holding qemu-system-x86_64 -> qemu-wrap.sh")
    ap.add_argument("--json", default=None)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mem-runs", type=int, default=3)
    ap.add_argument("--settle", type=float, default=4.0)
    ap.add_argument("--only", default=None, help="comma-separated variant names")
    ap.add_argument("--mem-gb", type=float, default=0.125)
    a = ap.parse_args()
    a.quick = False
    a.json = a.json or os.path.join(a.build, "levers.json")
    kernel_dir = a.kernel_dir if a.kernel_dir and os.path.exists(os.path.join(a.kernel_dir, "vmlinuz")) else None

    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    h = bench.Harness(a)
    base_env = dict(h.env)
    # Halting guests (no ACPI power-off in today's agent) are killed after
    # the stop timeout: keep it short, and delete in the background.
    base_env["CAPSID_STOP_TIMEOUT_MS"] = "1000"
    # The defaults this table was made against (see the module doc).
    base_env.setdefault("CAPSID_TB_SIZE_MIB", "64")
    base_env.setdefault("CAPSID_MEMFD_RAM", "0")
    base_env["PATH"] = a.wrap_dir + ":" + base_env.get("PATH", "")
    deleter = cf.ThreadPoolExecutor(max_workers=8)
    doc = {"machine": L.machine_info(), "command": " ".join(sys.argv), "runs": a.runs, "memRuns": a.mem_runs}
    rows = []
    try:
        doc["backgroundCpuBusy"] = L.other_cpu_share(3.0)
        doc["loadavgAtStart"] = L.loadavg()
        h.setup()
        guests = make_guests(h.build, kernel_dir, os.path.join(h.root, "g"))
        vs = variants(guests, kernel_dir is not None)
        if a.only:
            keep = a.only.split(",")
            vs = [v for v in vs if v[0] in keep]
        cold = {v[0]: [] for v in vs}
        floor = {v[0]: [] for v in vs}
        agent = {v[0]: [] for v in vs}

        def configure(env_extra, guest):
            h.env = dict(base_env, **env_extra)
            h.guest_dir = guests[guest] if guest else cloud_guest_dir(h.build)
            h.env["CAPSID_GUEST_DIR"] = h.guest_dir
            h.tb_mib = int(h.env.get("CAPSID_TB_SIZE_MIB", 64))
            h.overhead_mib = int(h.env.get("CAPSID_MEMORY_OVERHEAD_MIB", 128))

        for r in range(a.runs):
            for i, (name, _, env_extra, guest) in enumerate(vs):
                configure(env_extra, guest)
                t1, _, rc, _ = L.time_to_line(h.floor_cmd(), want="capsid-floor", env=h.env)
                floor[name].append(t1)
                g = f"lv{r}-{i}"
                t1, _, rc, _ = L.time_to_line([h.capsid_bin, "run", "-f", h.spec_for(h.spec_echo, g)],
                                              want=bench.READY_WORD, env=h.env)
                cold[name].append(t1)
                agent[name].append(agent_ready_ms(h, g))
                env_now = dict(h.env)
                deleter.submit(lambda g=g, env_now=env_now: subprocess.run(
                    [h.capsid_bin, "delete", g], env=env_now, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            h.log(f"levers round {r + 1}/{a.runs} done")
        deleter.shutdown(wait=True)
        deleter = cf.ThreadPoolExecutor(max_workers=8)

        pss = {v[0]: [] for v in vs}
        detail = {}
        for r in range(a.mem_runs):
            for i, (name, _, env_extra, guest) in enumerate(vs):
                configure(env_extra, guest)
                g = f"lm{r}-{i}"
                h.create_groups([g], h.spec_idle)
                time.sleep(a.settle)
                per, det = h.measure_groups([g])
                pss[name] += per
                detail[name] = det
                env_now = dict(h.env)
                deleter.submit(lambda g=g, env_now=env_now: subprocess.run(
                    [h.capsid_bin, "delete", g], env=env_now, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            h.log(f"memory round {r + 1}/{a.mem_runs} done")
        deleter.shutdown(wait=True)

        for name, what, env_extra, guest in vs:
            rows.append({"variant": name, "change": what, "env": env_extra, "guest": guest,
                         "coldStart": L.stats(cold[name]), "floor": L.stats(floor[name]),
                         "agentReadyMs": L.stats([x for x in agent[name] if x is not None]),
                         "idlePssMiB": L.stats(pss[name]), **{k: v for k, v in detail.get(name, {}).items()}})
    finally:
        deleter.shutdown(wait=True)
        h.env = dict(base_env)
        h.cleanup()
    doc["loadavgAtEnd"] = L.loadavg()
    doc["variants"] = rows
    L.dump_json(a.json, doc)
    base = rows[0]["coldStart"]["median"] if rows else None
    print(f"levers {doc['machine']['date']}: background CPU busy {doc['backgroundCpuBusy'] * 100:.0f}%, loadavg "
          f"{doc['loadavgAtStart'][0]:.2f} -> {doc['loadavgAtEnd'][0]:.2f}; cold/floor: median of {a.runs} "
          f"[min-max], PSS: median of {a.mem_runs}")
    print(f"{'variant':20} {'cold start s':>22} {'vs default':>10} {'floor s':>20} {'agent ms':>8} "
          f"{'idle PSS MiB':>20} {'qemu anon':>9}")
    for r in rows:
        c, f, p = r["coldStart"], r["floor"], r["idlePssMiB"]
        print(f"{r['variant']:20} {c['median']:6.3f} [{c['min']:.3f}-{c['max']:.3f}] "
              f"{(c['median'] / base if base else 0):9.2f}x {f['median']:6.3f} [{f['min']:.2f}-{f['max']:.2f}] "
              f"{(r['agentReadyMs']['median'] or 0):8.0f} {p['median']:6.1f} [{p['min']:.1f}-{p['max']:.1f}] "
              f"{r.get('qemuPssAnonMiB') or 0:9.1f}")
    print(f"JSON: {a.json}")


def agent_ready_ms(h, group):
    """The agent's own 'ready in N ms' (PID 1 start to channel open)."""
    try:
        with open(os.path.join(h.root, "groups", group, "console.log"), errors="replace") as f:
            for line in f:
                if "ready in " in line:
                    return int(line.split("ready in ", 1)[1].split()[0])
    except (OSError, ValueError):
        pass
    return None


if __name__ == "__main__":
    main()
