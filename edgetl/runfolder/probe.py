"""probe.json: how the solved probe chose its L2 strength (written by `edgetl.train.probe_stage`).

    rec = read_probe("runs/ants")      # ProbeRecord
    rec.C, rec.cv_acc, rec.grid[0].cv_acc
"""

from __future__ import annotations

from dataclasses import dataclass

from edgetl.runfolder.layout import RunFolder, RunLike, json_record


@dataclass(frozen=True)
class GridPoint:
    C: float
    cv_acc: float | None
    cv_std: float | None


@dataclass(frozen=True)
class ProbeRecord:
    """The solved head: chosen C (inverse L2 strength), its mean CV accuracy, and every grid point."""

    C: float
    cv_acc: float | None
    folds: int
    grid: tuple[GridPoint, ...]
    seconds: float | None = None
    note: str = ""
    solver: str = "lbfgs"
    heads: int | None = None
    num_features: int | None = None
    num_train: int | None = None
    train_acc: float | None = None
    val_acc: float | None = None


def read_probe(run: RunLike) -> ProbeRecord:
    return json_record(RunFolder(run).probe, ProbeRecord)


__all__ = ["GridPoint", "ProbeRecord", "read_probe"]
