"""Latency measurement: warm-up, timed runs until a count or a time budget, and honest statistics.

    samples = time_runs(run, feeds, warmup=10, runs=100, budget_s=None)   # ms per call
    stats = LatencyStats.from_samples(samples)                            # min/p50/p90/p99/mean/std
    spread = round_spread([3.1, 3.0, 3.3])                                # (max - min) / median
    settle()                                  # between two sessions timed one after the other

Each timed call gets the next feed of a pool of different inputs (an app never sends the same
tensor twice; reusing one pre-filled input overstates throughput). The garbage collector is
paused while timing so a collection does not land inside one call. Two measurements are only
called different when the ranges of their per-round medians do not overlap.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

MIN_RUNS = 3  # a time budget never yields fewer timed calls than this
# onnxruntime's worker threads spin for ~0.1 s after a call before they sleep: timed right after
# other sessions, a model shares the 2 cores with those spinners (`python bench/interleave.py`,
# bench/results/interleave-20261202-1929.json: MobileNetV3-Small p50 2.07 ms alone, 6.75 ms right
# after 4 other sessions, 2.64 ms after a 0.05 s pause, 2.15-2.77 ms after 0.1-0.25 s).
# Interleaved timing pauses this long between sessions.
SETTLE_S = 0.25


def settle(seconds: float = SETTLE_S) -> None:
    """Wait for the previous session's spinning threads to go idle before timing another."""
    time.sleep(seconds)


@dataclass
class LatencyStats:
    """Milliseconds per call."""

    runs: int
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    std_ms: float

    @classmethod
    def from_samples(cls, samples_ms: Sequence[float]) -> LatencyStats:
        a = np.asarray(samples_ms, dtype=np.float64)
        if a.size == 0:
            raise ValueError("no timing samples")
        p50, p90, p99 = np.percentile(a, [50, 90, 99])
        return cls(
            runs=int(a.size),
            min_ms=float(a.min()),
            p50_ms=float(p50),
            p90_ms=float(p90),
            p99_ms=float(p99),
            mean_ms=float(a.mean()),
            std_ms=float(a.std(ddof=1)) if a.size > 1 else 0.0,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def time_runs(
    run: Callable[[Any], Any],
    feeds: Sequence[Any],
    warmup: int,
    runs: int | None,
    budget_s: float | None,
    start: int = 0,
    min_runs: int = MIN_RUNS,
    warmup_s: float = 0.0,
) -> list[float]:
    """Call `run(feed)` cycling through `feeds`: untimed warm-up calls (`warmup` of them, and for
    at least `warmup_s` seconds: lazy allocations and weight pre-packing make the first calls of a
    fresh session slow for longer than a fixed count covers), then timed calls until `runs` are
    done or `budget_s` seconds have passed (at least `min_runs`). -> ms per call."""
    if not feeds:
        raise ValueError("no inputs to time")
    if runs is None and budget_s is None:
        raise ValueError("give runs, budget_s or both")
    n = len(feeds)
    i = start
    warm_until = time.perf_counter() + warmup_s
    while i - start < warmup or (warmup_s > 0 and time.perf_counter() < warm_until):
        run(feeds[i % n])
        i += 1
    samples: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        deadline = time.perf_counter() + budget_s if budget_s is not None else math.inf
        while runs is None or len(samples) < runs:
            feed = feeds[i % n]
            t0 = time.perf_counter_ns()
            run(feed)
            samples.append((time.perf_counter_ns() - t0) / 1e6)
            i += 1
            if len(samples) >= max(1, min_runs) and time.perf_counter() >= deadline:
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def round_spread(round_p50s: Sequence[float]) -> float | None:
    """Run-to-run spread: (max - min) / median of the per-round medians; None with < 2 rounds."""
    if len(round_p50s) < 2:
        return None
    a = np.asarray(round_p50s, dtype=np.float64)
    return float((a.max() - a.min()) / np.median(a))


def separable(a_rounds: Sequence[float], b_rounds: Sequence[float]) -> bool:
    """True when the ranges of two rows' per-round medians do not overlap (one is clearly faster).

    With a single round there is no measure of noise, so nothing is declared separable."""
    if len(a_rounds) < 2 or len(b_rounds) < 2:
        return False
    return max(a_rounds) < min(b_rounds) or max(b_rounds) < min(a_rounds)


def ratio_range(slow_rounds: Sequence[float], fast_rounds: Sequence[float]) -> tuple[float, float]:
    """Bounds of slow/fast speedup consistent with the per-round medians (pessimistic, optimistic)."""
    return min(slow_rounds) / max(fast_rounds), max(slow_rounds) / min(fast_rounds)


__all__ = [
    "MIN_RUNS", "SETTLE_S", "LatencyStats", "ratio_range", "round_spread", "separable", "settle", "time_runs",
]  # fmt: skip
