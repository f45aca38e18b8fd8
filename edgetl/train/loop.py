"""The one training loop: every stage of every mode runs through `run_stage`.

    result = run_stage(ctx, runner, stage, stage_index, stopper, first_global_epoch=1, on_epoch=save)

A stage builds its optimizer (timm `create_optimizer_v2`: no weight decay on norm/bias, optional
layer-wise LR decay), a per-step warmup + cosine schedule (timm `create_scheduler_v2`) and an
optional EMA (timm `ModelEmaV3`), then trains epoch by epoch until its epochs are done or early
stopping says so. Everything random in an epoch is seeded from (seed, stage, epoch), and the
loop state after each epoch is handed to `on_epoch`, which is how `--resume` continues exactly.
On CPU and CUDA alike the model and batches are channels-last (`--channels-last`), bf16 autocast
runs where the hardware has native bf16 (`--amp auto`, `edgetl.train.device.resolve_amp`), and a
fine-tuning stage leaves the earliest layers whose layer-decayed LR scale is below
`--freeze-lr-scale` out of the optimizer and out of the backward pass (timm's
`layer_decay_no_opt_scale`). `FitContext.phases` (a `PhaseTimes`) sums data / forward / backward /
step seconds when set (`bench/train_speed.py`).
Under torchrun the trainable module is wrapped in DistributedDataParallel, each rank weights its
loss by its share of the global batch, ranks > 0 draw their own augmentation and dropout, and the
epoch's metrics and BatchNorm buffers are made identical on every rank (`edgetl.train.distributed`).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgetl.errors import EdgetlError
from edgetl.progress import Reporter
from edgetl.train import distributed
from edgetl.train.early_stopping import EarlyStopping
from edgetl.train.modes import Stage
from edgetl.train.progress import format_epoch
from edgetl.train.runners import Evaluator, Runner
from edgetl.train.speed import (
    PhaseTimes,
    autocast,
    channels_last_safe,
    phase,
    prepare_model,
    timed,
    to_device,
)

METRIC_COLUMNS = ["epoch", "stage", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "best"]


@dataclass
class FitContext:
    """The model and run-wide settings the loop needs (no file I/O in here)."""

    model: nn.Module
    device: torch.device
    seed: int
    optimizer: str = "adamw"
    weight_decay: float = 0.05
    momentum: float = 0.9
    clip_grad: float = 0.0
    ema: bool = False
    ema_decay: float = 0.998
    amp: str = "none"  # bf16 | fp16 | none (resolved: `device.resolve_amp`); fp16 only on CUDA
    channels_last: bool = False
    freeze_lr_scale: float = 0.0  # fine-tuning: layers with a layer-decayed LR scale below this stay frozen
    phases: PhaseTimes | None = None  # where set, train_epoch sums its seconds per phase in here
    reporter: Reporter = field(default_factory=lambda: Reporter(quiet=True))
    total_epochs: int = 0  # for "epoch 3/24" lines

    @classmethod
    def for_run(
        cls, cfg: Any, model: nn.Module, device: torch.device, reporter: Reporter, total_epochs: int
    ) -> FitContext:
        """The loop settings of a TrainConfig (training and cross-validation alike)."""
        from edgetl.train.device import resolve_amp

        return cls(
            model=model,
            device=device,
            seed=cfg.seed,
            optimizer=cfg.optimizer,
            weight_decay=cfg.weight_decay,
            momentum=cfg.momentum,
            clip_grad=cfg.clip_grad,
            ema=cfg.ema,
            ema_decay=cfg.ema_decay,
            amp=resolve_amp(cfg.amp, device),
            channels_last=cfg.channels_last and (device.type != "cpu" or channels_last_safe(model)),
            freeze_lr_scale=cfg.freeze_lr_scale,
            reporter=reporter,
            total_epochs=total_epochs,
        )


@dataclass
class StageState:
    """What continues a stage mid-way: counters and the optimizer/EMA tensors (plain dicts)."""

    epochs_done: int = 0
    updates: int = 0
    optimizer: dict | None = None
    ema: dict | None = None


def epoch_seed(seed: int, stage_index: int, epoch: int) -> int:
    """A well-mixed 63-bit seed per (run seed, stage, epoch): data order and augmentation depend on nothing else."""
    return int(np.random.SeedSequence([seed, stage_index, epoch]).generate_state(2, dtype=np.uint64)[0] >> 1)


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def build_optimizer(ctx: FitContext, target: nn.Module, stage: Stage) -> torch.optim.Optimizer:
    from timm.optim import create_optimizer_v2

    opt = {"adamw": "adamw", "sgd": "sgdw"}[ctx.optimizer]  # sgdw: SGD with decoupled weight decay
    return create_optimizer_v2(
        target,
        opt=opt,
        lr=stage.lr,
        weight_decay=ctx.weight_decay,
        momentum=ctx.momentum,
        layer_decay=stage.layer_decay,
        # timm sets requires_grad=False on layers whose LR scale is below this: no grad, no backward
        layer_decay_no_opt_scale=ctx.freeze_lr_scale
        if stage.layer_decay and ctx.freeze_lr_scale > 0
        else None,
        filter_bias_and_bn=True,
    )


def build_scheduler(optimizer: torch.optim.Optimizer, stage: Stage, updates_per_epoch: int) -> Any:
    from timm.scheduler import create_scheduler_v2

    scheduler, _ = create_scheduler_v2(
        optimizer,
        sched="cosine",
        num_epochs=stage.epochs,
        warmup_epochs=stage.warmup_epochs,
        warmup_lr=min(stage.lr * 0.01, 1e-5) if stage.warmup_epochs else stage.lr,
        min_lr=stage.min_lr,
        step_on_epochs=False,
        updates_per_epoch=max(1, updates_per_epoch),
    )
    return scheduler


@torch.inference_mode()
def predict(ctx: FitContext, model: nn.Module, runner: Evaluator) -> tuple[np.ndarray, np.ndarray]:
    """(logits (N, C) float64, labels (N,)) over the runner's validation batches, model in eval mode.

    Under torchrun a sharded runner yields this rank's block; the blocks are gathered in order, so
    every rank returns the same arrays and takes the same early-stopping decisions.
    """
    was_training = model.training
    model.eval()
    scores, labels = [], []
    try:
        for x, y in runner.val_batches():
            x, y = to_device(ctx, x, y)
            with autocast(ctx):
                logits = runner.forward(model, x, training=False)
            scores.append(logits.float().cpu())
            labels.append(y.cpu())
    finally:
        model.train(was_training)
    s = torch.cat(scores) if scores else torch.empty((0, 0))
    y = torch.cat(labels) if labels else torch.empty(0, dtype=torch.long)
    if runner.sharded and distributed.active():
        s, y = distributed.gather_rows(s), distributed.gather_rows(y)
    return s.double().numpy(), y.numpy()


def val_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    t = torch.from_numpy(scores)
    y = torch.from_numpy(labels).long()
    return {"val_loss": float(F.cross_entropy(t, y)), "val_acc": float((t.argmax(1) == y).double().mean())}


def train_epoch(
    ctx: FitContext,
    runner: Runner,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    ema: Any,
    scaler: Any,
    generator: torch.Generator,
    updates: int,
    description: str,
    trainable: nn.Module,
) -> tuple[dict[str, float], int]:
    """One pass over the training batches; returns (train metrics over all ranks, update count).

    `trainable` is the module the batches go through (`prepare`'s, DDP-wrapped under torchrun).
    DDP averages gradients over ranks; a rank holding n of a global batch's N items scales its
    mean loss by world * n / N, so the step equals one process's step on the whole batch.
    """
    model = ctx.model
    runner.set_train(model)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    world = distributed.world_size()
    sizes = runner.global_batch_sizes() if distributed.active() else None
    times = ctx.phases
    loss_sum, correct, seen = 0.0, 0, 0
    with ctx.reporter.task(description, total=runner.num_batches()) as advance:
        for step, (x, y) in enumerate(timed(runner.train_batches(generator), times)):
            with phase(times, "forward"):
                x, y = to_device(ctx, x, y)
                inputs, target = runner.mix(x, y)
                with autocast(ctx):
                    logits = runner.train_forward(trainable, inputs)
                    loss = runner.criterion(logits, target)
                if not math.isfinite(loss.item()):
                    raise EdgetlError(
                        f"training diverged: the loss became {loss.item()} at update {updates + 1}; lower --lr/--lp-lr"
                    )
            weight = world * y.shape[0] / sizes[step] if sizes is not None else 1.0
            scaled = loss * weight if weight != 1.0 else loss
            with phase(times, "backward"):
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(scaled).backward()
                    scaler.unscale_(optimizer)
                else:
                    scaled.backward()
            with phase(times, "step"):
                if ctx.clip_grad > 0:
                    nn.utils.clip_grad_norm_(params, ctx.clip_grad)
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
            updates += 1
            scheduler.step_update(updates)
            if ema is not None:
                ema.update(model, step=updates)
            n = y.shape[0]
            loss_sum += loss.item() * n
            correct += int((logits.detach().argmax(1) == y).sum())
            seen += n
            if times is not None:
                times.images += n
            advance(loss=loss_sum / seen)
    loss_sum, correct, seen = distributed.all_reduce_sum([loss_sum, correct, seen])
    return {"train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1)}, updates


@dataclass
class EpochEnd:
    """Handed to `on_epoch` after each epoch: the row, whether it is the best, and how to snapshot."""

    row: dict[str, Any]
    improved: bool
    stage_done: bool
    eval_model: nn.Module
    state: StageState
    scores: np.ndarray
    labels: np.ndarray
    clock: float = (
        0.0  # perf_counter() when the row was made: on_epoch adds its checkpoint time to row["seconds"]
    )
    probe: dict[str, Any] | None = None  # a solved probe's summary (C, CV scores): the run's probe.json


def _build_ema(ctx: FitContext, model: nn.Module) -> Any:
    """timm's weight EMA (with warm-up) when the run asks for it, else None."""
    if not ctx.ema:
        return None
    from timm.utils import ModelEmaV3

    return ModelEmaV3(model, decay=ctx.ema_decay, use_warmup=True)


def _start_state(
    resume: StageState | None,
    optimizer: torch.optim.Optimizer,
    ema: Any,
    scheduler: Any,
    stopper: EarlyStopping,
) -> StageState:
    """A fresh stage (early stopping re-armed), or the optimizer/EMA/schedule of a resumed one."""
    if resume is None:
        stopper.start_stage()
        scheduler.step_update(0)
        return StageState()
    if resume.optimizer is not None:
        optimizer.load_state_dict(resume.optimizer)
    if ema is not None and resume.ema is not None:
        ema.module.load_state_dict(resume.ema)
    scheduler.step_update(resume.updates)
    return resume


def run_stage(
    ctx: FitContext,
    runner: Runner,
    stage: Stage,
    stage_index: int,
    stopper: EarlyStopping,
    first_global_epoch: int,
    resume: StageState | None = None,
    on_epoch: Callable[[EpochEnd], None] | None = None,
) -> StageState:
    """Train one stage from `resume` (or its start) until its epochs run out or early stopping fires."""
    if stage.solver == "lbfgs":  # the head solved on cached features, one row (edgetl.train.probe_stage)
        from edgetl.train.probe_stage import solve_stage

        def sgd(s: Stage) -> StageState:  # the epoch loop, for a head the solver cannot fill
            return run_stage(ctx, runner, s, stage_index, stopper, first_global_epoch, resume, on_epoch)

        return solve_stage(ctx, runner, stage, stopper, first_global_epoch, on_epoch, sgd)
    model = prepare_model(ctx)
    target = runner.prepare(model)
    optimizer = build_optimizer(ctx, target, stage)
    trainable = distributed.wrap(target, ctx.device)  # DistributedDataParallel under torchrun
    scheduler = build_scheduler(optimizer, stage, runner.num_batches())
    ema = _build_ema(ctx, model)
    scaler = torch.amp.GradScaler("cuda") if ctx.device.type == "cuda" and ctx.amp == "fp16" else None
    state = _start_state(resume, optimizer, ema, scheduler, stopper)

    for epoch in range(state.epochs_done, stage.epochs):
        global_epoch = first_global_epoch + epoch
        start = time.perf_counter()
        seed = epoch_seed(ctx.seed, stage_index, epoch)
        generator = seed_everything(seed)  # data order: the same on every rank
        note = runner.begin_epoch(model, epoch, stage.epochs)
        if note:
            ctx.reporter.info(note)
        if distributed.rank() > 0:
            seed_everything(distributed.mix_seed(seed, distributed.rank()))  # own augmentation and dropout
        train, state.updates = train_epoch(
            ctx,
            runner,
            optimizer,
            scheduler,
            ema,
            scaler,
            generator,
            state.updates,
            f"epoch {global_epoch}/{ctx.total_epochs} {stage.name}",
            trainable,
        )
        eval_model = ema.module if ema is not None else model
        distributed.broadcast_buffers(model)  # BatchNorm statistics that trained per rank: rank 0's
        if ema is not None:
            distributed.broadcast_buffers(ema.module)
        scores, labels = predict(ctx, eval_model, runner)
        val = val_metrics(scores, labels)
        seconds = time.perf_counter() - start
        if epoch == 0 and getattr(getattr(runner, "features", None), "seconds", 0):
            seconds += runner.features.seconds  # the first probe epoch pays for the features
        lr = max(g["lr"] for g in optimizer.param_groups)
        row = {
            "epoch": global_epoch,
            "stage": stage.name,
            **train,
            **val,
            "lr": lr,
            "seconds": seconds,
            "best": 0,
        }
        improved = stopper.update(row, global_epoch)
        state.epochs_done = epoch + 1
        state.optimizer = optimizer.state_dict()
        state.ema = ema.module.state_dict() if ema is not None else None
        done = stopper.should_stop or state.epochs_done >= stage.epochs
        if on_epoch is not None:
            on_epoch(EpochEnd(row, improved, done, eval_model, state, scores, labels, time.perf_counter()))
        ctx.reporter.info(format_epoch(row, ctx.total_epochs, improved))
        if stopper.should_stop:
            ctx.reporter.info(
                f"early stopping: no {stopper.monitor} improvement for {stopper.patience} epochs "
                f"(best {stopper.best:.4f} at epoch {stopper.best_epoch})"
            )
            break
    return state


__all__ = [
    "METRIC_COLUMNS",
    "EpochEnd",
    "FitContext",
    "StageState",
    "build_optimizer",
    "build_scheduler",
    "epoch_seed",
    "predict",
    "run_stage",
    "seed_everything",
    "train_epoch",
    "val_metrics",
]
