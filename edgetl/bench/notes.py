"""What the numbers cover (bench.json "notes") and the warnings about the run itself.

    notes(cells, cfg, ev)                       # what a timed call covers, rounds, warm-up, units
    run_warnings(env, load_start, ev)           # a busy machine, unreadable eval images
    eval_summary(ev)                            # bench.json "data"

Notes are read with the table: without them a latency does not say what it includes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from edgetl.bench.config import BenchConfig
from edgetl.bench.data import EvalSet
from edgetl.bench.env import busy_warning

if TYPE_CHECKING:
    from edgetl.bench.cells import Cell


def notes(cells: Sequence[Cell], cfg: BenchConfig, ev: EvalSet | None) -> list[str]:
    out = sorted({f"{c.provider} {c.kind}: {c.timing}" for c in cells})
    runs, budget, min_runs = cfg.per_round()
    warm = f"{cfg.warmup} warm-up call(s) in round 1 and {cfg.warmup_calls(1)} in later rounds"
    if cfg.warmup_seconds(0):
        warm = (
            f"warm-up of {cfg.warmup}+ calls and >= {cfg.warmup_seconds(0):g} s in round 1, "
            f"{cfg.warmup_calls(1)}+ calls and >= {cfg.warmup_seconds(1):g} s in later rounds"
        )
    per = " or ".join(
        ([f"{runs} timed call(s)"] if runs else [])
        + ([f"{budget:.2f} s (at least {min_runs} calls)"] if budget else [])
    )
    out.append(
        f"{cfg.repeat} round(s), cells interleaved and rotated per round; per cell: {warm}, then per round {per}; "
        f"{','.join(map(str, cfg.threads))} thread(s); spread = (max - min) / median of the per-round p50s"
    )
    out.append("latency = milliseconds per batch; images/s = batch / mean latency")
    if any(c.provider == "cpu" and c.precision == "fp16" for c in cells):
        out.append(
            "fp16 on cpu: onnxruntime's CPU provider casts most FP16 ops back to FP32; FP16 is a GPU format"
        )
    if ev is None:
        out.append(
            "no eval data: accuracy not measured; timing inputs are synthetic images preprocessed like real ones"
        )
    return out


def run_warnings(env: dict[str, Any], load_start: list[float] | None, ev: EvalSet | None) -> list[str]:
    out = []
    busy = busy_warning(load_start, env.get("load_average"), env["cpu"].get("usable_cores"))
    if busy:
        out.append(busy)
    if ev is not None and ev.skipped:
        first = ev.skipped[0]
        out.append(f"{len(ev.skipped)} eval image(s) unreadable and left out, e.g. {first[0]} ({first[1]})")
    return out


def eval_summary(ev: EvalSet | None) -> dict[str, Any] | None:
    if ev is None:
        return None
    skipped = [{"path": p, "reason": r} for p, r in ev.skipped]
    return {"source": ev.source, "images": len(ev), "skipped": skipped}


__all__ = ["eval_summary", "notes", "run_warnings"]
