"""Where INT8 and FP32 spend their time: side-by-side latency and onnxruntime's per-operator profile.

    r = int8_vs_fp32("m-fp32.onnx", "m-int8.onnx", inputs)        # interleaved, batch 1, 2 threads
    r["ratio"]                                                   # FP32 ms / INT8 ms (> 1: INT8 faster)
    r["fp32_ops"][:3]                                            # [{"op": "Conv", "ms": 3.1, "share": 0.8}, ...]

An INT8 file slower than its FP32 is a result to explain, not to hide: the export report carries
`op_profile` (this dict) so the operators that cost the time are named (QuantizeLinear,
DequantizeLinear and float ops between them are the usual suspects).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np


def _session(path: str | os.PathLike, threads: int, profile_dir: str | None = None) -> Any:
    import onnxruntime as ort

    from edgetl.runtime.providers import session_options

    so = session_options(threads)
    if profile_dir is not None:
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(profile_dir) / "ort")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def kernel_times(
    path: str | os.PathLike, inputs: np.ndarray, threads: int = 2, runs: int = 10
) -> dict[str, tuple[str, float]]:
    """Kernel ms per batch-1 run of each node onnxruntime runs: {node name: (op type, ms)}."""
    with tempfile.TemporaryDirectory(prefix="edgetl-profile-") as tmp:
        s = _session(path, threads, tmp)
        name = s.get_inputs()[0].name
        for i in range(runs):
            s.run(None, {name: inputs[i % len(inputs)][None]})
        events = json.loads(Path(s.end_profiling()).read_text())
    per_node: dict[str, tuple[str, float]] = {}
    for e in events:
        if e.get("cat") == "Node" and str(e.get("name", "")).endswith("_kernel_time"):
            node = e["name"].removesuffix("_kernel_time")
            op, ms = per_node.get(node, (e["args"]["op_name"], 0.0))
            per_node[node] = (op, ms + e["dur"] / runs / 1e3)
    return per_node


def op_profile(
    path: str | os.PathLike, inputs: np.ndarray, threads: int = 2, runs: int = 10, top: int = 8
) -> list[dict]:
    """Operator types by kernel time per batch-1 run (onnxruntime's profiler), largest first."""
    per_op: Counter = Counter()
    for op, ms in kernel_times(path, inputs, threads, runs).values():
        per_op[op] += ms
    total = sum(per_op.values()) or 1
    return [{"op": op, "ms": ms, "share": ms / total} for op, ms in per_op.most_common(top)]


def side_by_side(
    paths: dict[str, Path], inputs: np.ndarray, threads: int = 2, rounds: int = 10, iters: int = 10
) -> dict:
    """Median batch-1 ms per model, timed in interleaved rounds (order alternating) on the same inputs,
    with a pause between two sessions (edgetl.bench.timing.settle) and two warm calls each time."""
    from edgetl.bench.timing import settle

    sessions = {k: _session(p, threads) for k, p in paths.items()}
    feeds = {k: s.get_inputs()[0].name for k, s in sessions.items()}
    for k, s in sessions.items():
        for i in range(3):
            s.run(None, {feeds[k]: inputs[i % len(inputs)][None]})
    per_round: dict[str, list[float]] = {k: [] for k in sessions}
    load = os.getloadavg()[0]
    keys = list(sessions)
    for r in range(rounds):
        for k in keys if r % 2 == 0 else keys[::-1]:
            settle()  # the previous session's threads stop spinning
            s = sessions[k]
            for i in range(2):
                s.run(None, {feeds[k]: inputs[i % len(inputs)][None]})
            times = []
            for i in range(iters):
                x = inputs[(r * iters + i) % len(inputs)][None]
                t = time.perf_counter()
                sessions[k].run(None, {feeds[k]: x})
                times.append(time.perf_counter() - t)
            per_round[k].append(1e3 * statistics.median(times))
    return {
        "ms": {k: statistics.median(v) for k, v in per_round.items()},
        "rounds": per_round,
        "threads": threads,
        "loadavg": [load, os.getloadavg()[0]],
    }


def ratio(res: dict, slow: str = "fp32", fast: str = "int8") -> float:
    """Median over rounds of slow/fast (each round's pair was timed back to back)."""
    return statistics.median(a / b for a, b in zip(res["rounds"][slow], res["rounds"][fast], strict=True))


def int8_vs_fp32(
    fp32: str | os.PathLike, int8: str | os.PathLike, inputs: np.ndarray, threads: int = 2
) -> dict:
    """Latency ratio and the top operator types of both files: the `op_profile` field of a report."""
    res = side_by_side(
        {"fp32": Path(fp32), "int8": Path(int8)}, inputs, threads, rounds=6, iters=5
    )  # a quick check
    return {
        "ratio": ratio(res),
        "fp32_ms": res["ms"]["fp32"],
        "int8_ms": res["ms"]["int8"],
        "threads": threads,
        "loadavg": res["loadavg"],
        "fp32_ops": op_profile(fp32, inputs, threads),
        "int8_ops": op_profile(int8, inputs, threads),
    }


__all__ = ["int8_vs_fp32", "op_profile", "ratio", "side_by_side"]
