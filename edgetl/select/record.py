"""A selection as data: every candidate measured, the front, the pick and the rule that chose it.

    sel = Selection.from_dict(json.loads(Path("select/select.json").read_text()))
    sel.chosen.name, sel.rule, [c.cv_acc for c in sel.candidates]

One schema for `edgetl select`'s OUT/select.json and a `--model auto` run's RUN_DIR/select.json
(`edgetl.runfolder.read_selection` builds this class). No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgetl.select.measure import Measured


@dataclass
class Selection:
    candidates: list[Measured]
    front: list[int]
    chosen_index: int
    rule: str
    latency: str  # which latency decided: "int8", or "int8 where measured, else fp32"
    seconds: float
    data: str
    config: dict[str, Any] = field(default_factory=dict)  # the SelectConfig it ran with
    applied: dict[str, Any] = field(default_factory=dict)  # --model auto: the train options the pick set

    @property
    def chosen(self) -> Measured:
        return self.candidates[self.chosen_index]

    def to_dict(self) -> dict[str, Any]:
        return {"candidates": [c.to_dict() for c in self.candidates], "front": self.front,
                "chosen": self.chosen.name, "chosen_index": self.chosen_index, "rule": self.rule,
                "latency": self.latency, "seconds": self.seconds, "data": self.data,
                "config": self.config, "applied": self.applied}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Selection:
        from edgetl.runfolder.schema import record  # the one typed reader of run-folder records

        sel = record(cls, d)
        n = len(sel.candidates)
        if not 0 <= sel.chosen_index < n or any(not 0 <= i < n for i in sel.front):
            raise ValueError("chosen_index/front point outside the candidate list")
        return sel


__all__ = ["Selection"]
