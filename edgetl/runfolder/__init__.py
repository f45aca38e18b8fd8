"""The run folder: its layout (every file name in one place) and one typed reader per file.

    from edgetl import runfolder as rf
    run = rf.RunFolder("runs/ants")
    cfg = rf.read_train_config(run)          # config.yaml  -> TrainConfig
    data = rf.read_data_summary(run)         # data.json    -> DataSummary
    probe = rf.maybe(rf.read_probe, run)     # probe.json   -> ProbeRecord (solved probe runs)
    sel = rf.maybe(rf.read_selection, run)   # select.json -> Selection (--model auto runs)
    rep = rf.read_export_report(run)         # export/export_report.json -> ExportReport
    bench = rf.maybe(rf.read_bench_report, run)   # bench/bench.json -> BenchReport, None if not run
    run.bench_json, run.export_dir, run.best  # paths (the writers use the same names)

`edgetl train` writes config.yaml, data.json, metrics.csv, curves.png, checkpoints/ and eval/;
`edgetl export` export/; `edgetl bench` bench/; `edgetl run` run.yaml, pipeline.json and the
report. Readers take a run directory (str, Path or RunFolder) and return typed data; a file that
is absent raises `MissingRunFile`, one that cannot be parsed `RunFileError`: both one line that
names the file. The readers of the export and bench reports build the writers' own dataclasses,
so each schema is defined once. No torch here: the bench/runtime side imports this module too.
"""

from edgetl.runfolder.layout import (
    BENCH,
    BENCH_JSON,
    BEST,
    CHECKPOINTS,
    CONFIG,
    CONFUSION,
    CURVES,
    DATA,
    DEPLOY,
    EVAL,
    EVAL_JSON,
    EXPORT,
    EXPORT_REPORT,
    LAST,
    METRICS,
    PIPELINE,
    PROBE,
    REPORT_HTML,
    REPORT_MD,
    RUN_YAML,
    SELECTION,
    SELECTION_PNG,
    TRAIN_STATE,
    MissingRunFile,
    RunFileError,
    RunFolder,
    RunLike,
    maybe,
)
from edgetl.runfolder.probe import GridPoint, ProbeRecord, read_probe
from edgetl.runfolder.reports import (
    PipelineRecord,
    StepRecord,
    read_bench_report,
    read_export_report,
    read_pipeline,
)
from edgetl.runfolder.selection import read_selection
from edgetl.runfolder.train import (
    ClassMetrics,
    DataSummary,
    EpochMetrics,
    EvalSummary,
    Metrics,
    SkippedFile,
    read_checkpoint_meta,
    read_data_summary,
    read_eval,
    read_metrics,
    read_train_config,
)

__all__ = [
    "BENCH", "BENCH_JSON", "BEST", "CHECKPOINTS", "CONFIG", "CONFUSION", "CURVES", "DATA", "EVAL",
    "EVAL_JSON", "DEPLOY", "EXPORT", "EXPORT_REPORT", "LAST", "METRICS", "PIPELINE", "REPORT_HTML", "REPORT_MD",
    "RUN_YAML", "SELECTION", "SELECTION_PNG", "TRAIN_STATE", "PROBE", "read_selection", "GridPoint", "ProbeRecord", "read_probe", "ClassMetrics", "DataSummary", "EpochMetrics", "EvalSummary",
    "Metrics", "MissingRunFile", "PipelineRecord", "RunFileError", "RunFolder", "RunLike",
    "SkippedFile", "StepRecord", "maybe", "read_bench_report", "read_checkpoint_meta",
    "read_data_summary", "read_eval", "read_export_report", "read_metrics", "read_pipeline",
    "read_train_config",
]  # fmt: skip
