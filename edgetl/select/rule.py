"""Which backbone to pick from measured (accuracy, latency) pairs: the Pareto front and the rule.

    front = pareto_front(points)                  # indices nobody beats on both accuracy and latency
    pick = choose(points)                         # default rule: see DEFAULT_SLACK
    pick = choose(points, budget_ms=3.0)          # the most accurate within 3 ms
    pick.index, pick.rule                         # the choice and the sentence that says why

Pure functions of the numbers (no torch, no files), so the rule is tested on made-up candidates.
Accuracy is the probe's CV accuracy on the training split; the val split never enters here.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgetl.errors import EdgetlError

DEFAULT_SLACK = 1.5  # default rule: the most accurate front member at most 1.5x slower than the fastest


@dataclass(frozen=True)
class Point:
    name: str
    accuracy: float  # higher is better
    latency_ms: float  # lower is better


@dataclass(frozen=True)
class Pick:
    index: int
    rule: str  # one sentence: which rule chose it, with its numbers


def pareto_front(points: list[Point]) -> list[int]:
    """Indices of the points no other point dominates (>= accuracy and <= latency, one strictly), fastest first."""
    front = [
        i
        for i, p in enumerate(points)
        if not any(
            q.accuracy >= p.accuracy
            and q.latency_ms <= p.latency_ms
            and (q.accuracy, q.latency_ms) != (p.accuracy, p.latency_ms)
            for q in points
        )
    ]
    return sorted(front, key=lambda i: (points[i].latency_ms, -points[i].accuracy, i))


def _best(points: list[Point], allowed: list[int]) -> int:
    """The most accurate of `allowed`; ties go to the faster, then to the earlier candidate."""
    return min(allowed, key=lambda i: (-points[i].accuracy, points[i].latency_ms, i))


def choose(points: list[Point], budget_ms: float | None = None, slack: float = DEFAULT_SLACK) -> Pick:
    """The pick under `--latency-budget budget_ms`, or the default rule (see the module docstring)."""
    if not points:
        raise EdgetlError("select: no candidate was measured")
    if budget_ms is not None:
        within = [i for i, p in enumerate(points) if p.latency_ms <= budget_ms]
        if not within:
            fastest = min(points, key=lambda p: p.latency_ms)
            raise EdgetlError(
                f"--latency-budget {budget_ms:g} ms: no candidate is that fast (fastest: {fastest.name} at "
                f"{fastest.latency_ms:.2f} ms); raise the budget or add smaller candidates"
            )
        i = _best(points, within)
        return Pick(
            i,
            f"--latency-budget {budget_ms:g} ms: the most accurate of the {len(within)} candidates within it",
        )
    front = pareto_front(points)
    limit = slack * points[front[0]].latency_ms
    near = [i for i in front if points[i].latency_ms <= limit]
    i = _best(points, near)
    return Pick(
        i,
        f"default rule: the most accurate candidate on the Pareto front within {slack:g}x the fastest's latency "
        f"({points[front[0]].latency_ms:.2f} ms -> at most {limit:.2f} ms)",
    )


__all__ = ["DEFAULT_SLACK", "Pick", "Point", "choose", "pareto_front"]
