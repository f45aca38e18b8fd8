"""Bench output: a terminal table (rich), bench.json, bench.csv, bench.md and plots, written atomically.

    write_report(report, Path("runs/ants/bench"))      # bench.json/.csv/.md + latency plots
    console.print(render_table(report))
    load_report("runs/ants/bench/bench.json")          # -> BenchReport (e.g. for the run report)

The table and the Markdown share one cell formatter, so they never disagree.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from edgetl._io import atomic_write_json, atomic_write_text
from edgetl.bench.results import BenchReport, BenchRow
from edgetl.metrics import percent

HEADERS = [
    "variant",
    "precision",
    "provider",
    "batch",
    "threads",
    "status",
    "size MB",
    "accuracy",
    "agreement",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "images/s",
    "spread",
    "speedup vs PyTorch",
]
CSV_FIELDS = [
    "variant",
    "kind",
    "precision",
    "provider",
    "batch",
    "threads",
    "status",
    "providers_used",
    "size_mb",
    "load_s",
    "rss_mb",
    "accuracy",
    "agreement",
    "n_eval",
    "runs",
    "min_ms",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "mean_ms",
    "std_ms",
    "images_per_s",
    "spread",
    "speedup_vs_torch",
    "round_p50_ms",
    "timing",
    "file",
]


def _f(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def table_cells(row: BenchRow) -> list[str]:
    return [
        row.variant,
        row.precision,
        row.provider,
        "-" if row.batch is None else str(row.batch),
        "-" if row.threads is None else str(row.threads),
        row.status,
        _f(row.size_mb, ".2f"),
        percent(row.accuracy),
        percent(row.agreement),
        _f(row.p50_ms, ".3f"),
        _f(row.p90_ms, ".3f"),
        _f(row.p99_ms, ".3f"),
        _f(row.images_per_s, ".1f"),
        "-" if row.spread is None else f"{100 * row.spread:.1f}%",
        "-" if row.speedup_vs_torch is None else f"{row.speedup_vs_torch:.2f}x",
    ]


def render_table(report: BenchReport) -> Any:
    """A rich Table of all rows (skipped/failed rows dimmed/red)."""
    from rich.table import Table

    env = report.env
    cpu = env.get("cpu", {})
    threads = env.get("threads", "?")
    threads = ",".join(map(str, threads)) if isinstance(threads, list) else threads
    title = f"edgetl bench: {cpu.get('model', '?')}, {threads} thread(s)"
    table = Table(title=title, show_lines=False)
    for h in HEADERS:
        left = h in ("variant", "precision", "provider", "status")
        table.add_column(h, justify="left" if left else "right", overflow="fold", no_wrap=h == "variant")
    for row in report.rows:
        style = None if row.ok else ("dim" if row.status.startswith("skipped") else "red")
        table.add_row(*table_cells(row), style=style)
    return table


def _threads(c: dict[str, Any]) -> str:
    return f", {c['threads']} threads" if c.get("threads") else ""


def summary_lines(report: BenchReport) -> list[str]:
    """Comparisons, warnings and notes as plain lines (terminal and Markdown)."""
    from edgetl.bench.recommend import recommendation_lines

    lines = [
        c["verdict"] + f" ({c['provider']}, batch {c['batch']}{_threads(c)})" for c in report.comparisons
    ]
    lines += recommendation_lines(report.recommendation)
    lines += [f"warning: {w}" for w in report.warnings]
    return lines


def preprocess_line(report: BenchReport, decode: str = "decode", detail: bool = False) -> str | None:
    """What preprocessing (and decoding) costs per image, apart from the latencies; None: not measured."""
    pc = report.preprocess or {}
    if pc.get("preprocess_ms_per_image") is None:
        return None
    line = f"preprocessing (not in the latencies): {pc['preprocess_ms_per_image']:.3f} ms/image"
    if pc.get("decode_ms_per_image") is not None:
        line += f", {decode} {pc['decode_ms_per_image']:.3f} ms/image"
    if detail:
        line += f" ({pc.get('preprocess')}); timing inputs: {pc.get('pool_source')}"
    return line


def to_markdown(report: BenchReport) -> str:
    env = report.env
    cpu = env.get("cpu", {})
    flags = ", ".join(k for k, v in cpu.get("flags", {}).items() if v) or "none found"
    vers = env.get("versions", {})
    out = io.StringIO()
    out.write("# edgetl bench\n\n")
    out.write(
        f"- CPU: {cpu.get('model', '?')} ({cpu.get('usable_cores', '?')} usable cores; flags: {flags})\n"
        f"- GPU: {(env.get('gpu') or {}).get('name', 'none')}\n"
        f"- threads: {env.get('threads')}; OS: {env.get('os')}; Python {env.get('python')}\n"
        f"- versions: " + ", ".join(f"{k} {v}" for k, v in vers.items() if v) + "\n"
        f"- created: {report.created}; took {report.seconds:.1f} s; peak RSS {_f(report.peak_rss_mb, '.0f')} MB\n"
    )
    if report.data:
        out.write(f"- accuracy on: {report.data['source']} ({report.data['images']} images)\n")
    pre = preprocess_line(report, detail=True)
    if pre:
        out.write(f"- {pre}\n")
    out.write("\n| " + " | ".join(HEADERS) + " |\n|" + "---|" * len(HEADERS) + "\n")
    for row in report.rows:
        out.write("| " + " | ".join(c.replace("|", "/") for c in table_cells(row)) + " |\n")
    lines = summary_lines(report)
    if lines:
        out.write("\n## Comparisons and warnings\n\n" + "".join(f"- {line}\n" for line in lines))
    if report.notes:
        out.write("\n## What the numbers cover\n\n" + "".join(f"- {n}\n" for n in report.notes))
    used = sorted({f"{r.provider}: {', '.join(r.providers_used)}" for r in report.rows if r.providers_used})
    if used:
        out.write("- providers actually used: " + "; ".join(used) + "\n")
    return out.getvalue()


def to_csv(report: BenchReport) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for row in report.rows:
        d = {k: getattr(row, k) for k in CSV_FIELDS}
        d["providers_used"] = ";".join(row.providers_used)
        d["round_p50_ms"] = ";".join(f"{x:.4f}" for x in row.round_p50_ms)
        w.writerow(d)
    return buf.getvalue()


OUTPUT_NAMES = ("bench.json", "bench.csv", "bench.md", "latency_vs_accuracy.png", "latency_by_batch.png")


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write_report(report: BenchReport, out_dir: Path, plots: bool = True) -> dict[str, str]:
    """bench.json, bench.csv, bench.md (+ latency_vs_accuracy.png, latency_by_batch.png) in `out_dir`."""
    out_dir = Path(out_dir)
    files = {"json": out_dir / "bench.json", "csv": out_dir / "bench.csv", "markdown": out_dir / "bench.md"}
    if plots and not _has_matplotlib():  # the runtime-only install has no matplotlib
        plots = False
        report.notes.append(
            "plots not drawn: matplotlib is not installed (runtime-only install); pip install matplotlib"
        )
    if plots:
        from edgetl.bench.plots import plot_latency_by_batch, plot_latency_vs_accuracy

        for key, fn, name in (
            ("plot_latency_vs_accuracy", plot_latency_vs_accuracy, "latency_vs_accuracy.png"),
            ("plot_latency_by_batch", plot_latency_by_batch, "latency_by_batch.png"),
        ):
            if fn(report, out_dir / name):
                files[key] = out_dir / name
    report.files = {k: str(v) for k, v in files.items()}
    atomic_write_text(files["csv"], to_csv(report))
    atomic_write_text(files["markdown"], to_markdown(report))
    atomic_write_json(files["json"], report.to_dict())
    return report.files


def load_report(path: str | Path) -> BenchReport:
    """bench.json (a file, the folder holding it, or a run dir) -> BenchReport, via `edgetl.runfolder`."""
    from edgetl.runfolder import read_bench_report

    return read_bench_report(path)


__all__ = [
    "load_report",
    "preprocess_line",
    "render_table",
    "summary_lines",
    "table_cells",
    "to_csv",
    "to_markdown",
    "write_report",
]
