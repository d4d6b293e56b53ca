"""The scale phase of the capsid benchmark (`tests/bench/run.sh --scale`):
how many idle groups one machine holds, and how fast a burst of creates
comes up. Python 3 standard library only; driven by bench.py's Harness.

Density: idle single-container groups (1 CPU, --scale-mem-gb, default 0.5
GB) created --batch at a time, with warm start (CAPSID_WARM_START=1) unless
--scale-cold, until each level of --scale-levels (default 10,100,300) runs.
At each level, after --settle seconds:
  - PSS per group: the PSS of every process of the state root (QEMU, the
    monitors, the DNS responder, ready clones: every process whose argv or
    environment names the root) divided by the number of groups;
  - their CPU over 10 s of idling, per group, in % of one core;
  - MemAvailable's drop per group since before the first group;
  - `capsid exec NAME -- true` into --scale-sample groups spread over the
    whole set, one after another: each must exit 0, or the phase fails.
A batch that does not reach Running within --scale-timeout (default 1800 s)
ends the growth: what runs then is measured as the last level, recorded
with `incomplete` (the level asked for and how many ran).

With --scale-ksm the groups get CAPSID_KSM=1 and the host's KSM runs for
the phase (--scale-ksm-pages pages every 20 ms; its settings are put back
after): each level is measured after three full scans, with ksmd's CPU.

Burst: --batch concurrent `capsid create`s until every container runs, per
run: cold; warm start from the template (restore); warm start from a pool
of ready clones (CAPSID_WARM_STANDBY_POOL=--batch, the pool full before the
burst); and runsc starting as many sandboxes at once, in the same run.
"""

import concurrent.futures as cf
import os
import time

import bench_lib as L


def root_pids(root):
    """Every process that belongs to the state root."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        argv = L.proc_cmdline(pid) or []
        if any(root in a for a in argv) or L.proc_environ_has(pid, "CAPSID_ROOT=" + root):
            found.append(pid)
    return found


def cpu_seconds(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def idle_cpu_pct(pids, seconds=10.0):
    c0, t0 = cpu_seconds(pids), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pids) - c0) / (time.monotonic() - t0) * 100


def exec_sample(h, names, n, env):
    """`exec -- true` into n groups spread over names; every one must answer."""
    step = max(1, len(names) // n)
    times = []
    for name in names[::step][:n]:
        t0 = time.monotonic()
        r = h.capsid("exec", name, "--", "true", check=False, timeout=300, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"scale: exec into {name} with {len(names)} groups running: exit {r.returncode}: "
                               f"{r.stderr.decode()[-400:]}")
        times.append(time.monotonic() - t0)
    return times


KSM = "/sys/kernel/mm/ksm/"


def ksm_read(name):
    with open(KSM + name) as f:
        return int(f.read())


def ksm_write(name, value):
    with open(KSM + name, "w") as f:
        f.write(str(value))


class Ksm:
    """The host's KSM on for a phase, its settings put back afterwards."""

    def __init__(self, pages):
        self.pages = pages

    def __enter__(self):
        self.saved = {k: ksm_read(k) for k in ("run", "pages_to_scan", "sleep_millisecs")}
        ksm_write("pages_to_scan", self.pages)
        ksm_write("sleep_millisecs", 20)
        ksm_write("run", 1)
        return self

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            ksm_write(k, v)

    def settle(self, scans=3, timeout=1800):
        """Until KSM has been over all mergeable memory `scans` times."""
        want, deadline = ksm_read("full_scans") + scans, time.monotonic() + timeout
        while ksm_read("full_scans") < want:
            if time.monotonic() > deadline:
                raise RuntimeError(f"scale: KSM did not finish {scans} scans within {timeout} s")
            time.sleep(1)

    @staticmethod
    def pids():
        return [int(d) for d in os.listdir("/proc") if d.isdigit() and _comm(d) == "ksmd"]


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def density(h):
    a = h.a
    if a.scale_ksm:
        with Ksm(a.scale_ksm_pages) as ksm:
            density_levels(h, ksm)
    else:
        density_levels(h, None)


def density_levels(h, ksm):
    a = h.a
    cold = a.scale_cold
    env = dict(h.env) if cold else dict(h.env, CAPSID_WARM_START="1")
    if ksm:
        env["CAPSID_KSM"] = "1"
    system = ("capsid (cold" if cold else "capsid (warm") + (", KSM)" if ksm else ")")
    h.mark_load("scale-density")
    alive = []
    avail0 = L.meminfo_kib("MemAvailable")
    t_all = time.monotonic()
    try:
        for level in a.scale_levels:
            incomplete = None
            while len(alive) < level and not incomplete:
                batch = [f"d-{j}" for j in range(len(alive), min(level, len(alive) + a.batch))]
                alive += batch
                try:
                    h.create_groups(batch, h.spec_scale, env=env, timeout=a.scale_timeout)
                except RuntimeError as e:
                    running = [n for n in batch if h.container_running(n)]
                    alive = alive[:-len(batch)] + running
                    incomplete = {"asked": level, "running": len(alive), "error": str(e)[-300:]}
                    h.log(f"scale: stopped growing at {len(alive)} groups: {e}")
            level = len(alive)
            created = time.monotonic() - t_all
            h.settle()
            extra = {}
            if ksm:
                ksm.settle()
                kp = Ksm.pids()
                extra = {"ksmdCpuPct": round(idle_cpu_pct(kp), 1), "ksmPagesSharing": ksm_read("pages_sharing"),
                         "ksmPagesToScan": a.scale_ksm_pages}
            pids = root_pids(h.root)
            pss = sum((L.smaps_rollup(p) or {}).get("Pss", 0) for p in pids) / 1024
            cpu = idle_cpu_pct(pids)
            execs = exec_sample(h, alive, a.scale_sample, env)
            avail = L.meminfo_kib("MemAvailable")
            h.record("scale_pss", system, [pss / level], "MiB", groups=level, processes=len(pids),
                     totalPssMiB=round(pss, 1), idleCpuPctPerGroup=round(cpu / level, 3),
                     idleCpuPctTotal=round(cpu, 1), memAvailableDropPerGroupMiB=round((avail0 - avail) / 1024 / level, 1),
                     execSeconds=L.stats(execs), execAnswered=f"{len(execs)}/{len(execs)}",
                     secondsToCreateAll=round(created, 1), loadavg=L.loadavg(), incomplete=incomplete, **extra)
            h.log(f"scale: {level} groups, {pss / level:.1f} MiB PSS per group ({len(pids)} processes), "
                  f"idle CPU {cpu:.0f}% of a core in all, exec median {L.stats(execs)['median']:.2f}s")
            if incomplete:
                break
    finally:
        h.delete_groups(alive)
        h.capsid("standby", "stop", check=False, timeout=120, env=env)


def wait_pool(h, env, want):
    """Until the pool holds want ready clones."""
    h.wait_standby(env, want=want, timeout=600, poll=0.5)


def burst(h):
    a = h.a
    b = a.batch
    h.mark_load("scale-burst")
    modes = {
        "capsid (cold)": dict(h.env),
        "capsid (warm, restore)": dict(h.env, CAPSID_WARM_START="1"),
        "capsid (warm, ready clones)": dict(h.env, CAPSID_WARM_START="1", CAPSID_WARM_STANDBY="1",
                                             CAPSID_WARM_STANDBY_POOL=str(b)),
    }
    rates = {k: [] for k in (*modes, "runsc")}
    # The template, and for the pool its first clones, before any timing.
    h.create_groups(["burst-prime"], h.spec_scale, env=modes["capsid (warm, ready clones)"])
    h.delete_groups(["burst-prime"])
    wait_pool(h, modes["capsid (warm, ready clones)"], b)
    for r in range(a.runs):
        for system, env in modes.items():
            if "ready clones" in system:
                wait_pool(h, env, b)
            names = [f"b{r}-{system.split()[1][1:4]}-{j}" for j in range(b)]
            when = h.create_groups(names, h.spec_scale, env=env)
            rates[system].append(b / max(when.values()))
            h.delete_groups(names)
        # The pool refills after its burst: let it finish (idle clones cost
        # no CPU to speak of) so that runsc's burst has the machine to itself.
        wait_pool(h, modes["capsid (warm, ready clones)"], b)
        ids = [f"burst-runsc-{r}-{j:03d}" for j in range(b)]
        t0 = time.monotonic()
        with cf.ThreadPoolExecutor(max_workers=b) as ex:
            list(ex.map(lambda c: h.start_detached("runsc", c, h.bundle_idle), ids))
        rates["runsc"].append(b / (time.monotonic() - t0))
        with cf.ThreadPoolExecutor(max_workers=8) as ex:
            list(ex.map(lambda c: h.remove_container("runsc", c), ids))
        h.log(f"scale burst {r + 1}/{a.runs}: " + ", ".join(f"{k} {v[-1]:.2f}/s" for k, v in rates.items()))
    h.capsid("standby", "stop", check=False, timeout=120, env=modes["capsid (warm, ready clones)"])
    for k, v in rates.items():
        h.record("burst_rate", k, v, "groups/s", concurrency=b, loadavg=L.loadavg())


def phase_scale(h):
    h.spec_scale = h.write_spec("scale", h.idle_cmd, "Never", mem_gb=h.a.scale_mem_gb)
    if "density" in h.a.scale_parts:
        density(h)
    if "burst" in h.a.scale_parts:
        burst(h)
