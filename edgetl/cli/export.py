"""`edgetl export`: flags -> ExportConfig -> `edgetl.export.export`.

    edgetl export runs/ants --precisions fp32,fp16,int8 --target cpu-x86
    edgetl export runs/ants --target tensorrt --precisions fp16,int8 --bake-preprocess --softmax
    edgetl export --model resnet18 --weights head.safetensors --labels labels.txt --data photos/

Prints one line per variant (file, size, val accuracy, agreement, max diff, gate) and where the
full report is; a failed gate or a bad option is one error line and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgetl.cli._args import comma_list


def _max_drop(text: str) -> float | None:
    if text.strip().lower() in ("none", "off", "no"):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected top-1 points (e.g. 0.5) or 'none', got {text!r}"
        ) from None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export",
        help="export a trained run to verified ONNX (fp32, fp16, int8) for a deployment target",
        description="Export RUN_DIR (or a checkpoint, or --model NAME --weights FILE --labels ...) to ONNX; "
        "each variant is checked against PyTorch on real validation images before it is written to "
        "RUN_DIR/export/<model>-<precision>-<target>.onnx, with export_report.json/.md beside it.",
    )
    p.add_argument("source", nargs="?", help="run directory or checkpoint .safetensors")
    p.add_argument(
        "--model", help="timm model name (export without a run; needs --weights, --labels, --data)"
    )
    p.add_argument("--weights", help="state dict (.safetensors or .pth) for --model, head included")
    p.add_argument("--labels", help="class names for --model: a labels.txt (one per line) or a,b,c")
    p.add_argument(
        "--precisions",
        default="fp32,int8",
        help="comma list of fp32, fp16, int8-dynamic, int8 (default fp32,int8)",
    )
    p.add_argument(
        "--target",
        default="cpu-x86",
        help="cpu-x86 | cpu-arm | cuda | tensorrt (picks the INT8 scheme; default cpu-x86)",
    )
    p.add_argument("--opset", type=int, help="ONNX opset (default 18 when the installed onnxruntime runs it)")
    p.add_argument(
        "--exporter", default="auto", help="auto | torchscript | dynamo (auto: whichever gives a clean graph)"
    )
    p.add_argument(
        "--static-batch", action="store_true", help="fix the batch size to 1 instead of a dynamic batch axis"
    )
    p.add_argument(
        "--bake-preprocess",
        action="store_true",
        help="graph takes uint8 NHWC images (resized) and normalises itself",
    )
    p.add_argument("--softmax", action="store_true", help='add a "probs" output next to "logits"')
    p.add_argument(
        "--calib-images",
        type=int,
        default=128,
        help="INT8 calibration images from the train split (default 128)",
    )
    p.add_argument("--calib-method", default="minmax", help="minmax | entropy | percentile (default minmax)")
    p.add_argument(
        "--max-acc-drop",
        type=_max_drop,
        default=0.5,
        help="top-1 points INT8 may lose on val, or 'none' (default 0.5)",
    )
    p.add_argument(
        "--max-fallback-nodes", type=int, default=12, help="nodes the budget may keep in float (default 12)"
    )
    p.add_argument("--parity-images", type=int, help="check on this many val images (default: all)")
    p.add_argument(
        "--data", help="image folder overriding the run's data (val: parity gate, train: calibration)"
    )
    p.add_argument(
        "--val-split", type=float, help="for a --data folder without train/ and val/: fraction held out"
    )
    p.add_argument("--seed", type=int, default=0, help="seed for --val-split and image sampling with --data")
    p.add_argument("--out", help="output folder (default RUN_DIR/export)")
    p.add_argument("--quiet", action="store_true", help="print only the result lines")
    return p


def _labels(text: str | None) -> list[str] | None:
    if text is None:
        return None
    path = Path(text)
    if path.is_file():
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        return [n for n in names if n]
    return comma_list(text)


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[None]:
    """Show the library's progress lines (logger edgetl.export, INFO) on stderr for one command."""
    logger = logging.getLogger("edgetl.export")
    if quiet:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("edgetl export: %(message)s"))
    old = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # onnxruntime's logging.warning() calls give the root logger a handler too
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old[0])
        logger.propagate = old[1]


def run(args: argparse.Namespace) -> int:
    from edgetl.errors import EdgetlError
    from edgetl.export import ExportConfig, export

    if args.model and args.source:
        raise EdgetlError("give either a run directory / checkpoint or --model NAME, not both")
    if not args.model and not args.source:
        raise EdgetlError(
            "nothing to export: give a run directory, a checkpoint, or --model NAME --weights FILE --labels ..."
        )
    if not args.model and (args.weights or args.labels):
        raise EdgetlError("--weights and --labels go with --model NAME (a run directory carries its own)")
    cfg = ExportConfig(
        source=args.model or args.source,
        weights=args.weights,
        labels=_labels(args.labels),
        precisions=comma_list(args.precisions),
        target=args.target,
        opset=args.opset,
        dynamic_batch=not args.static_batch,
        exporter=args.exporter,
        bake_preprocess=args.bake_preprocess,
        softmax=args.softmax,
        calib_images=args.calib_images,
        calib_method=args.calib_method,
        max_acc_drop=args.max_acc_drop,
        max_fallback_nodes=args.max_fallback_nodes,
        parity_images=args.parity_images,
        data=args.data,
        val_split=args.val_split,
        seed=args.seed,
        out_dir=args.out,
    )
    with _progress(args.quiet):
        report = export(cfg)
    for v in report.variants:
        fallback = f", {len(v.nodes_in_float)} node(s) in float" if v.nodes_in_float else ""
        status = {True: "gate passed", False: "gate FAILED", None: "not verified"}[v.passed]
        print(
            f"{v.precision:>12}: {Path(v.file).name}  {v.size_mb:.2f} MB  val top-1 {100 * v.val_accuracy:.2f}% "
            f"(PyTorch {100 * v.torch_accuracy:.2f}%)  agreement {100 * v.agreement:.2f}%  "
            f"max diff {v.max_abs_diff:.2e}{fallback}  [{status}]"
        )
    print(
        f"exporter {report.exporter}, opset {report.opset}; report: {Path(report.out_dir) / 'export_report.md'}"
    )
    return 0
