"""A selection as data: every candidate measured, the front, the pick and the rule that chose it.

    sel = Selection.from_dict(json.loads(Path("select/select.json").read_text()))
    sel.chosen.name, sel.rule, [c.cv_acc for c in sel.candidates]

One schema for `edgetl select`'s OUT/select.json and a `--model auto` run's RUN_DIR/select.json
(`edgetl.runfolder.read_selection` builds this class). No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
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
        names = {f.name for f in fields(Measured)}
        cands = [Measured(**{k: v for k, v in c.items() if k in names}) for c in d["candidates"]]
        sel = cls(cands, [int(i) for i in d["front"]], int(d["chosen_index"]), str(d["rule"]), str(d["latency"]),
                  float(d["seconds"]), str(d["data"]), dict(d.get("config") or {}), dict(d.get("applied") or {}))  # fmt: skip
        if not 0 <= sel.chosen_index < len(cands) or any(not 0 <= i < len(cands) for i in sel.front):
            raise ValueError("chosen_index/front point outside the candidate list")
        return sel


__all__ = ["Selection"]
