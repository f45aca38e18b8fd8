"""Transfer modes as data: each mode is a list of stages that the one training loop runs in order.

    stages = MODES.get("lp-ft")(cfg)   # [Stage(kind="probe", ...), Stage(kind="finetune", ...)]

A stage says *what* trains (the head on cached features, or every layer on augmented images)
and with which epochs and schedule; `edgetl.train.runners` says *how* batches are made for a
kind, and `edgetl.train.loop` is the only loop. A new mode is one registered function.
No torch import, and no import of the config: a mode reads only the `StageOptions` fields, and
`TrainConfig` (which has them all) validates `--mode` against this registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from edgetl.registry import Registry

StageKind = Literal["probe", "finetune"]


@dataclass(frozen=True)
class Stage:
    """One phase of training with its own optimizer, schedule and early-stopping patience."""

    name: str  # the `stage` column of metrics.csv
    kind: StageKind  # probe: head only on cached frozen features; finetune: all layers on images
    epochs: int
    lr: float
    warmup_epochs: int = 0
    layer_decay: float | None = None  # None: one learning rate for every parameter
    min_lr: float = 0.0
    # probe stages: "lbfgs" solves the head (one row, `edgetl.train.probe_stage`); "sgd" runs `epochs` of the
    # optimizer. `sgd_epochs`: what an lbfgs stage runs instead on a head that is not linear.
    solver: Literal["sgd", "lbfgs"] = "sgd"
    sgd_epochs: int = 0


class StageOptions(Protocol):
    """What a mode reads from the run's options (`TrainConfig` has every one of them)."""

    lp_epochs: int
    lp_lr: float
    probe_solver: str
    epochs: int
    lr: float
    warmup_epochs: int
    layer_decay: float
    min_lr: float


MODES: Registry[Callable[[StageOptions], list[Stage]]] = Registry("training mode (--mode)")


def probe_stage(cfg: StageOptions) -> Stage:
    min_lr = min(cfg.min_lr, cfg.lp_lr)
    if cfg.probe_solver == "lbfgs":  # solved to the optimum: one row in metrics.csv
        return Stage(
            "probe", "probe", epochs=1, lr=cfg.lp_lr, min_lr=min_lr, solver="lbfgs", sgd_epochs=cfg.lp_epochs
        )
    return Stage("probe", "probe", epochs=cfg.lp_epochs, lr=cfg.lp_lr, min_lr=min_lr)


def finetune_stage(cfg: StageOptions) -> Stage:
    return Stage(
        "finetune",
        "finetune",
        epochs=cfg.epochs,
        lr=cfg.lr,
        warmup_epochs=cfg.warmup_epochs,
        layer_decay=cfg.layer_decay if cfg.layer_decay < 1.0 else None,
        min_lr=cfg.min_lr,
    )


@MODES.register("linear-probe")
def linear_probe(cfg: StageOptions) -> list[Stage]:
    """Frozen backbone: train only a linear head on features computed once and cached."""
    return [probe_stage(cfg)]


@MODES.register("finetune")
def finetune(cfg: StageOptions) -> list[Stage]:
    """Every layer trains from the start, with the model's fresh head."""
    return [finetune_stage(cfg)]


@MODES.register("lp-ft")
def lp_ft(cfg: StageOptions) -> list[Stage]:
    """Probe first, then fine-tune from the probed head (Kumar et al. 2022, "LP-FT").

    A fine-tune that starts from a random head sends large gradients into the pretrained
    features during its first steps; starting from a head already fitted on those features keeps
    them intact, and layer-wise LR decay lets the early layers move least.
    """
    return [probe_stage(cfg), finetune_stage(cfg)]


__all__ = ["MODES", "Stage", "StageKind", "StageOptions", "finetune_stage", "probe_stage"]
