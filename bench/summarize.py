"""Medians of bench runs: reads the JSON lines of run_matrix.sh (or of the scripts) and prints a Markdown table.

    python bench/summarize.py results/after-pg.jsonl [more.jsonl …]
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from typing import Any


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 1) if present else None


def spread(values: list[float | None]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "–"
    low, high = min(present), max(present)
    return f"{median(present)} ({low:g}–{high:g})" if len(present) > 1 else f"{present[0]:g}"


def rows(path: str) -> list[dict[str, Any]]:
    with open(path) as lines:
        return [json.loads(line) for line in lines if line.startswith("{")]


def summarise(path: str) -> list[str]:
    out = [f"### {path}", "", "| measure | median (min–max) of runs |", "|---|---|"]
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    for row in rows(path):
        groups[(row["bench"], row.get("concurrency"))].append(row)
    for (kind, concurrency), runs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        loads = [r["machine"]["loadavg"][0] for r in runs]
        if kind == "checkout":
            tag = f"checkout c={concurrency}"
            out.append(f"| {tag}: checkouts/s | {spread([r['checkouts_per_s'] for r in runs])} |")
            for name in ("commitSession", "checkout"):
                for p in ("p50", "p99"):
                    out.append(f"| {tag}: {name} {p} ms | {spread([r['latency_ms'][name][p] for r in runs])} |")
            out.append(f"| {tag}: server CPU ms per checkout | "
                       f"{spread([r.get('server_cpu_ms_per_checkout') for r in runs])} |")
            out.append(f"| {tag}: errors (all runs) | {merge([r['errors'] for r in runs])} |")
        elif kind == "directives":
            lat = [r["latency"]["commit_to_done_ms"] for r in runs if r.get("latency")]
            tp = [r["throughput"] for r in runs if r.get("throughput")]
            for p in ("p50", "p99"):
                out.append(f"| directives: commit → done {p} ms | {spread([x[p] for x in lat])} |")
            out.append(f"| directives/s (one worker) | {spread([x['directives_per_s'] for x in tp])} |")
            cpu = spread([x.get('worker_cpu_ms_per_directive') for x in tp])
            out.append(f"| worker CPU ms per directive | {cpu} |")
            out.append(f"| directives not done (all runs) | "
                       f"{merge([{k: v for k, v in x['statuses'].items() if k != 'done'} for x in tp])} |")
        elif kind == "stream":
            levels: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for r in runs:
                for level in r["levels"]:
                    levels[level["subscribers"]].append(level)
            for n, items in sorted(levels.items()):
                for p in ("p50", "p99"):
                    out.append(f"| stream N={n}: commit → receipt {p} ms | "
                               f"{spread([x['latency_ms'][p] for x in items])} |")
                out.append(f"| stream N={n}: server CPU ms per event | "
                           f"{spread([x.get('server_cpu_ms_per_event') for x in items])} |")
                if n >= 100:
                    out.append(f"| stream N={n}: server KiB per subscription | "
                               f"{spread([x.get('server_kib_per_subscription') for x in items])} |")
                out.append(f"| stream N={n}: messages lost / errors | "
                           f"{sum(x['lost'] for x in items)} / {merge([x['errors'] for x in items])} |")
        out.append(f"| ({kind} {concurrency or ''}) load average 1 min during runs | {spread(loads)} |")
    return out


def merge(counters: list[dict[str, int]]) -> str:
    total: dict[str, int] = defaultdict(int)
    for counter in counters:
        for key, value in counter.items():
            total[key] += value
    return ", ".join(f"{k}: {v}" for k, v in sorted(total.items())) or "none"


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print("\n".join(summarise(name)), end="\n\n")
