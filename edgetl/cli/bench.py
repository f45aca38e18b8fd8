"""`edgetl bench MODEL_OR_RUN...`: latency/accuracy table of exported variants vs PyTorch eager.

    edgetl bench runs/ants                                  # all exports + the run's checkpoint, its val split
    edgetl bench a.onnx b.onnx --data data/val --batch 1,8,32 --providers cpu,cuda --threads 2
    edgetl bench runs/ants --time-budget 20 --repeat 5 --out bench/results/ants

Flags are generated from BenchConfig's fields (each field's help text), as `edgetl train` does
from TrainConfig, so the CLI and the library cannot drift apart. Only flags given on the command
line override BenchConfig's defaults. `--json` and `--quiet` are about output, not the config.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing

from edgetl.cli._fields import add_fields

HELP = "measure latency, throughput, memory and accuracy of exported models"
DESCRIPTION = (
    "Benchmark ONNX variants (files, or all of RUN_DIR/export/) on onnxruntime providers, "
    "with a PyTorch eager baseline row. Writes bench.json/.csv/.md and plots."
)


def add_parser(subparsers: typing.Any) -> argparse.ArgumentParser:
    from edgetl.bench.config import BenchConfig

    models = next(f for f in dataclasses.fields(BenchConfig) if f.name == "models")
    p = subparsers.add_parser("bench", help=HELP, description=DESCRIPTION)
    p.add_argument("models", nargs="+", metavar=models.metadata["metavar"], help=models.metadata["help"])
    add_fields(p, BenchConfig, skip=("models",))
    p.add_argument("--json", action="store_true", help="print bench.json to stdout instead of the table")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def option_names() -> list[str]:
    from edgetl.bench.config import BenchConfig

    return [f.name for f in dataclasses.fields(BenchConfig) if f.name != "models"]


def build_config(args: argparse.Namespace):
    from edgetl.bench import BenchConfig

    given = {k: getattr(args, k) for k in option_names() if getattr(args, k) is not None}
    return BenchConfig(models=list(args.models), **given)


def run(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    from edgetl.bench import bench, render_table
    from edgetl.bench.report import preprocess_line, summary_lines
    from edgetl.progress import Reporter

    cfg = build_config(args)
    report = bench(cfg, reporter=Reporter(quiet=args.quiet, prefix="edgetl bench: ", style="dim"))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        out = Console(highlight=False)
        if not out.is_terminal:  # piped or redirected: never squeeze the table
            out = Console(highlight=False, width=400)
        out.print(render_table(report))
        for line in summary_lines(report):
            out.print(line, style="yellow" if line.startswith("warning") else None)
        pre = preprocess_line(report, decode="JPEG/PNG decode")
        if pre:
            out.print(pre)
        out.print("written: " + ", ".join(report.files.values()))
    failed = [r for r in report.rows if r.status.startswith("failed")]
    for r in failed:
        print(f"edgetl bench: {r.variant} on {r.provider} (batch {r.batch}) {r.status}", file=sys.stderr)
    return 1 if failed else 0
