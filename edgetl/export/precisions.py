"""Precisions: how each variant is built, the gate it must pass, where it runs natively.

    p = PRECISIONS.get("int8")
    model = p.build(ctx, variant, gate)       # edgetl.export.builders
    gate = p.gate(cfg)                        # Gate: every check it reports, see edgetl.export.gate
    p.native                                  # ("cpu", "tensorrt"): providers with kernels for it
    default_precisions("cuda")                # ["fp32", "fp16"]: what `edgetl run` exports there

Adding a precision is one `PRECISIONS.register(...)` here plus its row in the registry test
(tests/test_export_registry.py). Which targets refuse a precision, and with which INT8 scheme a
target makes it, stay with the target (edgetl.export.targets).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgetl.export import builders as B
from edgetl.export.gate import Gate
from edgetl.registry import Registry

if TYPE_CHECKING:
    from edgetl.export.config import ExportConfig
    from edgetl.export.report import VariantReport

Builder = Callable[["B.BuildContext", "VariantReport", Gate], Any]


@dataclass(frozen=True)
class Precision:
    """One precision: build step, gate, native providers (edgetl.runtime PROVIDERS names), defaults."""

    name: str
    description: str
    build: Builder
    gate: Callable[[ExportConfig], Gate]
    native: tuple[str, ...]  # parity runs on native[0] (falls back to the CPU provider if it is absent)
    default_for: tuple[str, ...] = ()  # targets that export it by default (edgetl run)
    off_native_note: str = ""  # report note when parity had to run on a non-native provider
    derived: bool = True  # made from the FP32 graph (False: it is the FP32 graph)

    @property
    def parity_providers(self) -> str:
        return self.native[0]


PRECISIONS: Registry[Precision] = Registry("precision (--precisions)")

# Module-level so a test can swap one gate for a stricter one.
# FP32: 1e-4 of the logit scale (floor 1): a fixed 1e-4 is below float32 rounding once logits are large
# (EfficientViT-B0 at 224 px failed at 1.0012e-4 with logits near 3.7, relative 2.7e-5).
FP32_GATE = Gate(min_agreement=0.999, max_rel_diff=1e-4)
FP16_GATE = Gate(min_agreement=0.99, max_rel_diff=2e-2)


def _fp32_gate(cfg: ExportConfig) -> Gate:
    return FP32_GATE


def _fp16_gate(cfg: ExportConfig) -> Gate:
    return FP16_GATE


def _int8_gate(cfg: ExportConfig) -> Gate:
    """Judged on what the user loses (val accuracy); agreement is a limit only when asked for."""
    return Gate(
        min_agreement=cfg.int8_min_agreement or None,
        max_acc_drop=cfg.max_acc_drop,
        agreement_flag="--min-agreement",
        acc_drop_flag="--max-acc-drop",
    )


PRECISIONS.register(
    "fp32",
    Precision(
        "fp32",
        "the exported float32 graph (the reference every other variant derives from)",
        B.build_fp32,
        _fp32_gate,
        native=("cpu", "cuda", "tensorrt"),
        default_for=("cpu-x86", "cpu-x86-avx2", "cpu-arm", "cuda", "tensorrt"),
        derived=False,
    ),
)
PRECISIONS.register(
    "fp16",
    Precision(
        "fp16",
        "float16 weights and activations, float32 inputs/outputs (GPUs)",
        B.build_fp16,
        _fp16_gate,
        native=("cuda", "tensorrt"),
        default_for=("cuda",),
        off_native_note=(
            "fp16 parity on a GPU not verified: no CUDA provider. Measured on CPUExecutionProvider instead, where "
            "onnxruntime inserts casts and runs nodes without FP16 CPU kernels in FP32 (rounding of the FP16 "
            "weights/activations is checked, the GPU's FP16 kernels are not)"
        ),
    ),
)
PRECISIONS.register(
    "int8-dynamic",
    Precision(
        "int8-dynamic",
        "INT8 weights, activations quantized at run time (no calibration)",
        B.build_int8_dynamic,
        _int8_gate,
        native=("cpu",),
    ),
)
PRECISIONS.register(
    "int8",
    Precision(
        "int8",
        "static QDQ INT8 calibrated on train images, with the accuracy budget's node fallback",
        B.build_int8,
        _int8_gate,
        native=("cpu", "tensorrt"),
        default_for=("cpu-x86", "cpu-x86-avx2", "cpu-arm"),
    ),
)


def check_precision(name: str) -> str:
    """Validate a precision name (suggests close names)."""
    PRECISIONS.get(name)
    return name


def default_precisions(target: str) -> list[str]:
    """The precisions exported for `target` when none are asked for, FP32 first."""
    return [name for name in PRECISIONS if target in PRECISIONS.get(name).default_for]


__all__ = ["FP16_GATE", "FP32_GATE", "PRECISIONS", "Precision", "check_precision", "default_precisions"]
