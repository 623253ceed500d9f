"""Turn result rows into ratios, a markdown table, JSON and PNG plots."""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

Row = dict[str, Any]

# For each case: the peer a ratio is taken against, and the physical-limit row (case, impl).
PEERS = {
    "init_xavier": ("mxnet 1.9.1", "torch per-tensor"),
    "init_uniform": ("torch flat uniform_", "torch per-tensor"),
    "init_normal": ("torch flat normal_",),
    "zero_grad": ("torch _foreach_zero_", "mxnet 1.9.1", "per-tensor loop"),
    "save": ("mxnet 1.9.1",),
    "load": ("mxnet 1.9.1",),
    "reset_ctx_2": ("mxnet 1.9.1",),
    "step_sgd": ("torch fused", "torch foreach"),
    "step_adam": ("torch fused", "torch foreach"),
}
LIMIT = {"init_xavier": "fill", "init_uniform": "fill", "init_normal": "fill", "zero_grad": "fill"}


def merge_runs(runs: list[list[Row]]) -> list[Row]:
    """One row per (case, set, ctx, impl): the median time over the runs (all kept in
    ``run_seconds``), in the order of the first run."""
    if len(runs) == 1:
        return runs[0]
    merged: dict[tuple[str, str, str, str], Row] = {}
    for rows in runs:
        for row in rows:
            key = (row["case"], row["set"], row["ctx"], row["impl"])
            if key not in merged:
                merged[key] = dict(row, run_seconds=[])
            merged[key]["run_seconds"].append(row["seconds"])
    for row in merged.values():
        row["seconds"] = statistics.median(row["run_seconds"])
        row["GBps"] = row["bytes"] / row["seconds"] / 1e9 if row["seconds"] > 0 else float("inf")
    return list(merged.values())


def add_ratios(rows: list[Row]) -> list[Row]:
    """Annotate mxlite rows with speedups vs each peer and the fraction of the physical limit."""
    index: dict[tuple[str, str, str], Row] = {}
    for row in rows:
        index[(row["case"], row["set"], row["impl"])] = row
    limits = {(r["set"], r["ctx"]): r for r in rows if r["case"] == "fill"}
    for row in rows:
        if row["impl"] != "mxlite":
            continue
        ratios = {}
        for peer in PEERS.get(row["case"], ()):
            other = index.get((row["case"], row["set"], peer))
            if other is not None:
                ratios[peer] = other["seconds"] / row["seconds"]
        row["speedup"] = ratios
        limit = limits.get((row["set"], row["ctx"])) if row["case"] in LIMIT else None
        if limit is not None:
            row["of_limit"] = limit["seconds"] / row["seconds"]
    return rows


def markdown(rows: list[Row], header: str) -> str:
    lines = [
        header,
        "",
        "| case | set | ctx | mxlite | GB/s | vs peers (x faster) | of limit |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row["impl"] != "mxlite":
            continue
        peers = ", ".join(f"{k}: {v:.2f}x" for k, v in row.get("speedup", {}).items()) or "-"
        limit = f"{100 * row['of_limit']:.0f}%" if "of_limit" in row else "-"
        lines.append(
            f"| {row['case']} | {row['set']} ({row['tensors']}) | {row['ctx']} | {_fmt_s(row['seconds'])} "
            f"| {row['GBps']:.1f} | {peers} | {limit} |"
        )
    lines += [
        "",
        "Peers measured in the same run:",
        "",
        "| case | set | ctx | impl | time | GB/s |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row["impl"] == "mxlite":
            continue
        lines.append(
            f"| {row['case']} | {row['set']} | {row['ctx']} | {row['impl']} | {_fmt_s(row['seconds'])} | {row['GBps']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def _fmt_s(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def write_all(rows: list[Row], out: Path, header: str, extra: str = "") -> list[Path]:
    """results.json, results.md (``extra`` appended) and two PNG plots (when matplotlib is
    installed) under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.json", out / "results.md"]
    written[0].write_text(json.dumps(rows, indent=1))
    written[1].write_text(markdown(rows, header) + ("\n" + extra if extra else ""))
    written += plots(rows, out)
    return written


def plots(rows: list[Row], out: Path) -> list[Path]:
    """Throughput against total bytes and against number of tensors, one line per (case, impl);
    none without matplotlib (a minimal image), with a note on stderr."""
    try:
        import matplotlib
    except ImportError:
        print("bench: matplotlib is not installed; no plots written", file=sys.stderr)
        return []

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for row in rows:
        series[(row["case"], row["impl"], row["ctx"])].append(row)
    paths = []
    for xkey, fname, xlabel in (
        ("bytes", "throughput_vs_bytes.png", "total bytes"),
        ("tensors", "throughput_vs_tensors.png", "number of tensors"),
    ):
        fig, ax = plt.subplots(figsize=(9, 6))
        for (case, impl, ctx), pts in sorted(series.items()):
            pts = sorted(pts, key=lambda r: r[xkey])
            ax.plot(
                [p[xkey] for p in pts],
                [p["GBps"] for p in pts],
                marker="o",
                label=f"{case} / {impl} / {ctx}",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("GB/s")
        ax.legend(fontsize=6, ncol=2)
        ax.grid(True, which="both", alpha=0.3)
        path = out / fname
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    return paths
