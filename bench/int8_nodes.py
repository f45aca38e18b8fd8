"""Where INT8 and FP32 spend their time, per kind of node: convolutions split by shape.

    python bench/int8_nodes.py m-fp32.onnx m-int8.onnx
    python bench/int8_nodes.py WORK/MobileNetV3/native/export/*-{fp32,int8}-cpu-x86.onnx --json out.json

The export report's `op_profile` sums onnxruntime's kernel time per operator type; "QLinearConv"
then hides that pointwise convolutions may gain 2x in INT8 while depthwise ones lose. Here each
Conv / QLinearConv of the graph onnxruntime really runs (after its fusions and layout changes) is
labelled depthwise, 1x1 or kxk from its `group` attribute and weight shape, and the depthwise ones
are listed with their channel count. Batch 1, 2 threads, random input (latency only).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np


def conv_kinds(path: Path, threads: int) -> dict[str, tuple[str, int]]:
    """{node: (kind, channels)} for the convolutions of the graph onnxruntime runs from `path`."""
    import onnx
    import onnxruntime as ort

    from edgetl.export.int8_patterns import conv_group
    from edgetl.runtime.providers import session_options

    with tempfile.TemporaryDirectory(prefix="edgetl-nodes-") as tmp:
        so = session_options(threads)
        so.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        model = onnx.load(so.optimized_model_filepath)
    dims = {i.name: list(i.dims) for i in model.graph.initializer}
    kinds = {}
    for n in model.graph.node:
        if n.op_type not in ("Conv", "QLinearConv"):
            continue
        w = dims.get(n.input[1] if n.op_type == "Conv" else n.input[3])
        group = conv_group(n)
        if w is None:
            continue
        kind = (
            "depthwise"
            if group > 1 and w[1] == 1
            else "grouped"
            if group > 1
            else "1x1"
            if w[2:] == [1, 1]
            else "kxk"
        )
        kinds[n.name] = (kind, group)
    return kinds


def profile(path: Path, threads: int = 2, runs: int = 20) -> dict:
    import onnxruntime as ort

    from edgetl.export.int8_profile import kernel_times

    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    shape = [d if isinstance(d, int) else 1 for d in s.get_inputs()[0].shape][1:]
    x = np.random.default_rng(0).standard_normal((4, *shape)).astype(np.float32)
    times, kinds = kernel_times(path, x, threads, runs), conv_kinds(path, threads)
    by_kind: Counter = Counter()
    count: Counter = Counter()
    for node, (op, ms) in times.items():
        key = f"{op}/{kinds[node][0]}" if node in kinds else op
        by_kind[key] += ms
        count[key] += 1
    depthwise = [
        {"channels": kinds[n][1], "ms": round(ms, 3)}
        for n, (_, ms) in times.items()
        if kinds.get(n, ("",))[0] == "depthwise"
    ]
    return {
        "file": str(path),
        "total_ms": round(sum(ms for _, ms in times.values()), 3),
        "by_kind": [{"node": k, "count": count[k], "ms": round(v, 3)} for k, v in by_kind.most_common()],
        "depthwise": depthwise,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path, help=".onnx files (an FP32 and its INT8, say)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--json", help="also write the profiles here")
    args = ap.parse_args(argv)
    for p in args.models:
        if not p.is_file():
            print(f"error: {p}: no such .onnx file", file=sys.stderr)
            return 2
    out = [profile(p, args.threads) for p in args.models]
    for r in out:
        print(f"{Path(r['file']).name}: {r['total_ms']:.2f} ms of kernels per run")
        for row in r["by_kind"][: args.top]:
            print(f"  {row['node']:28s} {row['ms']:6.2f} ms  x{row['count']}")
        if r["depthwise"]:
            print(
                "  depthwise (channels: ms): "
                + ", ".join(f"{d['channels']}: {d['ms']}" for d in r["depthwise"])
            )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
