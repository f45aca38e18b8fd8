"""One percent formatter for every line, table and report: fractions in, "94.77%" out."""

from __future__ import annotations

import pytest

from edgetl.metrics import format_metrics, percent


@pytest.mark.parametrize(
    ("value", "kwargs", "text"),
    [
        (0.947712, {}, "94.77%"),
        (1.0, {}, "100.00%"),
        (0.886, {"digits": 1, "width": 5}, " 88.6%"),  # the epoch line's column
        (None, {}, "-"),
        (float("nan"), {}, "-"),  # a NaN metric is missing, never "nan%"
        (None, {"missing": "n/a"}, "n/a"),
        (True, {}, "-"),  # a flag is not a fraction
        ("0.5", {}, "50.00%"),  # a number read back from CSV
        ("x", {}, "-"),
    ],
)
def test_percent(value: object, kwargs: dict, text: str) -> None:
    assert percent(value, **kwargs) == text


def test_format_metrics_marks_missing_top5_as_na() -> None:
    line = format_metrics({"n": 3, "top1": 2 / 3, "top5": None, "top5_k": 2, "per_class": {}})
    assert line.splitlines()[0].startswith("n=3  top1=66.67%  top2=n/a  macro-F1=n/a")
