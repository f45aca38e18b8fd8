"""`edgetl export`: flags -> ExportConfig -> `edgetl.export.export`.

    edgetl export runs/ants --precisions fp32,fp16,int8 --target cpu-x86
    edgetl export runs/ants --target tensorrt --precisions fp16,int8 --bake-preprocess --softmax
    edgetl export --model resnet18 --weights head.safetensors --labels labels.txt --data photos/

Flags are generated from ExportConfig's fields by `edgetl.cli._fields` (help text, defaults,
`metadata["flag"]` where the flag is not spelled like the field), as for `edgetl train`, so the
CLI and the library cannot drift apart.
Prints one line per variant (file, size, val accuracy, agreement, max diff, gate) and where the
full report is; a failed gate or a bad option is one error line and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from edgetl.cli._args import comma_list
from edgetl.cli._fields import add_fields, given
from edgetl.flags import default_of

POSITIONAL = "source"  # RUN_DIR / checkpoint, or --model NAME


def _labels(text: str) -> list[str]:
    """--labels: a labels.txt (one name per line) or a,b,c."""
    path = Path(text)
    if path.is_file():
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        return [n for n in names if n]
    return comma_list(text)


def _show_defaults(p: argparse.ArgumentParser, cls: type) -> None:
    """Append each field's default to its flag's help, from the dataclass (never restated by hand)."""
    defaults = {f.name: default_of(f) for f in dataclasses.fields(cls)}
    for action in p._actions:
        d = defaults.get(action.dest)
        if action.option_strings and d not in (None, False, True) and "(default" not in (action.help or ""):
            shown = ",".join(map(str, d)) if isinstance(d, list) else d
            action.help = f"{action.help} (default {shown})"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from edgetl.export.config import ExportConfig

    p = subparsers.add_parser(
        "export",
        help="export a trained run to verified ONNX (fp32, fp16, int8) for a deployment target",
        description="Export RUN_DIR (or a checkpoint, or --model NAME --weights FILE --labels ...) to ONNX; "
        "each variant is checked against PyTorch on real validation images before it is written to "
        "RUN_DIR/export/<model>-<precision>-<target>.onnx, with export_report.json/.md beside it.",
    )
    p.add_argument(
        "--model", help="timm model name (export without a run; needs --weights, --labels, --data)"
    )
    add_fields(p, ExportConfig, parsers={"labels": _labels})
    _show_defaults(p, ExportConfig)
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
    opts = given(args, ExportConfig)
    if not args.model and (opts.get("weights") or opts.get("labels")):
        raise EdgetlError("--weights and --labels go with --model NAME (a run directory carries its own)")
    opts[POSITIONAL] = args.model or args.source
    cfg = from_dict(ExportConfig, opts, where="edgetl export")
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
