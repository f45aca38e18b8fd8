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

from edgetl.cli._args import comma_list, int_list


def _argument(parser: argparse.ArgumentParser, f: dataclasses.Field, tp: typing.Any) -> None:
    """One `--flag` for config field `f` (default None: "not given", so the config's default holds)."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    base = args[0] if typing.get_origin(tp) in (typing.Union, type(int | None)) else tp
    kw: dict[str, typing.Any] = {"dest": f.name, "default": None, "help": f.metadata.get("help", "")}
    if "metavar" in f.metadata:
        kw["metavar"] = f.metadata["metavar"]
    if base is bool:
        kw["action"] = argparse.BooleanOptionalAction
    elif typing.get_origin(base) is list:
        kw["type"] = int_list if typing.get_args(base) == (int,) else comma_list
    else:
        kw["type"] = {int: int, float: float}.get(base, str)
    parser.add_argument("--" + f.name.replace("_", "-"), **kw)


HELP = "measure latency, throughput, memory and accuracy of exported models"
DESCRIPTION = (
    "Benchmark ONNX variants (files, or all of RUN_DIR/export/) on onnxruntime providers, "
    "with a PyTorch eager baseline row. Writes bench.json/.csv/.md and plots."
)


def add_parser(subparsers: typing.Any) -> argparse.ArgumentParser:
    from edgetl.bench.config import BenchConfig

    hints = typing.get_type_hints(BenchConfig)
    p = subparsers.add_parser("bench", help=HELP, description=DESCRIPTION)
    for f in dataclasses.fields(BenchConfig):
        if f.name == "models":
            p.add_argument("models", nargs="+", metavar=f.metadata["metavar"], help=f.metadata["help"])
        else:
            _argument(p, f, hints[f.name])
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
