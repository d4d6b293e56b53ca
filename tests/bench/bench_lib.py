"""Helpers for the capsid benchmark harness (tests/bench/run.sh): statistics,
process timing, PSS from /proc, machine facts. Python 3 standard library only."""

import ctypes
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time


def stats(samples):
    """Median, min and max of a list of numbers (the harness's only summary)."""
    s = [x for x in samples if x is not None]
    if not s:
        return {"median": None, "min": None, "max": None, "n": 0, "samples": []}
    return {
        "median": statistics.median(s),
        "min": min(s),
        "max": max(s),
        "n": len(s),
        "samples": [round(x, 4) for x in s],
    }


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def meminfo_kib(field):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def smaps_rollup(pid):
    """Pss and friends of one process in KiB, or None if it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                m = re.match(r"^(Rss|Pss|Pss_Anon|Pss_File|Pss_Shmem):\s+(\d+) kB", line)
                if m:
                    out[m.group(1)] = int(m.group(2))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return out or None


def release_mappings(pid, paths):
    """What capsid's monitor does once a guest is up (vmm/reclaim.c): have
    the host reclaim the pages of pid's mappings of these files
    (process_madvise MADV_PAGEOUT). Returns the bytes advised."""
    ids = set()
    for p in paths:
        st = os.stat(p)
        ids.add((st.st_dev, st.st_ino))
    ranges = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            a = line.split()
            major, minor = (int(x, 16) for x in a[3].split(":"))
            if (os.makedev(major, minor), int(a[4])) in ids:
                start, end = (int(x, 16) for x in a[0].split("-"))
                ranges.append((start, end - start))
    if not ranges:
        return 0

    class IoVec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    sys_pidfd_open, sys_process_madvise, madv_pageout = 434, 440, 21  # x86_64
    pidfd = libc.syscall(sys_pidfd_open, ctypes.c_int(pid), ctypes.c_uint(0))
    if pidfd < 0:
        raise OSError(ctypes.get_errno(), f"pidfd_open {pid}")
    try:
        iov = (IoVec * len(ranges))(*[IoVec(a, n) for a, n in ranges])
        r = libc.syscall(sys_process_madvise, ctypes.c_int(pidfd), iov, ctypes.c_size_t(len(ranges)),
                         ctypes.c_int(madv_pageout), ctypes.c_uint(0))
        if r < 0:
            raise OSError(ctypes.get_errno(), f"process_madvise {pid}")
        return r
    finally:
        os.close(pidfd)


def proc_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def proc_environ_has(pid, entry):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return entry.encode() in f.read().split(b"\0")
    except OSError:
        return False


def pids_matching(pred):
    """Pids whose argv satisfies pred(argv)."""
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            argv = proc_cmdline(int(d))
            if argv and pred(argv):
                found.append(int(d))
    return found


def time_to_line(cmd, want=None, env=None, timeout=120, stdin=subprocess.DEVNULL):
    """Run cmd; return (seconds to the first stdout line [containing `want`],
    seconds to exit, exit code, that line). The clock starts right before
    the fork, so it includes the command's own start-up."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin, env=env)
    first = None
    line_text = None
    deadline = t0 + timeout
    try:
        while True:
            line = p.stdout.readline()
            if not line:
                break
            if first is None and (want is None or want.encode() in line):
                first = time.monotonic() - t0
                line_text = line.decode(errors="replace").rstrip()
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(cmd, timeout)
        rc = wait_exit(p, max(1, deadline - time.monotonic()))
    except BaseException:
        p.kill()
        p.wait()
        raise
    t_exit = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    p.stdout.close()
    if first is None:
        raise RuntimeError(f"{' '.join(cmd)}: no output line{' with ' + want if want else ''} (rc {rc}): {err[-800:]}")
    return first, t_exit, rc, line_text


def wait_exit(p, timeout):
    """p's exit code, waited for in a blocking waitpid (Popen.wait(timeout=...)
    polls with sleeps of up to 50 ms, which would round a timing up to its
    next poll); p is killed after timeout seconds."""
    killer = threading.Timer(timeout, p.kill)
    killer.start()
    try:
        return p.wait()
    finally:
        killer.cancel()


def time_cmd(cmd, env=None, timeout=120):
    """Seconds a command takes from fork to exit; raises on failure."""
    # stderr goes to a file, not a pipe: a detached container (runc run -d)
    # inherits it and would hold a pipe open long after the command exits.
    with tempfile.TemporaryFile() as errf:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf, env=env)
        rc = wait_exit(p, timeout)
        t = time.monotonic() - t0
        if rc != 0:
            errf.seek(0)
            why = "timed out" if t >= timeout else f"exit {rc}"
            raise RuntimeError(f"{' '.join(cmd)}: {why}: {errf.read().decode(errors='replace')[-800:]}")
    return t


def tool_version(cmd):
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        return r.stdout.decode(errors="replace").splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return None


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def host_tsc_khz():
    """The value capsid's monitor passes to a TCG guest (vmm_host_tsc_khz)."""
    mhz, constant = 0.0, False
    with open("/proc/cpuinfo") as f:
        for line in f:
            if mhz == 0 and line.startswith("cpu MHz"):
                mhz = float(line.split(":", 1)[1])
            elif line.startswith("flags") and " constant_tsc" in line:
                constant = True
            if mhz and constant:
                break
    if not constant or mhz < 100 or mhz > 100000:
        return 0
    return int(mhz * 1000 + 0.5)


def machine_info():
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "memTotalMiB": meminfo_kib("MemTotal") // 1024,
        "hostKernel": platform.release(),
        "qemu": tool_version(["qemu-system-x86_64", "--version"]),
        "runc": tool_version(["runc", "--version"]),
        "crun": tool_version(["crun", "--version"]),
        "runsc": tool_version(["runsc", "--version"]),
        "accel": "tcg" if not re.search(r"\b(vmx|svm)\b", open("/proc/cpuinfo").read()) else "kvm-capable",
    }


def other_cpu_share(seconds=2.0):
    """Fraction of the machine's CPU time spent busy over `seconds` (all
    processes, ours included): how loaded the host was."""

    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]
        return sum(v), idle

    a_total, a_idle = snap()
    time.sleep(seconds)
    b_total, b_idle = snap()
    dt = b_total - a_total
    return round(1.0 - (b_idle - a_idle) / dt, 3) if dt else None


def with_descendants(pids):
    """pids plus every process below them."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = set(), list(pids)
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo += children.get(p, [])
    return sorted(out)


def which(name):
    return shutil.which(name)


def dump_json(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
