"""Runtime peers: ONNX Runtime (the kit's FP32 and INT8 files) vs PyTorch eager and OpenVINO.

OpenVINO is the strongest CPU runtime a user would pick instead, so it runs as its users run it:
the kit's own .onnx files through `edgetl.runtime.openvino` (the batch axis reshaped to a static
[1, 3, H, W], LATENCY hint, the same threads). FP32 is shown twice: at OpenVINO's default
precision (bf16 on CPUs with AVX-512-BF16/AMX: `openvino.fp32_default_precision` says which ran)
and with f32 forced. INT8 is the kit's QDQ file at OpenVINO's default precision
("openvino-int8"), and NNCF's `quantize` defaults on the same calibration images
("openvino-int8-nncf"). Without `openvino`/`nncf` those rows say how to install them.
Same inputs, same threads, batch 1, interleaved rounds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from suite.common import Clock, accuracy, file_mb, load_val, ort_session, time_interleaved, train_inputs

OPENVINO_HINT = "skipped: pip install openvino nncf"


def _openvino(
    fp32: Path, int8: Path, calib: np.ndarray, threads: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """-> (contenders, info): FP32 at OpenVINO's default and at f32, the kit's INT8, NNCF's INT8."""
    try:
        import nncf
        import openvino as ov
    except ImportError:
        return {}, {"status": OPENVINO_HINT}
    from edgetl.runtime.openvino import OpenVinoEngine

    engines = {
        "openvino-fp32-default": OpenVinoEngine(str(fp32), threads=threads, precision=None, batch=1),
        "openvino-fp32": OpenVinoEngine(str(fp32), threads=threads, precision="f32", batch=1),
        "openvino-int8": OpenVinoEngine(str(int8), threads=threads, precision=None, batch=1),
    }
    core = ov.Core()
    quantized = nncf.quantize(
        core.read_model(str(fp32)), nncf.Dataset([calib[i : i + 1] for i in range(len(calib))])
    )
    quantized.reshape({quantized.input().any_name: [1, *calib.shape[1:]]})
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    nncf_compiled = core.compile_model(quantized, "CPU", config)
    info = {
        "status": "ok",
        "version": ov.__version__,
        "nncf_version": nncf.__version__,
        "config": {
            "shape": "static [1,3,H,W]",
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": threads,
        },
        "fp32_inference_precision": engines["openvino-fp32"].inference_precision,
        "int8_inference_precision": engines["openvino-int8"].inference_precision,
        "fp32_default_precision": engines["openvino-fp32-default"].inference_precision,
        "int8_default_precision": engines["openvino-int8"].inference_precision,
        "nncf_default_precision": nncf_compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name(),
    }

    def per_image(call: Any):  # static batch 1: accuracy's batches go through one image at a time
        return lambda x: np.concatenate([np.asarray(call(x[i : i + 1])) for i in range(len(x))])

    def runner(engine: Any):
        output = engine.outputs()[0].name
        return per_image(lambda x: engine.run(output, x))

    req = nncf_compiled.create_infer_request()
    contenders = {name: runner(e) for name, e in engines.items()}
    contenders["openvino-int8-nncf"] = per_image(lambda x: req.infer({0: x})[0])
    return contenders, info


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
    ov_contenders, ov_info = _openvino(fp32, int8, calib, threads)
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
        for name in ("openvino-fp32-default", "openvino-fp32", "openvino-int8", "openvino-int8-nncf"):
            rows[name] = {"status": ov_info["status"]}
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
            "openvino_default_fp32_over_ort_fp32_latency": ratio("openvino-fp32-default", "ort-fp32"),
            "openvino_nncf_int8_over_ort_int8_latency": ratio("openvino-int8-nncf", "ort-int8"),
        },
        "seconds": clock.seconds(),
    }
