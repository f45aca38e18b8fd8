"""`edgetl report RUN_DIR [--add-bench DIR,...]`: (re)build RUN_DIR/report.html and report.md.

edgetl report runs/ants
edgetl report runs/ants --add-bench device-results/     # a bench taken on the device, merged as its own section
"""

from __future__ import annotations

import argparse
import typing

from edgetl.cli._fields import add_subcommand, given

HELP = "build RUN_DIR/report.html and report.md (optionally with benches from other machines)"
DESCRIPTION = "Rebuild the run's report from its folder; --add-bench merges other machines' bench results."


def add_parser(subparsers: typing.Any) -> argparse.ArgumentParser:
    from edgetl.report.config import ReportConfig

    return add_subcommand(subparsers, "report", ReportConfig, (HELP, DESCRIPTION))


def run(args: argparse.Namespace) -> int:
    from edgetl.report import build_report
    from edgetl.report.config import ReportConfig

    cfg = ReportConfig(**given(args, ReportConfig))
    html, md = build_report(cfg.run_dir, add_bench=cfg.add_bench)
    print(f"written: {html}, {md}")
    return 0
