"""How the report shows numbers: a missing or NaN value is a dash, never an error."""

from __future__ import annotations

import json
from typing import Any

from edgetl.metrics import as_number as num
from edgetl.metrics import percent


def pct(v: Any, digits: int = 2) -> str:
    """Accuracy-like values (fractions) as percent: the library's one formatter, with the report's dash."""
    return percent(v, digits, missing="–")


def fnum(v: Any, digits: int = 2, unit: str = "") -> str:
    f = num(v)
    return "–" if f is None else f"{f:.{digits}f}{unit}"


def fint(v: Any) -> str:
    f = num(v)
    return "–" if f is None else f"{int(f):,}"


def sci(v: Any) -> str:
    f = num(v)
    return "–" if f is None else f"{f:.2e}"


def short(v: Any) -> str:
    """A value on one line of at most 80 characters."""
    if isinstance(v, tuple):
        v = list(v)
    s = json.dumps(v) if isinstance(v, (list, dict)) else str(v)
    return s if len(s) <= 80 else s[:77] + "..."


__all__ = ["fint", "fnum", "num", "pct", "sci", "short"]
