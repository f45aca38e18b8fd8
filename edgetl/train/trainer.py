"""`train(cfg)`: check everything, run the mode's stages through the one loop, keep the best.

    from edgetl.train import TrainConfig, train
    result = train(TrainConfig(data="data/hymenoptera", mode="lp-ft"))
    print(result.run_dir, result.best_epoch, result.best_metrics["val_acc"])

Every bad input (data layout, model name, weight source, option values) fails *before* the run
directory is created, so a failed start leaves nothing behind. After each epoch the best and
last checkpoints, metrics.csv and the resumable train state are written atomically; at the end
the best epoch's weights are restored, evaluated on the validation split (eval/) and the train
state is removed. `--resume RUN_DIR` re-reads the run's config.yaml and continues after the
last complete epoch with the same results as an uninterrupted run (CPU, same seed).

Under torchrun every process calls `train`: the process group is started and destroyed here,
rank 0 settles the options (run folder, resumed config) and reads the resume state for all,
every rank checks its inputs and an error anywhere stops every rank with one message, and only
rank 0 writes files or prints (see `edgetl.train.distributed`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgetl._lock import lock_scope
from edgetl.config import ConfigError, dump_yaml
from edgetl.errors import DataError, EdgetlError
from edgetl.progress import Reporter
from edgetl.train.config import TrainConfig, flag_names
from edgetl.train.result import TrainResult

if TYPE_CHECKING:
    import torch
    from torch import nn

    from edgetl.data import DataSplits
    from edgetl.models import ModelInfo
    from edgetl.train.modes import Stage
    from edgetl.train.rundir import RunDir

# The options that may accompany --resume (the CLI's and the library's one list): they do not change
# what is computed. `out` is not one: the resumed folder is the run folder.
RESUME_MAY_CHANGE = ("resume", "quiet", "cache_dir")


def resume_config(cfg: TrainConfig) -> TrainConfig:
    """The run's own config.yaml; options given alongside --resume must agree with it."""
    from edgetl.runfolder import read_train_config

    run_dir = Path(cfg.resume)
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise EdgetlError(f"--resume {run_dir}: no config.yaml there; is it an edgetl run directory?")
    saved = read_train_config(run_dir)  # the run folder's one reader of config.yaml
    default = TrainConfig()
    flags = flag_names()
    for f in dataclasses.fields(TrainConfig):
        given, was = getattr(cfg, f.name), getattr(saved, f.name)
        if f.name in RESUME_MAY_CHANGE or given == getattr(default, f.name) or given == was:
            continue
        raise ConfigError(
            f"{flags[f.name]} {given!r} differs from the run's {was!r}; --resume continues a run exactly as "
            "configured in its config.yaml (start a new run to change options)"
        )
    return dataclasses.replace(
        saved, resume=str(run_dir), quiet=cfg.quiet, cache_dir=cfg.cache_dir or saved.cache_dir
    )


def _settle(cfg: TrainConfig) -> TrainConfig:
    """The run's final options, decided once (by rank 0 under torchrun): resumed config, absolute
    inputs, and the run folder (a timestamped default must not differ between processes)."""
    if cfg.resume:
        cfg = resume_config(cfg)
    if not cfg.data:
        raise ConfigError(
            "--data is required: an image folder (DIR/train/<class>, DIR/val/<class>) or a built-in dataset such as 'digits'"
        )
    cfg = _absolute_inputs(cfg)
    if not cfg.resume and not cfg.out:
        cfg = dataclasses.replace(cfg, out=str(cfg.run_dir()))
    return cfg


def _absolute_inputs(cfg: TrainConfig) -> TrainConfig:
    """Record folders and weight files as absolute paths so --resume and eval work from anywhere."""
    changes: dict[str, Any] = {}
    data = Path(cfg.data).expanduser()
    if data.is_dir():
        changes["data"] = str(data.resolve())
    weights = Path(cfg.pretrained).expanduser()
    if weights.is_file():
        changes["pretrained"] = str(weights.resolve())
    return dataclasses.replace(cfg, **changes) if changes else cfg


@dataclass
class _Checked:
    """Everything `train` needs, built and validated before any file is written."""

    cfg: TrainConfig
    run: RunDir
    device: torch.device
    splits: DataSplits
    stages: list[Stage]
    model: nn.Module
    info: ModelInfo


def _check_inputs(cfg: TrainConfig, reporter: Reporter) -> _Checked:
    """Resolve and validate data, model, weights and options; raises before the run folder exists.

    No collectives in here: under torchrun every rank runs it inside `distributed.agree`.
    """
    import torch

    from edgetl.data import build_transform, load_splits, skipped_message
    from edgetl.models import create_classifier
    from edgetl.train import distributed
    from edgetl.train.device import resolve_device
    from edgetl.train.modes import MODES
    from edgetl.train.rundir import RunDir

    run = RunDir(cfg.run_dir(), is_writer=distributed.is_main())
    if not cfg.resume:
        run.check_new()
    device = distributed.local_device(resolve_device(cfg.device))
    stages = MODES.get(cfg.mode)(cfg)
    finetunes = any(s.kind == "finetune" for s in stages)
    distributed.check_options(
        cfg, bn_trains=finetunes and not cfg.freeze_bn, mixup=finetunes and (cfg.mixup > 0 or cfg.cutmix > 0)
    )
    splits = load_splits(cfg.data, cfg.val_split, cfg.seed)
    msg = skipped_message(splits.skipped)
    if msg:
        reporter.warn(msg)
    torch.manual_seed(cfg.seed)  # the fresh head's initialisation
    model, info = create_classifier(
        cfg.model,
        len(splits.classes),
        cfg.pretrained,
        drop_rate=cfg.drop,
        drop_path_rate=cfg.drop_path,
        img_size=cfg.img_size,
    )
    for note in info.notes:  # an option this model does not take is dropped, said, and recorded as 0
        reporter.info(note)
    if "drop_path_rate" in info.dropped:
        cfg = dataclasses.replace(cfg, drop_path=0.0)
    if finetunes:
        build_transform(info.data_config, train=True, aug=cfg.augment())  # a bad --auto-augment fails now
    return _Checked(cfg, run, device, splits, stages, model, info)


@lock_scope()  # the run folder's writer lock is held until training ends (or the process dies)
def train(cfg: TrainConfig, reporter: Reporter | None = None) -> TrainResult:
    """Run (or resume) one training run; see the module docstring. Under torchrun, this process's part."""
    from edgetl.train import distributed

    with distributed.process_group():
        return _train(cfg, reporter)


def _train(cfg: TrainConfig, reporter: Reporter | None) -> TrainResult:
    import torch

    from edgetl.models import CheckpointMeta
    from edgetl.train import distributed
    from edgetl.train.device import resolve_workers
    from edgetl.train.early_stopping import EarlyStopping
    from edgetl.train.feature_cache import FeatureCache
    from edgetl.train.loop import FitContext
    from edgetl.train.runners import RunnerContext
    from edgetl.train.session import RunSession

    started = time.perf_counter()
    if reporter is None or not distributed.is_main():
        reporter = Reporter(quiet=cfg.quiet, enabled=distributed.is_main())  # ranks > 0 are silent
    cfg = distributed.from_main(lambda: _settle(cfg))
    cfg, auto = _auto_model(cfg, reporter)
    c = distributed.agree(lambda: _check_inputs(cfg, reporter))
    cfg, run, device, splits, stages, model = c.cfg, c.run, c.device, c.splits, c.stages, c.model
    distributed.check_backend(device)

    state = None
    if cfg.resume:
        state = distributed.from_main(lambda: _resume_state(run, splits))
    else:
        run.create()
        run.write_text(run.config, dump_yaml(dataclasses.replace(cfg, out=str(run.path))))
        run.write_json(run.data, splits.summary())
        if auto is not None and run.is_writer:
            auto.write(run.path)  # select.json + select.png: why this model

    model.to(device)
    if device.type == "cuda" and cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    if device.type == "cpu" and cfg.amp == "fp16":
        reporter.info("device cpu: --amp fp16 applies only on CUDA; training in float32")
    ctx = FitContext.for_run(cfg, model, device, reporter, total_epochs=sum(s.epochs for s in stages))
    rctx = RunnerContext(
        cfg=cfg,
        splits=splits,
        data_config=c.info.data_config,
        device=device,
        num_workers=resolve_workers(cfg.num_workers, device, decodes=splits.layout != "builtin"),
        reporter=reporter,
        feature_cache=FeatureCache(cfg.feature_cache_dir()),
    )
    meta = CheckpointMeta(
        model=cfg.model,
        labels=list(splits.classes),
        data_config=c.info.data_config,
        weights=c.info.weights,
        run_id=run.name,
        drop_rate=cfg.drop,
        drop_path_rate=cfg.drop_path,
    )
    session = RunSession(run, ctx, meta, EarlyStopping(cfg.monitor, cfg.patience, cfg.min_delta))
    start_stage, stage_resume = 0, None
    if state is not None:
        start_stage, stage_resume = session.restore(state)
        reporter.info(f"resuming {run.path} after epoch {len(session.rows)}")
    else:
        reporter.info(
            f"training {cfg.model} ({c.info.weights}) on {splits.source}: {len(splits.train)} train / "
            f"{len(splits.val)} val images, {len(splits.classes)} classes, mode {cfg.mode}, device {device.type}; "
            f"run dir {run.path}"
        )
    if distributed.active():
        reporter.info(distributed.describe(device, cfg.batch_size))
    try:
        runner = None
        for si in range(start_stage, len(stages)):
            runner = session.run_stage(rctx, stages, si, stage_resume if si == start_stage else None)
        return session.finish(rctx, stages, runner, splits, started)
    except KeyboardInterrupt:
        if run.state.exists():
            reporter.warn(f"interrupted; continue with: edgetl train --resume {run.path}")
        raise


def _auto_model(cfg: TrainConfig, reporter: Reporter) -> tuple[TrainConfig, Any]:
    """--model auto: the selection runs first (on rank 0) and its pick is what trains; else unchanged."""
    if cfg.model != "auto":
        return cfg, None
    from edgetl.select.auto import choose_model
    from edgetl.train import distributed

    return distributed.from_main(lambda: choose_model(cfg, reporter))


def _resume_state(run: RunDir, splits: DataSplits) -> dict[str, Any]:
    run.lock("--resume")  # before reading the state: two resumes of one run never both train
    state = run.load_state()
    _check_same_data(run, splits)
    run.clean_temp()
    return state


def _check_same_data(run: RunDir, splits: DataSplits) -> None:
    from edgetl.runfolder import RunFileError, read_data_summary

    try:
        recorded = read_data_summary(run.path).fingerprint
    except RunFileError:
        recorded = None
    if recorded and recorded != splits.fingerprint:
        raise DataError(
            f"--resume {run.path}: the data changed since the run started (files added, removed or modified); "
            "it cannot continue exactly: start a new run"
        )


__all__ = ["TrainResult", "resume_config", "train"]
