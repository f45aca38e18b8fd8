"""Report sections about the exported variants: export gates, bench latency/accuracy, plots.

variants_section(run)      # export_report.json table + bench.json table, from `RunData`
fastest(run)               # "m-int8 on cpu: p50 2.00 ms at batch 1, 5.00x PyTorch eager, ..."
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgetl.report.document import Alert, Block, Image, NotRun, Section, Table, Text
from edgetl.report.fmt import fint, fnum, pct, sci
from edgetl.report.load import RunData, stem

if TYPE_CHECKING:
    from edgetl.bench.results import BenchRow
    from edgetl.export.report import VariantReport

EXPORT_HEADERS = ["variant", "precision", "target", "size MB", "val accuracy", "PyTorch accuracy", "agreement",
                  "max abs diff", "nodes kept in float", "seconds", "gate"]  # fmt: skip
BENCH_HEADERS = ["variant", "precision", "target", "provider", "batch", "size MB", "accuracy", "agreement",
                 "p50 ms", "p99 ms", "images/s", "speedup vs PyTorch", "status"]  # fmt: skip
GATE = {True: "passed", False: "FAILED", None: "not verified"}


def _export_row(v: VariantReport, default_target: str) -> list[str]:
    return [stem(v.file) or "(not written)", v.precision, v.target or default_target, fnum(v.size_mb, 2),
            pct(v.val_accuracy), pct(v.torch_accuracy), pct(v.agreement), sci(v.max_abs_diff),
            fint(len(v.nodes_in_float)), fnum(v.export_seconds, 1), GATE.get(v.passed, str(v.passed))]  # fmt: skip


def _variant_notes(v: VariantReport) -> list[Block]:
    name = stem(v.file) or v.precision
    blocks: list[Block] = [Text(f"{name}: {v.scheme}.")] if v.scheme else []
    if v.nodes_in_float:
        kept = ", ".join(map(str, v.nodes_in_float))
        blocks.append(Text(f"{name}: kept in float for the accuracy budget: {kept}."))
    blocks += [Alert(f"{name}: {f}") for f in v.failures]
    blocks += [Text(f"{name}: {n}") for n in v.notes]
    return blocks


def export_blocks(run: RunData) -> list[Block]:
    """The export report (export/export_report.json, written by `edgetl export`) as a table."""
    rep = run.export
    if rep is None:
        return [NotRun(f"no export ({run.why('export')})", f"edgetl export {run.folder.root}")]
    intro = (
        f"Exported with the {rep.exporter or '?'} exporter, opset {rep.opset}; parity and accuracy on "
        f"{fint(rep.n_val_images)} validation images, INT8 calibrated on {fint(rep.n_calib_images)} training "
        f"images ({rep.calib_method or '?'})."
    )
    rows = [_export_row(v, rep.target) for v in rep.variants]
    caption = "Exported ONNX variants (export/export_report.json)"
    blocks: list[Block] = [Text(intro), Table(EXPORT_HEADERS, rows, caption=caption, id="table-export")]
    for v in rep.variants:
        blocks += _variant_notes(v)
    return blocks


def _bench_row(r: BenchRow, targets: dict[str, str]) -> list[str]:
    speed = "–" if r.speedup_vs_torch is None else f"{r.speedup_vs_torch:.2f}x"
    return [r.variant, r.precision, targets.get(r.variant, "–"), r.provider, fint(r.batch), fnum(r.size_mb, 2),
            pct(r.accuracy), pct(r.agreement), fnum(r.p50_ms, 2), fnum(r.p99_ms, 2), fnum(r.images_per_s, 1),
            speed, r.status]  # fmt: skip


def bench_blocks(run: RunData) -> list[Block]:
    """One row per variant x provider x batch from bench/bench.json (written by `edgetl bench`)."""
    bench = run.bench
    if bench is None or not bench.rows:
        why = run.why("bench") or "bench.json has no rows"
        return [NotRun(f"no benchmark ({why})", f"edgetl bench {run.folder.root}")]
    targets = run.variant_targets()
    table = [_bench_row(r, targets) for r in bench.rows]
    caption = "Latency and accuracy per variant (bench/bench.json)"
    blocks: list[Block] = [
        Table(BENCH_HEADERS, table, caption=caption, id="table-variants"),
        Text(
            "Latency is per batch; agreement is the share of images with the same top-1 as the FP32 ONNX model; "
            "speedup compares p50 with PyTorch eager on the same device and batch size."
        ),
    ]
    return blocks + [Alert(w) for w in bench.warnings] + [Text(n) for n in bench.notes]


def variants_section(run: RunData) -> Section:
    return Section("Variants", "variants", export_blocks(run) + bench_blocks(run))


def plots_section(run: RunData) -> Section:
    sec = Section("Latency vs accuracy", "plots")
    folder = run.folder.bench_dir
    pngs = (
        sorted(folder.glob("*.png"), key=lambda p: (0 if "acc" in p.name else 1, p.name))
        if folder.is_dir()
        else []
    )
    if not pngs:
        sec.blocks.append(NotRun("no benchmark plots (bench/*.png)", f"edgetl bench {run.folder.root}"))
    sec.blocks += [Image(p, p.stem.replace("_", " "), f"bench/{p.name}") for p in pngs]
    return sec


def fastest(run: RunData) -> str | None:
    """The lowest-latency ok bench row at the smallest batch, with its accuracy and speedup."""
    rows = [
        r
        for r in (run.bench.rows if run.bench else [])
        if r.ok and r.p50_ms is not None and r.batch is not None
    ]
    if not rows:
        return None
    smallest = min(r.batch or 0 for r in rows)
    best = min((r for r in rows if r.batch == smallest), key=lambda r: r.p50_ms or 0.0)
    return (
        f"{best.variant} on {best.provider}: p50 {fnum(best.p50_ms, 2)} ms at batch {fint(smallest)}"
        + (f", {best.speedup_vs_torch:.2f}x PyTorch eager" if best.speedup_vs_torch is not None else "")
        + (f", accuracy {pct(best.accuracy)}" if best.accuracy is not None else "")
    )


__all__ = ["bench_blocks", "export_blocks", "fastest", "plots_section", "variants_section"]
