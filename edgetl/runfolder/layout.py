"""Run-folder file names, the `RunFolder` paths, its errors and the file-level helpers of the readers."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, Union

from edgetl.errors import EdgetlError
from edgetl.runfolder.schema import record

T = TypeVar("T")

CONFIG = "config.yaml"  # TrainConfig, every option written out
DATA = "data.json"  # DataSummary
PROBE = "probe.json"  # ProbeRecord: the solved probe's C, CV accuracy and grid
SELECTION = "select.json"  # --model auto: edgetl.select.record.Selection (every candidate, the rule)
SELECTION_PNG = "select.png"  # its accuracy vs latency plot
METRICS = "metrics.csv"  # one row per epoch
CURVES = "curves.png"
CHECKPOINTS = "checkpoints"  # best/last .safetensors (+ .json twin of the metadata), train_state.pt
BEST = "best.safetensors"
LAST = "last.safetensors"
TRAIN_STATE = "train_state.pt"  # what --resume needs; removed when the run finishes
EVAL = "eval"
EVAL_JSON = "eval.json"
CONFUSION = "confusion.png"
EXPORT = "export"  # *.onnx + export_report.json/.md
EXPORT_REPORT = "export_report.json"
BENCH = "bench"  # bench.json/.csv/.md + *.png
BENCH_JSON = "bench.json"
RUN_YAML = "run.yaml"  # what `edgetl run` was configured with
PIPELINE = "pipeline.json"  # PipelineRecord
REPORT_HTML = "report.html"
REPORT_MD = "report.md"
DEPLOY = "deploy"  # what to ship: one .onnx + deploy.json (edgetl.runtime.deploy), written by bench


@dataclass(frozen=True)
class RunFolder:
    """The paths of one run directory."""

    root: Path

    def __init__(self, root: str | os.PathLike[str] | RunFolder):
        object.__setattr__(self, "root", root.root if isinstance(root, RunFolder) else Path(root))

    config = property(lambda s: s.root / CONFIG)
    data = property(lambda s: s.root / DATA)
    probe = property(lambda s: s.root / PROBE)
    selection = property(lambda s: s.root / SELECTION)
    selection_png = property(lambda s: s.root / SELECTION_PNG)
    metrics = property(lambda s: s.root / METRICS)
    curves = property(lambda s: s.root / CURVES)
    checkpoints = property(lambda s: s.root / CHECKPOINTS)
    best = property(lambda s: s.checkpoints / BEST)
    last = property(lambda s: s.checkpoints / LAST)
    train_state = property(lambda s: s.checkpoints / TRAIN_STATE)
    eval_dir = property(lambda s: s.root / EVAL)
    eval_json = property(lambda s: s.eval_dir / EVAL_JSON)
    confusion = property(lambda s: s.eval_dir / CONFUSION)
    export_dir = property(lambda s: s.root / EXPORT)
    export_report = property(lambda s: s.export_dir / EXPORT_REPORT)
    bench_dir = property(lambda s: s.root / BENCH)
    bench_json = property(lambda s: s.bench_dir / BENCH_JSON)
    run_yaml = property(lambda s: s.root / RUN_YAML)
    pipeline = property(lambda s: s.root / PIPELINE)
    report_html = property(lambda s: s.root / REPORT_HTML)
    report_md = property(lambda s: s.root / REPORT_MD)
    deploy_dir = property(lambda s: s.root / DEPLOY)

    def checkpoint(self, which: str = "best") -> Path:
        return self.checkpoints / f"{which}.safetensors"


RunLike = Union[str, "os.PathLike[str]", RunFolder]


class RunFileError(EdgetlError):
    """A run-folder file that cannot be read or parsed: `path` and `reason` (one line)."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path} {reason}")


class MissingRunFile(RunFileError):
    """The file does not exist (the step that writes it has not run)."""

    def __init__(self, path: Path):
        super().__init__(path, "not found")


def maybe(read: Callable[[RunFolder], T], run: RunLike) -> T | None:
    """`read(run)`, or None when its file does not exist (a corrupt file still raises)."""
    try:
        return read(RunFolder(run))
    except MissingRunFile:
        return None


# ------------------------------------------------------------------------------------ file level


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MissingRunFile(path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise RunFileError(path, f"is unreadable ({type(e).__name__})") from None


def _json(path: Path) -> dict[str, Any]:
    text = _text(path)
    try:
        data = json.loads(text)
    except ValueError as e:
        raise RunFileError(path, f"is unreadable ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict):
        raise RunFileError(path, f"is unreadable (expected a JSON object, got {type(data).__name__})")
    return data


def _typed(path: Path, build: Callable[[], T]) -> T:
    """Run a dataclass constructor on parsed data; a schema mismatch names the file."""
    try:
        return build()
    except RunFileError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise RunFileError(path, f"does not fit its schema ({first})") from None


def json_record(
    path: Path, cls: type[T], adapt: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> T:
    """A JSON file as dataclass `cls` (`schema.record`), after `adapt` reshapes what the file nests."""
    d = _json(path)
    return _typed(path, lambda: record(cls, adapt(d) if adapt else d))


def _known(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    """The keys of `d` that are init fields of dataclass `cls` (derived keys like acc_drop_points dropped)."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    return {k: v for k, v in d.items() if k in names}
