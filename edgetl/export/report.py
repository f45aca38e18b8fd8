"""What an export produced and how each variant fared: export_report.json + export_report.md.

    report.variant("int8").val_accuracy, report.variant("int8").nodes_in_float
    write_report(report, out_dir)          # atomic JSON + Markdown next to the .onnx files

Numbers are what was measured on this machine; a gate that was not run says so (`passed` is
None and a note gives the reason), it is never reported as passed.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgetl._io import atomic_write_json, atomic_write_text
from edgetl.export.gate import Gate, ParityResult
from edgetl.metrics import percent
from edgetl.runfolder import EXPORT_REPORT

REPORT_JSON = EXPORT_REPORT  # the run folder's name for it; edgetl.runfolder.read_export_report reads it
REPORT_MD = "export_report.md"


@dataclass
class VariantReport:
    precision: str
    target: str
    file: str | None  # None when the variant failed (no file is left under its name)
    size_mb: float | None = None
    exporter: str = ""
    opset: int = 0
    export_seconds: float = 0.0
    scheme: str = ""  # how it was made (e.g. "QDQ, U8 activations ...")
    n_images: int = 0
    val_accuracy: float | None = None  # top-1, 0-1
    torch_accuracy: float | None = None  # the PyTorch model on the same images
    agreement: float | None = None  # top-1 agreement with PyTorch, 0-1
    flips: int | None = None
    max_abs_diff: float | None = None
    mean_abs_diff: float | None = None
    rel_diff: float | None = None  # max_abs_diff / max(1, max |PyTorch logit|)
    gate: str = ""
    passed: bool | None = None  # None: the gate could not be run
    failures: list[str] = field(default_factory=list)
    # every check of the gate: name, passed, value, limit (None: reported, not required), flag, message
    checks: list[dict[str, Any]] = field(default_factory=list)
    provider: str = ""  # onnxruntime provider the parity check ran on
    nodes_in_float: list[str] = field(default_factory=list)
    fallback_steps: list[dict[str, Any]] = field(default_factory=list)
    int8_policy: list[dict[str, Any]] = field(default_factory=list)  # int8_policy rules applied
    op_profile: dict[str, Any] | None = None  # int8_profile.int8_vs_fp32: ratio + top ops of both
    notes: list[str] = field(default_factory=list)

    def record(self, r: ParityResult, gate: Gate) -> None:
        """The numbers of one parity run and the gate's verdict on them (also for a variant that fails)."""
        self.n_images = r.n
        self.val_accuracy, self.torch_accuracy = r.accuracy, r.reference_accuracy
        self.agreement, self.flips = r.agreement, r.flips
        self.max_abs_diff, self.mean_abs_diff, self.rel_diff = r.max_abs_diff, r.mean_abs_diff, r.rel_diff
        self.provider = r.provider
        checks = gate.checks(r)
        self.checks = [asdict(c) for c in checks]
        self.failures = [c.message for c in checks if not c.passed]

    @property
    def acc_drop_points(self) -> float | None:
        if self.val_accuracy is None or self.torch_accuracy is None:
            return None
        return 100.0 * (self.torch_accuracy - self.val_accuracy)


@dataclass
class ExportReport:
    model: str
    source: str
    run_id: str
    target: str
    opset: int
    exporter: str
    labels: list[str]
    input_size: tuple[int, int, int]
    input_layout: str
    softmax: bool
    dynamic_batch: bool
    out_dir: str
    data: str
    n_val_images: int
    n_calib_images: int
    calib_method: str
    max_acc_drop: float | None
    variants: list[VariantReport] = field(default_factory=list)
    exporter_notes: list[str] = field(default_factory=list)  # why other exporters were not used
    versions: dict[str, str] = field(default_factory=dict)
    created: str = field(
        default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    )

    def variant(self, precision: str) -> VariantReport:
        for v in self.variants:
            if v.precision == precision:
                return v
        raise KeyError(
            f"no {precision} variant in this export (have {', '.join(v.precision for v in self.variants)})"
        )

    @property
    def passed(self) -> bool:
        return all(v.passed is not False for v in self.variants)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for v, vd in zip(self.variants, d["variants"], strict=True):
            vd["acc_drop_points"] = v.acc_drop_points
        return d


def _num(x: float | None, fmt: str = ".2e") -> str:
    return "-" if x is None else format(x, fmt)


def to_markdown(r: ExportReport) -> str:
    lines = [
        f"# Export report: {r.model} for {r.target}",
        "",
        f"- source: `{r.source}` (run id `{r.run_id or '-'}`), created {r.created}",
        f"- exporter: {r.exporter}, opset {r.opset}; input `input` {r.input_layout} "
        f"{'x'.join(str(s) for s in r.input_size)}, {'dynamic batch' if r.dynamic_batch else 'batch fixed to 1'}; outputs `logits`{' + `probs`' if r.softmax else ''}",
        f"- parity and accuracy on {r.n_val_images} real validation images from `{r.data}`; "
        f"calibration: {r.n_calib_images} train images, {r.calib_method}; "
        f"accuracy budget: {'none' if r.max_acc_drop is None else f'{r.max_acc_drop:g} top-1 points'}",
        *[f"- exporter note: {n}" for n in r.exporter_notes],
        "",
        "| variant | file | MB | val top-1 | PyTorch top-1 | agreement | max abs diff | nodes in float | seconds | gate |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for v in r.variants:
        gate = {True: "passed", False: "FAILED", None: "not verified"}[v.passed]
        lines.append(
            f"| {v.precision} | {Path(v.file).name if v.file else '(not written)'} | {_num(v.size_mb, '.2f')} | "
            f"{percent(v.val_accuracy)} | {percent(v.torch_accuracy)} | {percent(v.agreement)} | {_num(v.max_abs_diff)} | "
            f"{len(v.nodes_in_float)} | {v.export_seconds:.1f} | {gate} |"
        )
    lines.append("")
    for v in r.variants:
        lines.append(f"## {v.precision}")
        lines.append("")
        lines.append(
            f"- gate: {v.gate} -> **{ {True: 'passed', False: 'FAILED', None: 'not verified'}[v.passed] }**"
        )
        if v.scheme:
            lines.append(f"- scheme: {v.scheme}")
        if v.provider:
            lines.append(f"- parity measured on: {v.provider}")
        for f in v.failures:
            lines.append(f"- failure: {f}")
        for c in v.checks:
            if c["limit"] is None:
                lines.append(f"- diagnostic: {c['message']}")
        if v.nodes_in_float:
            lines.append(f"- nodes kept in float: {', '.join(f'`{n}`' for n in v.nodes_in_float)}")
        for s in v.fallback_steps:
            agree = "" if s.get("agreement") is None else f", agreement {100 * s['agreement']:.2f}%"
            lines.append(
                f"  - +{', '.join(s['nodes_added'])} for `{s['tensor']}` ({s['sqnr_db']:.1f} dB): "
                f"val top-1 {100 * s['accuracy']:.2f}%{agree}{' (budget holds)' if s['passed'] else ''}"
            )
        if v.int8_policy:
            lines.append(
                "- INT8 policy: "
                + "; ".join(f"{a['rule']} x{a['count']}: {a['action']}" for a in v.int8_policy)
            )
        if v.op_profile:
            p = v.op_profile
            top = {
                k: ", ".join(f"{o['op']} {100 * o['share']:.0f}%" for o in p[k][:4])
                for k in ("int8_ops", "fp32_ops")
            }
            lines.append(
                f"- speed check (batch 1, {p['threads']} threads, load {p['loadavg'][0]:.1f}): INT8 {p['ratio']:.2f}x FP32"
                f"{' (SLOWER)' if p['ratio'] < 1 else ''}; time by op, INT8: {top['int8_ops']}; FP32: {top['fp32_ops']}"
            )
        for n in v.notes:
            lines.append(f"- note: {n}")
        lines.append("")
    lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in r.versions.items()))
    return "\n".join(lines) + "\n"


def write_report(r: ExportReport, out_dir: str | Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    j = atomic_write_json(out_dir / REPORT_JSON, r.to_dict())
    m = atomic_write_text(out_dir / REPORT_MD, to_markdown(r))
    return j, m


__all__ = ["REPORT_JSON", "REPORT_MD", "ExportReport", "VariantReport", "to_markdown", "write_report"]
