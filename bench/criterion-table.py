#!/usr/bin/env python3
"""Print criterion results as Markdown tables with ratios, for docs/performance.md.

Usage: bench/criterion-table.py [TARGET_DIR/criterion] [GROUP_PREFIX ...]

Reads each benchmark's new/estimates.json (median) and new/benchmark.json; for every
group prints one row per contender with throughput and its ratio to the best contender
whose name does not start with "vpclab" (the baseline measured in the same run).
"""
import json
import os
import sys


def load(root):
    groups = {}
    for dirpath, _dirs, files in os.walk(root):
        if "benchmark.json" not in files or not dirpath.endswith("/new"):
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            meta = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        median_ns = est["median"]["point_estimate"]
        elements = (meta.get("throughput") or {}).get("Elements")
        group = meta["group_id"]
        name = meta["function_id"] or ""
        if meta.get("value_str"):
            group = f"{group}/{meta['value_str']}"
        groups.setdefault(group, []).append((name, median_ns, elements))
    return groups


def fmt_rate(per_s):
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if per_s >= div:
            return f"{per_s / div:.1f} {unit}/s"
    return f"{per_s:.1f} /s"


def fmt_time(ns):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= div:
            return f"{ns / div:.2f} {unit}"
    return f"{ns:.1f} ns"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
    prefixes = sys.argv[2:]
    groups = load(root)
    for group in sorted(groups, key=lambda g: [int(p) if p.isdigit() else p for p in g.split("/")]):
        if prefixes and not any(group.startswith(p) for p in prefixes):
            continue
        rows = sorted(groups[group], key=lambda r: r[1])
        others = [r for r in rows if not r[0].startswith("vpclab")]
        best_other = min((r[1] for r in others), default=None)
        print(f"\n**{group}**\n")
        print("| contender | median time / iter | throughput | per element | vs best other |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, ns, elements in rows:
            rate = fmt_rate(elements / ns * 1e9) if elements else "-"
            per = fmt_time(ns / elements) if elements else "-"
            ratio = f"{best_other / ns:.2f}×" if best_other else "-"
            print(f"| {name} | {fmt_time(ns)} | {rate} | {per} | {ratio} |")


if __name__ == "__main__":
    main()
