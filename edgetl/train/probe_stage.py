"""The probe stage solved: the head fitted on the cached features by `solve_probe`, as one epoch row.

    state = solve_stage(ctx, runner, stage, stopper, epoch, on_epoch, sgd=lambda s: run_stage(...))

`run_stage` hands every `solver="lbfgs"` stage here (`--probe-solver lbfgs`). The solution's logits are
then scaled by `fit_scale` to the minimum of the stage's own loss (label smoothing included) along
the solved head: same predictions, but fine-tuning (lp-ft) no longer starts from the near-zero
plain-CE training loss of a solved head, whose huge logits made its first epoch collapse on digits.
The fit reads only the training features;
under torchrun every rank holds all of them (gathered by the feature cache) and the solver runs
single-threaded on fixed folds, so every rank loads the same head without a collective. The row goes
through the same `on_epoch` as an SGD epoch, so checkpoints, metrics.csv, early stopping's best
epoch and `--resume` behave alike; `EpochEnd.probe` carries the fit's summary (probe.json).
A model whose head is not one `nn.Linear` (or several, as the distilled models' tied heads, which
all take the same solution) cannot take it: the stage then runs `sgd_epochs` of SGD and says why.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgetl.models.heads import classifier_head, head_modules
from edgetl.train.progress import format_epoch
from edgetl.train.speed import prepare_model

if TYPE_CHECKING:
    from edgetl.train.early_stopping import EarlyStopping
    from edgetl.train.loop import EpochEnd, FitContext, StageState
    from edgetl.train.modes import Stage
    from edgetl.train.runners import Runner


def linear_heads(model: nn.Module) -> list[nn.Linear] | None:
    """The model's head(s) when each is a plain nn.Linear with a bias, else None (not solvable)."""
    heads = head_modules(model)
    if all(type(h) is nn.Linear and h.bias is not None for h in heads):
        return list(heads)  # type: ignore[arg-type]
    return None


def load_solution(heads: list[nn.Linear], weight: Any, bias: Any) -> None:
    """Copy the solved (classes, D) weight and (classes,) bias into every head (tied heads stay tied)."""
    w, b = torch.as_tensor(weight), torch.as_tensor(bias)
    with torch.no_grad():
        for h in heads:
            if tuple(h.weight.shape) != tuple(w.shape):
                raise ValueError(f"solved head {tuple(w.shape)} does not fit {tuple(h.weight.shape)}")
            h.weight.copy_(w.to(h.weight))
            h.bias.copy_(b.to(h.bias))


@torch.inference_mode()
def train_metrics(ctx: FitContext, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Plain cross-entropy and accuracy of the model's head on the training features (no smoothing)."""
    head = classifier_head(ctx.model)
    was = head.training
    head.eval()
    logits = torch.cat([head(x[i : i + 4096].to(ctx.device)).float().cpu() for i in range(0, len(x), 4096)])
    head.train(was)
    y = y.long()
    return {
        "train_loss": float(F.cross_entropy(logits.double(), y)),
        "train_acc": float((logits.argmax(1) == y).double().mean()),
    }


def solve_stage(
    ctx: FitContext,
    runner: Runner,
    stage: Stage,
    stopper: EarlyStopping,
    epoch: int,
    on_epoch: Callable[[EpochEnd], None] | None,
    sgd: Callable[[Stage], StageState],
) -> StageState:
    """Solve the head on the runner's cached features as global epoch `epoch`; one row through `on_epoch`.

    `sgd(stage)` is the epoch loop, for a head the solver cannot fill (it continues a resumed stage).
    """
    from edgetl.train.loop import EpochEnd, StageState, predict, val_metrics
    from edgetl.train.probe_solver import fit_scale, solve_probe

    prepare_model(ctx)
    runner.prepare(ctx.model)  # the features (cache hit or computed once) and a frozen backbone
    heads = linear_heads(ctx.model)
    if heads is None:
        kinds = ", ".join(sorted({type(h).__name__ for h in head_modules(ctx.model)}))
        ctx.reporter.info(
            f"probe: the head ({kinds}) is not a linear layer the solver can fill; "
            f"training it with {stage.sgd_epochs} SGD epochs instead (--probe-solver sgd)"
        )
        return sgd(dataclasses.replace(stage, solver="sgd", epochs=stage.sgd_epochs))
    stopper.start_stage()
    start = time.perf_counter()
    f = runner.features
    fit = solve_probe(f.train_x.numpy(), f.train_y.numpy(), num_classes=heads[0].out_features)
    logits = f.train_x.double().numpy() @ fit.weight.T.astype(np.float64) + fit.bias
    scale = fit_scale(
        logits, f.train_y.numpy(), runner.criterion
    )  # the stage's loss (label smoothing) along the fit
    load_solution(heads, scale * fit.weight, scale * fit.bias)
    train = train_metrics(ctx, f.train_x, f.train_y)
    scores, labels = predict(ctx, ctx.model, runner)
    val = val_metrics(scores, labels)
    row = {"epoch": epoch, "stage": stage.name, **train, **val, "lr": 0.0,
           "seconds": time.perf_counter() - start + (f.seconds or 0.0), "best": 0}  # fmt: skip
    improved = stopper.update(row, epoch)
    summary = {**fit.summary(), "solver": "lbfgs", "scale": scale, "heads": len(heads), "num_features": int(f.train_x.shape[1]),
               "num_train": int(len(f.train_x)), **train, **val}  # fmt: skip
    state = StageState(epochs_done=1)
    if on_epoch is not None:
        end = EpochEnd(
            row, improved, True, ctx.model, state, scores, labels, time.perf_counter(), probe=summary
        )
        on_epoch(end)
    cv = "no CV" if fit.cv_acc is None else f"CV acc {100 * fit.cv_acc:.2f}% ({fit.folds}-fold)"
    ctx.reporter.info(
        f"probe solved (L-BFGS): C={fit.C:.3g}, {cv}, logits x {scale:.3g}, {fit.seconds:.1f} s"
    )
    ctx.reporter.info(format_epoch(row, ctx.total_epochs, improved))
    return state


__all__ = ["linear_heads", "load_solution", "solve_stage", "train_metrics"]
