"""Timing rounds: every (cell, batch) timed `repeat` times, interleaved and rotated.

    timed = time_rounds(cells, pool.pool, cfg, reporter)   # per cell: {batch: Timed}

Each round times every cell once, in an order shifted by one cell per round, so machine noise
(another process, a frequency change) hits all of them alike; the spread of the per-round
medians says how much that noise moved a row. A cell that fails mid-run keeps its earlier
rounds and is not timed again. Backends are closed when all rounds are done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from edgetl.bench.config import BenchConfig
from edgetl.bench.images import Crops, geometry, pool_batches
from edgetl.bench.timing import settle, time_runs
from edgetl.progress import Reporter

if TYPE_CHECKING:
    from edgetl.bench.cells import Cell


@dataclass
class Timed:
    """The timed calls of one (cell, batch) over all rounds."""

    samples: list[float] = field(default_factory=list)  # ms per call
    round_p50_ms: list[float] = field(default_factory=list)  # one median per round
    failure: str | None = None  # "failed: <error>" when a call raised


def failure(e: Exception) -> str:
    text = str(e).splitlines()[0][:200] if str(e) else ""
    return f"failed: {type(e).__name__}: {text}"


def time_rounds(
    cells: Sequence[Cell], pool: Crops, cfg: BenchConfig, reporter: Reporter
) -> list[dict[int, Timed]]:
    """`cfg.repeat` rounds over all cells, interleaved and rotated by one cell per round; -> per cell, per batch."""
    order = [(ci, b) for ci, c in enumerate(cells) if c.failure is None for b in c.batches]
    feeds: dict[tuple[int, int], list[Any]] = {
        (ci, b): cells[ci].backend.feeds(pool_batches(pool[geometry(cells[ci].pre)], cells[ci].pre, b))
        for ci, b in order
    }
    timed: list[dict[int, Timed]] = [{} for _ in cells]
    for ci, b in order:
        timed[ci][b] = Timed()
    for r in range(cfg.repeat):
        reporter.info(f"timing round {r + 1}/{cfg.repeat} ({len(order)} cells)")
        shift = r % len(order) if order else 0
        for ci, b in order[shift:] + order[:shift]:
            if timed[ci][b].failure is None:
                _one_round(cells[ci], feeds[(ci, b)], r, cfg, timed[ci][b])
    feeds.clear()
    for c in cells:
        c.backend.close()
    return timed


def _one_round(c: Cell, feeds: list[Any], r: int, cfg: BenchConfig, t: Timed) -> None:
    runs_r, budget_r, min_r = cfg.per_round()
    try:
        s = time_runs(
            c.backend.run,
            feeds,
            cfg.warmup_calls(r),
            runs_r,
            budget_r,
            start=r,
            min_runs=min_r,
            warmup_s=cfg.warmup_seconds(r),
        )
    except Exception as e:  # a provider/kernel failure mid-run: keep the other results
        t.failure = failure(e)
        return
    t.samples.extend(s)
    t.round_p50_ms.append(float(np.median(s)))
    settle()  # let this backend's spinning threads go idle before the next one is timed


__all__ = ["Timed", "failure", "time_rounds"]
