"""`edgetl export`: flags -> ExportConfig -> `edgetl.export.export`.

    edgetl export runs/ants --precisions fp32,fp16,int8 --target cpu-x86
    edgetl export runs/ants --target tensorrt --precisions fp16,int8 --bake-preprocess --softmax
    edgetl export --model resnet18 --weights head.safetensors --labels labels.txt --data photos/

Flags are generated from ExportConfig's fields (help text, defaults, and `metadata["flag"]`
where the flag is not spelled like the field), so the CLI and the library cannot drift apart.
Prints one line per variant (file, size, val accuracy, agreement, max diff, gate) and where the
full report is; a failed gate or a bad option is one error line and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgetl.cli._args import comma_list

POSITIONAL = "source"  # RUN_DIR / checkpoint, or --model NAME


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """`parse`, plus 'none'/'off'/'no' for an option whose value may be None."""

    def parse_or_none(text: str) -> Any:
        if text.strip().lower() in ("none", "off", "no"):
            return None
        try:
            return parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {parse.__name__} or 'none', got {text!r}") from None

    return parse_or_none


def _labels(text: str) -> list[str]:
    path = Path(text)
    if path.is_file():
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        return [n for n in names if n]
    return comma_list(text)


SPECIAL = {"labels": _labels}  # fields whose flag value is not parsed from its type alone


def _argument(p: argparse.ArgumentParser, f: dataclasses.Field, tp: Any) -> None:
    flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
    args = typing.get_args(tp)
    nullable = type(None) in args
    base = next((a for a in args if a is not type(None)), tp) if nullable else tp
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    help_text = f.metadata.get("help", "")
    kw: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS}  # absent unless given
    if base is bool:  # a switch that flips the default
        kw.update(action="store_const", const=not default, help=help_text)
    else:
        if f.name in SPECIAL:
            parse: Callable[[str], Any] = SPECIAL[f.name]
        elif typing.get_origin(base) is list:
            parse = comma_list
        else:
            parse = {int: int, float: float}.get(base, str)
            if nullable and base in (int, float):
                parse = _optional(parse)
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
        suffix = "" if default is None or "(default" in help_text else f" (default {shown})"
        kw.update(type=parse, help=help_text + suffix)
    p.add_argument(flag, **kw)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from edgetl.export.config import ExportConfig

    p = subparsers.add_parser(
        "export",
        help="export a trained run to verified ONNX (fp32, fp16, int8) for a deployment target",
        description="Export RUN_DIR (or a checkpoint, or --model NAME --weights FILE --labels ...) to ONNX; "
        "each variant is checked against PyTorch on real validation images before it is written to "
        "RUN_DIR/export/<model>-<precision>-<target>.onnx, with export_report.json/.md beside it.",
    )
    p.add_argument(POSITIONAL, nargs="?", help="run directory or checkpoint .safetensors")
    p.add_argument(
        "--model", help="timm model name (export without a run; needs --weights, --labels, --data)"
    )
    hints = typing.get_type_hints(ExportConfig)
    for f in dataclasses.fields(ExportConfig):
        if f.name != POSITIONAL:
            _argument(p, f, hints[f.name])
    p.add_argument("--quiet", action="store_true", help="print only the result lines")
    return p


def run(args: argparse.Namespace) -> int:
    from edgetl.config import from_dict
    from edgetl.errors import EdgetlError
    from edgetl.export import ExportConfig, export
    from edgetl.export.report import REPORT_MD
    from edgetl.progress import Reporter

    if args.model and args.source:
        raise EdgetlError("give either a run directory / checkpoint or --model NAME, not both")
    if not args.model and not args.source:
        raise EdgetlError(
            "nothing to export: give a run directory, a checkpoint, or --model NAME --weights FILE --labels ..."
        )
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(ExportConfig) if hasattr(args, f.name)}
    if not args.model and (given.get("weights") or given.get("labels")):
        raise EdgetlError("--weights and --labels go with --model NAME (a run directory carries its own)")
    given[POSITIONAL] = args.model or args.source
    cfg = from_dict(ExportConfig, given, where="edgetl export")
    rep = Reporter(quiet=args.quiet, prefix="edgetl export: ")
    report = export(cfg, rep)
    for v in report.variants:
        fallback = f", {len(v.nodes_in_float)} node(s) in float" if v.nodes_in_float else ""
        status = {True: "gate passed", False: "gate FAILED", None: "not verified"}[v.passed]
        rep.result(
            f"{v.precision:>12}: {Path(v.file).name}  {v.size_mb:.2f} MB  val top-1 {100 * v.val_accuracy:.2f}% "
            f"(PyTorch {100 * v.torch_accuracy:.2f}%)  agreement {100 * v.agreement:.2f}%  "
            f"max diff {v.max_abs_diff:.2e}{fallback}  [{status}]"
        )
    rep.result(
        f"exporter {report.exporter}, opset {report.opset}; report: {Path(report.out_dir) / REPORT_MD}"
    )
    return 0
