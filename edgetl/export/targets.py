"""Deployment targets: each one picks how every precision is produced and run.

    target = TARGETS.get("cpu-x86")
    scheme = target.int8            # QuantScheme(activations="u8", weights="s8", ...)
    target.check("int8")            # raises ExportError with the reason when a target refuses

What each precision is (build step, gate, native providers, defaults per target) lives in
edgetl.export.precisions; a target only says how it makes INT8 and which precisions it refuses.

The schemes follow what was measured here (NOTES: U8 activations / S8 weights QDQ ran 2.1x
faster than FP32 on x86 with VNNI; S8/S8 gave no speedup; on x86 without VNNI the same scheme
saturates, so cpu-x86-avx2 uses 7-bit weights) and onnxruntime's own guidance
(`quantize_static` docstring: symmetric S8 activations on ARM, symmetric S8/S8 for TensorRT).
export/targets.md explains each choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgetl.errors import ExportError
from edgetl.registry import Registry


@dataclass(frozen=True)
class QuantScheme:
    """How INT8 tensors are encoded (onnxruntime QuantType names: u8 = QUInt8, s8 = QInt8)."""

    activations: str = "u8"
    weights: str = "s8"
    activation_symmetric: bool = False  # True: zero point 0 (TensorRT requires it)
    weight_symmetric: bool = True
    per_channel: bool = True
    reduce_range: bool = False  # 7-bit weights: only for x86 CPUs without VNNI

    def describe(self) -> str:
        act = f"{self.activations.upper()} activations ({'symmetric' if self.activation_symmetric else 'asymmetric'})"
        wts = f"{self.weights.upper()} weights ({'per-channel' if self.per_channel else 'per-tensor'}, symmetric)"
        return f"QDQ, {act}, {wts}" + (", reduce_range" if self.reduce_range else "")


@dataclass(frozen=True)
class Target:
    """A place the model will run, and how each precision is made for it."""

    name: str
    description: str
    providers: tuple[str, ...]  # onnxruntime execution providers an app would use, best first
    int8: QuantScheme | None  # static INT8 scheme; None = refused (see `refused`)
    int8_dynamic: QuantScheme | None
    refused: dict[str, str] = field(default_factory=dict)  # precision -> why this target refuses it
    notes: dict[str, str] = field(default_factory=dict)  # precision -> caveat printed in the report

    def check(self, precision: str) -> None:
        """Raise ExportError when this target cannot use `precision`, saying what to do instead."""
        if precision in self.refused:
            raise ExportError(
                f"--target {self.name} does not take precision {precision}: {self.refused[precision]}"
            )


TARGETS: Registry[Target] = Registry("deployment target (--target)")

_FP16_ON_CPU = (
    "onnxruntime's CPU provider has few FP16 kernels: it inserts casts and runs most nodes in FP32, so this "
    "file is not faster on a CPU; FP16 is meant for --target cuda or tensorrt"
)


def _x86(name: str, description: str, reduce_range: bool, notes: dict[str, str]) -> Target:
    """An x86 CPU target: U8 activations x S8 weights, the fast path of onnxruntime's x86 INT8 kernels."""
    return Target(
        name=name,
        description=description,
        providers=("CPUExecutionProvider",),
        int8=QuantScheme(activations="u8", weights="s8", reduce_range=reduce_range),
        int8_dynamic=QuantScheme(
            activations="u8", weights="s8", per_channel=False, reduce_range=reduce_range
        ),
        notes={"fp16": _FP16_ON_CPU, **notes},
    )


TARGETS.register(
    "cpu-x86",
    _x86(
        "cpu-x86", "x86-64 CPU with onnxruntime's CPU provider (AVX2/AVX-512, VNNI where present)", False, {}
    ),
)
TARGETS.register(
    "cpu-x86-avx2",
    _x86(
        "cpu-x86-avx2",
        "x86-64 CPU without VNNI (AVX2, or AVX-512 before Cascade Lake) with onnxruntime's CPU provider",
        True,
        {
            "int8": "7-bit weights (reduce_range): without VNNI the U8xS8 kernels sum pairs in 16 bits, which "
            "saturate with full-range weights; U8 weights do not saturate but ran no faster than FP32 here",
        },
    ),
)
TARGETS.register(
    "cpu-arm",
    Target(
        name="cpu-arm",
        description="ARM64 CPU (Cortex-A, Apple silicon, Graviton) with onnxruntime's CPU provider",
        providers=("CPUExecutionProvider",),
        int8=QuantScheme(activations="s8", weights="s8", activation_symmetric=True),
        int8_dynamic=QuantScheme(activations="u8", weights="s8", per_channel=False),
        notes={
            "fp16": "runs natively only on ARMv8.2+ cores with FP16 arithmetic; elsewhere onnxruntime casts to FP32",
            "int8": "S8/S8 symmetric QDQ per onnxruntime's ARM guidance; measured here on x86 only",
        },
    ),
)
TARGETS.register(
    "cuda",
    Target(
        name="cuda",
        description="NVIDIA GPU with onnxruntime's CUDA provider",
        providers=("CUDAExecutionProvider", "CPUExecutionProvider"),
        int8=None,
        int8_dynamic=None,
        refused={
            "int8": "the CUDA provider has no INT8 convolution kernels (QLinearConv/ConvInteger fall back to the "
            "CPU, onnxruntime #12229); use fp16 for --target cuda, or --target tensorrt for INT8 on NVIDIA GPUs",
            "int8-dynamic": "the CUDA provider has no ConvInteger/MatMulInteger speedup (they fall back to the "
            "CPU); use fp16 for --target cuda, or --target tensorrt for INT8",
        },
    ),
)
TARGETS.register(
    "tensorrt",
    Target(
        name="tensorrt",
        description="NVIDIA GPU with onnxruntime's TensorRT provider",
        providers=("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
        int8=QuantScheme(activations="s8", weights="s8", activation_symmetric=True),
        int8_dynamic=None,
        refused={
            "int8-dynamic": "TensorRT builds INT8 engines from static QDQ graphs only (no DynamicQuantizeLinear); "
            "use int8 (static, symmetric S8/S8) for --target tensorrt"
        },
        notes={
            "int8": "symmetric S8/S8 QDQ (zero point 0) as TensorRT requires; the engine build is not run here"
        },
    ),
)


__all__ = ["TARGETS", "QuantScheme", "Target"]
