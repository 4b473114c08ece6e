"""The charts of a ``make bench`` run, drawn from the same measurements as its tables.

``throughput``: records/s of the operator against ``max_concurrency`` at each added latency
(50 and 200 ms), beside the raw sequential loop and the ideal (the loop's rate times the
requests in flight). ``cpu``: client CPU per record of the operator and the raw loop, and
the per-record cost of each stage (``benchmarks/components.py``). PNG files, written with
matplotlib's Agg backend (no display); needs the ``bench`` extra (``make bench`` installs it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

THROUGHPUT = "bench-throughput.png"
CPU = "bench-cpu.png"


def draw(details: dict[str, Any], out_dir: Path, stamp: str) -> list[Path]:
    """Draw every chart the run has data for into ``out_dir``; returns the files written.
    ``stamp`` (date and commit of the run) goes under each title."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    matrices = details.get("concurrency", [])
    if matrices:
        written.append(_throughput(matrices, out_dir / THROUGHPUT, stamp))
    if details.get("cpu") or details.get("components"):
        written.append(
            _cpu(details.get("cpu", {}), details.get("components", {}), out_dir / CPU, stamp)
        )
    return written


def _throughput(matrices: list[Any], path: Path, stamp: str) -> Path:
    import matplotlib.pyplot as plt

    latencies = sorted({m.latency for m in matrices})
    fig, axes = plt.subplots(1, len(latencies), figsize=(5.5 * len(latencies), 4), squeeze=False)
    for ax, latency in zip(axes[0], latencies, strict=True):
        for m in (m for m in matrices if m.latency == latency):
            levels = sorted(m.concurrencies)
            rate = [m.case.expected / m.best(c).seconds for c in levels]
            raw = m.case.expected / m.best("raw").seconds
            (line,) = ax.plot(levels, rate, marker="o", label=f"{m.case.name}: operator")
            ax.axhline(raw, color=line.get_color(), linestyle=":", label=f"{m.case.name}: raw loop")
            ax.plot(
                levels,
                [raw * c for c in levels],
                color=line.get_color(),
                linestyle="--",
                alpha=0.4,
                label=f"{m.case.name}: ideal (raw x c)",
            )
        ax.set_title(f"{latency * 1000:.0f} ms added per request")
        ax.set_xlabel("max_concurrency")
        ax.set_ylabel("records/s")
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Throughput against max_concurrency (best run of each)\n{stamp}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _cpu(
    cpu: dict[str, dict[str, float]], stages: dict[str, float], path: Path, stamp: str
) -> Path:
    import matplotlib.pyplot as plt

    labels, values, colors = [], [], []
    for case, by_kind in cpu.items():
        for kind, micros in by_kind.items():
            labels.append(f"{case}: {'raw loop' if kind == 'raw' else 'operator -> ' + kind}")
            values.append(micros)
            colors.append("tab:gray" if kind == "raw" else "tab:blue")
    for name, micros in stages.items():
        labels.append(f"stage: {name.strip()}")
        values.append(micros)
        colors.append("tab:orange" if not name.startswith(" ") else "navajowhite")
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(labels) + 1.5))
    ax.barh(range(len(values)), values, color=colors)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.1f}", va="center", fontsize=7)
    ax.set_xlabel("µs per record (runs: client CPU; stages: as in the per-record table)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"Client CPU per record, whole run and by stage\n{stamp}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
