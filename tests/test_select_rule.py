"""The selection rule and the Pareto front on made-up candidates (pure functions, no model)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgetl.errors import EdgetlError
from edgetl.select.rule import Point, choose, pareto_front

# (name, CV accuracy, latency ms): c is dominated by b (less accurate and slower)
PTS = [Point("a", 0.90, 2.0), Point("b", 0.94, 2.8), Point("c", 0.93, 3.5), Point("d", 0.97, 6.0)]


def test_front_drops_dominated_candidates_and_is_fastest_first() -> None:
    assert pareto_front(PTS) == [0, 1, 3]


def test_default_rule_is_the_most_accurate_front_member_within_1_5x_the_fastest() -> None:
    pick = choose(PTS)
    assert PTS[pick.index].name == "b"  # d is more accurate but 3x slower than a
    assert "default rule" in pick.rule and "1.5x" in pick.rule and "3.00 ms" in pick.rule
    assert PTS[choose(PTS, slack=3.0).index].name == "d"


def test_latency_budget_changes_the_choice() -> None:
    assert [PTS[choose(PTS, budget_ms=b).index].name for b in (2.0, 3.0, 5.0, 10.0)] == ["a", "b", "b", "d"]
    assert "--latency-budget 5 ms" in choose(PTS, budget_ms=5.0).rule
    with pytest.raises(
        EdgetlError, match=r"--latency-budget 1 ms: no candidate is that fast \(fastest: a at 2.00 ms\)"
    ):
        choose(PTS, budget_ms=1.0)


def test_ties_go_to_the_faster_candidate() -> None:
    pts = [Point("slow", 0.9, 3.0), Point("fast", 0.9, 2.5)]
    assert pareto_front(pts) == [1]
    assert pts[choose(pts, budget_ms=10).index].name == "fast"


points = st.lists(
    st.builds(Point, st.just("x"), st.floats(0, 1), st.floats(0.1, 100)), min_size=1, max_size=12
)


@settings(max_examples=300, deadline=None)
@given(points, st.one_of(st.none(), st.floats(0.1, 100)))
def test_pick_is_never_beaten_on_both_counts_within_its_rule(pts: list[Point], budget: float | None) -> None:
    front = pareto_front(pts)
    assert front and all(
        not (q.accuracy > pts[i].accuracy and q.latency_ms < pts[i].latency_ms) for i in front for q in pts
    )
    try:
        pick = choose(pts, budget_ms=budget)
    except EdgetlError:
        assert budget is not None and all(p.latency_ms > budget for p in pts)
        return
    p = pts[pick.index]
    if budget is not None:
        assert p.latency_ms <= budget
        assert all(q.accuracy <= p.accuracy for q in pts if q.latency_ms <= budget)
    else:
        assert pick.index in front
