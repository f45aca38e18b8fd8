"""`evaluate(run_dir)`: the best checkpoint on validation data, and optional K-fold cross-validation.

    report = evaluate("runs/lite0")                      # the run's own val split -> RUN_DIR/eval/
    report = evaluate("runs/lite0", data="photos_2025")  # other data with the same classes
    report = evaluate("runs/lite0", cv=5)                # + stratified 5-fold CV, mean and std

The checkpoint is evaluated through the full model on images with the eval transform, exactly as
export and the runtime will see it. Cross-validation re-fits a linear head per fold on features of
the *pretrained* backbone (train + val pooled, via the feature cache, so it costs seconds). For a
linear-probe run that is the run's own recipe; for finetune / lp-ft runs it is an honest estimate of
the probe's accuracy on the data, not of the fine-tuned model: the fine-tuned backbone has seen the
training images, and cross-validating it would take K full fine-tunings.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from edgetl.errors import DataError, EdgetlError
from edgetl.progress import Reporter
from edgetl.train.config import TrainConfig


def _run_config(run_dir: Path) -> TrainConfig:
    from edgetl.runfolder import MissingRunFile, read_train_config

    try:
        return read_train_config(run_dir)
    except MissingRunFile:
        raise EdgetlError(
            f"{run_dir}: no config.yaml; pass a run directory written by edgetl train"
        ) from None


def _same_data(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    if pa.exists() and pb.exists():
        return pa.resolve() == pb.resolve()
    return a == b


def evaluate(
    run_dir: str | Path,
    data: str | None = None,
    cv: int | None = None,
    val_split: float | None = None,
    split: str = "val",
    device: str = "auto",
    cache_dir: str | None = None,
    reporter: Reporter | None = None,
) -> dict[str, Any]:
    """Metrics of RUN_DIR's best checkpoint on `data` (default: the run's data), written under RUN_DIR/eval/."""
    import torch

    from edgetl._io import atomic_write_json
    from edgetl.data import ImageDataset, build_transform, load_splits
    from edgetl.metrics import classification_metrics, format_metrics, plot_confusion
    from edgetl.models import load_classifier
    from edgetl.train.device import resolve_device, resolve_workers
    from edgetl.train.loop import FitContext, predict
    from edgetl.train.runners import ImageEval

    run_dir = Path(run_dir)
    reporter = reporter or Reporter()
    if split not in ("val", "all"):
        raise EdgetlError(f"--split must be val or all (got {split!r})")
    if cv is not None and cv < 2:
        raise EdgetlError(f"--cv must be >= 2 folds (got {cv})")
    cfg = _run_config(run_dir)
    model, meta = load_classifier(run_dir, "best")
    same = data is None or _same_data(data, cfg.data)
    splits = load_splits(cfg.data if same else data, cfg.val_split if same else val_split, cfg.seed)
    if list(splits.classes) != list(meta.labels):
        raise DataError(
            f"--data {data or cfg.data}: classes {splits.classes} differ from the run's {meta.labels}; "
            "evaluate on data with the same class folders"
        )
    dev = resolve_device(device)
    model.to(dev)
    samples = splits.val if split == "val" else [*splits.train, *splits.val]
    ds = ImageDataset(samples, build_transform(meta.data_config, train=False))
    workers = resolve_workers(None, dev)
    if workers:
        ds.share_failures()
    loader = torch.utils.data.DataLoader(ds, batch_size=64, num_workers=workers)

    ctx = FitContext(model=model, device=dev, seed=cfg.seed, reporter=reporter)
    scores, labels = predict(ctx, model, ImageEval(loader))
    metrics = classification_metrics(scores, labels, meta.labels)
    report: dict[str, Any] = {
        **metrics,
        "split": split,
        "data": splits.source,
        "checkpoint": "best",
        "epoch": meta.epoch,
    }
    if ds.failed:
        from edgetl.data import skipped_message

        reporter.warn(f"{skipped_message(ds.failed)} (neighbouring images were used instead)")
    if cv:
        report["cv"] = cross_validate(cfg, splits, cv, dev, reporter, cache_dir=cache_dir, run_dir=run_dir)
    out_dir = run_dir / "eval"
    if not same:
        out_dir = out_dir / (re.sub(r"[^A-Za-z0-9._-]+", "_", Path(str(data)).name) or "data")
    atomic_write_json(out_dir / "eval.json", report)
    plot_confusion(metrics["confusion"], meta.labels, out_dir / "confusion.png")
    reporter.result(format_metrics(metrics))
    if cv:
        c = report["cv"]
        reporter.result(
            f"{c['folds']}-fold CV ({c['method']}): top1 {100 * c['top1_mean']:.2f}% ± {100 * c['top1_std']:.2f}, "
            f"macro-F1 {c['macro_f1_mean']:.4f} ± {c['macro_f1_std']:.4f}"
        )
    reporter.result(f"wrote {out_dir / 'eval.json'} and {out_dir / 'confusion.png'}")
    return report


def _probe_epochs(cfg: TrainConfig, run_dir: Path | None) -> tuple[int, str]:
    """Epochs per fold: the run's best probe epoch for linear-probe runs, else --lp-epochs."""
    import csv

    if cfg.mode == "linear-probe" and run_dir is not None and (run_dir / "metrics.csv").is_file():
        with open(run_dir / "metrics.csv", newline="", encoding="utf-8") as f:
            rows = [r for r in csv.DictReader(f) if r.get("stage") == "probe"]
        best = [i for i, r in enumerate(rows) if r.get("best") == "1"]
        if best:
            return best[0] + 1, "the run's best probe epoch"
    return cfg.lp_epochs, "--lp-epochs"


def cross_validate(
    cfg: TrainConfig,
    splits: Any,
    k: int,
    device: Any,
    reporter: Reporter,
    cache_dir: str | None = None,
    run_dir: Path | None = None,
) -> dict[str, Any]:
    """Stratified K-fold over train + val: a fresh linear head per fold on cached pretrained features."""
    import dataclasses

    import torch
    from sklearn.model_selection import StratifiedKFold

    from edgetl.metrics import classification_metrics
    from edgetl.models import create_classifier
    from edgetl.models.heads import reset_head
    from edgetl.train.early_stopping import EarlyStopping
    from edgetl.train.feature_cache import FeatureCache, FeatureSet, get_features
    from edgetl.train.loop import FitContext, predict, run_stage
    from edgetl.train.modes import probe_stage
    from edgetl.train.runners import ProbeRunner, RunnerContext

    torch.manual_seed(cfg.seed)
    model, info = create_classifier(
        cfg.model, len(splits.classes), cfg.pretrained, drop_rate=cfg.drop, img_size=cfg.img_size
    )
    model.to(device)
    cache = FeatureCache(cache_dir or cfg.feature_cache_dir())
    rctx = RunnerContext(cfg, splits, info.data_config, device, 0, reporter, cache)
    feats = get_features(model, splits, info.data_config, cache, device, reporter, model_name=cfg.model)
    x = torch.cat([feats.train_x, feats.val_x])
    y = torch.cat([feats.train_y, feats.val_y])
    epochs, epochs_from = _probe_epochs(cfg, run_dir)
    stage = dataclasses.replace(probe_stage(cfg), epochs=epochs)
    try:
        folds = list(
            StratifiedKFold(n_splits=k, shuffle=True, random_state=cfg.seed).split(
                np.zeros(len(y)), y.numpy()
            )
        )
    except ValueError as e:
        raise DataError(f"--cv {k}: {e}; use fewer folds") from None
    quiet = Reporter(quiet=True)
    per_fold = []
    for i, (tr, te) in enumerate(folds):
        torch.manual_seed(cfg.seed + i)
        reset_head(model, len(splits.classes))  # distillation heads start tied, as in create_classifier
        model.to(device)
        tr_t, te_t = torch.as_tensor(tr), torch.as_tensor(te)
        fold_feats = FeatureSet(x[tr_t], y[tr_t], x[te_t], y[te_t])
        runner = ProbeRunner(rctx, features=fold_feats)
        ctx = FitContext.for_run(cfg, model, device, quiet, total_epochs=epochs)
        run_stage(ctx, runner, stage, i, EarlyStopping(cfg.monitor, patience=0), first_global_epoch=1)
        scores, labels = predict(ctx, model, runner)
        m = classification_metrics(scores, labels, splits.classes)
        per_fold.append(
            {"top1": m["top1"], "macro_f1": m["macro_f1"], "auc_macro_ovr": m["auc_macro_ovr"], "n": m["n"]}
        )
        reporter.info(f"fold {i + 1}/{k}: top1 {100 * m['top1']:.2f}% on {m['n']} images")
    out: dict[str, Any] = {
        "folds": k,
        "method": f"linear probe on frozen {cfg.model} ({info.weights}) features, {epochs} epochs ({epochs_from})",
        "per_fold": per_fold,
    }
    if cfg.mode != "linear-probe":
        out["note"] = (
            f"this run is {cfg.mode}: CV estimates the linear probe on the pretrained backbone, "
            "not the fine-tuned model (its backbone has seen the training images)"
        )
    for key in ("top1", "macro_f1", "auc_macro_ovr"):
        vals = np.array([f[key] for f in per_fold if f[key] is not None], dtype=float)
        out[f"{key}_mean"] = float(vals.mean()) if vals.size else None
        out[f"{key}_std"] = float(vals.std(ddof=1)) if vals.size > 1 else None
    return out


__all__ = ["cross_validate", "evaluate"]
