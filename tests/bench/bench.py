#!/usr/bin/env python3
"""capsid benchmark harness: cold start, exec latency, idle memory and create
rate of capsid against runc, runsc (gVisor) and the VM floor, measured in one
run on this machine. Entry point: tests/bench/run.sh (which builds the floor
initramfs and passes its path). Every figure is the median of >= N runs with
min and max; timings are also given as ratios to baselines of the same run."""

import argparse
import concurrent.futures as cf
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_lib as L  # noqa: E402
import scale  # noqa: E402

# A container that idles without waking the guest and ends at once on
# SIGTERM (a bare `sleep` as PID 1 of its pid namespace ignores SIGTERM and
# would make every delete wait for the stop timeout).
IDLE_CMD = 'trap "exit 0" TERM; sleep 1000000 & wait'
READY_WORD = "bench-ready"


class Harness:
    def __init__(self, a):
        self.a = a
        self.build = os.path.abspath(a.build)
        self.capsid_bin = os.path.join(self.build, "bin", "capsid")
        self.guest_dir = os.environ.get("CAPSID_GUEST_DIR") or os.path.join(self.build, "share", "capsid", "guest")
        self.demo_tar = os.path.join(self.build, "share", "capsid", "demo-image.tar")
        for p in (self.capsid_bin, self.demo_tar, os.path.join(self.guest_dir, "vmlinuz"), a.floor_initrd):
            if not os.path.exists(p):
                raise SystemExit(f"bench: {p} is missing (build with `bash ci/build.sh`)")
        # Short: unix socket paths under the root must stay < 108 bytes.
        self.root = tempfile.mkdtemp(prefix="cb.", dir="/tmp")
        self.work = os.path.join(self.root, "w")
        os.makedirs(self.work)
        self.env = dict(os.environ, CAPSID_ROOT=self.root, CAPSID_QUIET_ACCEL="1")
        self.runc_root = os.path.join(self.root, "runc")
        self.runsc_root = os.path.join(self.root, "runsc")
        self.results = []
        self.notes = []
        self.load = []
        self.runc_ids = set()
        self.runsc_ids = set()
        self.mem_gb = a.mem_gb
        self.overhead_mib = int(os.environ.get("CAPSID_MEMORY_OVERHEAD_MIB") or 128)
        self.tb_mib = int(os.environ.get("CAPSID_TB_SIZE_MIB") or 64)

    # --- bookkeeping -----------------------------------------------------------
    def record(self, metric, system, samples, unit, **extra):
        row = {"metric": metric, "system": system, "unit": unit, **L.stats(samples), **extra}
        self.results.append(row)
        return row

    def find(self, metric, system):
        for r in self.results:
            if r["metric"] == metric and r["system"] == system:
                return r
        return None

    def mark_load(self, phase):
        self.load.append({"phase": phase, "t": time.strftime("%H:%M:%S"), "loadavg": L.loadavg()})

    def log(self, msg):
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    # --- setup -----------------------------------------------------------------
    def capsid(self, *args, check=True, timeout=300, env=None):
        r = subprocess.run([self.capsid_bin, *args], env=env or self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"capsid {' '.join(args)}: exit {r.returncode}: {r.stderr.decode()[-800:]}")
        return r

    def setup(self):
        self.capsid("image", "import", self.demo_tar)
        # The same image content for runc and runsc: the demo image's layer.
        rootfs = os.path.join(self.work, "rootfs")
        os.makedirs(rootfs)
        with tarfile.open(self.demo_tar) as outer:
            manifest = json.load(outer.extractfile("manifest.json"))
            for layer in manifest[0]["Layers"]:
                with tarfile.open(fileobj=outer.extractfile(layer)) as lt:
                    lt.extractall(rootfs, numeric_owner=True)
        subprocess.run(["runc", "spec", "--bundle", self.work], check=True)
        with open(os.path.join(self.work, "config.json")) as f:
            self.oci_template = json.load(f)
        os.remove(os.path.join(self.work, "config.json"))
        self.bundle_echo = self.make_bundle("echo", ["/bin/sh", "-c", f"echo {READY_WORD}"])
        self.bundle_idle = self.make_bundle("idle", ["/bin/sh", "-c", IDLE_CMD])
        self.spec_echo = self.write_spec("echo", f"echo {READY_WORD}", "Never")
        self.spec_idle = self.write_spec("idle", IDLE_CMD, "Never")
        self.idle_cmd = IDLE_CMD

    def make_bundle(self, name, args):
        """An OCI bundle from `runc spec` (its default namespaces and
        capabilities) over the shared, read-only demo rootfs."""
        b = os.path.join(self.work, "b-" + name)
        os.makedirs(b)
        c = json.loads(json.dumps(self.oci_template))
        c["process"]["terminal"] = False
        c["process"]["args"] = args
        c["root"] = {"path": os.path.join(self.work, "rootfs"), "readonly": True}
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(c, f)
        return b

    def write_spec(self, tag, command, policy, mem_gb=None):
        """A spec template; the group name is filled in per use."""
        path = os.path.join(self.work, f"spec-{tag}.tmpl")
        with open(path, "w") as f:
            f.write("apiVersion: 2021-10-01\nname: NAME\nproperties:\n"
                    f"  restartPolicy: {policy}\n  containers:\n  - name: c\n    properties:\n"
                    "      image: capsid/demo:latest\n"
                    f"      command: [\"/bin/sh\", \"-c\", {json.dumps(command)}]\n"
                    f"      resources:\n        requests: {{cpu: 1, memoryInGB: {mem_gb or self.mem_gb}}}\n")
        return path

    def spec_for(self, tmpl, name):
        path = os.path.join(self.work, name + ".yaml")
        with open(tmpl) as f, open(path, "w") as o:
            o.write(f.read().replace("name: NAME", f"name: {name}", 1))
        return path

    # --- capsid group helpers ----------------------------------------------------
    def state(self, name):
        try:
            with open(os.path.join(self.root, "groups", name, "state.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None  # not written yet, or caught mid-rename

    def container_running(self, name):
        d = self.state(name)
        try:
            c = d["properties"]["containers"][0]["properties"]["instanceView"]["currentState"]["state"]
            return c == "Running"
        except (TypeError, KeyError, IndexError):
            return False

    def group_pids(self, name):
        d = self.state(name) or {}
        ext = d.get("capsid", {})
        return ext.get("monitorPid"), ext.get("qemuPid")

    def wait_running(self, names, t0, timeout=300):
        """Poll the groups' state files until each container is Running;
        returns name -> seconds since t0."""
        left, when = set(names), {}
        while left:
            for n in list(left):
                if self.container_running(n):
                    when[n] = time.monotonic() - t0
                    left.discard(n)
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"groups never reached Running: {sorted(left)}")
            time.sleep(0.02)
        return when

    def create_groups(self, names, tmpl, env=None, timeout=300):
        """Start `capsid create` for every name at once; return when all
        creates returned and every container runs."""
        t0 = time.monotonic()
        procs = [subprocess.Popen([self.capsid_bin, "create", "-f", self.spec_for(tmpl, n)], env=env or self.env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for n in names]
        when = self.wait_running(names, t0, timeout)
        for n, p in zip(names, procs):
            if p.wait(timeout=timeout) != 0:
                raise RuntimeError(f"capsid create {n}: {p.stderr.read().decode()[-800:]}")
            p.stderr.close()
        return when

    def delete_groups(self, names):
        with cf.ThreadPoolExecutor(max_workers=16) as ex:
            list(ex.map(lambda n: self.capsid("delete", n, check=False), names))

    def group_pss(self, name):
        mon, qemu = self.group_pids(name)
        m, q = L.smaps_rollup(mon), L.smaps_rollup(qemu)
        if not m or not q:
            raise RuntimeError(f"group {name}: monitor {mon} or qemu {qemu} not found")
        return m, q

    # --- baselines --------------------------------------------------------------
    def runc(self, *args):
        return ["runc", "--root", self.runc_root, *args]

    def runsc(self, *args):
        return ["runsc", "--root", self.runsc_root, "--network=none", *args]

    def start_detached(self, kind, cid, bundle):
        cmd = self.runc("run", "-d", "--bundle", bundle, cid) if kind == "runc" else \
            self.runsc("run", "-detach", "-bundle", bundle, cid)
        (self.runc_ids if kind == "runc" else self.runsc_ids).add(cid)
        return L.time_cmd(cmd)

    def remove_container(self, kind, cid):
        cmd = self.runc("delete", "-f", cid) if kind == "runc" else self.runsc("delete", "-force", cid)
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0 and b"does not exist" not in r.stderr and b"not found" not in r.stderr:
            self.log(f"{kind} delete {cid}: {r.stderr.decode(errors='replace').strip()[-200:]}")
        (self.runc_ids if kind == "runc" else self.runsc_ids).discard(cid)

    def capture_floor(self):
        """The VM floor from the real thing: boot one idle group, read its
        QEMU command line from /proc and keep machine, accelerator, CPU,
        memory, kernel and kernel command line; the floor initramfs replaces
        the guest's, the serial console goes to stdout, and every device is
        dropped. So the floor follows whatever the build under test does
        (and what qemu-wrap.sh added). Also a warm-up boot for all systems."""
        name = "floorprobe"
        self.create_groups([name], self.spec_idle)
        argv = L.proc_cmdline(self.group_pids(name)[1])
        self.delete_groups([name])
        out, i = [], 0
        drop = {"-device", "-chardev", "-qmp", "-drive", "-netdev", "-monitor", "-mon", "-add-fd"}
        self.floor_balloon = []
        while i < len(argv):
            a = argv[i]
            if a in drop:
                if a == "-device" and argv[i + 1].startswith("virtio-balloon"):
                    self.floor_balloon = argv[i:i + 2]
                i += 2
                continue
            if a == "-initrd":
                out += [a, self.a.floor_initrd]
                i += 2
                continue
            if a == "-serial":
                out += [a, "stdio"]
                i += 2
                continue
            out.append(a)
            i += 1
        if "-kernel" not in out or "-append" not in out:
            raise RuntimeError(f"unexpected QEMU command line: {argv}")
        # The hostname is the group's; the floor has none of its own.
        self.floor_argv = out
        self.notes.append("VM floor command: " + " ".join(out))

    def floor_cmd(self):
        """The VM floor: the QEMU command line capsid's monitor builds
        (captured by capture_floor; else rebuilt as vmm/qemu.c does), with
        an initramfs whose /init prints a line and powers off."""
        if getattr(self, "floor_argv", None):
            return list(self.floor_argv)
        mem = int(self.mem_gb * 1024 + 0.999) + self.overhead_mib
        append = "console=ttyS0 quiet panic=-1 capsid.hostname=floor"
        khz = L.host_tsc_khz()
        if khz:
            append += f" tsc_early_khz={khz}"
        return ["qemu-system-x86_64", "-M", "microvm,rtc=on,isa-serial=on", "-accel",
                f"tcg,thread=multi,tb-size={self.tb_mib}", "-cpu", "max", "-smp", "1", "-m", f"{mem}M",
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-kernel", os.path.join(self.guest_dir, "vmlinuz"), "-initrd", self.a.floor_initrd,
                "-append", append, "-serial", "stdio"]

    def floor_idle_cmd(self):
        """The idle memory floor: the VM floor's QEMU, kernel, RAM and
        translation cache with capsid's free-page-reporting balloon, an init
        that stays up doing nothing."""
        cmd = self.floor_cmd() + getattr(self, "floor_balloon", [])
        i = cmd.index("-append")
        cmd[i + 1] += " capsid_floor=idle"
        return cmd

    def floor_idle_pss(self):
        """PSS (MiB) of one idle VM floor, its boot files released as
        capsid's monitor releases a group's."""
        cmd = self.floor_idle_cmd()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while b"capsid-floor" not in p.stdout.readline():
                if p.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"idle VM floor did not come up: {' '.join(cmd)}")
            self.settle()
            L.release_mappings(p.pid, [cmd[cmd.index("-kernel") + 1], cmd[cmd.index("-initrd") + 1]])
            time.sleep(0.2)
            pss = L.smaps_rollup(p.pid)
            if not pss:
                raise RuntimeError("idle VM floor: QEMU is gone")
            return pss["Pss"] / 1024
        finally:
            p.kill()
            p.wait()
            p.stdout.close()

    # --- phases -------------------------------------------------------------------
    def phase_cold(self):
        self.mark_load("cold")
        self.capture_floor()
        systems = ["floor", "capsid", "runc", "runsc"]
        first = {s: [] for s in systems}
        total = {s: [] for s in systems}
        for i in range(self.a.runs):
            order = systems[i % 4:] + systems[:i % 4]  # rotate: no system always runs after the same one
            for s in order:
                if s == "floor":
                    t1, t2, rc, _ = L.time_to_line(self.floor_cmd(), want="capsid-floor")
                elif s == "capsid":
                    name = f"cold{i}"
                    t1, t2, rc, _ = L.time_to_line(
                        [self.capsid_bin, "run", "--rm", "-f", self.spec_for(self.spec_echo, name)],
                        want=READY_WORD, env=self.env)
                elif s == "runc":
                    cid = f"cold-runc-{i:03d}"
                    t1, t2, rc, _ = L.time_to_line(self.runc("run", "--bundle", self.bundle_echo, cid), want=READY_WORD)
                else:
                    cid = f"cold-runsc-{i:03d}"
                    self.runsc_ids.add(cid)
                    t1, t2, rc, _ = L.time_to_line(self.runsc("run", "-bundle", self.bundle_echo, cid), want=READY_WORD)
                    self.remove_container("runsc", cid)
                if rc != 0:
                    raise RuntimeError(f"cold start {s} run {i}: exit {rc}")
                first[s].append(t1)
                total[s].append(t2)
            self.log(f"cold run {i + 1}/{self.a.runs}: " + ", ".join(f"{s} {first[s][-1]:.3f}s" for s in systems))
        for s in systems:
            self.record("cold_start", s, first[s], "s", exitSeconds=L.stats(total[s])["median"])

    def phase_exec(self):
        self.mark_load("exec")
        name = "exec"
        self.create_groups([name], self.spec_idle)
        self.start_detached("runc", "exec-runc", self.bundle_idle)
        self.start_detached("runsc", "exec-runsc", self.bundle_idle)
        cmds = {
            "capsid": [self.capsid_bin, "exec", name, "--", "true"],
            "runc": self.runc("exec", "exec-runc", "true"),
            "runsc": self.runsc("exec", "exec-runsc", "true"),
        }
        samples = {s: [] for s in cmds}
        n = max(self.a.runs, 10 if not self.a.quick else self.a.runs)
        for _ in range(n):
            for s, cmd in cmds.items():
                samples[s].append(L.time_cmd(cmd, env=self.env))
        for s in cmds:
            self.record("exec_true", s, samples[s], "s")
        self.log("exec: " + ", ".join(f"{s} {L.stats(v)['median']:.3f}s" for s, v in samples.items()))
        self.delete_groups([name])
        self.remove_container("runc", "exec-runc")
        self.remove_container("runsc", "exec-runsc")

    def settle(self):
        time.sleep(self.a.settle)

    def measure_groups(self, names):
        per_group, qemu_anon, qemu_file = [], [], []
        for n in names:
            m, q = self.group_pss(n)
            per_group.append((m["Pss"] + q["Pss"]) / 1024)
            qemu_anon.append(q.get("Pss_Anon", 0) / 1024)
            qemu_file.append(q.get("Pss_File", 0) / 1024)
        return per_group, {"qemuPssAnonMiB": L.stats(qemu_anon)["median"],
                           "qemuPssFileMiB": L.stats(qemu_file)["median"],
                           "monitorPssMiB": L.stats([L.smaps_rollup(self.group_pids(n)[0])["Pss"] / 1024
                                                     for n in names])["median"]}

    def phase_memory(self):
        self.mark_load("memory")
        # runsc's idle sandbox: every process of the sandbox (runsc-sandbox, gofer).
        # A bundle per sandbox, so its gofer (whose argv names only the
        # bundle) can be told apart; the ptrace platform's stub processes
        # are the sandbox's children.
        ids = [f"mem-runsc-{i:03d}" for i in range(self.a.runs)]
        bundles = {}
        for cid in ids:
            bundles[cid] = os.path.join(self.work, "b-" + cid)
            os.makedirs(bundles[cid])
            shutil.copy(os.path.join(self.bundle_idle, "config.json"), bundles[cid])
            self.start_detached("runsc", cid, bundles[cid])
        self.settle()
        runsc_pss = []
        for cid in ids:
            def mine(argv, cid=cid):
                return ("runsc-sandbox" in argv[0] and argv[-1] == cid) or (
                    "runsc-gofer" in argv[0] and bundles[cid] in argv)
            pids = L.with_descendants(L.pids_matching(mine))
            if len(pids) < 2:
                raise RuntimeError(f"runsc sandbox {cid}: found only pids {pids}")
            runsc_pss.append(sum((L.smaps_rollup(p) or {}).get("Pss", 0) for p in pids) / 1024)
        self.record("idle_pss", "runsc", runsc_pss, "MiB", groups=len(ids))
        for cid in ids:
            self.remove_container("runsc", cid)

        # The VM floor idle: what this QEMU and kernel cost doing nothing.
        if not getattr(self, "floor_argv", None):
            self.capture_floor()
        self.record("idle_pss", "floor", [self.floor_idle_pss() for _ in range(self.a.runs)], "MiB", groups=1)

        # One group at a time, measured alone.
        one = []
        detail1 = None
        for i in range(self.a.runs):
            name = f"mem1-{i}"
            self.create_groups([name], self.spec_idle)
            self.settle()
            pss, detail1 = self.measure_groups([name])
            one += pss
            self.delete_groups([name])
        self.record("idle_pss", "capsid", one, "MiB", groups=1, **detail1)

        # Then N groups side by side, grown in batches.
        alive = []
        avail0 = L.meminfo_kib("MemAvailable")
        for level in self.a.levels[1:]:
            while len(alive) < level:
                batch = [f"mem-{j}" for j in range(len(alive), min(level, len(alive) + self.a.batch))]
                self.create_groups(batch, self.spec_idle)
                alive += batch
            self.settle()
            pss, detail = self.measure_groups(alive)
            avail = L.meminfo_kib("MemAvailable")
            self.record("idle_pss", "capsid", pss, "MiB", groups=level,
                        memAvailableDropPerGroupMiB=round((avail0 - avail) / 1024 / level, 1), **detail)
            self.log(f"memory: {level} groups, median PSS {L.stats(pss)['median']:.1f} MiB per group")
        self.delete_groups(alive)

    def phase_rate(self):
        self.mark_load("rate")
        b = self.a.batch
        rates = {"capsid": [], "runc": [], "runsc": []}
        for r in range(self.a.runs):
            names = [f"rate{r}-{j}" for j in range(b)]
            when = self.create_groups(names, self.spec_idle)
            rates["capsid"].append(b / max(when.values()))
            self.delete_groups(names)
            for kind in ("runc", "runsc"):
                ids = [f"rate-{kind}-{r}-{j:03d}" for j in range(b)]  # runsc takes ids as prefixes: pad
                t0 = time.monotonic()
                with cf.ThreadPoolExecutor(max_workers=b) as ex:
                    list(ex.map(lambda c, kind=kind: self.start_detached(kind, c, self.bundle_idle), ids))
                rates[kind].append(b / (time.monotonic() - t0))
                with cf.ThreadPoolExecutor(max_workers=8) as ex:
                    list(ex.map(lambda c, kind=kind: self.remove_container(kind, c), ids))
            self.log(f"rate run {r + 1}/{self.a.runs}: " + ", ".join(f"{k} {v[-1]:.2f}/s" for k, v in rates.items()))
        for k, v in rates.items():
            self.record("create_rate", k, v, "groups/s", concurrency=b)

    def phase_warm(self):
        """Warm start, two ways, each the cold phase's `capsid run --rm` with
        CAPSID_WARM_START=1 (VM templating):
        - "capsid (restore)": the group's VM is restored from the template;
        - "capsid": with CAPSID_WARM_STANDBY=1 too, the group takes the
          ready clone of its machine (a clone restored ahead of time). Each
          run waits until the next ready clone is up (its time is reported
          as standbyReadySeconds), so the row is the start a group gets when
          a clone is ready.
        The first run builds the template and is reported on its own."""
        self.mark_load("warm")
        for system, standby in (("capsid (restore)", "0"), ("capsid", "1")):
            env = dict(self.env, CAPSID_WARM_START="1", CAPSID_WARM_STANDBY=standby)
            samples, ready, build = [], [], None
            for i in range(self.a.runs + 1):
                t0 = time.monotonic()
                if standby == "1" and i > 0:
                    self.wait_standby(env)
                    ready.append(time.monotonic() - t0)
                t1, _, rc, _ = L.time_to_line(
                    [self.capsid_bin, "run", "--rm", "-f", self.spec_for(self.spec_echo, f"warm{standby}x{i}")],
                    want=READY_WORD, env=env)
                if rc != 0:
                    raise RuntimeError(f"warm start run {i} ({system}): exit {rc}")
                if i == 0:
                    build = t1
                else:
                    samples.append(t1)
                self.log(f"warm run {i}/{self.a.runs} ({system}): {t1:.3f}s" + (" (first run)" if i == 0 else ""))
            extra = {"firstRunSeconds": build}
            if ready:
                extra["standbyReadySeconds"] = ready
            self.record("warm_start", system, samples, "s", **extra)
            self.capsid("standby", "stop", check=False, timeout=60, env=env)

    def phase_scale(self):
        scale.phase_scale(self)

    def wait_standby(self, env, want=1, timeout=60, poll=0.05):
        """Until `capsid standby list` shows want ready clones (polled
        every poll seconds: the warm phase times the first one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.capsid("standby", "list", check=False, env=env)
            if r.stdout.count(b" ready") >= want:
                return
            time.sleep(poll)
        raise RuntimeError(f"fewer than {want} ready clones within {timeout} s")

    # --- cleanup -------------------------------------------------------------------
    def cleanup(self):
        try:
            r = self.capsid("list", "-q", check=False, timeout=60)
            self.delete_groups(r.stdout.decode().split())
        except Exception as e:  # noqa: BLE001 - keep cleaning whatever failed
            self.log(f"cleanup: capsid delete: {e}")
        for cid in list(self.runc_ids):
            self.remove_container("runc", cid)
        for cid in list(self.runsc_ids):
            self.remove_container("runsc", cid)
        # Last resort, only for processes of this run: they name its
        # temporary root in their argv, or carry it as CAPSID_ROOT.
        mine = f"CAPSID_ROOT={self.root}"
        left = [p for p in L.pids_matching(lambda argv: any(self.root + "/" in a for a in argv))]
        left += [int(d) for d in os.listdir("/proc") if d.isdigit() and L.proc_environ_has(int(d), mine)]
        killed = []
        for pid in sorted(set(left) - {os.getpid()}):
            argv = L.proc_cmdline(pid)
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(f"{pid}:{os.path.basename(argv[0]) if argv else '?'}")
            except ProcessLookupError:
                pass
        if killed:
            self.log(f"cleanup: killed leftover processes {killed}")
            self.notes.append(f"cleanup killed leftovers: {killed}")
        shutil.rmtree(self.root, ignore_errors=True)


# --- the table ---------------------------------------------------------------------
def ratio(a, b):
    return a / b if a is not None and b else None


def build_ratios(h):
    """Every capsid figure against the baselines of the same run."""
    out = []
    pairs = {
        "cold_start": ["runc", "runsc", "floor"],
        "exec_true": ["runc", "runsc"],
        "create_rate": ["runc", "runsc"],
    }
    for metric, bases in pairs.items():
        c = h.find(metric, "capsid")
        for b in bases:
            base = h.find(metric, b)
            if c and base:
                out.append({"metric": metric, "of": "capsid", "to": b, "ratio": ratio(c["median"], base["median"])})
    for of in ("capsid", "capsid (restore)"):
        warm = h.find("warm_start", of)
        for b in ("capsid", "runc", "runsc"):
            base = h.find("cold_start", b)
            if warm and base:
                out.append({"metric": "warm_start", "of": of, "to": f"{b} cold",
                            "ratio": ratio(warm["median"], base["median"])})
    runsc = h.find("burst_rate", "runsc")
    for r in h.results:
        if r["metric"] == "burst_rate" and r["system"] != "runsc" and runsc:
            out.append({"metric": "burst_rate", "of": r["system"], "to": "runsc",
                        "ratio": ratio(r["median"], runsc["median"])})
    for base in ("runsc", "floor"):
        b = h.find("idle_pss", base)
        for r in h.results:
            if r["metric"] == "idle_pss" and r["system"] == "capsid" and b:
                out.append({"metric": "idle_pss", "of": f"capsid@{r['groups']}", "to": base,
                            "ratio": ratio(r["median"], b["median"])})
    return out


def fmt(x, unit):
    if x is None:
        return "-"
    if unit == "s":
        return f"{x:.3f}"
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def print_table(h, ratios, out=sys.stdout):
    names = {"cold_start": "cold start to first output", "exec_true": "exec -- true",
             "idle_pss": "idle PSS per group", "create_rate": "create rate (concurrent)",
             "warm_start": "warm start to first output", "idle_pss_warm": "idle PSS, 5 side by side",
             "scale_pss": "idle PSS per group, all", "burst_rate": "burst (concurrent)"}
    print(f"{'metric':28} {'system':17} {'unit':8} {'median':>8} {'min':>8} {'max':>8} {'n':>3}  vs baselines (median ratio)",
          file=out)
    for r in h.results:
        sysname = r["system"]
        if r["metric"] == "idle_pss":
            sysname += f"@{r['groups']}" if r["system"] == "capsid" else ""
        if r["metric"] == "scale_pss":
            sysname += f"@{r['groups']}"
        if r["metric"] in ("create_rate", "burst_rate"):
            sysname += f" x{r['concurrency']}"
        rs = [x for x in ratios if x["metric"] == r["metric"] and x["of"] == (
            f"capsid@{r['groups']}" if r["metric"] == "idle_pss" and r["system"] == "capsid" else r["system"])]
        rtxt = "  ".join(f"{x['ratio']:.2f}x {x['to']}" for x in rs if x["ratio"] is not None)
        print(f"{names.get(r['metric'], r['metric']):28} {sysname:17} {r['unit']:8} {fmt(r['median'], r['unit']):>8} "
              f"{fmt(r['min'], r['unit']):>8} {fmt(r['max'], r['unit']):>8} {r['n']:>3}  {rtxt}", file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build")
    ap.add_argument("--json", default=None)
    ap.add_argument("--floor-initrd", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--phases", default="cold,warm,exec,memory,rate")
    ap.add_argument("--label", default="default")
    ap.add_argument("--mem-gb", type=float, default=0.125)
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--scale-levels", default="10,100,300")
    ap.add_argument("--scale-mem-gb", type=float, default=0.5)
    ap.add_argument("--scale-sample", type=int, default=10)
    ap.add_argument("--scale-parts", default="density,burst")
    ap.add_argument("--scale-cold", action="store_true")
    ap.add_argument("--scale-ksm", action="store_true")
    ap.add_argument("--scale-timeout", type=float, default=1800)
    ap.add_argument("--scale-ksm-pages", type=int, default=1000)
    a = ap.parse_args()
    a.scale_levels = [int(x) for x in a.scale_levels.split(",")]
    a.runs = a.runs or (3 if a.quick else 5)
    a.levels = [1, 5] if a.quick else [1, 10, 50]
    a.batch = 5 if a.quick else 20
    a.json = a.json or os.path.join(a.build, "bench.json")
    phases = a.phases.split(",")

    # Interrupted (Ctrl-C, or run.sh's trap sends SIGTERM): unwind through
    # the finally below, which deletes every group and container made.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    h = Harness(a)
    started = time.monotonic()
    doc = {"label": a.label, "machine": L.machine_info(), "command": " ".join(sys.argv), "quick": a.quick}
    try:
        # How busy the machine was before we started (others share it).
        doc["backgroundCpuBusy"] = L.other_cpu_share(3.0)
        doc["loadavgAtStart"] = L.loadavg()
        h.setup()
        for p in phases:
            h.log(f"phase {p}")
            getattr(h, "phase_" + p)()
    finally:
        h.cleanup()
    doc["loadavgAtEnd"] = L.loadavg()
    doc["seconds"] = round(time.monotonic() - started, 1)
    doc["config"] = {
        "guestDir": h.guest_dir,
        "memoryRequestGB": a.mem_gb,
        "memoryOverheadMiB": h.overhead_mib,
        "tbSizeMiB": h.tb_mib,
        "runtime": os.environ.get("CAPSID_RUNTIME") or "crun",
        "runs": a.runs,
        "groupLevels": a.levels,
        "concurrency": a.batch,
    }
    doc["phaseLoad"] = h.load
    doc["results"] = h.results
    doc["ratios"] = build_ratios(h)
    doc["notes"] = h.notes
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    L.dump_json(a.json, doc)
    m = doc["machine"]
    print(f"capsid bench [{a.label}] {m['date']}  {m['cpus']} CPUs {m['cpu']}, {m['memTotalMiB']} MiB, accel {m['accel']}")
    print(f"background CPU busy before start: {doc['backgroundCpuBusy'] * 100:.0f}%, "
          f"loadavg start {doc['loadavgAtStart'][0]:.2f} end {doc['loadavgAtEnd'][0]:.2f}, took {doc['seconds']:.0f} s")
    print_table(h, doc["ratios"])
    print(f"JSON: {a.json}")


if __name__ == "__main__":
    main()
