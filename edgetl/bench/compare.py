"""Comparisons between rows, as pure functions of the rows: speedups, verdicts, warnings, order.

    rows = with_speedups(rows)                    # speedup_vs_torch: eager p50 / this p50
    comparisons, warnings = compare_rows(rows)    # each variant vs FP32, and the two fastest
    compare(int8_row, fp32_row)["verdict"]        # "a is 2.31x faster than b" or "not separable"
    order_rows(rows, cfg.providers)               # provider, batch, eager first, variant

Two rows are only called different when the ranges of their per-round medians do not overlap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from edgetl.bench.results import BenchRow
from edgetl.bench.timing import ratio_range, separable


def _device(provider: str) -> str:
    return "cpu" if provider == "cpu" else "cuda"


def with_speedups(rows: Sequence[BenchRow]) -> list[BenchRow]:
    """The rows with speedup_vs_torch set: PyTorch eager p50 / this p50, same device and batch."""
    eager = {
        (_device(r.provider), r.batch, r.threads): r for r in rows if r.kind == "torch" and r.ok and r.p50_ms
    }
    out = []
    for r in rows:
        t = eager.get((_device(r.provider), r.batch, r.threads))
        if r.ok and r.p50_ms and t is not None:
            r = dataclasses.replace(r, speedup_vs_torch=t.p50_ms / r.p50_ms)
        out.append(r)
    return out


def compare(a: BenchRow, b: BenchRow) -> dict[str, Any]:
    """Which of two timed rows is faster, by how much, and whether the rounds can tell them apart."""
    fast, slow = (a, b) if a.p50_ms <= b.p50_ms else (b, a)
    lo, hi = (
        ratio_range(slow.round_p50_ms, fast.round_p50_ms)
        if fast.round_p50_ms and slow.round_p50_ms
        else (None, None)
    )
    sep = separable(fast.round_p50_ms, slow.round_p50_ms)
    speedup = slow.p50_ms / fast.p50_ms  # type: ignore[operator]  # only timed rows are compared
    verdict = (
        f"{fast.variant} is {speedup:.2f}x faster than {slow.variant}"
        if sep
        else f"{fast.variant} vs {slow.variant}: not separable within noise (per-round p50 ranges overlap)"
    )
    return {
        "provider": a.provider,
        "batch": a.batch,
        "threads": a.threads,
        "faster": fast.variant,
        "slower": slow.variant,
        "speedup": speedup,
        "speedup_range": [lo, hi],
        "separable": sep,
        "verdict": verdict,
    }


def _timed(r: BenchRow) -> bool:
    return r.ok and bool(r.p50_ms)


def fp32_reference(
    rows: Sequence[BenchRow], provider: str, batch: int | None, threads: int | None = None
) -> BenchRow | None:
    """The first timed FP32 ONNX row of this provider, batch (and thread count): what the others are held to."""
    return next(
        (
            r
            for r in rows
            if r.kind == "onnx" and r.precision == "fp32" and r.provider == provider and r.batch == batch
            and (threads is None or r.threads == threads) and _timed(r)
        ),
        None,
    )  # fmt: skip


def compare_rows(rows: Sequence[BenchRow]) -> tuple[list[dict[str, Any]], list[str]]:
    """Per (provider, batch): every timed row vs the FP32 reference, and the two fastest; -> (comparisons, warnings)."""
    comps: list[dict[str, Any]] = []
    warns: list[str] = []
    for prov, b, t in sorted({(r.provider, r.batch, r.threads or 0) for r in rows if _timed(r)}):
        timed = [
            r for r in rows if _timed(r) and r.provider == prov and r.batch == b and (r.threads or 0) == t
        ]
        ref = fp32_reference(rows, prov, b, t or None)
        vs_ref = [(r, ref) for r in timed if ref is not None and r is not ref]
        ranked = sorted(timed, key=lambda r: r.p50_ms or 0.0)
        fastest = [(ranked[0], ranked[1])] if len(ranked) >= 2 else []
        done: set[frozenset[str]] = set()
        for i, (x, y) in enumerate(vs_ref + fastest):
            c = compare(x, y)
            if frozenset((x.variant, y.variant)) not in done:
                done.add(frozenset((x.variant, y.variant)))
                comps.append(c)
            if i < len(vs_ref) and x.is_int8 and x.kind == "onnx":
                warns += _int8_warning(x, y, c)
    return comps, warns


def _int8_warning(r: BenchRow, ref: BenchRow, c: dict[str, Any]) -> list[str]:
    """INT8 exists to be faster than FP32: say so when it is not, or not clearly."""
    if c["faster"] == r.variant and c["separable"]:
        return []
    how = "not faster" if c["faster"] != r.variant else "not clearly faster"
    noise = "" if c["separable"] else "; per-round p50 ranges overlap: not separable within noise"
    return [
        f"INT8 {r.variant} is {how} than FP32 {ref.variant} on {r.provider} at batch {r.batch} "
        f"(p50 {r.p50_ms:.3f} vs {ref.p50_ms:.3f} ms{noise})"
    ]


def order_rows(rows: Sequence[BenchRow], providers: Sequence[str]) -> list[BenchRow]:
    """Rows as the table shows them: by provider (as asked), batch (skipped rows first), eager first, variant."""
    rank = {p: i for i, p in enumerate(providers)}
    return sorted(
        rows,
        key=lambda r: (
            rank.get(r.provider, 99),
            -1 if r.batch is None else r.batch,
            r.threads or 0,
            0 if r.kind == "torch" else 1,
            r.variant,
        ),
    )


__all__ = ["compare", "compare_rows", "fp32_reference", "order_rows", "with_speedups"]
