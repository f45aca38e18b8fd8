"""Runtime peers: ONNX Runtime (the kit's FP32 and INT8 files) vs PyTorch eager and OpenVINO.

OpenVINO is the strongest CPU runtime a user would pick instead. Its CPU plugin silently runs
"FP32" models in BF16 on CPUs with AVX-512 BF16 (see NOTES), so FP32 is compiled with
INFERENCE_PRECISION_HINT=f32 to compare equal precision; INT8 is the kit's FP32 ONNX quantized
by NNCF (`nncf.quantize`, defaults) on the same calibration images. Without `openvino`/`nncf`
those rows say how to install them. Same inputs, same threads, batch 1, interleaved rounds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from suite.common import Clock, accuracy, file_mb, load_val, ort_session, time_interleaved, train_inputs

OPENVINO_HINT = "skipped: pip install openvino nncf"


def _type_name(t: Any) -> str:
    """OpenVINO element type as its short name (f32, bf16, ...)."""
    return t.to_string() if hasattr(t, "to_string") else str(t)


def _openvino(fp32: Path, calib: np.ndarray, threads: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """-> (contenders, info) for OpenVINO FP32 (f32 forced) and INT8 (NNCF)."""
    try:
        import nncf
        import openvino as ov
    except ImportError:
        return {}, {"status": OPENVINO_HINT}
    core = ov.Core()
    config = {
        "INFERENCE_PRECISION_HINT": "f32",
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
    }
    model = core.read_model(str(fp32))
    fp32_compiled = core.compile_model(model, "CPU", config)
    quantized = nncf.quantize(
        core.read_model(str(fp32)), nncf.Dataset([calib[i : i + 1] for i in range(len(calib))])
    )
    int8_compiled = core.compile_model(quantized, "CPU", config)
    info = {
        "status": "ok",
        "version": ov.__version__,
        "nncf_version": nncf.__version__,
        "fp32_inference_precision": _type_name(fp32_compiled.get_property("INFERENCE_PRECISION_HINT")),
        "int8_inference_precision": _type_name(int8_compiled.get_property("INFERENCE_PRECISION_HINT")),
        "config": {k: str(v) for k, v in config.items()},
    }

    def runner(compiled):
        req = compiled.create_infer_request()
        return lambda x: req.infer({0: x})[0]

    return {"openvino-fp32": runner(fp32_compiled), "openvino-int8": runner(int8_compiled)}, info


def run(run_dir: Path, data: Path, threads: int = 2, runs: int = 200, rounds: int = 5) -> dict[str, Any]:
    import torch

    from edgetl.models import load_classifier

    clock = Clock()
    exports = run_dir / "export"
    fp32 = next(iter(sorted(exports.glob("*-fp32-cpu-x86.onnx"))), None)
    int8 = next(iter(sorted(exports.glob("*-int8-cpu-x86.onnx"))), None)
    if fp32 is None or int8 is None:
        from suite.export import kit_export

        files, _ = kit_export(run_dir)
        fp32, int8 = files["fp32"], files["int8"]
    model, meta = load_classifier(run_dir)
    torch.set_num_threads(threads)
    ev = load_val(data, meta.data_config, list(meta.labels))
    calib = train_inputs(data, meta.data_config, 128)

    def torch_eager(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(x)).numpy()

    contenders = {
        "pytorch-eager-fp32": torch_eager,
        "ort-fp32": ort_session(fp32, threads),
        "ort-int8": ort_session(int8, threads),
    }
    ov_contenders, ov_info = _openvino(fp32, calib, threads)
    contenders.update(ov_contenders)
    rows: dict[str, dict[str, Any]] = {}
    _, ref = accuracy(contenders["ort-fp32"], ev)
    for name, fn in contenders.items():
        acc, pred = accuracy(fn, ev)
        rows[name] = {
            "status": "ok",
            "accuracy": round(acc, 4),
            "agreement_with_ort_fp32": round(float((pred == ref).mean()), 4),
        }
    rows["ort-fp32"]["size_mb"] = file_mb(fp32)
    rows["ort-int8"]["size_mb"] = file_mb(int8)
    if not ov_contenders:
        rows["openvino-fp32"] = {"status": ov_info["status"]}
        rows["openvino-int8"] = {"status": ov_info["status"]}
    timing = time_interleaved(contenders, ev, runs=runs, rounds=rounds)
    for name, t in timing.items():
        rows[name].update(t)
    base = rows["pytorch-eager-fp32"]["p50_ms"]
    for r in rows.values():
        if "p50_ms" in r:
            r["speedup_vs_pytorch"] = round(base / r["p50_ms"], 2)

    def ratio(a: str, b: str) -> float | None:
        if "p50_ms" in rows[a] and "p50_ms" in rows[b]:
            return round(rows[a]["p50_ms"] / rows[b]["p50_ms"], 2)
        return None

    return {
        "threads": threads,
        "batch": 1,
        "n_val": len(ev.labels),
        "files": {"fp32": fp32.name, "int8": int8.name},
        "openvino": ov_info,
        "rows": rows,
        "ratios": {
            "ort_fp32_speedup_vs_pytorch": ratio("pytorch-eager-fp32", "ort-fp32"),
            "ort_int8_speedup_vs_pytorch": ratio("pytorch-eager-fp32", "ort-int8"),
            "ort_int8_speedup_vs_ort_fp32": ratio("ort-fp32", "ort-int8"),
            "openvino_fp32_over_ort_fp32_latency": ratio("openvino-fp32", "ort-fp32"),
            "openvino_int8_over_ort_int8_latency": ratio("openvino-int8", "ort-int8"),
        },
        "seconds": clock.seconds(),
    }
