"""How each precision is made from the verified FP32 graph (the `build` step of a Precision).

    model = build_int8(ctx, variant_report, gate)     # an onnx.ModelProto, not yet gated or written

A builder fills in how the variant was made (`VariantReport.scheme`, fallback steps) and returns
the model; `edgetl.export.api` then stamps metadata, gates it with the same `gate` and writes it.
Heavy libraries (onnx, onnxruntime) load inside the builders.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgetl.errors import ExportError
from edgetl.export.gate import Gate, ParityResult
from edgetl.export.parity import BATCH, PreparedImages, compare_onnx, eval_set, prepare_images
from edgetl.export.report import VariantReport
from edgetl.progress import Reporter
from edgetl.runtime.metadata import ModelMetadata

if TYPE_CHECKING:
    from edgetl.export.config import ExportConfig
    from edgetl.export.source import Source
    from edgetl.export.targets import Target

SENSITIVITY_IMAGES = 16  # calibration images used to rank nodes for the accuracy budget


@dataclasses.dataclass
class BuildContext:
    """Everything the variant builders share: the FP32 file, the val images and PyTorch's logits."""

    cfg: ExportConfig
    target: Target
    src: Source
    imgs: PreparedImages  # val images the gate runs on
    ref: np.ndarray  # PyTorch logits on them
    train: list  # train split samples (calibration pool)
    val: list  # val split samples (calibration pool when there is no train split)
    label_index: dict[int, int]
    work: Path
    fp32_path: Path
    rep: Reporter
    metadata: ModelMetadata  # stamped into every variant (with its precision)
    out_dir: Path
    _pre: Path | None = None
    _calib: np.ndarray | None = None

    @property
    def batch(self) -> int:
        return BATCH if self.cfg.dynamic_batch else 1

    @property
    def n_calib(self) -> int:
        return 0 if self._calib is None else len(self._calib)

    def pre(self) -> Path:
        """The FP32 model after onnxruntime's quant_pre_process (shared by both INT8 kinds)."""
        from edgetl.export.quantize import preprocess

        if self._pre is None:
            self._pre = preprocess(self.fp32_path, self.work / "fp32-pre.onnx")
        return self._pre

    def calib_inputs(self, v: VariantReport) -> np.ndarray:
        from edgetl.export.quantize import stratified

        if self._calib is None:
            pool = self.train
            if not pool:
                pool = self.val
                v.notes.append(
                    "the data has no train split: calibrated on validation images (accuracy may be optimistic)"
                )
            chosen = stratified(
                pool, self.cfg.calib_images, self.src.seed if not self.cfg.data else self.cfg.seed
            )
            if len(chosen) < self.cfg.calib_images:
                v.notes.append(
                    f"only {len(chosen)} calibration images available (asked for {self.cfg.calib_images})"
                )
            ev = eval_set(chosen, self.label_index, "calibration")
            cal = prepare_images(ev, self.src.meta.data_config, "calibration")
            self._calib = cal.inputs(self.cfg.bake_preprocess)
        return self._calib

    def parity(self, path: Path, providers: str = "cpu", options: Any | None = None) -> ParityResult:
        return compare_onnx(
            path, self.imgs, self.ref, self.cfg.bake_preprocess, providers, self.batch, options
        )


def _load(path: Path) -> Any:
    import onnx

    return onnx.load(str(path))


def build_fp32(ctx: BuildContext, v: VariantReport, gate: Gate) -> Any:
    return _load(ctx.fp32_path)


def build_fp16(ctx: BuildContext, v: VariantReport, gate: Gate) -> Any:
    from edgetl.export.fp16 import to_fp16

    v.scheme = "FP16 weights and activations, float32 inputs/outputs (keep_io_types)"
    return to_fp16(_load(ctx.fp32_path))


def build_int8_dynamic(ctx: BuildContext, v: VariantReport, gate: Gate) -> Any:
    from edgetl.export.quantize import quantize_int8_dynamic

    scheme = ctx.target.int8_dynamic
    v.scheme = f"dynamic (weights only): {scheme.weights.upper()} weights, {'per-channel' if scheme.per_channel else 'per-tensor'}"
    return _load(quantize_int8_dynamic(ctx.pre(), ctx.work / "int8-dynamic.onnx", scheme))


def build_int8(ctx: BuildContext, v: VariantReport, gate: Gate) -> Any:
    """Static QDQ INT8; when it misses the gate, keep the most sensitive nodes in float (budget.py)."""
    from edgetl.export.budget import Measured, fit_budget, rank_sensitive
    from edgetl.export.int8_profile import int8_vs_fp32
    from edgetl.export.quantize import ArrayCalibrationReader, StaticQuantizer

    cfg = ctx.cfg
    scheme = ctx.target.int8
    v.scheme = f"static {scheme.describe()}, {cfg.calib_method} calibration"
    pre = ctx.pre()
    calib = ctx.calib_inputs(v)
    v.scheme += f" on {len(calib)} train images"
    softmax_nodes = [n.name for n in _load(pre).graph.node if n.op_type == "Softmax" and "probs" in n.output]
    q = StaticQuantizer(pre, scheme, ArrayCalibrationReader(calib), cfg.calib_method, ctx.work, softmax_nodes)

    last: list[ParityResult] = []  # the latest candidate's numbers: a failed variant reports them

    def measure(path: Path) -> Measured:
        last[:] = [ctx.parity(path)]
        return Measured(last[0].accuracy, not gate.failures(last[0]), last[0].agreement)

    def done(path: Path) -> Any:  # what the INT8 policy did, and where INT8 and FP32 spend their time
        v.int8_policy = list(q.plan.applied)
        v.op_profile = int8_vs_fp32(ctx.fp32_path, path, calib[:8])
        return _load(path)

    chosen = q.quantize(ctx.work / "int8.onnx")
    ok = measure(chosen).passed
    if not ok:
        _check_kernels(ctx, v, chosen, last[0], gate)
    if ok or cfg.max_fallback_nodes <= 0:
        return done(chosen)  # a miss without a fallback fails in the final gate, with its numbers
    ctx.rep.info(
        f"int8 misses its gate ({'; '.join(gate.failures(last[0]))}): ranking nodes by quantization error"
    )
    ranking = rank_sensitive(pre, chosen, calib[:SENSITIVITY_IMAGES], ctx.work)
    result = fit_budget(ranking, q.quantize, measure, ctx.work, cfg.max_fallback_nodes)
    v.fallback_steps = [dataclasses.asdict(s) for s in result.steps]
    v.nodes_in_float = list(result.excluded)
    for s in result.steps:
        ctx.rep.info(
            f"budget: +{', '.join(s.nodes_added)} in float ({s.tensor}, {s.sqnr_db:.1f} dB) -> "
            f"val top-1 {100 * s.accuracy:.2f}%"
        )
    if not result.passed:
        v.record(last[0], gate)  # agreement, accuracy and the failed checks of the last candidate
        raise ExportError(
            f"int8 failed its gate even with {len(result.excluded)} node(s) kept in float (limit "
            f"--max-fallback-nodes {cfg.max_fallback_nodes}): {'; '.join(v.failures)}; or raise "
            f"--max-fallback-nodes, try --calib-method entropy/percentile or more --calib-images, {_saturation_hint(ctx)}"
            f"or deploy fp32/fp16{_kernel_hint(v)}"
        )
    return done(result.path)


KERNEL_NOTE = "onnxruntime's fused INT8 kernels"


def _check_kernels(ctx: BuildContext, v: VariantReport, path: Path, fused: ParityResult, gate: Gate) -> None:
    """A missed INT8 gate, measured again with onnxruntime's fusions off (basic optimizations only).

    There each QDQ pair runs as float math: the quantization error alone. If that passes where
    the fused integer kernels (QLinearConv, QLinearSoftmax, ...) fail, the kernels are the cause
    and no node ranking by quantization error can find it: the note says so.
    """
    import onnxruntime as ort

    from edgetl.runtime.providers import session_options

    so = session_options(None)
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    plain = ctx.parity(path, options=so)
    if not gate.failures(plain) and plain.accuracy > fused.accuracy:
        v.notes.append(
            f"{KERNEL_NOTE} give val top-1 {100 * fused.accuracy:.2f}% where the same QDQ "
            f"graph's own math (fusions off) gives {100 * plain.accuracy:.2f}% (agreement "
            f"{100 * plain.agreement:.2f}%): an onnxruntime kernel problem, not quantization error"
        )
        ctx.rep.info(v.notes[-1])


def _kernel_hint(v: VariantReport) -> str:
    kernels = any(n.startswith(KERNEL_NOTE) for n in v.notes)
    return (
        " (onnxruntime's fused kernels, not quantization, are the cause: see the report's int8 notes)"
        if kernels
        else ""
    )


def _saturation_hint(ctx: BuildContext) -> str:
    """Full-range U8xS8 on an x86 CPU without VNNI saturates: name the target that avoids it."""
    from edgetl.cpu import has_vnni

    s = ctx.target.int8
    if ctx.target.name.startswith("cpu-x86") and s is not None and not s.reduce_range and has_vnni() is False:
        return "--target cpu-x86-avx2 (this CPU has no VNNI: 7-bit weights avoid INT8 saturation), "
    return ""


__all__ = ["BuildContext", "build_fp16", "build_fp32", "build_int8", "build_int8_dynamic"]
