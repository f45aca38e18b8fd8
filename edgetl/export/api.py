"""`export(cfg)`: one trained classifier -> verified ONNX variants for one deployment target.

    report = export(ExportConfig(source="runs/ants", precisions=["fp32", "fp16", "int8"]))
    report.variant("int8").val_accuracy

Order of work: validate everything cheap (target, precisions, opset, checkpoint, data) before
exporting; export FP32 once (clean graph, checker, complete shapes); then, for each precision in
the registry (edgetl.export.precisions): build it from the FP32 graph, gate it on real validation
images against PyTorch, write it. Each file is written to a temporary name, gated, and only then
renamed to RUN_DIR/export/<model>-<precision>-<target>.onnx; a variant that misses its gate
leaves no file under that name and the export raises ExportError after writing the report (so
the numbers that failed are on disk).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgetl._io import atomic_path, claim_outputs, remove_stale_temps
from edgetl._lock import lock_folder, lock_scope
from edgetl.errors import DataError, ExportError
from edgetl.export import graph as G
from edgetl.export.builders import BuildContext
from edgetl.export.config import ExportConfig
from edgetl.export.gate import Gate
from edgetl.export.onnx_export import export_graph, resolve_opset
from edgetl.export.parity import PreparedImages, eval_set, prepare_images, torch_logits
from edgetl.export.precisions import PRECISIONS, Precision
from edgetl.export.prepare import prepare_source
from edgetl.export.report import REPORT_JSON, REPORT_MD, ExportReport, VariantReport, write_report
from edgetl.export.source import Source, resolve_source
from edgetl.export.targets import TARGETS
from edgetl.progress import Reporter
from edgetl.runtime.metadata import ModelMetadata

WORK_PREFIX = "edgetl-export-"  # work folder in TMPDIR; a killed export leaves one behind


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
class _GateData:
    """The images every variant is judged on, and the pool INT8 calibrates from."""

    data: str
    imgs: PreparedImages
    ref: np.ndarray  # PyTorch logits on imgs
    train: list
    val: list
    label_index: dict[int, int]


def _gate_data(cfg: ExportConfig, src: Source, rep: Reporter) -> _GateData:
    from edgetl.data import load_splits
    from edgetl.export.quantize import stratified

    data = cfg.data or src.data
    if not data:
        raise DataError(
            f"{src.origin}: no images to check the export against; pass --data DIR (its val split is used for "
            "the parity gate, its train split for INT8 calibration)"
        )
    val_split, seed = (cfg.val_split, cfg.seed) if cfg.data else (src.val_split, src.seed)
    splits = load_splits(data, val_split, seed)
    label_index = _label_index(splits.classes, src.meta.labels, data)
    val = splits.val if cfg.parity_images is None else stratified(splits.val, cfg.parity_images, seed)
    rep.info(f"{src.meta.model}: {len(val)} val images for the parity gate ({data})")
    imgs = prepare_images(eval_set(val, label_index, str(data)), src.meta.data_config, "validation")
    ref = torch_logits(src.model, imgs.images)
    return _GateData(str(data), imgs, ref, splits.train, list(val), label_index)


def _out_dir(cfg: ExportConfig, src: Source) -> Path:
    if cfg.out_dir:
        return Path(cfg.out_dir)
    from edgetl.runfolder import RunFolder

    return RunFolder(src.run_dir).export_dir if src.run_dir else Path.cwd() / f"{src.meta.model}-export"


def _metadata(cfg: ExportConfig, src: Source) -> ModelMetadata:
    from edgetl import __version__

    meta, dc = src.meta, src.meta.data_config
    return ModelMetadata(
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


def _new_report(
    cfg: ExportConfig, src: Source, md: ModelMetadata, opset: int, out_dir: Path, gd: _GateData
) -> ExportReport:
    return ExportReport(
        model=src.meta.model,
        source=src.origin,
        run_id=src.meta.run_id,
        target=cfg.target,
        opset=opset,
        exporter="",
        labels=list(md.labels),
        input_size=md.input_size,
        input_layout=md.input_layout,
        softmax=cfg.softmax,
        dynamic_batch=cfg.dynamic_batch,
        out_dir=str(out_dir),
        data=gd.data,
        n_val_images=len(gd.imgs),
        n_calib_images=0,
        calib_method=cfg.calib_method,
        max_acc_drop=cfg.max_acc_drop,
        versions=_versions(),
    )


def _export_fp32(
    cfg: ExportConfig, src: Source, md: ModelMetadata, opset: int, path: Path, report: ExportReport
) -> float:
    """The one torch -> ONNX export (clean graph, checker, shapes) to `path`; returns its seconds."""
    t0 = time.perf_counter()
    graph = export_graph(
        src.model,
        md.input_size,
        md.mean,
        md.std,
        opset,
        exporter=cfg.exporter,
        dynamic_batch=cfg.dynamic_batch,
        bake_preprocess=cfg.bake_preprocess,
        softmax=cfg.softmax,
    )
    path.write_bytes(G.serialize(G.check_and_infer(graph.model, "fp32"), "fp32"))
    report.exporter = graph.exporter
    report.exporter_notes += graph.attempts
    return time.perf_counter() - t0


def _write_gated(ctx: BuildContext, p: Precision, model: Any, v: VariantReport, gate: Gate) -> None:
    """Stamp metadata, check, write to a temp name, gate, rename; a failed gate leaves no file."""
    G.set_metadata(model, dataclasses.replace(ctx.metadata, precision=p.name))
    G.drop_unused_opsets(model)
    data = G.serialize(G.check_and_infer(model, p.name), p.name)
    final = ctx.out_dir / variant_filename(ctx.src.meta.model, p.name, ctx.cfg.target)
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)
        r = ctx.parity(tmp, p.parity_providers)
        v.record(r, gate)
        if r.provider_note:
            v.notes.append(r.provider_note)
        if p.off_native_note and r.provider not in _native_chain(p):
            v.notes.append(p.off_native_note)
        if v.failures:
            raise ExportError(
                f"{p.name} variant failed its gate ({v.gate}) on {r.n} val images: {'; '.join(v.failures)}"
            )
    v.passed, v.file, v.size_mb = True, str(final), len(data) / 1e6
    ctx.rep.info(
        f"{p.name}: val top-1 {100 * r.accuracy:.2f}%, agreement {100 * r.agreement:.2f}%, "
        f"max diff {r.max_abs_diff:.2e} -> {final.name}"
    )


def _native_chain(p: Precision) -> set[str]:
    """onnxruntime provider names that run `p` natively (the first of each native spec's chain)."""
    from edgetl.runtime.providers import PROVIDERS

    return {PROVIDERS.get(name).primary for name in p.native}


def _variant(
    ctx: BuildContext, p: Precision, report: ExportReport, exporter: str, seconds: float
) -> str | None:
    """Build, gate and write one precision; its VariantReport joins `report`. Returns the failure, if any."""
    v = VariantReport(
        precision=p.name, target=ctx.cfg.target, file=None, exporter=exporter, opset=report.opset
    )
    if p.name in ctx.target.notes:
        v.notes.append(ctx.target.notes[p.name])
    gate = p.gate(ctx.cfg)
    v.gate = gate.text()
    report.variants.append(v)
    t = time.perf_counter()
    ctx.rep.info(f"{p.name}: building and checking against PyTorch")
    try:
        _write_gated(ctx, p, p.build(ctx, v, gate), v, gate)
        return None
    except ExportError as e:
        v.passed = False
        if not v.failures:
            v.failures.append(str(e))
        ctx.rep.info(f"{p.name}: FAILED")
        stale = ctx.out_dir / variant_filename(ctx.src.meta.model, p.name, ctx.cfg.target)
        if stale.exists():  # an older export of this variant must not pass for this model
            stale.unlink()
            v.notes.append(f"removed the previous {stale.name}: it did not come from this export")
        return str(e)
    finally:
        v.export_seconds = time.perf_counter() - t + seconds


@lock_scope()  # the output folder's writer lock is held until the export ends (or the process dies)
def export(cfg: ExportConfig, reporter: Reporter | None = None) -> ExportReport:
    """Export `cfg.source` at every precision in `cfg.precisions` for `cfg.target`; see module docstring."""
    rep = reporter or Reporter(quiet=True)
    target = TARGETS.get(cfg.target)
    opset = resolve_opset(cfg.opset, cfg.exporter)
    src = resolve_source(cfg.source, cfg.weights, cfg.labels)
    gd = _gate_data(cfg, src, rep)
    out_dir, md = _out_dir(cfg, src), _metadata(cfg, src)
    lock_folder(out_dir, "--out")  # one writer per folder; then never overwrite what edgetl did not write
    names = [variant_filename(src.meta.model, p, cfg.target) for p in cfg.precisions]
    claim_outputs(out_dir, [*names, REPORT_JSON, REPORT_MD])
    report = _new_report(cfg, src, md, opset, out_dir, gd)
    # the inference form (reparameterized where timm can), checked against the trained form
    src = prepare_source(src, gd.imgs.images, gd.ref, report.exporter_notes)
    failures: list[str] = []
    # What killed exports left behind: temp .onnx files here and work folders in TMPDIR.
    remove_stale_temps(out_dir, ".*.tmp")
    remove_stale_temps(tempfile.gettempdir(), f"{WORK_PREFIX}*")
    with tempfile.TemporaryDirectory(prefix=WORK_PREFIX) as tmp:
        work = Path(tmp)
        fp32_seconds = _export_fp32(cfg, src, md, opset, work / "fp32.onnx", report)
        rep.info(f"exported {src.meta.model} with the {report.exporter} exporter at opset {opset}")
        ctx = BuildContext(cfg, target, src, gd.imgs, gd.ref, gd.train, gd.val, gd.label_index, work,
                           work / "fp32.onnx", rep, md, out_dir)  # fmt: skip
        for name in cfg.precisions:
            p = PRECISIONS.get(name)
            failed = _variant(ctx, p, report, report.exporter, 0.0 if p.derived else fp32_seconds)
            if failed:
                failures.append(failed)
                if not p.derived:
                    break  # every other variant derives from this graph
        report.n_calib_images = ctx.n_calib
        write_report(report, out_dir)
    if failures:
        raise ExportError(" | ".join(failures) + f" (report: {out_dir / REPORT_MD})")
    return report


__all__ = ["export", "variant_filename"]
