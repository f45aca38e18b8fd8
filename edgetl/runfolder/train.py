"""Readers of what `edgetl train` writes: config.yaml, data.json, metrics.csv, checkpoint metadata, eval.json."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from edgetl.runfolder.layout import (
    MissingRunFile,
    RunFileError,
    RunFolder,
    RunLike,
    _json,
    _opt_float,
    _opt_int,
    _text,
    _typed,
)

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

    source: str
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


def read_data_summary(run: RunLike) -> DataSummary:
    path = RunFolder(run).data
    d = _json(path)

    def build() -> DataSummary:
        sk = d.get("skipped") or {}
        files = sk.get("files") or [] if isinstance(sk, dict) else sk
        items = tuple(
            SkippedFile(str(f.get("path", "")), str(f.get("reason", "")))
            if isinstance(f, dict)
            else SkippedFile(str(f))
            for f in files
        )
        counts = {s: {str(c): int(n) for c, n in v.items()} for s, v in (d.get("counts") or {}).items()}
        return DataSummary(
            source=str(d.get("source", "")),
            layout=str(d.get("layout") or ""),
            val_split=_opt_float(d.get("val_split")),
            seed=int(d.get("seed") or 0),
            classes=tuple(str(c) for c in d.get("classes") or ()),
            num_train=_opt_int(d.get("num_train")),
            num_val=_opt_int(d.get("num_val")),
            counts=counts,
            skipped=items,
            skipped_count=int(sk.get("count", len(items)) if isinstance(sk, dict) else len(items)),
            fingerprint=d.get("fingerprint"),
        )

    return _typed(path, build)


@dataclass(frozen=True)
class EpochMetrics:
    """One row of metrics.csv; a value the run did not measure is None."""

    epoch: int | None
    stage: str = ""
    train_loss: float | None = None
    train_acc: float | None = None
    val_loss: float | None = None
    val_acc: float | None = None
    lr: float | None = None
    seconds: float | None = None
    best: bool = False


@dataclass(frozen=True)
class Metrics:
    columns: tuple[str, ...]  # the csv header, in file order
    rows: tuple[EpochMetrics, ...]

    def best_row(self) -> EpochMetrics | None:
        """The row with the highest val accuracy (the first of equals)."""
        scored = [r for r in self.rows if r.val_acc is not None]
        return max(scored, key=lambda r: r.val_acc or 0.0) if scored else None


_FLOAT_COLUMNS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")


def read_metrics(run: RunLike) -> Metrics:
    path = RunFolder(run).metrics
    text = _text(path)

    def build() -> Metrics:
        reader = csv.DictReader(text.splitlines())
        rows = tuple(
            EpochMetrics(
                epoch=_opt_int(r.get("epoch")),
                stage=str(r.get("stage") or ""),
                best=str(r.get("best") or "0").strip() in ("1", "True", "true"),
                **{c: _opt_float(r.get(c)) for c in _FLOAT_COLUMNS},
            )
            for r in reader
        )
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


def read_eval(run: RunLike) -> EvalSummary:
    path = RunFolder(run).eval_json
    d = _json(path)

    def build() -> EvalSummary:
        m = d["metrics"] if isinstance(d.get("metrics"), dict) else d
        per = {
            str(name): ClassMetrics(
                _opt_float(v.get("precision")),
                _opt_float(v.get("recall")),
                _opt_float(v.get("f1")),
                _opt_int(v.get("support")),
            )  # fmt: skip
            for name, v in (m.get("per_class") or {}).items()
        }
        return EvalSummary(
            n=_opt_int(m.get("n")),
            top1=_opt_float(m.get("top1")),
            top5=_opt_float(m.get("top5")),
            top5_k=int(m.get("top5_k", 5)),
            macro_f1=_opt_float(m.get("macro_f1")),
            auc_macro_ovr=_opt_float(m.get("auc_macro_ovr")),
            auc_note=m.get("auc_note") or None,
            per_class=per,
            checkpoint=None if d.get("checkpoint") is None else str(d["checkpoint"]),
            data=None if d.get("data") is None else str(d["data"]),
            epoch=_opt_int(d.get("epoch")),
        )

    return _typed(path, build)
