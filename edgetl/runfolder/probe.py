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
    seconds: float | None = None  # the solver's wall time (grid search included, features not)
    note: str = ""
    solver: str = "lbfgs"
    heads: int | None = None  # linear heads filled with the one solution (2 for distilled models' tied heads)
    num_features: int | None = None  # width of the backbone features the head reads
    num_train: int | None = None  # training images the fit saw
    train_acc: float | None = None  # the solved head's top-1 on those features, 0..1
    val_acc: float | None = None  # and on the val split (the probe epoch's row in metrics.csv)
    scale: float | None = None  # factor on the solved logits as handed on (probe_solver.fit_scale), 0..1


def read_probe(run: RunLike) -> ProbeRecord:
    return json_record(RunFolder(run).probe, ProbeRecord)


__all__ = ["GridPoint", "ProbeRecord", "read_probe"]
