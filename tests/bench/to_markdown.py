#!/usr/bin/env python3
"""Render a bench JSON (run.sh) or levers JSON (levers.sh) as the Markdown
tables BENCHMARKS.md carries: `to_markdown.py FILE.json`."""

import json
import sys

NAMES = {"cold_start": "cold start to first output", "exec_true": "exec -- true",
         "idle_pss": "idle PSS per group (QEMU + monitor)", "create_rate": "create rate, 20 at a time",
         "warm_start": "warm start to first output", "idle_pss_warm": "idle PSS, 5 side by side"}


def fmt(x, unit):
    if x is None:
        return "-"
    return f"{x:.3f}" if unit == "s" else (f"{x:.1f}" if x >= 10 else f"{x:.2f}")


def bench(d):
    m = d["machine"]
    print(f"Run {m['date']}, label \"{d['label']}\", {d['seconds']:.0f} s; machine busy "
          f"{d['backgroundCpuBusy'] * 100:.0f}% before start, loadavg {d['loadavgAtStart'][0]:.2f} at start.\n")
    print("| metric | system | median | min | max | n | median vs baselines |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in d["results"]:
        system = r["system"]
        if r["metric"] == "idle_pss" and system == "capsid":
            system += f", {r['groups']} group{'s' if r['groups'] > 1 else ''}"
        elif r["metric"] == "idle_pss" and system == "floor":
            system = "VM floor, idle (QEMU + kernel, init does nothing)"
        of = f"capsid@{r['groups']}" if r["metric"] == "idle_pss" and r["system"] == "capsid" else r["system"]
        rs = [x for x in d["ratios"] if x["metric"] == r["metric"] and x["of"] == of and x["ratio"] is not None]
        rtxt = ", ".join(f"{x['ratio']:.2f}x {x['to']}" for x in rs)
        print(f"| {NAMES.get(r['metric'], r['metric'])} ({r['unit']}) | {system} | {fmt(r['median'], r['unit'])} | "
              f"{fmt(r['min'], r['unit'])} | {fmt(r['max'], r['unit'])} | {r['n']} | {rtxt} |")


def levers(d):
    print(f"Run {d['machine']['date']}; machine busy {d['backgroundCpuBusy'] * 100:.0f}% before start; cold start "
          f"and floor: median of {d['runs']} [min–max]; PSS: median of {d['memRuns']}.\n")
    print("| variant | change | cold start s | VM floor s | agent ready ms | idle PSS MiB (1 group) | QEMU anon MiB |")
    print("|---|---|---|---|---:|---|---:|")
    for v in d["variants"]:
        c, f, p = v["coldStart"], v["floor"], v["idlePssMiB"]
        print(f"| {v['variant']} | {v['change']} | {c['median']:.2f} [{c['min']:.2f}–{c['max']:.2f}] | "
              f"{f['median']:.2f} [{f['min']:.2f}–{f['max']:.2f}] | {v['agentReadyMs']['median'] or 0:.0f} | "
              f"{p['median']:.0f} [{p['min']:.0f}–{p['max']:.0f}] | {v.get('qemuPssAnonMiB') or 0:.0f} |")


if __name__ == "__main__":
    doc = json.load(open(sys.argv[1]))
    levers(doc) if "variants" in doc else bench(doc)
