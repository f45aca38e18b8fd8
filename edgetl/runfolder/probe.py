"""probe.json: how the solved probe chose its L2 strength (written by `edgetl.train.probe_stage`).

    rec = read_probe("runs/ants")      # ProbeRecord
    rec.C, rec.cv_acc, rec.grid[0].cv_acc
"""

from __future__ import annotations

from dataclasses import dataclass

from edgetl.runfolder.layout import RunFolder, RunLike, _json, _opt_float, _opt_int, _typed


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
    path = RunFolder(run).probe
    d = _json(path)

    def build() -> ProbeRecord:
        grid = tuple(
            GridPoint(float(g["C"]), _opt_float(g.get("cv_acc")), _opt_float(g.get("cv_std")))
            for g in d.get("grid") or ()
        )
        return ProbeRecord(
            C=float(d["C"]),
            cv_acc=_opt_float(d.get("cv_acc")),
            folds=int(d.get("folds") or 0),
            grid=grid,
            seconds=_opt_float(d.get("seconds")),
            note=str(d.get("note") or ""),
            solver=str(d.get("solver") or "lbfgs"),
            heads=_opt_int(d.get("heads")),
            num_features=_opt_int(d.get("num_features")),
            num_train=_opt_int(d.get("num_train")),
            train_acc=_opt_float(d.get("train_acc")),
            val_acc=_opt_float(d.get("val_acc")),
        )

    return _typed(path, build)


__all__ = ["GridPoint", "ProbeRecord", "read_probe"]
