"""`edgetl run`: train -> export -> bench -> report in one command, from one YAML config.

    edgetl run                                    # Lite0 (offline ImageNet weights) on built-in digits
    edgetl run --data photos --out runs/photos    # your ImageFolder, same recipe
    edgetl run --config my-run.yaml --model resnet18 --pretrained timm
    edgetl run --steps report --out runs/photos   # rebuild only the report of an existing run

Flags override the YAML; the YAML overrides the defaults. Prints where the report is.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from edgetl.cli._args import comma_list


def target_names() -> list[str]:
    from edgetl.export.targets import TARGETS

    return TARGETS.names()


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "run",
        help="train, export, bench and report in one command (default: a built-in dataset, no download)",
        description="Train a classifier, export the ONNX variants right for this machine, benchmark them "
        "against PyTorch, and write RUN_DIR/report.html + report.md. With no options it trains "
        "tf_efficientnet_lite0 (offline ImageNet weights) on scikit-learn's handwritten digits.",
    )
    p.add_argument(
        "--config", metavar="RUN.yaml", help="YAML with train:, export:, bench: sections (overrides only)"
    )
    p.add_argument(
        "--data",
        help="ImageFolder DIR (DIR/train/<class>, DIR/val/<class>) or a built-in dataset (default: digits)",
    )
    p.add_argument(
        "--val-split", type=float, help="hold out this fraction of a flat DIR/<class> folder for validation"
    )
    p.add_argument(
        "--model",
        help="any timm model name (default: tf_efficientnet_lite0), or auto: pick backbone, weights and input "
        "size by `edgetl select` first (measured probe CV accuracy vs latency)",
    )
    p.add_argument(
        "--pretrained",
        help="weights: efficientnet_lite0 (offline, default for Lite0), timm (download), a file, or none "
        "(default for other models)",
    )
    p.add_argument(
        "--out", metavar="RUN_DIR", help="run directory (default: runs/<model>-<mode>-<timestamp>)"
    )
    p.add_argument(
        "--target",
        help="auto (detect: x86/ARM CPU, + cuda fp16 with a working GPU), or a deployment target: "
        + ", ".join(target_names()),
    )
    p.add_argument(
        "--steps",
        type=comma_list,
        help="comma list of train,export,bench,report (default: all); without train, --out names an existing run",
    )
    p.add_argument(
        "--quiet", action="store_true", default=None, help="print only warnings, errors and the report path"
    )
    return p


def build_config(args: argparse.Namespace):
    from edgetl.pipeline.config import load_run_config
    from edgetl.runfolder import RunFolder

    train = {k: getattr(args, k) for k in ("data", "val_split", "model", "pretrained", "out", "quiet")}
    cli = {"train": {k: v for k, v in train.items() if v is not None}}
    if args.target is not None:
        cli["target"] = args.target
    if args.steps is not None:
        cli["steps"] = args.steps
    config = args.config
    # Rerunning steps of an existing run: its own run.yaml is the starting point.
    if config is None and args.out and args.steps and "train" not in args.steps:
        saved = RunFolder(args.out).run_yaml
        if saved.is_file():
            config = saved
    return load_run_config(config, cli)


def run(args: argparse.Namespace) -> int:
    from edgetl.pipeline import run as run_pipeline

    cfg = build_config(args)
    command = (
        "edgetl " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if len(sys.argv) > 1 else "edgetl run"
    )
    result = run_pipeline(cfg, command=command)
    failed = result.failed()
    for s in failed:
        print(f"edgetl run: {s.step} failed: {s.error}", file=sys.stderr)
    if result.report_html is not None:
        print(f"report: {result.report_html}  (Markdown: {result.report_md}); total {result.seconds:.0f} s")
    return 1 if failed else 0
