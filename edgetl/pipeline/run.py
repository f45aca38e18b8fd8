"""`run(cfg)`: train -> export (variants for this machine) -> bench -> report, in one call.

    from edgetl.pipeline import RunConfig, load_run_config, run
    result = run(load_run_config())            # built-in default: Lite0 on scikit-learn's digits
    print(result.report_html)

Every step reads and writes only the run directory, and `pipeline.json` there records each
step's command, status and time, so any step can be rerun alone (`edgetl export RUN_DIR`,
`edgetl bench RUN_DIR`, `edgetl run --steps report --out RUN_DIR`). A failing export or bench
does not lose the rest: the next steps run on what exists and the report says what failed.
A lower precision the plan chose (no precisions asked for) that fails its accuracy gate is a
result, not a failure, once FP32 passed: the run exits 0 and the report says why it is missing;
asked for by name (`--precisions`, YAML), the same gate failure fails the run.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgetl import runfolder as rf
from edgetl._io import atomic_write_json, atomic_write_text
from edgetl.config import dump_yaml
from edgetl.errors import EdgetlError
from edgetl.flags import command
from edgetl.pipeline.config import RunConfig, to_yaml_dict
from edgetl.pipeline.target import Plan, add_cuda_if_working, plan_target


@dataclass
class StepResult:
    step: str
    status: str = "pending"  # ok | failed | skipped | pending
    ran: bool = False  # run by this call (False: skipped, or kept from an earlier run on the folder)
    seconds: float | None = None
    command: str = ""
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    run_dir: Path
    report_html: Path | None
    report_md: Path | None
    steps: list[StepResult]
    plan: dict[str, Any]
    seconds: float
    notes: list[str] = field(default_factory=list)
    train: Any = None  # TrainResult
    exports: list[Any] = field(default_factory=list)  # ExportReport per target
    bench: Any = None  # BenchReport

    @property
    def ok(self) -> bool:
        return not self.failed()

    def failed(self) -> list[StepResult]:
        return [s for s in self.steps if s.ran and s.status == "failed"]


class _Pipeline:
    def __init__(self, cfg: RunConfig, reporter: Any, command: str | None):
        self.cfg = cfg
        self.rep = reporter
        self.command = command
        self.started = time.perf_counter()
        self.run_dir = Path(cfg.train.run_dir())
        self.folder = rf.RunFolder(self.run_dir)
        self.cfg.train = dataclasses.replace(cfg.train, out=str(self.run_dir))
        self.steps = {s: StepResult(s) for s in ("train", "export", "bench", "report")}
        # Steps not run this time keep what an earlier `edgetl run` on this folder recorded.
        self.previous = _previous(self.folder) if "train" not in cfg.steps else rf.PipelineRecord()
        for s in self.steps.values():
            old = self.previous.step(s.step)
            if s.step not in cfg.steps:
                s.status = (old.status if old else None) or "skipped"
                if old:
                    s.seconds, s.command, s.error = old.seconds, old.command, old.error
        self.plan: Plan | None = None
        self.result = RunResult(
            self.run_dir, None, None, list(self.steps.values()), {}, 0.0, notes=list(cfg.notes)
        )
        self.environment: dict[str, Any] | None = None

    # ---------------------------------------------------------------------------------- bookkeeping

    def record(self) -> None:
        """pipeline.json: what ran, how long, and the command to rerun each step (atomic)."""
        if not self.run_dir.is_dir():
            return
        r, prev = self.run_dir, self.previous
        commands = {
            "train": command(["edgetl", "train", "--config", self.folder.config, "--out", f"{r}-retrain"]),
            "report": command(["edgetl", "run", "--steps", "report", "--out", r]),
        }
        steps = tuple(
            rf.StepRecord(s.step, s.status, s.seconds, s.command or commands.get(s.step, ""), s.error)
            for s in self.steps.values()
        )
        record = rf.PipelineRecord(
            command=self.command,
            rerun_all=command(["edgetl", "run", "--config", self.folder.run_yaml, "--out", f"{r}-rerun"]),
            steps=steps,
            target=self.plan.describe() if self.plan else prev.target,
            target_reasons=tuple(self.plan.reasons) if self.plan else prev.target_reasons,
            notes=tuple(self.result.notes) or prev.notes,
            # the run's time: every step's last recorded duration (steps rerun later count once)
            total_seconds=round(sum(s.seconds or 0.0 for s in steps), 1),
            call_seconds=round(time.perf_counter() - self.started, 1),
            environment=self.environment or prev.environment,
        )
        atomic_write_json(self.folder.pipeline, record.to_dict())

    def step(self, name: str, fn: Any, fatal: bool = False) -> bool:
        """Run one step, timing it and recording it; a fatal step's error stops the pipeline."""
        s = self.steps[name]
        if name not in self.cfg.steps:
            return True
        n = [x for x in self.cfg.steps].index(name) + 1
        self.rep.info(f"[{n}/{len(self.cfg.steps)}] {name} ...")
        t0 = time.perf_counter()
        s.ran = True
        try:
            fn(s)
            s.status = "ok"
        except EdgetlError as e:
            s.status, s.error = "failed", str(e)
            if fatal:
                raise
            self.rep.warn(f"{name} failed: {e}")
        finally:
            s.seconds = round(time.perf_counter() - t0, 1)
            self.record()
        if s.status == "ok":
            self.rep.info(f"[{n}/{len(self.cfg.steps)}] {name} done in {s.seconds:.1f} s")
        return s.status == "ok"

    # ---------------------------------------------------------------------------------------- steps

    def train(self, s: StepResult) -> None:
        from edgetl.train import train

        res = train(self.cfg.train, reporter=self.rep)
        self.result.train = res
        s.detail = {"best_epoch": res.best_epoch, "val_acc": res.best_metrics.get("val_acc")}

    def export(self, s: StepResult) -> None:
        from edgetl.export import export

        self.plan = plan_target(self.cfg.target, self.cfg.precisions)
        reports, errors, commands = [], [], []
        queue = list(self.plan.exports)
        while queue:
            target, precisions = queue.pop(0)
            ecfg = dataclasses.replace(
                self.cfg.export, source=str(self.run_dir), target=target, precisions=precisions
            )
            commands.append(
                command(
                    ["edgetl", "export", self.run_dir],
                    ecfg,
                    first=("target", "precisions"),
                    skip=("source", "out_dir"),
                )
            )
            self.rep.info(f"exporting {','.join(precisions)} for {target}")
            try:
                reports.append(export(ecfg))
            except EdgetlError as e:
                reports.append(_export_report_left(self.folder))  # its numbers explain the failure
                if self.cfg.precisions is None and _reference_shipped(reports[-1]):
                    # a variant the plan chose to try, not one the user asked for: FP32 is verified and
                    # benched, so the run did its job; the report says why the lower precision is not there
                    note = f"{target}: not shipped, {e}"
                    self.result.notes.append(note)
                    s.detail.setdefault("not_shipped", []).append(str(e))
                    self.rep.warn(note)
                else:
                    errors.append(str(e))
            if self.cfg.target == "auto" and len(self.plan.exports) == 1 and reports[-1] is not None:
                fp32 = next((v.file for v in reports[-1].variants if v.precision == "fp32" and v.file), None)
                if fp32:
                    add_cuda_if_working(self.plan, fp32)
                    queue.extend(self.plan.exports[1:])
        reports = [r for r in reports if r is not None]
        if len(reports) > 1:
            _merge_export_reports(reports, self.folder.export_dir)
        self.result.exports = reports
        s.command = "\n".join(commands)
        for r in reports:
            for v in r.variants:
                acc = "–" if v.val_accuracy is None else f"{100 * v.val_accuracy:.2f}%"
                size = "–" if v.size_mb is None else f"{v.size_mb:.2f} MB"
                self.rep.info(f"  {v.precision:<6} {v.target:<8} {size:>9}  val top-1 {acc}  gate {v.passed}")
        if errors:
            raise EdgetlError("; ".join(errors))

    def bench(self, s: StepResult) -> None:
        from edgetl.bench import bench

        if self.plan is None:  # export not run in this call: bench what the run directory holds
            self.plan = plan_target(self.cfg.target, self.cfg.precisions)
        providers = self.cfg.providers or self.plan.providers
        bcfg = dataclasses.replace(self.cfg.bench, models=[str(self.run_dir)], providers=providers)
        s.command = command(
            ["edgetl", "bench", self.run_dir], bcfg, first=("providers",), skip=("models", "out")
        )
        report = bench(bcfg, reporter=None if self.cfg.train.quiet else self.rep)
        self.result.bench = report
        self.environment = report.env
        for w in report.warnings:
            self.rep.warn(w)
        from edgetl.bench.recommend import recommendation_lines

        for line in recommendation_lines(report.recommendation):  # "ship this": RUN_DIR/deploy
            self.rep.info(line)

    def report(self, s: StepResult) -> None:
        from edgetl.report import build_report

        self.record()  # the report reads pipeline.json: make it current first
        html, md = build_report(self.run_dir)
        self.result.report_html, self.result.report_md = html, md

    # ------------------------------------------------------------------------------------------ run

    def run(self) -> RunResult:
        cfg = self.cfg
        for note in self.result.notes:
            self.rep.warn(note)
        if "train" in cfg.steps:
            if self.run_dir.exists() and (not self.run_dir.is_dir() or any(self.run_dir.iterdir())):
                raise EdgetlError(
                    f"--out {self.run_dir}: folder is not empty; choose another --out, or rerun steps of that run "
                    f"with --steps export,bench,report --out {self.run_dir}"
                )
            self.step("train", self.train, fatal=True)
        elif not self.folder.checkpoints.is_dir() and ("export" in cfg.steps or "bench" in cfg.steps):
            raise EdgetlError(
                f"--out {self.run_dir}: no trained run here (no checkpoints/); add train to --steps"
            )
        if self.run_dir.is_dir() and "train" in cfg.steps:
            atomic_write_text(self.folder.run_yaml, dump_yaml(to_yaml_dict(cfg)))
        self.step("export", self.export)
        self.step("bench", self.bench)
        if self.environment is None:
            self.environment = _environment()
        if self.run_dir.is_dir():
            self.step("report", self.report)
        self.result.seconds = round(time.perf_counter() - self.started, 1)
        self.result.plan = (
            {"exports": self.plan.exports, "providers": self.plan.providers} if self.plan else {}
        )
        self.record()
        if self.result.report_html is not None:  # the report's own total: rewrite with the final time
            from edgetl.report import build_report

            build_report(self.run_dir)
        return self.result


def _environment() -> dict[str, Any] | None:
    try:
        from edgetl.bench.env import environment

        return environment()
    except Exception:  # environment capture must never fail a run
        return None


def _previous(folder: rf.RunFolder) -> rf.PipelineRecord:
    """pipeline.json of an earlier `edgetl run` on this folder (an empty record when there is none)."""
    try:
        return rf.read_pipeline(folder)
    except rf.RunFileError:  # missing, or unreadable: it is rewritten in full after the first step
        return rf.PipelineRecord()


def _export_report_left(folder: rf.RunFolder) -> Any:
    """The export report a failed export still wrote, or None."""
    try:
        return rf.read_export_report(folder)
    except rf.RunFileError:
        return None


def _reference_shipped(report: Any) -> bool:
    """True when the export wrote a passing FP32 file: the run then has a verified model to bench and ship."""
    return report is not None and any(v.precision == "fp32" and v.passed and v.file for v in report.variants)


def _merge_export_reports(reports: list[Any], out_dir: Path) -> None:
    """Several targets (cpu-x86 + cuda) in one export_report.json/.md, every variant with its target."""
    from edgetl.export.report import write_report

    merged = dataclasses.replace(reports[0], variants=[v for r in reports for v in r.variants])
    merged.target = "+".join(dict.fromkeys(r.target for r in reports))
    write_report(merged, out_dir)


def run(cfg: RunConfig, reporter: Any = None, command: str | None = None) -> RunResult:
    """Train, export, bench and report as `cfg` says; see the module docstring.

    `reporter` is an `edgetl.train.progress.Reporter` (default: one honouring `train.quiet`);
    `command` is the command line recorded in pipeline.json (the CLI passes its own).
    """
    from edgetl.train.progress import Reporter

    return _Pipeline(cfg, reporter or Reporter(quiet=cfg.train.quiet), command).run()


__all__ = ["RunResult", "StepResult", "run"]
