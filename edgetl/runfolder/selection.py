"""select.json: why a `--model auto` run trains the model it trains (written by `edgetl.select.auto`).

sel = read_selection("runs/ants")     # edgetl.select.record.Selection
sel.chosen.name, sel.rule, sel.front
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgetl.runfolder.layout import RunFolder, RunLike, _json, _typed

if TYPE_CHECKING:
    from edgetl.select.record import Selection


def read_selection(run: RunLike) -> Selection:
    from edgetl.select.record import Selection

    path = RunFolder(run).selection
    d = _json(path)
    return _typed(path, lambda: Selection.from_dict(d))


__all__ = ["read_selection"]
