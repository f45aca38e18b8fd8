"""`run(cfg)`: train -> export (variants for this machine) -> bench -> report, in one call.

    from edgetl.pipeline import RunConfig, load_run_config, run
    result = run(load_run_config())            # built-in default: Lite0 on scikit-learn's digits
    print(result.report_html)

Every step reads and writes only the run directory, and `pipeline.json` there records each
step's command, status and time, so any step can be rerun alone (`edgetl export RUN_DIR`,
`edgetl bench RUN_DIR`, `edgetl run --steps report --out RUN_DIR`). A failing export or bench
does not lose the rest: the next steps run on what exists and the report says what failed.
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgetl._io import atomic_write_json, atomic_write_text
from edgetl.config import dump_yaml
from edgetl.errors import EdgetlError
from edgetl.pipeline.config import RunConfig, to_yaml_dict
from edgetl.pipeline.target import Plan, add_cuda_if_working, plan_target

PIPELINE_FILE = "pipeline.json"
RUN_YAML = "run.yaml"


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


def _q(x: Any) -> str:
    return shlex.quote(str(x))


# How the stage CLIs spell boolean options (True, False); None: the default, no flag needed.
SWITCHES = {
    "dynamic_batch": (None, "--static-batch"),
    "bake_preprocess": ("--bake-preprocess", None),
    "softmax": ("--softmax", None),
    "plots": (None, "--no-plots"),
    "cuda_host_copies": ("--cuda-host-copies", None),
    "native_only": ("--native-only", None),
}
NO_FLAG = {"int8_min_agreement"}  # ExportConfig options the export CLI does not expose


def _flag_args(opts: dict[str, Any]) -> str:
    """CLI flags for stage options given in the YAML (lists as comma lists, booleans as switches)."""
    parts, unflagged = [], []
    for k, v in opts.items():
        flag = "--" + k.replace("_", "-")
        if k in NO_FLAG:
            unflagged.append(f"{k}={v}")
        elif isinstance(v, bool):
            on, off = SWITCHES.get(k, (flag, f"--no-{k.replace('_', '-')}"))
            if (on if v else off) is not None:
                parts.append(on if v else off)
        elif isinstance(v, (list, tuple)):
            parts.append(f"{flag} {_q(','.join(str(x) for x in v))}")
        elif v is None:
            parts.append(f"{flag} none")
        else:
            parts.append(f"{flag} {_q(v)}")
    if unflagged:
        parts.append(f"# and, from run.yaml, {' '.join(unflagged)} (no command-line flag)")
    return (" " + " ".join(parts)) if parts else ""


class _Pipeline:
    def __init__(self, cfg: RunConfig, reporter: Any, command: str | None):
        self.cfg = cfg
        self.rep = reporter
        self.command = command
        self.started = time.perf_counter()
        self.run_dir = Path(cfg.train.run_dir())
        self.cfg.train = dataclasses.replace(cfg.train, out=str(self.run_dir))
        self.steps = {s: StepResult(s) for s in ("train", "export", "bench", "report")}
        previous = _previous_steps(self.run_dir) if "train" not in cfg.steps else {}
        for s in self.steps.values():
            if s.step not in cfg.steps:
                # Not run this time: keep what an earlier `edgetl run` on this folder recorded.
                old = previous.get(s.step, {})
                s.status = old.get("status") or "skipped"
                s.seconds, s.command, s.error = old.get("seconds"), old.get("command") or "", old.get("error")
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
        r = self.run_dir
        commands = {
            "train": f"edgetl train --config {_q(r / 'config.yaml')} --out {_q(str(r) + '-retrain')}",
            "report": f"edgetl run --steps report --out {_q(r)}",
        }
        steps = []
        for s in self.steps.values():
            cmd = s.command or commands.get(s.step, "")
            steps.append(
                {"step": s.step, "status": s.status, "seconds": s.seconds, "command": cmd, "error": s.error}
            )
        previous = _previous(r) if "train" not in self.cfg.steps else {}
        data = {
            "command": self.command,
            "rerun_all": f"edgetl run --config {_q(r / RUN_YAML)} --out {_q(str(r) + '-rerun')}",
            "steps": steps,
            "target": self.plan.describe() if self.plan else previous.get("target"),
            "target_reasons": self.plan.reasons if self.plan else previous.get("target_reasons", []),
            "notes": self.result.notes or previous.get("notes", []),
            # the run's time: every step's last recorded duration (steps rerun later count once)
            "total_seconds": round(sum(s["seconds"] or 0.0 for s in steps), 1),
            "call_seconds": round(time.perf_counter() - self.started, 1),
            "environment": self.environment or previous.get("environment"),
        }
        atomic_write_json(r / PIPELINE_FILE, data)

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

        self.plan = plan_target(self.cfg.target, self.cfg.export.get("precisions"))
        reports, errors, commands = [], [], []
        queue = list(self.plan.exports)
        while queue:
            target, precisions = queue.pop(0)
            ecfg = self.cfg.export_config(str(self.run_dir), target, precisions)
            commands.append(
                f"edgetl export {_q(self.run_dir)} --target {target} --precisions {','.join(precisions)}"
                + _flag_args({k: v for k, v in self.cfg.export.items() if k != "precisions"})
            )
            self.rep.info(f"exporting {','.join(precisions)} for {target}")
            try:
                reports.append(export(ecfg))
            except EdgetlError as e:
                errors.append(str(e))
                reports.append(_read_export_report(self.run_dir))
            if self.cfg.target == "auto" and len(self.plan.exports) == 1 and reports[-1] is not None:
                fp32 = next((v.file for v in reports[-1].variants if v.precision == "fp32" and v.file), None)
                if fp32:
                    add_cuda_if_working(self.plan, fp32)
                    queue.extend(self.plan.exports[1:])
        reports = [r for r in reports if r is not None]
        if len(reports) > 1:
            _merge_export_reports(reports, self.run_dir / "export")
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
            self.plan = plan_target(self.cfg.target, self.cfg.export.get("precisions"))
        providers = self.cfg.bench.get("providers") or self.plan.providers
        native = self.cfg.bench.get("native_only", True)  # each export on the providers it was made for
        bcfg = self.cfg.bench_config([str(self.run_dir)], providers=providers, native_only=native)
        opts = {**self.cfg.bench, "providers": providers, "native_only": native}
        s.command = f"edgetl bench {_q(self.run_dir)}" + _flag_args(opts)
        report = bench(bcfg, reporter=None if self.cfg.train.quiet else self.rep)
        self.result.bench = report
        self.environment = report.env
        for w in report.warnings:
            self.rep.warn(w)

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
        elif not (self.run_dir / "checkpoints").is_dir() and ("export" in cfg.steps or "bench" in cfg.steps):
            raise EdgetlError(
                f"--out {self.run_dir}: no trained run here (no checkpoints/); add train to --steps"
            )
        if self.run_dir.is_dir() and "train" in cfg.steps:
            atomic_write_text(self.run_dir / RUN_YAML, dump_yaml(to_yaml_dict(cfg)))
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


def _previous(run_dir: Path) -> dict[str, Any]:
    """pipeline.json of an earlier `edgetl run` on this folder ({} when there is none)."""
    import json

    try:
        data = json.loads((run_dir / PIPELINE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _previous_steps(run_dir: Path) -> dict[str, dict[str, Any]]:
    steps = _previous(run_dir).get("steps")
    return (
        {s["step"]: s for s in steps if isinstance(s, dict) and "step" in s}
        if isinstance(steps, list)
        else {}
    )


def _read_export_report(run_dir: Path) -> Any:
    """The export report a failed export still wrote (its numbers explain the failure), or None."""
    import json

    from edgetl.export.report import ExportReport, VariantReport

    p = run_dir / "export" / "export_report.json"
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
        variants = []
        vknown = {f.name for f in dataclasses.fields(VariantReport)}
        for v in d.pop("variants", []):
            variants.append(VariantReport(**{k: x for k, x in v.items() if k in vknown}))
        known = {f.name for f in dataclasses.fields(ExportReport)}
        return ExportReport(**{k: v for k, v in d.items() if k in known}, variants=variants)
    except (OSError, ValueError, TypeError):
        return None


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


__all__ = ["PIPELINE_FILE", "RUN_YAML", "RunResult", "StepResult", "run"]
