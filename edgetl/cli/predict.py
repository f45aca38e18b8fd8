"""`edgetl predict MODEL.onnx IMAGE_OR_DIR...`: top-k labels per image from an exported model.

    edgetl predict runs/ants/export/model-int8-cpu-x86.onnx photo.jpg data/val --topk 2
    edgetl predict model.onnx data/val --json > predictions.json

Folders are walked recursively. When images sit in sub-folders named like the model's labels
(an ImageFolder val split), the top-1 accuracy over them is printed at the end; it counts the
same images `edgetl bench --data` scores. An unreadable file gets one error line and the rest
go on; the exit status is then 1. Flags come from `PredictConfig` (`edgetl.bench.predict`);
`--json` is about output only.
"""

from __future__ import annotations

import argparse
import typing

from edgetl.cli._fields import add_subcommand, given

HELP = "classify images with an exported .onnx model (torch-free runtime)"
DESCRIPTION = (
    "Print the top-k labels of each image (folders are walked). "
    "Folders of <label>/ sub-folders also give the top-1 accuracy."
)
SWITCHES = {"--json": "print one JSON document instead of text"}


def add_parser(subparsers: typing.Any) -> argparse.ArgumentParser:
    from edgetl.bench.predict import PredictConfig

    return add_subcommand(subparsers, "predict", PredictConfig, (HELP, DESCRIPTION), SWITCHES)


def run(args: argparse.Namespace) -> int:
    import json

    from edgetl.bench.predict import PredictConfig, predict
    from edgetl.progress import Reporter

    show = None if args.json else (lambda r: print(r.text(), flush=True))
    report = predict(PredictConfig(**given(args, PredictConfig)), Reporter(prefix="edgetl predict: "), show)
    print(json.dumps(report.to_dict(), indent=2) if args.json else "\n".join(report.summary_lines()))
    return 1 if report.errors else 0
