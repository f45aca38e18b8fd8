"""Build RUN_DIR/report.html (self-contained) and RUN_DIR/report.md from the run directory alone.

    html_path, md_path = build_report("runs/digits")

Safe to call at any time: a step that has not run shows as "not run". Both files are written
atomically, so a reader never sees half a report.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from edgetl import __version__
from edgetl._io import atomic_write_text
from edgetl.errors import EdgetlError
from edgetl.report import sections as S
from edgetl.report.document import Document
from edgetl.report.html import render_html
from edgetl.report.markdown import render_markdown

PIPELINE_FILE = "pipeline.json"  # written by `edgetl run`: steps, commands, timings, target


def default_steps(run: Path) -> list[dict[str, Any]]:
    """Commands that reproduce each step of a run that `edgetl run` did not record."""
    r = str(run)
    steps = []
    if (run / "config.yaml").is_file():
        steps.append({"step": "train", "command": f"edgetl train --config {r}/config.yaml --out {r}"})
    if (run / "eval" / "eval.json").is_file():
        steps.append({"step": "eval", "command": f"edgetl eval {r}"})
    if (run / "export").is_dir():
        steps.append({"step": "export", "command": f"edgetl export {r}"})
    if (run / "bench").is_dir():
        steps.append({"step": "bench", "command": f"edgetl bench {r}"})
    steps.append({"step": "report", "command": f"edgetl run --steps report --out {r}"})
    return steps


def collect(run_dir: str | os.PathLike) -> Document:
    """Everything the run directory holds, as a `Document` (no file is written)."""
    run = Path(run_dir)
    if not run.is_dir():
        raise EdgetlError(f"{run}: no such run directory; pass the folder `edgetl train`/`edgetl run` wrote")
    pipeline, _ = S.read_json(run / PIPELINE_FILE)
    pipeline = pipeline if isinstance(pipeline, dict) else {}
    bench, _ = S.read_json(run / "bench" / "bench.json")
    env = S.first(bench, "env", "environment") or pipeline.get("environment")
    steps = pipeline.get("steps") or default_steps(run)
    sections = [
        S.summary_section(run, pipeline),
        S.data_section(run),
        S.training_section(run),
        S.evaluation_section(run),
        S.variants_section(run),
        S.plots_section(run),
        S.environment_section(run, env),
        S.commands_section(run, steps, pipeline),
        S.config_section(run),
    ]
    subtitle = (
        f"Run directory {run.resolve()} · built {time.strftime('%Y-%m-%d %H:%M:%S')} by edgetl {__version__}"
    )
    return Document(title=f"edgetl report: {run.name}", subtitle=subtitle, sections=sections)


def build_report(run_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write RUN_DIR/report.html and RUN_DIR/report.md; return their paths."""
    run = Path(run_dir)
    doc = collect(run)
    html_path = atomic_write_text(run / "report.html", render_html(doc))
    md_path = atomic_write_text(run / "report.md", render_markdown(doc, base=run))
    return html_path, md_path
