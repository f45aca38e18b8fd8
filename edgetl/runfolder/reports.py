"""Readers of export/export_report.json, bench/bench.json and pipeline.json."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgetl.runfolder.layout import BENCH_JSON, RunFolder, RunLike, _json, _known, _typed, json_record
from edgetl.runfolder.schema import record

if TYPE_CHECKING:
    from edgetl.bench.results import BenchReport
    from edgetl.export.report import ExportReport


def read_export_report(run: RunLike) -> ExportReport:
    """export/export_report.json as the `ExportReport` `edgetl export` wrote it from."""
    from edgetl.export.report import ExportReport, VariantReport

    path = RunFolder(run).export_report
    d = _json(path)

    def build() -> ExportReport:
        variants = [VariantReport(**_known(VariantReport, v)) for v in d.get("variants") or []]
        rest = _known(ExportReport, d)
        if "input_size" in rest:
            rest["input_size"] = tuple(rest["input_size"])
        return ExportReport(**{**rest, "variants": variants})

    return _typed(path, build)


def read_bench_report(run: RunLike) -> BenchReport:
    """bench/bench.json (or a bench.json path / a folder holding one) as the `BenchReport`."""
    from edgetl.bench.results import BenchReport

    p = run.bench_json if isinstance(run, RunFolder) else Path(run)
    if p.is_dir():
        p = p / BENCH_JSON if (p / BENCH_JSON).is_file() else RunFolder(p).bench_json
    d = _json(p)
    return _typed(p, lambda: _nested_shapes(record(BenchReport, d)))


def _nested_shapes(rep: BenchReport) -> BenchReport:
    """The parts of bench.json the report reads as mappings or text (a file from another machine may be
    damaged or hand-edited): a wrong type is a TypeError, which `_typed` turns into one line."""
    cpu = rep.env.get("cpu")
    for name, v in (("env.cpu", cpu), ("env.versions", rep.env.get("versions")),
                    ("env.cpu.flags", cpu.get("flags") if isinstance(cpu, dict) else None)):  # fmt: skip
        if v is not None and not isinstance(v, dict):
            raise TypeError(f"{name} must be a mapping, got {type(v).__name__}")
    rec = rep.recommendation
    for key in ("choice", "runner_up", "reason", "deploy_dir"):
        if rec.get(key) is not None and not isinstance(rec[key], str):
            raise TypeError(f"recommendation.{key} must be text, got {type(rec[key]).__name__}")
    rejected = rec.get("rejected") or []
    if not isinstance(rejected, list) or not all(isinstance(x, str) for x in rejected):
        raise TypeError("recommendation.rejected must be a list of text")
    return rep


@dataclass(frozen=True)
class StepRecord:
    step: str
    status: str = "pending"  # ok | failed | skipped | pending
    seconds: float | None = None
    command: str = ""  # the command that redoes this step alone
    error: str | None = None


@dataclass(frozen=True)
class PipelineRecord:
    """pipeline.json: what `edgetl run` did on this folder (written by `edgetl.pipeline`)."""

    command: str | None = None
    rerun_all: str | None = None
    steps: tuple[StepRecord, ...] = ()
    target: str | None = None
    target_reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    total_seconds: float | None = None
    call_seconds: float | None = None
    environment: dict[str, Any] | None = None

    def step(self, name: str) -> StepRecord | None:
        return next((s for s in self.steps if s.step == name), None)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_pipeline(run: RunLike) -> PipelineRecord:
    def adapt(d: dict[str, Any]) -> dict[str, Any]:
        return {**d, "steps": [s for s in d.get("steps") or [] if isinstance(s, dict)]}

    return json_record(RunFolder(run).pipeline, PipelineRecord, adapt)
