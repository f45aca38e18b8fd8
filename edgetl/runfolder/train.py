"""Readers of what `edgetl train` writes: config.yaml, data.json, metrics.csv, checkpoint metadata, eval.json."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgetl.runfolder.layout import (
    MissingRunFile,
    RunFileError,
    RunFolder,
    RunLike,
    _text,
    _typed,
    json_record,
)
from edgetl.runfolder.schema import record

if TYPE_CHECKING:
    from edgetl.models.checkpoint import CheckpointMeta
    from edgetl.train.config import TrainConfig


def read_train_config(run: RunLike) -> TrainConfig:
    """config.yaml as the TrainConfig it was written from (unknown keys are errors, as for recipes)."""
    from edgetl.config import ConfigError, from_dict, read_yaml
    from edgetl.train.config import TrainConfig

    path = RunFolder(run).config
    if not path.is_file():
        raise MissingRunFile(path)
    try:
        return from_dict(TrainConfig, read_yaml(path), where=str(path))
    except ConfigError as e:
        msg = str(e).removeprefix(f"{path}: ").removeprefix(f"cannot read config {path}: ")
        raise RunFileError(path, f"is unreadable ({msg})") from None


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str = ""


@dataclass(frozen=True)
class DataSummary:
    """data.json: what training saw (written from `DataSplits.summary()`)."""

    source: str = ""
    layout: str = ""
    val_split: float | None = None
    seed: int = 0
    classes: tuple[str, ...] = ()
    num_train: int | None = None
    num_val: int | None = None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> class -> images
    skipped: tuple[SkippedFile, ...] = ()  # the first files listed (all of them, as written today)
    skipped_count: int = 0
    fingerprint: str | None = None


def _data_json(d: dict[str, Any]) -> dict[str, Any]:
    """data.json nests the skipped files as {"count", "files"} (a plain list in older runs)."""
    sk = d.get("skipped") or {}
    files = sk.get("files") or [] if isinstance(sk, dict) else sk
    files = [f if isinstance(f, dict) else {"path": f} for f in files]
    count = sk.get("count", len(files)) if isinstance(sk, dict) else len(files)
    return {**d, "skipped": files, "skipped_count": count}


def read_data_summary(run: RunLike) -> DataSummary:
    return json_record(RunFolder(run).data, DataSummary, _data_json)


@dataclass(frozen=True)
class EpochMetrics:
    """One row of metrics.csv; a value the run did not measure is None."""

    epoch: int | None  # 1-based, counted across stages (probe epochs first)
    stage: str = ""  # "probe" | "finetune"
    train_loss: float | None = None  # the training loss (smoothing and mixup included), mean per image
    train_acc: float | None = None  # top-1 against the images' own labels (under mixup too), 0..1
    val_loss: float | None = None  # cross-entropy on the val split (the EMA weights under --ema)
    val_acc: float | None = None  # top-1 on the val split, 0..1: what --monitor val_acc ranks
    lr: float | None = None  # the largest parameter group's LR at the epoch's end (0 for a solved probe)
    seconds: float | None = None  # wall time of the epoch; the first probe epoch includes the feature pass
    best: bool = False  # this epoch's weights are checkpoints/best.safetensors


@dataclass(frozen=True)
class Metrics:
    columns: tuple[str, ...]  # the csv header, in file order
    rows: tuple[EpochMetrics, ...]

    def best_row(self) -> EpochMetrics | None:
        """The epoch whose weights the run kept (the last one marked best: each new best is marked).

        Runs without the column: the highest val accuracy (the first of equals).
        """
        if marked := [r for r in self.rows if r.best]:
            return marked[-1]
        scored = [r for r in self.rows if r.val_acc is not None]
        return max(scored, key=lambda r: r.val_acc or 0.0) if scored else None


def read_metrics(run: RunLike) -> Metrics:
    path = RunFolder(run).metrics
    text = _text(path)

    def build() -> Metrics:
        reader = csv.DictReader(text.splitlines())
        rows = tuple(record(EpochMetrics, r) for r in reader)
        return Metrics(tuple(reader.fieldnames or ()), rows)

    try:
        return _typed(path, build)
    except csv.Error as e:
        raise RunFileError(path, f"is unreadable (csv.Error: {e})") from None


def read_checkpoint_meta(run: RunLike, which: str = "best") -> CheckpointMeta:
    """The metadata of checkpoints/<which>.safetensors, from its JSON twin (no tensor is read)."""
    from edgetl.errors import CheckpointError
    from edgetl.models.checkpoint import CheckpointMeta

    path = RunFolder(run).checkpoint(which).with_suffix(".json")
    text = _text(path)
    try:
        return CheckpointMeta.from_json(text, str(path))
    except CheckpointError as e:
        raise RunFileError(path, str(e).removeprefix(f"{path}: ")) from None


@dataclass(frozen=True)
class ClassMetrics:
    precision: float | None
    recall: float | None
    f1: float | None
    support: int | None


@dataclass(frozen=True)
class EvalSummary:
    """eval/eval.json: classification metrics of the best checkpoint on val."""

    n: int | None = None
    top1: float | None = None
    top5: float | None = None
    top5_k: int = 5
    macro_f1: float | None = None
    auc_macro_ovr: float | None = None
    auc_note: str | None = None
    per_class: dict[str, ClassMetrics] = field(default_factory=dict)
    checkpoint: str | None = None
    data: str | None = None
    epoch: int | None = None


def _eval_json(d: dict[str, Any]) -> dict[str, Any]:
    """eval.json holds the metrics under "metrics" next to what was evaluated (or flat, in older runs)."""
    m = d["metrics"] if isinstance(d.get("metrics"), dict) else d
    return {**m, "checkpoint": d.get("checkpoint"), "data": d.get("data"), "epoch": d.get("epoch")}


def read_eval(run: RunLike) -> EvalSummary:
    return json_record(RunFolder(run).eval_json, EvalSummary, _eval_json)
