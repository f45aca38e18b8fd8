"""Export: the kit's FP32 and INT8 files vs the naive path a user would write by hand.

Naive FP32: `torch.onnx.export(model, x, f, input_names, output_names, dynamic_axes={batch})`
with every other argument at its default. Naive INT8: onnxruntime's `quantize_static` with its
defaults (QDQ, S8 activations and S8 weights, per-tensor, MinMax) on the same number of
training images the kit calibrates on, without `quant_pre_process`. Same trained weights, same
val images, same thread count; batch-1 latency timed in interleaved rounds.
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any

import numpy as np

from suite.common import (
    Clock,
    EvalData,
    accuracy,
    file_mb,
    load_val,
    ort_session,
    time_interleaved,
    train_inputs,
)


def kit_export(run_dir: Path) -> tuple[dict[str, Path], dict[str, Any]]:
    """edgetl export RUN_DIR --target cpu-x86 --precisions fp32,int8 (its defaults otherwise)."""
    from edgetl.export import ExportConfig, export

    t0 = time.perf_counter()
    rep = export(ExportConfig(source=str(run_dir), precisions=["fp32", "int8"], target="cpu-x86"))
    wall = time.perf_counter() - t0
    files = {v.precision: Path(v.file) for v in rep.variants if v.file}
    info = {
        "exporter": rep.exporter,
        "opset": rep.opset,
        "wall_s": round(wall, 1),
        "int8_scheme": next((v.scheme for v in rep.variants if v.precision == "int8"), ""),
        "nodes_in_float": next((v.nodes_in_float for v in rep.variants if v.precision == "int8"), []),
    }
    return files, info


def naive_export(
    run_dir: Path, out: Path, calib: np.ndarray
) -> tuple[dict[str, Path | None], dict[str, Any]]:
    import torch
    from onnxruntime.quantization import CalibrationDataReader, quantize_static

    from edgetl.models import load_classifier

    model, meta = load_classifier(run_dir)
    size = tuple(meta.data_config["input_size"])
    out.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out / "naive-fp32.onnx", out / "naive-int8.onnx"
    dynamo_default = inspect.signature(torch.onnx.export).parameters.get("dynamo")
    info: dict[str, Any] = {
        "torch_onnx_export_dynamo_default": None if dynamo_default is None else dynamo_default.default
    }
    t0 = time.perf_counter()
    torch.onnx.export(
        model, (torch.randn(1, *size),), str(fp32), input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )  # fmt: skip
    info["fp32_wall_s"] = round(time.perf_counter() - t0, 1)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter([{"input": calib[i : i + 1]} for i in range(len(calib))])

        def get_next(self):
            return next(self.it, None)

    t0 = time.perf_counter()
    try:
        quantize_static(str(fp32), str(int8), Reader())
        info["int8_wall_s"] = round(time.perf_counter() - t0, 1)
    except Exception as e:  # the naive path failing is itself a result
        info["int8_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
        int8 = None
    return {"fp32": fp32, "int8": int8}, info


def _torch_predict(run_dir: Path, threads: int):
    import torch

    from edgetl.models import load_classifier

    torch.set_num_threads(threads)
    model, _ = load_classifier(run_dir)

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(x)).numpy()

    return predict


def run(
    run_dir: Path, data: Path, workdir: Path, threads: int = 2, runs: int = 200, rounds: int = 5
) -> dict[str, Any]:
    from edgetl.models import read_checkpoint

    clock = Clock()
    kit_files, kit_info = kit_export(run_dir)
    _, meta = read_checkpoint(run_dir)
    ev: EvalData = load_val(data, meta.data_config, list(meta.labels))
    calib = train_inputs(data, meta.data_config, 128)
    naive_files, naive_info = naive_export(run_dir, workdir / "naive", calib)

    ref_acc, ref_pred = accuracy(_torch_predict(run_dir, threads), ev)
    contenders, rows = {}, {}
    for label, path in (("kit-fp32", kit_files.get("fp32")), ("kit-int8", kit_files.get("int8")),
                        ("naive-fp32", naive_files["fp32"]), ("naive-int8", naive_files["int8"])):  # fmt: skip
        if path is None or not Path(path).is_file():
            rows[label] = {"status": "failed: " + str(naive_info.get("int8_error", "not produced"))}
            continue
        fn = ort_session(Path(path), threads)
        acc, pred = accuracy(fn, ev)
        rows[label] = {"status": "ok", "file": Path(path).name, "size_mb": file_mb(Path(path)), "accuracy": round(acc, 4),
                       "agreement_with_pytorch": round(float((pred == ref_pred).mean()), 4)}  # fmt: skip
        contenders[label] = fn
    timing = time_interleaved(contenders, ev, runs=runs, rounds=rounds)
    for label, t in timing.items():
        rows[label].update(t)

    def ratio(a: str, b: str) -> float | None:
        if "p50_ms" in rows.get(a, {}) and "p50_ms" in rows.get(b, {}):
            return round(rows[a]["p50_ms"] / rows[b]["p50_ms"], 2)
        return None

    return {
        "pytorch_accuracy": round(ref_acc, 4),
        "n_val": len(ev.labels),
        "threads": threads,
        "batch": 1,
        "kit": kit_info,
        "naive": naive_info,
        "rows": rows,
        "ratios": {
            "fp32_latency_naive_over_kit": ratio("naive-fp32", "kit-fp32"),
            "int8_latency_naive_over_kit": ratio("naive-int8", "kit-int8"),
            "kit_int8_speedup_over_kit_fp32": ratio("kit-fp32", "kit-int8"),
            "naive_int8_speedup_over_naive_fp32": ratio("naive-fp32", "naive-int8"),
        },
        "seconds": clock.seconds(),
    }
