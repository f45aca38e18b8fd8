"""How the report shows numbers: a missing or NaN value is a dash, never an error."""

from __future__ import annotations

import json
import math
from typing import Any


def num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def pct(v: Any, digits: int = 2) -> str:
    """Accuracy-like values: fractions (0..1) are shown as percent."""
    f = num(v)
    if f is None:
        return "–"
    return f"{f * 100:.{digits}f}%" if abs(f) <= 1.0 else f"{f:.{digits}f}%"


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
