"""Everything the report shows, read once from the run directory through `edgetl.runfolder`.

    data = load_run("runs/digits")
    data.export.variants, data.why("bench")        # typed content, or why it is missing

A file that is missing or unreadable leaves its field None and `why(name)` says which file and
what was wrong, so its section shows "not run" instead of failing the whole report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgetl import runfolder as rf

if TYPE_CHECKING:
    from edgetl.bench.results import BenchReport
    from edgetl.export.report import ExportReport
    from edgetl.select.record import Selection
    from edgetl.train.config import TrainConfig

READERS = {
    "config": rf.read_train_config,
    "data": rf.read_data_summary,
    "metrics": rf.read_metrics,
    "eval": rf.read_eval,
    "export": rf.read_export_report,
    "bench": rf.read_bench_report,
    "pipeline": rf.read_pipeline,
    "probe": rf.read_probe,
    "selection": rf.read_selection,
}


@dataclass(frozen=True)
class RunData:
    folder: rf.RunFolder
    config: TrainConfig | None = None
    data: rf.DataSummary | None = None
    metrics: rf.Metrics | None = None
    eval: rf.EvalSummary | None = None
    export: ExportReport | None = None
    bench: BenchReport | None = None
    pipeline: rf.PipelineRecord | None = None
    probe: rf.ProbeRecord | None = None
    selection: Selection | None = None  # select.json: --model auto runs
    errors: dict[str, str] = field(default_factory=dict)  # reader name -> "bench.json not found"

    def why(self, name: str) -> str:
        return self.errors.get(name, "")

    @property
    def environment(self) -> dict[str, Any] | None:
        """The bench's record of the machine, else the one `edgetl run` captured."""
        return (self.bench.env if self.bench else None) or (
            self.pipeline.environment if self.pipeline else None
        )

    def variant_targets(self) -> dict[str, str]:
        """Exported file stem -> the target it was made for."""
        if self.export is None:
            return {}
        return {stem(v.file): v.target or self.export.target for v in self.export.variants if v.file}


def stem(path: Any) -> str:
    from pathlib import Path

    return Path(str(path)).name.removesuffix(".onnx") if path else ""


def load_run(run_dir: str | os.PathLike[str]) -> RunData:
    folder = rf.RunFolder(run_dir)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, read in READERS.items():
        try:
            values[name] = read(folder)
        except rf.RunFileError as e:
            errors[name] = f"{e.path.name} {e.reason}"
    return RunData(folder, **values, errors=errors)


__all__ = ["READERS", "RunData", "load_run", "stem"]
