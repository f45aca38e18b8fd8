"""`export(cfg)`: one trained classifier -> verified ONNX variants for one deployment target.

    report = export(ExportConfig(source="runs/ants", precisions=["fp32", "fp16", "int8"]))
    report.variant("int8").val_accuracy

Order of work: validate everything cheap (target, precisions, opset, checkpoint, data) before
exporting; export FP32 once (clean graph, checker, complete shapes); derive FP16/INT8 from it;
gate every variant on real validation images against PyTorch. Each file is written to a
temporary name, gated, and only then renamed to RUN_DIR/export/<model>-<precision>-<target>.onnx;
a variant that misses its gate leaves no file under that name and the export raises ExportError
after writing the report (so the numbers that failed are on disk).
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgetl._io import atomic_path, remove_stale_temps
from edgetl.errors import DataError, ExportError
from edgetl.export import graph as G
from edgetl.export.config import ExportConfig
from edgetl.export.onnx_export import export_graph, resolve_opset
from edgetl.export.parity import (
    BATCH,
    EvalSet,
    Gate,
    ParityResult,
    compare_onnx,
    gate_for,
    load_eval_set,
    torch_logits,
)
from edgetl.export.report import ExportReport, VariantReport, write_report
from edgetl.export.source import Source, resolve_source
from edgetl.export.targets import TARGETS, Target
from edgetl.runtime.metadata import ModelMetadata

log = logging.getLogger(__name__)
WORK_PREFIX = "edgetl-export-"  # work folder in TMPDIR; a killed export leaves one behind
SENSITIVITY_IMAGES = 16  # calibration images used to rank nodes for the accuracy budget


def variant_filename(model: str, precision: str, target: str) -> str:
    return f"{model.replace('/', '_').replace(':', '_')}-{precision}-{target}.onnx"


def _label_index(classes: list[str], labels: list[str], data: str) -> dict[int, int]:
    index = {name: i for i, name in enumerate(labels)}
    unknown = [c for c in classes if c not in index]
    if unknown:
        raise DataError(
            f"--data {data}: class folder(s) {', '.join(unknown)} are not among the model's labels "
            f"({', '.join(labels)}); point --data at images of the classes the model was trained on"
        )
    return {j: index[c] for j, c in enumerate(classes)}


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import onnxslim
    import timm
    import torch

    from edgetl import __version__

    return {
        "edgetl": __version__,
        "torch": torch.__version__,
        "timm": timm.__version__,
        "onnx": onnx.__version__,
        "onnxslim": getattr(onnxslim, "__version__", "?"),
        "onnxruntime": onnxruntime.__version__,
    }


@dataclasses.dataclass
class _Ctx:
    """Everything the variant builders share."""

    cfg: ExportConfig
    target: Target
    src: Source
    ev: EvalSet
    ref: np.ndarray
    train: list
    label_index: dict[int, int]
    metadata: ModelMetadata
    out_dir: Path
    work: Path
    fp32_path: Path
    ev_samples: list = dataclasses.field(default_factory=list)
    _pre: Path | None = None
    _calib: np.ndarray | None = None

    @property
    def batch(self) -> int:
        return BATCH if self.cfg.dynamic_batch else 1

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
                pool = self.ev_samples
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
            cal = load_eval_set(chosen, self.src.meta.data_config, self.label_index, "calibration")
            self._calib = cal.inputs(self.cfg.bake_preprocess)
        return self._calib

    def parity(self, path: Path, providers: str = "cpu") -> ParityResult:
        return compare_onnx(path, self.ev, self.ref, self.cfg.bake_preprocess, providers, self.batch)


def _fill(v: VariantReport, r: ParityResult) -> None:
    v.n_images = r.n
    v.val_accuracy, v.torch_accuracy = r.accuracy, r.reference_accuracy
    v.agreement, v.flips = r.agreement, r.flips
    v.max_abs_diff, v.mean_abs_diff, v.rel_diff = r.max_abs_diff, r.mean_abs_diff, r.rel_diff
    v.provider = r.provider


def _gate_failures(gate: Gate, r: ParityResult, max_acc_drop: float | None, precision: str) -> list[str]:
    bad = gate.failures(r)
    if precision.startswith("int8") and max_acc_drop is not None:
        drop = 100.0 * (r.reference_accuracy - r.accuracy)
        # A budget finer than one val image cannot be measured on this val set (153 images: 0.65
        # points each); it is applied as one image rather than forcing float fallback for noise.
        budget = max(max_acc_drop, 100.0 / max(r.n, 1))
        if drop > budget + 1e-9:
            unit = "" if budget == max_acc_drop else f", applied as one of {r.n} val images = {budget:.2f}"
            bad.append(
                f"val top-1 {100 * r.accuracy:.2f}% is {drop:.2f} points below PyTorch's "
                f"{100 * r.reference_accuracy:.2f}% (budget {max_acc_drop:g}{unit})"
            )
    return bad


def _finalize(ctx: _Ctx, model: Any, v: VariantReport, providers: str = "cpu") -> None:
    """Stamp metadata, check, write to a temp name, gate, rename; a failed gate leaves no file."""
    cfg = ctx.cfg
    G.set_metadata(model, dataclasses.replace(ctx.metadata, precision=v.precision))
    G.drop_unused_opsets(model)
    model = G.check_and_infer(model, v.precision)
    data = G.serialize(model, v.precision)
    final = ctx.out_dir / variant_filename(ctx.src.meta.model, v.precision, cfg.target)
    gate = gate_for(v.precision, cfg.int8_min_agreement, cfg.max_acc_drop)
    v.gate = gate.text()
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)
        r = ctx.parity(tmp, providers)
        _fill(v, r)
        if r.provider_note:
            v.notes.append(r.provider_note)
        v.failures = _gate_failures(gate, r, cfg.max_acc_drop, v.precision)
        if v.failures:
            raise ExportError(
                f"{v.precision} variant failed its gate ({v.gate}) on {r.n} val images: {'; '.join(v.failures)}"
            )
    v.passed = True
    v.file = str(final)
    v.size_mb = len(data) / 1e6
    log.info(
        "%s: val top-1 %.2f%%, agreement %.2f%%, max diff %.2e -> %s",
        v.precision,
        100 * r.accuracy,
        100 * r.agreement,
        r.max_abs_diff,
        final.name,
    )


def _fp32(ctx: _Ctx, v: VariantReport) -> None:
    import onnx

    _finalize(ctx, onnx.load(str(ctx.fp32_path)), v)


def _fp16(ctx: _Ctx, v: VariantReport) -> None:
    import onnx

    from edgetl.export.fp16 import to_fp16

    half = to_fp16(onnx.load(str(ctx.fp32_path)))
    v.scheme = "FP16 weights and activations, float32 inputs/outputs (keep_io_types)"
    _finalize(ctx, half, v, providers="cuda")
    if v.provider == "CPUExecutionProvider":
        v.notes.append(
            "fp16 parity on a GPU not verified: no CUDA provider. Measured on CPUExecutionProvider instead, where "
            "onnxruntime inserts casts and runs nodes without FP16 CPU kernels in FP32 (rounding of the FP16 "
            "weights/activations is checked, the GPU's FP16 kernels are not)"
        )


def _int8_dynamic(ctx: _Ctx, v: VariantReport) -> None:
    import onnx

    from edgetl.export.quantize import quantize_int8_dynamic

    scheme = ctx.target.scheme("int8-dynamic")
    v.scheme = f"dynamic (weights only): {scheme.weights.upper()} weights, {'per-channel' if scheme.per_channel else 'per-tensor'}"
    path = quantize_int8_dynamic(ctx.pre(), ctx.work / "int8-dynamic.onnx", scheme)
    _finalize(ctx, onnx.load(str(path)), v)


def _int8(ctx: _Ctx, v: VariantReport) -> None:
    import onnx

    from edgetl.export.budget import fit_budget, rank_sensitive
    from edgetl.export.quantize import ArrayCalibrationReader, StaticQuantizer

    cfg = ctx.cfg
    scheme = ctx.target.scheme("int8")
    v.scheme = f"static {scheme.describe()}, {cfg.calib_method} calibration"
    pre = ctx.pre()
    calib = ctx.calib_inputs(v)
    v.scheme += f" on {len(calib)} train images"
    softmax_nodes = [
        n.name for n in onnx.load(str(pre)).graph.node if n.op_type == "Softmax" and "probs" in n.output
    ]
    q = StaticQuantizer(pre, scheme, ArrayCalibrationReader(calib), cfg.calib_method, ctx.work, softmax_nodes)
    gate = gate_for("int8", cfg.int8_min_agreement, cfg.max_acc_drop)

    def measure(path: Path) -> tuple[float, bool]:
        r = ctx.parity(path)
        return r.accuracy, not _gate_failures(gate, r, cfg.max_acc_drop, "int8")

    chosen = q.quantize(ctx.work / "int8.onnx")
    acc, ok = measure(chosen)
    if not ok and cfg.max_acc_drop is not None and cfg.max_fallback_nodes > 0:
        log.info("int8 misses its gate (val top-1 %.2f%%): ranking nodes by quantization error", 100 * acc)
        ranking = rank_sensitive(pre, chosen, calib[:SENSITIVITY_IMAGES], ctx.work)
        result = fit_budget(ranking, q.quantize, measure, ctx.work, cfg.max_fallback_nodes)
        v.fallback_steps = [dataclasses.asdict(s) for s in result.steps]
        v.nodes_in_float = list(result.excluded)
        if not result.passed:
            last = 100 * (result.steps[-1].accuracy if result.steps else acc)
            raise ExportError(
                f"int8: the accuracy budget cannot be met: val top-1 {last:.2f}% vs PyTorch "
                f"{100 * float((ctx.ref.argmax(1) == ctx.ev.labels).mean()):.2f}% (budget {cfg.max_acc_drop:g} points) "
                f"even with {len(result.excluded)} node(s) kept in float (limit --max-fallback-nodes "
                f"{cfg.max_fallback_nodes}); raise --max-acc-drop or --max-fallback-nodes, try --calib-method "
                "entropy/percentile or more --calib-images, or deploy fp32/fp16"
            )
        chosen = result.path
    _finalize(ctx, onnx.load(str(chosen)), v)


_BUILDERS: dict[str, Callable[[_Ctx, VariantReport], None]] = {
    "fp32": _fp32,
    "fp16": _fp16,
    "int8-dynamic": _int8_dynamic,
    "int8": _int8,
}


def export(cfg: ExportConfig) -> ExportReport:
    """Export `cfg.source` at every precision in `cfg.precisions` for `cfg.target`; see module docstring."""
    from edgetl import __version__
    from edgetl.data import load_splits
    from edgetl.export.quantize import stratified

    target = TARGETS.get(cfg.target)
    opset = resolve_opset(cfg.opset, cfg.exporter)
    src = resolve_source(cfg.source, cfg.weights, cfg.labels)
    meta = src.meta
    data = cfg.data or src.data
    if not data:
        raise DataError(
            f"{src.origin}: no images to check the export against; pass --data DIR (its val split is used for "
            "the parity gate, its train split for INT8 calibration)"
        )
    val_split, seed = (cfg.val_split, cfg.seed) if cfg.data else (src.val_split, src.seed)
    splits = load_splits(data, val_split, seed)
    label_index = _label_index(splits.classes, meta.labels, data)
    val = splits.val if cfg.parity_images is None else stratified(splits.val, cfg.parity_images, seed)
    log.info("%s: %d val images for the parity gate (%s)", meta.model, len(val), data)
    ev = load_eval_set(val, meta.data_config, label_index, "validation")
    ref = torch_logits(src.model, ev.images)

    out_dir = (
        Path(cfg.out_dir)
        if cfg.out_dir
        else (src.run_dir / "export" if src.run_dir else Path.cwd() / f"{meta.model}-export")
    )
    dc = meta.data_config
    metadata = ModelMetadata(
        labels=list(meta.labels),
        input_size=tuple(int(x) for x in dc["input_size"]),
        mean=tuple(float(x) for x in dc["mean"]),
        std=tuple(float(x) for x in dc["std"]),
        interpolation=str(dc.get("interpolation", "bilinear")),
        crop_pct=float(dc.get("crop_pct") or 0.875),
        crop_mode=str(dc.get("crop_mode") or "center"),
        model=meta.model,
        weights=meta.weights,
        run_id=meta.run_id,
        edgetl_version=__version__,
        target=cfg.target,
        input_layout="nhwc-uint8" if cfg.bake_preprocess else "nchw-float",
        softmax=cfg.softmax,
    )
    report = ExportReport(
        model=meta.model,
        source=src.origin,
        run_id=meta.run_id,
        target=cfg.target,
        opset=opset,
        exporter="",
        labels=list(meta.labels),
        input_size=metadata.input_size,
        input_layout=metadata.input_layout,
        softmax=cfg.softmax,
        dynamic_batch=cfg.dynamic_batch,
        out_dir=str(out_dir),
        data=str(data),
        n_val_images=len(ev),
        n_calib_images=0,
        calib_method=cfg.calib_method,
        max_acc_drop=cfg.max_acc_drop,
        versions=_versions(),
    )
    failures: list[str] = []
    # What killed exports left behind: temp .onnx files here and work folders in TMPDIR.
    remove_stale_temps(out_dir, ".*.tmp")
    remove_stale_temps(tempfile.gettempdir(), f"{WORK_PREFIX}*")
    with tempfile.TemporaryDirectory(prefix=WORK_PREFIX) as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        graph = export_graph(
            src.model,
            metadata.input_size,
            metadata.mean,
            metadata.std,
            opset,
            exporter=cfg.exporter,
            dynamic_batch=cfg.dynamic_batch,
            bake_preprocess=cfg.bake_preprocess,
            softmax=cfg.softmax,
        )
        fp32_model = G.check_and_infer(graph.model, "fp32")
        fp32_path = work / "fp32.onnx"
        fp32_path.write_bytes(G.serialize(fp32_model, "fp32"))
        base_seconds = time.perf_counter() - t0
        report.exporter = graph.exporter
        report.exporter_notes = list(graph.attempts)
        log.info("exported %s with the %s exporter at opset %d", meta.model, graph.exporter, opset)
        ctx = _Ctx(
            cfg=cfg,
            target=target,
            src=src,
            ev=ev,
            ref=ref,
            train=splits.train,
            label_index=label_index,
            metadata=metadata,
            out_dir=out_dir,
            work=work,
            fp32_path=fp32_path,
            ev_samples=list(val),
        )
        for precision in cfg.precisions:
            v = VariantReport(
                precision=precision, target=cfg.target, file=None, exporter=graph.exporter, opset=opset
            )
            if precision in target.notes:
                v.notes.append(target.notes[precision])
            v.gate = gate_for(precision, cfg.int8_min_agreement, cfg.max_acc_drop).text()
            report.variants.append(v)
            t = time.perf_counter()
            log.info("%s: building and checking against PyTorch", precision)
            try:
                _BUILDERS[precision](ctx, v)
            except ExportError as e:
                v.passed = False
                if not v.failures:
                    v.failures.append(str(e))
                failures.append(str(e))
                log.info("%s: FAILED", precision)
                stale = out_dir / variant_filename(meta.model, precision, cfg.target)
                if stale.exists():  # an older export of this variant must not pass for this model
                    stale.unlink()
                    v.notes.append(f"removed the previous {stale.name}: it did not come from this export")
            finally:
                v.export_seconds = time.perf_counter() - t + (base_seconds if precision == "fp32" else 0.0)
            if precision == "fp32" and v.passed is False:
                break  # every other variant derives from this graph
        if ctx._calib is not None:
            report.n_calib_images = len(ctx._calib)
        write_report(report, out_dir)
    if failures:
        raise ExportError(" | ".join(failures) + f" (report: {out_dir / 'export_report.md'})")
    return report


__all__ = ["export", "variant_filename"]
