"""Build RUN_DIR/report.html (self-contained) and RUN_DIR/report.md from the run directory alone.

    html_path, md_path = build_report("runs/digits")

Safe to call at any time: a step that has not run shows as "not run". Both files are written
atomically, so a reader never sees half a report.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from edgetl import __version__
from edgetl._io import atomic_write_text
from edgetl.errors import EdgetlError
from edgetl.report.device import device_bench_section, load_device_bench
from edgetl.report.document import Document
from edgetl.report.html import render_html
from edgetl.report.load import load_run
from edgetl.report.markdown import render_markdown
from edgetl.report.probe import probe_section
from edgetl.report.reproduce import commands_section, config_section, environment_section
from edgetl.report.sections import data_section, evaluation_section, summary_section, training_section
from edgetl.report.selection import selection_section
from edgetl.report.variants import plots_section, variants_section
from edgetl.runfolder import RunFolder

SECTIONS = (summary_section, selection_section, data_section, training_section, probe_section, evaluation_section,
            variants_section, plots_section, environment_section, commands_section, config_section)  # fmt: skip


def collect(run_dir: str | os.PathLike, add_bench: Sequence[str | os.PathLike] = ()) -> Document:
    """Everything the run directory holds, as a `Document` (no file is written); `add_bench`: bench
    folders from other machines, one section each (`edgetl.report.device`)."""
    run = Path(run_dir)
    if not run.is_dir():
        raise EdgetlError(f"{run}: no such run directory; pass the folder `edgetl train`/`edgetl run` wrote")
    # read first: a bad --add-bench folder is one line, and nothing is written
    devices = [load_device_bench(p) for p in add_bench]
    data = load_run(run)  # every file read once, typed
    subtitle = (
        f"Run directory {run.resolve()} · built {time.strftime('%Y-%m-%d %H:%M:%S')} by edgetl {__version__}"
    )
    return Document(
        title=f"edgetl report: {run.name}",
        subtitle=subtitle,
        sections=[section(data) for section in SECTIONS] + [device_bench_section(d) for d in devices],
    )


def build_report(
    run_dir: str | os.PathLike, add_bench: Sequence[str | os.PathLike] = ()
) -> tuple[Path, Path]:
    """Write RUN_DIR/report.html and RUN_DIR/report.md; return their paths."""
    folder = RunFolder(run_dir)
    doc = collect(folder.root, add_bench)
    html_path = atomic_write_text(folder.report_html, render_html(doc))
    md_path = atomic_write_text(folder.report_md, render_markdown(doc, base=folder.root))
    return html_path, md_path
