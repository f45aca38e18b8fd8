"""Export stage: trained classifier -> clean, verified ONNX (FP32, FP16, INT8) for a deployment target.

    from edgetl.export import ExportConfig, export
    report = export(ExportConfig(source="runs/ants", precisions=["fp32", "fp16", "int8"], target="cpu-x86"))
    print(report.variant("int8").val_accuracy, report.variant("int8").nodes_in_float)

Modules: config (ExportConfig), precisions (registry: build step, gate, native providers,
defaults per target), targets (deployment targets -> INT8 schemes, refusals), builders (how
each precision is made), gate (the checks a variant must pass), onnx_export (torch -> ONNX,
exporter choice), graph (simplify/check/shape inference/metadata), parity (outputs vs PyTorch on
real val images), fp16, quantize (dynamic + static QDQ, calibration), budget (node fallback for
the accuracy budget), report (export_report.json/.md), api (export()).
Heavy libraries (torch, onnx, onnxruntime) load only when export runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgetl.export.config import CALIB_METHODS, EXPORTERS, ExportConfig
from edgetl.export.precisions import PRECISIONS, Precision, default_precisions
from edgetl.export.targets import TARGETS, QuantScheme, Target

if TYPE_CHECKING:
    from edgetl.export.api import export
    from edgetl.export.report import ExportReport, VariantReport


def __getattr__(name: str) -> Any:
    if name == "export":
        from edgetl.export.api import export

        return export
    if name in ("ExportReport", "VariantReport"):
        from edgetl.export import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CALIB_METHODS",
    "EXPORTERS",
    "PRECISIONS",
    "TARGETS",
    "ExportConfig",
    "ExportReport",
    "Precision",
    "QuantScheme",
    "Target",
    "VariantReport",
    "default_precisions",
    "export",
]
