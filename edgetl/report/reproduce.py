"""Report sections about how the run was made: environment, the commands that redo each step, config.

The commands come from pipeline.json, where `edgetl run` recorded them as rendered from each
stage's own config (`edgetl.flags`); a run made stage by stage gets the plain commands instead.
"""

from __future__ import annotations

from typing import Any

from edgetl import runfolder as rf
from edgetl.report.document import Alert, Code, KeyValues, NotRun, Section, Table, Text
from edgetl.report.fmt import fnum, short
from edgetl.report.load import RunData


def default_steps(run: RunData) -> list[rf.StepRecord]:
    """Commands that reproduce each step of a run that `edgetl run` did not record."""
    f, r = run.folder, str(run.folder.root)
    found = [
        ("train", f.config.is_file(), f"edgetl train --config {f.config} --out {r}-retrain"),
        ("eval", f.eval_json.is_file(), f"edgetl eval {r}"),
        ("export", f.export_dir.is_dir(), f"edgetl export {r}"),
        ("bench", f.bench_dir.is_dir(), f"edgetl bench {r}"),
        ("report", True, f"edgetl run --steps report --out {r}"),
    ]
    return [rf.StepRecord(step, status="", command=cmd) for step, present, cmd in found if present]


def environment_section(run: RunData) -> Section:
    sec = Section("Environment", "environment")
    env = run.environment
    if not env:
        what = "no environment recorded (the bench writes it to bench/bench.json)"
        sec.blocks.append(NotRun(what, f"edgetl bench {run.folder.root}"))
        return sec
    items: list[tuple[str, str]] = []

    def add(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value and all(isinstance(x, bool) for x in value.values()):
            items.append((prefix, ", ".join(k for k, on in value.items() if on) or "none"))
        elif isinstance(value, dict):
            for k, v in value.items():
                add(f"{prefix}.{k}" if prefix else str(k), v)
        elif value is not None:
            items.append((prefix, short(value)))

    add("", env)
    sec.blocks.append(KeyValues(items, id="environment"))
    return sec


def commands_section(run: RunData) -> Section:
    sec = Section("Reproduce", "reproduce")
    pipe = run.pipeline
    steps = list(pipe.steps) if pipe and pipe.steps else default_steps(run)
    whole = (
        [("Last command on this run", pipe.command), ("Whole run again (new folder)", pipe.rerun_all)]
        if pipe
        else []
    )
    whole = [(k, v) for k, v in whole if v]
    if whole:
        sec.blocks.append(KeyValues(whole, id="run-commands"))
    sec.blocks.append(
        Text(
            "Each step reads and writes only this run directory, so any one can be rerun alone with its command "
            "(training always starts a new folder)."
        )
    )
    rows = [[s.step, s.status, fnum(s.seconds, 1), s.command] for s in steps]
    sec.blocks.append(
        Table(["step", "status", "seconds", "command"], rows, caption="Steps", id="table-steps")
    )
    sec.blocks.append(Code("\n".join(s.command for s in steps if s.command), "Commands:"))
    sec.blocks += [Alert(f"{s.step}: {s.error}") for s in steps if s.status == "failed" and s.error]
    return sec


def config_section(run: RunData) -> Section:
    """run.yaml and config.yaml as written (shown verbatim, not re-parsed)."""
    sec = Section("Configuration", "configuration")
    found = [p for p in (run.folder.run_yaml, run.folder.config) if p.is_file()]
    for p in found:
        try:
            sec.blocks.append(Code(p.read_text(encoding="utf-8"), f"{p.name}:"))
        except (OSError, UnicodeDecodeError) as e:
            sec.blocks.append(Alert(f"{p.name} is unreadable ({type(e).__name__})"))
    if not found:
        sec.blocks.append(NotRun("no configuration recorded (config.yaml)"))
    return sec


__all__ = ["commands_section", "config_section", "default_steps", "environment_section"]
