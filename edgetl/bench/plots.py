"""Bench plots (matplotlib, Agg backend, written atomically).

    plot_latency_vs_accuracy(report, out / "latency_vs_accuracy.png")   # one point per variant x provider, smallest batch
    plot_latency_by_batch(report, out / "latency_by_batch.png")         # per-image p50 vs batch size

Each returns False (and writes nothing) when the report has nothing to draw.
"""

from __future__ import annotations

from pathlib import Path

from edgetl._io import atomic_write
from edgetl.bench.results import BenchReport


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))


def plot_latency_vs_accuracy(report: BenchReport, path: Path) -> bool:
    rows = [r for r in report.rows if r.ok and r.p50_ms is not None and r.accuracy is not None]
    if not rows:
        return False
    batch = min(r.batch for r in rows)
    rows = [r for r in rows if r.batch == batch]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        for r in rows:
            lo, hi = (min(r.round_p50_ms), max(r.round_p50_ms)) if r.round_p50_ms else (r.p50_ms, r.p50_ms)
            ax.errorbar(
                r.p50_ms,
                100 * r.accuracy,
                xerr=[[r.p50_ms - lo], [hi - r.p50_ms]],
                fmt="o" if r.kind == "onnx" else "s",
                capsize=3,
                label=f"{r.variant} ({r.provider})",
            )
        ax.set_xscale("log")
        ax.set_xlabel(f"p50 latency, ms per batch of {batch}, log scale (bars: per-round p50 range)")
        ax.set_ylabel("top-1 accuracy, %")
        _finish(fig, ax, "Latency vs accuracy", path)
    finally:
        plt.close(fig)
    return True


def _finish(fig, ax, title: str, path: Path) -> None:
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    _save(fig, path)


def plot_latency_by_batch(report: BenchReport, path: Path) -> bool:
    rows = [r for r in report.rows if r.ok and r.p50_ms is not None and r.batch]
    if not rows:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        for key in sorted({(r.variant, r.provider) for r in rows}):
            pts = sorted((r.batch, r.p50_ms / r.batch) for r in rows if (r.variant, r.provider) == key)
            ax.plot([b for b, _ in pts], [m for _, m in pts], marker="o", label=f"{key[0]} ({key[1]})")
        batches = sorted({r.batch for r in rows})
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.minorticks_off()
        ax.set_xlabel("batch size")
        ax.set_ylabel("p50 latency per image, ms")
        _finish(fig, ax, "Latency by batch size", path)
    finally:
        plt.close(fig)
    return True


__all__ = ["plot_latency_by_batch", "plot_latency_vs_accuracy"]
